#include "engine/coordinator/transaction_metadata.h"

#include "sim/error.h"

namespace ksim::coordinator {

const char* txn_state_name(TxnState s) {
  switch (s) {
    case TxnState::Empty: return "Empty";
    case TxnState::Ongoing: return "Ongoing";
    case TxnState::PrepareCommit: return "PrepareCommit";
    case TxnState::PrepareAbort: return "PrepareAbort";
    case TxnState::CompleteCommit: return "CompleteCommit";
    case TxnState::CompleteAbort: return "CompleteAbort";
    case TxnState::Dead: return "Dead";
  }
  return "?";
}

bool valid_txn_transition(TxnState from, TxnState to) {
  using S = TxnState;
  switch (to) {
    case S::Empty: return from == S::Empty || from == S::CompleteCommit || from == S::CompleteAbort;
    case S::Ongoing:
      return from == S::Ongoing || from == S::Empty || from == S::CompleteCommit || from == S::CompleteAbort;
    case S::PrepareCommit: return from == S::Ongoing;
    // Ongoing: EndTxn(abort), a timeout or a fencing InitProducerId. Empty /
    // Complete*: an abort with nothing to abort (TV2 bumps the epoch anyway).
    case S::PrepareAbort: return from == S::Ongoing;
    case S::CompleteCommit: return from == S::PrepareCommit;
    // TV2: an abort with nothing open still bumps the epoch, straight to CompleteAbort.
    case S::CompleteAbort:
      return from == S::PrepareAbort || from == S::Empty || from == S::CompleteCommit || from == S::CompleteAbort;
    case S::Dead: return true;
  }
  return false;
}

void TxnEntry::check_transition(const TxnMetadata& next) const {
  const std::string where = "txn " + transactional_id + " " + txn_state_name(current.state) + " -> " +
                            txn_state_name(next.state) + ": ";
  SIM_ASSERT(valid_txn_transition(current.state, next.state), where + "not a valid transition");
  const bool same_id = next.producer_id == current.producer_id;
  SIM_ASSERT(!same_id || next.producer_epoch >= current.producer_epoch, where + "the epoch went back");
  const bool open = next.state == TxnState::Ongoing || is_prepare(next.state);
  SIM_ASSERT(!open || !next.partitions.empty(), where + "an open transaction without partitions");
  SIM_ASSERT(open || next.partitions.empty(), where + "a finished transaction keeps partitions");
}

}  // namespace ksim::coordinator
