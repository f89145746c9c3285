// ProducerStateManager: what one partition log knows about the producers
// writing to it — idempotence and transactions (Kafka's ProducerStateManager /
// ProducerStateEntry / ProducerAppendInfo, and the in-memory equivalent of the
// segments' .txnindex files).
//
// ---- idempotence ----------------------------------------------------------------------
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
// A coordinator's batch (AppendOrigin::coordinator: transactional offset
// commits, transaction markers) carries no sequence: only its epoch is checked.
//
// ---- transactions ----------------------------------------------------------------------
// A producer's transaction in this partition starts with its first
// transactional data batch while none is open (that batch's offset is the
// transaction's *first offset*) and ends with a control batch, the COMMIT or
// ABORT marker (control_record.h). Between the two the transaction is
// *ongoing* ("undecided"). After the marker it is *unreplicated* until the
// high watermark passes the marker; only then may read_committed consumers
// read past its first offset. So (Kafka's firstUnstableOffset):
//
//     first_unstable_offset = min first offset over ongoing and unreplicated txns
//     last stable offset    = min(high watermark, first_unstable_offset)   (UnifiedLog)
//
// An ABORT of a transaction that wrote data here is recorded in the
// aborted-transaction index {producer id, first offset, last offset = the
// marker's offset} (Kafka's .txnindex entry, AbortedTxn): read_committed
// fetches return the aborted transactions overlapping the fetched range so
// the consumer can drop their batches. A marker for a producer with no open
// transaction is appended (Kafka does) but changes nothing but the epoch.
//
// Marker validation on the leader (appendEndTxnMarker): epoch < current ->
// INVALID_PRODUCER_EPOCH; coordinator epoch < the last marker's ->
// TRANSACTION_COORDINATOR_FENCED. A non-transactional data batch from a
// producer with an open transaction -> INVALID_TXN_STATE.
// Batches arriving by replication are not validated (the leader did that);
// they only update the state (a stale epoch is accepted, as Kafka logs a warning).
//
// ---- durability of the state --------------------------------------------------------------
// The state survives leader failover because followers update it from every
// replicated batch. It survives a broker restart because the log rebuilds it
// while recovering (Kafka loads a .snapshot and replays the rest; ksim has no
// snapshot files and replays everything it recovers). After a truncation it
// is rebuilt from the batches that remain: the manager keeps an in-memory
// journal of every producer batch (data and markers) still in the log plus a
// "base" state for the batches retention removed (Kafka's snapshot-at-or-below
// + replay). The aborted-transaction index is part of that state, so it is
// rebuilt the same way (Kafka keeps it on disk, one .txnindex per segment,
// and recovers it with the segment).
//
// Invariants (asserted): journal entries are in increasing offset order; per
// producer the retained batches are at most 5, in increasing offset order;
// the ongoing-transaction map holds exactly the producers with an open
// transaction, at their first offsets; every completed transaction ends after
// it started; the aborted index is in marker order.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <vector>

#include "engine/common/errors.h"
#include "engine/common/types.h"
#include "engine/storage/control_record.h"
#include "engine/storage/record_batch.h"

namespace ksim::storage {

inline constexpr size_t kNumBatchesToRetain = 5;

// Who asks for an append (Kafka's AppendOrigin): how much is validated.
enum class AppendOrigin : uint8_t {
  client,       // a producer's Produce: epoch, sequence, duplicates, transaction state
  coordinator,  // a coordinator's write (transaction markers, offset commits): epoch only
  replication,  // a follower copying the leader: nothing (the leader validated)
};

// One appended data batch of a producer, as the state remembers it (Kafka's BatchMetadata).
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
  int32_t coordinator_epoch = -1;             // of the last marker seen
  std::optional<Offset> current_txn_first_offset;  // set while a transaction is open here
  int64_t last_timestamp = kNoTimestamp;      // of its last batch or marker (producer.id.expiration.ms)
  int32_t last_seq() const { return batches.empty() ? kNoSequence : batches.back().last_seq; }
};

// A finished transaction (Kafka's CompletedTxn; the aborted ones are the
// .txnindex's AbortedTxn entries).
struct CompletedTxn {
  ProducerId producer_id = kNoProducerId;
  Offset first_offset = kNoOffset;  // its first data batch
  Offset last_offset = kNoOffset;   // its marker
  bool aborted = false;
  bool operator==(const CompletedTxn&) const = default;
};

// The verdict on a leader batch before it is appended.
struct ProducerCheck {
  // INVALID_PRODUCER_EPOCH / OUT_OF_ORDER_SEQUENCE_NUMBER / INVALID_TXN_STATE /
  // TRANSACTION_COORDINATOR_FENCED
  Errc error = Errc::NONE;
  std::optional<ProducerBatchMetadata> duplicate;  // set: do not append, answer with these offsets
};

