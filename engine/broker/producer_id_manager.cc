#include "engine/broker/producer_id_manager.h"

#include "engine/broker/protocol.h"
#include "sim/error.h"

namespace ksim {

std::pair<Errc, ProducerId> ProducerIdManager::generate() {
  // Another handler is fetching a block: wait for its outcome instead of asking twice.
  cv_.wait([&] { return !fetching_; });
  if (next_ < end_) return {Errc::NONE, ProducerId{next_++}};
  fetching_ = true;
  const sim::Reply r = allocate_();
  fetching_ = false;
  cv_.notify_all();
  if (r.status != sim::CallStatus::ok) return {Errc::COORDINATOR_LOAD_IN_PROGRESS, kNoProducerId};
  const auto& resp = sim::payload_as<protocol::AllocateProducerIdsResponse>(r.payload);
  if (resp.error != Errc::NONE || resp.producer_id_len <= 0) return {Errc::COORDINATOR_LOAD_IN_PROGRESS, kNoProducerId};
  // Blocks only move forward (the controller's counter is in the metadata log).
  SIM_ASSERT(resp.producer_id_start >= end_, "a producer id block must not overlap an earlier one");
  next_ = resp.producer_id_start;
  end_ = resp.producer_id_start + resp.producer_id_len;
  ++blocks_fetched_;
  world_.probe("broker: producer id block allocated");
  return {Errc::NONE, ProducerId{next_++}};
}

}  // namespace ksim
