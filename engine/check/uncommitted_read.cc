// uncommitted-read: a consumer returned a record at or above the high
// watermark of the fetch response that carried it. Consumers may only see
// committed records (Kafka's leader serves consumer fetches up to the HW);
// such a record can still vanish in a leader change.
#include "engine/check/checkers.h"

namespace ksim::check {

void check_uncommitted_reads(const HistoryIndex& index, Verdict& out) {
  const History& h = index.history();
  for (const PartitionIndex& p : index.partitions()) {
    const TopicPartition& tp = p.tp;
    for (const Read& rd : p.reads) {
      const PolledRecord& r = *rd.record;
      // hw - offset > 0: below the HW (the common case, read without a side-table lookup).
      if (r.hw_delta > 0 && r.hw_delta != PolledRecord::kHwElsewhere) continue;
      const int64_t hw = h.high_watermark(rd.rec).value;
      if (hw < 0 || r.offset < hw) continue;
      Anomaly a;
      a.kind = "uncommitted-read";
      a.tp = tp;
      a.offsets = {r.offset, hw};
      a.records = {std::string(h.str(r.value))};
      a.ops = {rd.op};
      a.at_ns = rd.at_ns;
      a.explanation = describe_op(h.op(rd.op)) + " returned " + tp.str() + " offset " + std::to_string(r.offset) +
                      " ('" + a.records[0] + "') although the high watermark was " + std::to_string(hw) +
                      ": a record not yet committed.";
      out.add(std::move(a));
    }
  }
}

}  // namespace ksim::check
