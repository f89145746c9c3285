#include "engine/controller/quorum_controller.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "engine/controller/replica_placer.h"
#include "sim/error.h"

namespace ksim {

bool valid_topic_name(const std::string& n) {
  if (n.empty() || n.size() > 249 || n == "." || n == "..") return false;
  return std::all_of(n.begin(), n.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
           c == '-';
  });
}

namespace {

ControllerResult failure(Errc e, std::string message) {
  ControllerResult r;
  r.error = e;
  r.message = std::move(message);
  return r;
}

}  // namespace

QuorumController::QuorumController(Config broker_config, sim::Rng rng)
    : broker_config_(std::move(broker_config)), rng_(rng) {}

void QuorumController::replay(const MetadataRecord& record, int64_t offset) {
  committed_.apply(record, offset);
  // A standby's working image is the committed one: apply the record to it
  // too (copying the whole image per record made a 5,000-partition topic
  // quadratic to replay).
  if (!active_) image_.apply(record, offset);
}

void QuorumController::activate(sim::Instant now) {
  active_ = true;
  image_ = committed_;
  next_entry_offset_ = committed_.last_applied_offset() + 1;
  last_heartbeat_.clear();
  for (const auto& [id, b] : image_.brokers()) last_heartbeat_[id] = now;
  balance_at_.reset();
  balance_now_ = false;
}

void QuorumController::prepare(int64_t next_entry_offset) {
  SIM_ASSERT(next_entry_offset >= next_entry_offset_, "metadata log offsets go forward");
  next_entry_offset_ = next_entry_offset;
}

void QuorumController::emit(std::vector<MetadataRecord>& out, MetadataRecord r) {
  // Applied at once so the next decision sees it.
  image_.apply(r, next_entry_offset_);
  out.push_back(std::move(r));
}

Config QuorumController::topic_config(const std::string& topic) const {
  Config::Map overrides;
  if (auto it = image_.configs().find("topic:" + topic); it != image_.configs().end())
    for (const auto& [k, v] : it->second) overrides[k] = v;
  return Config::parse(kTopic, overrides, &broker_config_);
}

ElectionOptions QuorumController::election_options(const std::string& topic) const {
  static const std::map<std::string, std::string> kNoOverrides;
  const auto it = image_.configs().find("topic:" + topic);
  const std::map<std::string, std::string>& overrides = it != image_.configs().end() ? it->second : kNoOverrides;
  if (auto c = election_options_cache_.find(topic); c != election_options_cache_.end() && c->second.overrides == overrides)
    return c->second.options;
  const Config c = topic_config(topic);
  const ElectionOptions options{c.get_bool("unclean.leader.election.enable"),
                                broker_config_.get_bool("ksim.eligible.leader.replicas"), c.get_int("min.insync.replicas"),
                                broker_config_.get_bool("ksim.bug.unclean.without.permission")};
  election_options_cache_.insert_or_assign(topic, CachedElectionOptions{overrides, options});
  return options;
}

void QuorumController::change_all(std::vector<MetadataRecord>& out, const PartitionDecision& decide) {
  // Copy the topic list: emit() changes image_ while we walk it.
  std::vector<std::pair<std::string, int64_t>> topics;
  for (const auto& [name, t] : image_.topics()) topics.emplace_back(name, t.id);
  for (const auto& [name, id] : topics) {
    const ElectionOptions opts = election_options(name);
    const size_t n = image_.topic(name)->partitions.size();
    for (size_t p = 0; p < n; ++p) {
      // decide only reads; emit, which changes image_, comes after it is done with `cur`.
      const PartitionRegistration& cur = image_.topic(name)->partitions[p];
      if (auto change = decide(id, static_cast<int32_t>(p), cur, opts)) emit(out, std::move(*change));
    }
  }
}

void QuorumController::rebalance_all(std::vector<MetadataRecord>& out) {
  change_all(out, [this](int64_t id, int32_t p, const PartitionRegistration& cur, const ElectionOptions& opts) {
    return build_partition_change(id, p, cur, image_, std::nullopt, Election::normal, opts);
  });
}

