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
// Compacted topics: every replica runs its own log cleaner (Kafka's LogCleaner
// is local to a broker; nothing replicates a cleaning), so the log a consumer
// fetched from may have been cleaned further than the final log it is judged
// against. A record of the final log in a gap is no skip when the cleaner of
// the replica the consumer read could have removed it by then: a later record
// of its key below the fetch's high watermark superseded it (the cleaner never
// passes the last stable offset, itself at most the high watermark), it belongs
// to an aborted transaction (the cleaner drops aborted data), or it is a
// tombstone older than delete.retention.ms.
//
// Group level: when a member starts a partition from the group's committed
// offset, that offset must not lie beyond what the group's current-generation
// owners consumed — otherwise records in between were never delivered to any
// live member (a zombie commit from an evicted member does exactly this).
// Rereads from the committed offset are at-least-once delivery, not anomalies.
// Consumer (KIP-848) groups (assign detail `consumer:...`): member epochs
// differ between members by design — a member reconciled at epoch 3 is live
// while another is at 4 — so every such member's polls count (a fenced one
// cannot commit: its epoch is refused). That holds for a consumer group's
// classic members too (KIP-848's online migration: their generation is their
// member epoch): a group is a consumer group from its first `consumer:`
// assignment or its conversion to consumer (a `group_converted` event) until
// a conversion back to classic.
#include <algorithm>
#include <map>

#include "engine/check/checkers.h"
#include "engine/check/fault_model.h"

namespace ksim::check {
namespace {

struct Position {
  int64_t next = -1;  // -1: unknown (fresh assignment)
};

// A compacted partition's records per key: the offsets of its final-log
// records (aborted ones aside) and of its acknowledged sends, ascending; when
// each acknowledged tombstone was sent (by offset), and per key the first
// send of a tombstone whose outcome the producer never learned. Built on
// first use (lookups only, never iterated into output).
struct KeyOffsets {
  std::map<std::string_view, std::vector<int64_t>> offsets;
  std::map<int64_t, int64_t> tombstone_sent_ns;
  std::map<std::string_view, int64_t> first_unacked_tombstone_ns;
};

class CompactionGaps {
 public:
  explicit CompactionGaps(const HistoryIndex& index) : index_(index) {}

  // Whether the log cleaner of the replica a consumer read at `at_ns` (with a
  // fetch high watermark `hw`, -1: unknown) may have removed `r` already.
  bool cleanable(const PartitionIndex& p, const LogRecord& r, int64_t at_ns, int64_t hw) {
    if (!p.compacted()) return false;
    if (r.aborted) return true;  // the cleaner removes aborted transactions' data
    if (r.key == kNoSym) return false;
    const History& h = index_.history();
    const KeyOffsets& k = of(p);
    const std::string_view key = h.str(r.key);
    if (r.value == kNoSym) {  // a tombstone: kept delete.retention.ms at least after it was written
      int64_t sent = -1;
      if (auto t = k.tombstone_sent_ns.find(r.offset); t != k.tombstone_sent_ns.end()) sent = t->second;
      else if (auto u = k.first_unacked_tombstone_ns.find(key); u != k.first_unacked_tombstone_ns.end()) sent = u->second;
      if (sent >= 0 && sent + p.final_log->delete_retention_ms * 1'000'000 <= at_ns) return true;
    }
    auto it = k.offsets.find(key);
    if (it == k.offsets.end()) return false;
    auto later = std::upper_bound(it->second.begin(), it->second.end(), static_cast<int64_t>(r.offset));
    return later != it->second.end() && (hw < 0 || *later < hw);
  }

