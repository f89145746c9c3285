#include "engine/server/cluster.h"

#include <algorithm>
#include <cctype>
#include <limits>
#include <map>
#include <sstream>

#include "engine/broker/protocol.h"
#include "engine/server/nemesis.h"
#include "engine/common/node_ids.h"
#include "engine/coordinator/coordinator_lookup.h"
#include "engine/coordinator/java_hash.h"
#include "engine/storage/log_segment.h"
#include "sim/disk.h"
#include "sim/hash.h"
#include "sim/network.h"

namespace ksim {

namespace {

bool same_bytes(const std::optional<std::span<const uint8_t>>& a, const std::optional<std::span<const uint8_t>>& b) {
  if (a.has_value() != b.has_value()) return false;
  return !a || std::equal(a->begin(), a->end(), b->begin(), b->end());
}

// The first offset below `hw` that two replicas of a COMPACTED log both still
// hold with different records, or -1. Each replica's log cleaner runs on its
// own schedule (as in Kafka), so their batches legitimately differ — a cleaned
// batch keeps its offsets but fewer records, or is gone — and only an offset
// present on both with another record (or another producer/control batch) is
// a divergence.
int64_t first_record_disagreement(const std::vector<storage::BatchPtr>& a, const std::vector<storage::BatchPtr>& b,
                                  Offset hw) {
  struct At {
    const storage::RecordBatch* batch;
    storage::RecordView rec;
  };
  std::map<int64_t, At> theirs;  // ordered: the first disagreement is the lowest offset
  for (const auto& batch : b) {
    if (batch->base_offset() >= hw) break;
    for (auto& r : batch->records())
      if (r.offset < hw) theirs.emplace(r.offset.value, At{batch.get(), std::move(r)});
  }
  for (const auto& batch : a) {
    if (batch->base_offset() >= hw) break;
    for (const auto& r : batch->records()) {
      if (r.offset >= hw) break;
      auto it = theirs.find(r.offset.value);
      if (it == theirs.end()) continue;  // cleaned away on one replica
      const At& o = it->second;
      if (batch->is_control() != o.batch->is_control() || batch->producer_id() != o.batch->producer_id() ||
          batch->producer_epoch() != o.batch->producer_epoch() || r.timestamp != o.rec.timestamp ||
          !same_bytes(r.key, o.rec.key) || !same_bytes(r.value, o.rec.value))
        return r.offset.value;
    }
  }
  return -1;
}

}  // namespace

Cluster::Cluster(ClusterOptions options)
    : options_(std::move(options)), metrics_series_(std::max<size_t>(options_.metrics_series_capacity, 4)) {
  if (options_.brokers < 1 || options_.brokers > 1000)
    throw ClusterError(Errc::INVALID_REQUEST, "brokers must be between 1 and 1000, got " + std::to_string(options_.brokers));
  if (options_.controllers < 0 || options_.controllers > 9)
    throw ClusterError(Errc::INVALID_REQUEST,
                       "controllers must be between 0 (combined mode) and 9, got " + std::to_string(options_.controllers));
  config_ = Config::parse(kBroker, options_.config);  // throws ConfigError naming the key
  sim::WorldConfig wc;
  wc.seed = options_.seed;
  wc.trace_record_hashes = options_.record_trace_hashes;
  world_ = std::make_unique<sim::World>(wc);
  const int32_t total = options_.brokers + options_.controllers;
  for (int32_t id : controller_ids()) voters_.push_back(sim_node_of(id));
  for (int32_t id = 1; id <= total; ++id) {
    NodeRoles roles;
    roles.broker = id <= options_.brokers;
    roles.controller = std::find(voters_.begin(), voters_.end(), sim_node_of(id)) != voters_.end();
    const std::string name = std::string(roles.broker ? "broker" : "controller") + std::to_string(id);
    const sim::NodeId n = world_->add_node(name, [this, roles](sim::NodeId self) {
      auto node = std::make_shared<KafkaNode>(*world_, self, roles, voters_, config_,
                                              [this, self](const raft::RaftEntry& e) {
                                                check_metadata_commit(kafka_id_of(self), e);
                                                observe_metadata(e);
                                              });
      if (coordinator::GroupCoordinator* gc = node->broker() ? &node->broker()->group_coordinator() : nullptr) {
        // The coordinator's group events, on the history's timeline.
        auto event = [this, self](check::EventType type, std::string what, std::string member, TopicPartition tp) {
          check::ClusterEvent e;
          e.at_ns = world_->now().ns;
          e.type = type;
          e.node = kafka_id_of(self);
          e.tp = std::move(tp);
          e.what = std::move(what);
          e.member = std::move(member);
          record_event(std::move(e));
        };
        gc->on_group_created = [event](const std::string& group, const TopicPartition& offsets_tp) {
          event(check::EventType::group_created, group, "", offsets_tp);
        };
        gc->on_group_converted = [event](const std::string& group, const std::string& protocol) {
          event(check::EventType::group_converted, group, protocol, {});
        };
        gc->on_member_fenced = [event](const std::string& group, const std::string& member) {
          event(check::EventType::member_fenced, group, member, {});
        };
      }
      node->start();
      return std::shared_ptr<void>(node);
    });
    SIM_ASSERT(n == sim_node_of(id), "cluster nodes must be added in node.id order");
  }
  client_ = world_->add_node("admin-client", [](sim::NodeId) { return std::shared_ptr<void>(); });
  for (int32_t id = 1; id <= total; ++id) world_->start(sim_node_of(id));
  world_->start(client_);
  if (options_.online_invariants) world_->set_after_step([this] { online_check(); });
  if (options_.metrics_interval_ms > 0)
    world_->schedule_after(client_, sim::milliseconds(options_.metrics_interval_ms), [this] { sample_metrics(); });
  world_->record_param("brokers", std::to_string(options_.brokers));
  world_->record_param("controllers", options_.controllers ? std::to_string(options_.controllers) : "combined");
}

Cluster::~Cluster() {
  // The nodes' processes go first: a client torn down with sends pending
  // records them in the history (and the nemesis may refer to the world).
  nemesis_.reset();
  world_.reset();
}

std::vector<int32_t> Cluster::broker_ids() const {
  std::vector<int32_t> out;
  for (int32_t i = 1; i <= options_.brokers; ++i) out.push_back(i);
  return out;
}

std::vector<int32_t> Cluster::controller_ids() const {
  std::vector<int32_t> out;
  if (options_.controllers > 0)
    for (int32_t i = 1; i <= options_.controllers; ++i) out.push_back(options_.brokers + i);
  else
    for (int32_t i = 1; i <= std::min(3, options_.brokers); ++i) out.push_back(i);
  return out;
}

bool Cluster::is_node(int32_t id) const {
  return (id >= 1 && id <= options_.brokers + options_.controllers) || is_client(id);
}

const std::string& Cluster::client_name(int32_t id) const {
  auto it = client_names_.find(id);
  if (it == client_names_.end()) throw ClusterError(Errc::INVALID_REQUEST, "unknown client " + std::to_string(id));
  return it->second;
}

const std::string& Cluster::client_kind(int32_t id) const {
  auto it = client_kinds_.find(id);
  if (it == client_kinds_.end()) throw ClusterError(Errc::INVALID_REQUEST, "unknown client " + std::to_string(id));
  return it->second;
}

bool Cluster::has_client_named(const std::string& name) const {
  for (const auto& [id, n] : client_names_)
    if (n == name) return true;
  return false;
}

int32_t Cluster::add_client(const std::string& name, ClientFactory make, std::string kind) {
  std::vector<int32_t> bootstrap = broker_ids();
  const sim::NodeId n = world_->add_node(name, [this, name, bootstrap, make = std::move(make)](sim::NodeId self) {
    clients::ClientContext ctx;
    ctx.world = world_.get();
    ctx.self = self;
    ctx.name = name;
    ctx.bootstrap = bootstrap;
    ctx.history = &history_;
    std::shared_ptr<void> state = make(ctx);
    if (auto it = boot_hooks_.find(kafka_id_of(self)); it != boot_hooks_.end())
      for (const BootHook& hook : it->second) hook(state);
    return state;
  });
  const int32_t id = kafka_id_of(n);
  client_names_[id] = name;
  client_kinds_[id] = std::move(kind);
  world_->start(n);
  return id;
}

void Cluster::add_boot_hook(int32_t client_id, BootHook hook) {
  if (!is_client(client_id)) throw ClusterError(Errc::INVALID_REQUEST, "unknown client " + std::to_string(client_id));
  boot_hooks_[client_id].push_back(std::move(hook));
}

void Cluster::check_id(int32_t id) const {
  if (!is_node(id))
    throw ClusterError(Errc::INVALID_REQUEST, "unknown node " + std::to_string(id) + " (nodes are 1.." +
                                                  std::to_string(options_.brokers + options_.controllers) +
                                                  (client_names_.empty() ? "" : " and the clients") + ")");
}

sim::NodeId Cluster::node_id(int32_t kafka_id) const { return sim_node_of(kafka_id); }

bool Cluster::is_up(int32_t id) const {
  check_id(id);
  return world_->is_up(node_id(id));
}

KafkaNode* Cluster::node(int32_t id) {
  if (!is_node(id) || is_client(id) || !world_->is_up(node_id(id))) return nullptr;
  return world_->process<KafkaNode>(node_id(id)).get();
}

const KafkaNode* Cluster::node(int32_t id) const { return const_cast<Cluster*>(this)->node(id); }

// ---- time ---------------------------------------------------------------------------------

// The virtual clock is int64 nanoseconds (~292 years); milliseconds beyond
// what is left of it would overflow into a deadline in the past.
static int64_t ms_left_on_clock(const sim::World& w) {
  return (std::numeric_limits<int64_t>::max() - w.now().ns) / 1'000'000;
}

void Cluster::run_for_ms(int64_t ms) {
  if (ms < 0) throw ClusterError(Errc::INVALID_REQUEST, "run_for needs a non-negative duration, got " + std::to_string(ms));
  if (ms > ms_left_on_clock(*world_))
    throw ClusterError(Errc::INVALID_REQUEST, "run_for(" + std::to_string(ms) +
                                                  "): beyond the end of the virtual clock (int64 nanoseconds)");
  world_->run_for(sim::milliseconds(ms));
}

bool Cluster::run_until(const std::function<bool()>& pred, int64_t timeout_ms) {
  // Check every 10 ms of virtual time: cheap, and fine-grained enough for scripts.
  // A timeout past the end of the clock means "no timeout".
  timeout_ms = std::min(timeout_ms, ms_left_on_clock(*world_));
  const sim::Instant deadline = world_->now() + sim::milliseconds(timeout_ms);
  while (!pred()) {
    if (world_->now() >= deadline) return false;
    const sim::Instant step = std::min(deadline, world_->now() + sim::milliseconds(10));
    world_->run_until(step);
  }
  return true;
}

int64_t Cluster::now_ms() const { return world_->now().ns / 1'000'000; }

std::optional<int32_t> Cluster::active_controller() const {
  for (int32_t id : controller_ids()) {
    const KafkaNode* n = node(id);
    if (n && n->controller() && n->controller()->active()) return id;
  }
  return std::nullopt;
}

bool Cluster::ready() const {
  if (!active_controller()) return false;
  for (int32_t id : broker_ids()) {
    const KafkaNode* n = node(id);
    if (!n) continue;  // down brokers do not hold the cluster back
    if (!n->broker()->registered() || n->broker()->fenced()) return false;
  }
  return true;
}

void Cluster::wait_ready(int64_t timeout_ms) {
  if (!run_until([this] { return ready(); }, timeout_ms))
    throw ClusterError(Errc::REQUEST_TIMED_OUT, "the cluster did not become ready within " +
                                                    std::to_string(timeout_ms) + " ms (no active controller, or "
                                                    "brokers not registered)");
}

namespace {
const MetadataImage* best_image(const Cluster& c);
}  // namespace

// ---- client calls ------------------------------------------------------------------------------

sim::Reply Cluster::client_call(const std::string& api, int32_t dst, sim::Payload body, uint32_t size,
                                int64_t timeout_ms) {
  auto result = std::make_shared<std::optional<sim::Reply>>();
  sim::Network& net = world_->network();
  const sim::KindId kind = net.kind(api);
  const sim::NodeId to = node_id(dst);
  world_->spawn(client_, "client-" + api, [&net, this, kind, to, body, size, timeout_ms, result] {
    *result = net.call_sync(client_, to, kind, body, size, sim::milliseconds(timeout_ms));
  });
  run_until([&] { return result->has_value(); }, timeout_ms + 1);
  if (!*result) return sim::Reply{sim::CallStatus::timeout, {}, 0, 0, nullptr};
  return **result;
}

void Cluster::admin(const std::string& api, sim::Payload body) {
  const sim::Instant deadline = world_->now() + sim::seconds(60);
  for (;;) {
    if (world_->now() >= deadline)
      throw ClusterError(Errc::REQUEST_TIMED_OUT, api + ": no active controller answered within 60 s");
    const auto active = active_controller();
    if (!active) {
      run_for_ms(100);
      continue;
    }
    const sim::Reply r = client_call(api, *active, body, 128, 30'000);
    if (r.status != sim::CallStatus::ok) {
      run_for_ms(100);
      continue;
    }
    const auto& resp = sim::payload_as<protocol::AdminResponse>(r.payload);
    if (resp.error == Errc::NOT_CONTROLLER) continue;
    if (resp.error != Errc::NONE && resp.error != Errc::ELECTION_NOT_NEEDED)
      throw ClusterError(resp.error, std::string(errc_name(resp.error)) + ": " + resp.message);
    return;
  }
}

void Cluster::create_topic(const std::string& name, int32_t partitions, int32_t rf, const Config::Map& configs,
                           const std::vector<std::vector<int32_t>>& assignment) {
  protocol::CreateTopicsRequest req;
  req.name = name;
  req.partitions = partitions;
  req.replication_factor = rf;
  req.assignment = assignment;
  req.configs = std::map<std::string, std::string>(configs.begin(), configs.end());
  admin("CreateTopics", sim::make_payload(req));
  // Wait (one pass over the partitions per check) until every partition's
  // leader knows it leads.
  run_until([&] { return all_partitions_led(name); }, 10'000 + static_cast<int64_t>(partitions) * 2);
}

bool Cluster::leader_serving(const std::string& topic, int32_t partition, const PartitionRegistration& reg) const {
  const KafkaNode* n = reg.leader >= 0 ? node(reg.leader) : nullptr;
  if (!n || !n->broker()) return false;
  const Partition* part = const_cast<KafkaNode*>(n)->broker()->replica_manager().get({topic, partition});
  return part && part->is_leader() && part->leader_epoch().value == reg.leader_epoch;
}

bool Cluster::all_partitions_led(const std::string& topic) const {
  const MetadataImage* img = best_image(*this);
  const TopicImage* t = img ? img->topic(topic) : nullptr;
  if (!t) return false;
  for (size_t i = 0; i < t->partitions.size(); ++i)
    if (!leader_serving(topic, static_cast<int32_t>(i), t->partitions[i])) return false;
  return true;
}

int32_t Cluster::wait_for_leader(const std::string& topic, int32_t partition, int64_t timeout_ms) {
  int32_t leader = -1;
  run_until(
      [&] {
        const MetadataImage* img = best_image(*this);
        const PartitionRegistration* reg = img ? img->partition(topic, partition) : nullptr;
        if (!reg || !leader_serving(topic, partition, *reg)) return false;
        leader = reg->leader;
        return true;
      },
      timeout_ms);
  return leader;
}

void Cluster::elect_leaders(bool unclean, const std::vector<std::pair<std::string, int32_t>>& partitions) {
  admin("ElectLeaders", sim::make_payload(protocol::ElectLeadersRequest{unclean, partitions}));
}

void Cluster::alter_topic_config(const std::string& topic, const std::string& key,
                                 const std::optional<std::string>& value) {
  admin("IncrementalAlterConfigs", sim::make_payload(protocol::AlterConfigRequest{"topic:" + topic, key, value}));
}

void Cluster::alter_client_quotas(const ClientQuotaEntity& entity,
                                  const std::vector<std::pair<std::string, std::optional<double>>>& quotas) {
  protocol::AlterClientQuotasRequest req;
  req.entries.push_back(protocol::ClientQuotaAlteration{entity, quotas});
  admin("AlterClientQuotas", sim::make_payload(std::move(req)));
  const MetadataImage::ClientQuotas want = describe_client_quotas();
  run_until([&] {
    for (int32_t id : broker_ids())
      if (const BrokerServer* b = live_broker(id); b && b->started() && b->metadata().client_quotas() != want)
        return false;
    return true;
  }, 5'000);
}

// ---- observation ---------------------------------------------------------------------------------

namespace {
// The freshest metadata image any live node has replayed.
const MetadataImage* best_image(const Cluster& c) {
  const MetadataImage* best = nullptr;
  for (int32_t id = 1; c.is_node(id); ++id) {
    const KafkaNode* n = c.node(id);
    if (!n) continue;
    const MetadataImage* img = n->controller() ? &n->controller()->state().committed()
                                               : (n->broker() ? &n->broker()->metadata() : nullptr);
    if (img && (!best || img->last_applied_offset() > best->last_applied_offset())) best = img;
  }
  return best;
}
}  // namespace

MetadataImage::ClientQuotas Cluster::describe_client_quotas() const {
  const MetadataImage* img = best_image(*this);
  return img ? img->client_quotas() : MetadataImage::ClientQuotas{};
}

std::vector<std::string> Cluster::topics() const {
  std::vector<std::string> out;
  if (const MetadataImage* img = best_image(*this))
    for (const auto& [name, t] : img->topics()) out.push_back(name);
  return out;
}

PartitionDescription Cluster::describe_partition(const std::string& topic, int32_t partition) const {
  PartitionDescription d;
  describe_partition_into(topic, partition, d);
  return d;
}

void Cluster::describe_partition_into(const std::string& topic, int32_t partition, PartitionDescription& d) const {
  const MetadataImage* img = best_image(*this);
  const PartitionRegistration* reg = img ? img->partition(topic, partition) : nullptr;
  if (!reg)
    throw ClusterError(Errc::UNKNOWN_TOPIC_OR_PARTITION, "unknown topic-partition " + topic + "-" + std::to_string(partition));
  // Assigned field by field: a reused `d` keeps its strings' and vectors' capacity.
  d.topic = topic;
  d.partition = partition;
  d.leader = reg->leader;
  d.leader_epoch = reg->leader_epoch;
  d.partition_epoch = reg->partition_epoch;
  d.replicas = reg->replicas;
  d.isr = reg->isr;
  d.elr = reg->elr;
  d.last_known_elr = reg->last_known_elr;
  d.high_watermark = kNoOffset;
  d.last_stable_offset = kNoOffset;
  d.replica_states.clear();
  const TopicPartition tp{topic, partition};
  for (int32_t b : reg->replicas) {
    ReplicaDescription r;
    r.broker = b;
    const KafkaNode* n = node(b);
    r.up = n != nullptr;
    if (n && n->broker()) {
      if (const Partition* p = const_cast<KafkaNode*>(n)->broker()->replica_manager().get(tp)) {
        r.log_end_offset = p->log_end_offset();
        r.log_start_offset = p->log().log_start_offset();
        r.high_watermark = p->high_watermark();
        if (b == d.leader && p->is_leader()) {
          d.high_watermark = p->high_watermark();
          d.last_stable_offset = p->last_stable_offset();
        }
      }
    }
    d.replica_states.push_back(r);
  }
}

std::vector<PartitionDescription> Cluster::describe_topic(const std::string& topic) const {
  const MetadataImage* img = best_image(*this);
  const TopicImage* t = img ? img->topic(topic) : nullptr;
  if (!t) throw ClusterError(Errc::UNKNOWN_TOPIC_OR_PARTITION, "unknown topic '" + topic + "'");
  std::vector<PartitionDescription> out;
  for (size_t i = 0; i < t->partitions.size(); ++i) out.push_back(describe_partition(topic, static_cast<int32_t>(i)));
  return out;
}

std::string Cluster::describe_text(const std::string& topic) const {
  const auto parts = describe_topic(topic);
  std::ostringstream os;
  auto list = [](const std::vector<int32_t>& v) {
    std::string s;
    for (size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + std::to_string(v[i]);
    return s;
  };
  os << "Topic: " << topic << "\tPartitionCount: " << parts.size()
     << "\tReplicationFactor: " << (parts.empty() ? 0 : parts[0].replicas.size()) << "\n";
  for (const auto& p : parts) {
    os << "\tTopic: " << topic << "\tPartition: " << p.partition << "\tLeader: "
       << (p.leader >= 0 ? std::to_string(p.leader) : "none") << "\tLeaderEpoch: " << p.leader_epoch
       << "\tReplicas: " << list(p.replicas) << "\tIsr: " << list(p.isr);
    if (!p.elr.empty()) os << "\tElr: " << list(p.elr);
    if (!p.last_known_elr.empty()) os << "\tLastKnownElr: " << list(p.last_known_elr);
    os << "\tHW: " << p.high_watermark.value;
    if (p.last_stable_offset != p.high_watermark) os << "\tLSO: " << p.last_stable_offset.value;  // an open transaction
    os << "\tLEO:";
    for (const auto& r : p.replica_states)
      os << " " << r.broker << "=" << (r.up ? std::to_string(r.log_end_offset.value) : "down");
    os << "\n";
  }
  return os.str();
}

void Cluster::sample_metrics() {
  // Both series keep changes only (step_series.h): an idle cluster samples
  // every second and stores nothing new. The timer itself stays: it is an
  // event of the run (in the trace), so keeping it keeps every trace hash.
  std::map<std::string, double> m = metrics();
  const auto count = m.find("GlobalPartitionCount");
  const double partitions = count != m.end() ? count->second : 0;
  metrics_series_.record(now_ms(), std::move(m));
  if (partitions > 0 && partitions <= 2'000) {
    const size_t per_partition =
        std::clamp<size_t>(kPartitionSamplesBudget / static_cast<size_t>(partitions), 16, 1'024);
    // One description filled in place per partition, copied into its series
    // only when it changed: most samples of most partitions repeat the last
    // (describing each afresh was 2% of a nemesis seed, all allocation).
    const MetadataImage* img = best_image(*this);
    PartitionDescription& d = describe_scratch_;
    for (const std::string& t : topics()) {
      const TopicImage* topic = img ? img->topic(t) : nullptr;
      const auto n = static_cast<int32_t>(topic ? topic->partitions.size() : 0);
      for (int32_t i = 0; i < n; ++i) {
        describe_partition_into(t, i, d);
        TopicPartition tp{t, i};
        auto it = partition_series_.find(tp);
        if (it == partition_series_.end()) it = partition_series_.emplace(std::move(tp), StepSeries<PartitionDescription>(per_partition)).first;
        it->second.set_capacity(per_partition);
        it->second.record_if_changed(now_ms(), d);
      }
    }
  }
  world_->schedule_after(client_, sim::milliseconds(options_.metrics_interval_ms), [this] { sample_metrics(); });
}

std::vector<std::pair<int64_t, PartitionDescription>> Cluster::partition_series() const {
  std::vector<std::pair<int64_t, PartitionDescription>> out;
  out.reserve(partition_series_samples());
  for (const auto& [tp, series] : partition_series_)
    out.insert(out.end(), series.samples().begin(), series.samples().end());
  // Time order, then (topic, partition): the map's order survives the stable sort.
  std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  return out;
}

size_t Cluster::partition_series_samples() const {
  size_t n = 0;
  for (const auto& [tp, series] : partition_series_) n += series.size();
  return n;
}

std::map<std::string, double> Cluster::metrics() const {
  std::map<std::string, double> m;
  double offline = 0, under_replicated = 0, under_min_isr = 0, shrinks = 0, expands = 0, partitions = 0;
  double fetch_sessions = 0, fetch_session_partitions = 0;
  if (const MetadataImage* img = best_image(*this)) {
    for (const auto& [name, t] : img->topics())
      for (const auto& p : t.partitions) {
        ++partitions;
        if (p.leader < 0) ++offline;
      }
    m["UncleanLeaderElectionsPerSec"] = static_cast<double>(img->unclean_elections());
  }
  for (int32_t id : broker_ids()) {
    const KafkaNode* n = node(id);
    if (!n || !n->broker()) continue;
    const ReplicaManager& rm = n->broker()->replica_manager();
    for (const auto& [tp, p] : rm.partitions()) {
      if (!p->is_leader()) continue;
      if (p->isr().size() < p->replicas().size()) ++under_replicated;
      if (static_cast<int32_t>(p->isr().size()) < (rm.min_isr_of ? rm.min_isr_of(tp.topic) : 1)) ++under_min_isr;
    }
    shrinks += static_cast<double>(rm.metrics().isr_shrinks);
    expands += static_cast<double>(rm.metrics().isr_expands);
    fetch_sessions += static_cast<double>(rm.fetch_sessions());
    fetch_session_partitions += static_cast<double>(rm.fetch_session_partitions());
  }
  // Kafka's FetchSessionCache gauges (KIP-227), summed over the brokers.
  m["NumIncrementalFetchSessions"] = fetch_sessions;
  m["NumIncrementalFetchPartitionsCached"] = fetch_session_partitions;
  m["OfflinePartitionsCount"] = offline;
  m["UnderReplicatedPartitions"] = under_replicated;
  m["UnderMinIsrPartitionCount"] = under_min_isr;
  m["IsrShrinksPerSec"] = shrinks;  // cumulative counts (Kafka's meters' count)
  m["IsrExpandsPerSec"] = expands;
  m["GlobalPartitionCount"] = partitions;
  // LeaderElectionRateAndTimeMs (a Kafka timer), kept by record_event.
  m["LeaderElectionRateAndTimeMs"] = static_cast<double>(election_stats_.count);
  m["LeaderElectionRateAndTimeMs.mean"] =
      election_stats_.timed > 0 ? election_stats_.ms_total / static_cast<double>(election_stats_.timed) : 0;
  m["ActiveControllerCount"] = active_controller() ? 1 : 0;
  // Client quotas, per broker and sensor (only once a quota was configured):
  // Kafka's `byte-rate` and `throttle-time` in the Produce / Fetch groups.
  for (int32_t id : broker_ids()) {
    const KafkaNode* n = node(id);
    if (!n || !n->broker()) continue;
    const BrokerServer& b = *n->broker();
    for (const ClientQuotaType t : {ClientQuotaType::produce, ClientQuotaType::fetch}) {
      const ClientQuotaManager& q = b.quota_manager(t);
      if (!q.quotas_enabled()) continue;
      for (const auto& r : q.readings(now_ms())) {
        const std::string tags = "{broker=" + std::to_string(id) + ",type=" + quota_type_name(t) +
                                 ",user=" + r.tags.user + ",client-id=" + r.tags.client_id + "}";
        m["byte-rate" + tags] = r.byte_rate;
        m["throttle-time" + tags] = r.throttle_time;
      }
    }
  }
  return m;
}

std::vector<std::pair<int64_t, std::string>> Cluster::log_contents(int32_t broker, const std::string& topic,
                                                                   int32_t partition) const {
  check_id(broker);
  std::vector<std::pair<int64_t, std::string>> out;
  (void)describe_partition(topic, partition);  // throws for an unknown topic-partition
  const KafkaNode* n = node(broker);
  if (!n || !n->broker())
    throw ClusterError(Errc::INVALID_REQUEST, "node " + std::to_string(broker) +
                                                  " is down or not a broker: restart it to read its log");
  const Partition* p = const_cast<KafkaNode*>(n)->broker()->replica_manager().get({topic, partition});
  if (!p) return out;  // not a replica (or its log is not created yet): it holds nothing
  for (const auto& b : peek_batches(world_->disk(node_id(broker)), p->log()))
    for (const auto& r : b->records())
      out.emplace_back(r.offset.value, r.value ? std::string(r.value->begin(), r.value->end()) : std::string());
  return out;
}

// ---- raw produce -------------------------------------------------------------------------------------

ProduceOutcome Cluster::produce(const std::string& topic, int32_t partition, const std::vector<std::string>& values,
                                int16_t acks, int64_t timeout_ms) {
  if (acks != 0 && acks != 1 && acks != -1) throw ClusterError(Errc::INVALID_REQUIRED_ACKS, "acks must be 0, 1 or -1");
  if (values.empty()) throw ClusterError(Errc::INVALID_REQUEST, "produce needs at least one value");
  // A negative timeout would reach the admin client's RPC, whose failed
  // invariant would poison the whole simulation.
  if (timeout_ms < 0) throw ClusterError(Errc::INVALID_REQUEST, "produce: timeout_ms must be >= 0, got " + std::to_string(timeout_ms));
  const PartitionDescription d = describe_partition(topic, partition);
  ProduceOutcome out;
  out.leader = d.leader;
  // The history sees one send per value, by the admin client.
  std::vector<uint64_t> ops;
  for (const std::string& v : values) {
    check::OpSpec op;
    op.type = check::OpType::send;
    op.client = kafka_id_of(client_);
    op.client_name = "admin-client";
    op.tp = TopicPartition{topic, partition};
    op.value = v;
    op.acks = acks;
    op.max_in_flight = 1;
    ops.push_back(history_.invoke(op, world_->now().ns));
  }
  auto finish = [&](check::Outcome o) {
    for (size_t i = 0; i < ops.size(); ++i) {
      const Offset at = o == check::Outcome::ok && out.base_offset.value >= 0
                            ? Offset{out.base_offset.value + static_cast<int64_t>(i)}
                            : kNoOffset;
      history_.set_ack(ops[i], at, out.leader);
      history_.complete(ops[i], o, world_->now().ns, out.error);
    }
  };
  if (d.leader < 0 || !node(d.leader)) {
    out.error = Errc::NOT_LEADER_OR_FOLLOWER;
    finish(check::Outcome::fail);
    return out;
  }
  std::vector<storage::Record> records;
  for (const std::string& v : values) {
    storage::Record r;
    r.timestamp = now_ms();
    r.value = storage::Bytes(v.begin(), v.end());
    records.push_back(std::move(r));
  }
  protocol::ProduceRequest req;
  req.acks = acks;
  req.timeout_ms = static_cast<int32_t>(timeout_ms);
  req.partitions.emplace_back(TopicPartition{topic, partition}, storage::RecordBatch::build({}, records));
  const uint32_t size = static_cast<uint32_t>(req.partitions[0].second->size_in_bytes()) + 64;
  if (acks == 0) {
    sim::Network& net = world_->network();
    world_->spawn(client_, "client-produce-acks0", [&net, this, d, body = sim::make_payload(req), size] {
      net.send(client_, node_id(d.leader), net.kind("Produce"), body, size);
    });
    world_->settle();
    finish(check::Outcome::ok);  // acks=0: "acknowledged" once sent; no offset
    return out;
  }
  const sim::Reply r = client_call("Produce", d.leader, sim::make_payload(req), size, timeout_ms);
  if (r.status != sim::CallStatus::ok) {
    out.error = r.status == sim::CallStatus::timeout ? Errc::REQUEST_TIMED_OUT : Errc::NETWORK_EXCEPTION;
    finish(check::Outcome::info);
    return out;
  }
  const auto& resp = sim::payload_as<protocol::ProduceResponse>(r.payload);
  out.error = resp.partitions.front().error;
  out.base_offset = resp.partitions.front().base_offset;
  // The same classification as the producer's: errors that may follow an
  // append leave the outcome unknown; the others definitely did not write.
  const bool definite = !produce_may_have_written(out.error, acks);
  finish(out.error == Errc::NONE ? check::Outcome::ok : definite ? check::Outcome::fail : check::Outcome::info);
  return out;
}

sim::NodeId Cluster::add_client_node(const std::string& name) {
  const sim::NodeId n = world_->add_node(name, [](sim::NodeId) { return std::shared_ptr<void>(); });
  world_->start(n);
  return n;
}

int32_t Cluster::leader_of(const std::string& topic, int32_t partition) const {
  const MetadataImage* img = best_image(*this);
  const PartitionRegistration* p = img ? img->partition(topic, partition) : nullptr;
  return p ? p->leader : -1;
}

// ---- consumer groups ----------------------------------------------------------------------------------------

int32_t Cluster::group_coordinator_of(const std::string& group_id) const {
  const int32_t p = coordinator::partition_for(group_id, config_.get_int("offsets.topic.num.partitions"));
  return leader_of(coordinator::kGroupMetadataTopic, p);
}

BrokerServer* Cluster::live_broker(int32_t id) const {
  KafkaNode* n = id >= 0 ? const_cast<Cluster*>(this)->node(id) : nullptr;
  return n ? n->broker() : nullptr;
}

coordinator::GroupDescription Cluster::describe_group(const std::string& group_id) const {
  BrokerServer* b = live_broker(group_coordinator_of(group_id));
  if (!b) {
    coordinator::GroupDescription d;
    d.group_id = group_id;
    d.error = Errc::COORDINATOR_NOT_AVAILABLE;
    return d;
  }
  return b->group_coordinator().describe(group_id);
}

coordinator::TxnDescription Cluster::describe_transaction(const std::string& transactional_id) const {
  const int32_t p =
      coordinator::partition_for(transactional_id, config_.get_int("transaction.state.log.num.partitions"));
  BrokerServer* b = live_broker(leader_of(coordinator::kTransactionStateTopic, p));
  if (!b) {
    coordinator::TxnDescription d;
    d.transactional_id = transactional_id;
    d.error = Errc::COORDINATOR_NOT_AVAILABLE;
    return d;
  }
  return b->transaction_coordinator().describe(transactional_id);
}

// ---- faults ----------------------------------------------------------------------------------------------

void Cluster::crash(int32_t id) {
  check_id(id);
  if (!world_->is_up(node_id(id))) throw ClusterError(Errc::INVALID_REQUEST, "node " + std::to_string(id) + " is already down");
  note_event(check::EventType::fault, id, "crash");
  world_->crash(node_id(id));
}

void Cluster::note_event(check::EventType type, int32_t node, std::string what) {
  check::ClusterEvent e;
  e.at_ns = world_->now().ns;
  e.type = type;
  e.node = node;
  e.what = std::move(what);
  record_event(std::move(e));
}

// Every cluster event goes onto the history through here, which also keeps
// LeaderElectionRateAndTimeMs: the count of leader elections after creation,
// and their mean time from the fault that took the old leader away (crash,
// power failure, partition, isolation) to the election.
void Cluster::record_event(check::ClusterEvent e) {
  ElectionStats& s = election_stats_;
  if (e.type == check::EventType::fault && e.node >= 0 && e.what.rfind("pause", 0) != 0) s.fault_at[e.node] = e.at_ns;
  if (e.type == check::EventType::election) {
    auto [it, fresh] = s.leader.try_emplace(e.tp, -1);
    const int32_t prev = fresh ? -1 : it->second;
    it->second = e.node;
    if (e.what != "created" && e.node >= 0) {
      ++s.count;
      if (auto f = s.fault_at.find(prev); f != s.fault_at.end() && f->second <= e.at_ns) {
        s.ms_total += static_cast<double>(e.at_ns - f->second) / 1e6;
        ++s.timed;
      }
    }
  }
  history_.event(std::move(e));
}

// Elections on the history's timeline: the first node to apply a committed
// metadata entry reports it (entries are applied in offset order everywhere,
// so `observed_metadata_offset_` dedupes the other nodes' replays).
void Cluster::observe_metadata(const raft::RaftEntry& e) {
  if (e.control || !e.data || e.offset.value <= observed_metadata_offset_) return;
  observed_metadata_offset_ = e.offset.value;
  const auto records = decode_records(*e.data);
  if (!records) return;
  for (const MetadataRecord& r : *records) {
    if (const auto* t = std::get_if<TopicRecord>(&r)) {
      topic_names_[t->topic_id] = t->name;
    } else if (const auto* p = std::get_if<PartitionRecord>(&r)) {
      const TopicPartition tp{topic_names_[p->topic_id], p->partition};
      leader_epochs_[tp] = p->leader_epoch;
      isrs_[tp] = p->isr;
      replicas_[tp] = p->replicas;
      check::ClusterEvent ev;
      ev.at_ns = world_->now().ns;
      ev.type = check::EventType::election;
      ev.node = p->leader;
      ev.tp = tp;
      ev.leader_epoch = p->leader_epoch;
      ev.isr = p->isr;
      ev.replicas = p->replicas;
      ev.what = "created";
      record_event(std::move(ev));
    } else if (const auto* c = std::get_if<PartitionChangeRecord>(&r)) {
      const TopicPartition tp{topic_names_[c->topic_id], c->partition};
      if (c->isr) isrs_[tp] = *c->isr;
      if (c->replicas) replicas_[tp] = *c->replicas;
      check::ClusterEvent ev;
      ev.at_ns = world_->now().ns;
      ev.tp = tp;
      ev.isr = isrs_[tp];
      ev.replicas = replicas_[tp];
      if (!c->leader) {
        if (!c->isr) continue;
        ev.type = check::EventType::isr_change;
        ev.leader_epoch = leader_epochs_[tp];
        ev.what = "isr change";
        record_event(std::move(ev));
        continue;
      }
      const int32_t epoch = ++leader_epochs_[tp];
      ev.type = check::EventType::election;
      ev.node = *c->leader;
      ev.leader_epoch = epoch;
      ev.unclean = c->unclean;
      ev.what = *c->leader < 0 ? "offline" : (c->unclean ? "unclean election" : "election");
      record_event(std::move(ev));
    }
  }
}

// Every node hands every committed metadata entry here, in offset order. The
// first commit of an offset is remembered; a later one that differs (another
// epoch or other bytes) is a committed entry that disappeared.
void Cluster::check_metadata_commit(int32_t node, const raft::RaftEntry& e) {
  const uint64_t digest = e.data ? sim::hash_string(*e.data) : 0;
  const auto summary = [&] {
    if (!e.data) return std::string("an empty entry");
    if (e.control && raft::VoterSet::is_voters_record(*e.data)) return "a VotersRecord: " + *e.data;
    if (e.control) return std::string("the epoch's LeaderChange control entry");
    const auto records = decode_records(*e.data);
    if (!records || records->empty()) return std::string("a metadata batch");
    std::string s = describe(records->front());
    if (records->size() > 1) s += " and " + std::to_string(records->size() - 1) + " more records";
    return s;
  };
  const auto offset = static_cast<size_t>(e.offset.value);
  if (offset == committed_metadata_.size()) {
    committed_metadata_.push_back({e.epoch.value, node, digest, world_->now().ns, summary()});
    return;
  }
  SIM_ASSERT(offset < committed_metadata_.size(), "a node committed a metadata offset nobody committed before it");
  const CommittedMetadata& first = committed_metadata_[offset];
  if (first.epoch == e.epoch.value && first.digest == digest) return;
  for (const auto& l : metadata_losses_)
    if (l.offset == e.offset.value) return;  // reported once per offset
  metadata_losses_.push_back({e.offset.value, first.epoch, e.epoch.value, first.node, node, first.at_ns,
                              world_->now().ns, first.summary, summary()});
}

void Cluster::wipe(int32_t id) {
  check_id(id);
  if (is_client(id))
    throw ClusterError(Errc::INVALID_REQUEST, "cannot wipe node " + std::to_string(id) +
                                                  ": it is a client, which has no disk (brokers and controllers do)");
  const sim::NodeId n = node_id(id);
  note_event(check::EventType::fault, id, "wipe (disk replaced: empty)");
  if (world_->is_up(n)) world_->crash(n);
  sim::Disk& disk = world_->disk(n);
  disk.replace();
  // The operator formats the new disk (kafka-storage format): a new directory id.
  const std::string props = raft::encode_meta_properties(id, raft::formatted_directory_id(*world_, n, ++formats_[id]));
  disk.install(raft::kMetaPropertiesFile,
               std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(props.data()), props.size()));
  note_event(check::EventType::heal, id, "restart");
  world_->restart(n);
}

raft::QuorumDescription Cluster::describe_quorum() const {
  std::optional<raft::QuorumDescription> any;
  for (int32_t c : controller_ids()) {
    const auto node = world_->process<KafkaNode>(sim_node_of(c));
    if (!node) continue;
    if (node->raft().is_leader()) return node->raft().describe();
    if (!any) any = node->raft().describe();
  }
  if (!any) throw ClusterError(Errc::NOT_CONTROLLER, "describe_quorum: every controller is down");
  return *any;
}

raft::RaftClient* Cluster::quorum_leader() {
  for (int32_t c : controller_ids()) {
    const auto node = world_->process<KafkaNode>(sim_node_of(c));
    if (node && node->raft().is_leader()) return &node->raft();
  }
  return nullptr;
}

int64_t Cluster::await_voter_change(const raft::RaftClient::VoterChange& c, const raft::VoterSet& expected,
                                    const std::string& what, int64_t timeout_ms) {
  if (c.error != Errc::NONE) throw ClusterError(c.error, what + ": " + std::string(errc_name(c.error)) + ": " + c.message);
  // Done when a leader has the record committed: the same set at the same
  // offset, below its high watermark (a leader change may truncate it away).
  const bool done = run_until(
      [&] {
        const raft::RaftClient* l = quorum_leader();
        return l && l->voters_record_offset() == c.offset && l->voter_set() == expected && l->high_watermark() > c.offset;
      },
      timeout_ms);
  if (!done)
    throw ClusterError(Errc::REQUEST_TIMED_OUT, what + ": REQUEST_TIMED_OUT: the VotersRecord at offset " + std::to_string(c.offset.value) +
                                                    " did not commit within " + std::to_string(timeout_ms) + " ms");
  return c.offset.value;
}

int64_t Cluster::add_voter(int32_t id, int64_t timeout_ms) {
  check_id(id);
  const auto ctl = controller_ids();
  if (std::find(ctl.begin(), ctl.end(), id) == ctl.end())
    throw ClusterError(Errc::INVALID_REQUEST, "add_voter: node " + std::to_string(id) + " is not a controller");
  if (timeout_ms <= 0) throw ClusterError(Errc::INVALID_REQUEST, "add_voter: timeout_ms must be positive");
  raft::RaftClient* leader = quorum_leader();
  if (!leader) throw ClusterError(Errc::NOT_CONTROLLER, "add_voter: the controller quorum has no leader");
  const sim::NodeId n = node_id(id);
  const raft::VoterKey key{n, raft::formatted_directory_id(*world_, n, formats_[id])};
  const auto next = leader->voter_set().with(key);
  const auto change = leader->add_voter(key);
  if (change.error == Errc::NONE) note_event(check::EventType::note, id, "add_voter (directory " + key.directory_id.str() + ")");
  return await_voter_change(change, next.value_or(leader->voter_set()), "add_voter " + std::to_string(id), timeout_ms);
}

int64_t Cluster::remove_voter(int32_t id, std::optional<std::string> directory_id, int64_t timeout_ms) {
  check_id(id);
  if (timeout_ms <= 0) throw ClusterError(Errc::INVALID_REQUEST, "remove_voter: timeout_ms must be positive");
  raft::RaftClient* leader = quorum_leader();
  if (!leader) throw ClusterError(Errc::NOT_CONTROLLER, "remove_voter: the controller quorum has no leader");
  const sim::NodeId n = node_id(id);
  raft::DirectoryId dir = leader->voter_set().directory_of(n);
  if (directory_id) {
    const auto parsed = raft::decode_directory_id("directory.id=" + *directory_id);
    const bool hex = std::all_of(directory_id->begin(), directory_id->end(), [](char ch) { return std::isxdigit(static_cast<unsigned char>(ch)); });
    if (!parsed || !hex || directory_id->empty() || directory_id->size() > 16)
      throw ClusterError(Errc::INVALID_REQUEST, "remove_voter: '" + *directory_id +
                                                    "' is no directory id (16 hex digits, as describe_quorum prints them)");
    dir = *parsed;
  }
  const raft::VoterKey key{n, dir};
  const auto next = leader->voter_set().without(key);
  const auto change = leader->remove_voter(key);
  if (change.error == Errc::NONE) note_event(check::EventType::note, id, "remove_voter (directory " + dir.str() + ")");
  return await_voter_change(change, next.value_or(leader->voter_set()), "remove_voter " + std::to_string(id), timeout_ms);
}

void Cluster::restart(int32_t id) {
  check_id(id);
  // Restarting a running node kills it first: the checkers' fault model must
  // see that crash, or what it loses would look like a broken promise.
  if (world_->is_up(node_id(id))) note_event(check::EventType::fault, id, "crash");
  note_event(check::EventType::heal, id, "restart");
  world_->restart(node_id(id));
}

void Cluster::power_fail(int32_t id, bool torn) {
  check_id(id);
  note_event(check::EventType::fault, id, torn ? "power_fail (torn writes)" : "power_fail");
  world_->power_fail(node_id(id), torn);
}

void Cluster::pause(int32_t id, int64_t ms) {
  check_id(id);
  if (ms <= 0) throw ClusterError(Errc::INVALID_REQUEST, "pause needs a positive duration");
  if (!world_->is_up(node_id(id))) throw ClusterError(Errc::INVALID_REQUEST, "cannot pause node " + std::to_string(id) + ": it is down");
  note_event(check::EventType::fault, id, "pause " + std::to_string(ms) + " ms");
  world_->pause(node_id(id), sim::milliseconds(ms));
}

void Cluster::partition(const std::vector<std::vector<int32_t>>& groups) { cut(groups, /*replace=*/true); }

void Cluster::cut(const std::vector<std::vector<int32_t>>& groups, bool replace) {
  if (groups.empty()) throw sim::SimError("partition() needs at least one group of nodes (heal() removes partitions)");
  std::vector<std::vector<sim::NodeId>> g;
  for (const auto& grp : groups) {
    g.emplace_back();
    for (int32_t id : grp) {
      check_id(id);
      g.back().push_back(node_id(id));
    }
  }
  std::string what = "partition [";
  for (const auto& grp : groups) {
    what += "[";
    for (size_t i = 0; i < grp.size(); ++i) what += (i ? "," : "") + std::to_string(grp[i]);
    what += "]";
  }
  note_event(check::EventType::fault, -1, what + "]" + (replace ? "" : " (added to the current cuts)"));
  if (replace) world_->network().clear_partitions();
  world_->network().partition(g);
}

void Cluster::isolate(int32_t id) {
  check_id(id);
  note_event(check::EventType::fault, id, "isolate");
  world_->network().isolate(node_id(id));
}

void Cluster::heal() {
  note_event(check::EventType::heal, -1, "heal network");
  world_->network().heal();
}

void Cluster::slow_disk(int32_t id, double factor) {
  check_id(id);
  // Checked before the fault is recorded (Disk::set_slowdown checks again).
  if (!(factor >= 1.0 && factor <= 1e6))
    throw ClusterError(Errc::INVALID_REQUEST, "slow_disk: the factor must be a number from 1 to 1e6 (disk_stall "
                                              "stops a disk), got " + std::to_string(factor));
  note_event(check::EventType::fault, id, "slow_disk x" + std::to_string(factor));
  world_->disk(node_id(id)).set_slowdown(factor);
}

void Cluster::disk_full(int32_t id, bool full) {
  check_id(id);
  note_event(full ? check::EventType::fault : check::EventType::heal, id, full ? "disk_full" : "disk_full off");
  world_->disk(node_id(id)).set_full(full);
}

void Cluster::disk_stall(int32_t id, bool stalled) {
  check_id(id);
  note_event(stalled ? check::EventType::fault : check::EventType::heal, id, stalled ? "disk_stall" : "disk_stall off");
  if (stalled)
    world_->disk(node_id(id)).stall();
  else
    world_->disk(node_id(id)).unstall();
}

// ---- invariants --------------------------------------------------------------------------------------------

void Cluster::online_check() {
  if (in_online_check_) return;
  in_online_check_ = true;
  const bool full = world_->now() >= next_full_check_;
  if (full) next_full_check_ = world_->now() + sim::milliseconds(100);
  const std::vector<std::string> v = check_invariants(full);
  in_online_check_ = false;
  if (v.empty()) return;
  char when[32];
  std::snprintf(when, sizeof when, "%.3f", static_cast<double>(world_->now().ns) / 1e9);
  std::string msg = "invariant violated at t=" + std::string(when) + "s (seed " + std::to_string(options_.seed) + "): ";
  for (size_t i = 0; i < v.size(); ++i) msg += (i ? "; " : "") + v[i];
  msg += "\nlast events:";
  const auto kept = world_->trace().kept();
  for (size_t i = kept.size() > 12 ? kept.size() - 12 : 0; i < kept.size(); ++i)
    msg += "\n  " + world_->describe(kept[i]);
  world_->fail(msg);
}

std::vector<std::string> Cluster::check_invariants(bool logs) {
  std::vector<std::string> v;
  // One active controller per Raft (quorum) epoch, ever.
  for (int32_t id : controller_ids()) {
    const KafkaNode* n = node(id);
    if (!n || !n->raft().is_leader()) continue;
    auto [it, fresh] = raft_leaders_seen_.emplace(n->raft().epoch().value, id);
    if (!fresh && it->second != id)
      v.push_back("multiple-controller-leaders: quorum epoch " + std::to_string(n->raft().epoch().value) + " led by " +
                  std::to_string(it->second) + " and " + std::to_string(id));
  }
  // Leader epochs only grow in the committed metadata (compared only against
  // images at least as fresh as the last one checked: a lagging node's image
  // is old, not wrong).
  if (const MetadataImage* img = best_image(*this);
      img && img->last_applied_offset() >= last_image_offset_checked_) {
    last_image_offset_checked_ = img->last_applied_offset();
    for (const auto& [name, t] : img->topics())
      for (size_t i = 0; i < t.partitions.size(); ++i) {
        const TopicPartition tp{name, static_cast<int32_t>(i)};
        int32_t& seen = max_leader_epoch_seen_[tp];
        if (t.partitions[i].leader_epoch < seen)
          v.push_back("leader-epoch-regression: " + tp.str() + " epoch " + std::to_string(t.partitions[i].leader_epoch) +
                      " after " + std::to_string(seen));
        seen = std::max(seen, t.partitions[i].leader_epoch);
      }
  }
  // One leader per partition per leader epoch, ever.
  for (int32_t id : broker_ids()) {
    KafkaNode* n = node(id);
    if (!n || !n->broker()) continue;
    for (const auto& [tp, p] : n->broker()->replica_manager().partitions()) {
      if (!p->is_leader()) continue;
      const auto key = std::make_pair(tp, p->leader_epoch().value);
      auto [it, fresh] = leaders_seen_.emplace(key, id);
      if (!fresh && it->second != id)
        v.push_back("multiple-leaders: " + tp.str() + " epoch " + std::to_string(key.second) + " led by " +
                    std::to_string(it->second) + " and " + std::to_string(id));
      // The HW never goes back on the leader of an epoch. (A deposed leader
      // that has not heard of its successor keeps its own, older epoch.)
      auto [hit, first] = max_hw_seen_.emplace(key, p->high_watermark());
      Offset& hw = hit->second;
      (void)first;
      if (p->high_watermark() < hw)
        v.push_back("hw-regression: " + tp.str() + " leader " + std::to_string(id) + " HW " +
                    std::to_string(p->high_watermark().value) + " < " + std::to_string(hw.value));
      hw = std::max(hw, p->high_watermark());
      // ISR members that are up and serving hold at least the HW, and agree
      // below it. The leader and its followers are walked in lockstep, a
      // batch of each at a time (an hour-long log is never held decoded).
      if (!logs) continue;
      struct Follower {
        int32_t id;
        const Partition* p;
        LogBatchCursor cursor;
      };
      std::vector<Follower> followers;
      for (int32_t m : p->isr()) {
        if (m == id) continue;
        KafkaNode* f = node(m);
        if (!f || !f->broker() || f->broker()->fenced()) continue;
        if (const Partition* fp = f->broker()->replica_manager().get(tp))
          followers.push_back({m, fp, LogBatchCursor(world_->disk(node_id(m)), fp->log())});
      }
      LogBatchCursor leader_cursor(world_->disk(node_id(id)), p->log());
      while (!followers.empty()) {
        const storage::BatchPtr a = leader_cursor.next();
        if (!a) break;
        for (size_t k = 0; k < followers.size();) {
          Follower& fw = followers[k];
          const storage::BatchPtr b = fw.cursor.next(a.get());
          bool done = !b || a->next_offset() > p->high_watermark() || b->next_offset() > p->high_watermark();
          if (!done && (a->base_offset() != b->base_offset() || a->crc() != b->crc())) {
            done = true;
            if (p->log().config().compact) {
              // Each replica cleans on its own schedule: compare records, whole logs (rare).
              const int64_t at = first_record_disagreement(peek_batches(world_->disk(node_id(id)), p->log()),
                                                           peek_batches(world_->disk(node_id(fw.id)), fw.p->log()),
                                                           p->high_watermark());
              if (at >= 0)
                v.push_back("divergence: " + tp.str() + " below HW " + std::to_string(p->high_watermark().value) +
                            ": leader " + std::to_string(id) + " and ISR member " + std::to_string(fw.id) +
                            " hold different records at offset " + std::to_string(at) + " (a compacted log)");
            } else {
              v.push_back("divergence: " + tp.str() + " below HW " + std::to_string(p->high_watermark().value) +
                          ": leader " + std::to_string(id) + " and ISR member " + std::to_string(fw.id) +
                          " differ at offset " + std::to_string(a->base_offset().value));
            }
          }
          if (done)
            followers.erase(followers.begin() + static_cast<std::ptrdiff_t>(k));
          else
            ++k;
        }
      }
    }
  }
  return v;
}

}  // namespace ksim