ControllerResult QuorumController::register_broker(int32_t broker_id, uint64_t incarnation, sim::Instant now,
                                                   int64_t previous_broker_epoch) {
  if (!active_) return failure(Errc::NOT_CONTROLLER, "not the active controller");
  const BrokerRegistration* existing = image_.broker(broker_id);
  // Kafka refuses a second process under a broker id whose session is still
  // current: a broker restarted right after a crash registers only once the
  // controller fenced its old incarnation (broker.session.timeout.ms).
  if (existing && existing->incarnation != incarnation && !existing->fenced) {
    auto hb = last_heartbeat_.find(broker_id);
    if (hb != last_heartbeat_.end() && now - hb->second <= session_timeout())
      return failure(Errc::DUPLICATE_BROKER_REGISTRATION, "Another broker is registered with that broker id.");
  }
  ControllerResult r;
  // KIP-966: a new process (another incarnation) that cannot prove its last
  // stop clean — the clean-shutdown file's epoch must be the one registered —
  // may have lost unflushed records: it leaves every ISR and ELR first, as
  // Kafka's handleBrokerUncleanShutdown does. The same process registering
  // again (after STALE_BROKER_EPOCH) amends its registration: no shutdown.
  if (broker_config_.get_bool("ksim.eligible.leader.replicas") &&
      (!existing || existing->incarnation != incarnation) &&
      !(existing && existing->epoch == previous_broker_epoch))
    handle_unclean_shutdown(broker_id, r.records);
  // A new registration replaces the old one; its offset is its broker epoch.
  emit(r.records, RegisterBrokerRecord{broker_id, next_entry_offset_, incarnation, true});
  last_heartbeat_[broker_id] = now;
  rebalance_all(r.records);  // a re-registered broker is fenced: it leaves ISRs
  return r;
}

void QuorumController::handle_unclean_shutdown(int32_t broker_id, std::vector<MetadataRecord>& out) {
  change_all(out, [this, broker_id](int64_t id, int32_t p, const PartitionRegistration& cur,
                                    const ElectionOptions& opts) -> std::optional<PartitionChangeRecord> {
    const bool in_isr = std::find(cur.isr.begin(), cur.isr.end(), broker_id) != cur.isr.end();
    const bool in_elr = std::find(cur.elr.begin(), cur.elr.end(), broker_id) != cur.elr.end();
    if (!in_isr && !in_elr) return std::nullopt;
    std::vector<int32_t> isr;
    for (int32_t b : cur.isr)
      if (b != broker_id) isr.push_back(b);
    return build_partition_change(id, p, cur, image_, isr, Election::normal, opts, broker_id);
  });
}

HeartbeatReply QuorumController::heartbeat(int32_t broker_id, int64_t broker_epoch, int64_t metadata_offset,
                                           bool want_shut_down, sim::Instant now) {
  HeartbeatReply r;
  if (!active_) {
    r.error = Errc::NOT_CONTROLLER;
    return r;
  }
  const BrokerRegistration* b = image_.broker(broker_id);
  if (!b || b->epoch != broker_epoch) {
    r.error = Errc::STALE_BROKER_EPOCH;
    return r;
  }
  last_heartbeat_[broker_id] = now;
  if (want_shut_down) {
    if (!b->in_controlled_shutdown) {
      // Controlled shutdown: leaderships move away before the broker stops.
      emit(r.records, BrokerRegistrationChangeRecord{broker_id, broker_epoch, std::nullopt, true});
      rebalance_all(r.records);
    }
    bool leads = false;
    for (const auto& [name, t] : image_.topics())
      for (const auto& p : t.partitions) leads = leads || p.leader == broker_id;
    r.should_shut_down = !leads;
    // Kafka's SHUTDOWN_NOW fences the broker: its session ends here, so the
    // next process under this id may register at once.
    if (r.should_shut_down && !b->fenced) {
      emit(r.records, BrokerRegistrationChangeRecord{broker_id, broker_epoch, true, std::nullopt});
      rebalance_all(r.records);
    }
  } else if (b->fenced && metadata_offset >= broker_epoch) {
    // Caught up with the log up to its own registration: it may serve.
    emit(r.records, BrokerRegistrationChangeRecord{broker_id, broker_epoch, false, std::nullopt});
    rebalance_all(r.records);  // offline partitions it can lead come back
  }
  r.fenced = image_.broker(broker_id)->fenced;
  return r;
}

ControllerResult QuorumController::tick(sim::Instant now) {
  ControllerResult r;
  if (!active_) return r;
  const sim::Duration session = session_timeout();
  std::vector<std::pair<int32_t, int64_t>> expired;
  for (const auto& [id, b] : image_.brokers()) {
    if (b.fenced) continue;
    auto it = last_heartbeat_.find(id);
    if (it == last_heartbeat_.end() || now - it->second > session) expired.emplace_back(id, b.epoch);
  }
  for (const auto& [id, epoch] : expired)
    emit(r.records, BrokerRegistrationChangeRecord{id, epoch, true, std::nullopt});
  rebalance_all(r.records);  // moves leaderships of fenced brokers; unclean elections if enabled
  maybe_balance_leaders(now, r.records);
  return r;
}

