// Checker validation with planted client-facing engine bugs (ksim.bug.*), the
// client half of the planted-bug table (tests/cpp/cluster/planted_bug_test.cc
// has the replication half). Each bug, run over seeds with workloads and the
// faults that expose it, must be reported as the matching anomaly
// (sensitivity); the same seeds and workloads without the bug must report no
// violation (specificity). Prints the table bug -> seeds run -> caught -> first seed.
//
//   ksim.bug.read.past.hw           consumers read above the HW while followers starve -> uncommitted-read
//   ksim.bug.skip.idempotent.dedupe retried idempotent batches (lost ProduceResponses)  -> duplicate
//   ksim.bug.skip.generation.check  a paused (evicted) member's commit is accepted      -> poll-skip (group level)
#include <catch2/catch.hpp>

#include <cstdio>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "engine/clients/kafka_consumer.h"
#include "engine/common/node_ids.h"
#include "engine/server/cluster.h"
#include "engine/server/workload_driver.h"

using namespace ksim;
using clients::CommitPolicy;
using clients::KafkaConsumer;

namespace {

constexpr uint64_t kSeeds = 10;

ClusterOptions options(uint64_t seed, const std::string& bug) {
  ClusterOptions o;
  o.seed = seed;
  o.brokers = 3;
  o.config = {{"offsets.topic.num.partitions", "3"},
              {"group.initial.rebalance.delay.ms", "200"},
              {"group.min.session.timeout.ms", "1000"},
              {"min.insync.replicas", "2"},
              {"replica.lag.time.max.ms", "3000"}};
  if (!bug.empty()) o.config[bug] = "true";
  return o;
}

void make_topic(Cluster& c, const std::string& topic, int32_t partitions) {
  c.create_topic(topic, partitions, 3);
  for (int32_t p = 0; p < partitions; ++p) REQUIRE(c.wait_for_leader(topic, p) > 0);
}

const Config::Map kProducerConfig = {{"acks", "all"},
                               {"enable.idempotence", "true"},
                               {"linger.ms", "5"},
                               {"request.timeout.ms", "1000"},
                               {"delivery.timeout.ms", "20000"}};
const Config::Map kConsumerConfig = {{"auto.offset.reset", "earliest"},
                               {"session.timeout.ms", "2000"},
                               {"heartbeat.interval.ms", "500"}};

// A producer (acks=all, idempotent) and a consumer group committing synchronously.
WorkloadOptions workload(double rate, int32_t consumers) {
  WorkloadOptions o;
  o.name = "wl";
  o.topic = "t";
  o.new_producers = 1;
  o.new_consumers = consumers;
  o.rate_per_s = rate;
  o.producer.key_space = 50;
  o.producer_config = kProducerConfig;
  o.consumer_config = kConsumerConfig;
  o.consumer.commit = CommitPolicy::sync;
  return o;
}

// Holds the Fetch responses of `leader` to the other brokers (not to clients):
// the followers fall behind, the HW stops while the leader keeps appending.
std::vector<sim::RuleId> starve_followers(Cluster& c, int32_t leader) {
  sim::Network& net = c.world().network();
  std::vector<sim::RuleId> rules;
  for (int32_t b : c.broker_ids())
    if (b != leader)
      rules.push_back(net.add_rule({.src = sim_node_of(leader), .dst = sim_node_of(b), .kind = net.kind("FetchResponse"),
                                    .dir = sim::Direction::response},
                                   sim::RuleAction::hold, 0));
  return rules;
}

// ---- ksim.bug.read.past.hw ----------------------------------------------------------------------

check::Verdict run_read_past_hw(uint64_t seed, const std::string& bug) {
  Cluster c(options(seed, bug));
  c.wait_ready();
  make_topic(c, "t", 3);
  auto w = add_workload(c, workload(300, 2));
  sim::Rng rng = c.world().rng("test/read-past-hw");
  c.run_for_ms(1'500);
  for (int round = 0; round < 3; ++round) {
    const int32_t leader = c.leader_of("t", static_cast<int32_t>(rng.uniform(3)));
    std::vector<sim::RuleId> rules;
    if (leader > 0) rules = starve_followers(c, leader);
    c.run_for_ms(300 + static_cast<int64_t>(rng.uniform(1'500)));
    // Sometimes the starved leader crashes: what it appended above the HW is
    // truncated by the new leader (a consumer that read it saw a phantom).
    const bool crash = leader > 0 && rng.uniform(3) == 0;
    if (crash) c.crash(leader);
    for (sim::RuleId r : rules) c.world().network().release(r);
    c.run_for_ms(500 + static_cast<int64_t>(rng.uniform(1'000)));
    if (crash) {
      c.restart(leader);
      c.run_for_ms(500);
    }
  }
  w->stop();
  return c.check();
}

// ---- ksim.bug.skip.idempotent.dedupe ------------------------------------------------------------

check::Verdict run_dedupe(uint64_t seed, const std::string& bug) {
  Cluster c(options(seed, bug));
  c.wait_ready();
  make_topic(c, "t", 3);
  auto w = add_workload(c, workload(300, 2));
  sim::Rng rng = c.world().rng("test/dedupe");
  sim::Network& net = c.world().network();
  c.run_for_ms(1'000);
  for (int round = 0; round < 3; ++round) {
    // A leader's ProduceResponses are lost for a while (longer than the
    // producer's request.timeout.ms): the producer times out, closes the
    // connection and retries every in-flight batch with the same producer id,
    // epoch and sequence numbers -- duplicates the broker must recognise.
    const int32_t leader = c.leader_of("t", static_cast<int32_t>(rng.uniform(3)));
    std::optional<sim::RuleId> lose;
    if (leader > 0)
      lose = net.add_rule({.src = sim_node_of(leader), .dst = std::nullopt, .kind = net.kind("ProduceResponse"),
                           .dir = sim::Direction::response},
                          sim::RuleAction::drop, 0);
    // Sometimes the leader also crashes meanwhile: the retries go to the new
    // leader, which knows the producer's sequences from replication.
    const bool crash = leader > 0 && rng.uniform(3) == 0;
    const int64_t window = 800 + static_cast<int64_t>(rng.uniform(1'500));
    const int64_t crash_at = crash ? 300 + static_cast<int64_t>(rng.uniform(static_cast<uint64_t>(window - 300))) : window;
    c.run_for_ms(crash_at);
    if (crash) c.crash(leader);
    c.run_for_ms(window - crash_at);
    if (lose) net.remove_rule(*lose);
    c.run_for_ms(500 + static_cast<int64_t>(rng.uniform(1'000)));
    if (crash) {
      c.restart(leader);
      c.run_for_ms(500);
    }
  }
  w->stop();
  return c.check();
}

// ---- ksim.bug.skip.generation.check -------------------------------------------------------------
//
// Two members Z and B own one partition each. Z polls a few records at a time
// (the rest of its fetch stays buffered), commits, and is paused past its
// session timeout: the group evicts it and B takes over Z's partition from
// Z's committed offset, consuming (and committing) only a little. Z resumes,
// its next poll returns buffered records (Z still believes it is in the old
// generation: a zombie) and it commits them. Kafka refuses that commit
// (UNKNOWN_MEMBER_ID / ILLEGAL_GENERATION); with the bug it is accepted, and
// after the next rebalance (a third member joins) the partition's new owner
// starts from the zombie's offset: the records between what B consumed and
// that offset never reached a live member.

std::shared_ptr<KafkaConsumer> consumer(Cluster& c, int32_t id) { return c.client<KafkaConsumer>(id); }

int32_t add_member(Cluster& c, const std::string& name) {
  Config::Map cfg = kConsumerConfig;
  cfg["group.id"] = "g";
  cfg["enable.auto.commit"] = "false";
  return c.add_client(name, [cfg](const clients::ClientContext& ctx) -> std::shared_ptr<void> {
    auto k = std::make_shared<KafkaConsumer>(ctx, cfg);
    k->subscribe({"t"});
    return k;
  });
}

// poll + commit_sync of a non-empty batch (the `sync` commit policy); false if the commit failed.
bool poll_and_commit(KafkaConsumer& k, int64_t timeout_ms, int32_t max_records, bool commit = true) {
  try {
    if (!k.poll(timeout_ms, max_records).empty() && commit) k.commit_sync();
    return true;
  } catch (const clients::KafkaException&) {
    return false;  // CommitFailedException and friends: the member rejoins at its next poll
  }
}

check::Verdict run_generation(uint64_t seed, const std::string& bug) {
  Cluster c(options(seed, bug));
  c.wait_ready();
  make_topic(c, "t", 2);
  WorkloadOptions wo = workload(200, 0);
  auto w = add_workload(c, wo);
  sim::Rng rng = c.world().rng("test/generation");
  c.run_for_ms(1'500);  // a backlog: Z's fetches bring more than it polls
  const int32_t z = add_member(c, "zombie");
  const int32_t b = add_member(c, "b");
  const int32_t per_poll = 1 + static_cast<int32_t>(rng.uniform(4));
  // Phase 1: both members of generation N, one partition each, consuming and committing.
  uint64_t z_polls = 0;
  const uint64_t z_target = 2 + rng.uniform(4);
  for (int i = 0; i < 200 && z_polls < z_target; ++i) {
    auto zk = consumer(c, z);
    const bool one_each = zk->assignment().size() == 1 && consumer(c, b)->assignment().size() == 1;
    try {
      const auto recs = zk->poll(50, per_poll);
      if (!recs.empty()) {
        zk->commit_sync();
        if (one_each) ++z_polls;
      }
    } catch (const clients::KafkaException&) {
    }
    poll_and_commit(*consumer(c, b), 50, per_poll);
    c.run_for_ms(20);
  }
  REQUIRE(z_polls == z_target);
  // Phase 2: Z pauses (a long GC) with polled-and-buffered records; B takes over.
  const int64_t pause_ms = 2'000 + 800 + static_cast<int64_t>(rng.uniform(2'000));
  const int64_t resume_at = c.now_ms() + pause_ms;
  c.pause(z, pause_ms);
  const int32_t b_per_poll = 1 + static_cast<int32_t>(rng.uniform(2));
  while (c.now_ms() + 250 < resume_at) {
    poll_and_commit(*consumer(c, b), 50, b_per_poll);
    c.run_for_ms(100);
  }
  c.run_for_ms(resume_at - c.now_ms());
  // Phase 3: the zombie returns its buffered records and commits them.
  poll_and_commit(*consumer(c, z), 50, 10'000);
  // Phase 4: a third member joins; nobody commits until the new generation
  // started its partitions from the committed offsets.
  const int32_t third = add_member(c, "third");
  for (int i = 0; i < 40; ++i) {
    for (int32_t id : {z, b, third}) poll_and_commit(*consumer(c, id), 50, 5, /*commit=*/false);
    c.run_for_ms(50);
  }
  w->stop();
  return c.check();
}

// ---- the table ------------------------------------------------------------------------------------

struct PlantedBug {
  std::string key;
  std::vector<std::string> caught_as;
  std::function<check::Verdict(uint64_t, const std::string&)> run;
};

bool caught(const check::Verdict& v, const PlantedBug& bug) {
  for (const check::Anomaly& a : v.violations())
    if (std::find(bug.caught_as.begin(), bug.caught_as.end(), a.kind) != bug.caught_as.end()) return true;
  return false;
}

// Runs the bug's workload over the seeds without the bug (each must be clean)
// and with it; prints one table row.
void sweep(const PlantedBug& bug) {
  for (uint64_t seed = 1; seed <= kSeeds; ++seed) {
    const check::Verdict v = bug.run(seed, "");
    INFO("correct engine (" << bug.key << " workload), seed " << seed << "\n" << v.text());
    REQUIRE(v.ok());
  }
  int n = 0;
  uint64_t first = 0;
  for (uint64_t seed = 1; seed <= kSeeds; ++seed)
    if (caught(bug.run(seed, bug.key), bug)) {
      ++n;
      if (!first) first = seed;
    }
  std::printf("%-40s %6llu %7d %11s\n", bug.key.c_str(), (unsigned long long)kSeeds, n,
              first ? std::to_string(first).c_str() : "-");
  INFO(bug.key);
  REQUIRE(n >= 1);
}

}  // namespace

TEST_CASE("planted client bugs are caught by the checkers and the correct engine is not flagged",
          "[clients][planted-bugs]") {
  const std::vector<PlantedBug> bugs = {
      {"ksim.bug.read.past.hw", {"uncommitted-read"}, run_read_past_hw},
      {"ksim.bug.skip.idempotent.dedupe", {"duplicate"}, run_dedupe},
      {"ksim.bug.skip.generation.check", {"poll-skip"}, run_generation},
  };
  std::printf("%-40s %6s %7s %11s\n", "bug", "seeds", "caught", "first_seed");
  std::printf("%-40s %6llu %7d %11s\n", "(none: the correct engine, every workload)",
              (unsigned long long)(kSeeds * bugs.size()), 0, "-");
  for (const PlantedBug& bug : bugs) sweep(bug);
}

// Found by the sweep above: a consumer whose partition leader crashed sent its
// Fetch to the dead broker, was refused in zero virtual time, and sent again at
// once -- a livelock in which virtual time never advanced. The Fetcher now
// skips a broker in reconnect backoff (reconnect.backoff.ms), as Java does.
TEST_CASE("a consumer whose leader crashed backs off instead of refetching in zero time", "[clients][consumer]") {
  Cluster c(options(5, ""));
  c.wait_ready();
  make_topic(c, "t", 1);
  REQUIRE(c.produce("t", 0, {"a", "b", "c"}, -1).error == Errc::NONE);
  Config::Map cfg = kConsumerConfig;
  const int32_t id = c.add_client("k", [cfg](const clients::ClientContext& ctx) -> std::shared_ptr<void> {
    return std::make_shared<KafkaConsumer>(ctx, cfg);
  });
  auto k = consumer(c, id);
  k->assign({{"t", 0}});
  size_t got = 0;
  for (int i = 0; i < 50 && got < 3; ++i) got += k->poll(100).size();
  REQUIRE(got == 3);
  const int32_t leader = c.leader_of("t", 0);
  c.crash(leader);
  const uint64_t sent = c.world().network().stats().sent;
  const int64_t t0 = c.now_ms();
  for (int i = 0; i < 10; ++i) k->poll(100);  // each returns after its timeout
  CHECK(c.now_ms() - t0 >= 1'000);
  CHECK(c.world().network().stats().sent - sent < 2'000);  // not a refetch storm
  REQUIRE(c.run_until([&] { return c.leader_of("t", 0) > 0 && c.leader_of("t", 0) != leader; }, 30'000));
  bool produced = false;
  for (int i = 0; i < 30 && !produced; ++i) {
    produced = c.produce("t", 0, {"d"}, -1).error == Errc::NONE;
    if (!produced) c.run_for_ms(200);
  }
  REQUIRE(produced);
  got = 0;
  for (int i = 0; i < 100 && got < 1; ++i) got += k->poll(100).size();
  CHECK(got == 1);
}
