// Fibers on virtual time: sleep, timers, wait queues, channels, futures.
#include <catch2/catch.hpp>

#include "sim/sync.h"

using namespace sim;

namespace {
NodeId add_idle_node(World& w, const char* name) {
  NodeId id = w.add_node(name, [](NodeId) { return std::shared_ptr<void>(); });
  w.start(id);
  return id;
}
}  // namespace

TEST_CASE("sleep_for advances virtual time only - the clock jumps to the next event", "[fiber]") {
  World w;
  NodeId n = add_idle_node(w, "n1");
  std::vector<int64_t> woke_ms;
  w.spawn(n, "sleeper", [&] {
    w.sleep_for(milliseconds(5'000));
    woke_ms.push_back(w.now().ns / 1'000'000);
    w.sleep_for(milliseconds(1));
    woke_ms.push_back(w.now().ns / 1'000'000);
  });
  w.run_for(milliseconds(10'000));
  REQUIRE(woke_ms == std::vector<int64_t>{5'000, 5'001});
  REQUIRE(w.now() == Instant{} + milliseconds(10'000));
}

TEST_CASE("timers fire in time order - ties in scheduling order - cancelled never", "[fiber]") {
  World w;
  NodeId n = add_idle_node(w, "n1");
  std::vector<std::string> fired;
  w.schedule_after(n, milliseconds(20), [&] { fired.push_back("b@20"); });
  w.schedule_after(n, milliseconds(10), [&] { fired.push_back("a@10"); });
  w.schedule_after(n, milliseconds(20), [&] { fired.push_back("c@20"); });
  TimerId x = w.schedule_after(n, milliseconds(15), [&] { fired.push_back("cancelled"); });
  REQUIRE(w.cancel(x));
  REQUIRE_FALSE(w.cancel(x));
  w.run_for(milliseconds(100));
  REQUIRE(fired == std::vector<std::string>{"a@10", "b@20", "c@20"});
}

TEST_CASE("wait queue: notify wakes in FIFO order - a timeout reports false", "[fiber]") {
  World w;
  NodeId n = add_idle_node(w, "n1");
  WaitQueue q(w);
  std::vector<std::string> log;
  for (const char* name : {"first", "second"})
    w.spawn(n, name, [&, name] {
      REQUIRE(q.wait());
      log.push_back(name);
    });
  w.spawn(n, "impatient", [&] {
    const bool notified = q.wait_for(milliseconds(5));
    log.push_back(notified ? "impatient-notified" : "impatient-timeout@" + std::to_string(w.now().ns / 1'000'000));
  });
  w.schedule_after(n, milliseconds(10), [&] {
    REQUIRE(q.notify_one());
    REQUIRE(q.notify_one());
    REQUIRE_FALSE(q.notify_one());  // the impatient one already gave up
  });
  w.run_for(milliseconds(20));
  REQUIRE(log == std::vector<std::string>{"impatient-timeout@5", "first", "second"});
}

TEST_CASE("condvar wait_for returns when the predicate holds or on timeout", "[fiber]") {
  World w;
  NodeId n = add_idle_node(w, "n1");
  CondVar cv(w);
  int value = 0;
  bool got = false, gave_up = true;
  w.spawn(n, "waiter", [&] { got = cv.wait_for(milliseconds(100), [&] { return value == 2; }); });
  w.spawn(n, "loser", [&] { gave_up = !cv.wait_for(milliseconds(10), [&] { return value == 3; }); });
  w.schedule_after(n, milliseconds(20), [&] { value = 1; cv.notify_all(); });
  w.schedule_after(n, milliseconds(30), [&] { value = 2; cv.notify_all(); });
  w.run_for(milliseconds(200));
  REQUIRE(got);
  REQUIRE(gave_up);
}

TEST_CASE("bounded channel blocks the producer when full and delivers FIFO", "[fiber]") {
  World w;
  NodeId n = add_idle_node(w, "n1");
  Channel<int> ch(w, 2);
  std::vector<int> got;
  int64_t third_push_ms = -1;
  w.spawn(n, "producer", [&] {
    ch.push(1);
    ch.push(2);
    ch.push(3);  // blocks until the consumer takes one
    third_push_ms = w.now().ns / 1'000'000;
    ch.close();
  });
  w.spawn(n, "consumer", [&] {
    w.sleep_for(milliseconds(50));
    while (auto v = ch.pop()) got.push_back(*v);
  });
  w.run_for(milliseconds(100));
  REQUIRE(got == std::vector<int>{1, 2, 3});
  REQUIRE(third_push_ms == 50);
}

TEST_CASE("channel pop_for times out on virtual time", "[fiber]") {
  World w;
  NodeId n = add_idle_node(w, "n1");
  Channel<int> ch(w, 4);
  std::optional<int> r = 99;
  w.spawn(n, "reader", [&] { r = ch.pop_for(milliseconds(7)); });
  w.run_for(milliseconds(6));
  REQUIRE(r == 99);  // still waiting
  w.run_for(milliseconds(2));
  REQUIRE_FALSE(r.has_value());
}

TEST_CASE("promise/future: value and error and wait_for timeout", "[fiber]") {
  World w;
  NodeId n = add_idle_node(w, "n1");
  Promise<int> p(w), never(w), bad(w);
  int value = 0;
  bool timed_out = false;
  std::string error;
  w.spawn(n, "a", [&, f = p.future()]() mutable { value = f.get(); });
  w.spawn(n, "b", [&, f = never.future()]() mutable { timed_out = f.wait_for(milliseconds(3)) == nullptr; });
  w.spawn(n, "c", [&, f = bad.future()]() mutable {
    try {
      f.get();
    } catch (const SimError& e) {
      error = e.what();
    }
  });
  w.schedule_after(n, milliseconds(5), [&] {
    REQUIRE(p.set_value(41 + 1));
    REQUIRE_FALSE(p.set_value(0));  // first outcome wins
    bad.set_error("NOT_LEADER_OR_FOLLOWER");
  });
  w.run_for(milliseconds(10));
  REQUIRE(value == 42);
  REQUIRE(timed_out);
  REQUIRE(error == "NOT_LEADER_OR_FOLLOWER");
}

TEST_CASE("misuse is a clear SimError - never a crash", "[fiber]") {
  World w;
  NodeId n = add_idle_node(w, "n1");
  REQUIRE_THROWS_WITH(w.sleep_for(milliseconds(1)), Catch::Contains("outside a simulated process"));
  REQUIRE_THROWS_WITH(w.crash(NodeId{7}), Catch::Contains("unknown node 7"));
  w.spawn(n, "thrower", [] { throw std::runtime_error("boom"); });
  REQUIRE_THROWS_WITH(w.run_for(milliseconds(1)), Catch::Contains("boom"));
  REQUIRE_THROWS_WITH(w.run_for(milliseconds(1)), Catch::Contains("'thrower' on n1 failed"));
  World w2;
  w2.spawn(kWorldNode, "runner", [&] { w2.run_for(milliseconds(1)); });
  REQUIRE_THROWS_WITH(w2.run_for(milliseconds(1)), Catch::Contains("from inside a simulated process"));
}

TEST_CASE("a wait whose deadline passed during a pause times out at resume", "[fiber]") {
  World w;
  NodeId n = add_idle_node(w, "n1");
  CondVar cv(w);
  bool flag = false;
  std::optional<bool> result;
  int64_t done_ms = -1;
  w.spawn(n, "waiter", [&] {
    result = cv.wait_for(milliseconds(10), [&] { return flag; });
    done_ms = w.now().ns / 1'000'000;
  });
  w.run_for(milliseconds(4));
  w.pause(n, milliseconds(20));                                  // frozen from 4 to 24
  w.schedule_after(kWorldNode, milliseconds(1), [&] { cv.notify_all(); });  // spurious wake at 5
  w.run_for(milliseconds(40));
  REQUIRE(result == false);
  REQUIRE(done_ms == 24);
}

TEST_CASE("two worlds on one thread stay independent", "[fiber]") {
  World a, b;
  NodeId na = add_idle_node(a, "a1");
  int b_ran = 0;
  b.spawn(kWorldNode, "b-proc", [&] {
    ++b_ran;
    b.sleep_for(milliseconds(5));
    ++b_ran;
  });
  a.spawn(na, "a-proc", [&] { a.sleep_for(milliseconds(1)); });
  a.run_for(milliseconds(10));  // may run b's ready fiber, but must not break b
  REQUIRE_FALSE(b.in_fiber());
  b.run_for(milliseconds(10));
  REQUIRE(b_ran == 2);
}

TEST_CASE("the run loop cannot be re-entered from a timer or the world paused", "[fiber]") {
  World w;
  w.schedule_after(kWorldNode, milliseconds(1), [&] { w.run_for(milliseconds(1)); });
  REQUIRE_THROWS_WITH(w.run_for(milliseconds(5)), Catch::Contains("only the driver"));
  World w2;
  REQUIRE_THROWS_WITH(w2.pause(kWorldNode, milliseconds(1)), Catch::Contains("cannot be paused"));
}

TEST_CASE("a mutex serialises sections that block - in FIFO order", "[fiber]") {
  World w;
  NodeId n = add_idle_node(w, "n1");
  Mutex m(w);
  std::vector<std::string> log;
  for (const char* name : {"a", "b", "c"})
    w.spawn(n, name, [&, name] {
      LockGuard g(m);
      log.push_back(std::string(name) + "+");
      w.sleep_for(milliseconds(10));
      log.push_back(std::string(name) + "-");
    });
  w.run_for(milliseconds(100));
  REQUIRE(log == std::vector<std::string>{"a+", "a-", "b+", "b-", "c+", "c-"});
  REQUIRE_FALSE(m.locked());
}

TEST_CASE("a mutex hands over to the waiter: a relocking loop cannot starve it", "[fiber]") {
  World w;
  NodeId n = add_idle_node(w, "n1");
  Mutex m(w);
  int loops = 0;
  bool waiter_got_it = false;
  w.spawn(n, "hog", [&] {
    for (;; ++loops) {
      m.lock();
      w.sleep_for(milliseconds(1));
      m.unlock();  // and straight back to lock()
    }
  });
  w.spawn(n, "waiter", [&] {
    w.sleep_for(microseconds(500));
    LockGuard g(m);
    waiter_got_it = true;
  });
  w.run_for(milliseconds(10));
  REQUIRE(waiter_got_it);
  REQUIRE(loops >= 5);
}
