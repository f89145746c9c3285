// nonmonotonic-send (reorder): one producer's acknowledged records land in a
// partition out of the order it sent them. Kafka keeps send order within a
// partition with idempotence (or max.in.flight.requests.per.connection=1);
// without either, a retried batch may land after a later one (expected).
#include <map>

#include "engine/check/checkers.h"
#include "engine/check/fault_model.h"

namespace ksim::check {

void check_send_order(const HistoryIndex& index, Verdict& out) {
  const History& h = index.history();
  for (const TopicPartition& tp : index.partitions()) {
    const PartitionIndex& p = index.partition(tp);
    std::map<int32_t, const Op*> highest;  // client -> its send with the highest offset so far
    for (uint64_t id : p.sends) {
      const Op& op = h.op(id);
      if (op.outcome != Outcome::ok || op.offset.value < 0) continue;
      // Only records that are where they were acked take part: a lost one is
      // lost-write's to report, not an ordering question.
      if (p.final_log) {
        const LogRecord* r = p.at(op.offset.value);
        if (!r || r->value != op.value) continue;
      }
      const Op*& prev = highest[op.client];
      if (prev && op.offset.value < prev->offset.value) {
        Anomaly a;
        a.kind = "nonmonotonic-send";
        a.cause = permitted_reorder(*prev, op);
        a.expected = !a.cause.empty();
        a.tp = tp;
        a.offsets = {prev->offset.value, op.offset.value};
        a.records = {prev->value, op.value};
        a.ops = {prev->id, op.id};
        a.at_ns = op.complete_ns;
        a.explanation = op.client_name + " sent '" + prev->value + "' before '" + op.value + "' but they landed at " +
                        tp.str() + " offsets " + std::to_string(prev->offset.value) + " and " +
                        std::to_string(op.offset.value) + ".\n  " + describe_op(*prev) + "\n  " + describe_op(op) +
                        "\n" + events_between(h, tp, prev->invoke_ns - 1, op.complete_ns) +
                        (a.expected ? "Permitted: " + a.cause + "." : "Kafka promised send order: a violation.");
        out.add(std::move(a));
        continue;  // keep the highest as the reference
      }
      if (!prev || op.offset.value > prev->offset.value) prev = &op;
    }
  }
}

}  // namespace ksim::check
