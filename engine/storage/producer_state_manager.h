// ProducerStateManager: what one partition log knows about the idempotent
// producers writing to it (Kafka's ProducerStateManager / ProducerStateEntry /
// ProducerAppendInfo, without the transaction parts).
//
// Per producer id: the producer epoch and the metadata of its last
// kNumBatchesToRetain (5) batches — first/last sequence, first/last offset.
// Five because the producer keeps at most five requests in flight per
// partition with idempotence on: any retry the broker can receive is one of
// the last five batches it appended, so it can recognise it and answer with
// the offsets of the original append instead of writing it again.
//
// Leader-side validation of a client batch (ProducerAppendInfo.checkProducerEpoch
// / checkSequence, Kafka 4.0):
//   * epoch < current epoch                         -> INVALID_PRODUCER_EPOCH
//     (Kafka >= 2.7 answers InvalidProducerEpoch for a stale data batch;
//     PRODUCER_FENCED is reserved for the transaction coordinator);
//   * same epoch, same sequence range as one of the retained batches
//                                                    -> duplicate (the original's offsets);
//   * new epoch: the first sequence must be 0       -> else OUT_OF_ORDER_SEQUENCE_NUMBER;
//   * same epoch: first seq must be last seq + 1 (wrapping at INT32_MAX)
//                                                    -> else OUT_OF_ORDER_SEQUENCE_NUMBER;
//   * unknown producer id: accepted with ANY sequence (Kafka 4.0 no longer
//     answers UNKNOWN_PRODUCER_ID on produce: the state may have been lost to
//     retention or expiry, and the producer cannot do better than carry on).
// Batches arriving by replication are not validated (the leader did that);
// they only update the state (a stale epoch is accepted, as Kafka logs a warning).
//
// The state survives leader failover because followers update it from every
// replicated batch. It survives a broker restart because the log rebuilds it
// while recovering (Kafka loads a .snapshot and replays the rest; ksim has no
// snapshot files and replays everything it recovers). After a truncation it
// is rebuilt from the batches that remain: the manager keeps an in-memory
// journal of every producer batch still in the log plus a "base" state for the
// batches retention removed (Kafka's snapshot-at-or-below + replay).
//
// Invariants (asserted): journal entries are in increasing offset order; per
// producer the retained batches are at most 5, in increasing sequence order
// within one epoch.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <vector>

#include "engine/common/errors.h"
#include "engine/common/types.h"
#include "engine/storage/record_batch.h"

namespace ksim::storage {

inline constexpr size_t kNumBatchesToRetain = 5;

// One appended batch of a producer, as the state remembers it (Kafka's BatchMetadata).
struct ProducerBatchMetadata {
  ProducerId producer_id = kNoProducerId;
  ProducerEpoch epoch = kNoProducerEpoch;
  int32_t first_seq = kNoSequence;
  int32_t last_seq = kNoSequence;
  Offset first_offset = kNoOffset;
  Offset last_offset = kNoOffset;
  int64_t timestamp = kNoTimestamp;
  bool operator==(const ProducerBatchMetadata&) const = default;
};

struct ProducerStateEntry {
  ProducerEpoch epoch = kNoProducerEpoch;
  std::deque<ProducerBatchMetadata> batches;  // oldest first, at most kNumBatchesToRetain
  int32_t last_seq() const { return batches.empty() ? kNoSequence : batches.back().last_seq; }
};

// The verdict on a client batch before it is appended.
struct ProducerCheck {
  Errc error = Errc::NONE;                              // INVALID_PRODUCER_EPOCH / OUT_OF_ORDER_SEQUENCE_NUMBER
  std::optional<ProducerBatchMetadata> duplicate;       // set: do not append, answer with these offsets
};

class ProducerStateManager {
 public:
  // Validates a client batch that carries a producer id (leader append).
  ProducerCheck check(const RecordBatch& batch) const;
  // Records an appended batch (leader or follower, or recovery), whose offsets are final.
  void update(const RecordBatch& batch);

  // The log was truncated: forget every batch at or above `offset` and rebuild.
  void truncate_to(Offset offset);
  // The log restarted empty (truncate fully): forget everything.
  void clear();
  // Retention moved the log start: batches wholly below it leave the journal
  // (their effect stays in the base state, like Kafka's snapshot).
  void on_log_start_offset(Offset log_start);

  const std::map<ProducerId, ProducerStateEntry>& producers() const { return producers_; }
  std::optional<ProducerStateEntry> entry(ProducerId id) const;
  size_t journal_size() const { return journal_.size(); }

 private:
  static void apply(std::map<ProducerId, ProducerStateEntry>& state, const ProducerBatchMetadata& m);
  void check_invariants() const;

  std::map<ProducerId, ProducerStateEntry> base_;       // state of batches no longer in the journal
  std::deque<ProducerBatchMetadata> journal_;            // producer batches still in the log, by offset
  std::map<ProducerId, ProducerStateEntry> producers_;   // base_ + journal_ replayed
};

}  // namespace ksim::storage
