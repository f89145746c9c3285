// The producer client's stories: partitioning like Kafka, acks, retries that
// reorder without idempotence, duplicates the broker discards with it (also
// across a leader failover, and not with the planted bug), delivery timeouts
// in the history, config validation, determinism.
#include <catch2/catch.hpp>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "engine/clients/kafka_producer.h"
#include "engine/clients/partitioner.h"
#include "engine/common/node_ids.h"
#include "engine/server/cluster.h"
#include "sim/network.h"

using namespace ksim;
using namespace ksim::clients;

namespace {

struct Setup {
  std::unique_ptr<Cluster> cluster;
  int32_t producer_id = -1;
  std::shared_ptr<KafkaProducer> producer() { return cluster->client<KafkaProducer>(producer_id); }
};

// A 3-broker cluster (combined mode), topic "t" with `partitions` partitions
// (replication factor 3) and one producer client with `producer_config`.
Setup make(uint64_t seed, Config::Map producer_config, Config::Map broker_config = {}, int32_t partitions = 1,
           std::vector<std::vector<int32_t>> assignment = {}) {
  Setup s;
  ClusterOptions o;
  o.seed = seed;
  o.brokers = 3;
  o.config = std::move(broker_config);
  s.cluster = std::make_unique<Cluster>(o);
  s.cluster->wait_ready();
  s.cluster->create_topic("t", assignment.empty() ? partitions : -1, assignment.empty() ? 3 : -1, {}, assignment);
  const int32_t n = assignment.empty() ? partitions : static_cast<int32_t>(assignment.size());
  for (int32_t p = 0; p < n; ++p) REQUIRE(s.cluster->wait_for_leader("t", p) > 0);
  s.producer_id = s.cluster->add_client("producer-1", [producer_config](const ClientContext& ctx) {
    return std::make_shared<KafkaProducer>(ctx, producer_config);
  });
  return s;
}

std::vector<std::string> values_in_log(const Cluster& c, int32_t broker, int32_t partition = 0) {
  std::vector<std::string> out;
  for (const auto& [offset, v] : c.log_contents(broker, "t", partition)) out.push_back(v);
  return out;
}

check::OpView send_op(const Cluster& c, const std::string& value) {
  for (const check::OpView& op : c.history().ops())
    if (op.type() == check::OpType::send && op.value() == value) return op;
  FAIL("no send of " << value << " in the history");
  return c.history().ops().front();
}

ProducerRecord rec(std::string topic, std::string value, std::optional<std::string> key = std::nullopt) {
  ProducerRecord r;
  r.topic = std::move(topic);
  r.value = std::move(value);
  r.key = std::move(key);
  return r;
}

size_t count(const std::vector<std::string>& v, const std::string& x) {
  return static_cast<size_t>(std::count(v.begin(), v.end(), x));
}

sim::RuleId add_rule(Cluster& c, std::optional<int32_t> src, std::optional<int32_t> dst, const std::string& kind,
                     sim::Direction dir, sim::RuleAction action, uint32_t n) {
  auto& net = c.world().network();
  return net.add_rule({.src = src ? std::optional<sim::NodeId>(sim_node_of(*src)) : std::nullopt,
                       .dst = dst ? std::optional<sim::NodeId>(sim_node_of(*dst)) : std::nullopt,
                       .kind = net.kind(kind),
                       .dir = dir},
                      action, n);
}

}  // namespace

TEST_CASE("murmur2 is Kafka's Utils.murmur2 - bit for bit", "[producer][partitioner]") {
  // Kafka's UtilsTest.testMurmur2 vectors.
  CHECK(murmur2("21") == -973932308);
  CHECK(murmur2("foobar") == -790332482);
  CHECK(murmur2("a-little-bit-long-string") == -985981536);
  CHECK(murmur2("a-little-bit-longer-string") == -1486304829);
  CHECK(murmur2("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8") == -58897971);
  CHECK(murmur2("abc") == 479470107);
  CHECK(to_positive(-1) == 0x7fffffff);
  CHECK(to_positive(std::numeric_limits<int32_t>::min()) == 0);
}

