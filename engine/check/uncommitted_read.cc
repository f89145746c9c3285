// uncommitted-read: a consumer returned a record at or above the high
// watermark of the fetch response that carried it. Consumers may only see
// committed records (Kafka's leader serves consumer fetches up to the HW);
// such a record can still vanish in a leader change.
#include "engine/check/checkers.h"

namespace ksim::check {

void check_uncommitted_reads(const HistoryIndex& index, Verdict& out) {
  const History& h = index.history();
  for (const TopicPartition& tp : index.partitions()) {
    for (const Read& rd : index.partition(tp).reads) {
      const PolledRecord& r = *rd.record;
      if (r.high_watermark.value < 0 || r.offset.value < r.high_watermark.value) continue;
      Anomaly a;
      a.kind = "uncommitted-read";
      a.tp = tp;
      a.offsets = {r.offset.value, r.high_watermark.value};
      a.records = {r.value};
      a.ops = {rd.op};
      a.at_ns = rd.at_ns;
      a.explanation = describe_op(h.op(rd.op)) + " returned " + tp.str() + " offset " + std::to_string(r.offset.value) +
                      " ('" + r.value + "') although the high watermark was " +
                      std::to_string(r.high_watermark.value) + ": a record not yet committed.";
      out.add(std::move(a));
    }
  }
}

}  // namespace ksim::check
