#include <catch2/catch.hpp>

#include "sim/event_queue.h"
#include "sim/rng.h"

using namespace sim;

namespace {
Event at(int64_t t, uint64_t seq) {
  Event e;
  e.time = Instant{t};
  e.seq = seq;
  e.slot = static_cast<uint32_t>(seq);
  return e;
}
}  // namespace

TEST_CASE("events pop in (time then insertion sequence) order", "[event_queue]") {
  EventQueue q;
  q.push(at(30, 0));
  q.push(at(10, 1));
  q.push(at(10, 2));  // same time as seq 1: fires after it
  q.push(at(20, 3));
  REQUIRE(q.pop().slot == 1);
  REQUIRE(q.pop().slot == 2);
  REQUIRE(q.pop().slot == 3);
  REQUIRE(q.pop().slot == 0);
  REQUIRE(q.empty());
}

TEST_CASE("removed events never fire - others keep their order", "[event_queue]") {
  EventQueue q;
  Rng r(5);
  std::vector<EventHandle> handles;
  for (uint64_t i = 0; i < 2000; ++i) handles.push_back(q.push(at(static_cast<int64_t>(r.uniform(100)), i)));
  for (uint64_t i = 0; i < 2000; i += 3) REQUIRE(q.remove(handles[i]));
  REQUIRE_FALSE(q.remove(handles[0]));  // already removed
  Instant last{-1};
  uint64_t last_seq = 0;
  size_t n = 0;
  while (!q.empty()) {
    const Event e = q.pop();
    REQUIRE(e.seq % 3 != 0);
    REQUIRE((e.time > last || (e.time == last && e.seq > last_seq)));
    last = e.time;
    last_seq = e.seq;
    ++n;
  }
  REQUIRE(n == 2000 - 667);
}

TEST_CASE("a handle to a fired event is stale even when its slot is reused", "[event_queue]") {
  EventQueue q;
  const EventHandle h = q.push(at(1, 0));
  q.pop();
  q.push(at(2, 1));  // reuses the slot
  REQUIRE_FALSE(q.remove(h));
  REQUIRE(q.size() == 1);
}
