// The trace: the ordered record of everything that decided a run.
//
// Every scheduling decision that matters (message send / deliver / drop / hold,
// timer fire, disk operation, fault, node lifecycle) and every event the engine
// emits is folded into a running 64-bit hash. Two runs with the same seed and
// script must produce the same hash; `trace_hash()` is that promise made
// checkable.
//
// Records are binary (a kind id and three 64-bit arguments): nothing is
// formatted on the hot path. Text is produced only when a human asks
// (World::describe). Strings an event needs (a fault description, a probe name)
// are interned once and referenced by id.
//
// Memory is bounded: the last `keep_events` records (default 200,000: 8 MB)
// are kept in a ring buffer (for "the events leading to it" and for export);
// the hash covers all of them. For determinism debugging, `record_hashes`
// keeps the running hash after every event so two runs can be compared event
// by event (first_divergence).
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sim/time.h"

namespace sim {

struct TraceEvent {
  Instant time;
  uint64_t index = 0;  // position in the run's event sequence (0-based)
  uint64_t a = 0, b = 0, c = 0;
  uint32_t node = 0;
  uint16_t kind = 0;
};

// Built-in event kinds; their ids are fixed (registered first, in this order).
namespace ev {
enum : uint16_t {
  node_start, node_crash, node_power_fail, node_pause, node_resume,
  fiber_spawn, fiber_exit, timer_fire,
  msg_send, msg_deliver, msg_drop, msg_hold, msg_release,
  conn_open, conn_break, rpc_timeout,
  disk_write, disk_fsync, disk_truncate, disk_read, disk_error, disk_lost,
  fault, probe, note,
  builtin_count
};
}  // namespace ev

struct TraceKindInfo {
  std::string name;
  std::array<std::string, 3> arg_names;  // empty name: argument unused
  uint8_t string_args = 0;               // bit i set: argument i is an interned string id
};

class Trace {
 public:
  Trace();

  // Registers (or finds) an event kind. Engine layers call this once at start-up.
  uint16_t kind(std::string_view name, std::array<std::string, 3> arg_names = {},
                uint8_t string_args = 0);
  const TraceKindInfo& kind_info(uint16_t id) const { return kinds_.at(id); }
  std::optional<uint16_t> find_kind(std::string_view name) const;

  uint64_t intern(std::string_view text);
  const std::string& text(uint64_t id) const;

  void record(uint16_t kind, Instant t, uint32_t node, uint64_t a = 0, uint64_t b = 0,
              uint64_t c = 0);

  uint64_t hash() const { return hash_; }
  uint64_t count() const { return count_; }

  void set_keep_events(size_t max_kept);
  size_t keep_events() const { return keep_max_; }
  void set_record_hashes(bool on) { record_hashes_ = on; }
  // Kept events, oldest first.
  std::vector<TraceEvent> kept() const;
  std::optional<TraceEvent> kept_at(uint64_t index) const;
  const std::vector<uint64_t>& hashes() const { return hashes_; }

 private:
  std::vector<TraceKindInfo> kinds_;
  std::map<std::string, uint16_t, std::less<>> kind_ids_;
  std::vector<std::string> strings_;
  std::map<std::string, uint64_t, std::less<>> string_ids_;

  uint64_t hash_;
  uint64_t count_ = 0;
  size_t keep_max_ = 200'000;  // WorldConfig::trace_keep_events
  // A kept event less its index: the ring holds the last ring_.size() events
  // of the run, so slot order gives each index (40 bytes per event, not 48).
  struct Kept {
    Instant time;
    uint64_t a, b, c;
    uint32_t node;
    uint16_t kind;
  };
  TraceEvent event_of(const Kept& k, uint64_t index) const { return TraceEvent{k.time, index, k.a, k.b, k.c, k.node, k.kind}; }
  std::vector<Kept> ring_;  // the oldest kept event is at ring_next_ once the ring is full
  size_t ring_next_ = 0;
  bool record_hashes_ = false;
  std::vector<uint64_t> hashes_;
};

// Where two runs of (supposedly) the same seed first differ.
struct Divergence {
  uint64_t index = 0;                 // first event index whose running hash differs
  std::optional<TraceEvent> left, right;  // the events there, if still kept
};
// Both traces must have been recorded with set_record_hashes(true).
std::optional<Divergence> first_divergence(const Trace& left, const Trace& right);

}  // namespace sim
