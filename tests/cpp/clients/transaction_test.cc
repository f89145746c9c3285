// Transactions end to end: a transactional producer, the transaction
// coordinator on the brokers, markers in the partitions, read_committed
// consumers, transactional offset commits — and the KIP-890 history switch.
#include <catch2/catch.hpp>

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "engine/clients/kafka_producer.h"
#include "engine/coordinator/coordinator_lookup.h"
#include "tests/cpp/clients/consumer_test_util.h"

using namespace ksim;
using namespace ksim::clients;
using namespace ksim::consumer_test;

namespace {

Config::Map txn_config(const std::string& id, Config::Map extra = {}) {
  Config::Map m{{"transactional.id", id}, {"linger.ms", "0"}};
  for (const auto& [k, v] : extra) m[k] = v;
  return m;
}

int32_t add_producer(Cluster& c, const std::string& name, Config::Map cfg) {
  return c.add_client(name, [cfg](const ClientContext& ctx) { return std::make_shared<KafkaProducer>(ctx, cfg); });
}

ClusterOptions txn_options(uint64_t seed, Config::Map extra = {}) {
  ClusterOptions o = options(seed);
  o.config["transaction.state.log.num.partitions"] = "3";
  for (const auto& [k, v] : extra) o.config[k] = v;
  return o;
}

std::set<std::string> values(const std::vector<ConsumerRecord>& rs) {
  std::set<std::string> out;
  for (const auto& r : rs) out.insert(r.value.value_or(""));
  return out;
}

std::shared_ptr<KafkaConsumer> reader(Cluster& c, const std::string& name, const std::string& isolation,
                                      int32_t partitions = 2) {
  const int32_t id = add_consumer(c, name, {{"isolation.level", isolation}, {"auto.offset.reset", "earliest"}});
  auto k = c.client<KafkaConsumer>(id);
  std::vector<TopicPartition> tps;
  for (int32_t p = 0; p < partitions; ++p) tps.push_back({"t", p});
  k->assign(tps);
  return k;
}

void send(KafkaProducer& p, int32_t partition, const std::string& value) {
  ProducerRecord r;
  r.topic = "t";
  r.partition = partition;
  r.value = value;
  p.send(std::move(r));
}

OffsetAndMetadata at(int64_t offset) {
  OffsetAndMetadata o;
  o.offset = Offset{offset};
  return o;
}

}  // namespace

