#include "engine/clients/record_accumulator.h"

#include <algorithm>
#include <cmath>

#include "sim/error.h"

namespace ksim::clients {

double compression_ratio(const std::string& t) {
  if (t == "gzip") return 0.35;
  if (t == "snappy") return 0.55;
  if (t == "lz4") return 0.50;
  if (t == "zstd") return 0.30;
  return 1.0;
}

namespace {

// The record into a batch's bytes (its headers as views: no copy of them first).
void encode(storage::RecordsBuilder& into, const ProducerRecord& r, int64_t timestamp) {
  std::vector<storage::HeaderView> headers;
  headers.reserve(r.headers.size());
  for (const auto& [k, v] : r.headers) headers.push_back({k, v});
  into.append(timestamp, r.key ? std::optional<std::string_view>(*r.key) : std::nullopt,
              r.value ? std::optional<std::string_view>(*r.value) : std::nullopt, headers);
}

}  // namespace

int32_t RecordAccumulator::estimate_size(const ProducerRecord& r) const {
  // DefaultRecord.sizeInBytes: ~ length varint + attributes + deltas + key +
  // value + headers; 10 bytes covers the varints for small records.
  int64_t n = 10;
  if (r.key) n += static_cast<int64_t>(r.key->size());
  if (r.value) n += static_cast<int64_t>(r.value->size());
  for (const auto& [k, v] : r.headers) n += 2 + static_cast<int64_t>(k.size()) + static_cast<int64_t>(v.size());
  return static_cast<int32_t>(std::ceil(static_cast<double>(n) * config_.compression_ratio));
}

bool RecordAccumulator::try_append(const TopicPartition& tp, const ProducerRecord& record, int64_t timestamp,
                                   PendingRecord& pending, int32_t size) {
  auto it = batches_.find(tp);
  if (it == batches_.end() || it->second.empty()) return false;
  const BatchRef& last = it->second.back();
  // Kafka's hasRoomFor: the batch's write limit is its reserved size.
  if (last->drained || last->estimated_bytes + size > last->capacity) return false;
  encode(last->records, record, timestamp);
  last->pending.push_back(std::move(pending));
  last->estimated_bytes += size;
  return true;
}

void RecordAccumulator::append_new(const TopicPartition& tp, const ProducerRecord& record, int64_t timestamp,
                                   PendingRecord pending, int32_t size, int64_t now_ms) {
  auto b = std::make_shared<ProducerBatch>();
  b->tp = tp;
  b->created_ms = b->last_attempt_ms = now_ms;
  b->capacity = reservation_for(size);
  b->estimated_bytes = kBatchOverhead + size;
  encode(b->records, record, timestamp);
  // As many records as the batch would hold at this record's size (at most
  // 16 up front): the list then rarely regrows, each regrowth moving them all.
  b->pending.reserve(static_cast<size_t>(std::clamp<int64_t>(b->capacity / std::max(size, 1), 1, 16)));
  b->pending.push_back(std::move(pending));
  used_memory_ += b->capacity;
  SIM_ASSERT(used_memory_ <= config_.buffer_memory || b->capacity > config_.buffer_memory,
             "producer: buffer.memory exceeded");
  batches_[tp].push_back(b);
  incomplete_.push_back(b);
}

bool RecordAccumulator::last_batch_full(const TopicPartition& tp) const {
  auto it = batches_.find(tp);
  if (it == batches_.end() || it->second.empty()) return true;
  const BatchRef& last = it->second.back();
  return last->drained || last->full(config_.batch_size);
}

std::vector<TopicPartition> RecordAccumulator::partitions() const {
  std::vector<TopicPartition> out;
  for (const auto& [tp, dq] : batches_)
    if (!dq.empty()) out.push_back(tp);
  return out;
}

std::deque<BatchRef>* RecordAccumulator::deque(const TopicPartition& tp) {
  auto it = batches_.find(tp);
  return it == batches_.end() ? nullptr : &it->second;
}

bool RecordAccumulator::sendable(const BatchRef& first, size_t deque_size, int64_t now_ms,
                                 LeaderEpoch current_leader_epoch) const {
  if (first->attempts > 0) {
    // Backing off, unless the leader changed since the failure (KIP-951).
    const bool leader_changed = current_leader_epoch > first->attempt_leader_epoch;
    return now_ms >= first->retry_at_ms || leader_changed;
  }
  const bool full = deque_size > 1 || first->full(config_.batch_size);
  const bool lingered = now_ms - first->created_ms >= config_.linger_ms;
  return full || lingered || flushes_in_progress > 0 || closing || waiting_for_memory > 0;
}

int64_t RecordAccumulator::ready_at(const BatchRef& first, size_t deque_size, int64_t now_ms) const {
  if (first->attempts > 0) return std::max(now_ms, first->retry_at_ms);
  if (deque_size > 1 || first->full(config_.batch_size) || flushes_in_progress > 0 || closing || waiting_for_memory > 0)
    return now_ms;
  return std::max(now_ms, first->created_ms + config_.linger_ms);
}

void RecordAccumulator::reenqueue(const BatchRef& b, int64_t now_ms, int64_t backoff_ms, bool by_sequence) {
  b->last_attempt_ms = now_ms;
  b->retry_at_ms = now_ms + backoff_ms;
  b->in_flight = false;
  std::deque<BatchRef>& dq = batches_[b->tp];
  if (!by_sequence || !b->has_sequence()) {
    dq.push_front(b);
    return;
  }
  // Kafka's insertInSequenceOrder: behind the queued batches with a lower sequence.
  auto pos = dq.begin();
  while (pos != dq.end() && (*pos)->has_sequence() && (*pos)->base_sequence < b->base_sequence) ++pos;
  dq.insert(pos, b);
}

std::vector<BatchRef> RecordAccumulator::expired_batches(int64_t now_ms) {
  std::vector<BatchRef> out;
  for (auto& [tp, dq] : batches_) {
    while (!dq.empty() && now_ms - dq.front()->created_ms >= config_.delivery_timeout_ms) {
      out.push_back(dq.front());
      dq.pop_front();
    }
  }
  return out;
}

std::optional<int64_t> RecordAccumulator::next_expiry_ms() const {
  std::optional<int64_t> next;
  for (const auto& [tp, dq] : batches_)
    if (!dq.empty()) {
      const int64_t at = dq.front()->created_ms + config_.delivery_timeout_ms;
      next = next ? std::min(*next, at) : at;
    }
  return next;
}

void RecordAccumulator::deallocate(const BatchRef& b) {
  if (b->capacity == 0) return;
  used_memory_ -= b->capacity;
  b->capacity = 0;
  SIM_ASSERT(used_memory_ >= 0, "producer: buffer memory accounting went negative");
}

void RecordAccumulator::forget_done() {
  std::erase_if(incomplete_, [](const BatchRef& b) { return b->done; });
}

std::vector<BatchRef> RecordAccumulator::take_undrained() {
  std::vector<BatchRef> out;
  for (auto& [tp, dq] : batches_) {
    out.insert(out.end(), dq.begin(), dq.end());
    dq.clear();
  }
  return out;
}

bool RecordAccumulator::has_undrained() const {
  for (const auto& [tp, dq] : batches_)
    if (!dq.empty()) return true;
  return false;
}

}  // namespace ksim::clients
