// unseen: an acknowledged record, present in the final log, that no consumer
// ever returned — reported only for runs that end with a full read of every
// partition (RunConfig::full_read); its severity is configurable.
#include <vector>

#include "engine/check/checkers.h"

namespace ksim::check {

void check_unseen(const HistoryIndex& index, Verdict& out) {
  const CheckInput& in = index.input();
  if (!in.config.full_read) return;
  const History& h = index.history();
  std::vector<uint32_t> seen(h.strings().size(), 0);
  for (const PartitionIndex& p : index.partitions()) {
    const TopicPartition& tp = p.tp;
    // Values read in this partition: marked with the partition's ordinal + 1,
    // so one array serves every partition without clearing.
    for (const Read& rd : p.reads) seen[rd.record->value] = p.ordinal + 1;
    for (uint64_t id : p.sends) {
      const OpRecord& rec = h.rec(id);
      if (rec.outcome() != Outcome::ok || seen[rec.value] == p.ordinal + 1 || !index.in_log(p, rec.value)) continue;
      if (rec.txn() == TxnState::aborted) continue;  // nobody should read it (read_uncommitted readers may)
      const OpView op = h.op(id);
      Anomaly a;
      a.kind = "unseen";
      a.expected = !in.config.unseen_is_violation;
      a.cause = a.expected ? "reported, not judged (unseen severity: info)" : "";
      a.tp = tp;
      a.records = {std::string(op.value())};
      a.ops = {op.id()};
      a.at_ns = op.complete_ns();
      a.explanation = describe_op(op) + "; it is in the final log but no consumer returned it.";
      out.add(std::move(a));
    }
  }
}

}  // namespace ksim::check
