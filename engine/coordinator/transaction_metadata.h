// TransactionMetadata: what the transaction coordinator knows about one
// transactional.id (Kafka's TransactionMetadata / TransactionState).
//
// The state machine (README.md, "States"):
//   Empty -> Ongoing -> PrepareCommit -> CompleteCommit
//                    -> PrepareAbort  -> CompleteAbort
//   Complete* -> Ongoing (the next transaction), Complete*/Empty -> Empty (InitProducerId)
// A transition is first written to __transaction_state; `pending` holds its
// target until the record is committed, and no second transition may start
// meanwhile (requests answer CONCURRENT_TRANSACTIONS).
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>

#include "engine/common/types.h"

namespace ksim::coordinator {

enum class TxnState : uint8_t {
  Empty = 0,
  Ongoing = 1,
  PrepareCommit = 2,
  PrepareAbort = 3,
  CompleteCommit = 4,
  CompleteAbort = 5,
  Dead = 6,
};
const char* txn_state_name(TxnState s);
// Kafka's TransactionState.validPreviousStates, read the other way round.
bool valid_txn_transition(TxnState from, TxnState to);
inline bool is_prepare(TxnState s) { return s == TxnState::PrepareCommit || s == TxnState::PrepareAbort; }
inline bool is_complete(TxnState s) { return s == TxnState::CompleteCommit || s == TxnState::CompleteAbort; }

// What a __transaction_state record holds (TransactionLogValue).
struct TxnMetadata {
  ProducerId producer_id = kNoProducerId;
  ProducerEpoch producer_epoch = kNoProducerEpoch;
  ProducerEpoch last_producer_epoch = kNoProducerEpoch;  // before the latest bump (retries of EndTxn/InitProducerId)
  int32_t timeout_ms = 60000;
  TxnState state = TxnState::Empty;
  std::set<TopicPartition> partitions;
  int64_t start_ms = -1;        // when the current transaction started (Ongoing and later)
  int64_t last_update_ms = -1;
  bool operator==(const TxnMetadata&) const = default;
};

// One transactional id on its coordinator: the committed metadata plus the
// transition being written, if any.
struct TxnEntry {
  std::string transactional_id;
  TxnMetadata current;
  std::optional<TxnMetadata> pending;
  bool markers_in_flight = false;  // a marker fiber is completing the Prepare state

  // Asserts the state's invariants (README.md) on `m` as a successor of `current`.
  void check_transition(const TxnMetadata& next) const;
};

}  // namespace ksim::coordinator