TEST_CASE("a keyed record lands where the Java client would put it", "[producer][partitioner]") {
  // toPositive(murmur2(key)) % numPartitions, computed from Kafka's algorithm.
  CHECK(partition_for_key("foobar", 10) == 6);
  CHECK(partition_for_key("a-little-bit-longer-string", 6) == 5);
  CHECK(partition_for_key("abc", 10) == 7);
  CHECK(partition_for_key("orders-42", 10) == 7);
  CHECK(partition_for_key("user-7", 6) == 2);
  CHECK(partition_for_key("key-2", 3) == 2);

  // And through a real producer: every record of one key goes to its partition.
  Setup s = make(11, {{"linger.ms", "0"}}, {}, 6);
  auto p = s.producer();
  std::vector<SendFuture> fs;
  for (const std::string k : {"foobar", "user-7", "abc", "user-7"})
    fs.push_back(p->send(rec("t", "v-" + k, k)));
  REQUIRE(p->flush(10'000) == 0);
  CHECK(fs[0]->metadata.tp.partition == 0);  // toPositive(-790332482) % 6
  CHECK(fs[1]->metadata.tp.partition == 2);
  CHECK(fs[2]->metadata.tp.partition == 3);
  CHECK(fs[3]->metadata.tp.partition == 2);
  for (const auto& f : fs) CHECK(f->error == Errc::NONE);
  // A null key sticks to one partition while its batch fills (KIP-480/794).
  std::vector<SendFuture> keyless;
  for (int i = 0; i < 5; ++i) keyless.push_back(p->send(rec("t", "n" + std::to_string(i))));
  REQUIRE(p->flush(10'000) == 0);
  for (const auto& f : keyless) CHECK(f->metadata.tp.partition == keyless.front()->metadata.tp.partition);
}

TEST_CASE("RoundRobinPartitioner and a user partitioner", "[producer][partitioner]") {
  RoundRobinPartitioner rr;
  PartitionView view{3, {0, 1, 2}};
  CHECK(rr.partition("t", view) == 0);
  CHECK(rr.partition("t", view) == 1);
  CHECK(rr.partition("t", view) == 2);
  CHECK(rr.partition("t", view) == 0);
  PartitionView degraded{3, {0, 2}};  // partition 1 has no leader: skipped
  CHECK(rr.partition("u", degraded) == 0);
  CHECK(rr.partition("u", degraded) == 2);

  Setup s = make(12, {{"partitioner.class", "org.apache.kafka.clients.producer.RoundRobinPartitioner"},
                      {"linger.ms", "0"}},
                 {}, 3);
  auto p = s.producer();
  std::vector<SendFuture> fs;
  for (int i = 0; i < 6; ++i) fs.push_back(p->send(rec("t", std::to_string(i), "same")));
  REQUIRE(p->flush(10'000) == 0);
  for (int i = 0; i < 6; ++i) CHECK(fs[static_cast<size_t>(i)]->metadata.tp.partition == i % 3);

  // A user partitioner (the Python bindings' callable).
  auto& c = *s.cluster;
  const int32_t id = c.add_client("producer-2", [](const ClientContext& ctx) {
    ProducerOptions opts;
    opts.partitioner = [](const std::string&, const std::optional<std::string>& key, const std::string&, int32_t n) {
      return static_cast<int32_t>(key ? key->size() % static_cast<size_t>(n) : 0);
    };
    return std::make_shared<KafkaProducer>(ctx, Config::Map{{"linger.ms", "0"}}, opts);
  });
  auto q = c.client<KafkaProducer>(id);
  auto f = q->send(rec("t", "u", std::string("xxxxx")));
  REQUIRE(q->flush(10'000) == 0);
  CHECK(f->metadata.tp.partition == 2);  // 5 % 3
}

TEST_CASE("config validation fails the way Kafka's does - naming the key", "[producer][config]") {
  try {
    (void)Config::parse(kProducer, {{"enable.idempotence", "true"}, {"acks", "1"}});
    FAIL("idempotence with acks=1 must be refused");
  } catch (const ConfigError& e) {
    CHECK(e.key() == "acks");
    CHECK(std::string(e.what()).find("acks") != std::string::npos);
  }
  // KIP-679: without an explicit enable.idempotence, acks=1 quietly turns it off.
  const Config quiet = Config::parse(kProducer, {{"acks", "1"}});
  CHECK_FALSE(quiet.get_bool("enable.idempotence"));
  CHECK_THROWS_AS(Config::parse(kProducer, {{"enable.idempotence", "true"},
                                            {"max.in.flight.requests.per.connection", "6"}}),
                  ConfigError);
  // The producer itself refuses to start with such a config.
  ClusterOptions o;
  o.seed = 13;
  Cluster c(o);
  c.wait_ready();
  sim::NodeId n = c.add_client_node("bad-producer");
  ClientContext ctx{&c.world(), n, "bad-producer", c.broker_ids(), nullptr};
  try {
    KafkaProducer p(ctx, {{"enable.idempotence", "true"}, {"acks", "0"}});
    FAIL("the producer must not start");
  } catch (const ConfigError& e) {
    CHECK(e.key() == "acks");
  }
  try {
    KafkaProducer p(ctx, {{"partitioner.class", "com.example.Nope"}});
    FAIL("an unknown partitioner must be refused");
  } catch (const ConfigError& e) {
    CHECK(e.key() == "partitioner.class");
  }
}

TEST_CASE("acks=0 and 1 and all deliver - the history has every send", "[producer][acks]") {
  for (const std::string acks : {"0", "1", "all"}) {
    DYNAMIC_SECTION("acks=" << acks) {
      Setup s = make(14, {{"acks", acks}, {"linger.ms", "2"}});
      auto p = s.producer();
      CHECK(p->idempotent() == (acks == "all"));
      std::vector<SendFuture> fs;
      for (int i = 0; i < 10; ++i) fs.push_back(p->send(rec("t", acks + "-" + std::to_string(i))));
      REQUIRE(p->flush(10'000) == 0);
      Cluster& c = *s.cluster;
      c.run_for_ms(500);  // acks=0: let the fire-and-forget request land
      const int32_t leader = c.describe_partition("t", 0).leader;
      const auto log = values_in_log(c, leader);
      REQUIRE(log.size() == 10);
      for (int i = 0; i < 10; ++i) {
        const auto& f = fs[static_cast<size_t>(i)];
        CHECK(f->done);
        CHECK(f->error == Errc::NONE);
        CHECK(log[static_cast<size_t>(i)] == acks + "-" + std::to_string(i));  // send order is log order
        if (acks == "0")
          CHECK(f->metadata.offset == kNoOffset);  // nobody told us
        else
          CHECK(f->metadata.offset == Offset{i});
        const check::OpView& op = send_op(c, acks + "-" + std::to_string(i));
        CHECK(op.outcome() == check::Outcome::ok);
        CHECK(op.tp() == TopicPartition{"t", 0});
        CHECK(op.acks() == (acks == "all" ? -1 : std::stoi(acks)));
        CHECK(op.idempotent() == (acks == "all"));
        CHECK(op.offset() == f->metadata.offset);
        if (acks != "0") CHECK(op.leader() == leader);
      }
      if (acks == "all") {
        REQUIRE(p->producer_id());
        CHECK(p->producer_id()->first.value >= 0);
      }
      p->close();
      CHECK(p->closed());
      CHECK_THROWS_AS(p->send(rec("t", "late")), std::logic_error);
    }
  }
}

TEST_CASE("without idempotence - a retried batch lands after a later one (reordering)", "[producer][retries]") {
  // The first Produce request is lost; the second batch is acknowledged; the
  // first times out (request.timeout.ms), is retried and lands after it.
  Setup s = make(15, {{"enable.idempotence", "false"},
                      {"max.in.flight.requests.per.connection", "5"},
                      {"linger.ms", "0"},
                      {"request.timeout.ms", "1000"}});
  Cluster& c = *s.cluster;
  auto p = s.producer();
  REQUIRE(p->flush(5'000) == 0);
  c.run_for_ms(200);  // metadata known
  const int32_t leader = c.describe_partition("t", 0).leader;
  const sim::RuleId lose = add_rule(c, s.producer_id, leader, "Produce", sim::Direction::request, sim::RuleAction::drop, 1);
  auto a = p->send(rec("t", "a"));
  c.run_for_ms(20);
  REQUIRE(c.world().network().matched_count(lose) == 1);
  auto b = p->send(rec("t", "b"));
  REQUIRE(p->flush(10'000) == 0);
  CHECK(a->error == Errc::NONE);
  CHECK(b->error == Errc::NONE);
  CHECK(b->metadata.offset == Offset{0});
  CHECK(a->metadata.offset == Offset{1});
  CHECK(values_in_log(c, leader) == std::vector<std::string>{"b", "a"});  // reversed relative to send order
  CHECK(p->stats().retries >= 1);
  CHECK(send_op(c, "a").outcome() == check::Outcome::ok);
  CHECK(send_op(c, "a").offset() == Offset{1});
}

namespace {

// Idempotence: the first Produce response is lost; the retry is a duplicate
// the leader recognises (same producer id, epoch and sequence) — unless the
// planted bug makes it append the batch again.
std::vector<std::string> lost_response_story(bool bug) {
  Setup s = make(16, {{"linger.ms", "0"}, {"request.timeout.ms", "1000"}},
                 {{"ksim.bug.skip.idempotent.dedupe", bug ? "true" : "false"}});
  Cluster& c = *s.cluster;
  auto p = s.producer();
  c.run_for_ms(500);  // producer id and metadata
  REQUIRE(p->producer_id());
  const int32_t leader = c.describe_partition("t", 0).leader;
  const sim::RuleId lose =
      add_rule(c, leader, s.producer_id, "ProduceResponse", sim::Direction::response, sim::RuleAction::drop, 1);
  auto a = p->send(rec("t", "a"));
  REQUIRE(p->flush(10'000) == 0);
  REQUIRE(c.world().network().matched_count(lose) == 1);
  CHECK(a->error == Errc::NONE);
  // Deduped: the ORIGINAL append's offset; with the bug the retry is a new append.
  CHECK(a->metadata.offset == Offset{bug ? 1 : 0});
  auto b = p->send(rec("t", "b"));
  REQUIRE(p->flush(10'000) == 0);
  CHECK(b->error == Errc::NONE);
  CHECK(p->stats().retries >= 1);
  CHECK(send_op(c, "a").outcome() == check::Outcome::ok);
  c.run_for_ms(500);
  return values_in_log(c, leader);
}

// Idempotence across a leader failover: the append is replicated, its
// response lost, the leader crashes; the retry goes to the new leader, which
// knows the producer's sequences from replication and discards it.
std::vector<std::string> failover_story(bool bug, int32_t* new_leader_out, Cluster** keep, Setup* holder) {
  *holder = make(17, {{"linger.ms", "0"}, {"request.timeout.ms", "3000"}},
                 {{"ksim.bug.skip.idempotent.dedupe", bug ? "true" : "false"}, {"min.insync.replicas", "2"}});
  Cluster& c = *holder->cluster;
  *keep = &c;
  auto p = holder->producer();
  c.run_for_ms(500);
  REQUIRE(p->producer_id());
  const int32_t leader = c.describe_partition("t", 0).leader;
  const sim::RuleId lose = add_rule(c, leader, holder->producer_id, "ProduceResponse", sim::Direction::response,
                                    sim::RuleAction::drop, 1);
  auto a = p->send(rec("t", "a"));
  // acks=all: the response is sent (and lost) only once the ISR has the batch.
  REQUIRE(c.run_until([&] { return c.world().network().matched_count(lose) == 1; }, 10'000));
  c.crash(leader);
  REQUIRE(c.run_until([&] { return a->done; }, 60'000));
  CHECK(a->error == Errc::NONE);
  CHECK(a->metadata.offset == Offset{bug ? 1 : 0});
  const int32_t new_leader = c.describe_partition("t", 0).leader;
  REQUIRE(new_leader > 0);
  CHECK(new_leader != leader);
  CHECK(a->metadata.leader == new_leader);
  *new_leader_out = new_leader;
  c.run_for_ms(1'000);
  return values_in_log(c, new_leader);
}

}  // namespace

TEST_CASE("idempotence: a retry after a lost response is not appended twice", "[producer][idempotence]") {
  const auto log = lost_response_story(false);
  CHECK(log == std::vector<std::string>{"a", "b"});
}

TEST_CASE("planted bug ksim.bug.skip.idempotent.dedupe: the same story duplicates", "[producer][idempotence][bug]") {
  const auto log = lost_response_story(true);
  CHECK(count(log, "a") == 2);
  CHECK(log == std::vector<std::string>{"a", "a", "b"});
}

TEST_CASE("idempotence across a leader failover: the new leader dedupes the retry", "[producer][idempotence]") {
  int32_t new_leader = -1;
  Cluster* c = nullptr;
  Setup s;
  const auto log = failover_story(false, &new_leader, &c, &s);
  CHECK(log == std::vector<std::string>{"a"});
  // The follower built the producer state from replication.
  const auto* part = c->node(new_leader)->broker()->replica_manager().get({"t", 0});
  REQUIRE(part);
  const auto pid = s.producer()->producer_id();
  REQUIRE(pid);
  const auto entry = part->log().producer_state().entry(pid->first);
  REQUIRE(entry);
  CHECK(entry->batches.size() == 1);
  CHECK(entry->batches.front().first_seq == 0);
  CHECK(entry->batches.front().first_offset == Offset{0});
}

TEST_CASE("planted bug: across a failover the retry is appended again", "[producer][idempotence][bug]") {
  int32_t new_leader = -1;
  Cluster* c = nullptr;
  Setup s;
  const auto log = failover_story(true, &new_leader, &c, &s);
  CHECK(count(log, "a") == 2);
}

TEST_CASE("delivery.timeout.ms: a batch sent (maybe written) is info - one never sent is fail", "[producer][timeout]") {
  // max.in.flight = 1: the second batch waits behind the first, whose
  // requests are all held. Both expire: the first was sent (info), the second
  // never left the accumulator (fail).
  Setup s = make(18, {{"max.in.flight.requests.per.connection", "1"},
                      {"linger.ms", "0"},
                      {"request.timeout.ms", "1000"},
                      {"delivery.timeout.ms", "2500"}});
  Cluster& c = *s.cluster;
  auto p = s.producer();
  c.run_for_ms(500);
  const int32_t leader = c.describe_partition("t", 0).leader;
  const sim::RuleId hold =
      add_rule(c, s.producer_id, leader, "Produce", sim::Direction::request, sim::RuleAction::hold, 0);
  std::vector<std::pair<RecordMetadata, Errc>> callbacks;
  auto a = p->send(rec("t", "a"), [&](const RecordMetadata& md, Errc e) { callbacks.emplace_back(md, e); });
  c.run_for_ms(10);
  auto b = p->send(rec("t", "b"), [&](const RecordMetadata& md, Errc e) { callbacks.emplace_back(md, e); });
  CHECK(p->flush(10'000) == 0);  // both completed (with errors)
  CHECK(a->error == Errc::DELIVERY_TIMEOUT);
  CHECK(b->error == Errc::DELIVERY_TIMEOUT);
  REQUIRE(callbacks.size() == 2);
  CHECK(callbacks[0].second == Errc::DELIVERY_TIMEOUT);
  CHECK(send_op(c, "a").outcome() == check::Outcome::info);
  CHECK(send_op(c, "b").outcome() == check::Outcome::fail);
  CHECK(send_op(c, "b").error() == Errc::DELIVERY_TIMEOUT);
  CHECK(p->stats().expired_batches == 2);
  c.world().network().discard(hold);
  // The producer goes on afterwards (idempotence: epoch bumped for the unresolved sequence).
  auto d = p->send(rec("t", "d"));
  REQUIRE(p->flush(10'000) == 0);
  CHECK(d->error == Errc::NONE);
  CHECK(values_in_log(c, leader) == std::vector<std::string>{"d"});
}

TEST_CASE("send() blocks at most max.block.ms for an unknown topic - then fails", "[producer][timeout]") {
  Setup s = make(19, {{"max.block.ms", "300"}}, {{"auto.create.topics.enable", "false"}});
  Cluster& c = *s.cluster;
  auto p = s.producer();
  const int64_t t0 = c.now_ms();
  auto f = p->send(rec("nope", "x"));
  CHECK(f->done);
  CHECK(f->error == Errc::DELIVERY_TIMEOUT);
  CHECK(c.now_ms() - t0 >= 300);
  CHECK(send_op(c, "x").outcome() == check::Outcome::fail);
}

TEST_CASE("a send to an unknown topic creates it (auto.create.topics.enable) with the broker's defaults",
          "[producer][metadata]") {
  Setup s = make(19, {{"max.block.ms", "5000"}}, {{"num.partitions", "2"}, {"default.replication.factor", "3"}});
  Cluster& c = *s.cluster;
  auto p = s.producer();
  auto f = p->send(rec("orders", "first"));
  REQUIRE(p->flush(10'000) == 0);
  REQUIRE(f->done);
  REQUIRE(f->error == Errc::NONE);
  const auto parts = c.describe_topic("orders");
  REQUIRE(parts.size() == 2);               // num.partitions
  REQUIRE(parts[0].replicas.size() == 3);   // default.replication.factor
  auto bad = p->send(rec("no spaces allowed", "x"));
  REQUIRE(bad->done);
  REQUIRE(bad->error == Errc::INVALID_TOPIC_EXCEPTION);  // refused at once, not after max.block.ms
}

TEST_CASE("a crashed producer leaves its pending sends as info", "[producer][crash]") {
  Setup s = make(20, {{"linger.ms", "1000"}});
  Cluster& c = *s.cluster;
  auto p = s.producer();
  c.run_for_ms(300);
  p->send(rec("t", "pending"));
  p.reset();
  c.crash(s.producer_id);
  c.run_for_ms(10);
  CHECK(send_op(c, "pending").outcome() == check::Outcome::info);
}

TEST_CASE("producer ids come from controller blocks: unique across brokers and restarts", "[producer][idempotence]") {
  Setup s = make(21, {{"linger.ms", "0"}});
  Cluster& c = *s.cluster;
  std::vector<int64_t> ids;
  for (int i = 0; i < 4; ++i) {
    const int32_t id = c.add_client("p" + std::to_string(i), [](const ClientContext& ctx) {
      return std::make_shared<KafkaProducer>(ctx, Config::Map{});
    });
    auto p = c.client<KafkaProducer>(id);
    REQUIRE(c.run_until([&] { return p->producer_id().has_value(); }, 10'000));
    ids.push_back(p->producer_id()->first.value);
    if (i == 1) {  // restart every broker: their blocks are forgotten, never reused
      for (int32_t b : c.broker_ids()) c.crash(b);
      for (int32_t b : c.broker_ids()) c.restart(b);
      c.wait_ready();
    }
  }
  std::vector<int64_t> sorted = ids;
  std::sort(sorted.begin(), sorted.end());
  CHECK(std::adjacent_find(sorted.begin(), sorted.end()) == sorted.end());
}

TEST_CASE("a producer run is deterministic: same seed - same trace", "[producer][determinism]") {
  auto story = [](uint64_t seed) {
    Setup s = make(seed, {{"linger.ms", "3"}, {"request.timeout.ms", "1000"}}, {}, 3);
    Cluster& c = *s.cluster;
    auto p = s.producer();
    for (int i = 0; i < 50; ++i) {
      p->send(rec("t", "v" + std::to_string(i),
                  i % 3 ? std::optional<std::string>("k" + std::to_string(i % 7)) : std::nullopt));
      if (i == 20) c.crash(c.describe_partition("t", 1).leader);
      c.run_for_ms(7);
    }
    p->flush(60'000);
    c.run_for_ms(2'000);
    return c.world().trace().hash();
  };
  const uint64_t h = story(33);
  CHECK(h == story(33));
  CHECK(h != story(34));
}

TEST_CASE("ProducerStateManager: dedupe and stale epoch and gaps and truncation and retention", "[producer][broker]") {
  using storage::BatchParams;
  using storage::RecordBatch;
  using storage::ProducerStateManager;
  // A batch of `n` records of producer 7 at `offset` with `epoch` / `seq`.
  auto batch = [](int64_t offset, int16_t epoch, int32_t seq, int n) {
    BatchParams bp;
    bp.producer_id = ProducerId{7};
    bp.producer_epoch = ProducerEpoch{epoch};
    bp.base_sequence = seq;
    std::vector<storage::Record> rs(static_cast<size_t>(n));
    for (auto& r : rs) r.value = storage::Bytes{'x'};
    return RecordBatch::build(bp, rs)->with_base_offset_and_epoch(Offset{offset}, LeaderEpoch{0});
  };
  ProducerStateManager psm;
  // Unknown producer: any sequence is accepted (Kafka 4.0).
  CHECK(psm.check(*batch(0, 0, 5, 1)).error == Errc::NONE);
  psm.update(*batch(0, 0, 0, 2));  // seq 0-1 at offsets 0-1
  psm.update(*batch(2, 0, 2, 3));  // seq 2-4 at offsets 2-4
  const auto dup = psm.check(*batch(99, 0, 2, 3));
  REQUIRE(dup.duplicate);
  CHECK(dup.duplicate->first_offset == Offset{2});
  CHECK(dup.duplicate->last_offset == Offset{4});
  CHECK(psm.check(*batch(5, 0, 5, 1)).error == Errc::NONE);                           // next in sequence
  CHECK(psm.check(*batch(5, 0, 7, 1)).error == Errc::OUT_OF_ORDER_SEQUENCE_NUMBER);   // gap
  CHECK(psm.check(*batch(5, 1, 3, 1)).error == Errc::OUT_OF_ORDER_SEQUENCE_NUMBER);   // new epoch must start at 0
  CHECK(psm.check(*batch(5, 1, 0, 1)).error == Errc::NONE);                           // KIP-360 bump
  psm.update(*batch(5, 1, 0, 1));
  CHECK(psm.check(*batch(6, 0, 5, 1)).error == Errc::INVALID_PRODUCER_EPOCH);          // stale epoch
  // Only the last 5 batches are remembered.
  for (int i = 0; i < 6; ++i) psm.update(*batch(6 + i, 1, 1 + i, 1));
  CHECK(psm.entry(ProducerId{7})->batches.size() == storage::kNumBatchesToRetain);
  CHECK(psm.entry(ProducerId{7})->batches.front().first_seq == 2);
  // Truncation rebuilds from what remains (offsets < 8: epoch 1, seq 0..2).
  psm.truncate_to(Offset{8});
  CHECK(psm.entry(ProducerId{7})->last_seq() == 2);
  CHECK(psm.check(*batch(8, 1, 3, 1)).error == Errc::NONE);
  // Retention keeps the effect of deleted batches (the base state).
  psm.on_log_start_offset(Offset{7});
  CHECK(psm.journal_size() == 1);
  psm.truncate_to(Offset{7});
  CHECK(psm.entry(ProducerId{7})->last_seq() == 1);
  CHECK(psm.entry(ProducerId{7})->epoch == ProducerEpoch{1});
}

TEST_CASE("a dead leader spends no retries: with retries=1 a send waits for the new leader", "[producer][retries]") {
  // Kafka drains batches only to brokers NetworkClient.ready() accepts: a
  // refused connection costs no attempt (the reconnect backoff applies) and
  // the batch waits for metadata naming the new leader, bounded by
  // delivery.timeout.ms. Only a request in flight when the broker died fails.
  Setup s = make(21, {{"retries", "1"}, {"linger.ms", "0"}, {"delivery.timeout.ms", "60000"}});
  Cluster& c = *s.cluster;
  auto p = s.producer();
  auto warm = p->send(rec("t", "warm"));
  REQUIRE(p->flush(10'000) == 0);
  REQUIRE(warm->error == Errc::NONE);
  const int32_t old_leader = c.describe_partition("t", 0).leader;
  c.crash(old_leader);
  auto a = p->send(rec("t", "a"));  // the producer still names the dead leader
  REQUIRE(p->flush(30'000) == 0);
  CHECK(a->error == Errc::NONE);
  const int32_t new_leader = c.describe_partition("t", 0).leader;
  REQUIRE(new_leader != old_leader);
  CHECK(count(values_in_log(c, new_leader), "a") == 1);
  CHECK(c.world().probes().count("producer: connection refused, batches wait (no attempt spent)") == 1);
}

TEST_CASE("the request in flight when the leader dies spends a retry - the dead broker spends no more", "[producer][retries]") {
  // retries=2: the request in flight fails (one retry), and the first send
  // to the new leader may still meet NOT_LEADER_OR_FOLLOWER if the client's
  // metadata came from a broker that applied the election before the new
  // leader did (Kafka has the same race). The refused connections to the
  // dead broker in between spend nothing.
  Setup s = make(22, {{"retries", "2"}, {"linger.ms", "0"}, {"delivery.timeout.ms", "60000"}});
  Cluster& c = *s.cluster;
  auto p = s.producer();
  c.run_for_ms(500);
  const int32_t old_leader = c.describe_partition("t", 0).leader;
  // Its request reaches the leader, which dies before answering.
  const sim::RuleId hold =
      add_rule(c, old_leader, s.producer_id, "ProduceResponse", sim::Direction::response, sim::RuleAction::hold, 0);
  auto a = p->send(rec("t", "a"));
  c.run_for_ms(20);
  c.crash(old_leader);
  REQUIRE(p->flush(30'000) == 0);
  c.world().network().discard(hold);
  CHECK(a->error == Errc::NONE);
  CHECK(p->stats().retries >= 1);
  CHECK(p->stats().retries <= 2);
  CHECK(c.world().probes().count("producer: connection refused, batches wait (no attempt spent)") == 1);
  const int32_t new_leader = c.describe_partition("t", 0).leader;
  CHECK(count(values_in_log(c, new_leader), "a") == 1);
}

TEST_CASE("acks=0 sends nothing into a refused connection - the batch waits for the new leader", "[producer][acks]") {
  // Kafka's acks=0 loses what was on the wire when the leader died, not
  // everything after: a connection to a dead broker is refused before a byte
  // is sent, the disconnect asks for metadata, and the batch goes to the new
  // leader once the metadata names it.
  Setup s = make(23, {{"acks", "0"}, {"enable.idempotence", "false"}, {"linger.ms", "0"}});
  Cluster& c = *s.cluster;
  auto p = s.producer();
  auto warm = p->send(rec("t", "warm"));
  REQUIRE(p->flush(10'000) == 0);
  const int32_t old_leader = c.describe_partition("t", 0).leader;
  c.crash(old_leader);
  auto a = p->send(rec("t", "a"));
  REQUIRE(p->flush(30'000) == 0);
  CHECK(a->error == Errc::NONE);
  c.run_for_ms(1'000);
  const int32_t new_leader = c.describe_partition("t", 0).leader;
  REQUIRE(new_leader != old_leader);
  CHECK(count(values_in_log(c, new_leader), "a") == 1);
}
