#include "engine/storage/producer_state_manager.h"

#include <algorithm>
#include <limits>

#include "sim/error.h"

namespace ksim::storage {
namespace {

int32_t last_sequence_of(const RecordBatch& b) {
  if (b.base_sequence() == kNoSequence) return kNoSequence;  // markers, coordinator writes
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

// maybeUpdateProducerEpoch: a new epoch forgets the old epoch's batches.
void set_epoch(ProducerStateEntry& e, ProducerEpoch epoch) {
  if (e.epoch == epoch) return;
  e.batches.clear();
  e.epoch = epoch;
}

}  // namespace

std::optional<ProducerStateEntry> ProducerStateManager::entry(ProducerId id) const {
  auto it = state_.producers.find(id);
  if (it == state_.producers.end()) return std::nullopt;
  return it->second;
}

ProducerCheck ProducerStateManager::check(const RecordBatch& batch, AppendOrigin origin) const {
  SIM_ASSERT(origin != AppendOrigin::replication, "replicated batches are not validated");
  ProducerCheck out;
  const ProducerId pid = batch.producer_id();
  if (pid == kNoProducerId) return out;
  auto it = state_.producers.find(pid);
  if (it == state_.producers.end()) return out;  // unknown producer: any sequence is accepted (Kafka 4.0)
  const ProducerStateEntry& e = it->second;
  const ProducerEpoch epoch = batch.producer_epoch();
  if (batch.is_control()) {
    // appendEndTxnMarker: markers must carry an epoch >= the producer's, and a
    // coordinator epoch >= the last marker's (a zombie coordinator is fenced).
    const std::optional<EndTxnMarker> marker = read_marker(batch);
    if (!marker) return out;
    if (epoch < e.epoch)
      out.error = Errc::INVALID_PRODUCER_EPOCH;
    else if (marker->coordinator_epoch < e.coordinator_epoch)
      out.error = Errc::TRANSACTION_COORDINATOR_FENCED;
    return out;
  }
  const int32_t first = batch.base_sequence();
  const int32_t last = last_sequence_of(batch);
  // A duplicate first: a retry of one of the last five batches of this epoch.
  if (origin == AppendOrigin::client && epoch == e.epoch) {
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
  if (origin == AppendOrigin::client) {
    if (epoch != e.epoch) {
      // A new epoch (KIP-360 bump, or TV2's bump at every transaction end) starts its sequences at 0.
      if (first != 0 && e.epoch != kNoProducerEpoch) out.error = Errc::OUT_OF_ORDER_SEQUENCE_NUMBER;
    } else if (!in_sequence(e.last_seq(), first)) {
      out.error = Errc::OUT_OF_ORDER_SEQUENCE_NUMBER;
    }
    if (out.error != Errc::NONE) return out;
  }
  // appendDataBatch: a producer with an open transaction writes only transactionally.
  if (e.current_txn_first_offset && !batch.is_transactional()) out.error = Errc::INVALID_TXN_STATE;
  return out;
}

void ProducerStateManager::apply(State& s, const JournalEntry& j) {
  const ProducerBatchMetadata& m = j.batch;
  ProducerStateEntry& e = s.producers[m.producer_id];
  if (j.marker) {
    // The transaction (if this producer had one open here) is decided.
    if (e.current_txn_first_offset) {
      const Offset first = *e.current_txn_first_offset;
      const CompletedTxn done{m.producer_id, first, m.first_offset, !j.marker->commit};
      s.ongoing.erase(first);
      s.unreplicated[first] = done;
      // Kafka's lastStableOffset(completedTxn): the next open transaction of
      // another producer (they all started before this marker), or past the marker.
      const Offset lso = s.ongoing.empty() ? done.last_offset + 1 : std::min(s.ongoing.begin()->first, done.last_offset + 1);
      if (done.aborted) s.aborted.push_back(AbortedEntry{done, lso});
    }
    set_epoch(e, m.epoch);
    e.coordinator_epoch = j.marker->coordinator_epoch;
    e.current_txn_first_offset.reset();
    e.last_timestamp = std::max(e.last_timestamp, m.timestamp);
    return;
  }
  set_epoch(e, m.epoch);
  e.last_timestamp = std::max(e.last_timestamp, m.timestamp);
  if (e.batches.size() == kNumBatchesToRetain) e.batches.pop_front();
  e.batches.push_back(m);
  if (j.transactional && !e.current_txn_first_offset) {
    // The producer's first transactional batch since its last marker opens a transaction.
    e.current_txn_first_offset = m.first_offset;
    s.ongoing[m.first_offset] = m.producer_id;
  }
}

void ProducerStateManager::update(const RecordBatch& batch) {
  if (batch.producer_id() == kNoProducerId) return;
  JournalEntry j;
  j.batch = metadata_of(batch);
  j.transactional = batch.is_transactional();
  if (batch.is_control()) {
    j.marker = read_marker(batch);
    if (!j.marker) return;  // not a transaction marker: nothing for the producer state
  }
  SIM_ASSERT(journal_.empty() || journal_.back().batch.last_offset < j.batch.first_offset,
             "producer state: batches must be recorded in offset order");
  journal_.push_back(j);
  apply(state_, j);
  prune_unreplicated();
  check_invariants(false);
}

void ProducerStateManager::forget_expired(State& s, int64_t now_ms, int64_t expiration_ms) {
  // Kafka's isProducerExpired: no open transaction, and idle for the expiration time.
  std::erase_if(s.producers, [&](const auto& kv) {
    const ProducerStateEntry& e = kv.second;
    return !e.current_txn_first_offset && now_ms - e.last_timestamp >= expiration_ms;
  });
}

void ProducerStateManager::remove_expired(int64_t now_ms, int64_t expiration_ms) {
  SIM_ASSERT(expiration_ms > 0, "producer.id.expiration.ms is positive");
  expired_at_ms_ = now_ms;
  expiration_ms_ = expiration_ms;
  forget_expired(base_, now_ms, expiration_ms);
  forget_expired(state_, now_ms, expiration_ms);  // producers only: first_unstable_ stands
  check_invariants(false);
}

void ProducerStateManager::truncate_to(Offset offset) {
  if (journal_.empty() || journal_.back().batch.last_offset < offset) return;
  while (!journal_.empty() && journal_.back().batch.last_offset >= offset) journal_.pop_back();
  state_ = base_;
  for (const JournalEntry& j : journal_) apply(state_, j);
  // Kafka reloads its snapshot without the producers that expired, then replays.
  if (expiration_ms_ > 0) forget_expired(state_, expired_at_ms_, expiration_ms_);
  prune_unreplicated();
  check_invariants(true);
}

void ProducerStateManager::clear() {
  base_ = State{};
  journal_.clear();
  state_ = State{};
  high_watermark_ = Offset{0};
  first_unstable_.reset();
}

void ProducerStateManager::forget_below(State& s, Offset log_start) {
  // removeUnreplicatedTransactions(logStartOffset), and the deleted segments' .txnindex.
  std::erase_if(s.unreplicated, [&](const auto& kv) { return kv.second.last_offset < log_start; });
  std::erase_if(s.aborted, [&](const AbortedEntry& a) { return a.txn.last_offset < log_start; });
}

void ProducerStateManager::on_log_start_offset(Offset log_start) {
  while (!journal_.empty() && journal_.front().batch.last_offset < log_start) {
    apply(base_, journal_.front());
    journal_.pop_front();
  }
  forget_below(base_, log_start);
  forget_below(state_, log_start);
  first_unstable_ = compute_first_unstable();
  check_invariants(true);
}

void ProducerStateManager::on_high_watermark(Offset hw) {
  high_watermark_ = hw;
  prune_unreplicated();
}

void ProducerStateManager::prune_unreplicated() {
  // Kafka's onHighWatermarkUpdated: only the replay result is pruned; base_
  // keeps them, and a rebuild prunes again with the HW of that moment.
  std::erase_if(state_.unreplicated, [&](const auto& kv) { return kv.second.last_offset < high_watermark_; });
  first_unstable_ = compute_first_unstable();
}

bool ProducerStateManager::has_ongoing_txn(ProducerId id) const {
  auto it = state_.producers.find(id);
  return it != state_.producers.end() && it->second.current_txn_first_offset.has_value();
}

std::optional<Offset> ProducerStateManager::first_undecided_offset() const {
  if (state_.ongoing.empty()) return std::nullopt;
  return state_.ongoing.begin()->first;
}

std::optional<Offset> ProducerStateManager::compute_first_unstable() const {
  std::optional<Offset> out = first_undecided_offset();
  if (!state_.unreplicated.empty()) {
    const Offset u = state_.unreplicated.begin()->first;
    if (!out || u < *out) out = u;
  }
  return out;
}

void ProducerStateManager::forget_aborted(const std::vector<CompletedTxn>& gone) {
  for (State* st : {&state_, &base_})
    std::erase_if(st->aborted, [&](const AbortedEntry& a) {
      return std::find(gone.begin(), gone.end(), a.txn) != gone.end();
    });
}

std::vector<CompletedTxn> ProducerStateManager::aborted_index() const {
  std::vector<CompletedTxn> out;
  for (const AbortedEntry& a : state_.aborted) out.push_back(a.txn);
  return out;
}

std::vector<CompletedTxn> ProducerStateManager::aborted_transactions(Offset from, Offset upper_exclusive) const {
  // Kafka's collectAbortedTxns over the index (in marker order): from the
  // first marker at or after `from`, until an entry whose completion-time LSO
  // reaches the upper bound (every later transaction starts at or after it).
  std::vector<CompletedTxn> out;
  auto it = std::lower_bound(state_.aborted.begin(), state_.aborted.end(), from,
                             [](const AbortedEntry& a, Offset o) { return a.txn.last_offset < o; });
  for (; it != state_.aborted.end(); ++it) {
    if (it->txn.first_offset < upper_exclusive) out.push_back(it->txn);
    if (it->last_stable_offset >= upper_exclusive) break;
  }
  std::sort(out.begin(), out.end(), [](const CompletedTxn& a, const CompletedTxn& b) {
    return a.first_offset < b.first_offset;  // first offsets are distinct batches' offsets
  });
  return out;
}

void ProducerStateManager::check_invariants(bool full) const {
  SIM_ASSERT(first_unstable_ == compute_first_unstable(), "producer state: the cached first unstable offset is stale");
  size_t open = 0;
  for (const auto& [pid, e] : state_.producers) {
    SIM_ASSERT(e.batches.size() <= kNumBatchesToRetain, "producer state: more than 5 batches retained");
    for (size_t i = 1; i < e.batches.size(); ++i)
      SIM_ASSERT(e.batches[i - 1].last_offset < e.batches[i].first_offset,
                 "producer state: retained batches out of offset order");
    if (e.current_txn_first_offset) {
      ++open;
      auto it = state_.ongoing.find(*e.current_txn_first_offset);
      SIM_ASSERT(it != state_.ongoing.end() && it->second == pid,
                 "producer state: an open transaction missing from the ongoing map");
    }
  }
  SIM_ASSERT(open == state_.ongoing.size(), "producer state: an ongoing transaction without an open producer");
  // The index and the unreplicated set can be long (every abort still in the
  // log; every transaction during recovery): an append only touches their ends.
  const size_t from = full || state_.aborted.size() < 2 ? 0 : state_.aborted.size() - 2;
  for (size_t i = from; i < state_.aborted.size(); ++i) {
    const CompletedTxn& t = state_.aborted[i].txn;
    SIM_ASSERT(t.aborted && t.first_offset < t.last_offset && state_.aborted[i].last_stable_offset <= t.last_offset + 1,
               "producer state: an aborted transaction must end after it starts");
    SIM_ASSERT(i == 0 || state_.aborted[i - 1].txn.last_offset < t.last_offset,
               "producer state: the aborted index must be in marker order");
  }
  for (const auto& [first, t] : state_.unreplicated) {
    SIM_ASSERT(t.first_offset == first && t.first_offset < t.last_offset && t.last_offset >= high_watermark_,
               "producer state: a completed transaction must end after it starts, at or above the HW");
    if (!full) break;
  }
}

}  // namespace ksim::storage
