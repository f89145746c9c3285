#include "engine/check/history_index.h"

#include <algorithm>
#include <cstdio>

namespace ksim::check {

const LogRecord* PartitionIndex::at(int64_t offset) const {
  if (!final_log) return nullptr;
  const auto& r = final_log->records;
  auto it = std::lower_bound(r.begin(), r.end(), offset,
                             [](const LogRecord& a, int64_t o) { return a.offset < o; });
  return it != r.end() && it->offset == offset ? &*it : nullptr;
}

HistoryIndex::HistoryIndex(const CheckInput& in) : in_(in) {
  const History& h = *in.history;
  std::map<TopicPartition, size_t> sends_per_partition;
  for (const Op& op : h.ops())
    if (op.type == OpType::send) ++sends_per_partition[op.tp];
  for (const auto& [tp, n] : sends_per_partition) {
    parts_[tp].sends.reserve(n);
    parts_[tp].sends_by_value.reserve(n);
  }
  for (const Op& op : h.ops()) {
    if (op.type == OpType::send) {
      PartitionIndex& p = parts_[op.tp];
      p.sends.push_back(op.id);
      add_to(p.sends_by_value, op.value, op.id);
    } else if (op.type == OpType::poll) {
      for (const PolledRecord& r : op.records)
        parts_[r.tp].reads.push_back(Read{op.id, op.client, op.invoke_ns, &r});
    }
  }
  for (const auto& [tp, log] : in.final_logs) {
    PartitionIndex& p = parts_[tp];
    p.final_log = &log;
    p.log_offsets_by_value.reserve(log.records.size());
    // Records of aborted transactions are in the log but not in the partition's
    // content: no reader may return them, so they are no copy of anything.
    for (const LogRecord& r : log.records)
      if (!r.aborted) add_to(p.log_offsets_by_value, r.value, r.offset);
  }
  for (const auto& [tp, _] : parts_) order_.push_back(tp);
}

std::string fmt_time(int64_t ns) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "t=%.3fs", static_cast<double>(ns) / 1e9);
  return buf;
}

std::string events_between(const History& h, const TopicPartition& tp, int64_t from_ns, int64_t to_ns,
                           size_t limit, bool earliest) {
  std::vector<std::string> lines;
  for (const ClusterEvent& e : h.events()) {
    if (e.at_ns <= from_ns || e.at_ns > to_ns) continue;
    std::string line = fmt_time(e.at_ns) + ": ";
    switch (e.type) {
      case EventType::election:
      case EventType::leader_change:
        if (!(e.tp == tp)) continue;
        if (e.node < 0)
          line += tp.str() + " has no leader (epoch " + std::to_string(e.leader_epoch) + ")";
        else
          line += "broker " + std::to_string(e.node) + " " + (e.unclean ? "elected UNCLEANLY" : "elected") +
                  " leader of " + tp.str() + " (epoch " + std::to_string(e.leader_epoch) + ")";
        break;
      case EventType::fault:
        line += e.node >= 0 ? "node " + std::to_string(e.node) + ": " + e.what : e.what;
        break;
      case EventType::heal:
        line += e.node >= 0 ? "node " + std::to_string(e.node) + ": " + e.what : e.what;
        break;
      case EventType::note:
        line += e.what;
        break;
      case EventType::isr_change: {
        if (!(e.tp == tp)) continue;
        line += tp.str() + " ISR now {";
        for (size_t i = 0; i < e.isr.size(); ++i) line += (i ? "," : "") + std::to_string(e.isr[i]);
        line += "}";
        break;
      }
    }
    lines.push_back(std::move(line));
  }
  if (lines.size() > limit) {
    if (earliest)
      lines.resize(limit);
    else
      lines.erase(lines.begin(), lines.end() - static_cast<ptrdiff_t>(limit));
  }
  std::string out;
  for (const auto& l : lines) out += "  " + l + "\n";
  return out;
}

std::string describe_op(const Op& op) {
  std::string s;
  switch (op.type) {
    case OpType::send: {
      s = "send #" + std::to_string(op.id) + " of '" + op.value + "' by " + op.client_name + " (acks=" +
          (op.acks == -1 ? std::string("all") : std::to_string(op.acks)) + (op.idempotent ? ", idempotent" : "") +
          ") to " + op.tp.str() + " invoked " + fmt_time(op.invoke_ns);
      if (op.outcome == Outcome::ok) {
        s += ", acked " + fmt_time(op.complete_ns);
        if (op.offset.value >= 0) s += " at offset " + std::to_string(op.offset.value);
        if (op.leader >= 0) s += " by leader " + std::to_string(op.leader);
      } else if (op.outcome == Outcome::fail) {
        s += ", failed " + fmt_time(op.complete_ns);
      } else if (op.outcome == Outcome::info) {
        s += ", outcome unknown at " + fmt_time(op.complete_ns);
      } else {
        s += ", never completed";
      }
      break;
    }
    case OpType::poll:
      s = "poll #" + std::to_string(op.id) + " by " + op.client_name + " at " + fmt_time(op.invoke_ns) + " (" +
          std::to_string(op.records.size()) + " records)";
      break;
    case OpType::commit:
      s = op.detail + " commit #" + std::to_string(op.id) + " by " + op.client_name + " (generation " +
          std::to_string(op.generation) + ") at " + fmt_time(op.invoke_ns);
      break;
    case OpType::seek:
      s = "seek #" + std::to_string(op.id) + " by " + op.client_name + " (" + op.detail + ") at " +
          fmt_time(op.invoke_ns);
      break;
    case OpType::assign:
      s = "assignment #" + std::to_string(op.id) + " to " + op.client_name + " (generation " +
          std::to_string(op.generation) + ") at " + fmt_time(op.invoke_ns);
      break;
    case OpType::revoke:
      s = "revocation #" + std::to_string(op.id) + " from " + op.client_name + " (" + op.detail + ") at " +
          fmt_time(op.invoke_ns);
      break;
  }
  return s;
}

}  // namespace ksim::check
