// duplicate: a value present at more offsets of the final log than it was
// sent (counting every send that may have happened: ok and info). Records of
// aborted transactions are no copies.
#include "engine/check/checkers.h"
#include "engine/check/fault_model.h"

namespace ksim::check {

void check_duplicates(const HistoryIndex& index, Verdict& out) {
  const History& h = index.history();
  for (const TopicPartition& tp : index.partitions()) {
    const PartitionIndex& p = index.partition(tp);
    if (!p.final_log) continue;
    for (const LogRecord& r : p.final_log->records) {
      if (r.aborted) continue;  // not a copy: no reader ever sees it
      const Multi<int64_t>& at = p.log_offsets_by_value.at(r.value);
      if (at.size() < 2 || at.first != r.offset) continue;  // each value once, at its first offset
      const std::vector<int64_t> offsets = at.all();
      auto s = p.sends_by_value.find(r.value);
      if (s == p.sends_by_value.end()) continue;  // not a value any recorded client sent
      std::vector<const Op*> sends;
      for (uint64_t id : s->second.all())
        if (h.op(id).outcome != Outcome::fail) sends.push_back(&h.op(id));
      if (offsets.size() <= sends.size()) continue;
      Anomaly a;
      a.kind = "duplicate";
      a.cause = permitted_duplicate(sends);
      a.expected = !a.cause.empty();
      a.tp = tp;
      a.offsets = offsets;
      a.records.push_back(r.value);
      for (const Op* o : sends) a.ops.push_back(o->id);
      a.at_ns = sends.empty() ? 0 : sends.front()->invoke_ns;
      std::string offs;
      for (int64_t o : offsets) offs += (offs.empty() ? "" : ", ") + std::to_string(o);
      a.explanation = "'" + r.value + "' was sent " + std::to_string(sends.size()) + " time(s) but is at offsets " +
                      offs + " of " + tp.str() + ".\n";
      for (const Op* o : sends) a.explanation += "  " + describe_op(*o) + "\n";
      a.explanation += a.expected ? "Permitted: " + a.cause + "." : "Idempotence promised one copy: a violation.";
      ++out.mutable_stats().duplicated;
      out.add(std::move(a));
    }
  }
}

}  // namespace ksim::check
