// Transactions (the interfaces are fixed now; the transactions issue fills
// the history's txn_state):
//   aborted-read: a read_committed consumer returned a record whose send
//                 belongs to an aborted transaction;
//   exactly-once: a send of a committed transaction is in the final log zero
//                 times or more than once.
#include <map>
#include <set>

#include "engine/check/checkers.h"
#include "engine/check/fault_model.h"

namespace ksim::check {

void check_transactions(const HistoryIndex& index, Verdict& out) {
  const History& h = index.history();
  for (const PartitionIndex& p : index.partitions()) {
    const TopicPartition& tp = p.tp;
    for (const Read& rd : p.reads) {
      if (!h.actor_of(rd.op).read_committed) continue;
      bool any = false, aborted = true;
      uint64_t first = 0;
      index.sends(p, rd.record->value, [&](uint64_t id) {
        if (!any) first = id;
        any = true;
        aborted = aborted && h.rec(id).txn() == TxnState::aborted;
        return aborted;
      });
      if (!any || !aborted) continue;
      Anomaly a;
      a.kind = "aborted-read";
      a.tp = tp;
      a.offsets = {rd.record->offset};
      a.records = {std::string(h.str(rd.record->value))};
      a.ops = {rd.op, first};
      a.at_ns = rd.at_ns;
      a.explanation = describe_op(h.op(rd.op)) + " (read_committed) returned '" + a.records[0] +
                      "' from an aborted transaction: " + describe_op(h.op(first)) + ".";
      out.add(std::move(a));
    }
    if (!p.final_log) continue;
    for (uint64_t id : p.sends) {
      const OpRecord& rec = h.rec(id);
      if (rec.txn() != TxnState::committed || !h.actor(rec.actor).transactional) continue;
      const OpView op = h.op(id);
      // Copies in aborted transactions do not count: readers never see them.
      std::vector<int64_t> committed;
      index.log_offsets(p, rec.value, [&](int64_t o) {
        if (const LogRecord* r = p.at(o); r && !r->aborted) committed.push_back(o);
        return true;
      });
      const size_t copies = committed.size();
      if (copies == 1) continue;
      if (copies == 0 && index.superseded(p, id)) continue;  // compacted away: a later value of its key
      Anomaly a;
      a.kind = "exactly-once";
      a.tp = tp;
      a.offsets = committed;
      a.records = {std::string(op.value())};
      a.ops = {op.id()};
      a.at_ns = op.complete_ns();
      // Lost, where Kafka's contract permits losing it (an unclean election, power failures).
      if (copies == 0) a.cause = permitted_loss(index, op);
      a.expected = !a.cause.empty();
      a.explanation = describe_op(op) + " belongs to a committed transaction but is committed in the final log " +
                      std::to_string(copies) + " times." + (a.expected ? " Permitted: " + a.cause + "." : "");
      out.add(std::move(a));
    }
  }
}

}  // namespace ksim::check

// ---- pipelines: exactly-once from input to output -----------------------------------------------
//
// For a consume-transform-produce pipeline every input record the group has
// committed past (offset below the final committed offset) must have exactly
// one committed output record (not aborted, below the last stable offset):
// zero means its output was lost (or an abort was not followed by a rewind),
// two means it was processed twice into committed transactions — exactly
// what transactions promise never happens.

namespace ksim::check {

void check_pipelines(const HistoryIndex& index, Verdict& out) {
  const CheckInput& in = index.input();
  const History& h = index.history();
  for (const PipelineCheck& pc : in.pipelines) {
    std::map<std::string, std::vector<int64_t>> outputs;  // output value -> committed offsets
    std::map<std::string, TopicPartition> output_tp;
    std::set<std::string> undecided;  // outputs of transactions still open: unknown yet
    bool judgeable = true;
    for (const auto& [tp, log] : in.final_logs) {
      if (tp.topic != pc.output_topic) continue;
      // An unreadable output partition, or one retention trimmed, cannot prove a loss.
      if (log.source_broker < 0 || log.log_start_offset > 0) judgeable = false;
      for (const LogRecord& r : log.records) {
        if (r.value == kNoSym) continue;  // a tombstone is no pipeline output
        const std::string value(h.str(r.value));
        if (r.undecided) undecided.insert(value);
        if (r.aborted || r.undecided) continue;
        outputs[value].push_back(r.offset);
        output_tp.emplace(value, tp);
      }
    }
    if (!judgeable) continue;
    // Inputs below the committed offsets, by value (a value sent twice needs two outputs).
    std::map<std::string, std::pair<TopicPartition, std::vector<int64_t>>> inputs;
    for (const auto& [tp, committed] : pc.committed) {
      auto log = in.final_logs.find(tp);
      if (log == in.final_logs.end() || log->second.source_broker < 0) continue;
      for (const LogRecord& r : log->second.records) {
        if (r.offset >= committed) break;
        if (r.aborted || r.undecided || r.value == kNoSym) continue;
        auto& e = inputs.try_emplace(std::string(h.str(r.value)), tp, std::vector<int64_t>{}).first->second;
        e.second.push_back(r.offset);
      }
    }
    for (const auto& [value, where] : inputs) {
      const auto& [tp, input_offsets] = where;
      const std::string want = pc.output_prefix + value;
      if (undecided.count(want)) continue;  // its transaction is still open: not judged
      auto it = outputs.find(want);
      const size_t copies = it == outputs.end() ? 0 : it->second.size();
      if (copies == input_offsets.size()) continue;
      Anomaly a;
      a.kind = "exactly-once";
      // Without transactions a repeat is the documented at-least-once behaviour; a loss never is.
      a.expected = !pc.transactional && copies > input_offsets.size();
      if (a.expected) a.cause = "the pipeline is not transactional (at-least-once)";
      a.tp = copies ? output_tp.at(want) : tp;
      if (copies) a.offsets = it->second;
      a.records = {value, want};
      a.explanation = "pipeline '" + pc.name + "': input " + tp.str() + " offset " +
                      std::to_string(input_offsets.front()) + " ('" + value + "') is below the group '" + pc.group_id +
                      "' committed offset " + std::to_string(pc.committed.at(tp)) + ", but its output '" + want +
                      "' is in " + pc.output_topic +
                      (copies ? " " + std::to_string(copies) + " time(s) for " + std::to_string(input_offsets.size()) +
                                    " input cop" + (input_offsets.size() == 1 ? "y" : "ies") +
                                    " (processed into several committed transactions)."
                              : " zero times (consumed and committed, never produced).");
      out.add(std::move(a));
    }
  }
}

}  // namespace ksim::check
