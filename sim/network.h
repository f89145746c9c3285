// The simulated network.
//
// Model: connection-oriented, like TCP. A client node opens a connection to a
// server node on first use; messages on one connection arrive in FIFO order in
// each direction. A connection breaks when either end crashes, when a partition
// separates the ends, or when a lossy link loses a message (TCP would reset
// rather than silently lose a segment mid-stream); in-flight messages on a
// broken connection are lost and every pending call on it fails with
// `disconnected`. The next call opens a new connection.
//
// Request/response RPC: call() sends a request and returns a CallId; await()
// blocks the calling fiber until the reply, a disconnect, or the call's timeout.
// Servers either receive() requests from their inbox in a fiber, or install a
// handler that runs on delivery (cheaper: no fiber switch). respond() answers.
//
// Latency: per directed link, uniform in [latency_min, latency_max], plus a
// rare exponential spike (spike_probability / spike_mean), plus extra_delay,
// plus serialisation time when bandwidth is set; never earlier than the
// previous message of the same connection (FIFO). Each link draws from its own
// random stream, so traffic on one link never changes another's latencies.
//
// Faults: partition(groups), partition_oneway(from, to), isolate(n), heal();
// set_loss, add_delay, clog (messages wait until the clog ends; nothing lost).
//
// Message rules (for scripting a failure step by step): the first active rule
// matching (src, dst, kind, direction) of a message at SEND time acts on it:
// drop, delay by extra, hold until release()/discard(), or duplicate. A rule
// acts on its next `count` matches (0 = until removed). Rule-delayed and held
// messages step out of their connection's FIFO order — that is their purpose:
// "hold this one Fetch response, let everything else flow". Messages one hold
// rule released together keep their send order among themselves, per
// connection and direction (the held part of a stream resumes in order).
//
// sim knows nothing about Kafka: message kinds are names the engine registers
// ("Produce", "Fetch", ...), payloads are opaque shared pointers.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "sim/sync.h"
#include "sim/world.h"

namespace sim {

struct KindId {
  uint16_t value = 0;
  constexpr auto operator<=>(const KindId&) const = default;
};

enum class Direction : uint8_t { request = 0, response = 1, oneway = 2 };
const char* direction_name(Direction d);

// Opaque message body; shared, never copied as it moves through the network.
using Payload = std::shared_ptr<const void>;

// Wraps a typed body as a Payload (one allocation, shared from then on).
template <class T>
Payload make_payload(T v) {
  return std::make_shared<const T>(std::move(v));
}
// The typed body of a payload the receiver knows the type of (by message kind).
template <class T>
const T& payload_as(const Payload& p) {
  return *static_cast<const T*>(p.get());
}

struct Incoming {
  NodeId src, dst;
  uint32_t conn = 0;
  KindId kind;
  Direction dir = Direction::request;
  uint32_t size_bytes = 0;
  uint64_t correlation = 0;
  uint64_t tag = 0;  // small inline value, for payload-free messages
  Payload payload;
};

// refused: the request was never delivered — the server was down, or not
// yet listening, when its connection was opened (TCP's RST to a SYN). Unlike
// `disconnected`, the caller knows the server saw nothing of it.
enum class CallStatus : uint8_t { ok, disconnected, timeout, refused };
const char* call_status_name(CallStatus s);

struct Reply {
  CallStatus status = CallStatus::ok;
  KindId kind;
  uint32_t size_bytes = 0;
  uint64_t tag = 0;
  Payload payload;
};

struct CallId {
  uint32_t slot = 0;
  uint32_t generation = 0;
};

struct LinkSpec {
  Duration latency_min = microseconds(100);
  Duration latency_max = microseconds(500);
  double spike_probability = 0.0;
  Duration spike_mean = milliseconds(5);
  uint64_t bandwidth_bytes_per_s = 0;  // 0: unlimited
};

// rewrite: the message goes on with its payload replaced by the rule's
// function (a fault proxy answering an error instead of the server's answer).
enum class RuleAction : uint8_t { drop, delay, hold, duplicate, rewrite };
using PayloadRewrite = std::function<Payload(const Payload&)>;

struct RuleMatch {
  std::optional<NodeId> src, dst;
  std::optional<KindId> kind;
  std::optional<Direction> dir;
};

struct RuleId {
  uint32_t value = 0;
};

struct NetworkStats {
  uint64_t sent = 0, delivered = 0, dropped = 0, held = 0, duplicated = 0;
  uint64_t connections_opened = 0, connections_broken = 0;
};

class Network {
 public:
  explicit Network(World& w);
  ~Network();

