// lost-write: an acknowledged send whose record is not at its acked offset in
// the final log (or, for acks=0 sends without an offset, nowhere in it).
// Whether Kafka promised it survives is the fault model's call.
#include "engine/check/checkers.h"
#include "engine/check/fault_model.h"

namespace ksim::check {

void check_lost_writes(const HistoryIndex& index, Verdict& out) {
  const History& h = index.history();
  for (const PartitionIndex& p : index.partitions()) {
    const TopicPartition& tp = p.tp;
    if (!p.final_log || p.final_log->source_broker < 0) continue;  // unreadable: the liveness phase says why
    const FinalLog& log = *p.final_log;
    for (uint64_t id : p.sends) {
      const OpRecord& rec = h.rec(id);
      if (rec.outcome() != Outcome::ok) continue;
      // An aborted transaction's record is no committed write (the cleaner removes it).
      if (rec.txn() == TxnState::aborted) continue;
      // Superseded on a compacted topic: the cleaner may remove it (`compaction` judges the key's latest).
      if (index.superseded(p, id)) continue;
      // A tombstone on a compacted topic goes after delete.retention.ms: `compaction` judges it too.
      if (p.compacted() && rec.offset >= 0 && !p.at(rec.offset) && h.op(id).value().empty() && h.send_key(id)) continue;
      const OpView op = h.op(id);
      std::string found;
      if (rec.offset >= 0) {
        if (rec.offset < log.log_start_offset) continue;  // deleted by retention, not lost
        const LogRecord* r = p.at(rec.offset);
        if (r && p.value_of(r) == rec.value) continue;
        found = r ? "offset " + std::to_string(rec.offset) + " now holds '" + log_string(h, r->value) + "'"
                  : "the final log (broker " + std::to_string(log.source_broker) + ") has no record at offset " +
                        std::to_string(rec.offset) + " (high watermark " + std::to_string(log.high_watermark) +
                        ")";
      } else {
        if (index.in_log(p, rec.value)) continue;
        found = "'" + std::string(op.value()) + "' is nowhere in the final log";
      }
      Anomaly a;
      a.kind = "lost-write";
      a.cause = permitted_loss(index, op);
      a.expected = !a.cause.empty();
      a.tp = tp;
      if (rec.offset >= 0) a.offsets.push_back(rec.offset);
      a.records.emplace_back(op.value());
      a.ops.push_back(id);
      a.at_ns = rec.complete_ns;
      a.explanation = describe_op(op) + "; " + found + ".\n" +
                      events_between(h, tp, rec.invoke_ns - 1, INT64_MAX, 8, /*earliest=*/true) +
                      (a.expected ? "Permitted: " + a.cause + "." : "Kafka promised this record: a violation.");
      out.add(std::move(a));
    }
  }
}

}  // namespace ksim::check