class ProducerStateManager {
 public:
  // Validates a batch that carries a producer id before a leader append
  // (`origin` client or coordinator).
  ProducerCheck check(const RecordBatch& batch, AppendOrigin origin = AppendOrigin::client) const;
  // Records an appended batch (leader or follower, or recovery), whose offsets are final.
  void update(const RecordBatch& batch);

  // The log was truncated: forget every batch at or above `offset` and rebuild.
  void truncate_to(Offset offset);
  // The log restarted empty (truncate fully): forget everything.
  void clear();
  // Retention moved the log start: batches wholly below it leave the journal
  // (their effect stays in the base state, like Kafka's snapshot); aborted
  // transactions whose marker is below it leave the index (Kafka deletes the
  // segment's .txnindex with it).
  void on_log_start_offset(Offset log_start);
  // Kafka's removeExpiredProducers: a producer with no open transaction whose
  // last batch or marker is more than `expiration_ms` older than `now_ms` is
  // forgotten (its next batch is accepted with any sequence, as a new
  // producer's). Remembered, so a rebuild after a truncation forgets it again.
  void remove_expired(int64_t now_ms, int64_t expiration_ms);
  // The high watermark moved (either way): completed transactions whose
  // marker is below it stop holding back the last stable offset.
  void on_high_watermark(Offset hw);

  const std::map<ProducerId, ProducerStateEntry>& producers() const { return state_.producers; }
  std::optional<ProducerStateEntry> entry(ProducerId id) const;
  size_t journal_size() const { return journal_.size(); }

  // ---- transactions ----
  bool has_ongoing_txn(ProducerId id) const;
  // The earliest first offset of an ongoing transaction (Kafka's firstUndecidedOffset).
  std::optional<Offset> first_undecided_offset() const;
  // The earliest first offset of an ongoing transaction or of a completed one
  // whose marker the high watermark has not passed (Kafka's firstUnstableOffset).
  std::optional<Offset> first_unstable_offset() const { return first_unstable_; }
  // Every aborted transaction overlapping [from, upper_exclusive) — marker at or
  // after `from`, first offset before `upper_exclusive` — in first-offset order
  // (Kafka's collectAbortedTxns).
  std::vector<CompletedTxn> aborted_transactions(Offset from, Offset upper_exclusive) const;
  // The log cleaner rewrote the index of a cleaned range (Kafka rebuilds the
  // cleaned segment's .txnindex): these aborted transactions leave it.
  // Only the live state forgets them; a rebuild (open, truncation) derives
  // the index from the markers still in the log again.
  void forget_aborted(const std::vector<CompletedTxn>& gone);
  // The whole aborted-transaction index, in marker order.
  std::vector<CompletedTxn> aborted_index() const;

 private:
  // One producer batch still in the log: a data batch or a transaction marker.
  struct JournalEntry {
    ProducerBatchMetadata batch;  // a marker: no sequence, first = last offset
    bool transactional = false;
    std::optional<EndTxnMarker> marker;
  };
  // An entry of the aborted-transaction index (Kafka's AbortedTxn): with the
  // last stable offset at its completion, which bounds the index scan — no
  // later entry starts below it.
  struct AbortedEntry {
    CompletedTxn txn;
    Offset last_stable_offset;
  };
  // Everything a replay of the journal derives.
  struct State {  // the two maps the last stable offset reads come first, side by side
    std::map<Offset, ProducerId> ongoing;        // first offset -> producer (Kafka's ongoingTxns)
    std::map<Offset, CompletedTxn> unreplicated;  // by first offset: marker not yet below the HW
    std::map<ProducerId, ProducerStateEntry> producers;
    std::vector<AbortedEntry> aborted;            // the aborted-transaction index, in marker order
  };

  static void apply(State& state, const JournalEntry& e);
  static void forget_expired(State& state, int64_t now_ms, int64_t expiration_ms);
  static void forget_below(State& state, Offset log_start);
  void prune_unreplicated();
  // `full`: everything (after a rebuild); otherwise what an append can break.
  void check_invariants(bool full) const;

  // first_unstable_offset(), kept by every change of state_'s ongoing and
  // unreplicated maps (a fetch of any partition reads it for the LSO: one
  // field beside the log's offsets instead of two maps).
  std::optional<Offset> first_unstable_;
  std::optional<Offset> compute_first_unstable() const;
  State state_;                      // base_ + journal_ replayed
  State base_;                       // state of batches no longer in the journal
  std::deque<JournalEntry> journal_;  // producer batches still in the log, by offset
  Offset high_watermark_{0};
  // The last expiry pass (none yet: expiration_ms_ < 0).
  int64_t expired_at_ms_ = 0;
  int64_t expiration_ms_ = -1;
};

}  // namespace ksim::storage