 private:
  const KeyOffsets& of(const PartitionIndex& p) {
    auto [it, fresh] = built_.try_emplace(p.ordinal);
    if (!fresh) return it->second;
    KeyOffsets& k = it->second;
    const History& h = index_.history();
    for (const LogRecord& r : p.final_log->records)
      if (r.key != kNoSym && !r.aborted) k.offsets[h.str(r.key)].push_back(r.offset);
    for (uint64_t id : p.sends) {
      const OpRecord& rec = h.rec(id);
      const auto key = h.send_key(id);
      if (!key) continue;
      const bool acked = rec.outcome() == Outcome::ok && rec.offset >= 0;
      if (rec.value == 0) {
        if (acked) {
          k.tombstone_sent_ns[rec.offset] = rec.invoke_ns;
        } else {
          auto [t, first] = k.first_unacked_tombstone_ns.try_emplace(*key, rec.invoke_ns);
          if (!first) t->second = std::min(t->second, rec.invoke_ns);
        }
      }
      if (acked && rec.txn() != TxnState::aborted) k.offsets[*key].push_back(rec.offset);
    }
    for (auto& [key, offs] : k.offsets) std::sort(offs.begin(), offs.end());
    return k;
  }
  const HistoryIndex& index_;
  std::map<uint32_t, KeyOffsets> built_;
};

// The first readable record of the final log in [from, to), or nullptr. A
// read_committed consumer cannot read records of aborted transactions; on a
// compacted topic a record the cleaner may have removed by `at_ns` was not
// readable (see the header).
const LogRecord* readable_between(const PartitionIndex& p, int64_t from, int64_t to, bool read_committed,
                                  CompactionGaps& gaps, int64_t at_ns, int64_t hw) {
  if (!p.final_log) return nullptr;
  const auto& r = p.final_log->records;
  auto it = std::lower_bound(r.begin(), r.end(), from, [](const LogRecord& a, int64_t o) { return a.offset < o; });
  for (; it != r.end() && it->offset < to; ++it)
    if (!(read_committed && it->aborted) && !gaps.cleanable(p, *it, at_ns, hw)) return &*it;
  return nullptr;
}

// Maps below are keyed by Syms and partition ids: lookups only, never
// iterated into output.
struct GroupState {
  int32_t generation = -1;
  int64_t consumer_assign_ns = -1;  // the last KIP-848 assignment in the group
  std::map<uint32_t, std::pair<int64_t, uint64_t>> consumed;  // tp -> next offset, poll op that reached it
};

}  // namespace

void check_poll_order(const HistoryIndex& index, Verdict& out) {
  const History& h = index.history();
  std::map<int32_t, std::map<uint32_t, Position>> positions;  // client -> partition -> position
  std::map<int32_t, int32_t> client_generation;
  std::map<int32_t, bool> consumer_protocol;  // client -> its last assignment was a KIP-848 one
  std::map<Sym, GroupState> groups;
  CompactionGaps gaps(index);
  const Sym committed = index.sym("committed");
  // group id -> its protocol conversions (at, to consumer?), in time order.
  std::map<std::string, std::vector<std::pair<int64_t, bool>>> conversions;
  for (const ClusterEvent& e : h.events())
    if (e.type == EventType::group_converted) conversions[e.what].emplace_back(e.at_ns, e.member == "consumer");
  // Whether the group of `op` is a consumer group at its time (see the header).
  auto consumer_group_at = [&](const OpView& op, const GroupState& g) {
    bool consumer = g.consumer_assign_ns >= 0;
    auto it = conversions.find(std::string(op.group_id()));
    if (it == conversions.end()) return consumer;
    for (const auto& [at, to_consumer] : it->second) {
      if (at > op.invoke_ns()) break;
      if (to_consumer) consumer = true;
      else if (at > g.consumer_assign_ns) consumer = false;
    }
    return consumer;
  };

  // Whether a partition's committed offsets were rewritten during the run (an
  // unclean election, power failures): asked once per partition, not per anomaly.
  std::map<TopicPartition, std::string> rewritten;
  auto rewrite_cause = [&](const TopicPartition& tp) -> const std::string& {
    auto it = rewritten.find(tp);
    if (it == rewritten.end()) it = rewritten.emplace(tp, permitted_committed_loss(index, tp, 0)).first;
    return it->second;
  };
  auto report = [&](const char* kind, const TopicPartition& tp, const OpView& op, int64_t expected, int64_t got,
                    std::string why) {
    Anomaly a;
    a.kind = kind;
    a.tp = tp;
    a.offsets = {expected, got};
    a.ops.push_back(op.id());
    a.at_ns = op.invoke_ns();
    // A partition whose committed offsets were rewritten during the run moves
    // positions Kafka never promised, and the final log it is judged against
    // is not the log the consumer read.
    a.cause = rewrite_cause(tp);
    a.expected = !a.cause.empty();
    a.explanation = std::move(why) + "\n" + events_between(h, tp, op.invoke_ns() - 10'000'000'000, op.invoke_ns()) +
                    (a.expected ? "Permitted: " + a.cause + " rewrote the partition's committed offsets." : "");
    out.add(std::move(a));
  };

  for (uint64_t id = 0; id < h.size(); ++id) {
    const OpRecord& rec = h.rec(id);
    if (rec.type() == OpType::send || rec.type() == OpType::commit) continue;
    const OpView op = h.op(id);
    const int32_t client = op.client();
    const Sym group = op.group_sym();  // 0: "" (no group)
    switch (op.type()) {
      case OpType::assign: {
        client_generation[client] = op.generation();
        consumer_protocol[client] = op.detail().starts_with("consumer:");
        if (group != 0) {
          GroupState& g = groups[group];
          g.generation = std::max(g.generation, op.generation());
          if (consumer_protocol[client]) g.consumer_assign_ns = op.invoke_ns();
        }
        // Partitions kept across a (cooperative) rebalance keep their position;
        // new ones start unknown until a seek (committed / reset) sets it.
        for (uint64_t i = rec.items.begin; i < rec.items.end; ++i) positions[client].try_emplace(h.offset_entry(i).tp);
        break;
      }
      case OpType::revoke:
        for (uint64_t i = rec.items.begin; i < rec.items.end; ++i) positions[client].erase(h.offset_entry(i).tp);
        break;
      case OpType::seek: {
        for (uint64_t i = rec.items.begin; i < rec.items.end; ++i) {
          const OffsetRecord& e = h.offset_entry(i);
          positions[client][e.tp].next = e.offset;
          if (op.detail_sym() != committed || group == 0) continue;
          GroupState& g = groups[group];
          auto it = g.consumed.find(e.tp);
          if (it == g.consumed.end() || e.offset <= it->second.first) continue;
          const TopicPartition& tp = h.tp(e.tp);
          const PartitionIndex& p = index.partition(e.tp);
          const LogRecord* skipped = readable_between(p, it->second.first, e.offset,
                                                      h.actor_of(it->second.second).read_committed, gaps,
                                                      op.invoke_ns(), -1);
          if (!skipped) continue;
          report("poll-skip", tp, op, it->second.first, e.offset,
                 std::string(op.client_name()) + " starts " + tp.str() + " at the group '" +
                     std::string(op.group_id()) + "' committed offset " + std::to_string(e.offset) +
                     ", but the group's members had consumed" + " only up to offset " +
                     std::to_string(it->second.first) + " (" + describe_op(h.op(it->second.second)) + "): offsets " +
                     std::to_string(it->second.first) + ".." + std::to_string(e.offset - 1) + " (e.g. '" +
                     log_string(h, skipped->value) + "') were never delivered to a live member of the group. (" + describe_op(op) +
                     ")");
        }
        break;
      }
      case OpType::poll: {
        auto& mine = positions[client];
        const bool current = group == 0 || consumer_protocol[client] ||
                             client_generation[client] >= groups[group].generation ||
                             consumer_group_at(op, groups[group]);
        const bool read_committed = op.read_committed();
        GroupState* g = current && group != 0 ? &groups[group] : nullptr;
        for (uint64_t i = rec.items.begin; i < rec.items.end; ++i) {
          const PolledRecord& r = h.polled(i);
          Position& pos = mine[r.tp];
          const int64_t off = r.offset;
          if (pos.next >= 0 && off < pos.next) {
            const TopicPartition& tp = h.tp(r.tp);
            report("nonmonotonic-poll", tp, op, pos.next, off,
                   std::string(op.client_name()) + " read " + tp.str() + " offset " + std::to_string(off) +
                       " although its position was " + std::to_string(pos.next) +
                       " and no seek, reset or rebalance moved it back (" + describe_op(op) + ").");
          } else if (pos.next >= 0 && off > pos.next) {
            if (const LogRecord* skipped = readable_between(index.partition(r.tp), pos.next, off, read_committed,
                                                            gaps, op.invoke_ns(), h.high_watermark(i).value)) {
              const TopicPartition& tp = h.tp(r.tp);
              report("poll-skip", tp, op, pos.next, off,
                     std::string(op.client_name()) + " jumped in " + tp.str() + " from position " +
                         std::to_string(pos.next) + " to offset " + std::to_string(off) +
                         " with no seek or reset; offset " + std::to_string(skipped->offset) + " ('" +
                         log_string(h, skipped->value) + "') was readable (" + describe_op(op) + ").");
            }
          }
          pos.next = off + 1;
          if (g) {
            auto& c = g->consumed[r.tp];
            if (off + 1 > c.first) c = {off + 1, id};
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
