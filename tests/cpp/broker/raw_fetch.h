// A Fetch sent from a bare client node (no consumer logic), for the broker
// tests that need to see exactly what a leader answers.
#pragma once

#include <catch2/catch.hpp>

#include <memory>
#include <optional>

#include "engine/broker/protocol.h"
#include "engine/common/node_ids.h"
#include "engine/server/cluster.h"
#include "sim/network.h"

namespace ksim::testing {

using ReplySlot = std::shared_ptr<std::optional<sim::Reply>>;

// Sends `req` to broker `leader` from a fiber of `client`; the reply lands in the slot.
inline ReplySlot start_raw_fetch(Cluster& c, sim::NodeId client, int32_t leader, protocol::FetchRequest req) {
  auto slot = std::make_shared<std::optional<sim::Reply>>();
  sim::Network& net = c.world().network();
  const sim::KindId kind = net.kind("Fetch");
  auto body = sim::make_payload(std::move(req));
  c.world().spawn(client, "raw-fetch", [&net, client, leader, kind, body, slot] {
    *slot = net.call_sync(client, sim_node_of(leader), kind, body, 128, sim::seconds(10));
  });
  return slot;
}

// The answer of a Fetch that must arrive.
inline protocol::FetchResponse answer_of(Cluster& c, const ReplySlot& slot) {
  REQUIRE(c.run_until([&] { return slot->has_value(); }, 15'000));
  REQUIRE((*slot)->status == sim::CallStatus::ok);
  return sim::payload_as<protocol::FetchResponse>((*slot)->payload);
}

}  // namespace ksim::testing
