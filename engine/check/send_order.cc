// nonmonotonic-send (reorder): one producer's acknowledged records land in a
// partition out of the order it sent them. Kafka keeps send order within a
// partition with idempotence (or max.in.flight.requests.per.connection=1);
// without either, a retried batch may land after a later one (expected).
#include <map>
#include <optional>

#include "engine/check/checkers.h"
#include "engine/check/fault_model.h"

namespace ksim::check {

void check_send_order(const HistoryIndex& index, Verdict& out) {
  const History& h = index.history();
  for (const PartitionIndex& p : index.partitions()) {
    const TopicPartition& tp = p.tp;
    std::map<int32_t, std::optional<OpView>> highest;  // client -> its send with the highest offset so far
    for (uint64_t id : p.sends) {
      const OpRecord& rec = h.rec(id);
      if (rec.outcome() != Outcome::ok || rec.offset < 0) continue;
      // Only records that are where they were acked take part: a lost one is
      // lost-write's to report, not an ordering question.
      if (p.final_log) {
        const LogRecord* r = p.at(rec.offset);
        if (!r || p.value_of(r) != rec.value) continue;
      }
      const OpView op = h.op(id);
      std::optional<OpView>& prev = highest[op.client()];
      if (prev && op.offset() < prev->offset()) {
        Anomaly a;
        a.kind = "nonmonotonic-send";
        a.cause = permitted_reorder(*prev, op);
        a.expected = !a.cause.empty();
        a.tp = tp;
        a.offsets = {prev->offset().value, op.offset().value};
        a.records = {std::string(prev->value()), std::string(op.value())};
        a.ops = {prev->id(), op.id()};
        a.at_ns = op.complete_ns();
        a.explanation = std::string(op.client_name()) + " sent '" + a.records[0] + "' before '" + a.records[1] +
                        "' but they landed at " + tp.str() + " offsets " + std::to_string(prev->offset().value) +
                        " and " + std::to_string(op.offset().value) + ".\n  " + describe_op(*prev) + "\n  " +
                        describe_op(op) + "\n" + events_between(h, tp, prev->invoke_ns() - 1, op.complete_ns()) +
                        (a.expected ? "Permitted: " + a.cause + "." : "Kafka promised send order: a violation.");
        out.add(std::move(a));
        continue;  // keep the highest as the reference
      }
      if (!prev || op.offset() > prev->offset()) prev = op;
    }
  }
}

}  // namespace ksim::check
