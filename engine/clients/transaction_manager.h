// TransactionManager, idempotent part: the producer id and epoch, and per
// partition the sequence numbers that let brokers discard retried duplicates
// (Kafka's TransactionManager + TxnPartitionMap for a producer without a
// transactional.id).
//
// States:   UNINITIALIZED --InitProducerId sent--> INITIALIZING --answer--> READY
//           READY --epoch bump (KIP-360, local for idempotent producers)--> READY(epoch+1)
//           epoch exhausted (Short.MAX) -> UNINITIALIZED (a new producer id)
//
// Per partition: the producer id/epoch its sequences belong to, the next
// sequence to assign, the last acknowledged sequence and offset, and the
// in-flight batches ordered by base sequence. Rules, as Kafka:
//   * a batch gets its producer id, epoch and base sequence when first
//     drained; its sequence never changes on a retry (else a retry of an
//     appended batch could be appended again) — except by an epoch bump, which
//     renumbers every in-flight batch of the partition from 0;
//   * a retried batch is only sent when it is the first in flight of its
//     partition (in-flight drops to 1 while retrying), so the broker sees
//     sequences in order;
//   * OUT_OF_ORDER_SEQUENCE_NUMBER / UNKNOWN_PRODUCER_ID for the next expected
//     batch means a real gap: bump the epoch and renumber (KIP-360); for a
//     later batch it is the echo of an earlier failure: just retry;
//   * a batch that expired after being sent leaves its sequence "unresolved":
//     no new batch is drained for the partition until the in-flight ones
//     finish; if the last acknowledged sequence is then not right behind the
//     next one, the epoch is bumped.
//
// Transactions (a transactional.id; Kafka's TransactionManager.State):
//
//   UNINITIALIZED --initTransactions--> INITIALIZING --> READY --begin--> IN_TRANSACTION
//   IN_TRANSACTION --commit--> COMMITTING_TRANSACTION --EndTxn ok--> READY
//   IN_TRANSACTION / ABORTABLE_ERROR --abort--> ABORTING_TRANSACTION --EndTxn ok--> READY
//   a failed send, a fenced offset commit ... --> ABORTABLE_ERROR (only abort is allowed)
//   PRODUCER_FENCED (and INVALID_PRODUCER_EPOCH on EndTxn / AddPartitionsToTxn /
//   InitProducerId, read as ProducerFencedException) --> FATAL_ERROR (the producer is done);
//   INVALID_PRODUCER_EPOCH on Produce --> ABORTABLE_ERROR (KAFKA-10687)
//
// A transactional producer never bumps its epoch locally: the coordinator
// does (InitProducerId; under TV2 every EndTxn). A sequence problem inside a
// transaction makes it abortable; the abort then asks for the bump (KIP-360).
// The request flows (FindCoordinator, InitProducerId, AddPartitionsToTxn,
// AddOffsetsToTxn, TxnOffsetCommit, EndTxn) are in transactional_client.h.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "engine/clients/record_accumulator.h"
#include "engine/common/errors.h"
#include "engine/common/types.h"

namespace ksim::clients {

// Errors that mean another incarnation owns the producer's id/epoch (or the
// coordinator aborted its transaction): the transactional producer is fenced, fatally.
inline bool is_fencing_error(Errc e) { return e == Errc::PRODUCER_FENCED || e == Errc::INVALID_PRODUCER_EPOCH; }

class TransactionManager {
 public:
  enum class State : uint8_t { uninitialized, initializing, ready };

  State state() const { return state_; }
  bool has_producer_id() const { return producer_id_ != kNoProducerId; }
  ProducerId producer_id() const { return producer_id_; }
  ProducerEpoch producer_epoch() const { return epoch_; }

  // The Sender calls this first in each loop: applies a requested epoch bump;
  // true when an InitProducerId must be sent.
  bool bump_epoch_and_reset_id_if_needed();
  void on_init_sent() { state_ = State::initializing; }
  void on_init_failed() { state_ = State::uninitialized; }
  void set_producer_id_and_epoch(ProducerId id, ProducerEpoch epoch);

  // ---- drain ----------------------------------------------------------------
  // Kafka's shouldStopDrainBatchesForPartition.
  bool should_stop_draining(const ProducerBatch& first) const;
  // Gives a never-sent batch its producer id, epoch and base sequence and tracks it in flight.
  void assign_sequence(ProducerBatch& b, const BatchRef& ref);

