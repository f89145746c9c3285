// ConsumerNetworkClient: how the consumer talks and waits (Kafka's class of
// that name, reduced to what the simulation needs).
//
// Every request is asynchronous: `send` issues it and a handler runs when the
// reply (or a disconnect / timeout) comes back — on the main context, as a
// timer of the client's node, so never while the node is paused and never
// after it crashed. Handlers must not block and never call user code; they
// update state and `wakeup()` whoever waits.
//
// Blocking consumer calls (poll, commitSync, position, ...) wait with
// `await(pred, deadline)`: from a fiber of any node it sleeps on a CondVar;
// from the main context (Python, tests) it runs the world until pred holds —
// exactly ClientContext's `wait_until`. The background fibers (heartbeat,
// metadata) wait on the same CondVar.
//
// Invariant: `events()` counts handled replies; it only grows, so a waiter
// can tell "something happened since I looked".
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "engine/clients/client_runtime.h"

namespace ksim::clients {

class ConsumerNetworkClient {
 public:
  using Handler = std::function<void(const sim::Reply&)>;
  explicit ConsumerNetworkClient(ClientContext ctx);

  const ClientContext& ctx() const { return ctx_; }
  sim::World& world() const { return *ctx_.world; }
  sim::Instant now() const { return ctx_.world->now(); }
  int64_t now_ms() const { return ctx_.world->now().ns / 1'000'000; }

  // The incarnation that built this client is still running.
  bool alive() const;
  // Sends `api` to broker `broker`; `handler` runs once with the reply.
  void send(int32_t broker, const std::string& api, sim::Payload body, uint32_t size_bytes, int64_t timeout_ms,
            Handler handler);
  // The same with the API's message kind already looked up (a hot request's sender keeps it).
  void send(int32_t broker, sim::KindId kind, sim::Payload body, uint32_t size_bytes, int64_t timeout_ms,
            Handler handler);
  // Requests sent whose handler has not run yet.
  uint64_t in_flight() const { return in_flight_; }
  uint64_t events() const { return events_; }
  void wakeup();
  // Java's reconnect backoff (ClusterConnectionStates): a broker whose request
  // failed in transport (refused, disconnected, timed out) is not sent to for
  // reconnect.backoff.ms. A call to a crashed broker is refused in zero virtual
  // time, so a loop retrying it at once would never let time advance.
  void set_reconnect_backoff_ms(int64_t ms) { reconnect_backoff_ms_ = ms; }
  bool is_unavailable(int32_t broker) const { return now() < available_at(broker); }
  sim::Instant available_at(int32_t broker) const;
  // Waits (fiber or main context) until pred() or the deadline; true if pred().
  bool await(const std::function<bool()>& pred, sim::Instant deadline);
  sim::CondVar& cv() { return cv_; }

 private:
  ClientContext ctx_;
  uint32_t incarnation_;
  sim::CondVar cv_;
  uint64_t in_flight_ = 0;
  uint64_t events_ = 0;
  int64_t reconnect_backoff_ms_ = 50;
  std::map<int32_t, sim::Instant> blackout_until_;  // broker -> no requests before
};

// Kafka error of a failed transport: timeout vs disconnect.
Errc transport_error(const sim::Reply& r);

}  // namespace ksim::clients
