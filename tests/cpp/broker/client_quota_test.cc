// Client quotas (engine/broker/README.md, "Client quotas"): the arithmetic
// of Kafka's quota sensors — a Rate over eleven one-second windows, the
// throttle time that brings a client back to its quota, the precedence of
// quota entities — and the KIP-219 story on a cluster: a client over its
// quota is answered at once with throttle_time_ms, its connection is muted
// that long, and another client of the same broker is not slowed.
#include <catch2/catch.hpp>

#include <optional>

#include "engine/broker/client_quota_manager.h"
#include "engine/broker/protocol.h"
#include "engine/common/node_ids.h"
#include "engine/common/sampled_stat.h"
#include "engine/controller/metadata_record.h"
#include "engine/server/cluster.h"
#include "sim/network.h"

using namespace ksim;

namespace {

constexpr SampledStatConfig kQuotaWindow{11, 1'000};  // quota.window.num, quota.window.size.seconds

ClientQuotaEntity client(std::optional<std::string> name) { return {{"client-id", std::move(name)}}; }
ClientQuotaEntity user(std::optional<std::string> name) { return {{"user", std::move(name)}}; }
ClientQuotaEntity user_client(std::optional<std::string> u, std::optional<std::string> c) {
  return {{"user", std::move(u)}, {"client-id", std::move(c)}};
}

MetadataImage::ClientQuotas produce_quotas(std::vector<std::pair<ClientQuotaEntity, double>> entries) {
  MetadataImage::ClientQuotas q;
  for (auto& [e, v] : entries) q[e]["producer_byte_rate"] = v;
  return q;
}

}  // namespace

TEST_CASE("a first burst is spread over ten windows: the rate never divides by less than ten seconds", "[quota]") {
  SampledStat rate(kQuotaWindow);
  rate.record(100'000, 0);
  REQUIRE(rate.window_size_ms(0) == 10'000);
  REQUIRE(rate.rate_per_s(0) == Approx(10'000));
  // Half a second later the span is still padded to ten full windows.
  REQUIRE(rate.window_size_ms(500) == 10'500);
  REQUIRE(rate.rate_per_s(500) == Approx(100'000 / 10.5));
}

TEST_CASE("a steady rate is measured over the eleven windows kept and old windows are recycled", "[quota]") {
  SampledStat rate(kQuotaWindow);
  for (int64_t t = 0; t < 30'000; t += 100) rate.record(100, t);  // 1,000 B/s for 30 s
  // The ring holds 12 windows (Kafka keeps one extra), [18 s, 29.9 s]; the
  // one of 18 s had its last event 11 s ago, so it is obsolete: the rate is
  // 11 windows' sums (11,000 B) over the span since 19 s began.
  const int64_t now = 29'900;
  REQUIRE(rate.window_size_ms(now) == 10'900);
  REQUIRE(rate.sum(now) == 11'000);
  REQUIRE(rate.rate_per_s(now) == Approx(11'000 / 10.9));
  // Idle for eleven windows: every sample is obsolete, the rate is 0.
  REQUIRE(rate.rate_per_s(now + 11'000) == 0);
}

TEST_CASE("throttle time is the delay that brings the observed rate back to the quota", "[quota]") {
  // O * W / (W + X) = T  =>  X = (O - T) / T * W
  REQUIRE(ClientQuotaManager::throttle_time_ms(200'000, 100'000, 10'000) == 10'000);
  REQUIRE(ClientQuotaManager::throttle_time_ms(150'000, 100'000, 10'000) == 5'000);
  REQUIRE(ClientQuotaManager::throttle_time_ms(100'001, 100'000, 10'000) == 0);  // rounds to 0 ms
  REQUIRE(ClientQuotaManager::throttle_time_ms(100'000, 100'000, 10'000) == 0);
  REQUIRE(ClientQuotaManager::throttle_time_ms(50'000, 100'000, 10'000) == 0);
}

TEST_CASE("a producer at twice its quota is throttled for the excess and its sensor keeps counting", "[quota]") {
  ClientQuotaManager q(ClientQuotaType::produce, kQuotaWindow);
  q.update_quotas(produce_quotas({{client("noisy"), 100'000}}));
  REQUIRE(q.quotas_enabled());
  // 2 MB at once: 200 KB/s over the padded ten seconds, twice the quota.
  REQUIRE(q.record_and_get_throttle_ms(kAnonymousUser, "noisy", 2'000'000, 0) == 10'000);
  // A client without a quota is never throttled (and gets its own sensor).
  REQUIRE(q.record_and_get_throttle_ms(kAnonymousUser, "quiet", 2'000'000, 0) == 0);
  // Ten seconds later the 2 MB still lie within the eleven windows.
  REQUIRE(q.record_and_get_throttle_ms(kAnonymousUser, "noisy", 0, 10'000) == 10'000);
  q.record_throttle(kAnonymousUser, "noisy", 10'000, 10'000);
  const auto readings = q.readings(10'000);
  REQUIRE(readings.size() == 2);
  REQUIRE(readings[0].tags == QuotaMetricTags{"", "noisy"});
  REQUIRE(readings[0].byte_rate == Approx(200'000));
  REQUIRE(readings[0].throttle_time == 10'000);
  REQUIRE(readings[1].tags == QuotaMetricTags{"", "quiet"});
  REQUIRE(readings[1].throttle_time == 0);
}

TEST_CASE("a throttled fetch takes its bytes back so the empty answer costs nothing", "[quota]") {
  ClientQuotaManager q(ClientQuotaType::fetch, kQuotaWindow);
  MetadataImage::ClientQuotas all;
  all[client("reader")]["consumer_byte_rate"] = 100'000;
  all[client("writer")]["producer_byte_rate"] = 1;  // another kind: not this manager's
  q.update_quotas(all);
  REQUIRE(q.record_and_get_throttle_ms(kAnonymousUser, "reader", 1'500'000, 0) == 5'000);
  q.unrecord(kAnonymousUser, "reader", 1'500'000, 0);
  REQUIRE(q.record_and_get_throttle_ms(kAnonymousUser, "reader", 500'000, 0) == 0);
  REQUIRE(q.record_and_get_throttle_ms(kAnonymousUser, "writer", 1e9, 0) == 0);
}

TEST_CASE("quota entities resolve in Kafka's precedence from user and client-id down to the defaults", "[quota]") {
  ClientQuotaManager q(ClientQuotaType::produce, kQuotaWindow);
  const std::string u = kAnonymousUser;
  std::vector<std::pair<ClientQuotaEntity, double>> levels = {
      {client(std::nullopt), 8},          {client("app"), 7},         {user(std::nullopt), 6},
      {user_client(std::nullopt, std::nullopt), 5}, {user_client(std::nullopt, "app"), 4}, {user(u), 3},
      {user_client(u, std::nullopt), 2},  {user_client(u, "app"), 1},
  };
  // Each level wins while every more specific one is absent; the tags say who shares the rate.
  const QuotaMetricTags expected_tags[] = {{"", "app"}, {"", "app"}, {u, ""},    {u, "app"},
                                           {u, "app"},  {u, ""},     {u, "app"}, {u, "app"}};
  for (size_t n = 1; n <= levels.size(); ++n) {
    q.update_quotas(produce_quotas({levels.begin(), levels.begin() + static_cast<std::ptrdiff_t>(n)}));
    const auto r = q.resolve(u, "app");
    INFO("levels configured: " << n);
    REQUIRE(r.limit == levels[n - 1].second);
    REQUIRE(r.tags == expected_tags[n - 1]);
  }
  // A client-id the named quotas do not mention falls back to the defaults.
  q.update_quotas(produce_quotas({{client(std::nullopt), 8}, {client("app"), 7}}));
  REQUIRE(q.resolve(u, "other").limit == 8);
  REQUIRE(q.resolve(u, "other").tags == QuotaMetricTags{"", "other"});
}

TEST_CASE("a default user quota is one rate shared by all the user's clients", "[quota]") {
  ClientQuotaManager q(ClientQuotaType::produce, kQuotaWindow);
  q.update_quotas(produce_quotas({{user(std::nullopt), 100'000}}));
  REQUIRE(q.record_and_get_throttle_ms(kAnonymousUser, "a", 1'000'000, 0) == 0);  // exactly the quota
  REQUIRE(q.record_and_get_throttle_ms(kAnonymousUser, "b", 500'000, 0) == 5'000);  // shared: 150 KB/s
}

TEST_CASE("without any quota nothing is recorded and quotas stay enabled once configured", "[quota]") {
  ClientQuotaManager q(ClientQuotaType::produce, kQuotaWindow);
  q.update_quotas({});
  REQUIRE_FALSE(q.quotas_enabled());
  REQUIRE(q.record_and_get_throttle_ms(kAnonymousUser, "any", 1e12, 0) == 0);
  REQUIRE(q.readings(0).empty());
  q.update_quotas(produce_quotas({{client("any"), 1}}));
  q.update_quotas({});  // removed again: Kafka keeps measuring until the broker restarts
  REQUIRE(q.quotas_enabled());
  REQUIRE(q.record_and_get_throttle_ms(kAnonymousUser, "any", 1e6, 0) == 0);
  REQUIRE(q.readings(0).size() == 1);
}

TEST_CASE("a ClientQuotaRecord survives the metadata log encoding bit for bit", "[quota]") {
  const std::vector<MetadataRecord> records = {
      ClientQuotaRecord{user_client("alice", std::nullopt), "producer_byte_rate", 1'048'576.0},
      ClientQuotaRecord{client("noisy"), "consumer_byte_rate", std::nullopt},
  };
  const auto decoded = decode_records(encode_records(records));
  REQUIRE(decoded.has_value());
  REQUIRE(*decoded == records);
  REQUIRE(describe(records[0]) == "ClientQuota(client-id=<default>,user=alice, producer_byte_rate=1.04858e+06)");
  MetadataImage img;
  img.apply(records[0], 1);
  img.apply(ClientQuotaRecord{client("noisy"), "consumer_byte_rate", 5.0}, 2);
  img.apply(records[1], 3);  // removes the only key: the entity goes
  REQUIRE(img.client_quotas().size() == 1);
  REQUIRE(img.client_quotas().at(user_client("alice", std::nullopt)).at("producer_byte_rate") == 1'048'576.0);
}

TEST_CASE("KIP-219: a Produce over its quota is answered at once with throttle_time_ms and its connection muted",
          "[quota][cluster]") {
  ClusterOptions o;
  o.seed = 5;
  o.brokers = 3;
  o.controllers = 1;
  Cluster c(o);
  c.wait_ready();
  c.create_topic("t", -1, -1, {}, {{1, 2, 3}});  // led by broker 1
  REQUIRE(c.wait_for_leader("t", 0) == 1);
  c.alter_client_quotas(client("noisy"), {{"producer_byte_rate", 100'000.0}});
  REQUIRE(c.describe_client_quotas().at(client("noisy")).at("producer_byte_rate") == 100'000);

  sim::Network& net = c.world().network();
  const sim::NodeId noisy = c.add_client_node("noisy");
  const sim::NodeId quiet = c.add_client_node("quiet");
  struct Answer {
    int64_t at_ms = -1;
    int32_t throttle_ms = -1;
    Errc error = Errc::UNKNOWN_SERVER_ERROR;
  };
  auto produce = [&](sim::NodeId from, uint32_t declared_bytes, Answer& out) {
    protocol::ProduceRequest req;
    req.acks = 1;
    storage::Record r;
    r.value = storage::Bytes(3, 'x');
    const storage::Record records[] = {r};
    req.partitions.emplace_back(TopicPartition{"t", 0}, storage::RecordBatch::build(storage::BatchParams{}, records));
    const sim::CallId id = net.call(from, sim_node_of(1), net.kind("Produce"),
                                    std::make_shared<const protocol::ProduceRequest>(std::move(req)), declared_bytes,
                                    sim::seconds(60));
    net.on_reply(id, [&c, &out](const sim::Reply& reply) {
      REQUIRE(reply.status == sim::CallStatus::ok);
      const auto& resp = sim::payload_as<protocol::ProduceResponse>(reply.payload);
      out = Answer{c.now_ms(), resp.throttle_time_ms, resp.partitions.at(0).error};
    });
  };
  const int64_t t0 = c.now_ms();
  Answer first, second, other;
  produce(noisy, 2'000'000, first);  // 2 MB: 200 KB/s over ten seconds, twice the quota
  produce(noisy, 100, second);       // right behind it on the same connection
  REQUIRE(c.run_until([&] { return first.at_ms >= 0; }, 1'000));
  // Answered at once (the record is appended), with ten seconds to wait.
  REQUIRE(first.error == Errc::NONE);
  REQUIRE(first.throttle_ms == 10'000);
  REQUIRE(first.at_ms - t0 < 100);
  // Another client of the same broker is answered at once, unthrottled.
  produce(quiet, 100, other);
  REQUIRE(c.run_until([&] { return other.at_ms >= 0; }, 1'000));
  REQUIRE(other.throttle_ms == 0);
  REQUIRE(second.at_ms < 0);  // still waiting behind the mute
  // The second request is read only when the mute ends; the 2 MB still
  // count, so it is throttled again.
  REQUIRE(c.run_until([&] { return second.at_ms >= 0; }, 15'000));
  REQUIRE(second.at_ms - first.at_ms >= 10'000);
  REQUIRE(second.at_ms - first.at_ms < 10'100);
  REQUIRE(second.error == Errc::NONE);
  REQUIRE(second.throttle_ms > 0);
  const auto m = c.metrics();
  REQUIRE(m.at("throttle-time{broker=1,type=Produce,user=,client-id=noisy}") > 0);
  REQUIRE(m.at("throttle-time{broker=1,type=Produce,user=,client-id=quiet}") == 0);
  REQUIRE(c.log_contents(1, "t", 0).size() == 3);  // nothing was refused
}