bool QuorumController::leaders_imbalanced() const {
  for (const auto& [name, t] : image_.topics())
    for (const PartitionRegistration& p : t.partitions)
      if (!p.replicas.empty() && p.leader != p.replicas.front()) return true;
  return false;
}

void QuorumController::maybe_balance_leaders(sim::Instant now, std::vector<MetadataRecord>& out) {
  // Kafka's ControllerServer passes no check interval when the feature is off.
  if (!broker_config_.get_bool("auto.leader.rebalance.enable")) return;
  if (balance_at_ && now >= *balance_at_) {
    balance_at_.reset();
    size_t elections = 0;
    for (const auto& [name, t] : image_.topics()) {
      for (size_t i = 0; i < t.partitions.size() && elections < kMaxElectionsPerImbalance; ++i) {
        const PartitionRegistration& p = t.partitions[i];
        if (p.replicas.empty() || p.leader == p.replicas.front()) continue;
        // A preferred election: a change only if the preferred replica is a usable ISR member.
        if (auto change = build_partition_change(t.id, static_cast<int32_t>(i), p, image_, std::nullopt,
                                                 Election::preferred, election_options(name))) {
          emit(out, std::move(*change));
          ++elections;
        }
      }
    }
    balance_now_ = elections >= kMaxElectionsPerImbalance;
  }
  // Kafka schedules after every controller write (heartbeats included); a tick is as often.
  if (!balance_at_ && leaders_imbalanced())
    balance_at_ = now + (balance_now_ ? sim::milliseconds(10)
                                      : sim::milliseconds(broker_config_.get_long("leader.imbalance.check.interval.seconds") * 1000));
}

std::vector<int32_t> QuorumController::usable_brokers() const {
  std::vector<int32_t> out;
  for (const auto& [id, b] : image_.brokers())
    if (image_.usable(id)) out.push_back(id);
  return out;
}

ControllerResult QuorumController::create_topic(const TopicSpec& spec) {
  if (!active_) return failure(Errc::NOT_CONTROLLER, "not the active controller");
  if (!valid_topic_name(spec.name))
    return failure(Errc::INVALID_TOPIC_EXCEPTION, "Topic name \"" + spec.name + "\" is illegal: it must be 1-249 "
                                                  "characters of ASCII alphanumerics, '.', '_' and '-'");
  if (image_.topic(spec.name)) return failure(Errc::TOPIC_ALREADY_EXISTS, "Topic '" + spec.name + "' already exists.");
  try {
    (void)Config::parse(kTopic, spec.configs, &broker_config_);
  } catch (const ConfigError& e) {
    return failure(Errc::INVALID_CONFIG, e.what());
  }
  const std::vector<int32_t> usable = usable_brokers();
  std::vector<std::vector<int32_t>> assignment = spec.assignment;
  if (assignment.empty()) {
    const int32_t partitions = spec.partitions > 0 ? spec.partitions : broker_config_.get_int("num.partitions");
    const int32_t rf = spec.replication_factor > 0 ? spec.replication_factor
                                                   : broker_config_.get_int("default.replication.factor");
    if (spec.partitions == 0 || spec.partitions < -1)
      return failure(Errc::INVALID_PARTITIONS, "Number of partitions must be larger than 0.");
    if (spec.replication_factor == 0 || spec.replication_factor < -1)
      return failure(Errc::INVALID_REPLICATION_FACTOR, "Replication factor must be larger than 0.");
    Placement pl = place_replicas(usable, partitions, rf, rng_);
    if (!pl.error.empty()) return failure(Errc::INVALID_REPLICATION_FACTOR, pl.error);
    assignment = std::move(pl.replicas);
  } else {
    for (const auto& reps : assignment) {
      std::set<int32_t> distinct(reps.begin(), reps.end());
      if (reps.empty() || distinct.size() != reps.size() || reps.size() != assignment.front().size())
        return failure(Errc::INVALID_REPLICA_ASSIGNMENT, "Replica assignment must list distinct brokers, the same number per partition");
      for (int32_t b : reps)
        if (!image_.broker(b))
          return failure(Errc::INVALID_REPLICA_ASSIGNMENT, "Replica assignment names unknown broker " + std::to_string(b));
    }
  }
  ControllerResult r;
  const int64_t id = image_.next_topic_id();
  emit(r.records, TopicRecord{spec.name, id});
  for (const auto& [k, v] : spec.configs) emit(r.records, ConfigRecord{"topic:" + spec.name, k, v});
  for (size_t p = 0; p < assignment.size(); ++p) {
    PartitionRecord pr;
    pr.topic_id = id;
    pr.partition = static_cast<int32_t>(p);
    pr.replicas = assignment[p];
    for (int32_t b : pr.replicas)
      if (image_.usable(b)) pr.isr.push_back(b);
    if (pr.isr.empty()) pr.isr = {pr.replicas.front()};  // offline from birth, like Kafka
    pr.leader = image_.usable(pr.isr.front()) ? pr.isr.front() : -1;
    emit(r.records, std::move(pr));
  }
  return r;
}

