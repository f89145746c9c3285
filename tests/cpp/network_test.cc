// The simulated network: RPC, FIFO connections, partitions, loss, clogs, rules.
#include <catch2/catch.hpp>

#include "sim/network.h"

using namespace sim;

namespace {
// An echo server answering every request with its tag + 1000, and a client.
struct Net {
  World w;
  Network& net = w.network();
  KindId req = net.kind("Echo");
  KindId resp = net.kind("EchoResponse");
  NodeId a, b, c;
  std::vector<uint64_t> served;  // tags, in arrival order at the server
  std::vector<uint32_t> conns;   // the connection each came on

  Net() {
    LinkSpec fixed;
    fixed.latency_min = fixed.latency_max = milliseconds(1);
    net.set_default_link(fixed);
    auto server = [this](NodeId self) {
      w.spawn(self, "server", [this, self] {
        for (;;) {
          Incoming in = *net.receive(self);
          served.push_back(in.tag);
          conns.push_back(in.conn);
          if (in.dir == Direction::request) net.respond(in, resp, nullptr, 16, in.tag + 1000);
        }
      });
      return std::shared_ptr<void>();
    };
    a = w.add_node("a", [](NodeId) { return std::shared_ptr<void>(); });
    b = w.add_node("b", server);
    c = w.add_node("c", server);
    for (NodeId n : {a, b, c}) w.start(n);
  }
  // Runs a blocking call from node `a` in a fiber; returns its reply.
  std::shared_ptr<std::optional<Reply>> call_from_a(NodeId dst, uint64_t tag, Duration timeout = seconds(1)) {
    auto out = std::make_shared<std::optional<Reply>>();
    w.spawn(a, "caller", [this, dst, tag, timeout, out] { *out = net.call_sync(a, dst, req, nullptr, 16, timeout, tag); });
    return out;
  }
};
}  // namespace

TEST_CASE("request/response round trip takes two link latencies", "[network]") {
  Net t;
  auto r = t.call_from_a(t.b, 7);
  t.w.run_for(milliseconds(1));
  REQUIRE_FALSE(r->has_value());
  t.w.run_for(milliseconds(1));
  REQUIRE(r->has_value());
  REQUIRE((*r)->status == CallStatus::ok);
  REQUIRE((*r)->tag == 1007);
}

TEST_CASE("messages on one connection arrive in FIFO order despite jittery latency", "[network]") {
  Net t;
  LinkSpec jitter;
  jitter.latency_min = microseconds(10);
  jitter.latency_max = milliseconds(50);
  t.net.set_default_link(jitter);
  t.w.spawn(t.a, "burst", [&] {
    for (uint64_t i = 0; i < 200; ++i) t.net.send(t.a, t.b, t.req, nullptr, 16, i);
  });
  t.w.run_for(seconds(1));
  REQUIRE(t.served.size() == 200);
  for (uint64_t i = 0; i < 200; ++i) REQUIRE(t.served[i] == i);
}

TEST_CASE("a partition breaks the connection: the in-flight call fails as a disconnect", "[network]") {
  Net t;
  auto r = t.call_from_a(t.b, 1);
  t.w.run_for(microseconds(500));  // request in flight
  t.net.partition({{t.a}, {t.b, t.c}});
  t.w.run_for(milliseconds(10));
  REQUIRE((*r)->status == CallStatus::disconnected);
  REQUIRE(t.served.empty());  // the request was lost with the connection
  REQUIRE_FALSE(t.net.reachable(t.a, t.b));
  auto r2 = t.call_from_a(t.b, 2);
  t.w.run_for(milliseconds(10));
  REQUIRE((*r2)->status == CallStatus::disconnected);
  t.net.heal();
  auto r3 = t.call_from_a(t.b, 3);
  t.w.run_for(milliseconds(10));
  REQUIRE((*r3)->status == CallStatus::ok);
  REQUIRE(t.served == std::vector<uint64_t>{3});
}

TEST_CASE("a one-way partition loses requests but not the reverse direction", "[network]") {
  Net t;
  t.net.partition_oneway({t.b}, {t.a});  // b cannot reach a
  REQUIRE(t.net.reachable(t.a, t.b));
  auto r = t.call_from_a(t.b, 5, milliseconds(100));
  t.w.run_for(milliseconds(200));
  REQUIRE(t.served == std::vector<uint64_t>{5});  // the request arrived ...
  REQUIRE((*r)->status == CallStatus::disconnected);  // ... the response could not return
}

