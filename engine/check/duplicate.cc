// duplicate: a value present at more offsets of the final log than it was
// sent (counting every send that may have happened: ok and info). Records of
// aborted transactions are no copies.
#include "engine/check/checkers.h"
#include "engine/check/fault_model.h"

namespace ksim::check {

void check_duplicates(const HistoryIndex& index, Verdict& out) {
  const History& h = index.history();
  for (const PartitionIndex& p : index.partitions()) {
    const TopicPartition& tp = p.tp;
    if (!p.final_log) continue;
    const std::vector<LogRecord>& records = p.final_log->records;
    for (size_t i = 0; i < records.size(); ++i) {
      const LogRecord& r = records[i];
      const Sym v = r.value;
      // Not a copy (no reader ever sees it), or not a value any recorded client sent.
      if (r.aborted || v == kNoSym) continue;
      // Each value once, at its first offset, when it is there twice or more.
      size_t copies = 0;
      bool first = true;
      index.log_offsets(p, v, [&](int64_t o) {
        if (copies++ == 0) first = o == r.offset;
        return first && copies < 2;
      });
      if (!first || copies < 2) continue;
      if (!index.has_sends(p, v)) continue;
      const std::vector<int64_t> offsets = index.log_offsets_of(p, v);
      std::vector<OpView> sends;
      for (uint64_t id : index.sends_of(p, v))
        if (h.rec(id).outcome() != Outcome::fail) sends.push_back(h.op(id));
      if (offsets.size() <= sends.size()) continue;
      Anomaly a;
      a.kind = "duplicate";
      a.cause = permitted_duplicate(sends, *p.final_log, offsets);
      a.expected = !a.cause.empty();
      a.tp = tp;
      a.offsets = offsets;
      a.records.emplace_back(h.str(v));
      for (const OpView& o : sends) a.ops.push_back(o.id());
      a.at_ns = sends.empty() ? 0 : sends.front().invoke_ns();
      std::string offs;
      for (int64_t o : offsets) offs += (offs.empty() ? "" : ", ") + std::to_string(o);
      a.explanation = "'" + std::string(h.str(v)) + "' was sent " + std::to_string(sends.size()) + " time(s) but is at offsets " +
                      offs + " of " + tp.str() + ".\n";
      for (const OpView& o : sends) a.explanation += "  " + describe_op(o) + "\n";
      a.explanation += a.expected ? "Permitted: " + a.cause + "." : "Idempotence promised one copy: a violation.";
      ++out.mutable_stats().duplicated;
      out.add(std::move(a));
    }
  }
}

}  // namespace ksim::check
