// compaction: what a compacted topic (cleanup.policy=compact) promises after
// its log cleaner ran — judged on the final log, after the heal phase:
//   * every key's latest committed value is present at the offset it was
//     acknowledged at (a later value never goes back to an older one: the
//     key's newest record is never removed while an older one stays);
//   * a tombstone (a null value; the history records it as empty) may be
//     gone, but not before delete.retention.ms after its acknowledgement;
//   * offsets stay strictly increasing (gaps are the cleaner's, never a
//     step back).
// Records superseded by a later value of their key may be gone: lost-write,
// unseen and exactly-once leave those to this checker (HistoryIndex::superseded).
#include <map>

#include "engine/check/checkers.h"
#include "engine/check/fault_model.h"

namespace ksim::check {

void check_compaction(const HistoryIndex& index, Verdict& out) {
  const History& h = index.history();
  for (const PartitionIndex& p : index.partitions()) {
    if (!p.compacted() || p.final_log->source_broker < 0) continue;
    const FinalLog& log = *p.final_log;
    for (size_t i = 1; i < log.records.size(); ++i) {
      if (log.records[i].offset > log.records[i - 1].offset) continue;
      Anomaly a;
      a.kind = "compaction";
      a.tp = p.tp;
      a.offsets = {log.records[i - 1].offset, log.records[i].offset};
      a.at_ns = log.read_at_ns;
      a.explanation = "the final log of " + p.tp.str() + " (broker " + std::to_string(log.source_broker) +
                      ") holds offset " + std::to_string(log.records[i].offset) + " after offset " +
                      std::to_string(log.records[i - 1].offset) + ": compaction must keep offsets increasing.";
      out.add(std::move(a));
      break;
    }
    // The latest acked committed send of every key, in first-seen order (history order: deterministic).
    std::map<std::string_view, uint64_t> latest;  // ordered: iterated into output
    for (uint64_t id : p.sends) {
      const OpRecord& rec = h.rec(id);
      if (rec.outcome() != Outcome::ok || rec.offset < 0 || rec.txn() == TxnState::aborted) continue;
      const auto key = h.send_key(id);
      if (!key || rec.offset >= log.high_watermark) continue;
      auto [it, fresh] = latest.emplace(*key, id);
      if (!fresh && h.rec(it->second).offset < rec.offset) it->second = id;
    }
    for (const auto& [key, id] : latest) {
      const OpRecord& rec = h.rec(id);
      if (rec.offset < log.log_start_offset) continue;  // deleted by retention (compact,delete)
      const LogRecord* r = p.at(rec.offset);
      const OpView op = h.op(id);
      const bool tombstone = op.value().empty();
      if (r) continue;  // what sits there is inconsistent-offsets' to judge
      if (index.superseded(p, id)) continue;  // a later record of the key landed (its ack was never seen)
      if (tombstone && rec.complete_ns + log.delete_retention_ms * 1'000'000 <= log.read_at_ns) continue;
      Anomaly a;
      a.kind = "compaction";
      a.cause = permitted_loss(index, op);
      a.expected = !a.cause.empty();
      a.tp = p.tp;
      a.offsets.push_back(rec.offset);
      a.records.emplace_back(op.value());
      a.ops.push_back(id);
      a.at_ns = log.read_at_ns;
      a.explanation =
          "key '" + std::string(key) + "' of compacted " + p.tp.str() + ": its latest value " +
          (tombstone ? "(a tombstone, removed before delete.retention.ms=" + std::to_string(log.delete_retention_ms) +
                           " ms had passed)"
                     : "'" + std::string(op.value()) + "'") +
          " is gone from the final log (broker " + std::to_string(log.source_broker) + "): " + describe_op(op) +
          ". The cleaner may remove only values a later value of their key superseded.\n" +
          (a.expected ? "Permitted: " + a.cause + "." : "Kafka promised this record: a violation.");
      out.add(std::move(a));
    }
  }
}

}  // namespace ksim::check