TEST_CASE("a crashed server resets the connection - a down peer refuses new ones", "[network]") {
  Net t;
  t.net.add_rule({.src = t.b, .dst = std::nullopt, .kind = std::nullopt, .dir = Direction::response},
                 RuleAction::drop, 1);
  auto r = t.call_from_a(t.b, 1);
  t.w.run_for(milliseconds(5));  // served, response dropped: the call is pending
  REQUIRE(t.served.size() == 1);
  REQUIRE_FALSE(r->has_value());
  t.w.crash(t.b);
  t.w.run_for(milliseconds(1));
  REQUIRE((*r)->status == CallStatus::disconnected);
  auto r2 = t.call_from_a(t.b, 2);
  t.w.run_for(milliseconds(5));
  REQUIRE((*r2)->status == CallStatus::refused);  // never delivered: the caller may resend without doubt
}

TEST_CASE("a call with no answer times out at its deadline", "[network]") {
  Net t;
  t.net.add_rule({.src = t.a, .dst = t.b, .kind = t.req, .dir = Direction::request}, RuleAction::drop, 1);
  auto r = t.call_from_a(t.b, 1, milliseconds(30));
  t.w.run_for(milliseconds(29));
  REQUIRE_FALSE(r->has_value());
  t.w.run_for(milliseconds(2));
  REQUIRE((*r)->status == CallStatus::timeout);
}

TEST_CASE("hold/release delivers exactly the held message - everything else flows", "[network]") {
  Net t;
  RuleId h = t.net.add_rule({.src = t.b, .dst = t.a, .kind = t.resp, .dir = Direction::response},
                            RuleAction::hold, 1);
  auto held = t.call_from_a(t.b, 1, seconds(10));
  t.w.run_for(milliseconds(5));
  auto flows = t.call_from_a(t.b, 2, seconds(10));
  t.w.run_for(milliseconds(5));
  REQUIRE(t.net.held_count(h) == 1);
  REQUIRE_FALSE(held->has_value());
  REQUIRE((*flows)->tag == 1002);  // the later response overtook the held one
  t.w.run_for(seconds(1));
  REQUIRE_FALSE(held->has_value());  // held means held
  t.net.release(h);
  t.w.run_for(milliseconds(2));
  REQUIRE((*held)->status == CallStatus::ok);
  REQUIRE((*held)->tag == 1001);
  REQUIRE(t.net.held_count(h) == 0);
}

TEST_CASE("discard drops held messages - unlimited hold catches all until released", "[network]") {
  Net t;
  RuleId h = t.net.add_rule({.src = t.a, .dst = t.c, .kind = std::nullopt, .dir = std::nullopt},
                            RuleAction::hold, 0);
  for (uint64_t i = 0; i < 3; ++i) t.call_from_a(t.c, i, seconds(10));
  t.w.run_for(milliseconds(10));
  REQUIRE(t.net.held_count(h) == 3);
  t.net.discard(h);
  t.w.run_for(milliseconds(10));
  REQUIRE(t.served.empty());
  t.call_from_a(t.c, 9, seconds(10));
  t.w.run_for(milliseconds(10));
  REQUIRE(t.served == std::vector<uint64_t>{9});  // the rule ended with the discard
}

// Hunt seed 1159: a producer's Produce requests held for 28 s (a stalled
// stream) came out in reverse order on release, and an idempotent producer's
// records landed out of send order. TCP resumes a stalled stream in order.
TEST_CASE("released held messages of one connection arrive in the order they were sent", "[network]") {
  Net t;
  LinkSpec jitter;
  jitter.latency_min = microseconds(10);
  jitter.latency_max = milliseconds(20);
  t.net.set_default_link(jitter);
  RuleId h = t.net.add_rule({.src = t.a, .dst = t.c, .kind = t.req, .dir = std::nullopt}, RuleAction::hold, 0);
  for (uint64_t i = 0; i < 20; ++i) {
    t.call_from_a(t.c, i, seconds(10));
    t.w.run_for(milliseconds(1));
  }
  REQUIRE(t.net.held_count(h) == 20);
  t.net.release(h);
  t.w.run_for(milliseconds(100));
  std::vector<uint64_t> in_order(20);
  for (uint64_t i = 0; i < 20; ++i) in_order[i] = i;
  REQUIRE(t.served == in_order);
}

TEST_CASE("duplicate delivers a request twice - delay adds latency to one message", "[network]") {
  Net t;
  t.net.add_rule({.src = t.a, .dst = std::nullopt, .kind = t.req, .dir = std::nullopt}, RuleAction::duplicate, 1);
  auto r = t.call_from_a(t.b, 4);
  t.w.run_for(milliseconds(10));
  REQUIRE(t.served == std::vector<uint64_t>{4, 4});
  REQUIRE((*r)->tag == 1004);
  t.net.add_rule({.src = t.a, .dst = t.b, .kind = t.req, .dir = std::nullopt}, RuleAction::delay, 1, milliseconds(40));
  auto slow = t.call_from_a(t.b, 5);
  t.w.run_for(milliseconds(30));
  REQUIRE_FALSE(slow->has_value());
  t.w.run_for(milliseconds(20));
  REQUIRE((*slow)->status == CallStatus::ok);
}