  // ---- completion -------------------------------------------------------------
  void handle_completed_batch(const BatchRef& b, Offset base_offset);
  // `adjust`: the batch did not exhaust its retries (its sequence may be reused).
  void handle_failed_batch(const BatchRef& b, Errc error, bool adjust);
  // Kafka's TransactionManager.canRetry for an error response.
  bool can_retry(Errc error, Offset log_start_offset, const ProducerBatch& b);
  // A batch expired after being sent: its fate is unknown.
  void mark_sequence_unresolved(const ProducerBatch& b);
  // Once a partition with unresolved sequences has nothing in flight: resolved, or bump.
  void maybe_resolve_sequences();

  // ---- transactions -------------------------------------------------------------------
  enum class Phase : uint8_t {
    uninitialized, initializing, ready, in_transaction, committing, aborting, abortable_error, fatal_error
  };
  static const char* phase_name(Phase p);
  void set_transactional(std::string transactional_id, int32_t timeout_ms);
  bool transactional() const { return !transactional_id_.empty(); }
  const std::string& transactional_id() const { return transactional_id_; }
  int32_t transaction_timeout_ms() const { return txn_timeout_ms_; }
  Phase phase() const { return phase_; }
  // Asserts Kafka's valid transitions.
  void transition(Phase to);
  int8_t transaction_version() const { return txn_version_; }
  void set_transaction_version(int8_t v) { txn_version_ = v; }
  Errc last_error() const { return last_error_; }
  // A send or an offset commit failed: the transaction can only be aborted
  // (or, fatal, nothing more can be done).
  void abortable_error(Errc e);
  void fatal_error(Errc e);
  // TV1: a partition may be sent to once the coordinator added it; TV2: always.
  bool is_send_to_partition_allowed(const TopicPartition& tp) const;
  bool in_transaction_partitions(const TopicPartition& tp) const { return txn_partitions_.contains(tp); }
  void partitions_added(const std::vector<TopicPartition>& tps);
  // History ops of the current transaction's sends (their txn_state is set at its end).
  void note_send(std::optional<uint64_t> op);
  const std::vector<uint64_t>& transaction_ops() const { return txn_ops_; }
  bool transaction_started() const { return txn_started_; }
  void mark_started() { txn_started_ = true; }
  void begin();
  // The coordinator gave a new id/epoch (InitProducerId, TV2 EndTxn): every
  // partition's sequences start again at 0.
  void reset_for_epoch(ProducerId id, ProducerEpoch epoch);
  bool epoch_bump_required() const { return epoch_bump_required_; }
  void require_epoch_bump() { epoch_bump_required_ = true; }

  bool has_in_flight(const TopicPartition& tp) const;
  int32_t next_sequence(const TopicPartition& tp) const;
  std::optional<int32_t> last_acked_sequence(const TopicPartition& tp) const;
  uint64_t epoch_bumps() const { return epoch_bumps_; }

 private:
  struct PartitionEntry {
    ProducerId producer_id = kNoProducerId;
    ProducerEpoch epoch = kNoProducerEpoch;
    int32_t next_sequence = 0;
    int32_t last_acked_sequence = -1;
    Offset last_acked_offset = kNoOffset;
    std::vector<BatchRef> in_flight;  // by base sequence
  };
  PartitionEntry& entry(const TopicPartition& tp);
  void remove_in_flight(const BatchRef& b);
  void request_epoch_bump(const TopicPartition& tp);
  void start_sequences_at_beginning(const TopicPartition& tp);
  bool is_next_sequence(const TopicPartition& tp, int32_t seq) const;

  State state_ = State::uninitialized;
  ProducerId producer_id_ = kNoProducerId;
  ProducerEpoch epoch_ = kNoProducerEpoch;
  std::map<TopicPartition, PartitionEntry> partitions_;
  std::map<TopicPartition, int32_t> unresolved_;  // partition -> next sequence after the unresolved batch
  std::set<TopicPartition> to_rewrite_;
  bool epoch_bump_required_ = false;
  uint64_t epoch_bumps_ = 0;
  // Transactions.
  std::string transactional_id_;
  int32_t txn_timeout_ms_ = 60000;
  int8_t txn_version_ = 2;
  Phase phase_ = Phase::uninitialized;
  Errc last_error_ = Errc::NONE;
  std::set<TopicPartition> txn_partitions_;
  std::vector<uint64_t> txn_ops_;
  bool txn_started_ = false;
};

}  // namespace ksim::clients
