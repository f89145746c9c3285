#include "engine/clients/transaction_manager.h"

#include <algorithm>
#include <limits>

#include "sim/error.h"

namespace ksim::clients {

TransactionManager::PartitionEntry& TransactionManager::entry(const TopicPartition& tp) {
  auto [it, inserted] = partitions_.try_emplace(tp);
  if (inserted) {
    it->second.producer_id = producer_id_;
    it->second.epoch = epoch_;
  }
  return it->second;
}

bool TransactionManager::has_in_flight(const TopicPartition& tp) const {
  auto it = partitions_.find(tp);
  return it != partitions_.end() && !it->second.in_flight.empty();
}

int32_t TransactionManager::next_sequence(const TopicPartition& tp) const {
  auto it = partitions_.find(tp);
  return it == partitions_.end() ? 0 : it->second.next_sequence;
}

std::optional<int32_t> TransactionManager::last_acked_sequence(const TopicPartition& tp) const {
  auto it = partitions_.find(tp);
  if (it == partitions_.end() || it->second.last_acked_sequence < 0) return std::nullopt;
  return it->second.last_acked_sequence;
}

void TransactionManager::set_producer_id_and_epoch(ProducerId id, ProducerEpoch epoch) {
  producer_id_ = id;
  epoch_ = epoch;
  state_ = State::ready;
}

bool TransactionManager::bump_epoch_and_reset_id_if_needed() {
  if (epoch_bump_required_) {
    if (epoch_.value == std::numeric_limits<int16_t>::max()) {
      // Epoch exhausted: a fresh producer id (Kafka's resetIdempotentProducerId).
      producer_id_ = kNoProducerId;
      epoch_ = kNoProducerEpoch;
      state_ = State::uninitialized;
    } else {
      epoch_ = ProducerEpoch{static_cast<int16_t>(epoch_.value + 1)};
    }
    ++epoch_bumps_;
    for (const TopicPartition& tp : to_rewrite_) {
      start_sequences_at_beginning(tp);
      unresolved_.erase(tp);
    }
    to_rewrite_.clear();
    epoch_bump_required_ = false;
  }
  return state_ == State::uninitialized && !has_producer_id();
}

void TransactionManager::start_sequences_at_beginning(const TopicPartition& tp) {
  PartitionEntry& e = entry(tp);
  int32_t seq = 0;
  for (const BatchRef& b : e.in_flight) {
    // Kafka's resetProducerState: the batch will be rebuilt with these values.
    b->producer_id = producer_id_;
    b->producer_epoch = epoch_;
    b->base_sequence = seq;
    b->sequence_reset = true;
    b->built.reset();
    seq += b->record_count();
  }
  e.producer_id = producer_id_;
  e.epoch = epoch_;
  e.next_sequence = seq;
  e.last_acked_sequence = -1;
}

void TransactionManager::request_epoch_bump(const TopicPartition& tp) {
  epoch_bump_required_ = true;
  to_rewrite_.insert(tp);
}

bool TransactionManager::should_stop_draining(const ProducerBatch& first) const {
  if (!has_producer_id()) return true;  // wait for InitProducerId
  auto it = partitions_.find(first.tp);
  const bool in_flight = it != partitions_.end() && !it->second.in_flight.empty();
  if (!first.has_sequence()) {
    const bool stale = it != partitions_.end() && (it->second.producer_id != producer_id_ || it->second.epoch != epoch_);
    // New-epoch batches wait until the old epoch's in-flight batches are done;
    // new batches wait while earlier sequences are unresolved.
    if (in_flight && stale) return true;
    if (unresolved_.contains(first.tp)) return true;
  }
  // A retried batch goes only when it is the first in flight (in-flight 1 while retrying).
  if (!in_flight || !first.has_sequence()) return false;
  return first.base_sequence != it->second.in_flight.front()->base_sequence;
}

void TransactionManager::assign_sequence(ProducerBatch& b, const BatchRef& ref) {
  PartitionEntry& e = entry(b.tp);
  // Kafka's maybeUpdateProducerIdAndEpoch: a partition still on an old id/epoch
  // (and with nothing in flight) restarts its sequences under the new one.
  if ((e.producer_id != producer_id_ || e.epoch != epoch_) && e.in_flight.empty()) {
    e.producer_id = producer_id_;
    e.epoch = epoch_;
    e.next_sequence = 0;
    e.last_acked_sequence = -1;
  }
  b.producer_id = producer_id_;
  b.producer_epoch = epoch_;
  b.base_sequence = e.next_sequence;
  e.next_sequence += b.record_count();
  auto pos = std::upper_bound(e.in_flight.begin(), e.in_flight.end(), b.base_sequence,
                              [](int32_t s, const BatchRef& x) { return s < x->base_sequence; });
  e.in_flight.insert(pos, ref);
}

void TransactionManager::remove_in_flight(const BatchRef& b) {
  auto it = partitions_.find(b->tp);
  if (it == partitions_.end()) return;
  std::erase(it->second.in_flight, b);
}

void TransactionManager::handle_completed_batch(const BatchRef& b, Offset base_offset) {
  PartitionEntry& e = entry(b->tp);
  if (b->producer_id == e.producer_id && b->producer_epoch == e.epoch)
    e.last_acked_sequence = std::max(e.last_acked_sequence, b->last_sequence());
  if (base_offset != kNoOffset) e.last_acked_offset = std::max(e.last_acked_offset, base_offset + b->record_count() - 1);
  remove_in_flight(b);
}

void TransactionManager::handle_failed_batch(const BatchRef& b, Errc error, bool adjust) {
  remove_in_flight(b);
  if (error == Errc::OUT_OF_ORDER_SEQUENCE_NUMBER) {
    // A gap in the log: bump the epoch so the partition starts over at 0.
    request_epoch_bump(b->tp);
  } else if (error == Errc::UNKNOWN_PRODUCER_ID) {
    partitions_.erase(b->tp);
    unresolved_.erase(b->tp);
  } else if (adjust) {
    // The failed batch's sequence will never be acknowledged: the following
    // in-flight batches would hit OUT_OF_ORDER. Kafka bumps the epoch.
    request_epoch_bump(b->tp);
  }
}

bool TransactionManager::is_next_sequence(const TopicPartition& tp, int32_t seq) const {
  auto it = partitions_.find(tp);
  const int32_t last = it == partitions_.end() ? -1 : it->second.last_acked_sequence;
  return seq - last == 1;
}

bool TransactionManager::can_retry(Errc error, Offset log_start_offset, const ProducerBatch& b) {
  if (error == Errc::UNKNOWN_PRODUCER_ID) {
    if (log_start_offset == kNoOffset) return true;
    if (b.sequence_reset) return true;
    request_epoch_bump(b.tp);  // the broker lost our state: start over at sequence 0 (KIP-360)
    return true;
  }
  if (error == Errc::OUT_OF_ORDER_SEQUENCE_NUMBER) {
    auto un = unresolved_.find(b.tp);
    if (un == unresolved_.end() && (b.sequence_reset || !is_next_sequence(b.tp, b.base_sequence)))
      return true;  // an echo of an earlier batch's failure: it will be resent in order
    if (un == unresolved_.end() || b.base_sequence == un->second) request_epoch_bump(b.tp);
    return true;
  }
  return retriable(error);
}

void TransactionManager::mark_sequence_unresolved(const ProducerBatch& b) {
  const int32_t next = b.last_sequence() + 1;
  auto [it, inserted] = unresolved_.try_emplace(b.tp, next);
  if (!inserted) it->second = std::max(it->second, next);
}

void TransactionManager::maybe_resolve_sequences() {
  for (auto it = unresolved_.begin(); it != unresolved_.end();) {
    const TopicPartition tp = it->first;
    if (has_in_flight(tp)) {
      ++it;
      continue;
    }
    // Drained: resolved if the acknowledgements reached the next sequence;
    // otherwise some expired batch may or may not be in the log: bump.
    if (!is_next_sequence(tp, next_sequence(tp))) request_epoch_bump(tp);
    it = unresolved_.erase(it);
  }
}

}  // namespace ksim::clients

