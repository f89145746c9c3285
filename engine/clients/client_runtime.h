// What every simulated client (producer, consumer, admin) shares: where it
// runs, how it talks to brokers, and how its blocking API calls wait.
//
// A client is a process on its own sim node (Cluster::add_client_node). Its
// background work (the producer's Sender, the consumer's heartbeat thread) runs
// as fibers of that node, so crashing the node kills the client like a JVM
// dying; restarting boots a fresh client with the same config.
//
// Blocking calls (flush, poll, commitSync, ...) may be made from a fiber of
// the client's node (a C++ workload) or from the main context (Python, tests).
// `wait_until` covers both: in a fiber it sleeps on a CondVar; from the main
// context it runs the world until the predicate holds, as a blocked client
// thread would let the rest of the world go on.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "engine/check/history.h"
#include "engine/common/node_ids.h"
#include "sim/network.h"
#include "sim/sync.h"
#include "sim/world.h"

namespace ksim::clients {

struct ClientContext {
  sim::World* world = nullptr;
  sim::NodeId self;
  std::string name;                 // "producer-1", "consumer-2": the client.id
  std::vector<int32_t> bootstrap;   // broker ids (bootstrap.servers)
  check::History* history = nullptr;  // may be null: nothing recorded
  int32_t client_id() const { return kafka_id_of(self); }
};

// Waits until `pred()` holds or `deadline` passes; true if it holds.
inline bool wait_until(sim::World& w, sim::CondVar& cv, const std::function<bool()>& pred, sim::Instant deadline) {
  if (pred()) return true;
  if (w.in_fiber()) {
    while (!pred()) {
      if (w.now() >= deadline) return false;
      cv.wait_for(deadline - w.now(), pred);
    }
    return true;
  }
  if (deadline <= w.now()) return pred();
  return w.run_until(pred, deadline - w.now());
}

// One request to a broker (by Kafka id) from a fiber of the client's node.
inline sim::Reply call_broker(const ClientContext& ctx, int32_t broker, const std::string& api, sim::Payload body,
                              uint32_t size_bytes, int64_t timeout_ms) {
  sim::Network& net = ctx.world->network();
  return net.call_sync(ctx.self, sim_node_of(broker), net.kind(api), std::move(body), size_bytes,
                       sim::milliseconds(timeout_ms));
}

}  // namespace ksim::clients
