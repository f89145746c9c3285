// unseen: an acknowledged record, present in the final log, that no consumer
// ever returned — reported only for runs that end with a full read of every
// partition (RunConfig::full_read); its severity is configurable.
#include <unordered_set>

#include "engine/check/checkers.h"

namespace ksim::check {

void check_unseen(const HistoryIndex& index, Verdict& out) {
  const CheckInput& in = index.input();
  if (!in.config.full_read) return;
  const History& h = index.history();
  for (const TopicPartition& tp : index.partitions()) {
    const PartitionIndex& p = index.partition(tp);
    std::unordered_set<std::string_view> seen;
    seen.reserve(p.reads.size());
    for (const Read& rd : p.reads) seen.insert(rd.record->value);
    for (uint64_t id : p.sends) {
      const Op& op = h.op(id);
      if (op.outcome != Outcome::ok || seen.count(op.value) || !p.log_offsets_by_value.count(op.value)) continue;
      if (op.txn_state == "aborted") continue;  // nobody should read it (read_uncommitted readers may)
      Anomaly a;
      a.kind = "unseen";
      a.expected = !in.config.unseen_is_violation;
      a.cause = a.expected ? "reported, not judged (unseen severity: info)" : "";
      a.tp = tp;
      a.records = {op.value};
      a.ops = {op.id};
      a.at_ns = op.complete_ns;
      a.explanation = describe_op(op) + "; it is in the final log but no consumer returned it.";
      out.add(std::move(a));
    }
  }
}

}  // namespace ksim::check
