// A consumer without group management: assign(), poll() up to the high
// watermark, seeks and auto.offset.reset — each step visible in the History.
#include <catch2/catch.hpp>

#include "tests/cpp/clients/consumer_test_util.h"

using namespace ksim;
using namespace ksim::consumer_test;
using clients::KafkaException;

namespace {

struct Fixture {
  Cluster c;
  explicit Fixture(uint64_t seed = 11) : c(options(seed)) {
    c.wait_ready();
    make_topic(c, "t", 1);
    produce_n(c, "t", 0, 0, 6);  // offsets 0..5 in one batch
    produce_n(c, "t", 0, 6, 4);  // 6..9 in another
  }
  std::shared_ptr<KafkaConsumer> consumer(Config::Map cfg) {
    const int32_t id = add_consumer(c, "consumer-" + std::to_string(++n), std::move(cfg));
    ids.push_back(id);
    return c.client<KafkaConsumer>(id);
  }
  int n = 0;
  std::vector<int32_t> ids;
};

const TopicPartition kTp{"t", 0};

}  // namespace

TEST_CASE("assign + poll returns every record in offset order - each with the HW of its fetch", "[consumer]") {
  Fixture f;
  auto k = f.consumer({{"auto.offset.reset", "earliest"}, {"max.poll.records", "4"}});
  k->assign({kTp});
  const std::vector<ConsumerRecord> first = k->poll(5'000);
  REQUIRE(first.size() == 4);  // max.poll.records
  std::vector<ConsumerRecord> all = first;
  for (auto& r : poll_n(*k, 6)) all.push_back(r);
  REQUIRE(all.size() == 10);
  for (int i = 0; i < 10; ++i) {
    CHECK(all[static_cast<size_t>(i)].offset == Offset{i});
    CHECK(all[static_cast<size_t>(i)].value == "v" + std::to_string(i));
    CHECK(all[static_cast<size_t>(i)].high_watermark == Offset{10});  // nothing above the HW
    CHECK(all[static_cast<size_t>(i)].leader_epoch.value >= 0);
  }
  CHECK(k->position(kTp) == Offset{10});
  CHECK(k->lag(kTp) == 0);

  // The History has the assignment, the reset that chose offset 0, and every record polled.
  const int32_t id = f.ids[0];
  const auto assigns = ops_of(f.c, id, check::OpType::assign);
  REQUIRE(assigns.size() == 1);
  CHECK(assigns[0].detail() == "assign");
  const auto seeks = ops_of(f.c, id, check::OpType::seek);
  REQUIRE(seeks.size() == 1);
  CHECK(seeks[0].detail() == "reset:earliest");
  CHECK(seeks[0].offsets().at(0).offset == Offset{0});
  std::vector<int64_t> polled;
  for (const check::OpView& op : ops_of(f.c, id, check::OpType::poll))
    for (const check::PolledView& r : op.records()) {
      polled.push_back(r.offset.value);
      CHECK(r.high_watermark == Offset{10});
      CHECK(r.value == "v" + std::to_string(r.offset.value));
    }
  CHECK(polled == std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9});

  // New records arrive through a long-poll (fetch.max.wait.ms) on the next poll.
  produce_n(f.c, "t", 0, 10, 2);
  const auto more = poll_n(*k, 2);
  REQUIRE(more.size() == 2);
  CHECK(more[0].offset == Offset{10});
  CHECK(more[1].high_watermark == Offset{12});
}