TEST_CASE("clog delays without loss - loss breaks the connection", "[network]") {
  Net t;
  t.net.clog(t.a, t.b, milliseconds(100));
  auto r = t.call_from_a(t.b, 1);
  t.w.run_for(milliseconds(50));
  REQUIRE_FALSE(r->has_value());
  t.w.run_for(milliseconds(60));
  REQUIRE((*r)->status == CallStatus::ok);
  t.net.set_loss(t.a, t.b, 1.0);
  auto lost = t.call_from_a(t.b, 2);
  t.w.run_for(milliseconds(5));
  REQUIRE((*lost)->status == CallStatus::disconnected);
  t.net.heal();
  auto ok = t.call_from_a(t.b, 3);
  t.w.run_for(milliseconds(5));
  REQUIRE((*ok)->status == CallStatus::ok);
}

TEST_CASE("bandwidth serialises large messages on a link", "[network]") {
  Net t;
  LinkSpec slow;
  slow.latency_min = slow.latency_max = milliseconds(1);
  slow.bandwidth_bytes_per_s = 1'000'000;  // 1 MB/s: 100 KB takes 100 ms on the wire
  t.net.set_link(t.a, t.b, slow);
  std::optional<Reply> r;
  t.w.spawn(t.a, "big", [&] { r = t.net.call_sync(t.a, t.b, t.req, nullptr, 100'000, seconds(5), 1); });
  t.w.run_for(milliseconds(100));
  REQUIRE_FALSE(r.has_value());
  t.w.run_for(milliseconds(5));
  REQUIRE(r.has_value());
}

TEST_CASE("network misuse raises SimError naming the problem", "[network]") {
  Net t;
  REQUIRE_THROWS_WITH(t.net.partition({{t.a}, {t.a, t.b}}), Catch::Contains("two partition groups"));
  REQUIRE_THROWS_WITH(t.net.isolate(NodeId{99}), Catch::Contains("unknown node 99"));
  REQUIRE_THROWS_WITH(t.net.release(RuleId{42}), Catch::Contains("unknown network rule"));
  REQUIRE_THROWS_WITH(t.net.set_loss(t.a, t.b, 1.5), Catch::Contains("[0, 1]"));
}

TEST_CASE("on_reply callbacks run after a crash's bookkeeping - never for the crashed caller", "[network]") {
  Net t;
  t.net.add_rule({.src = t.b, .dst = std::nullopt, .kind = std::nullopt, .dir = Direction::response},
                 RuleAction::drop, 0);
  int a_callbacks = 0;
  std::vector<std::string> c_saw;
  // c's call to b: its callback retries when disconnected.
  t.w.spawn(t.c, "c-caller", [&] {
    CallId id = t.net.call(t.c, t.b, t.req, nullptr, 16, seconds(5), 1);
    t.net.on_reply(id, [&](const Reply& r) {
      c_saw.push_back(call_status_name(r.status));
      t.net.forget(t.net.call(t.c, t.a, t.req, nullptr, 16, seconds(1), 2));
    });
  });
  t.w.spawn(t.a, "a-caller", [&] {
    CallId id = t.net.call(t.a, t.b, t.req, nullptr, 16, seconds(5), 3);
    t.net.on_reply(id, [&](const Reply&) { ++a_callbacks; });
  });
  t.w.run_for(milliseconds(10));
  t.w.crash(t.b);
  t.w.crash(t.a);
  t.w.run_for(milliseconds(10));
  REQUIRE(c_saw == std::vector<std::string>{"disconnected"});
  REQUIRE(a_callbacks == 0);
}

TEST_CASE("a delivery handler may replace itself or crash its node", "[network]") {
  Net t;
  int calls = 0;
  t.net.set_handler(t.c, [&](Incoming&&) {
    ++calls;
    t.net.set_handler(t.c, nullptr);  // destroys the stored closure while it runs
    t.w.crash(t.c);
  });
  t.w.spawn(t.a, "sender", [&] { t.net.send(t.a, t.c, t.req, nullptr, 8, 1); });
  t.w.run_for(milliseconds(10));
  REQUIRE(calls == 1);
  REQUIRE_FALSE(t.w.is_up(t.c));
}

TEST_CASE("bandwidth of the default link applies without any per-link state", "[network]") {
  Net t;
  LinkSpec slow;
  slow.latency_min = slow.latency_max = milliseconds(1);
  slow.bandwidth_bytes_per_s = 1'000'000;
  t.net.set_default_link(slow);
  std::optional<Reply> r;
  t.w.spawn(t.a, "big", [&] { r = t.net.call_sync(t.a, t.b, t.req, nullptr, 50'000, seconds(5), 1); });
  t.w.run_for(milliseconds(50));
  REQUIRE_FALSE(r.has_value());
  t.w.run_for(milliseconds(5));
  REQUIRE(r.has_value());
}

TEST_CASE("removing a hold rule frees what it held - nothing is delivered", "[network]") {
  Net t;
  RuleId h = t.net.add_rule({.src = t.a, .dst = t.b, .kind = std::nullopt, .dir = std::nullopt},
                            RuleAction::hold, 0);
  t.call_from_a(t.b, 1, seconds(10));
  t.w.run_for(milliseconds(5));
  REQUIRE(t.net.held_count(h) == 1);
  t.net.remove_rule(h);
  REQUIRE(t.net.held_count(h) == 0);
  t.w.run_for(milliseconds(10));
  REQUIRE(t.served.empty());
}

TEST_CASE("kind handlers let two subsystems of one node serve their own APIs", "[network]") {
  Net t;
  const KindId vote = t.net.kind("Vote");
  std::vector<std::string> seen;
  t.net.set_handler(t.c, [&](Incoming&&) { seen.push_back("catch-all"); });
  t.net.set_kind_handler(t.c, vote, [&](Incoming&&) { seen.push_back("vote"); });
  t.w.spawn(t.a, "sender", [&] {
    t.net.send(t.a, t.c, vote, nullptr, 8);
    t.net.send(t.a, t.c, t.req, nullptr, 8);
  });
  t.w.run_for(milliseconds(10));
  REQUIRE(seen == std::vector<std::string>{"vote", "catch-all"});
}

TEST_CASE("a connection closed by its client is told apart from one a partition broke", "[network]") {
  Net t;
  t.net.add_rule({.src = t.b, .dst = std::nullopt, .kind = std::nullopt, .dir = Direction::response},
                 RuleAction::drop, 0);
  t.call_from_a(t.b, 1);
  t.w.run_for(milliseconds(5));  // served, the answer lost: the call waits
  REQUIRE(t.conns.size() == 1);
  REQUIRE_FALSE(t.net.client_closed(t.conns[0]));  // still open
  t.net.disconnect(t.a, t.b);   // the client gives up on it (a request timeout)
  REQUIRE(t.net.client_closed(t.conns[0]));

  t.call_from_a(t.c, 2);
  t.w.run_for(milliseconds(5));
  REQUIRE(t.conns.size() == 2);
  t.net.partition({{t.a}, {t.b, t.c}});
  REQUIRE_FALSE(t.net.client_closed(t.conns[1]));  // broken, but nobody closed it
  t.net.heal();

  t.call_from_a(t.c, 3);
  t.w.run_for(milliseconds(5));
  REQUIRE(t.conns.size() == 3);
  t.net.disconnect(t.c, t.a);  // the server end closing is no client's close
  REQUIRE_FALSE(t.net.client_closed(t.conns[2]));
}

// Hunt (transaction.protocol=v1 never found): a transactional producer's
// Produce requests, held in the network, were dropped on release because the
// producer had closed the connection at its request timeout. A client's close
// is TCP's orderly release: what it sent before still arrives, and the server
// reads it until its second response to the gone client fails to write.
TEST_CASE("requests sent before the client closed still arrive - until the server's channel dies", "[network]") {
  Net t;
  RuleId h = t.net.add_rule({.src = t.a, .dst = t.b, .kind = t.req, .dir = std::nullopt}, RuleAction::hold, 0);
  for (uint64_t i = 1; i <= 4; ++i) t.call_from_a(t.b, i, seconds(10));
  t.w.run_for(milliseconds(5));
  REQUIRE(t.net.held_count(h) == 4);
  t.net.disconnect(t.a, t.b);  // the client's request timeout
  t.net.release(h);
  t.w.run_for(milliseconds(50));
  // 1 is read (its response lands in a dead socket), 2 is read (its write
  // fails: the server closes the channel), 3 and 4 are never read.
  REQUIRE(t.served == std::vector<uint64_t>{1, 2});
}

TEST_CASE("a server restart loses what a closed connection still carried", "[network]") {
  Net t;
  RuleId h = t.net.add_rule({.src = t.a, .dst = t.b, .kind = t.req, .dir = std::nullopt}, RuleAction::hold, 0);
  t.call_from_a(t.b, 1, seconds(10));
  t.w.run_for(milliseconds(5));
  t.net.disconnect(t.a, t.b);
  t.w.crash(t.b);
  t.w.restart(t.b);
  t.net.release(h);
  t.w.run_for(milliseconds(50));
  REQUIRE(t.served.empty());  // a new incarnation never saw that stream
}
