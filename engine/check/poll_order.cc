// poll-skip / nonmonotonic-poll: consumer positions must be explainable.
//
// Per consumer and partition, the position after a poll is the last returned
// offset + 1. The next record returned must be exactly at the position, unless
// something explains a jump: a seek or offset reset (OpType::seek), an
// assignment (a fresh position comes from the committed offset: a seek op with
// detail "committed"), or offsets between that hold no readable record in the
// final log (control records, compaction, truncation). A record below the
// position is a reread (nonmonotonic-poll); one beyond readable records is a
// skip (poll-skip).
//
// Group level: when a member starts a partition from the group's committed
// offset, that offset must not lie beyond what the group's current-generation
// owners consumed — otherwise records in between were never delivered to any
// live member (a zombie commit from an evicted member does exactly this).
// Rereads from the committed offset are at-least-once delivery, not anomalies.
#include <map>

#include "engine/check/checkers.h"
#include "engine/check/fault_model.h"

namespace ksim::check {
namespace {

struct Position {
  int64_t next = -1;  // -1: unknown (fresh assignment)
};

// The first readable record of the final log in [from, to), or nullptr. A
// read_committed consumer cannot read records of aborted transactions.
const LogRecord* readable_between(const PartitionIndex& p, int64_t from, int64_t to, bool read_committed) {
  if (!p.final_log) return nullptr;
  const auto& r = p.final_log->records;
  auto it = std::lower_bound(r.begin(), r.end(), from, [](const LogRecord& a, int64_t o) { return a.offset < o; });
  for (; it != r.end() && it->offset < to; ++it)
    if (!(read_committed && it->aborted)) return &*it;
  return nullptr;
}

struct GroupState {
  int32_t generation = -1;
  std::map<TopicPartition, std::pair<int64_t, uint64_t>> consumed;  // next offset, poll op that reached it
};

}  // namespace

void check_poll_order(const HistoryIndex& index, Verdict& out) {
  const History& h = index.history();
  std::map<int32_t, std::map<TopicPartition, Position>> positions;  // client -> partition -> position
  std::map<int32_t, int32_t> client_generation;
  std::map<std::string, GroupState> groups;

  // Whether a partition's committed offsets were rewritten during the run (an
  // unclean election, power failures): asked once per partition, not per anomaly.
  std::map<TopicPartition, std::string> rewritten;
  auto rewrite_cause = [&](const TopicPartition& tp) -> const std::string& {
    auto it = rewritten.find(tp);
    if (it == rewritten.end()) it = rewritten.emplace(tp, permitted_committed_loss(index, tp, 0)).first;
    return it->second;
  };
  auto report = [&](const char* kind, const TopicPartition& tp, const Op& op, int64_t expected, int64_t got,
                    std::string why) {
    Anomaly a;
    a.kind = kind;
    a.tp = tp;
    a.offsets = {expected, got};
    a.ops.push_back(op.id);
    a.at_ns = op.invoke_ns;
    // A partition whose committed offsets were rewritten during the run moves
    // positions Kafka never promised, and the final log it is judged against
    // is not the log the consumer read.
    a.cause = rewrite_cause(tp);
    a.expected = !a.cause.empty();
    a.explanation = std::move(why) + "\n" + events_between(h, tp, op.invoke_ns - 10'000'000'000, op.invoke_ns) +
                    (a.expected ? "Permitted: " + a.cause + " rewrote the partition's committed offsets." : "");
    out.add(std::move(a));
  };

  for (const Op& op : h.ops()) {
    switch (op.type) {
      case OpType::assign: {
        client_generation[op.client] = op.generation;
        if (!op.group_id.empty()) {
          GroupState& g = groups[op.group_id];
          g.generation = std::max(g.generation, op.generation);
        }
        // Partitions kept across a (cooperative) rebalance keep their position;
        // new ones start unknown until a seek (committed / reset) sets it.
        for (const OffsetEntry& e : op.offsets) positions[op.client].try_emplace(e.tp);
        break;
      }
      case OpType::revoke:
        for (const OffsetEntry& e : op.offsets) positions[op.client].erase(e.tp);
        break;
      case OpType::seek: {
        for (const OffsetEntry& e : op.offsets) {
          positions[op.client][e.tp].next = e.offset.value;
          if (op.detail != "committed" || op.group_id.empty()) continue;
          GroupState& g = groups[op.group_id];
          auto it = g.consumed.find(e.tp);
          if (it == g.consumed.end() || e.offset.value <= it->second.first) continue;
          const PartitionIndex& p = index.partition(e.tp);
          const LogRecord* skipped =
              readable_between(p, it->second.first, e.offset.value, h.op(it->second.second).read_committed);
          if (!skipped) continue;
          report("poll-skip", e.tp, op, it->second.first, e.offset.value,
                 op.client_name + " starts " + e.tp.str() + " at the group '" + op.group_id +
                     "' committed offset " + std::to_string(e.offset.value) + ", but the group's members had consumed" +
                     " only up to offset " + std::to_string(it->second.first) + " (" +
                     describe_op(h.op(it->second.second)) + "): offsets " + std::to_string(it->second.first) + ".." +
                     std::to_string(e.offset.value - 1) + " (e.g. '" + skipped->value +
                     "') were never delivered to a live member of the group. (" + describe_op(op) + ")");
        }
        break;
      }
      case OpType::poll: {
        auto& mine = positions[op.client];
        const bool current = op.group_id.empty() || client_generation[op.client] >= groups[op.group_id].generation;
        for (const PolledRecord& r : op.records) {
          Position& pos = mine[r.tp];
          const int64_t off = r.offset.value;
          if (pos.next >= 0 && off < pos.next) {
            report("nonmonotonic-poll", r.tp, op, pos.next, off,
                   op.client_name + " read " + r.tp.str() + " offset " + std::to_string(off) +
                       " although its position was " + std::to_string(pos.next) +
                       " and no seek, reset or rebalance moved it back (" + describe_op(op) + ").");
          } else if (pos.next >= 0 && off > pos.next) {
            if (const LogRecord* skipped = readable_between(index.partition(r.tp), pos.next, off, op.read_committed))
              report("poll-skip", r.tp, op, pos.next, off,
                     op.client_name + " jumped in " + r.tp.str() + " from position " + std::to_string(pos.next) +
                         " to offset " + std::to_string(off) + " with no seek or reset; offset " +
                         std::to_string(skipped->offset) + " ('" + skipped->value + "') was readable (" +
                         describe_op(op) + ").");
          }
          pos.next = off + 1;
          if (current && !op.group_id.empty()) {
            auto& c = groups[op.group_id].consumed[r.tp];
            if (off + 1 > c.first) c = {off + 1, op.id};
          }
        }
        break;
      }
      default:
        break;
    }
  }
}

}  // namespace ksim::check
