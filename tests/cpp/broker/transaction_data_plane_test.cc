// The broker side of transactions, driven with raw requests (no producer or
// consumer client, no transaction coordinator): a transactional batch holds
// the last stable offset, read_committed fetches stop below it, a
// WriteTxnMarkers COMMIT releases it and an ABORT is reported to
// read_committed fetches as an aborted transaction.
#include <catch2/catch.hpp>

#include <memory>
#include <optional>
#include <tuple>

#include "engine/broker/protocol.h"
#include "engine/common/node_ids.h"
#include "engine/server/cluster.h"
#include "sim/network.h"

using namespace ksim;

namespace {

const TopicPartition kTp{"t", 0};

// A client process that sends one raw request at a time to a broker.
struct RawClient {
  Cluster& c;
  sim::NodeId self;
  explicit RawClient(Cluster& cluster) : c(cluster), self(cluster.add_client_node("raw-client")) {}

  // Starts a call; the returned slot fills when the reply (or a timeout) arrives.
  std::shared_ptr<std::optional<sim::Reply>> start(int32_t broker, const std::string& api, sim::Payload body) {
    auto slot = std::make_shared<std::optional<sim::Reply>>();
    sim::Network& net = c.world().network();
    const sim::KindId kind = net.kind(api);
    c.world().spawn(self, "raw-" + api, [&net, this, broker, kind, body, slot] {
      *slot = net.call_sync(self, sim_node_of(broker), kind, body, 128, sim::seconds(40));
    });
    return slot;
  }
  sim::Reply wait(const std::shared_ptr<std::optional<sim::Reply>>& slot) {
    REQUIRE(c.run_until([&] { return slot->has_value(); }, 45'000));
    REQUIRE((*slot)->status == sim::CallStatus::ok);
    return **slot;
  }
  sim::Reply call(int32_t broker, const std::string& api, sim::Payload body) {
    return wait(start(broker, api, std::move(body)));
  }
  template <class Resp, class Req>
  Resp ask(int32_t broker, const std::string& api, Req req) {
    return sim::payload_as<Resp>(call(broker, api, sim::make_payload(std::move(req))).payload);
  }

  ProducerId init_producer_id(int32_t broker) {
    auto r = ask<protocol::InitProducerIdResponse>(broker, "InitProducerId", protocol::InitProducerIdRequest{});
    REQUIRE(r.error == Errc::NONE);
    REQUIRE(r.producer_epoch == ProducerEpoch{0});
    return r.producer_id;
  }

  protocol::ProducePartitionResponse produce(int32_t leader, const storage::BatchPtr& batch,
                                             std::optional<std::string> transactional_id = std::nullopt) {
    protocol::ProduceRequest req;
    req.acks = -1;
    req.transactional_id = std::move(transactional_id);
    req.partitions.emplace_back(kTp, batch);
    auto r = ask<protocol::ProduceResponse>(leader, "Produce", std::move(req));
    REQUIRE(r.partitions.size() == 1);
    return r.partitions[0];
  }

  static protocol::FetchRequest fetch_request(Offset from, protocol::IsolationLevel iso, int32_t max_wait_ms) {
    protocol::FetchRequest req;
    req.replica_id = -1;
    req.max_wait_ms = max_wait_ms;
    req.isolation = iso;
    req.partitions.push_back(protocol::FetchPartition{.tp = kTp, .fetch_offset = from});
    return req;
  }
  protocol::FetchPartitionResponse fetch(int32_t leader, Offset from, protocol::IsolationLevel iso) {
    auto r = ask<protocol::FetchResponse>(leader, "Fetch", fetch_request(from, iso, 0));
    REQUIRE(r.partitions.size() == 1);
    REQUIRE(r.partitions[0].error == Errc::NONE);
    return r.partitions[0];
  }

  Offset latest(int32_t leader, protocol::IsolationLevel iso) {
    protocol::ListOffsetsRequest req;
    req.isolation = iso;
    req.partitions.emplace_back(kTp, protocol::kLatestTimestamp);
    auto r = ask<protocol::ListOffsetsResponse>(leader, "ListOffsets", std::move(req));
    REQUIRE(r.partitions[0].error == Errc::NONE);
    return r.partitions[0].offset;
  }

  // Markers at the data's own epoch follow TV1's rule (version 1); TV2 markers
  // carry the epoch bumped at EndTxn (version 2).
  protocol::WriteTxnMarkersResponse markers(int32_t broker, ProducerId pid, int16_t epoch, bool commit,
                                            std::vector<TopicPartition> partitions = {kTp}, int8_t version = 1) {
    protocol::WriteTxnMarkersRequest req;
    req.markers.push_back(
        protocol::WritableTxnMarker{pid, ProducerEpoch{epoch}, commit, 0, version, std::move(partitions)});
    return ask<protocol::WriteTxnMarkersResponse>(broker, "WriteTxnMarkers", std::move(req));
  }
};

storage::BatchPtr txn_batch(ProducerId pid, int16_t epoch, int32_t seq, const std::vector<std::string>& values,
                            bool transactional = true) {
  std::vector<storage::Record> records;
  for (const std::string& v : values) records.push_back(storage::Record{0, std::nullopt, storage::Bytes(v.begin(), v.end()), {}});
  storage::BatchParams p;
  p.is_transactional = transactional;
  p.producer_id = pid;
  p.producer_epoch = ProducerEpoch{epoch};
  p.base_sequence = seq;
  return storage::RecordBatch::build(p, records);
}

// The record values of the data batches (control batches hold no application records).
std::vector<std::string> values_of(const std::vector<storage::BatchPtr>& batches) {
  std::vector<std::string> out;
  for (const auto& b : batches) {
    if (b->is_control()) continue;
    for (const auto& r : b->records()) out.emplace_back(r.value->begin(), r.value->end());
  }
  return out;
}

std::vector<std::pair<int64_t, int64_t>> aborted_of(const protocol::FetchPartitionResponse& r) {
  std::vector<std::pair<int64_t, int64_t>> out;
  for (const auto& a : r.aborted_transactions) out.emplace_back(a.producer_id.value, a.first_offset.value);
  return out;
}

Cluster& ready_cluster(std::unique_ptr<Cluster>& c, uint64_t seed) {
  ClusterOptions o;
  o.seed = seed;
  o.brokers = 3;
  o.controllers = 1;  // brokers can crash without taking the quorum along
  o.config = {{"min.insync.replicas", "2"}};
  c = std::make_unique<Cluster>(o);
  c->wait_ready();
  c->create_topic("t", 1, 3);
  REQUIRE(c->wait_for_leader("t", 0) > 0);
  return *c;
}

constexpr auto kCommitted = protocol::IsolationLevel::read_committed;
constexpr auto kUncommitted = protocol::IsolationLevel::read_uncommitted;

}  // namespace

TEST_CASE("read_committed stops at the LSO below an open transaction until a COMMIT marker is replicated",
          "[broker][txn]") {
  std::unique_ptr<Cluster> holder;
  Cluster& c = ready_cluster(holder, 11);
  RawClient raw(c);
  const int32_t leader = c.leader_of("t", 0);
  const ProducerId pid = raw.init_producer_id(leader == 1 ? 2 : 1);  // any broker hands out ids

  REQUIRE(c.produce("t", 0, {"before"}, -1).error == Errc::NONE);  // offset 0
  const auto p = raw.produce(leader, txn_batch(pid, 0, 0, {"t0", "t1"}));
  REQUIRE(p.error == Errc::NONE);
  REQUIRE(p.base_offset == Offset{1});
  REQUIRE(c.describe_partition("t", 0).high_watermark == Offset{3});

  // read_uncommitted sees the open transaction (up to the HW) ...
  const auto all = raw.fetch(leader, Offset{0}, kUncommitted);
  REQUIRE(values_of(all.batches) == std::vector<std::string>{"before", "t0", "t1"});
  REQUIRE(all.high_watermark == Offset{3});
  REQUIRE(all.last_stable_offset == Offset{1});  // every response reports the LSO
  // ... read_committed stops at its first offset.
  const auto stable = raw.fetch(leader, Offset{0}, kCommitted);
  REQUIRE(values_of(stable.batches) == std::vector<std::string>{"before"});
  REQUIRE(stable.last_stable_offset == Offset{1});
  REQUIRE(stable.aborted_transactions.empty());
  REQUIRE(raw.latest(leader, kUncommitted) == Offset{3});
  REQUIRE(raw.latest(leader, kCommitted) == Offset{1});

  // A read_committed consumer long-polls at the LSO; the COMMIT must wake it.
  auto parked = raw.start(leader, "Fetch", sim::make_payload(RawClient::fetch_request(Offset{1}, kCommitted, 20'000)));
  c.run_for_ms(100);
  REQUIRE_FALSE(parked->has_value());
  const int64_t commit_sent = c.now_ms();

  const auto m = raw.markers(leader, pid, 0, true);
  REQUIRE(m.markers.size() == 1);
  REQUIRE(m.markers[0].producer_id == pid);
  REQUIRE(m.markers[0].partitions == std::vector<std::pair<TopicPartition, Errc>>{{kTp, Errc::NONE}});
  // Answered only once replicated (acks=all): the marker (offset 3) is below the HW.
  REQUIRE(c.describe_partition("t", 0).high_watermark == Offset{4});

  const sim::Reply woke = raw.wait(parked);
  REQUIRE(c.now_ms() - commit_sent < 5'000);  // woken by the LSO move, not by its 20 s deadline
  const auto& got = sim::payload_as<protocol::FetchResponse>(woke.payload).partitions.at(0);
  REQUIRE(values_of(got.batches) == std::vector<std::string>{"t0", "t1"});
  REQUIRE(got.last_stable_offset == Offset{4});
  REQUIRE(got.aborted_transactions.empty());
  REQUIRE(raw.latest(leader, kCommitted) == Offset{4});
}

TEST_CASE("an ABORT marker is reported to read_committed fetches as an aborted transaction", "[broker][txn]") {
  std::unique_ptr<Cluster> holder;
  Cluster& c = ready_cluster(holder, 12);
  RawClient raw(c);
  const int32_t leader = c.leader_of("t", 0);
  const ProducerId pid = raw.init_producer_id(leader);

  REQUIRE(raw.produce(leader, txn_batch(pid, 0, 0, {"c0"})).base_offset == Offset{0});
  REQUIRE(raw.markers(leader, pid, 0, true).markers[0].partitions[0].second == Errc::NONE);  // offset 1
  // The next transaction, in a bumped epoch (TV2): its sequences restart at 0.
  REQUIRE(raw.produce(leader, txn_batch(pid, 1, 0, {"a0", "a1"})).base_offset == Offset{2});
  REQUIRE(c.produce("t", 0, {"plain"}, -1).base_offset == Offset{4});
  // A marker of the old epoch is refused.
  REQUIRE(raw.markers(leader, pid, 0, false).markers[0].partitions[0].second == Errc::INVALID_PRODUCER_EPOCH);
  REQUIRE(raw.fetch(leader, Offset{0}, kCommitted).last_stable_offset == Offset{2});

  REQUIRE(raw.markers(leader, pid, 1, false).markers[0].partitions[0].second == Errc::NONE);  // offset 5
  const auto r = raw.fetch(leader, Offset{0}, kCommitted);
  REQUIRE(r.last_stable_offset == Offset{6});
  REQUIRE(r.batches.back()->next_offset() == Offset{6});
  // The batches are all there (the consumer drops the aborted ones) ...
  REQUIRE(values_of(r.batches) == std::vector<std::string>{"c0", "a0", "a1", "plain"});
  // ... and the response names the aborted transaction by producer and first offset.
  REQUIRE(aborted_of(r) == std::vector<std::pair<int64_t, int64_t>>{{pid.value, 2}});
  // A range after the ABORT marker overlaps no aborted transaction; read_uncommitted is never told.
  REQUIRE(raw.fetch(leader, Offset{6}, kCommitted).aborted_transactions.empty());
  REQUIRE(raw.fetch(leader, Offset{4}, kCommitted).aborted_transactions.size() == 1);  // the marker is at 5
  REQUIRE(raw.fetch(leader, Offset{0}, kUncommitted).aborted_transactions.empty());

  // Every replica agrees after replication: a follower elected now would answer the same.
  c.run_for_ms(1'000);
  for (int32_t b : c.broker_ids()) {
    const auto& log = c.node(b)->broker()->replica_manager().get(kTp)->log();
    REQUIRE(log.aborted_transactions(Offset{0}, Offset{6}).size() == 1);
    REQUIRE_FALSE(log.producer_state().has_ongoing_txn(pid));
  }
}

TEST_CASE("WriteTxnMarkers answers per partition: unknown and not-led partitions - min ISR", "[broker][txn]") {
  std::unique_ptr<Cluster> holder;
  Cluster& c = ready_cluster(holder, 13);
  RawClient raw(c);
  const int32_t leader = c.leader_of("t", 0);
  const int32_t follower = leader == 1 ? 2 : 1;
  const ProducerId pid = raw.init_producer_id(leader);
  REQUIRE(raw.produce(leader, txn_batch(pid, 0, 0, {"x"})).error == Errc::NONE);

  // (Hooks run in broker fibers: they record, the test checks afterwards.)
  std::vector<std::tuple<TopicPartition, int64_t, bool, int64_t>> listened;
  ReplicaManager& rm = c.node(leader)->broker()->replica_manager();
  auto previous = rm.marker_listener;
  rm.marker_listener = [&](const TopicPartition& tp, ProducerId id, bool committed, Offset at) {
    if (previous) previous(tp, id, committed, at);
    listened.emplace_back(tp, id.value, committed, at.value);
  };

  const auto to_follower = raw.markers(follower, pid, 0, true);
  REQUIRE(to_follower.markers[0].partitions[0].second == Errc::NOT_LEADER_OR_FOLLOWER);
  const auto r = raw.markers(leader, pid, 0, true, {TopicPartition{"nope", 0}, kTp});
  REQUIRE(r.markers[0].partitions ==
          std::vector<std::pair<TopicPartition, Errc>>{{TopicPartition{"nope", 0}, Errc::UNKNOWN_TOPIC_OR_PARTITION},
                                                        {kTp, Errc::NONE}});
  REQUIRE(listened == std::vector<std::tuple<TopicPartition, int64_t, bool, int64_t>>{{kTp, pid.value, true, 1}});
  rm.marker_listener = previous;

  // min.insync.replicas=2 applies: with both followers down the marker is refused.
  REQUIRE(raw.produce(leader, txn_batch(pid, 0, 1, {"y"})).error == Errc::NONE);
  for (int32_t b : c.broker_ids())
    if (b != leader) c.world().crash(sim_node_of(b));
  REQUIRE(c.run_until([&] { return c.node(leader)->broker()->replica_manager().get(kTp)->isr().size() == 1; },
                      60'000));
  const auto refused = raw.markers(leader, pid, 0, false);
  REQUIRE(refused.markers[0].partitions[0].second == Errc::NOT_ENOUGH_REPLICAS);
}

TEST_CASE("KIP-890: a transactional produce outside an open transaction is verified first", "[broker][txn]") {
  std::unique_ptr<Cluster> holder;
  Cluster& c = ready_cluster(holder, 14);
  RawClient raw(c);
  const int32_t leader = c.leader_of("t", 0);
  const ProducerId pid = raw.init_producer_id(leader);
  ReplicaManager& rm = c.node(leader)->broker()->replica_manager();
  int asked = 0;
  bool as_expected = true;
  Errc answer = Errc::INVALID_TXN_STATE;
  // (Hooks run in broker fibers: they record, the test checks afterwards.)
  rm.verify_transaction = [&](const std::string& txn_id, ProducerId id, ProducerEpoch epoch, const TopicPartition& tp) {
    ++asked;
    as_expected = as_expected && txn_id == "tx" && id == pid && epoch == ProducerEpoch{0} && tp == kTp;
    c.world().sleep_for(sim::milliseconds(5));  // a network round trip to the coordinator
    return answer;
  };

  // Not in the transaction (per the coordinator): refused, nothing appended.
  REQUIRE(raw.produce(leader, txn_batch(pid, 0, 0, {"zombie"}), "tx").error == Errc::INVALID_TXN_STATE);
  REQUIRE(asked == 1);
  REQUIRE(c.describe_partition("t", 0).replica_states.front().log_end_offset == Offset{0});
  // Verified: appended; the transaction is now open here, so the next batch is not verified again.
  answer = Errc::NONE;
  REQUIRE(raw.produce(leader, txn_batch(pid, 0, 0, {"a"}), "tx").base_offset == Offset{0});
  REQUIRE(raw.produce(leader, txn_batch(pid, 0, 1, {"b"}), "tx").base_offset == Offset{1});
  REQUIRE(asked == 2);
  // Without a transactional.id (or for a non-transactional batch) nobody is asked.
  REQUIRE(c.produce("t", 0, {"plain"}, -1).error == Errc::NONE);
  REQUIRE(asked == 2);
  REQUIRE(as_expected);
}

TEST_CASE("TV2 markers must be above the producer's epoch: a stale marker is refused and a retried one is idempotent", "[broker][txn]") {
  std::unique_ptr<Cluster> holder;
  Cluster& c = ready_cluster(holder, 14);
  RawClient raw(c);
  const int32_t leader = c.leader_of("t", 0);
  const ProducerId pid = raw.init_producer_id(leader == 1 ? 2 : 1);
  REQUIRE(raw.produce(leader, txn_batch(pid, 0, 0, {"a"})).error == Errc::NONE);
  auto first = [](const protocol::WriteTxnMarkersResponse& r) { return r.markers.at(0).partitions.at(0).second; };
  // A TV2 marker at the data's own epoch is no marker of an EndTxn (which bumps): refused.
  REQUIRE(first(raw.markers(leader, pid, 0, true, {kTp}, 2)) == Errc::INVALID_PRODUCER_EPOCH);
  REQUIRE(first(raw.markers(leader, pid, 1, true, {kTp}, 2)) == Errc::NONE);
  // The same marker again (a retry whose answer was lost): answered as written
  // (KAFKA-19999), nothing appended.
  const Offset end = c.describe_partition("t", 0).replica_states.at(0).log_end_offset;
  REQUIRE(first(raw.markers(leader, pid, 1, true, {kTp}, 2)) == Errc::NONE);
  REQUIRE(c.describe_partition("t", 0).replica_states.at(0).log_end_offset == end);
  // A marker of an older epoch (a delayed copy of an earlier transaction's): refused.
  REQUIRE(first(raw.markers(leader, pid, 0, false, {kTp}, 2)) == Errc::INVALID_PRODUCER_EPOCH);
  REQUIRE(c.describe_partition("t", 0).replica_states.at(0).log_end_offset == end);
}