TEST_CASE("seek and seek_to_beginning and seek_to_end move the position - and say why", "[consumer]") {
  Fixture f;
  auto k = f.consumer({{"auto.offset.reset", "earliest"}});
  k->assign({kTp});
  REQUIRE(poll_n(*k, 10).size() == 10);

  k->seek(kTp, Offset{7});
  auto r = poll_n(*k, 3);
  REQUIRE(r.size() == 3);
  CHECK(r.front().offset == Offset{7});  // stale prefetched data is never returned

  k->seek_to_beginning();
  CHECK(k->position(kTp) == Offset{0});
  r = k->poll(2'000);
  REQUIRE_FALSE(r.empty());
  CHECK(r.front().offset == Offset{0});

  k->seek_to_end({kTp});
  CHECK(k->position(kTp) == Offset{10});
  CHECK(k->poll(300).empty());

  std::vector<std::string> reasons;
  for (const check::OpView& op : ops_of(f.c, f.ids[0], check::OpType::seek)) reasons.emplace_back(op.detail());
  CHECK(reasons == std::vector<std::string>{"reset:earliest", "seek", "seek_to_beginning", "seek_to_end"});
  CHECK(ops_of(f.c, f.ids[0], check::OpType::seek).back().offsets().at(0).offset == Offset{10});

  CHECK_THROWS_AS(k->seek({"t", 3}, Offset{0}), KafkaException);  // not assigned
}

TEST_CASE("auto.offset.reset: latest starts at the HW - none raises NoOffsetForPartitionException", "[consumer]") {
  Fixture f;
  auto latest = f.consumer({{"auto.offset.reset", "latest"}});
  latest->assign({kTp});
  CHECK(latest->position(kTp) == Offset{10});
  CHECK(latest->poll(300).empty());
  produce_n(f.c, "t", 0, 10, 1);
  const auto r = poll_n(*latest, 1);
  REQUIRE(r.size() == 1);
  CHECK(r[0].offset == Offset{10});

  auto none = f.consumer({{"auto.offset.reset", "none"}});
  none->assign({kTp});
  try {
    none->poll(500);
    FAIL("poll without a position and without a reset policy must throw");
  } catch (const KafkaException& e) {
    CHECK(e.kind() == "NoOffsetForPartitionException");
  }
  // A seek gives it a position: then it reads.
  none->seek(kTp, Offset{9});
  const auto got = poll_n(*none, 2);
  REQUIRE(got.size() == 2);
  CHECK(got[0].offset == Offset{9});
}

TEST_CASE("OFFSET_OUT_OF_RANGE resets with auto.offset.reset - or raises from poll with none", "[consumer]") {
  Fixture f;
  auto k = f.consumer({{"auto.offset.reset", "earliest"}});
  k->assign({kTp});
  k->seek(kTp, Offset{1000});
  const auto r = poll_n(*k, 10);
  REQUIRE(r.size() == 10);
  CHECK(r.front().offset == Offset{0});
  std::vector<std::string> reasons;
  for (const check::OpView& op : ops_of(f.c, f.ids[0], check::OpType::seek)) reasons.emplace_back(op.detail());
  CHECK(reasons == std::vector<std::string>{"seek", "reset:earliest"});

  auto strict = f.consumer({{"auto.offset.reset", "none"}});
  strict->assign({kTp});
  strict->seek(kTp, Offset{1000});
  bool thrown = false;
  for (int i = 0; i < 20 && !thrown; ++i) {
    try {
      strict->poll(200);
    } catch (const KafkaException& e) {
      CHECK(e.kind() == "OffsetOutOfRangeException");
      thrown = true;
    }
  }
  CHECK(thrown);
}

TEST_CASE("pause stops records of a partition until resume - offsets_for_times and end offsets", "[consumer]") {
  Fixture f;
  f.c.create_topic("u", 2, 3);
  REQUIRE(f.c.wait_for_leader("u", 1) > 0);
  produce_n(f.c, "u", 0, 0, 3);
  produce_n(f.c, "u", 1, 0, 3);
  auto k = f.consumer({{"auto.offset.reset", "earliest"}});
  k->assign({{"u", 0}, {"u", 1}});
  k->pause({{"u", 1}});
  CHECK(k->paused() == std::vector<TopicPartition>{{"u", 1}});
  const auto r = poll_n(*k, 3);
  REQUIRE(r.size() == 3);
  for (const auto& rec : r) CHECK(rec.tp == TopicPartition{"u", 0});
  CHECK(k->poll(300).empty());
  k->resume({{"u", 1}});
  const auto r2 = poll_n(*k, 3);
  REQUIRE(r2.size() == 3);
  for (const auto& rec : r2) CHECK(rec.tp == TopicPartition{"u", 1});

  const auto ends = k->end_offsets({{"u", 0}, {"u", 1}});
  CHECK(ends.at({"u", 0}) == Offset{3});
  CHECK(k->beginning_offsets({{"u", 1}}).at({"u", 1}) == Offset{0});
  const auto at = k->offsets_for_times({{{"u", 0}, 0}});
  REQUIRE(at.at({"u", 0}).has_value());
  CHECK(at.at({"u", 0})->offset == Offset{0});
  const auto future = k->offsets_for_times({{{"u", 0}, f.c.now_ms() + 1'000'000}});
  CHECK_FALSE(future.at({"u", 0}).has_value());
}

TEST_CASE("a consumer without group.id refuses group APIs - config is Kafka's", "[consumer]") {
  Fixture f;
  auto k = f.consumer({});
  try {
    k->subscribe({"t"});
    FAIL("subscribe without group.id must throw");
  } catch (const KafkaException& e) {
    CHECK(e.kind() == "InvalidGroupIdException");
  }
  CHECK_THROWS_AS(k->commit_sync(), KafkaException);
  const auto effective = k->effective_config();
  const std::map<std::string, std::string> eff(effective.begin(), effective.end());
  CHECK(eff.at("enable.auto.commit") == "false");  // no group: auto-commit off, as Kafka
  CHECK(eff.at("max.poll.records") == "500");
  CHECK(eff.at("partition.assignment.strategy") == "range,cooperative-sticky");
  CHECK_THROWS_AS(KafkaConsumer(k->context(), Config::Map{{"auto.offset.reset", "smallest"}}), ConfigError);
  k->close();
  CHECK_THROWS_AS(k->poll(10), KafkaException);
}

TEST_CASE("closing a consumer closes its fetch session on the leader - answered at once", "[consumer][fetch]") {
  // KIP-227: the consumer's close sends each leader a fetch at the final
  // epoch with no partitions; the leader drops the session and, having
  // nothing to read, answers without waiting fetch.max.wait.ms.
  ClusterOptions o = options(11, 1);  // one broker: no follower holds a session
  Cluster c(o);
  c.wait_ready();
  make_topic(c, "t", 1, 1);
  produce_n(c, "t", 0, 0, 3);
  auto k = c.client<KafkaConsumer>(add_consumer(c, "closer", {{"auto.offset.reset", "earliest"}}));
  k->assign({kTp});
  REQUIRE(poll_n(*k, 3).size() == 3);
  REQUIRE(c.metrics().at("NumIncrementalFetchSessions") == 1);
  const int64_t before_ms = c.now_ms();
  k->close();
  CHECK(c.now_ms() - before_ms < 100);  // one round trip, not a 500 ms long poll
  c.run_for_ms(10);
  REQUIRE(c.metrics().at("NumIncrementalFetchSessions") == 0);
}
