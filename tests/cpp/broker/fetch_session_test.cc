// Incremental fetch sessions (KIP-227): a full fetch with epoch 0 opens a
// session on the leader; later fetches carry only what changed and get back
// only the partitions with news; a wrong epoch or a forgotten session is a
// session error that sends the fetcher back to a full fetch.
#include <catch2/catch.hpp>

#include <memory>
#include <optional>

#include "engine/broker/fetch_session.h"
#include "engine/clients/fetch_session_handler.h"
#include "engine/broker/protocol.h"
#include "engine/common/node_ids.h"
#include "engine/server/cluster.h"
#include "engine/server/workload_driver.h"
#include "sim/network.h"
#include "tests/cpp/broker/raw_fetch.h"

using namespace ksim;

namespace {

// One broker, topic "t" with two partitions holding 3 records each, and a raw client.
struct Lab {
  std::unique_ptr<Cluster> c;
  sim::NodeId client;
  int32_t leader = -1;

  explicit Lab(Config::Map config = {}) {
    ClusterOptions o;
    o.seed = 11;
    o.brokers = 1;
    o.controllers = 1;
    o.config = std::move(config);
    c = std::make_unique<Cluster>(o);
    c->wait_ready();
    c->create_topic("t", 2, 1);
    REQUIRE(c->wait_for_leader("t", 0) > 0);
    REQUIRE(c->wait_for_leader("t", 1) > 0);
    leader = c->leader_of("t", 0);
    for (int32_t p = 0; p < 2; ++p) REQUIRE(c->produce("t", p, {"a", "b", "c"}, -1).error == Errc::NONE);
    client = c->add_client_node("raw-client");
  }

  static protocol::FetchPartition at(int32_t partition, int64_t offset) {
    return protocol::FetchPartition{.tp = TopicPartition{"t", partition}, .fetch_offset = Offset{offset}};
  }

  protocol::FetchResponse fetch(int32_t session_id, int32_t epoch, std::vector<protocol::FetchPartition> partitions) {
    return testing::answer_of(*c, start_fetch(session_id, epoch, std::move(partitions), 0));
  }

  // Sends a Fetch from a fiber of its own; its reply lands in the slot.
  testing::ReplySlot start_fetch(int32_t session_id, int32_t epoch, std::vector<protocol::FetchPartition> partitions,
                                 int32_t max_wait_ms) {
    protocol::FetchRequest req;
    req.max_wait_ms = max_wait_ms;
    req.session_id = session_id;
    req.session_epoch = epoch;
    req.partitions = std::move(partitions);
    return testing::start_raw_fetch(*c, client, leader, std::move(req));
  }
};

protocol::FetchResponse answer(int32_t session_id, Errc error = Errc::NONE) {
  protocol::FetchResponse r;
  r.session_id = session_id;
  r.error = error;
  return r;
}

}  // namespace

TEST_CASE("an incremental fetch answers only the partitions with news", "[broker][fetch][session]") {
  Lab lab;
  const auto full = lab.fetch(0, kInitialFetchEpoch, {Lab::at(0, 3), Lab::at(1, 3)});
  REQUIRE(full.session_id != kInvalidFetchSessionId);
  REQUIRE(full.partitions.size() == 2);  // a full fetch answers every partition

  REQUIRE(lab.fetch(full.session_id, 1, {}).partitions.empty());  // nothing moved

  REQUIRE(lab.c->produce("t", 1, {"d"}, -1).error == Errc::NONE);
  const auto news = lab.fetch(full.session_id, 2, {});
  REQUIRE(news.session_id == full.session_id);
  REQUIRE(news.partitions.size() == 1);
  REQUIRE(news.partitions[0].tp == TopicPartition{"t", 1});
  REQUIRE(news.partitions[0].batches.size() == 1);
  REQUIRE(news.partitions[0].high_watermark == Offset{4});
}

TEST_CASE("a changed fetch offset in an incremental fetch is answered from there", "[broker][fetch][session]") {
  Lab lab;
  const auto full = lab.fetch(0, kInitialFetchEpoch, {Lab::at(0, 3), Lab::at(1, 3)});
  const auto back = lab.fetch(full.session_id, 1, {Lab::at(0, 1)});  // re-read partition 0 from offset 1
  REQUIRE(back.partitions.size() == 1);
  REQUIRE(back.partitions[0].tp == TopicPartition{"t", 0});
  REQUIRE(back.partitions[0].batches.front()->base_offset() == Offset{0});  // the batch holding offset 1
}

TEST_CASE("a repeated session epoch is INVALID_FETCH_SESSION_EPOCH", "[broker][fetch][session]") {
  Lab lab;
  const auto full = lab.fetch(0, kInitialFetchEpoch, {Lab::at(0, 3), Lab::at(1, 3)});
  REQUIRE(lab.fetch(full.session_id, 1, {}).error == Errc::NONE);
  const auto again = lab.fetch(full.session_id, 1, {});
  REQUIRE(again.error == Errc::INVALID_FETCH_SESSION_EPOCH);
  REQUIRE(again.partitions.empty());
}