// ---- transactions ------------------------------------------------------------------------------

namespace ksim::clients {

const char* TransactionManager::phase_name(Phase p) {
  switch (p) {
    case Phase::uninitialized: return "UNINITIALIZED";
    case Phase::initializing: return "INITIALIZING";
    case Phase::ready: return "READY";
    case Phase::in_transaction: return "IN_TRANSACTION";
    case Phase::committing: return "COMMITTING_TRANSACTION";
    case Phase::aborting: return "ABORTING_TRANSACTION";
    case Phase::abortable_error: return "ABORTABLE_ERROR";
    case Phase::fatal_error: return "FATAL_ERROR";
  }
  return "?";
}

void TransactionManager::set_transactional(std::string transactional_id, int32_t timeout_ms) {
  transactional_id_ = std::move(transactional_id);
  txn_timeout_ms_ = timeout_ms;
}

void TransactionManager::transition(Phase to) {
  using P = Phase;
  const P from = phase_;
  bool ok = false;
  switch (to) {
    case P::uninitialized: ok = from == P::uninitialized; break;
    case P::initializing: ok = from == P::uninitialized || from == P::initializing || from == P::ready || from == P::aborting; break;
    case P::ready: ok = from == P::initializing || from == P::committing || from == P::aborting; break;
    case P::in_transaction: ok = from == P::ready; break;
    case P::committing: ok = from == P::in_transaction || from == P::committing; break;
    case P::aborting: ok = from == P::in_transaction || from == P::abortable_error || from == P::aborting || from == P::committing; break;
    case P::abortable_error: ok = from == P::in_transaction || from == P::committing || from == P::abortable_error || from == P::aborting; break;
    case P::fatal_error: ok = true; break;
  }
  SIM_ASSERT(ok, std::string("producer: invalid transaction transition ") + phase_name(from) + " -> " + phase_name(to));
  phase_ = to;
}

void TransactionManager::abortable_error(Errc e) {
  if (phase_ == Phase::fatal_error) return;
  if (phase_ == Phase::in_transaction || phase_ == Phase::committing || phase_ == Phase::abortable_error) {
    last_error_ = e;
    transition(Phase::abortable_error);
  }
}

void TransactionManager::fatal_error(Errc e) {
  last_error_ = e;
  transition(Phase::fatal_error);
}

bool TransactionManager::is_send_to_partition_allowed(const TopicPartition& tp) const {
  if (!transactional()) return true;
  if (phase_ == Phase::fatal_error) return false;
  return txn_version_ >= 2 || txn_partitions_.contains(tp);
}

void TransactionManager::partitions_added(const std::vector<TopicPartition>& tps) {
  txn_partitions_.insert(tps.begin(), tps.end());
  txn_started_ = true;
}

void TransactionManager::note_send(std::optional<uint64_t> op) {
  if (op) txn_ops_.push_back(*op);
  // Under TV2 the first produce opens the transaction (the partition leader
  // adds it). Under TV1 only a successful AddPartitionsToTxn does: an abort
  // before any was sent has nothing to end — an EndTxn(abort) then would meet
  // the previous transaction's CompleteCommit and be refused INVALID_TXN_STATE,
  // a fatal error that killed the producer at its first such abort.
  if (txn_version_ >= 2) txn_started_ = true;
}

void TransactionManager::begin() {
  transition(Phase::in_transaction);
  txn_partitions_.clear();
  txn_ops_.clear();
  txn_started_ = false;
  last_error_ = Errc::NONE;
}

void TransactionManager::reset_for_epoch(ProducerId id, ProducerEpoch epoch) {
  producer_id_ = id;
  epoch_ = epoch;
  state_ = State::ready;
  partitions_.clear();
  unresolved_.clear();
  to_rewrite_.clear();
  epoch_bump_required_ = false;
}

}  // namespace ksim::clients
