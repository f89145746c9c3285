#include "engine/clients/consumer_network_client.h"

#include <memory>

namespace ksim::clients {

ConsumerNetworkClient::ConsumerNetworkClient(ClientContext ctx)
    : ctx_(std::move(ctx)), incarnation_(ctx_.world->incarnation(ctx_.self)), cv_(*ctx_.world) {}

bool ConsumerNetworkClient::alive() const {
  return ctx_.world->is_up(ctx_.self) && ctx_.world->incarnation(ctx_.self) == incarnation_;
}

void ConsumerNetworkClient::send(int32_t broker, const std::string& api, sim::Payload body, uint32_t size_bytes,
                                 int64_t timeout_ms, Handler handler) {
  send(broker, ctx_.world->network().kind(api), std::move(body), size_bytes, timeout_ms, std::move(handler));
}

void ConsumerNetworkClient::send(int32_t broker, sim::KindId kind, sim::Payload body, uint32_t size_bytes,
                                 int64_t timeout_ms, Handler handler) {
  sim::Network& net = ctx_.world->network();
  const sim::CallId id = net.call(ctx_.self, sim_node_of(broker), kind, std::move(body), size_bytes,
                                  sim::milliseconds(timeout_ms));
  ++in_flight_;
  net.on_reply(id, [this, broker, h = std::move(handler)](const sim::Reply& r) {
    --in_flight_;
    if (r.status != sim::CallStatus::ok) blackout_until_[broker] = now() + sim::milliseconds(reconnect_backoff_ms_);
    h(r);
    ++events_;
    cv_.notify_all();
  });
}

sim::Instant ConsumerNetworkClient::available_at(int32_t broker) const {
  auto it = blackout_until_.find(broker);
  return it == blackout_until_.end() ? sim::Instant{} : it->second;
}

void ConsumerNetworkClient::wakeup() {
  ++events_;
  cv_.notify_all();
}

bool ConsumerNetworkClient::await(const std::function<bool()>& pred, sim::Instant deadline) {
  return wait_until(*ctx_.world, cv_, pred, deadline);
}

Errc transport_error(const sim::Reply& r) {
  return r.status == sim::CallStatus::timeout ? Errc::REQUEST_TIMED_OUT : Errc::NETWORK_EXCEPTION;
}

}  // namespace ksim::clients
