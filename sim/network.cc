#include "sim/network.h"

#include <algorithm>
#include <sstream>

namespace sim {

const char* direction_name(Direction d) {
  switch (d) {
    case Direction::request: return "request";
    case Direction::response: return "response";
    case Direction::oneway: return "oneway";
  }
  return "?";
}

const char* call_status_name(CallStatus s) {
  switch (s) {
    case CallStatus::ok: return "ok";
    case CallStatus::disconnected: return "disconnected";
    case CallStatus::timeout: return "timeout";
    case CallStatus::refused: return "refused";
  }
  return "?";
}

struct Network::Envelope {
  Payload payload;
  uint64_t correlation = 0;
  uint64_t tag = 0;
  uint32_t src = 0, dst = 0;
  uint32_t conn = 0;
  uint32_t size_bytes = 0;
  uint32_t generation = 0;
  KindId kind;
  Direction dir = Direction::request;
  bool live = false;
};

struct Network::Connection {
  uint32_t client = 0, server = 0;
  uint32_t client_incarnation = 0, server_incarnation = 0;
  Instant last_arrival[2];  // [0] client->server, [1] server->client
  bool open = false;
  bool client_closed = false;  // broken by the client's disconnect() (not a crash, a partition or a loss)
  // Responses the server tried to write after the client's close. TCP's
  // orderly release still delivers the requests the client sent before it;
  // the first response lands in the socket buffer (the client's kernel then
  // resets the stream), the second write fails and the server closes the
  // channel with the rest of its requests unread.
  uint8_t responses_after_close = 0;
};

struct Network::Pending {
  std::function<void(const Reply&)> callback;
  Reply reply;
  WaitRef waiter;
  EventHandle timeout;
  uint32_t src = 0, dst = 0, conn = 0;
  uint32_t generation = 0;
  KindId kind;
  bool live = false, done = false, awaited = false, forgotten = false;
};

struct Network::Rule {
  RuleMatch match;
  RuleAction action = RuleAction::drop;
  uint32_t remaining = 0;  // 0 = unlimited
  bool unlimited = false;
  bool active = false;
  Duration extra;
  uint64_t matched = 0;
  std::vector<uint32_t> held;  // envelope slots
  PayloadRewrite rewrite;      // RuleAction::rewrite
};

struct Network::LinkState {
  std::optional<LinkSpec> spec;
  double loss = 0.0;
  Duration extra;
  Instant clogged_until;
  Instant wire_free_at;  // bandwidth model
};

struct Network::NodeNet {
  explicit NodeNet(World& w) : readers(w) {}
  std::vector<std::optional<Rng>> link_rng;  // indexed by destination
  std::vector<uint32_t> conn_to;            // current connection as client, by server (0 = none)
  std::deque<Incoming> inbox;
  WaitQueue readers;
  // Shared so a handler that replaces itself (or crashes its node) while
  // running keeps its own closure alive until it returns.
  std::shared_ptr<std::function<void(Incoming&&)>> handler;
  std::map<uint16_t, std::shared_ptr<std::function<void(Incoming&&)>>> kind_handlers;
  // Told of every response this node sends (set_response_observer).
  std::function<void(const Incoming&)> response_observer;
};

Network::Network(World& w) : world_(w) {
  conns_.emplace_back();  // id 0 means "no connection"
}

Network::~Network() = default;

// ---- kinds -----------------------------------------------------------------------

KindId Network::kind(std::string_view name) {
  if (auto it = kind_ids_.find(name); it != kind_ids_.end()) return it->second;
  SIM_ASSERT(kind_names_.size() < 65535, "too many message kinds");
  const KindId id{static_cast<uint16_t>(kind_names_.size())};
  kind_names_.emplace_back(name);
  kind_ids_.emplace(std::string(name), id);
  if (auto p = pending_kind_handlers_.find(name); p != pending_kind_handlers_.end()) {
    auto waiting = std::move(p->second);
    pending_kind_handlers_.erase(p);
    for (auto& [node, h] : waiting) set_kind_handler(NodeId{node}, id, std::move(h));
  }
  return id;
}

std::optional<KindId> Network::find_kind(std::string_view name) const {
  if (auto it = kind_ids_.find(name); it != kind_ids_.end()) return it->second;
  return std::nullopt;
}

const std::string& Network::kind_name(KindId k) const {
  SIM_ASSERT(k.value < kind_names_.size(), "unknown message kind");
  return kind_names_[k.value];
}

// ---- nodes and links ----------------------------------------------------------------

void Network::on_node_added() {
  nodes_.push_back(std::make_unique<NodeNet>(world_));
  for (auto& n : nodes_) {
    n->link_rng.resize(nodes_.size());
    n->conn_to.resize(nodes_.size(), 0);
  }
}

void Network::check_node(NodeId n) const {
  if (n.value >= nodes_.size()) throw SimError("unknown node " + std::to_string(n.value));
}

Rng& Network::link_rng(NodeId from, NodeId to) {
  auto& slot = nodes_[from.value]->link_rng[to.value];
  if (!slot) {
    slot.emplace(world_.rng("net/link/" + std::to_string(from.value) + "->" + std::to_string(to.value)));
  }
  return *slot;
}

Network::LinkState* Network::link_state(NodeId from, NodeId to, bool create) {
  const auto key = std::make_pair(from.value, to.value);
  auto it = links_.find(key);
  if (it != links_.end()) return &it->second;
  if (!create) return nullptr;
  return &links_[key];
}

void Network::set_default_link(const LinkSpec& spec) {
  SIM_ASSERT(spec.latency_min <= spec.latency_max && spec.latency_min.ns >= 0, "bad latency range");
  default_link_ = spec;
}

void Network::set_link(NodeId from, NodeId to, const LinkSpec& spec) {
  check_node(from);
  check_node(to);
  if (!(spec.latency_min <= spec.latency_max) || spec.latency_min.ns < 0)
    throw SimError("link latency_min must be >= 0 and <= latency_max");
  link_state(from, to, true)->spec = spec;
}

const LinkSpec& Network::link(NodeId from, NodeId to) const {
  auto it = links_.find({from.value, to.value});
  if (it != links_.end() && it->second.spec) return *it->second.spec;
  return default_link_;
}

// ---- faults ----------------------------------------------------------------------------

void Network::block(NodeId from, NodeId to) {
  if (from != to) blocked_.insert({from.value, to.value});
}

bool Network::reachable(NodeId from, NodeId to) const {
  return blocked_.empty() || !blocked_.contains({from.value, to.value});
}

void Network::break_blocked_connections() {
  std::vector<uint32_t> doomed;
  for (uint32_t c : open_conns_) {
    const Connection& k = conns_[c];
    if (!reachable(NodeId{k.client}, NodeId{k.server}) || !reachable(NodeId{k.server}, NodeId{k.client}))
      doomed.push_back(c);
  }
  for (uint32_t c : doomed) break_connection(c, "partition");
}

static std::string describe_groups(const std::vector<std::vector<NodeId>>& groups) {
  std::ostringstream os;
  os << "[";
  for (size_t i = 0; i < groups.size(); ++i) {
    os << (i ? ", " : "") << "[";
    for (size_t j = 0; j < groups[i].size(); ++j) os << (j ? "," : "") << groups[i][j].value;
    os << "]";
  }
  os << "]";
  return os.str();
}

void Network::partition(const std::vector<std::vector<NodeId>>& groups) {
  std::set<uint32_t> seen;
  for (const auto& g : groups)
    for (NodeId n : g) {
      check_node(n);
      if (!seen.insert(n.value).second)
        throw SimError("node " + std::to_string(n.value) + " appears in two partition groups");
    }
  for (size_t i = 0; i < groups.size(); ++i)
    for (size_t j = 0; j < groups.size(); ++j)
      if (i != j)
        for (NodeId a : groups[i])
          for (NodeId b : groups[j]) block(a, b);
  world_.note_fault(kWorldNode, "partition " + describe_groups(groups));
  break_blocked_connections();
}

void Network::partition_oneway(const std::vector<NodeId>& from, const std::vector<NodeId>& to) {
  for (NodeId a : from) check_node(a);
  for (NodeId b : to) check_node(b);
  for (NodeId a : from)
    for (NodeId b : to) block(a, b);
  world_.note_fault(kWorldNode, "partition_oneway " + describe_groups({from}) + " -> " +
                                    describe_groups({to}));
  break_blocked_connections();
}

void Network::isolate(NodeId n) {
  check_node(n);
  for (uint32_t other = 0; other < nodes_.size(); ++other) {
    block(n, NodeId{other});
    block(NodeId{other}, n);
  }
  world_.note_fault(n, "isolate");
  break_blocked_connections();
}

void Network::clear_partitions() { blocked_.clear(); }

void Network::heal() {
  blocked_.clear();
  for (auto& [key, st] : links_) {
    st.loss = 0.0;
    st.extra = {};
    st.clogged_until = {};
  }
  world_.note_fault(kWorldNode, "heal");
}

void Network::set_loss(NodeId from, NodeId to, double probability) {
  check_node(from);
  check_node(to);
  if (!(probability >= 0.0 && probability <= 1.0)) throw SimError("loss probability must be in [0, 1]");
  link_state(from, to, true)->loss = probability;
  world_.note_fault(from, "loss to " + std::to_string(to.value) + " p=" + std::to_string(probability));
}

void Network::add_delay(NodeId from, NodeId to, Duration extra) {
  check_node(from);
  check_node(to);
  if (extra.ns < 0) throw SimError("extra delay must be >= 0");
  link_state(from, to, true)->extra = extra;
  world_.note_fault(from, "delay to " + std::to_string(to.value) + " +" + std::to_string(extra.ms()) + "ms");
}

void Network::clog(NodeId from, NodeId to, Duration d) {
  check_node(from);
  check_node(to);
  if (d.ns < 0) throw SimError("clog duration must be >= 0");
  link_state(from, to, true)->clogged_until = world_.now() + d;
  world_.note_fault(from, "clog to " + std::to_string(to.value) + " for " + std::to_string(d.ms()) + "ms");
}

// ---- rules -------------------------------------------------------------------------------

RuleId Network::add_rule(const RuleMatch& match, RuleAction action, uint32_t count, Duration extra) {
  if (match.src) check_node(*match.src);
  if (match.dst) check_node(*match.dst);
  if (extra.ns < 0) throw SimError("rule delay must be >= 0");
  Rule r;
  r.match = match;
  r.action = action;
  r.remaining = count;
  r.unlimited = count == 0;
  r.active = true;
  r.extra = extra;
  rules_.push_back(std::move(r));
  ++active_rules_;
  return RuleId{static_cast<uint32_t>(rules_.size() - 1)};
}

RuleId Network::add_rewrite_rule(const RuleMatch& match, uint32_t count, PayloadRewrite rewrite) {
  if (!rewrite) throw SimError("a rewrite rule needs a rewrite function");
  const RuleId id = add_rule(match, RuleAction::rewrite, count);
  rules_[id.value].rewrite = std::move(rewrite);
  return id;
}

Network::Rule& Network::end_rule(RuleId id) {
  if (id.value >= rules_.size()) throw SimError("unknown network rule " + std::to_string(id.value));
  Rule& r = rules_[id.value];
  if (r.active) --active_rules_;
  r.active = false;
  return r;
}

void Network::release(RuleId id) {
  std::vector<uint32_t> held;
  held.swap(end_rule(id).held);
  // (connection, direction) -> the arrival of the last message released on it:
  // held is in send order, and TCP resumes a stalled stream in order.
  std::map<std::pair<uint32_t, int>, Instant> last;  // lookups only
  for (uint32_t slot : held) {
    const Envelope& e = envelopes_[slot];
    world_.trace().record(ev::msg_release, world_.now(), e.src, e.dst, e.kind.value, id.value);
    Instant& prev = last[{e.conn, static_cast<int>(e.dir)}];
    prev = schedule_delivery(slot, {}, false, prev);
  }
}

void Network::discard(RuleId id) {
  std::vector<uint32_t> held;
  held.swap(end_rule(id).held);
  for (uint32_t slot : held) drop(slot, "discarded");
}

size_t Network::held_count(RuleId id) const {
  if (id.value >= rules_.size()) throw SimError("unknown network rule " + std::to_string(id.value));
  return rules_[id.value].held.size();
}

uint64_t Network::matched_count(RuleId id) const {
  if (id.value >= rules_.size()) throw SimError("unknown network rule " + std::to_string(id.value));
  return rules_[id.value].matched;
}

// ---- connections ------------------------------------------------------------------------

uint32_t Network::connect(NodeId client, NodeId server) {
  uint32_t& cur = nodes_[client.value]->conn_to[server.value];
  if (cur != 0) {
    const Connection& c = conns_[cur];
    if (c.open && c.server_incarnation == world_.incarnation(server) &&
        c.client_incarnation == world_.incarnation(client))
      return cur;
  }
  SIM_ASSERT(conns_.size() < 0xffffffffu, "connection id space exhausted");
  Connection c;
  c.client = client.value;
  c.server = server.value;
  c.client_incarnation = world_.incarnation(client);
  c.server_incarnation = world_.incarnation(server);
  c.open = true;
  conns_.push_back(c);
  cur = static_cast<uint32_t>(conns_.size() - 1);
  open_conns_.push_back(cur);
  ++stats_.connections_opened;
  world_.trace().record(ev::conn_open, world_.now(), client.value, server.value, cur);
  return cur;
}

void Network::break_connection(uint32_t conn, const char* reason, CallStatus status) {
  Connection& c = conns_[conn];
  if (!c.open) return;
  c.open = false;
  std::erase(open_conns_, conn);
  ++stats_.connections_broken;
  world_.trace().record(ev::conn_break, world_.now(), c.client, c.server, conn,
                        world_.trace().intern(reason));
  for (uint32_t i = 0; i < pending_.size(); ++i) {
    const Pending& p = pending_[i];
    if (p.live && !p.done && p.conn == conn) complete(i, Reply{status, p.kind, 0, 0, nullptr});
  }
}

void Network::disconnect(NodeId a, NodeId b) {
  check_node(a);
  check_node(b);
  std::vector<uint32_t> doomed;
  for (uint32_t c : open_conns_) {
    const Connection& k = conns_[c];
    if ((k.client == a.value && k.server == b.value) || (k.client == b.value && k.server == a.value))
      doomed.push_back(c);
  }
  for (uint32_t c : doomed) {
    conns_[c].client_closed = conns_[c].client == a.value;
    break_connection(c, "closed");
  }
}

bool Network::readable_after_close(const Connection& c, const Envelope& e) const {
  // A client's own close is TCP's orderly release (FIN after the data): a
  // request it sent before closing still reaches a server that is the same
  // process and reachable, and is read until the server's channel dies (see
  // responses_after_close). A crash, a partition or a loss resets the stream
  // instead, and a response has no reader left.
  if (!c.client_closed || e.dir != Direction::request || c.responses_after_close >= 2) return false;
  const NodeId server{c.server}, client{c.client};
  return world_.is_up(server) && c.server_incarnation == world_.incarnation(server) && reachable(client, server);
}

bool Network::client_closed(uint32_t conn) const {
  return conn < conns_.size() && !conns_[conn].open && conns_[conn].client_closed;
}

void Network::refuse(const Incoming& request) {
  check_node(request.dst);
  break_connection(request.conn, "connection refused", CallStatus::refused);
}

void Network::on_node_crash(NodeId n) {
  // The crashed node's own calls die with it (first, so that breaking its
  // connections below completes only other nodes' calls).
  for (uint32_t i = 0; i < pending_.size(); ++i) {
    Pending& p = pending_[i];
    if (!p.live || p.src != n.value) continue;
    if (p.awaited && !p.done)
      complete(i, Reply{CallStatus::disconnected, p.kind, 0, 0, nullptr});  // wakes a non-node awaiter
    else
      free_pending(i);
  }
  std::vector<uint32_t> doomed;
  for (uint32_t c : open_conns_) {
    const Connection& k = conns_[c];
    if (k.client == n.value || k.server == n.value) doomed.push_back(c);
  }
  for (uint32_t c : doomed) break_connection(c, "peer crashed");
  NodeNet& nn = *nodes_[n.value];
  nn.inbox.clear();
  nn.handler = nullptr;
  nn.kind_handlers.clear();
  nn.response_observer = nullptr;
}

// ---- sending ----------------------------------------------------------------------------------

uint32_t Network::alloc_envelope() {
  uint32_t slot;
  if (!free_envelopes_.empty()) {
    slot = free_envelopes_.back();
    free_envelopes_.pop_back();
  } else {
    SIM_ASSERT(envelopes_.size() < 100'000'000, "too many messages in flight");
    slot = static_cast<uint32_t>(envelopes_.size());
    envelopes_.emplace_back();
  }
  Envelope& e = envelopes_[slot];
  e.live = true;
  ++e.generation;
  return slot;
}

CallId Network::call(NodeId src, NodeId dst, KindId kind, Payload payload, uint32_t size_bytes,
                     Duration timeout, uint64_t tag) {
  check_node(src);
  check_node(dst);
  if (world_.current_is_killed()) throw NodeCrashed{};
  if (!world_.is_up(src)) throw SimError("node " + world_.node_name(src) + " is down and cannot send");
  SIM_ASSERT(timeout.ns > 0, "call timeout must be positive");
  uint32_t ps;
  if (!free_pending_.empty()) {
    ps = free_pending_.back();
    free_pending_.pop_back();
  } else {
    if (pending_.size() >= 10'000'000) throw SimError("too many pending calls");
    ps = static_cast<uint32_t>(pending_.size());
    pending_.emplace_back();
  }
  Pending& p = pending_[ps];
  ++p.generation;
  p.live = true;
  p.done = false;
  p.awaited = false;
  p.forgotten = false;
  p.callback = nullptr;
  p.src = src.value;
  p.dst = dst.value;
  p.kind = kind;
  p.conn = connect(src, dst);
  const CallId id{ps, p.generation};
  const uint64_t correlation = (static_cast<uint64_t>(p.generation) << 32) | ps;
  p.timeout = world_.schedule_event(world_.now() + timeout, p.generation, ps, src.value, world_.incarnation(src),
                                    EventKind::call_timeout);

  const uint32_t es = alloc_envelope();
  Envelope& e = envelopes_[es];
  e.payload = std::move(payload);
  e.correlation = correlation;
  e.tag = tag;
  e.src = src.value;
  e.dst = dst.value;
  e.conn = p.conn;
  e.size_bytes = size_bytes;
  e.kind = kind;
  e.dir = Direction::request;
  route(es);
  return id;
}

bool Network::send(NodeId src, NodeId dst, KindId kind, Payload payload, uint32_t size_bytes,
                   uint64_t tag) {
  check_node(src);
  check_node(dst);
  if (world_.current_is_killed()) return false;  // an unwinding fiber of a crashed node
  if (!world_.is_up(src)) throw SimError("node " + world_.node_name(src) + " is down and cannot send");
  const uint32_t es = alloc_envelope();
  Envelope& e = envelopes_[es];
  e.payload = std::move(payload);
  e.correlation = 0;
  e.tag = tag;
  e.src = src.value;
  e.dst = dst.value;
  e.conn = connect(src, dst);
  e.size_bytes = size_bytes;
  e.kind = kind;
  e.dir = Direction::oneway;
  return route(es);
}

void Network::respond(const Incoming& request, KindId kind, Payload payload, uint32_t size_bytes,
                      uint64_t tag) {
  SIM_ASSERT(request.dir == Direction::request, "respond() to a message that is not a request");
  if (world_.current_is_killed()) return;  // an unwinding fiber of a crashed node
  if (const auto& observe = nodes_[request.dst.value]->response_observer) observe(request);
  const Connection& c = conns_[request.conn];
  if (!c.open || !world_.is_up(request.dst) || c.server_incarnation != world_.incarnation(request.dst)) {
    // The connection the request came on is gone: the response has nowhere to go.
    if (c.client_closed && c.responses_after_close < 2) ++conns_[request.conn].responses_after_close;
    world_.trace().record(ev::msg_drop, world_.now(), request.dst.value, request.src.value, kind.value,
                          world_.trace().intern("connection closed"));
    ++stats_.dropped;
    return;
  }
  const uint32_t es = alloc_envelope();
  Envelope& e = envelopes_[es];
  e.payload = std::move(payload);
  e.correlation = request.correlation;
  e.tag = tag;
  e.src = request.dst.value;
  e.dst = request.src.value;
  e.conn = request.conn;
  e.size_bytes = size_bytes;
  e.kind = kind;
  e.dir = Direction::response;
  route(es);
}

bool Network::route(uint32_t es) {
  Envelope& e = envelopes_[es];
  ++stats_.sent;
  world_.trace().record(ev::msg_send, world_.now(), e.src, e.dst,
                        (static_cast<uint64_t>(e.dir) << 16) | e.kind.value, e.correlation);
  if (!world_.is_up(NodeId{e.dst})) {
    // Nobody listens: the peer's OS answers with a reset.
    const uint32_t conn = e.conn;
    drop(es, "peer down");
    // A live connection breaks when its peer crashes, so this one is new:
    // nothing sent on it was ever delivered.
    break_connection(conn, "connection refused", CallStatus::refused);
    return false;
  }
  if (!reachable(NodeId{e.src}, NodeId{e.dst})) {
    const uint32_t conn = e.conn;
    drop(es, "partition");
    break_connection(conn, "partition");
    return true;
  }
  Duration extra{};
  int copies = 1;
  if (active_rules_ > 0) {
    for (uint32_t ri = 0; ri < rules_.size(); ++ri) {
      Rule& r = rules_[ri];
      if (!r.active) continue;
      const RuleMatch& m = r.match;
      if ((m.src && m.src->value != e.src) || (m.dst && m.dst->value != e.dst) ||
          (m.kind && *m.kind != e.kind) || (m.dir && *m.dir != e.dir))
        continue;
      ++r.matched;
      if (!r.unlimited && --r.remaining == 0 && r.action != RuleAction::hold) {
        r.active = false;
        --active_rules_;
      } else if (!r.unlimited && r.remaining == 0) {
        // A hold rule stops matching but keeps its messages until released.
        r.active = false;
        --active_rules_;
      }
      switch (r.action) {
        case RuleAction::drop:
          drop(es, "rule");
          return true;
        case RuleAction::hold:
          r.held.push_back(es);
          ++stats_.held;
          world_.trace().record(ev::msg_hold, world_.now(), e.src, e.dst, e.kind.value, ri);
          return true;
        case RuleAction::delay:
          extra = r.extra;
          break;
        case RuleAction::duplicate:
          copies = 2;
          break;
        case RuleAction::rewrite:
          e.payload = r.rewrite(e.payload);
          break;
      }
      break;  // first matching rule only
    }
  }
  if (!links_.empty()) {
    if (LinkState* ls = link_state(NodeId{e.src}, NodeId{e.dst}, false); ls && ls->loss > 0.0 &&
        link_rng(NodeId{e.src}, NodeId{e.dst}).bernoulli(ls->loss)) {
      const uint32_t conn = e.conn;
      drop(es, "loss");
      break_connection(conn, "loss");
      return true;
    }
  }
  if (copies == 2) {
    const uint32_t dup = alloc_envelope();
    Envelope& d = envelopes_[dup];
    const uint32_t gen = d.generation;
    d = envelopes_[es];
    d.generation = gen;
    ++stats_.duplicated;
    schedule_delivery(es, extra, extra.ns == 0);
    schedule_delivery(dup, extra, extra.ns == 0);
    return true;
  }
  schedule_delivery(es, extra, extra.ns == 0);
  return true;
}

Instant Network::schedule_delivery(uint32_t es, Duration extra, bool fifo, Instant not_before) {
  Envelope& e = envelopes_[es];
  const NodeId from{e.src}, to{e.dst};
  const LinkSpec& spec = link(from, to);
  int64_t lat = spec.latency_min.ns;
  if (spec.latency_min.ns != spec.latency_max.ns || spec.spike_probability > 0.0) {
    Rng& rng = link_rng(from, to);
    if (spec.latency_min.ns != spec.latency_max.ns)
      lat = rng.uniform_range(spec.latency_min.ns, spec.latency_max.ns);
    if (spec.spike_probability > 0.0 && rng.bernoulli(spec.spike_probability))
      lat += static_cast<int64_t>(rng.exponential(static_cast<double>(spec.spike_mean.ns)));
  }
  Instant at = std::max(world_.now() + Duration{lat} + extra, not_before);
  LinkState* ls = links_.empty() && spec.bandwidth_bytes_per_s == 0
                      ? nullptr
                      : link_state(from, to, spec.bandwidth_bytes_per_s > 0);
  if (ls) {
    at = at + ls->extra;
    if (ls->clogged_until > world_.now()) at = std::max(at, ls->clogged_until + Duration{lat});
    if (spec.bandwidth_bytes_per_s > 0) {
      // The link serialises messages: this one starts when the wire is free.
      const Instant start = std::max(world_.now(), ls->wire_free_at);
      const Duration wire{static_cast<int64_t>(static_cast<__uint128_t>(e.size_bytes) * 1'000'000'000ULL /
                                               spec.bandwidth_bytes_per_s)};
      ls->wire_free_at = start + wire;
      at = std::max(at, ls->wire_free_at + Duration{lat});
    }
  }
  if (fifo) {
    Connection& c = conns_[e.conn];
    const int d = e.dir == Direction::response ? 1 : 0;
    at = std::max(at, c.last_arrival[d]);
    c.last_arrival[d] = at;
  }
  world_.schedule_event(at, e.generation, es, e.dst, world_.incarnation(to), EventKind::deliver);
  return at;
}

void Network::drop(uint32_t es, const char* reason) {
  Envelope& e = envelopes_[es];
  ++stats_.dropped;
  world_.trace().record(ev::msg_drop, world_.now(), e.src, e.dst, e.kind.value, world_.trace().intern(reason));
  e.payload.reset();
  e.live = false;
  free_envelopes_.push_back(es);
}

void Network::discard(uint32_t es, uint64_t generation) {
  Envelope& e = envelopes_[es];
  if (!e.live || e.generation != static_cast<uint32_t>(generation)) return;
  drop(es, "receiver crashed");
}

// ---- delivery ------------------------------------------------------------------------------

void Network::deliver(uint32_t es, uint64_t generation) {
  Envelope& e = envelopes_[es];
  if (!e.live || e.generation != static_cast<uint32_t>(generation)) return;
  const Connection& c = conns_[e.conn];
  const NodeId dst{e.dst};
  if (!c.open && !readable_after_close(c, e)) {
    drop(es, "connection closed");
    return;
  }
  ++stats_.delivered;
  world_.trace().record(ev::msg_deliver, world_.now(), e.dst, e.src,
                        (static_cast<uint64_t>(e.dir) << 16) | e.kind.value, e.correlation);
  if (e.dir == Direction::response) {
    const uint32_t ps = static_cast<uint32_t>(e.correlation);
    const uint32_t gen = static_cast<uint32_t>(e.correlation >> 32);
    Reply r{CallStatus::ok, e.kind, e.size_bytes, e.tag, std::move(e.payload)};
    e.live = false;
    free_envelopes_.push_back(es);
    if (ps < pending_.size() && pending_[ps].live && pending_[ps].generation == gen && !pending_[ps].done)
      complete(ps, std::move(r));
    return;
  }
  Incoming in{NodeId{e.src}, dst, e.conn, e.kind, e.dir, e.size_bytes, e.correlation, e.tag,
              std::move(e.payload)};
  e.live = false;
  free_envelopes_.push_back(es);
  NodeNet& nn = *nodes_[dst.value];
  if (!nn.kind_handlers.empty()) {
    if (auto it = nn.kind_handlers.find(in.kind.value); it != nn.kind_handlers.end()) {
      const auto handler = it->second;  // keeps the closure alive if it replaces itself
      (*handler)(std::move(in));
      return;
    }
  }
  if (nn.handler) {
    const auto handler = nn.handler;  // keeps the closure alive if it replaces itself
    (*handler)(std::move(in));
    return;
  }
  if (nn.inbox.size() >= inbox_limit_) {
    // A server that stopped reading: TCP would stop the sender; we reset.
    world_.probe("network: inbox overflow");
    break_connection(in.conn, "inbox overflow");
    return;
  }
  nn.inbox.push_back(std::move(in));
  nn.readers.notify_one();
}

void Network::set_response_observer(NodeId node, std::function<void(const Incoming&)> observer) {
  check_node(node);
  nodes_[node.value]->response_observer = std::move(observer);
}

void Network::set_kind_handler(NodeId node, KindId kind, std::function<void(Incoming&&)> handler) {
  check_node(node);
  auto& m = nodes_[node.value]->kind_handlers;
  if (handler)
    m[kind.value] = std::make_shared<std::function<void(Incoming&&)>>(std::move(handler));
  else
    m.erase(kind.value);
}

void Network::set_kind_handler(NodeId node, std::string_view kind, std::function<void(Incoming&&)> handler) {
  if (auto k = find_kind(kind)) return set_kind_handler(node, *k, std::move(handler));
  check_node(node);
  auto& waiting = pending_kind_handlers_[std::string(kind)];
  if (handler)
    waiting[node.value] = std::move(handler);
  else
    waiting.erase(node.value);
}

std::optional<Incoming> Network::receive(NodeId self, std::optional<Duration> timeout) {
  check_node(self);
  NodeNet& nn = *nodes_[self.value];
  const std::optional<Instant> deadline =
      timeout ? std::optional<Instant>(world_.now() + *timeout) : std::nullopt;
  while (nn.inbox.empty()) {
    if (!nn.readers.wait(deadline)) break;
  }
  if (nn.inbox.empty()) return std::nullopt;
  Incoming in = std::move(nn.inbox.front());
  nn.inbox.pop_front();
  return in;
}

void Network::set_handler(NodeId node, std::function<void(Incoming&&)> handler) {
  check_node(node);
  nodes_[node.value]->handler =
      handler ? std::make_shared<std::function<void(Incoming&&)>>(std::move(handler)) : nullptr;
}

// ---- completion -----------------------------------------------------------------------------

void Network::complete(uint32_t ps, Reply reply) {
  Pending& p = pending_[ps];
  SIM_ASSERT(p.live && !p.done, "completing a call twice");
  p.done = true;
  world_.unschedule(p.timeout);
  p.reply = std::move(reply);
  if (p.forgotten) {
    free_pending(ps);
    return;
  }
  if (p.callback) {
    // Run as a timer of the calling node: after whatever is being done now
    // (a crash's bookkeeping, say), and frozen while the node is paused.
    auto cb = std::move(p.callback);
    auto r = std::make_shared<Reply>(std::move(p.reply));
    const NodeId src{p.src};
    free_pending(ps);
    if (world_.is_up(src)) world_.schedule_after(src, Duration{}, [cb = std::move(cb), r] { cb(*r); });
    return;
  }
  if (p.awaited) world_.wake(p.waiter);
}

void Network::free_pending(uint32_t ps) {
  Pending& p = pending_[ps];
  SIM_ASSERT(p.live, "freeing a call slot twice");
  world_.unschedule(p.timeout);
  p.live = false;
  p.done = false;
  p.awaited = false;
  p.forgotten = false;
  p.callback = nullptr;
  p.reply = Reply{};
  ++p.generation;
  free_pending_.push_back(ps);
}

void Network::call_timed_out(uint32_t ps, uint64_t generation) {
  if (ps >= pending_.size()) return;
  Pending& p = pending_[ps];
  if (!p.live || p.done || p.generation != static_cast<uint32_t>(generation)) return;
  world_.trace().record(ev::rpc_timeout, world_.now(), p.src, p.dst, p.kind.value, ps);
  complete(ps, Reply{CallStatus::timeout, p.kind, 0, 0, nullptr});
}

Reply Network::await(CallId id) {
  if (id.slot >= pending_.size() || !pending_[id.slot].live || pending_[id.slot].generation != id.generation)
    throw SimError("await on an unknown or already consumed call");
  Pending& p0 = pending_[id.slot];
  if (p0.callback || p0.forgotten) throw SimError("await on a call that has an on_reply callback or was forgotten");
  auto same_call = [&] { return pending_[id.slot].live && pending_[id.slot].generation == id.generation; };
  while (same_call() && !pending_[id.slot].done) {
    Pending& p = pending_[id.slot];
    p.waiter = world_.prepare_wait();
    p.awaited = true;
    world_.block(p.waiter, std::nullopt);  // the call's own timeout bounds the wait
  }
  if (!same_call()) return Reply{CallStatus::disconnected, p0.kind, 0, 0, nullptr};
  Reply r = std::move(pending_[id.slot].reply);
  free_pending(id.slot);
  return r;
}

void Network::forget(CallId id) {
  if (id.slot >= pending_.size() || !pending_[id.slot].live || pending_[id.slot].generation != id.generation)
    return;
  Pending& p = pending_[id.slot];
  if (p.done)
    free_pending(id.slot);
  else
    p.forgotten = true;
}

void Network::retarget_timeout(uint32_t ps, uint64_t generation, EventHandle h) {
  if (ps < pending_.size() && pending_[ps].live && pending_[ps].generation == static_cast<uint32_t>(generation))
    pending_[ps].timeout = h;
}

void Network::on_reply(CallId id, std::function<void(const Reply&)> fn) {
  if (id.slot >= pending_.size() || !pending_[id.slot].live || pending_[id.slot].generation != id.generation)
    throw SimError("on_reply on an unknown or already consumed call");
  Pending& p = pending_[id.slot];
  p.callback = std::move(fn);
  if (p.done) {
    p.done = false;  // complete() again, now with the callback in place
    complete(id.slot, std::move(p.reply));
  }
}

}  // namespace sim
