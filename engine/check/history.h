// History: every client operation of a run, Jepsen-style, plus the cluster
// events (faults, elections) on the same virtual timeline. The checkers
// (engine/check/*) read it after (or during) a run.
//
// An operation is recorded twice: at invocation (`invoke`, outcome pending)
// and at completion (`complete`, outcome ok / fail / info). Outcomes follow
// Jepsen: `ok` it happened, `fail` it definitely did not (e.g. a non-retriable
// error before anything was written, or NOT_ENOUGH_REPLICAS before append),
// `info` unknown (a timeout, a crashed client: it may or may not have
// happened). A send still pending when the run ends counts as `info`.
//
// Cost: one Op per send (a few small strings), one per poll with a vector of
// the records it returned. Appends are O(1); ids are dense indexes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/common/errors.h"
#include "engine/common/types.h"

namespace ksim::check {

enum class OpType : uint8_t {
  send,       // a producer's send: tp (after partitioning), key, value; offset when acked
  poll,       // a consumer's poll: the records returned
  commit,     // a consumer's commit (sync, async or auto): offsets
  seek,       // seek / seekToBeginning / seekToEnd / offset reset: tp -> new position
  assign,     // partitions assigned (by assign() or a rebalance), with the generation
  revoke,     // partitions revoked or lost (onPartitionsRevoked / onPartitionsLost)
};
enum class Outcome : uint8_t { pending, ok, fail, info };

struct PolledRecord {
  TopicPartition tp;
  Offset offset;
  std::string key, value;
  LeaderEpoch leader_epoch = kNoEpoch;
  Offset high_watermark = kNoOffset;  // the HW in the fetch response that carried it
};

struct OffsetEntry {
  TopicPartition tp;
  Offset offset;
};

struct Op {
  uint64_t id = 0;            // index in History::ops()
  int32_t client = -1;        // client node's id (kafka-style numbering, as Cluster names nodes)
  std::string client_name;    // "producer-1", "consumer-2", ...
  OpType type = OpType::send;
  int64_t invoke_ns = 0;
  int64_t complete_ns = -1;
  Outcome outcome = Outcome::pending;
  Errc error = Errc::NONE;

  // send
  TopicPartition tp;
  std::optional<std::string> key;
  std::string value;
  Offset offset = kNoOffset;  // acked offset
  int16_t acks = -1;
  bool idempotent = false;
  bool transactional = false;
  int32_t max_in_flight = 0;  // the producer's max.in.flight.requests.per.connection (0: unknown)
  int32_t leader = -1;        // broker that acked
  std::string txn_state;      // transactional sends: "committed" / "aborted" once known

  // poll (records), commit / seek / assign / revoke (offsets or partitions)
  std::vector<PolledRecord> records;
  std::vector<OffsetEntry> offsets;     // commit: committed; seek: new positions; assign/revoke: tp, offset unused
  bool read_committed = false;          // poll: the consumer's isolation.level
  std::string group_id;
  int32_t generation = -1;
  std::string member_id;
  std::string detail;                   // "auto" / "sync" / "async" for commits; reason for seeks
};

enum class EventType : uint8_t { fault, heal, election, leader_change, isr_change, note };
struct ClusterEvent {
  int64_t at_ns = 0;
  EventType type = EventType::note;
  int32_t node = -1;          // fault target / new leader
  TopicPartition tp;          // elections
  int32_t leader_epoch = -1;
  bool unclean = false;
  std::vector<int32_t> isr, replicas;  // elections and ISR changes: the partition's state after
  std::string what;           // "crash", "power_fail", "partition [[1],[2,3]]", ...
};

class History {
 public:
  // Records the invocation; returns the op id to complete later.
  uint64_t invoke(Op op, int64_t now_ns) {
    op.id = ops_.size();
    op.invoke_ns = now_ns;
    op.outcome = Outcome::pending;
    ops_.push_back(std::move(op));
    return ops_.back().id;
  }
  Op& op(uint64_t id) { return ops_.at(id); }
  const Op& op(uint64_t id) const { return ops_.at(id); }
  // Completes an op (ok / fail / info). Completing twice keeps the first outcome.
  void complete(uint64_t id, Outcome outcome, int64_t now_ns, Errc error = Errc::NONE) {
    Op& o = ops_.at(id);
    if (o.outcome != Outcome::pending) return;
    o.outcome = outcome;
    o.complete_ns = now_ns;
    o.error = error;
  }
  // Records an op that completed at once (poll, seek, assign, ...).
  uint64_t record(Op op, int64_t now_ns) {
    const uint64_t id = invoke(std::move(op), now_ns);
    complete(id, Outcome::ok, now_ns);
    return id;
  }
  void event(ClusterEvent e) { events_.push_back(std::move(e)); }

  const std::vector<Op>& ops() const { return ops_; }
  const std::vector<ClusterEvent>& events() const { return events_; }
  void clear() {
    ops_.clear();
    events_.clear();
  }

 private:
  std::vector<Op> ops_;
  std::vector<ClusterEvent> events_;
};

}  // namespace ksim::check