TEST_CASE("a committed transaction is visible to read_committed and its sends are marked committed") {
  Cluster c(txn_options(1));
  c.wait_ready();
  make_topic(c, "t", 2);
  auto p = c.client<KafkaProducer>(add_producer(c, "producer-1", txn_config("tx-1")));
  p->init_transactions(30'000);
  p->begin_transaction();
  send(*p, 0, "a");
  send(*p, 1, "b");
  send(*p, 0, "c");
  p->commit_transaction(30'000);
  auto k = reader(c, "consumer-1", "read_committed");
  REQUIRE(values(poll_n(*k, 3)) == std::set<std::string>{"a", "b", "c"});
  for (const check::OpView& op : c.history().ops())
    if (op.type() == check::OpType::send) CHECK(op.txn_state() == check::TxnState::committed);
  const check::Verdict v = c.check();
  INFO(v.text());
  CHECK(v.ok());
}

TEST_CASE("an aborted transaction is invisible to read_committed but read_uncommitted sees it") {
  Cluster c(txn_options(2));
  c.wait_ready();
  make_topic(c, "t", 2);
  auto p = c.client<KafkaProducer>(add_producer(c, "producer-1", txn_config("tx-1")));
  p->init_transactions(30'000);
  p->begin_transaction();
  send(*p, 0, "gone-1");
  send(*p, 1, "gone-2");
  REQUIRE(p->flush(10'000) == 0);  // written to the logs, then aborted
  p->abort_transaction(30'000);
  p->begin_transaction();
  send(*p, 0, "kept");
  p->commit_transaction(30'000);
  auto committed = reader(c, "consumer-1", "read_committed");
  REQUIRE(values(poll_n(*committed, 3, 5'000)) == std::set<std::string>{"kept"});
  auto dirty = reader(c, "consumer-2", "read_uncommitted");
  REQUIRE(values(poll_n(*dirty, 3)) == std::set<std::string>{"gone-1", "gone-2", "kept"});
  const check::Verdict v = c.check();
  INFO(v.text());
  CHECK(v.ok());
  CHECK(v.anomalies().empty());
}

TEST_CASE("a second producer with the same transactional.id fences the first") {
  Cluster c(txn_options(3));
  c.wait_ready();
  make_topic(c, "t", 2);
  auto zombie = c.client<KafkaProducer>(add_producer(c, "producer-1", txn_config("tx-shared")));
  zombie->init_transactions(30'000);
  zombie->begin_transaction();
  send(*zombie, 0, "zombie");
  REQUIRE(zombie->flush(10'000) == 0);
  auto fresh = c.client<KafkaProducer>(add_producer(c, "producer-2", txn_config("tx-shared")));
  fresh->init_transactions(60'000);  // aborts the zombie's open transaction first
  REQUIRE_THROWS_WITH(zombie->commit_transaction(30'000), Catch::Contains("ProducerFencedException"));
  fresh->begin_transaction();
  send(*fresh, 1, "fresh");
  fresh->commit_transaction(30'000);
  auto k = reader(c, "consumer-1", "read_committed");
  REQUIRE(values(poll_n(*k, 2, 5'000)) == std::set<std::string>{"fresh"});
}

TEST_CASE("the coordinator aborts a transaction left open past transaction.timeout.ms") {
  Cluster c(txn_options(4, {{"transaction.abort.timed.out.transaction.cleanup.interval.ms", "1000"}}));
  c.wait_ready();
  make_topic(c, "t", 2);
  auto p = c.client<KafkaProducer>(add_producer(c, "producer-1", txn_config("tx-slow", {{"transaction.timeout.ms", "3000"}})));
  p->init_transactions(30'000);
  p->begin_transaction();
  send(*p, 0, "late");
  REQUIRE(p->flush(10'000) == 0);
  c.run_for_ms(10'000);  // the application stalls past its transaction timeout
  REQUIRE_THROWS_WITH(p->commit_transaction(30'000), Catch::Contains("Fenced"));
  auto dirty = reader(c, "consumer-1", "read_uncommitted");
  REQUIRE(values(poll_n(*dirty, 1)) == std::set<std::string>{"late"});
  // The abort marker is there: the last stable offset passed the record.
  produce_n(c, "t", 0, 0, 1);
  auto k = reader(c, "consumer-2", "read_committed");
  REQUIRE(values(poll_n(*k, 1, 5'000)) == std::set<std::string>{"v0"});
}

TEST_CASE("the transaction completes after its coordinator crashes right after EndTxn") {
  Cluster c(txn_options(5));
  c.wait_ready();
  make_topic(c, "t", 2);
  auto p = c.client<KafkaProducer>(add_producer(c, "producer-1", txn_config("tx-failover")));
  p->init_transactions(30'000);
  p->begin_transaction();
  send(*p, 0, "x");
  send(*p, 1, "y");
  p->commit_transaction(30'000);
  const int32_t coordinator = p->transactional_client()->coordinator();
  REQUIRE(coordinator > 0);
  c.crash(coordinator);  // maybe before every marker is written: the next coordinator finishes
  auto k = reader(c, "consumer-1", "read_committed");
  REQUIRE(values(poll_n(*k, 2, 60'000)) == std::set<std::string>{"x", "y"});
}

TEST_CASE("offsets sent to a transaction are committed with it and dropped by an abort") {
  Cluster c(txn_options(6));
  c.wait_ready();
  make_topic(c, "t", 2);
  make_topic(c, "in", 1);
  produce_n(c, "in", 0, 0, 4);
  const int32_t cid = add_consumer(c, "consumer-1", {{"group.id", "g"}, {"auto.offset.reset", "earliest"},
                                                     {"enable.auto.commit", "false"}, {"isolation.level", "read_committed"}});
  auto k = c.client<KafkaConsumer>(cid);
  k->subscribe({"in"});
  REQUIRE(poll_n(*k, 4).size() == 4);
  auto p = c.client<KafkaProducer>(add_producer(c, "producer-1", txn_config("tx-eos")));
  p->init_transactions(30'000);
  const TopicPartition in{"in", 0};
  p->begin_transaction();
  send(*p, 0, "out");
  p->send_offsets_to_transaction({{in, at(2)}}, k->group_metadata(), 30'000);
  p->abort_transaction(30'000);
  CHECK(k->committed({in}, 10'000).empty());
  p->begin_transaction();
  send(*p, 0, "out");
  p->send_offsets_to_transaction({{in, at(4)}}, k->group_metadata(), 30'000);
  p->commit_transaction(30'000);
  const OffsetMap committed = k->committed({in}, 10'000);
  REQUIRE(committed.count(in));
  CHECK(committed.at(in).offset == Offset{4});
}

TEST_CASE("a transactional producer refuses misuse with IllegalStateException") {
  Cluster c(txn_options(7));
  c.wait_ready();
  make_topic(c, "t", 1);
  auto p = c.client<KafkaProducer>(add_producer(c, "producer-1", txn_config("tx-misuse")));
  REQUIRE_THROWS_WITH(p->begin_transaction(), Catch::Contains("IllegalStateException"));
  p->init_transactions(30'000);
  REQUIRE_THROWS_WITH(send(*p, 0, "outside"), Catch::Contains("IllegalStateException"));
  REQUIRE_THROWS_WITH(p->commit_transaction(1'000), Catch::Contains("IllegalStateException"));
  CHECK_THROWS_AS(Config::parse(kProducer, {{"transactional.id", "x"}, {"enable.idempotence", "false"}}), ConfigError);
}

namespace {

// KIP-890's story. A transactional write to t-0 is stuck in the network past
// its delivery timeout; the application aborts; the old write then arrives.
// Returns the verdict after a second, committed transaction to t-0 and a
// read_committed reader.
check::Verdict late_write_story(const std::string& protocol, std::set<std::string>* read) {
  Cluster c(txn_options(11, {{"ksim.transaction.protocol", protocol}}));
  c.wait_ready();
  make_topic(c, "t", 1);
  const int32_t pid = add_producer(c, "producer-1", txn_config("tx-late", {{"request.timeout.ms", "1000"},
                                                                           {"delivery.timeout.ms", "3000"}}));
  auto p = c.client<KafkaProducer>(pid);
  p->init_transactions(30'000);
  p->begin_transaction();
  sim::Network& net = c.world().network();
  const int32_t leader = c.describe_partition("t", 0).leader;
  sim::RuleMatch m;
  m.src = sim_node_of(pid);
  m.dst = sim_node_of(leader);
  m.kind = net.kind("Produce");
  m.dir = sim::Direction::request;
  const sim::RuleId held = net.add_rule(m, sim::RuleAction::hold, 0);
  send(*p, 0, "stray");
  p->flush(10'000);  // expires after delivery.timeout.ms: the transaction is abortable
  REQUIRE_THROWS_WITH(p->commit_transaction(10'000), Catch::Contains("abort it"));
  p->abort_transaction(30'000);
  net.release(held);  // the stuck request (and its retries) finally arrive
  c.run_for_ms(1'000);
  p->begin_transaction();
  send(*p, 0, "next");
  p->commit_transaction(30'000);
  auto k = reader(c, "consumer-1", "read_committed", 1);
  *read = values(poll_n(*k, 2, 5'000));
  return c.check();
}

}  // namespace

TEST_CASE("KIP-890: a late write of an aborted transaction is committed by the next one under v1") {
  std::set<std::string> read;
  const check::Verdict v = late_write_story("v1", &read);
  INFO(v.text());
  CHECK(read == std::set<std::string>{"stray", "next"});
  CHECK(v.counts().count("aborted-read") == 1);
  CHECK_FALSE(v.ok());
}

TEST_CASE("KIP-890: the late write is refused under v2 (epoch bump and verification)") {
  std::set<std::string> read;
  const check::Verdict v = late_write_story("v2", &read);
  INFO(v.text());
  CHECK(read == std::set<std::string>{"next"});
  CHECK(v.ok());
  CHECK(v.counts().count("aborted-read") == 0);
}