ControllerResult QuorumController::create_partitions(const std::string& topic, int32_t count) {
  if (!active_) return failure(Errc::NOT_CONTROLLER, "not the active controller");
  const TopicImage* t = image_.topic(topic);
  if (!t) return failure(Errc::UNKNOWN_TOPIC_OR_PARTITION, "Topic '" + topic + "' does not exist.");
  const auto current = static_cast<int32_t>(t->partitions.size());
  if (count <= current)
    return failure(Errc::INVALID_PARTITIONS, "Topic currently has " + std::to_string(current) +
                                                 " partitions, which is higher than the requested " +
                                                 std::to_string(count) + ".");
  const std::vector<int32_t> usable = usable_brokers();
  const auto rf = static_cast<int32_t>(t->partitions.front().replicas.size());
  Placement pl = place_replicas(usable, count - current, rf, rng_);
  if (!pl.error.empty()) return failure(Errc::INVALID_REPLICATION_FACTOR, pl.error);
  ControllerResult r;
  for (size_t i = 0; i < pl.replicas.size(); ++i) {
    PartitionRecord pr;
    pr.topic_id = t->id;
    pr.partition = current + static_cast<int32_t>(i);
    pr.replicas = pl.replicas[i];
    pr.isr = pr.replicas;  // placed on usable brokers only
    pr.leader = pr.isr.front();
    emit(r.records, std::move(pr));
  }
  return r;
}

AlterPartitionReply QuorumController::alter_partition(int32_t broker_id, int64_t broker_epoch, const std::string& topic,
                                                      int32_t partition, int32_t leader_epoch, int32_t partition_epoch,
                                                      const std::vector<int32_t>& new_isr) {
  AlterPartitionReply r;
  auto fail = [&](Errc e) {
    r.error = e;
    return r;
  };
  if (!active_) return fail(Errc::NOT_CONTROLLER);
  const BrokerRegistration* b = image_.broker(broker_id);
  if (!b || b->epoch != broker_epoch) return fail(Errc::STALE_BROKER_EPOCH);
  const TopicImage* t = image_.topic(topic);
  const PartitionRegistration* p = image_.partition(topic, partition);
  if (!t || !p) return fail(Errc::UNKNOWN_TOPIC_OR_PARTITION);
  if (p->leader != broker_id) return fail(Errc::NOT_LEADER_OR_FOLLOWER);
  if (leader_epoch != p->leader_epoch) return fail(Errc::FENCED_LEADER_EPOCH);
  if (partition_epoch != p->partition_epoch) return fail(Errc::INVALID_UPDATE_VERSION);
  if (std::find(new_isr.begin(), new_isr.end(), broker_id) == new_isr.end()) return fail(Errc::INVALID_REQUEST);
  for (int32_t m : new_isr)
    if (!p->is_replica(m) || !image_.usable(m)) return fail(Errc::INELIGIBLE_REPLICA);
  if (auto change = build_partition_change(t->id, partition, *p, image_, new_isr, Election::normal,
                                           election_options(topic)))
    emit(r.records, std::move(*change));
  const PartitionRegistration* now_p = image_.partition(topic, partition);
  r.leader_epoch = now_p->leader_epoch;
  r.partition_epoch = now_p->partition_epoch;
  r.isr = now_p->isr;
  return r;
}

ControllerResult QuorumController::elect_leaders(Election type,
                                                 const std::vector<std::pair<std::string, int32_t>>& partitions) {
  if (!active_) return failure(Errc::NOT_CONTROLLER, "not the active controller");
  std::vector<std::pair<std::string, int32_t>> targets = partitions;
  if (targets.empty())
    for (const auto& [name, t] : image_.topics())
      for (size_t p = 0; p < t.partitions.size(); ++p) targets.emplace_back(name, static_cast<int32_t>(p));
  // Validate everything before changing anything: emit() applies at once.
  for (const auto& [topic, part] : targets)
    if (!image_.partition(topic, part))
      return failure(Errc::UNKNOWN_TOPIC_OR_PARTITION, "Unknown partition " + topic + "-" + std::to_string(part));
  ControllerResult r;
  for (const auto& [topic, part] : targets) {
    const TopicImage* t = image_.topic(topic);
    const PartitionRegistration* p = image_.partition(topic, part);
    if (auto change = build_partition_change(t->id, part, *p, image_, std::nullopt, type, election_options(topic)))
      emit(r.records, std::move(*change));
  }
  if (r.records.empty() && !partitions.empty()) {
    r.error = Errc::ELECTION_NOT_NEEDED;
    r.message = "Leader election not needed";
  }
  return r;
}

