// Node lifecycle: crash unwinds fibers, restart boots fresh, pause freezes.
#include <catch2/catch.hpp>

#include "sim/disk.h"
#include "sim/network.h"
#include "sim/sync.h"

using namespace sim;

namespace {
// A node's volatile state: counts how many of it exist, to prove destruction.
struct Process {
  explicit Process(int* alive) : alive(alive) { ++*alive; }
  ~Process() { --*alive; }
  int* alive;
  int ticks = 0;
};
}  // namespace

TEST_CASE("crash unwinds every fiber at its next suspension point and destroys volatile state", "[node]") {
  World w;
  int alive = 0, unwound = 0, ran_after_crash = 0;
  struct Guard {
    int* n;
    ~Guard() { ++*n; }
  };
  NodeId n = w.add_node("broker1", [&](NodeId self) {
    auto p = std::make_shared<Process>(&alive);
    for (int i = 0; i < 3; ++i)
      w.spawn(self, "ticker", [&w, &unwound, &ran_after_crash, p = p.get()] {
        Guard g{&unwound};
        for (;;) {
          w.sleep_for(milliseconds(10));
          if (!w.is_up(w.current_node())) ++ran_after_crash;
          ++p->ticks;
        }
      });
    return p;
  });
  w.start(n);
  w.run_for(milliseconds(35));
  REQUIRE(w.process<Process>(n)->ticks == 9);
  REQUIRE(alive == 1);
  w.crash(n);
  w.run_for(milliseconds(100));
  REQUIRE(unwound == 3);           // destructors on the fibers' stacks ran
  REQUIRE(ran_after_crash == 0);   // nothing of the node ran again
  REQUIRE(alive == 0);             // volatile state destroyed
  REQUIRE(w.process<Process>(n) == nullptr);
  REQUIRE_THROWS_WITH(w.spawn(n, "late", [] {}), Catch::Contains("down"));
}

TEST_CASE("a crashed node's timers never fire - restart boots a fresh incarnation", "[node]") {
  World w;
  int alive = 0, boots = 0, timer_fired = 0;
  NodeId n = w.add_node("b", [&](NodeId self) {
    ++boots;
    w.schedule_after(self, milliseconds(50), [&] { ++timer_fired; });
    return std::make_shared<Process>(&alive);
  });
  w.start(n);
  const uint32_t first = w.incarnation(n);
  w.run_for(milliseconds(10));
  w.crash(n);
  w.run_for(milliseconds(100));
  REQUIRE(timer_fired == 0);
  w.restart(n);
  REQUIRE(w.incarnation(n) > first);
  REQUIRE(boots == 2);
  REQUIRE(alive == 1);
  w.run_for(milliseconds(100));
  REQUIRE(timer_fired == 1);  // the new incarnation's timer
}

TEST_CASE("a node crashing itself stops at its next suspension point", "[node]") {
  World w;
  std::vector<std::string> log;
  NodeId n = w.add_node("b", [&](NodeId self) {
    w.spawn(self, "suicidal", [&w, &log, self] {
      log.push_back("before");
      w.crash(self);
      log.push_back("still running until it blocks");
      w.sleep_for(milliseconds(1));
      log.push_back("never");
    });
    return std::shared_ptr<void>();
  });
  w.start(n);
  w.run_for(milliseconds(10));
  REQUIRE(log == std::vector<std::string>{"before", "still running until it blocks"});
}

TEST_CASE("pause freezes fibers and timers - they catch up on resume", "[node]") {
  World w;
  std::vector<int64_t> ticks_ms;
  int64_t timer_ms = -1;
  NodeId n = w.add_node("b", [&](NodeId self) {
    w.spawn(self, "ticker", [&] {
      for (int i = 0; i < 4; ++i) {
        w.sleep_for(milliseconds(10));
        ticks_ms.push_back(w.now().ns / 1'000'000);
      }
    });
    w.schedule_after(self, milliseconds(25), [&] { timer_ms = w.now().ns / 1'000'000; });
    return std::shared_ptr<void>();
  });
  w.start(n);
  w.run_for(milliseconds(15));
  w.pause(n, milliseconds(100));  // a 100 ms GC pause at t=15
  w.run_for(milliseconds(50));
  REQUIRE(ticks_ms == std::vector<int64_t>{10});
  REQUIRE(timer_ms == -1);
  REQUIRE(w.is_paused(n));
  w.run_for(milliseconds(100));
  REQUIRE_FALSE(w.is_paused(n));
  // The sleep due at 20 and the timer due at 25 fire at resume (t=115), in order.
  REQUIRE(timer_ms == 115);
  REQUIRE(ticks_ms == std::vector<int64_t>{10, 115, 125, 135});
}

TEST_CASE("resume() ends a pause early - crash during a pause unwinds", "[node]") {
  World w;
  int ticks = 0, unwound = 0;
  struct Guard {
    int* n;
    ~Guard() { ++*n; }
  };
  NodeId n = w.add_node("b", [&](NodeId self) {
    w.spawn(self, "ticker", [&] {
      Guard g{&unwound};
      for (;;) {
        w.sleep_for(milliseconds(10));
        ++ticks;
      }
    });
    return std::shared_ptr<void>();
  });
  w.start(n);
  w.pause(n, seconds(100));
  w.run_for(milliseconds(50));
  REQUIRE(ticks == 0);
  w.resume(n);
  w.run_for(milliseconds(25));
  REQUIRE(ticks == 2);  // the fiber only starts at resume (t=50): ticks at t=60, t=70
  w.pause(n, seconds(100));
  w.crash(n);
  w.run_for(milliseconds(10));
  REQUIRE(unwound == 1);
}

TEST_CASE("messages queued during a pause keep their connection's FIFO order", "[node]") {
  World w;
  LinkSpec fixed;
  fixed.latency_min = fixed.latency_max = milliseconds(1);
  w.network().set_default_link(fixed);
  const KindId k = w.network().kind("Msg");
  std::vector<uint64_t> got;
  NodeId b = w.add_node("b", [&](NodeId self) {
    w.network().set_handler(self, [&](Incoming&& in) { got.push_back(in.tag); });
    return std::shared_ptr<void>();
  });
  NodeId a = w.add_node("a", [&](NodeId self) {
    w.spawn(self, "sender", [&, self] {
      for (uint64_t i = 0; i < 20; ++i) {
        w.network().send(self, b, k, nullptr, 8, i);
        w.sleep_for(milliseconds(1));
      }
    });
    return std::shared_ptr<void>();
  });
  w.start(b);
  w.pause(b, milliseconds(10));
  w.start(a);
  w.run_for(milliseconds(100));
  REQUIRE(got.size() == 20);
  for (uint64_t i = 0; i < 20; ++i) REQUIRE(got[i] == i);
}