  // ---- message kinds ------------------------------------------------------
  KindId kind(std::string_view name);
  std::optional<KindId> find_kind(std::string_view name) const;
  const std::string& kind_name(KindId k) const;

  // ---- links ----------------------------------------------------------------
  void set_default_link(const LinkSpec& spec);
  void set_link(NodeId from, NodeId to, const LinkSpec& spec);  // one direction
  const LinkSpec& link(NodeId from, NodeId to) const;

  // ---- faults ---------------------------------------------------------------
  // Nodes in different groups cannot talk (both directions). Nodes not listed
  // in any group keep talking to everyone (e.g. clients, unless listed).
  void partition(const std::vector<std::vector<NodeId>>& groups);  // adds to the current cuts
  // Removes every cut (partitions, one-way partitions, isolations), keeping
  // link loss and delays: what a partition that replaces the earlier ones
  // starts from.
  void clear_partitions();
  // Messages from any of `from` to any of `to` are lost; the reverse flows.
  void partition_oneway(const std::vector<NodeId>& from, const std::vector<NodeId>& to);
  void isolate(NodeId n);
  // Ends every partition, clog, loss and extra delay. Rules stay (remove them).
  void heal();
  bool reachable(NodeId from, NodeId to) const;
  void set_loss(NodeId from, NodeId to, double probability);
  void add_delay(NodeId from, NodeId to, Duration extra);
  void clog(NodeId from, NodeId to, Duration d);

  // ---- message rules ---------------------------------------------------------
  RuleId add_rule(const RuleMatch& match, RuleAction action, uint32_t count,
                  Duration extra = {});
  // A rewrite rule: each of the next `count` matching messages (0: all) is
  // delivered with `rewrite(payload)` instead of its payload.
  RuleId add_rewrite_rule(const RuleMatch& match, uint32_t count, PayloadRewrite rewrite);
  // Delivers every message the hold rule holds and ends the rule. Released
  // messages of one connection arrive in the order they were sent (a stalled
  // TCP stream resumes in order): they only step out of order with respect to
  // the messages the rule let through.
  void release(RuleId id);
  // Drops every held message and ends the rule.
  void discard(RuleId id);
  // Ends a rule; messages it holds are dropped.
  void remove_rule(RuleId id) { discard(id); }
  size_t held_count(RuleId id) const;
  uint64_t matched_count(RuleId id) const;

  // ---- messaging -------------------------------------------------------------
  CallId call(NodeId src, NodeId dst, KindId kind, Payload payload, uint32_t size_bytes,
              Duration timeout, uint64_t tag = 0);
  // Blocks the calling fiber (of `src`) until the call completes.
  Reply await(CallId id);
  // Runs `fn` when the call completes, as a zero-delay timer of the calling node
  // (so never while that node is paused or after it crashed; it must not block).
  void on_reply(CallId id, std::function<void(const Reply&)> fn);
  // The caller will never await this call: its reply is discarded on arrival.
  void forget(CallId id);
  Reply call_sync(NodeId src, NodeId dst, KindId kind, Payload payload, uint32_t size_bytes,
                  Duration timeout, uint64_t tag = 0) {
    return await(call(src, dst, kind, std::move(payload), size_bytes, timeout, tag));
  }
  // A one-way message. False when the peer is down: its connection is
  // refused and nothing was sent (the sender knows, as TCP's connect fails).
  bool send(NodeId src, NodeId dst, KindId kind, Payload payload, uint32_t size_bytes,
            uint64_t tag = 0);
  void respond(const Incoming& request, KindId kind, Payload payload, uint32_t size_bytes,
               uint64_t tag = 0);
  // Breaks every open connection between a and b (as a client timing out a
  // request closes its connection in Kafka).
  void disconnect(NodeId a, NodeId b);
  // True when `conn` was closed by its client end through disconnect(): the
  // client's socket is gone, so (as TCP answers data for a closed socket with
  // a reset) the server's first response after the close is written, and a
  // second one fails. A partition, a loss or a crash sets nothing here.
  bool client_closed(uint32_t conn) const;
  // A server not yet listening refuses the connection a request came on:
  // its calls fail `refused` (the server processed none of them).
  void refuse(const Incoming& request);

