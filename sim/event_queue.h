// The event queue: every future happening of the simulated world, ordered by
// (time, sequence). The sequence number is assigned at insertion, so two events
// at the same instant fire in the order they were scheduled — never in an order
// that depends on addresses, hashing or the heap's internal layout.
//
// Entries are small PODs: what kind of thing happens, a slot in the owning
// subsystem's table and a generation that detects a stale reference. No
// std::function is allocated per event on the hot paths (message delivery,
// fiber wake-up); only user timers keep a callback, in the World's timer table.
//
// Events can be REMOVED (a cancelled timer, an RPC that completed before its
// timeout, a fiber notified before its deadline). Without removal, every
// request's 30 s timeout would sit in the heap long after its reply, and a busy
// run would carry millions of dead entries through every push and pop.
// Implementation: an indexed 4-ary min-heap; the heap array holds (time, seq,
// id) so comparisons stay in one cache line, the bodies live in a slab indexed
// by id that also records each entry's heap position.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "sim/time.h"

namespace sim {

enum class EventKind : uint8_t {
  wake_fiber,     // slot = fiber slot, aux = (generation << 32) | wait token
  resume_fiber,   // a wake that was deferred while the node was paused
  timer,          // slot = timer slot, aux = generation
  deliver,        // slot = in-flight message slot, aux = generation
  call_timeout,   // slot = pending RPC slot, aux = generation
  node_resume,    // aux = pause epoch; end of a pause()
};

struct Event {
  Instant time;
  uint64_t seq = 0;
  uint64_t aux = 0;
  uint32_t slot = 0;
  uint32_t node = 0;         // target node index, or kNoNodeIndex
  uint32_t incarnation = 0;  // target node incarnation when scheduled
  EventKind kind = EventKind::timer;
};

// Refers to one scheduled event; stale once it fired or was removed.
struct EventHandle {
  uint32_t id = 0xffffffffu;
  uint32_t generation = 0;
  bool valid() const { return id != 0xffffffffu; }
};

class EventQueue {
 public:
  EventHandle push(const Event& e) {
    return emplace(e.time, e.seq, e.aux, e.slot, e.node, e.incarnation, e.kind);
  }
  // push() of the event these fields make, written straight into its slot:
  // an Event built field by field on the caller's stack and then copied was
  // read back with wider loads than the stores that built it, a
  // store-forwarding stall on every message delivery and timer (~1% of the
  // cluster bench).
  EventHandle emplace(Instant time, uint64_t seq, uint64_t aux, uint32_t slot, uint32_t node, uint32_t incarnation,
                      EventKind kind);
  Event pop();
  // Removes a scheduled event; false if it already fired or was removed.
  bool remove(EventHandle h);
  Instant top_time() const { return heap_[0].time; }
  bool empty() const { return heap_.empty(); }
  size_t size() const { return heap_.size(); }

 private:
  struct Entry {
    Instant time;
    uint64_t seq;
    uint32_t id;
  };
  struct Body {
    Event event;
    uint32_t pos = 0;
    uint32_t generation = 0;
    bool live = false;
  };
  static bool before(const Entry& a, const Entry& b) {
    return a.time < b.time || (a.time == b.time && a.seq < b.seq);
  }
  void place(size_t i, const Entry& e) {
    heap_[i] = e;
    bodies_[e.id].pos = static_cast<uint32_t>(i);
  }
  void sift_up(size_t i, Entry e);
  void sift_down(size_t i, Entry e);
  void erase_at(size_t i);

  std::vector<Entry> heap_;
  std::vector<Body> bodies_;
  std::vector<uint32_t> free_;
};

}  // namespace sim