TEST_CASE("a parked fetch answered after a newer one moved its session is INVALID_FETCH_SESSION_EPOCH",
          "[broker][fetch][session]") {
  Lab lab;
  const auto full = lab.fetch(0, kInitialFetchEpoch, {Lab::at(0, 3), Lab::at(1, 3)});
  auto parked = lab.start_fetch(full.session_id, 1, {}, 5'000);  // nothing new: it waits
  lab.c->run_for_ms(100);
  REQUIRE_FALSE(parked->has_value());
  REQUIRE(lab.fetch(full.session_id, 2, {}).error == Errc::NONE);  // the fetcher gave up on it and went on
  REQUIRE(lab.c->produce("t", 0, {"d"}, -1).error == Errc::NONE);  // wakes the parked one
  REQUIRE(lab.c->run_until([&] { return parked->has_value(); }, 10'000));
  REQUIRE(sim::payload_as<protocol::FetchResponse>((*parked)->payload).error == Errc::INVALID_FETCH_SESSION_EPOCH);
}

TEST_CASE("a parked incremental fetch wakes on the first records in any partition of its session",
          "[broker][fetch][session]") {
  Lab lab;
  const auto full = lab.fetch(0, kInitialFetchEpoch, {Lab::at(0, 3), Lab::at(1, 3)});
  auto parked = lab.start_fetch(full.session_id, 1, {}, 5'000);  // both partitions idle: it waits on both
  lab.c->run_for_ms(100);
  REQUIRE_FALSE(parked->has_value());
  REQUIRE(lab.c->produce("t", 1, {"d"}, -1).error == Errc::NONE);
  REQUIRE(lab.c->run_until([&] { return parked->has_value(); }, 1'000));  // long before its 5 s deadline
  const auto& woke = sim::payload_as<protocol::FetchResponse>((*parked)->payload);
  REQUIRE(woke.partitions.size() == 1);  // partition 0 is still idle: not in the answer
  REQUIRE(woke.partitions[0].tp == TopicPartition{"t", 1});
  REQUIRE(woke.partitions[0].high_watermark == Offset{4});
}

TEST_CASE("a parked fetch sleeps through metadata changes of partitions it does not read",
          "[broker][fetch][session]") {
  // Kafka's broker applies a metadata delta to the partitions it names; a
  // long poll on an idle partition learns nothing from another topic's birth.
  Lab lab;
  const auto full = lab.fetch(0, kInitialFetchEpoch, {Lab::at(0, 3), Lab::at(1, 3)});
  auto parked = lab.start_fetch(full.session_id, 1, {}, 2'000);
  lab.c->run_for_ms(100);
  const ReplicaManager& rm = lab.c->node(lab.leader)->broker()->replica_manager();
  const uint64_t wakeups = rm.metrics().delayed_fetch_wakeups;
  lab.c->create_topic("other", 4, 1);
  REQUIRE(lab.c->wait_for_leader("other", 3) > 0);
  lab.c->run_for_ms(500);
  REQUIRE(rm.metrics().delayed_fetch_wakeups == wakeups);  // never re-run: nothing it reads changed
  REQUIRE_FALSE(parked->has_value());
  REQUIRE(lab.c->run_until([&] { return parked->has_value(); }, 2'000));
  REQUIRE(sim::payload_as<protocol::FetchResponse>((*parked)->payload).partitions.empty());
}

TEST_CASE("a restarted leader has forgotten its fetch sessions", "[broker][fetch][session]") {
  Lab lab;
  const auto full = lab.fetch(0, kInitialFetchEpoch, {Lab::at(0, 3), Lab::at(1, 3)});
  lab.c->crash(lab.leader);
  lab.c->restart(lab.leader);
  REQUIRE(lab.c->wait_for_leader("t", 0) == lab.leader);
  REQUIRE(lab.fetch(full.session_id, 1, {}).error == Errc::FETCH_SESSION_ID_NOT_FOUND);
}

TEST_CASE("with no session slots every fetch stays full", "[broker][fetch][session]") {
  Lab lab(Config::Map{{"max.incremental.fetch.session.cache.slots", "0"}});
  REQUIRE(lab.fetch(0, kInitialFetchEpoch, {Lab::at(0, 3)}).session_id == kInvalidFetchSessionId);
}

TEST_CASE("a full cache evicts only a session unused for two minutes", "[broker][fetch][session]") {
  Lab lab(Config::Map{{"max.incremental.fetch.session.cache.slots", "1"}});
  const auto first = lab.fetch(0, kInitialFetchEpoch, {Lab::at(0, 3), Lab::at(1, 3)});
  REQUIRE(first.session_id != kInvalidFetchSessionId);
  // A smaller consumer session cannot push out a younger, larger one.
  REQUIRE(lab.fetch(0, kInitialFetchEpoch, {Lab::at(0, 3)}).session_id == kInvalidFetchSessionId);
  lab.c->run_for_ms(kFetchSessionEvictionMs + 1'000);
  const auto second = lab.fetch(0, kInitialFetchEpoch, {Lab::at(0, 3)});
  REQUIRE(second.session_id != kInvalidFetchSessionId);
  REQUIRE(lab.fetch(first.session_id, 1, {}).error == Errc::FETCH_SESSION_ID_NOT_FOUND);
}

TEST_CASE("followers replicate through one session per leader", "[broker][fetch][session]") {
  ClusterOptions o;
  o.seed = 3;
  o.brokers = 3;
  o.controllers = 1;
  Cluster c(o);
  c.wait_ready();
  c.create_topic("r", 1, 3);
  const int32_t leader = c.wait_for_leader("r", 0);
  REQUIRE(leader > 0);
  for (int i = 0; i < 20; ++i) REQUIRE(c.produce("r", 0, {"x"}, -1).error == Errc::NONE);  // acks=all
  c.run_for_ms(1'000);
  REQUIRE(c.metrics().at("NumIncrementalFetchSessions") == 2);  // one per follower
  REQUIRE(c.describe_partition("r", 0).isr.size() == 3);

  // After the leader restarts (and leads again or not) the followers open new sessions.
  c.crash(leader);
  c.run_for_ms(15'000);
  c.restart(leader);
  c.run_for_ms(15'000);
  REQUIRE(c.produce("r", 0, {"y"}, -1).error == Errc::NONE);
  REQUIRE(c.describe_partition("r", 0).isr.size() == 3);
  // The old leader's sessions died with it; each follower of the leader now
  // holds one (a leader that followed before also left a session behind on
  // the broker it followed, until evicted: the new leader's follower side
  // stopped, Kafka keeps such sessions too).
  REQUIRE(c.metrics().at("NumIncrementalFetchSessions") >= 2);
}

TEST_CASE("the session handler sends only new and changed partitions and forgets dropped ones", "[broker][fetch][session]") {
  FetchSessionHandler h;
  protocol::FetchRequest req;
  h.build({Lab::at(0, 5), Lab::at(1, 7)}, req);
  REQUIRE(req.session_epoch == kInitialFetchEpoch);
  REQUIRE(req.partitions.size() == 2);
  REQUIRE(h.handle_response(answer(42)));

  h.build({Lab::at(0, 5), Lab::at(1, 9)}, req);
  REQUIRE(req.session_id == 42);
  REQUIRE(req.session_epoch == 1);
  REQUIRE(req.partitions.size() == 1);
  REQUIRE(req.partitions[0].fetch_offset == Offset{9});
  REQUIRE(h.handle_response(answer(42)));

  h.build({Lab::at(1, 9)}, req);
  REQUIRE(req.session_epoch == 2);
  REQUIRE(req.partitions.empty());
  REQUIRE(req.forgotten == std::vector<TopicPartition>{TopicPartition{"t", 0}});

  // A session error: the next fetch is full and closes nothing it does not know.
  REQUIRE_FALSE(h.handle_response(answer(0, Errc::FETCH_SESSION_ID_NOT_FOUND)));
  h.build({Lab::at(1, 9)}, req);
  REQUIRE(req.session_id == kInvalidFetchSessionId);
  REQUIRE(req.session_epoch == kInitialFetchEpoch);
  REQUIRE(req.partitions.size() == 1);
}

TEST_CASE("after a failed fetch the handler closes its session and opens a new one", "[broker][fetch][session]") {
  FetchSessionHandler h;
  protocol::FetchRequest req;
  h.build({Lab::at(0, 5)}, req);
  REQUIRE(h.handle_response(answer(42)));
  h.handle_error();
  h.build({Lab::at(0, 5)}, req);
  REQUIRE(req.session_id == 42);  // the leader drops it
  REQUIRE(req.session_epoch == kInitialFetchEpoch);
  REQUIRE(req.partitions.size() == 1);
}

TEST_CASE("a consumer fetches through one session per broker", "[broker][fetch][session]") {
  ClusterOptions o;
  o.seed = 4;
  o.brokers = 1;
  o.controllers = 1;
  o.config = {{"offsets.topic.num.partitions", "1"}, {"group.initial.rebalance.delay.ms", "0"}};
  Cluster c(o);
  c.wait_ready();
  c.create_topic("s", 2, 1);
  REQUIRE(c.wait_for_leader("s", 0) > 0);
  WorkloadOptions wo;
  wo.name = "w";
  wo.topic = "s";
  wo.new_producers = 1;
  wo.new_consumers = 1;
  wo.rate_per_s = 100;
  auto w = add_workload(c, wo);
  c.run_for_ms(10'000);
  REQUIRE(w->consumed() > 500);
  // The broker leads everything: the consumer's one session (the broker
  // follows nobody, so no follower session).
  REQUIRE(c.metrics().at("NumIncrementalFetchSessions") == 1);
  REQUIRE(c.metrics().at("NumIncrementalFetchPartitionsCached") == 2);
}
