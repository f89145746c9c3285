// A raw protocol client for the group coordinator stories: a client node that
// sends FindCoordinator / JoinGroup / SyncGroup / Heartbeat / LeaveGroup /
// OffsetCommit / OffsetFetch with world.network().call_sync from a fiber, so
// a test can park a JoinGroup and let the simulation run meanwhile.
#pragma once

#include <catch2/catch.hpp>

#include <memory>
#include <optional>
#include <string>

#include "engine/broker/protocol.h"
#include "engine/common/node_ids.h"
#include "engine/server/cluster.h"
#include "sim/network.h"

namespace ksim::test {

inline ClusterOptions group_opts(uint64_t seed, int32_t brokers, Config::Map config = {}, int32_t controllers = 0) {
  ClusterOptions o;
  o.seed = seed;
  o.brokers = brokers;
  o.controllers = controllers;
  config.try_emplace("offsets.topic.num.partitions", "5");
  o.config = std::move(config);
  return o;
}

// A request in flight: the reply once it arrived.
template <class Resp>
struct Call {
  std::shared_ptr<std::optional<sim::Reply>> reply = std::make_shared<std::optional<sim::Reply>>();
  bool done() const { return reply->has_value(); }
  bool ok() const { return done() && (*reply)->status == sim::CallStatus::ok; }
  const Resp& get() const {
    REQUIRE(ok());
    return sim::payload_as<Resp>((*reply)->payload);
  }
};

template <class Resp, class Req>
Call<Resp> send(Cluster& c, sim::NodeId from, int32_t broker, const std::string& api, Req req, int64_t timeout_ms = 120'000) {
  Call<Resp> call;
  sim::World& w = c.world();
  auto reply = call.reply;
  w.spawn(from, "raw-" + api, [&w, from, broker, api, body = sim::make_payload(std::move(req)), reply, timeout_ms] {
    sim::Network& net = w.network();
    *reply = net.call_sync(from, sim_node_of(broker), net.kind(api), body, 128, sim::milliseconds(timeout_ms));
  });
  w.settle();
  return call;
}

template <class Resp>
const Resp& wait(Cluster& c, const Call<Resp>& call, int64_t timeout_ms = 60'000) {
  c.run_until([&] { return call.done(); }, timeout_ms);
  return call.get();
}
// A temporary call's response is returned by value: a reference into the
// call would dangle once the full expression ends (ASan found exactly that in
// `const auto& r = wait(c, send(...))`).
template <class Resp>
Resp wait(Cluster& c, Call<Resp>&& call, int64_t timeout_ms = 60'000) {
  c.run_until([&] { return call.done(); }, timeout_ms);
  return call.get();
}

// A group member speaking the classic protocol by hand.
struct RawMember {
  Cluster& c;
  sim::NodeId node;
  std::string group;
  std::optional<std::string> instance;
  int32_t session_ms = 10'000;
  int32_t rebalance_ms = 20'000;
  std::string protocol_metadata = "subscription:t";
  std::string member_id;
  int32_t generation = -1;
  int32_t coordinator = -1;

  RawMember(Cluster& cl, const std::string& name, std::string g, std::optional<std::string> inst = std::nullopt)
      : c(cl), node(cl.add_client_node(name)), group(std::move(g)), instance(std::move(inst)) {}

  // FindCoordinator until a broker is named.
  int32_t find_coordinator(int32_t ask = 1) {
    for (int i = 0; i < 200; ++i) {
      auto call = send<protocol::FindCoordinatorResponse>(c, node, ask, "FindCoordinator",
                                                          protocol::FindCoordinatorRequest{group, 0}, 5'000);
      c.run_until([&] { return call.done(); }, 6'000);
      if (call.ok() && call.get().error == Errc::NONE) return coordinator = call.get().node_id;
      c.run_for_ms(100);
    }
    FAIL("no coordinator found for " + group);
    return -1;
  }

  protocol::JoinGroupRequest join_request() const {
    protocol::JoinGroupRequest r;
    r.group_id = group;
    r.session_timeout_ms = session_ms;
    r.rebalance_timeout_ms = rebalance_ms;
    r.member_id = member_id;
    r.group_instance_id = instance;
    r.protocols = {protocol::JoinGroupProtocol{"range", protocol_metadata}};
    return r;
  }
  Call<protocol::JoinGroupResponse> join_async() {
    return send<protocol::JoinGroupResponse>(c, node, coordinator, "JoinGroup", join_request());
  }
  // Joins until the coordinator accepted (answers MEMBER_ID_REQUIRED and
  // retriable errors like the Java client); returns the parked call.
  Call<protocol::JoinGroupResponse> start_join() {
    for (int i = 0; i < 100; ++i) {
      if (coordinator < 0) find_coordinator();
      auto call = join_async();
      c.run_for_ms(50);
      if (!call.done()) return call;  // parked: waiting for the join phase
      const auto& r = call.get();
      if (r.error == Errc::MEMBER_ID_REQUIRED) {
        member_id = r.member_id;
        continue;
      }
      if (r.error == Errc::COORDINATOR_LOAD_IN_PROGRESS || r.error == Errc::NOT_COORDINATOR ||
          r.error == Errc::COORDINATOR_NOT_AVAILABLE) {
        if (r.error != Errc::COORDINATOR_LOAD_IN_PROGRESS) coordinator = -1;
        c.run_for_ms(100);
        continue;
      }
      return call;  // answered at once (an error, or the current generation)
    }
    FAIL("JoinGroup never accepted");
    return {};
  }
  void take(const protocol::JoinGroupResponse& r) {
    REQUIRE(r.error == Errc::NONE);
    member_id = r.member_id;
    generation = r.generation_id;
  }
  Call<protocol::SyncGroupResponse> sync_async(std::vector<protocol::SyncGroupAssignment> assignments = {}) {
    protocol::SyncGroupRequest r;
    r.group_id = group;
    r.generation_id = generation;
    r.member_id = member_id;
    r.group_instance_id = instance;
    r.protocol_name = "range";
    r.assignments = std::move(assignments);
    return send<protocol::SyncGroupResponse>(c, node, coordinator, "SyncGroup", r);
  }
  Errc heartbeat() {
    protocol::HeartbeatRequest r{group, generation, member_id, instance};
    return wait(c, send<protocol::HeartbeatResponse>(c, node, coordinator, "Heartbeat", r)).error;
  }
  Errc commit(const TopicPartition& tp, int64_t offset, int32_t gen, const std::string& mid) {
    protocol::OffsetCommitRequest r;
    r.group_id = group;
    r.generation_id = gen;
    r.member_id = mid;
    r.group_instance_id = mid == member_id ? instance : std::nullopt;
    r.partitions.push_back(protocol::OffsetCommitPartition{tp, Offset{offset}, kNoEpoch, "m"});
    const auto resp = wait(c, send<protocol::OffsetCommitResponse>(c, node, coordinator, "OffsetCommit", r));
    REQUIRE(resp.partitions.size() == 1);
    return resp.partitions[0].second;
  }
  Errc commit(const TopicPartition& tp, int64_t offset) { return commit(tp, offset, generation, member_id); }
  protocol::OffsetFetchResponse fetch(const TopicPartition& tp) {
    protocol::OffsetFetchRequest r;
    r.group_id = group;
    r.partitions = std::vector<TopicPartition>{tp};
    return wait(c, send<protocol::OffsetFetchResponse>(c, node, coordinator, "OffsetFetch", r));
  }
};

}  // namespace ksim::test
