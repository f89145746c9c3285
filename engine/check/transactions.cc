// Transactions (the interfaces are fixed now; the transactions issue fills
// the history's txn_state):
//   aborted-read: a read_committed consumer returned a record whose send
//                 belongs to an aborted transaction;
//   exactly-once: a send of a committed transaction is in the final log zero
//                 times or more than once.
#include "engine/check/checkers.h"

namespace ksim::check {

void check_transactions(const HistoryIndex& index, Verdict& out) {
  const History& h = index.history();
  for (const TopicPartition& tp : index.partitions()) {
    const PartitionIndex& p = index.partition(tp);
    for (const Read& rd : p.reads) {
      if (!h.op(rd.op).read_committed) continue;
      auto s = p.sends_by_value.find(rd.record->value);
      if (s == p.sends_by_value.end()) continue;
      bool aborted = true;
      for (uint64_t id : s->second.all()) aborted = aborted && h.op(id).txn_state == "aborted";
      if (!aborted) continue;
      Anomaly a;
      a.kind = "aborted-read";
      a.tp = tp;
      a.offsets = {rd.record->offset.value};
      a.records = {rd.record->value};
      a.ops = {rd.op, s->second.first};
      a.at_ns = rd.at_ns;
      a.explanation = describe_op(h.op(rd.op)) + " (read_committed) returned '" + rd.record->value +
                      "' from an aborted transaction: " + describe_op(h.op(s->second.first)) + ".";
      out.add(std::move(a));
    }
    if (!p.final_log) continue;
    for (uint64_t id : p.sends) {
      const Op& op = h.op(id);
      if (!op.transactional || op.txn_state != "committed") continue;
      auto it = p.log_offsets_by_value.find(op.value);
      const size_t copies = it == p.log_offsets_by_value.end() ? 0 : it->second.size();
      if (copies == 1) continue;
      Anomaly a;
      a.kind = "exactly-once";
      a.tp = tp;
      if (copies) a.offsets = it->second.all();
      a.records = {op.value};
      a.ops = {op.id};
      a.at_ns = op.complete_ns;
      a.explanation = describe_op(op) + " belongs to a committed transaction but is in the final log " +
                      std::to_string(copies) + " times.";
      out.add(std::move(a));
    }
  }
}

}  // namespace ksim::check
