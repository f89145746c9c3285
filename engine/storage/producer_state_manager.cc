#include "engine/storage/producer_state_manager.h"

#include <limits>

#include "sim/error.h"

namespace ksim::storage {
namespace {

int32_t last_sequence_of(const RecordBatch& b) {
  // Kafka's DefaultRecordBatch.lastSequence: base + last offset delta, wrapping.
  const int64_t last = static_cast<int64_t>(b.base_sequence()) + b.last_offset_delta();
  if (last > std::numeric_limits<int32_t>::max()) return static_cast<int32_t>(last - std::numeric_limits<int32_t>::max() - 1);
  return static_cast<int32_t>(last);
}

bool in_sequence(int32_t last_seq, int32_t next_seq) {
  return static_cast<int64_t>(next_seq) == static_cast<int64_t>(last_seq) + 1 ||
         (next_seq == 0 && last_seq == std::numeric_limits<int32_t>::max());
}

ProducerBatchMetadata metadata_of(const RecordBatch& b) {
  ProducerBatchMetadata m;
  m.producer_id = b.producer_id();
  m.epoch = b.producer_epoch();
  m.first_seq = b.base_sequence();
  m.last_seq = last_sequence_of(b);
  m.first_offset = b.base_offset();
  m.last_offset = b.last_offset();
  m.timestamp = b.max_timestamp();
  return m;
}

}  // namespace

std::optional<ProducerStateEntry> ProducerStateManager::entry(ProducerId id) const {
  auto it = producers_.find(id);
  if (it == producers_.end()) return std::nullopt;
  return it->second;
}

ProducerCheck ProducerStateManager::check(const RecordBatch& batch) const {
  ProducerCheck out;
  const ProducerId pid = batch.producer_id();
  if (pid == kNoProducerId) return out;
  auto it = producers_.find(pid);
  if (it == producers_.end()) return out;  // unknown producer: any sequence is accepted (Kafka 4.0)
  const ProducerStateEntry& e = it->second;
  const ProducerEpoch epoch = batch.producer_epoch();
  const int32_t first = batch.base_sequence();
  const int32_t last = last_sequence_of(batch);
  // A duplicate first: a retry of one of the last five batches of this epoch.
  if (epoch == e.epoch) {
    for (const ProducerBatchMetadata& m : e.batches)
      if (m.first_seq == first && m.last_seq == last) {
        out.duplicate = m;
        return out;
      }
  }
  if (epoch < e.epoch) {
    out.error = Errc::INVALID_PRODUCER_EPOCH;
    return out;
  }
  if (epoch != e.epoch) {
    // A new epoch (KIP-360 bump) starts its sequences at 0.
    if (first != 0 && e.epoch != kNoProducerEpoch) out.error = Errc::OUT_OF_ORDER_SEQUENCE_NUMBER;
    return out;
  }
  if (!in_sequence(e.last_seq(), first)) out.error = Errc::OUT_OF_ORDER_SEQUENCE_NUMBER;
  return out;
}

void ProducerStateManager::apply(std::map<ProducerId, ProducerStateEntry>& state, const ProducerBatchMetadata& m) {
  ProducerStateEntry& e = state[m.producer_id];
  if (e.epoch != m.epoch) {
    // maybeUpdateProducerEpoch: a new epoch forgets the old epoch's batches.
    e.batches.clear();
    e.epoch = m.epoch;
  }
  if (e.batches.size() == kNumBatchesToRetain) e.batches.pop_front();
  e.batches.push_back(m);
}

void ProducerStateManager::update(const RecordBatch& batch) {
  if (batch.producer_id() == kNoProducerId || batch.is_control()) return;
  const ProducerBatchMetadata m = metadata_of(batch);
  SIM_ASSERT(journal_.empty() || journal_.back().last_offset < m.first_offset,
             "producer state: batches must be recorded in offset order");
  journal_.push_back(m);
  apply(producers_, m);
  check_invariants();
}

void ProducerStateManager::truncate_to(Offset offset) {
  if (journal_.empty() || journal_.back().last_offset < offset) return;
  while (!journal_.empty() && journal_.back().last_offset >= offset) journal_.pop_back();
  producers_ = base_;
  for (const ProducerBatchMetadata& m : journal_) apply(producers_, m);
  check_invariants();
}

void ProducerStateManager::clear() {
  base_.clear();
  journal_.clear();
  producers_.clear();
}

void ProducerStateManager::on_log_start_offset(Offset log_start) {
  while (!journal_.empty() && journal_.front().last_offset < log_start) {
    apply(base_, journal_.front());
    journal_.pop_front();
  }
}

void ProducerStateManager::check_invariants() const {
  for (const auto& [pid, e] : producers_) {
    SIM_ASSERT(e.batches.size() <= kNumBatchesToRetain, "producer state: more than 5 batches retained");
    for (size_t i = 1; i < e.batches.size(); ++i)
      SIM_ASSERT(e.batches[i - 1].last_offset < e.batches[i].first_offset,
                 "producer state: retained batches out of offset order");
  }
}

}  // namespace ksim::storage
