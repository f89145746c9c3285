// RecordAccumulator: where send() leaves records for the Sender (Kafka's
// RecordAccumulator + ProducerBatch + BufferPool, in one concept).
//
// Per partition, a deque of batches; send() appends to the last open batch or
// opens a new one (a batch holds up to batch.size bytes — estimated after
// compression — or one record if that record alone is bigger). A batch is
// READY to drain when it is full, has lingered linger.ms, a flush or close is
// in progress, or a send is blocked for memory; a retried batch waits its
// backoff first (unless its partition has a new leader since the failure).
//
// Memory (buffer.memory): every open batch holds max(batch.size, record size)
// bytes until it completes; send() waits up to max.block.ms for memory and
// then fails (Kafka's BufferExhaustedException, a TimeoutException).
//
// Batch life:  open --drain--> in flight --response--> done
//                 ^                |  retriable error
//                 +--- reenqueue --+  (front of the deque; with idempotence in
//                                      sequence order, Kafka's insertInSequenceOrder)
// A record is encoded into its batch's bytes as send() appends it (Kafka's
// MemoryRecordsBuilder, storage::RecordsBuilder); the batch gets its v2
// header (engine/storage/record_batch.h: producer id, epoch, base sequence)
// when first drained. A retry resends the same bytes unless an epoch bump
// rewrote its sequence (then it is rebuilt from them).
//
// compression.type is modelled as a size ratio applied to the batch's bytes
// on the wire and in the batch.size estimate (the stored batch stays
// uncompressed, attribute bits "none", so every reader can decode it):
//   none 1.0, gzip 0.35, snappy 0.55, lz4 0.50, zstd 0.30
// (typical ratios for JSON-like payloads; Kafka learns the real ratio per
// topic with its CompressionRatioEstimator).
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/clients/producer_record.h"
#include "engine/common/types.h"
#include "engine/storage/record_batch.h"

namespace ksim::clients {

double compression_ratio(const std::string& compression_type);

// One record waiting in a batch: its future, callback and history op.
struct PendingRecord {
  std::shared_ptr<SendState> future;
  SendCallback callback;
  std::optional<uint64_t> history_op;
  int64_t timestamp = -1;
  int32_t key_size = -1, value_size = 0;
};

struct ProducerBatch {
  TopicPartition tp;
  storage::RecordsBuilder records;  // encoded as appended (Kafka's MemoryRecordsBuilder)
  std::vector<PendingRecord> pending;
  int64_t created_ms = 0;
  int64_t last_attempt_ms = 0;  // drained or reenqueued (linger / backoff reference)
  int64_t retry_at_ms = 0;      // a retried batch is not drained before (exponential backoff)
  int32_t attempts = 0;         // sends so far
  int32_t estimated_bytes = 0;  // after the compression ratio
  int32_t capacity = 0;         // bytes held from buffer.memory
  bool drained = false;         // no more appends once drained
  bool in_flight = false;
  bool done = false;
  bool maybe_written = false;   // an attempt's outcome was unknown: a later failure is `info`
  LeaderEpoch attempt_leader_epoch = kNoEpoch;  // leader epoch of the last failed attempt
  // Idempotence: set at the first drain, rewritten by an epoch bump.
  ProducerId producer_id = kNoProducerId;
  ProducerEpoch producer_epoch = kNoProducerEpoch;
  int32_t base_sequence = storage::kNoSequence;
  bool sequence_reset = false;  // Kafka's sequenceHasBeenReset
  storage::BatchPtr built;      // the v2 bytes of the current attempt (null: build at drain)

  int32_t record_count() const { return records.count(); }
  bool has_sequence() const { return base_sequence != storage::kNoSequence; }
  int32_t last_sequence() const { return base_sequence + record_count() - 1; }
  bool full(int32_t batch_size) const { return estimated_bytes >= batch_size; }
};
using BatchRef = std::shared_ptr<ProducerBatch>;

struct AccumulatorConfig {
  int32_t batch_size = 16384;
  int64_t linger_ms = 5;
  int64_t buffer_memory = 33554432;
  int64_t delivery_timeout_ms = 120000;
  double compression_ratio = 1.0;
};

class RecordAccumulator {
 public:
  explicit RecordAccumulator(AccumulatorConfig config) : config_(config) {}

  // The bytes a record adds to a batch (Kafka's record size estimate), after compression.
  int32_t estimate_size(const ProducerRecord& r) const;
  // Bytes a new batch for a record of `record_size` must reserve.
  int32_t reservation_for(int32_t record_size) const { return std::max(config_.batch_size, record_size + kBatchOverhead); }
  int64_t available_memory() const { return config_.buffer_memory - used_memory_; }
  int64_t buffer_memory() const { return config_.buffer_memory; }

  // Appends to the partition's last open batch if it has room, moving the
  // record and its pending state in; false (both left as they were) if a new
  // batch is needed (the caller reserves memory, then calls append_new).
  // `timestamp` is the record's (its own, or the send time).
  bool try_append(const TopicPartition& tp, const ProducerRecord& record, int64_t timestamp, PendingRecord& pending,
                  int32_t size);
  void append_new(const TopicPartition& tp, const ProducerRecord& record, int64_t timestamp, PendingRecord pending,
                  int32_t size, int64_t now_ms);
  // The partition's last batch is full (or there is none): sticky partitioning may switch.
  bool last_batch_full(const TopicPartition& tp) const;

  // Partitions that hold batches, in a deterministic (TopicPartition) order.
  std::vector<TopicPartition> partitions() const;
  std::deque<BatchRef>* deque(const TopicPartition& tp);
  // Is the first batch of this deque sendable now? (linger, fullness, backoff)
  bool sendable(const BatchRef& first, size_t deque_size, int64_t now_ms, LeaderEpoch current_leader_epoch) const;
  // When the first batch becomes sendable (for the Sender's sleep).
  int64_t ready_at(const BatchRef& first, size_t deque_size, int64_t now_ms) const;

  // Puts a failed batch back for a retry: at the front, or (idempotence) in base-sequence order.
  void reenqueue(const BatchRef& b, int64_t now_ms, int64_t backoff_ms, bool by_sequence);
  // Removes and returns the batches of the deques whose delivery timeout passed (front first).
  std::vector<BatchRef> expired_batches(int64_t now_ms);
  // When expired_batches() will next find something: the earliest delivery
  // deadline of a deque's first batch (Kafka's nextBatchExpiryTimeMs). A batch
  // queued behind another expires after it, never earlier.
  std::optional<int64_t> next_expiry_ms() const;
  // Returns the batch's memory to the pool (it completed).
  void deallocate(const BatchRef& b);
  // Every batch not yet completed (queued or in flight).
  const std::vector<BatchRef>& incomplete() const { return incomplete_; }
  void forget_done();
  bool has_undrained() const;
  // Takes every queued batch (never sent, or waiting for a retry) out of its
  // queue (abortTransaction: Kafka's abortUndrainedBatches); the caller fails them.
  std::vector<BatchRef> take_undrained();

  // Flush / close make every batch ready at once; blocked senders (out of memory) too.
  int32_t flushes_in_progress = 0;
  bool closing = false;
  int32_t waiting_for_memory = 0;

  static constexpr int32_t kBatchOverhead = static_cast<int32_t>(storage::RecordBatch::kHeaderSize);

 private:
  AccumulatorConfig config_;
  std::map<TopicPartition, std::deque<BatchRef>> batches_;
  std::vector<BatchRef> incomplete_;
  int64_t used_memory_ = 0;
};

}  // namespace ksim::clients