  // ---- receiving -------------------------------------------------------------
  // Handler invoked on delivery of requests / one-way messages to `node`
  // (main context; must not block). Cleared when the node crashes.
  void set_handler(NodeId node, std::function<void(Incoming&&)> handler);
  // A handler for one message kind only: takes precedence over the catch-all
  // handler, so two subsystems of one node (a broker and its co-located KRaft
  // controller) can each serve their own APIs. Cleared when the node crashes.
  void set_kind_handler(NodeId node, KindId kind, std::function<void(Incoming&&)> handler);
  // The same by name, for a kind that may not exist yet: installed when the
  // kind is first registered (a server of a rarely used API must not create
  // its kind at boot — kind ids are part of every trace).
  void set_kind_handler(NodeId node, std::string_view kind, std::function<void(Incoming&&)> handler);
  // Called with the request each time `node` responds to one (before the
  // response is routed, even if its connection is gone): how a server learns
  // that a request is finished (Kafka unmutes the connection then). Must not
  // block or respond. Cleared when the node crashes.
  void set_response_observer(NodeId node, std::function<void(const Incoming&)> observer);
  // Blocks the calling fiber of `self` until a request arrives (nullopt on timeout).
  std::optional<Incoming> receive(NodeId self, std::optional<Duration> timeout = std::nullopt);

  const NetworkStats& stats() const { return stats_; }
  size_t inbox_limit() const { return inbox_limit_; }
  void set_inbox_limit(size_t n) { inbox_limit_ = n; }

  // ---- called by World -------------------------------------------------------
  void on_node_added();
  void on_node_crash(NodeId n);
  void deliver(uint32_t slot, uint64_t generation);
  void call_timed_out(uint32_t slot, uint64_t generation);
  // A delivery event made stale by a crash: free the message.
  void discard(uint32_t slot, uint64_t generation);
  // A call's timeout event was re-queued (pause/resume): remember the new handle.
  void retarget_timeout(uint32_t slot, uint64_t generation, EventHandle h);

 private:
  struct Envelope;
  struct Connection;
  struct Pending;
  struct Rule;
  struct LinkState;
  struct NodeNet;

  uint32_t connect(NodeId client, NodeId server);
  Rule& end_rule(RuleId id);
  // False when the peer is down: the connection is refused, nothing is sent.
  bool route(uint32_t env_slot);
  // Schedules the envelope's delivery and returns its arrival time, never
  // before `not_before`.
  Instant schedule_delivery(uint32_t env_slot, Duration extra, bool fifo, Instant not_before = {});
  void drop(uint32_t env_slot, const char* reason);
  bool readable_after_close(const Connection& c, const Envelope& e) const;
  void break_connection(uint32_t conn, const char* reason, CallStatus status = CallStatus::disconnected);
  void complete(uint32_t pending_slot, Reply reply);
  void free_pending(uint32_t pending_slot);
  uint32_t alloc_envelope();
  Rng& link_rng(NodeId from, NodeId to);
  LinkState* link_state(NodeId from, NodeId to, bool create);
  void block(NodeId from, NodeId to);
  void break_blocked_connections();
  void check_node(NodeId n) const;

  World& world_;
  LinkSpec default_link_;
  std::vector<std::string> kind_names_;
  std::map<std::string, KindId, std::less<>> kind_ids_;
  // Handlers waiting for their kind to exist: kind -> node -> handler (the last set wins).
  std::map<std::string, std::map<uint32_t, std::function<void(Incoming&&)>>, std::less<>> pending_kind_handlers_;
  std::vector<Envelope> envelopes_;
  std::vector<uint32_t> free_envelopes_;
  std::vector<Connection> conns_;
  std::vector<uint32_t> open_conns_;
  std::vector<Pending> pending_;
  std::vector<uint32_t> free_pending_;
  std::vector<std::unique_ptr<NodeNet>> nodes_;
  std::map<std::pair<uint32_t, uint32_t>, LinkState> links_;
  std::set<std::pair<uint32_t, uint32_t>> blocked_;
  std::vector<Rule> rules_;
  size_t active_rules_ = 0;
  size_t inbox_limit_ = 1'000'000;
  NetworkStats stats_;
};

}  // namespace sim
