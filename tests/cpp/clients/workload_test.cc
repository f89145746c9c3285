// Workloads: a producer at a fixed rate and a consumer group, as fibers of
// their client nodes; rolling restarts of the clients; determinism.
#include <catch2/catch.hpp>

#include <set>

#include "engine/clients/workload.h"
#include "engine/server/workload_driver.h"

using namespace ksim;
using clients::CommitPolicy;

namespace {

ClusterOptions options(uint64_t seed) {
  ClusterOptions o;
  o.seed = seed;
  o.brokers = 3;
  o.config = {{"offsets.topic.num.partitions", "3"}, {"group.initial.rebalance.delay.ms", "500"}};
  return o;
}

void make_topic(Cluster& c, const std::string& topic, int32_t partitions) {
  c.create_topic(topic, partitions, 3);
  for (int32_t p = 0; p < partitions; ++p) REQUIRE(c.wait_for_leader(topic, p) > 0);
}

WorkloadOptions group_workload(double rate, int64_t duration_ms, CommitPolicy commit) {
  WorkloadOptions o;
  o.name = "wl";
  o.topic = "t";
  o.new_producers = 1;
  o.new_consumers = 3;
  o.rate_per_s = rate;
  o.producer.duration_ms = duration_ms;  // consumers keep polling after the producers stop
  o.producer.key_space = 100;
  o.producer_config = {{"acks", "all"}, {"enable.idempotence", "true"}};
  o.consumer_config = {{"auto.offset.reset", "earliest"}, {"session.timeout.ms", "6000"}, {"heartbeat.interval.ms", "2000"}};
  o.consumer.commit = commit;
  return o;
}

// The distinct values the consumers' polls returned.
std::set<std::string> consumed_values(const Cluster& c) {
  std::set<std::string> out;
  for (const check::OpView& op : c.history().ops())
    if (op.type() == check::OpType::poll)
      for (const check::PolledView& r : op.records()) out.emplace(r.value);
  return out;
}

// Runs in 100 ms steps until every acknowledged record was polled (by value).
bool run_until_all_consumed(Cluster& c, const Workload& w, int64_t timeout_ms) {
  for (int64_t t = 0; t <= timeout_ms; t += 100) {
    if (w.consumed() >= w.acked() && consumed_values(c).size() >= w.acked()) return true;
    c.run_for_ms(100);
  }
  return false;
}

struct Run {
  uint64_t hash = 0;
  uint64_t sent = 0, acked = 0, consumed = 0;
};

Run group_run(uint64_t seed, CommitPolicy commit) {
  Cluster c(options(seed));
  c.wait_ready();
  make_topic(c, "t", 6);
  auto w = add_workload(c, group_workload(1000, 10'000, commit));
  REQUIRE(w->producer_ids().size() == 1);
  REQUIRE(w->consumer_ids().size() == 3);
  c.run_for_ms(10'000);
  // Producers stop at 10 s and flush; then every acknowledged record is consumed.
  REQUIRE(c.run_until([&] { return w->producers_finished(); }, 20'000));
  REQUIRE(run_until_all_consumed(c, *w, 20'000));
  // Exactly rate x duration sends, all acknowledged (no faults).
  CHECK(w->sent() == 10'000);
  CHECK(w->acked() == 10'000);
  CHECK(w->failed() == 0);
  // The group shares the partitions: every member polled records.
  for (const auto& st : w->consumer_states()) CHECK(st->records > 0);
  const std::set<std::string> values = consumed_values(c);
  CHECK(values.size() == 10'000);
  CHECK(values.count("wl-producer-1-0") == 1);
  CHECK(values.count("wl-producer-1-9999") == 1);
  w->stop();
  const check::Verdict v = c.check(CheckOptions{.full_read = true});
  INFO(v.text());
  CHECK(v.ok());
  CHECK(v.stats().acked == 10'000);
  CHECK(v.stats().records_polled >= v.stats().acked);
  if (commit == CommitPolicy::sync || commit == CommitPolicy::async) {
    uint64_t commits = 0;
    for (const check::OpView& op : c.history().ops())
      if (op.type() == check::OpType::commit) {
        CHECK(op.detail() == clients::commit_policy_name(commit));
        ++commits;
      }
    CHECK(commits > 0);
    uint64_t ok = 0;
    for (const auto& st : w->consumer_states()) ok += st->commits_ok;
    CHECK(ok > 0);
  }
  Run r;
  r.hash = c.world().trace().hash();
  r.sent = w->sent();
  r.acked = w->acked();
  r.consumed = w->consumed();
  return r;
}

}  // namespace

TEST_CASE("a producer workload and a 3-consumer group: every acknowledged record is consumed", "[workload]") {
  const Run a = group_run(11, CommitPolicy::auto_commit);
  CHECK(a.consumed >= a.acked);
  SECTION("same seed, same trace") {
    const Run b = group_run(11, CommitPolicy::auto_commit);
    CHECK(a.hash == b.hash);
    CHECK(a.consumed == b.consumed);
  }
}

TEST_CASE("consumer workloads commit synchronously or asynchronously per batch", "[workload]") {
  group_run(12, CommitPolicy::sync);
  group_run(13, CommitPolicy::async);
}

TEST_CASE("the producer schedule: exact rate and jitter and record limits and keys", "[workload]") {
  Cluster c(options(3));
  c.wait_ready();
  make_topic(c, "t", 3);
  auto st = std::make_shared<clients::ProducerWorkloadState>(
      clients::ProducerWorkloadSpec{.topic = "t", .rate_per_s = 200, .jitter = 0.5, .key_space = 4,
                                    .value_bytes = 32, .max_records = 150});
  const int32_t id = c.add_client("p", clients::producer_workload_factory({{"linger.ms", "1"}}, st));
  c.run_for_ms(500);
  // 200/s with jitter: about 100 sends in 500 ms, never more than the limit.
  CHECK(st->next_seq > 70);
  CHECK(st->next_seq < 130);
  REQUIRE(c.run_until([&] { return st->finished; }, 10'000));
  CHECK(st->next_seq == 150);
  CHECK(st->acked == 150);
  std::set<std::string> keys;
  for (const check::OpView& op : c.history().ops()) {
    if (op.type() != check::OpType::send || op.client() != id) continue;
    REQUIRE(op.key().has_value());
    keys.emplace(*op.key());
    CHECK(op.value().size() == 32);
    CHECK(op.value().starts_with("p-"));
  }
  CHECK(keys == std::set<std::string>{"k0", "k1", "k2", "k3"});
}

TEST_CASE("rolling restarts of producers and consumers: workloads resume - nothing acknowledged is lost", "[workload]") {
  Cluster c(options(21));
  c.wait_ready();
  make_topic(c, "t", 6);
  WorkloadOptions o = group_workload(500, 12'000, CommitPolicy::auto_commit);
  o.new_producers = 2;
  auto w = add_workload(c, o);
  c.run_for_ms(3'000);
  std::vector<int32_t> clients = w->producer_ids();
  clients.insert(clients.end(), w->consumer_ids().begin(), w->consumer_ids().end());
  rolling_restart(c, clients, 300, 700);
  for (const auto& st : w->producer_states()) CHECK(st->incarnations == 2);
  for (const auto& st : w->consumer_states()) CHECK(st->incarnations == 2);
  c.run_for_ms(6'000);
  REQUIRE(c.run_until([&] { return w->producers_finished(); }, 20'000));
  // Values stay unique across incarnations: every acked value is one send.
  std::set<std::string> sent_values;
  uint64_t acked_ops = 0;
  for (const check::OpView& op : c.history().ops())
    if (op.type() == check::OpType::send) {
      REQUIRE(sent_values.emplace(op.value()).second);
      if (op.outcome() == check::Outcome::ok) ++acked_ops;
    }
  CHECK(acked_ops == w->acked());
  // While a producer is down its schedule runs on: fewer sends than 12 s x 500/s.
  CHECK(w->sent() < 6'000);
  CHECK(w->sent() > 5'000);
  REQUIRE(run_until_all_consumed(c, *w, 20'000));
  w->stop();
  const check::Verdict v = c.check(CheckOptions{.full_read = true});
  INFO(v.text());
  CHECK(v.ok());
  CHECK(v.stats().records_polled >= v.stats().acked);
}

TEST_CASE("a workload attached to existing clients resumes after their restart", "[workload]") {
  Cluster c(options(31));
  c.wait_ready();
  make_topic(c, "t", 2);
  const int32_t p = c.add_client("prod", [](const clients::ClientContext& ctx) {
    return std::make_shared<clients::KafkaProducer>(ctx, Config::Map{});
  }, "producer");
  const int32_t k = c.add_client("cons", [](const clients::ClientContext& ctx) {
    auto kc = std::make_shared<clients::KafkaConsumer>(ctx, Config::Map{{"group.id", "g"}, {"auto.offset.reset", "earliest"}, {"session.timeout.ms", "6000"}, {"heartbeat.interval.ms", "2000"}});
    kc->subscribe({"t"});
    return kc;
  }, "consumer");
  WorkloadOptions o;
  o.topic = "t";
  o.producers = {p};
  o.consumers = {k};
  o.rate_per_s = 100;
  auto w = add_workload(c, o);
  REQUIRE(w->consumer_states()[0]->spec.topics == std::vector<std::string>{"t"});
  c.run_for_ms(2'000);
  const uint64_t before = w->sent();
  CHECK(before >= 190);
  CHECK(before <= 201);  // a send at both ends of the 2 s window
  rolling_restart(c, {p, k}, 200, 200);
  c.run_for_ms(2'000);
  CHECK(w->producer_states()[0]->incarnations == 2);
  CHECK(w->consumer_states()[0]->incarnations == 2);
  CHECK(w->sent() > before + 150);
  REQUIRE(run_until_all_consumed(c, *w, 20'000));
  WorkloadOptions unknown_client;
  unknown_client.topic = "t";
  unknown_client.producers = {99};
  CHECK_THROWS_AS(add_workload(c, unknown_client), ClusterError);
  WorkloadOptions no_clients;
  no_clients.topic = "t";
  CHECK_THROWS_AS(add_workload(c, no_clients), std::invalid_argument);
}
