// A tiny language for writing histories by hand, so each checker test reads
// like the minimal story that must (or must not) trip it.
#pragma once

#include <string>
#include <vector>

#include "engine/check/checkers.h"

namespace ksim::check::testing {

inline int64_t ms(int64_t v) { return v * 1'000'000; }

struct Story {
  History h;
  CheckInput in;
  TopicPartition tp{"t", 0};
  // Client settings of the ops recorded from now on (the History keeps them per client).
  bool transactional = false;   // sends
  bool read_committed = false;  // seeks and polls

  Story() {
    in.history = &h;
    in.config.min_insync_replicas = 2;
  }
  // A moved story's input reads its own history.
  Story(Story&& o) noexcept : h(std::move(o.h)), in(std::move(o.in)), tp(std::move(o.tp)),
                              transactional(o.transactional), read_committed(o.read_committed) {
    in.history = &h;
  }

  // An acked (or failed / unknown) send by `client`.
  uint64_t send(int32_t client, const std::string& value, int64_t offset, int64_t at_ms, Outcome outcome = Outcome::ok,
                int16_t acks = -1, bool idempotent = true) {
    const std::string name = "producer-" + std::to_string(client);
    OpSpec op;
    op.type = OpType::send;
    op.client = client;
    op.client_name = name;
    op.tp = tp;
    op.value = value;
    op.acks = acks;
    op.idempotent = idempotent;
    op.max_in_flight = 5;
    op.transactional = transactional;
    const uint64_t id = h.invoke(op, ms(at_ms));
    h.set_ack(id, Offset{outcome == Outcome::ok ? offset : -1}, 1);
    h.complete(id, outcome, ms(at_ms + 2));
    return id;
  }
  // The final log: values at offsets 0, 1, 2, ...
  void final_log(const std::vector<std::string>& values, int64_t first_offset = 0) {
    FinalLog& f = in.final_logs[tp];
    f.source_broker = 1;
    f.replicas = {1, 2, 3};
    f.records.clear();
    int64_t o = first_offset;
    for (const auto& v : values) f.records.push_back(LogRecord{o++, kNoSym, h.intern(v)});
    f.high_watermark = o;
  }
  int32_t poll_epoch = -1;  // the leader epoch polled records were written in (-1: unknown)
  // A poll returning (offset, value) pairs, with the fetch's high watermark.
  uint64_t poll(int32_t client, const std::vector<std::pair<int64_t, std::string>>& records, int64_t at_ms,
                int64_t hw = -1, const std::string& group = "") {
    const std::string name = "consumer-" + std::to_string(client);
    OpSpec op;
    op.type = OpType::poll;
    op.client = client;
    op.client_name = name;
    op.group_id = group;
    op.read_committed = read_committed;
    for (const auto& [o, v] : records) {
      PolledSpec r;
      r.tp = tp;
      r.offset = Offset{o};
      r.value = v;
      r.high_watermark = Offset{hw};
      r.leader_epoch = LeaderEpoch{poll_epoch};
      op.records.push_back(r);
    }
    return h.record(op, ms(at_ms));
  }
  uint64_t seek(int32_t client, int64_t offset, int64_t at_ms, const std::string& why = "seek",
                const std::string& group = "") {
    const std::string name = "consumer-" + std::to_string(client);
    OpSpec op;
    op.type = OpType::seek;
    op.client = client;
    op.client_name = name;
    op.detail = why;
    op.group_id = group;
    op.read_committed = read_committed;
    op.offsets.push_back(OffsetEntry{tp, Offset{offset}});
    return h.record(op, ms(at_ms));
  }
  // An assignment of the story's partition (none when `partitions` is false) to member `member`.
  uint64_t assign(int32_t client, const std::string& group, int32_t generation, int64_t at_ms,
                  const std::string& member = "", bool partitions = true, const std::string& instance = "") {
    const std::string name = "consumer-" + std::to_string(client);
    OpSpec op;
    op.type = OpType::assign;
    op.client = client;
    op.client_name = name;
    op.group_id = group;
    op.generation = generation;
    op.member_id = member;
    op.group_instance_id = instance;
    if (partitions) op.offsets.push_back(OffsetEntry{tp, Offset{-1}});
    return h.record(op, ms(at_ms));
  }
  uint64_t revoke(int32_t client, const std::string& group, int64_t at_ms) {
    const std::string name = "consumer-" + std::to_string(client);
    OpSpec op;
    op.type = OpType::revoke;
    op.client = client;
    op.client_name = name;
    op.group_id = group;
    op.offsets.push_back(OffsetEntry{tp, Offset{-1}});
    return h.record(op, ms(at_ms));
  }
  void event(EventType type, int32_t node, const std::string& what, int64_t at_ms, bool unclean = false,
             std::vector<int32_t> isr = {}, int32_t leader_epoch = -1) {
    ClusterEvent e;
    e.leader_epoch = leader_epoch;
    e.at_ns = ms(at_ms);
    e.type = type;
    e.node = node;
    e.tp = tp;
    e.unclean = unclean;
    e.isr = std::move(isr);
    e.what = what;
    h.event(e);
  }

  Verdict check() const { return check_all(in); }
  // The kinds found, in verdict order, e.g. {"lost-write"}.
  std::vector<std::string> kinds() const {
    std::vector<std::string> out;
    const Verdict v = check();
    for (const Anomaly& a : v.anomalies()) out.push_back(a.kind);
    return out;
  }
};

}  // namespace ksim::check::testing
