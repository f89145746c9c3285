// TxnMarkerChannel: how a transaction coordinator gets COMMIT / ABORT markers
// into every partition of a transaction (Kafka's TransactionMarkerChannelManager).
//
// For one transaction: group the partitions still without a marker by their
// current leader (from this broker's metadata image), send each leader one
// WriteTxnMarkers request, and keep the partitions it did not confirm.
// NOT_LEADER_OR_FOLLOWER, a timeout, an unknown or leaderless partition:
// retry after a back-off with fresh metadata, for as long as the coordinator
// still owns the transaction — Kafka's coordinator never gives up on a marker,
// because the partition's last stable offset cannot pass an open transaction.
// A partition whose topic was deleted counts as done (Kafka drops it too), and
// so does one that refuses the marker for good (INVALID_PRODUCER_EPOCH,
// TRANSACTION_COORDINATOR_FENCED: it has seen a newer epoch or coordinator).
#pragma once

#include <cstdint>
#include <functional>

#include "engine/broker/protocol.h"
#include "engine/controller/metadata_image.h"
#include "sim/network.h"
#include "sim/world.h"

namespace ksim::coordinator {

class TxnMarkerChannel {
 public:
  using Image = std::function<const MetadataImage&()>;
  TxnMarkerChannel(sim::World& world, sim::NodeId self, Image image, int64_t request_timeout_ms,
                   int64_t retry_backoff_ms)
      : world_(world), self_(self), image_(std::move(image)), request_timeout_ms_(request_timeout_ms),
        retry_backoff_ms_(retry_backoff_ms) {}

  // From a fiber of the coordinator's node; blocks until every partition of
  // `marker` has its marker (true), or `still_wanted()` turns false (false).
  bool write_markers(const protocol::WritableTxnMarker& marker, const std::function<bool()>& still_wanted);

  uint64_t requests_sent() const { return requests_sent_; }

 private:
  sim::World& world_;
  sim::NodeId self_;
  Image image_;
  int64_t request_timeout_ms_, retry_backoff_ms_;
  uint64_t requests_sent_ = 0;
};

}  // namespace ksim::coordinator