ProducerIdsReply QuorumController::allocate_producer_ids(int32_t broker_id, int64_t broker_epoch) {
  ProducerIdsReply r;
  if (!active_) {
    r.error = Errc::NOT_CONTROLLER;
    return r;
  }
  const BrokerRegistration* b = image_.broker(broker_id);
  if (!b || b->epoch != broker_epoch) {
    r.error = Errc::STALE_BROKER_EPOCH;
    return r;
  }
  r.first = image_.next_producer_id();
  r.size = kProducerIdBlockSize;
  emit(r.records, ProducerIdsRecord{broker_id, broker_epoch, r.first + r.size});
  return r;
}

ControllerResult QuorumController::alter_config(const std::string& resource, const std::string& key,
                                                const std::optional<std::string>& value) {
  if (!active_) return failure(Errc::NOT_CONTROLLER, "not the active controller");
  if (!resource.starts_with("topic:")) return failure(Errc::INVALID_REQUEST, "Only topic configs can be altered");
  const std::string topic = resource.substr(6);
  if (!image_.topic(topic)) return failure(Errc::UNKNOWN_TOPIC_OR_PARTITION, "Unknown topic " + topic);
  Config::Map overrides;
  if (auto it = image_.configs().find(resource); it != image_.configs().end())
    for (const auto& [k, v] : it->second) overrides[k] = v;
  if (value)
    overrides[key] = *value;
  else
    overrides.erase(key);
  try {
    (void)Config::parse(kTopic, overrides, &broker_config_);
  } catch (const ConfigError& e) {
    return failure(Errc::INVALID_CONFIG, e.what());
  }
  ControllerResult r;
  emit(r.records, ConfigRecord{resource, key, value});
  rebalance_all(r.records);  // e.g. enabling unclean election elects offline partitions
  return r;
}

namespace {

std::string entity_text(const ClientQuotaEntity& e) {
  std::string s = "{";
  for (const auto& [type, name] : e) s += (s.size() > 1 ? ", " : "") + type + "=" + (name ? *name : "<default>");
  return s + "}";
}

// The entity's problem, or "" (Kafka's ClientQuotaControlManager.validateEntity).
std::string invalid_entity(const ClientQuotaEntity& e) {
  if (e.empty()) return "Invalid empty client quota entity";
  for (const auto& [type, name] : e) {
    if (type == "ip") return "IP quotas (KIP-612) are not modelled by ksim: " + entity_text(e);
    if (type != "user" && type != "client-id") return "Unhandled client quota entity type: " + type;
  }
  return "";
}

// The key's or value's problem, or "".
std::string invalid_quota(const std::string& key, const std::optional<double>& value) {
  if (key == "request_percentage" || key == "controller_mutation_rate")
    return "Configuration " + key + " is not modelled by ksim (only producer_byte_rate and consumer_byte_rate: " +
           "request handlers take no virtual time)";
  if (key != "producer_byte_rate" && key != "consumer_byte_rate") return "Invalid configuration key " + key;
  if (!value) return "";
  const double v = *value;
  if (!std::isfinite(v) || v != std::floor(v)) return "Configuration " + key + " must be a Long value";
  if (v <= 0) return "Invalid value " + std::to_string(static_cast<int64_t>(v)) + " for configuration " + key +
                     ": a byte rate must be positive";
  return "";
}

}  // namespace

ControllerResult QuorumController::alter_client_quotas(
    const std::vector<std::pair<ClientQuotaEntity, ClientQuotaOps>>& entries) {
  if (!active_) return failure(Errc::NOT_CONTROLLER, "not the active controller");
  ControllerResult r;
  for (const auto& [entity, ops] : entries) {
    if (std::string why = invalid_entity(entity); !why.empty()) return failure(Errc::INVALID_REQUEST, why);
    for (const auto& [key, value] : ops) {
      if (std::string why = invalid_quota(key, value); !why.empty()) return failure(Errc::INVALID_REQUEST, why);
      emit(r.records, ClientQuotaRecord{entity, key, value});
    }
  }
  return r;
}

}  // namespace ksim
