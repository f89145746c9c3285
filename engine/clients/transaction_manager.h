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
// Simplification: no transactions (AddPartitionsToTxn, EndTxn, fencing by
// transactional.id) — those belong to the transaction coordinator.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <vector>

#include "engine/clients/record_accumulator.h"
#include "engine/common/errors.h"
#include "engine/common/types.h"

namespace ksim::clients {

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
};

}  // namespace ksim::clients
