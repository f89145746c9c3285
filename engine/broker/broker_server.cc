#include "engine/broker/broker_server.h"

#include <algorithm>

#include "engine/common/node_ids.h"
#include "engine/controller/metadata_record.h"
#include "engine/storage/checkpoint_file.h"
#include "engine/storage/clean_shutdown_file.h"
#include "engine/storage/log_cleaner.h"

namespace ksim {
namespace {

constexpr const char* kLogDir = "data";
constexpr const char* kHwCheckpoint = "data/replication-offset-checkpoint";
// Kafka's cleaner-offset-checkpoint: every compacted log's first dirty offset.
// ksim also reads it to open those logs as compacted before the metadata
// (whose topic configs say so) has been replayed. Recovery does not depend on
// it: a gap is no damage in any log (a follower that never cleaned has its
// leader's gaps and no entry here).
constexpr const char* kCleanerCheckpoint = "data/cleaner-offset-checkpoint";
constexpr int kIoThreads = 8;  // num.io.threads
constexpr int64_t kVerifyTimeoutMs = 30000;  // KIP-890 verification request (the broker's request timeout)
constexpr const char* kBrokerApis[] = {"Produce",   "Fetch",     "ListOffsets", "OffsetsForLeaderEpoch", "Metadata",
                                       "InitProducerId", "FindCoordinator", "JoinGroup", "SyncGroup", "Heartbeat",
                                       "LeaveGroup", "OffsetCommit", "OffsetFetch", "AddPartitionsToTxn",
                                       "AddOffsetsToTxn", "EndTxn", "TxnOffsetCommit",
                                       "WriteTxnMarkers"};

ReplicationSwitches switches_of(const Config& c) {
  ReplicationSwitches s;
  s.fetch_epoch_validation = c.get_bool("ksim.fetch.leader.epoch.validation");
  s.hw_includes_pending_isr = c.get_bool("ksim.hw.includes.pending.isr");
  s.kip279 = c.get_string("ksim.offsets.for.leader.epoch") == "kip-279";
  s.truncate_by_epoch = c.get_string("ksim.truncation.mode") == "leader-epoch";
  s.elr = c.get_bool("ksim.eligible.leader.replicas");
  s.bug_ack_before_isr = c.get_bool("ksim.bug.ack.before.isr");
  s.bug_hw_is_leader_leo = c.get_bool("ksim.bug.hw.is.leader.leo");
  s.bug_follower_never_truncates = c.get_bool("ksim.bug.follower.never.truncates");
  s.bug_read_past_hw = c.get_bool("ksim.bug.read.past.hw");
  return s;
}

// quota.window.num samples of quota.window.size.seconds each.
SampledStatConfig quota_window(const Config& c) {
  return SampledStatConfig{c.get_int("quota.window.num"), c.get_int("quota.window.size.seconds") * int64_t{1000}};
}

// "orders-3" -> {"orders", 3}; topic names may contain '-'.
std::optional<TopicPartition> parse_dir(const std::string& name) {
  const size_t dash = name.rfind('-');
  if (dash == std::string::npos || dash == 0 || dash + 1 == name.size()) return std::nullopt;
  int32_t p = 0;
  for (size_t i = dash + 1; i < name.size(); ++i) {
    if (name[i] < '0' || name[i] > '9') return std::nullopt;
    p = p * 10 + (name[i] - '0');
  }
  return TopicPartition{name.substr(0, dash), p};
}

}  // namespace

BrokerServer::BrokerServer(sim::World& world, sim::NodeId self, Config config, raft::RaftClient& metadata_log)
    : world_(world),
      self_(self),
      id_(kafka_id_of(self)),
      config_(std::move(config)),
      switches_(switches_of(config_)),
      metadata_log_(metadata_log),
      requests_(world, 100'000),
      metadata_changed_(world),
      default_min_isr_(config_.get_int("min.insync.replicas")),
      verify_retry_ms_(config_.get_int("add.partitions.to.txn.retry.backoff.ms")),
      verify_retry_max_ms_(config_.get_int("add.partitions.to.txn.retry.backoff.max.ms")),
      produce_quota_(ClientQuotaType::produce, quota_window(config_)),
      fetch_quota_(ClientQuotaType::fetch, quota_window(config_)),
      throttled_(world, self) {
  rm_ = std::make_unique<ReplicaManager>(world_, self_, id_, config_, switches_);
  fetchers_ = std::make_unique<ReplicaFetcherManager>(world_, self_, id_, config_, switches_, *rm_);
  rm_->min_isr_of = [this](const std::string& t) { return min_isr(t); };
  rm_->broker_usable = [this](int32_t b) { return image_.usable(b); };
  rm_->requeue = [this](sim::Incoming in) {
    if (!requests_.try_push(std::move(in))) world_.probe("broker: request queue full");
  };
  rm_->set_controller_call([this](const std::string& api, sim::Payload b, uint32_t size) {
    return controller_call(api, std::move(b), size);
  });
  groups_ = std::make_unique<coordinator::GroupCoordinator>(world_, self_, id_, config_, *rm_);
  groups_->partition_count_of = [this](const std::string& t) {
    const TopicImage* topic = image_.topic(t);
    return topic ? static_cast<int32_t>(topic->partitions.size()) : -1;
  };
  groups_->topic_names = [this] {
    std::vector<std::string> out;
    for (const auto& [name, topic] : image_.topics()) out.push_back(name);
    return out;
  };
  rm_->hw_listener = [this](const TopicPartition& tp) {
    groups_->on_hw_moved(tp);
    txns_->on_hw_moved(tp);
  };
  auto_create_ = std::make_unique<AutoTopicCreationManager>(
      world_, self_, config_,
      [this](const std::string& api, sim::Payload b, uint32_t size) { return controller_call(api, std::move(b), size); });
  lookup_ = std::make_unique<coordinator::CoordinatorLookup>(
      world_, config_, [this]() -> const MetadataImage& { return image_; }, *auto_create_);
  producer_ids_ = std::make_unique<ProducerIdManager>(world_, [this] {
    return controller_call("AllocateProducerIds",
                           sim::make_payload(protocol::AllocateProducerIdsRequest{id_, broker_epoch_}), 32);
  });
  txns_ = std::make_unique<coordinator::TransactionCoordinator>(
      world_, self_, id_, config_, *rm_, [this]() -> const MetadataImage& { return image_; },
      [this] { return producer_ids_->generate(); });
  rm_->verify_transaction = [this](const std::string& txn_id, ProducerId pid, ProducerEpoch epoch,
                                   const TopicPartition& tp) { return verify_transaction(txn_id, pid, epoch, tp); };
  rm_->marker_listener = [this](const TopicPartition& tp, ProducerId pid, bool committed, Offset marker_offset) {
    groups_->on_txn_marker(tp, pid, committed, marker_offset);
  };
  rm_->produce_throttle = [this](const sim::Incoming& in) {
    return throttle(produce_quota_, in, in.size_bytes, false);
  };
  rm_->fetch_throttle = [this](const sim::Incoming& in, int64_t bytes) { return throttle(fetch_quota_, in, bytes, true); };
  rm_->fetch_quota_bytes = [this](const sim::Incoming& in) -> std::optional<int64_t> {
    const auto bound = fetch_quota_.max_value_in_quota_window(kAnonymousUser, world_.node_name(in.src));
    if (!bound) return std::nullopt;
    return static_cast<int64_t>(*bound);
  };
  rm_->marker_ready = [this](const TopicPartition& tp) {
    return tp.topic != coordinator::kGroupMetadataTopic ||
           groups_->runtime().status(tp.partition) != Errc::COORDINATOR_LOAD_IN_PROGRESS;
  };
}

void BrokerServer::start() {
  // A failed write takes Kafka's log dir offline (LogDirFailureChannel), and a
  // broker whose last live log dir failed halts ("Shutdown broker because all
  // log dirs in ... have failed"); a failed metadata log dir halts it too. A
  // ksim broker has one log dir holding both: any failed write halts it. The
  // crash runs from a world timer, outside the node's fibers (the failing
  // operation runs in one of them). Captures nothing that dies with us.
  {
    sim::World* world = &world_;
    const sim::NodeId node = self_;
    world_.disk(self_).on_write_error([world, node](sim::DiskStatus) {
      world->probe("storage: log dir failed, broker halts");
      world->schedule_after(sim::kWorldNode, sim::Duration{}, [world, node] {
        if (world->is_up(node)) world->crash(node);
      });
    });
  }
  // Kafka enables request processing only once the broker has caught up with
  // the metadata log; until then its listener refuses connections, so a
  // client fails over at once instead of waiting on a broker that would
  // answer from an empty metadata image (or not at all while it recovers).
  // Installed at boot, so nothing a client sends is ever stranded unread.
  sim::Network& net = world_.network();
  produce_kind_ = net.kind("Produce").value;
  auto handler = [this](sim::Incoming&& in) {
      if (!caught_up_) {
        world_.probe("broker: connection refused before the initial metadata catch-up");
        world_.network().refuse(in);
        return;
      }
      receive(std::move(in));
  };
  for (const char* api : kBrokerApis) net.set_kind_handler(self_, net.kind(api), handler);
  // KIP-848's API gets its kind when a client first sends it (classic runs never create it).
  net.set_kind_handler(self_, std::string_view("ConsumerGroupHeartbeat"), handler);
  net.set_response_observer(self_, [this](const sim::Incoming& req) {
    if (req.kind.value == produce_kind_) produce_answered(req.conn);
  });
  world_.spawn(self_, "broker-startup", [this] { startup(); });
}

void BrokerServer::receive(sim::Incoming&& in) {
  // A connection muted for a throttle time (KIP-219) is not read until it ends.
  const uint32_t conn = in.conn;
  if (throttled_.muted(conn) &&
      throttled_.defer(conn, [this, in = std::move(in)]() mutable { receive(std::move(in)); }))
    return;
  if (in.kind.value == produce_kind_ && in.dir == sim::Direction::request) {
    ProduceChannel& ch = produce_channels_[in.conn];
    if (ch.busy) {
      ch.waiting.push_back(std::move(in));  // dispatched once the one before it is answered
      return;
    }
    ch.busy = true;
  }
  enqueue(std::move(in));
}

int32_t BrokerServer::throttle(ClientQuotaManager& quota, const sim::Incoming& in, int64_t bytes,
                               bool take_back_if_throttled) {
  if (!quota.quotas_enabled()) return 0;
  const int64_t now_ms = world_.now().ns / 1'000'000;
  // The request header's client.id: ksim's client.id is the client node's name.
  const std::string& client_id = world_.node_name(in.src);
  const int32_t throttle_ms =
      quota.record_and_get_throttle_ms(kAnonymousUser, client_id, static_cast<double>(bytes), now_ms);
  if (throttle_ms <= 0) return 0;
  if (take_back_if_throttled) quota.unrecord(kAnonymousUser, client_id, static_cast<double>(bytes), now_ms);
  quota.record_throttle(kAnonymousUser, client_id, throttle_ms, now_ms);
  throttled_.mute(in.conn, world_.now() + sim::milliseconds(throttle_ms));
  world_.probe(quota.type() == ClientQuotaType::produce ? "quota: produce throttled" : "quota: fetch throttled");
  return throttle_ms;
}

void BrokerServer::enqueue(sim::Incoming&& in) {
  const uint32_t conn = in.conn;
  const bool holds_channel =
      in.kind.value == produce_kind_ && in.dir == sim::Direction::request && produce_channels_.count(conn) > 0;
  if (requests_.try_push(std::move(in))) return;
  world_.probe("broker: request queue full");
  // A Produce dropped here is never answered: let its connection move on.
  if (holds_channel) produce_answered(conn);
}

void BrokerServer::produce_answered(uint32_t conn) {
  auto it = produce_channels_.find(conn);
  if (it == produce_channels_.end()) return;
  // The client closed this connection (a request of it timed out): the first
  // response since was written, so the next request was read and processed;
  // this one's write fails, and Kafka closes the channel with the rest unread.
  // Processing them all would let a batch the producer has since renumbered
  // (an epoch bump after an expired batch) land under its old sequence too.
  if (world_.network().client_closed(conn) && it->second.answered_after_close++ > 0) {
    if (!it->second.waiting.empty()) world_.probe("broker: requests a closed connection left unread are dropped");
    produce_channels_.erase(it);
    return;
  }
  if (it->second.waiting.empty()) {
    produce_channels_.erase(it);
    return;
  }
  sim::Incoming next = std::move(it->second.waiting.front());
  it->second.waiting.erase(it->second.waiting.begin());
  // The answer just sent may have muted the connection: the next waits it out (it keeps the channel).
  if (throttled_.defer(conn, [this, next]() mutable { enqueue(std::move(next)); })) return;
  enqueue(std::move(next));
}

BrokerServer::TopicSettings& BrokerServer::settings_of(const std::string& topic) const {
  auto it = topic_settings_.find(topic);
  if (it == topic_settings_.end()) it = topic_settings_.emplace(topic, TopicSettings{}).first;
  TopicSettings& s = it->second;
  if (s.configs_version != configs_version_) s = TopicSettings{configs_version_, std::nullopt, std::nullopt};
  return s;
}

int32_t BrokerServer::min_isr(const std::string& topic) const {
  TopicSettings& s = settings_of(topic);
  if (!s.min_isr) s.min_isr = read_min_isr(topic);
  return *s.min_isr;
}

const storage::LogConfig& BrokerServer::log_config(const std::string& topic) const {
  TopicSettings& s = settings_of(topic);
  if (!s.log) s.log = build_log_config(topic);
  return *s.log;
}

int32_t BrokerServer::read_min_isr(const std::string& topic) const {
  const auto& configs = image_.configs();
  if (!configs.empty()) {
    if (auto it = configs.find("topic:" + topic); it != configs.end())
      if (auto k = it->second.find("min.insync.replicas"); k != it->second.end()) return std::stoi(k->second);
  }
  return default_min_isr_;
}

storage::LogConfig BrokerServer::build_log_config(const std::string& topic) const {
  Config::Map overrides;
  if (auto it = image_.configs().find("topic:" + topic); it != image_.configs().end())
    for (const auto& [k, v] : it->second) overrides[k] = v;
  const Config c = Config::parse(kTopic, overrides, &config_);
  storage::LogConfig lc;
  lc.segment_bytes = c.get_long("segment.bytes");
  lc.segment_ms = c.get_long("segment.ms");
  lc.index_interval_bytes = config_.get_long("log.index.interval.bytes");
  lc.flush_messages = c.get_long("flush.messages");
  lc.flush_ms = c.get_long("flush.ms");
  lc.retention_ms = c.get_long("retention.ms");
  lc.retention_bytes = c.get_long("retention.bytes");
  lc.max_message_bytes = c.get_long("max.message.bytes");
  lc.skip_idempotent_dedupe = config_.get_bool("ksim.bug.skip.idempotent.dedupe");
  const std::vector<std::string> policy = c.get_list("cleanup.policy");
  lc.compact = std::find(policy.begin(), policy.end(), "compact") != policy.end();
  lc.delete_old = std::find(policy.begin(), policy.end(), "delete") != policy.end();
  lc.min_cleanable_dirty_ratio = c.get_double("min.cleanable.dirty.ratio");
  lc.min_compaction_lag_ms = c.get_long("min.compaction.lag.ms");
  lc.max_compaction_lag_ms = c.get_long("max.compaction.lag.ms");
  lc.delete_retention_ms = c.get_long("delete.retention.ms");
  lc.cleaner_drops_latest = config_.get_bool("ksim.bug.cleaner.drops.latest.value");
  lc.cleaner_partial_txn_bug = config_.get_string("ksim.cleaner.abort.marker.removal") == "early";
  lc.message_timestamp_type = c.get_string("message.timestamp.type") == "LogAppendTime"
                                  ? storage::TimestampType::log_append_time
                                  : storage::TimestampType::create_time;
  return lc;
}

void BrokerServer::recover_logs() {
  sim::Disk& disk = world_.disk(self_);
  std::map<TopicPartition, Offset> hws;
  if (disk.exists(kHwCheckpoint)) {
    storage::OffsetCheckpointFile f(disk, kHwCheckpoint);
    auto r = f.read();
    if (r.ok()) hws = r.value;
  }
  std::set<std::string> dirs;
  for (const std::string& file : disk.list(std::string(kLogDir) + "/")) {
    const std::string rest = file.substr(std::string(kLogDir).size() + 1);
    const size_t slash = rest.find('/');
    if (slash != std::string::npos) dirs.insert(rest.substr(0, slash));
  }
  std::map<TopicPartition, Offset> cleaned;
  if (disk.exists(kCleanerCheckpoint)) {
    storage::OffsetCheckpointFile f(disk, kCleanerCheckpoint);
    auto r = f.read();
    if (r.ok()) cleaned = r.value;
  }
  for (const std::string& d : dirs) {
    const auto tp = parse_dir(d);
    if (!tp) continue;
    storage::LogConfig lc = log_config(tp->topic);
    if (cleaned.contains(*tp)) lc.compact = true;
    // After a clean shutdown (the file startup() read) Kafka's LogLoader
    // recovers nothing: the shutdown flushed every log.
    auto log = storage::UnifiedLog::open(world_, disk, kLogDir, *tp, lc, Offset{0}, kNoOffset,
                                         /*had_clean_shutdown=*/previous_broker_epoch_ >= 0);
    if (!log.ok()) {
      world_.probe("broker: a log failed to recover");
      continue;
    }
    if (auto it = hws.find(*tp); it != hws.end()) log.value->update_high_watermark(it->second);
    rm_->add(std::make_unique<Partition>(world_, id_, *tp, std::move(log.value), switches_));
  }
}

void BrokerServer::maybe_start_cleaner() {
  if (cleaner_started_ || !config_.get_bool("log.cleaner.enable")) return;
  for (const auto& [tp, p] : rm_->partitions())
    if (p->log().config().compact && p->log().segment_count() > 1) {
      cleaner_started_ = true;
      world_.spawn(self_, "log-cleaner", [this] { log_cleaner(); });
      return;
    }
}

void BrokerServer::log_cleaner() {
  // Kafka's CleanerThread.cleanFilthiestLog: the log with the highest dirty
  // ratio among those that need cleaning (ties: the first in partition order),
  // else sleep log.cleaner.backoff.ms.
  const int64_t capacity = storage::LogCleaner::map_capacity(config_.get_long("log.cleaner.dedupe.buffer.size"));
  const sim::Duration backoff = sim::milliseconds(config_.get_long("log.cleaner.backoff.ms"));
  for (;;) {
    const int64_t now = world_.now().ns / 1'000'000;
    storage::UnifiedLog* filthiest = nullptr;
    double best = -1;
    for (const auto& [tp, p] : rm_->partitions()) {
      const auto c = storage::LogCleaner::cleanable(p->log(), now);
      if (!c || !storage::LogCleaner::needs_cleaning(p->log(), *c)) continue;
      const double ratio = c->max_lag_exceeded ? 2.0 : c->dirty_ratio();
      if (ratio > best) {
        best = ratio;
        filthiest = &p->log();
      }
    }
    if (!filthiest) {
      world_.sleep_for(backoff);
      continue;
    }
    auto r = storage::LogCleaner::clean(*filthiest, now, capacity);
    if (!r.ok()) {
      world_.sleep_for(backoff);  // the log went offline
      continue;
    }
    std::map<TopicPartition, Offset> dirty;
    for (const auto& [tp, p] : rm_->partitions())
      if (p->log().config().compact) dirty[tp] = p->log().first_dirty_offset();
    storage::OffsetCheckpointFile(world_.disk(self_), kCleanerCheckpoint).write(dirty);
  }
}

void BrokerServer::startup() {
  cleaner_started_ = false;
  // Kafka reads the clean-shutdown file before loading the logs and deletes
  // it after: from then on a crash must not pass for a clean stop.
  storage::CleanShutdownFile clean_shutdown(world_.disk(self_), kLogDir);
  previous_broker_epoch_ = clean_shutdown.read();
  recover_logs();
  if (clean_shutdown.remove() != Errc::NONE) world_.probe("broker: could not remove the clean-shutdown file");
  for (int i = 0; i < kIoThreads; ++i)
    world_.spawn(self_, "request-handler-" + std::to_string(i), [this] { request_handler(); });
  groups_->start();
  txns_->start();
  world_.spawn(self_, "metadata-applier", [this] { metadata_applier(); });
  world_.spawn(self_, "lifecycle", [this] { lifecycle(); });
  world_.spawn(self_, "isr-shrink", [this] {
    const sim::Duration every = sim::milliseconds(config_.get_long("replica.lag.time.max.ms") / 2);
    for (;;) {
      world_.sleep_for(every);
      rm_->isr_shrink_pass();
    }
  });
  world_.spawn(self_, "alter-partition", [this] {
    for (;;) {
      while (rm_->alter_partition_pass()) {
      }
      world_.sleep_for(sim::milliseconds(20));
    }
  });
  // Kafka's LogManager tasks. Retention: segments past retention.ms /
  // retention.bytes or wholly below the log start offset go, every
  // log.retention.check.interval.ms.
  world_.spawn(self_, "log-retention", [this] {
    const sim::Duration every = sim::milliseconds(config_.get_long("log.retention.check.interval.ms"));
    for (;;) {
      world_.sleep_for(every);
      for (const auto& [tp, p] : rm_->partitions()) {
        // The log applies retention.ms / retention.bytes only if its cleanup.policy
        // has "delete"; segments below the log start go whatever the policy (Kafka too).
        auto deleted = p->log().delete_old_segments();
        if (deleted.ok() && deleted.value > 0) world_.probe("broker: retention deleted segments");
      }
    }
  });
  // Producer ids idle for producer.id.expiration.ms are forgotten, every
  // producer.id.expiration.check.interval.ms.
  world_.spawn(self_, "producer-id-expiration", [this] {
    const sim::Duration every = sim::milliseconds(config_.get_long("producer.id.expiration.check.interval.ms"));
    const int64_t expiration_ms = config_.get_long("producer.id.expiration.ms");
    for (;;) {
      world_.sleep_for(every);
      for (const auto& [tp, p] : rm_->partitions()) p->log().remove_expired_producers(expiration_ms);
    }
  });
  world_.spawn(self_, "hw-checkpoint", [this] {
    const sim::Duration every = sim::milliseconds(config_.get_long("replica.high.watermark.checkpoint.interval.ms"));
    storage::OffsetCheckpointFile f(world_.disk(self_), kHwCheckpoint);
    for (;;) {
      world_.sleep_for(every);
      std::map<TopicPartition, Offset> hws;
      for (const auto& [tp, p] : rm_->partitions()) hws[tp] = p->high_watermark();
      f.write(hws);
      maybe_start_cleaner();
    }
  });
  started_ = true;
  metadata_changed_.notify_all();
}

void BrokerServer::on_metadata_commit(const raft::RaftEntry& e) {
  if (e.control) return;
  const auto records = decode_records(*e.data);
  SIM_ASSERT(records.has_value(), "undecodable metadata log entry");
  bool quotas_changed = false;
  for (const MetadataRecord& r : *records) {
    image_.apply(r, e.offset.value);
    quotas_changed = quotas_changed || std::holds_alternative<ClientQuotaRecord>(r);
    if (std::holds_alternative<ConfigRecord>(r)) {
      ++configs_version_;     // cached topic settings are stale
      reconcile_all_ = true;  // a topic's or the cluster's settings: every log may take them
    }
    // The partitions the delta touches; no other record changes what reconcile acts on.
    int64_t topic_id = -1;
    int32_t partition = -1;
    if (const auto* pr = std::get_if<PartitionRecord>(&r)) topic_id = pr->topic_id, partition = pr->partition;
    if (const auto* pc = std::get_if<PartitionChangeRecord>(&r)) topic_id = pc->topic_id, partition = pc->partition;
    if (partition >= 0) {
      const TopicImage* t = image_.topic_by_id(topic_id);
      SIM_ASSERT(t, "a partition record applied to an unknown topic");
      dirty_partitions_.insert(TopicPartition{t->name, partition});
    }
  }
  if (quotas_changed) {
    produce_quota_.update_quotas(image_.client_quotas());
    fetch_quota_.update_quotas(image_.client_quotas());
  }
  ++metadata_version_;
  metadata_changed_.notify_all();
}

void BrokerServer::metadata_applier() {
  uint64_t seen = 0;
  // Act on metadata only once caught up (the controller unfences us after we
  // replayed past our own registration): a restarted broker replaying the
  // log from the start must not briefly lead partitions it led long ago.
  metadata_changed_.wait([&] { return caught_up_; });
  for (;;) {
    metadata_changed_.wait([&] { return metadata_version_ != seen; });
    seen = metadata_version_;
    reconcile();
  }
}

void BrokerServer::reconcile() {
  // Kafka's applyDelta: act on the partitions the metadata changed since the
  // last pass, not on every partition after every change (a parked fetch
  // or produce of an untouched partition has nothing to learn from it).
  // Registrations are copied first: creating a log blocks, and the image may
  // move meanwhile (what moves is dirty again, for the next pass).
  std::vector<std::pair<TopicPartition, PartitionRegistration>> work;
  if (reconcile_all_) {
    for (const auto& [name, topic] : image_.topics())
      for (size_t i = 0; i < topic.partitions.size(); ++i)
        if (topic.partitions[i].is_replica(id_))
          work.emplace_back(TopicPartition{name, static_cast<int32_t>(i)}, topic.partitions[i]);
  } else {
    for (const TopicPartition& tp : dirty_partitions_)
      if (const PartitionRegistration* reg = image_.partition(tp.topic.str(), tp.partition); reg && reg->is_replica(id_))
        work.emplace_back(tp, *reg);
  }
  reconcile_all_ = false;
  dirty_partitions_.clear();
  for (const auto& [tp, reg] : work) {
    const std::string& name = tp.topic.str();
    const storage::LogConfig config = log_config(name);  // a copy: the cache may change while a log is created
    Partition* p = rm_->get(tp);
    if (!p) {
      auto log = storage::UnifiedLog::open(world_, world_.disk(self_), kLogDir, tp, config);
      if (!log.ok()) {
        world_.probe("broker: could not create a log");
        dirty_partitions_.insert(tp);  // tried again at the next pass
        continue;
      }
      rm_->add(std::make_unique<Partition>(world_, id_, tp, std::move(log.value), switches_));
      p = rm_->get(tp);
    }
    // A topic config altered since (IncrementalAlterConfigs) applies to the live log.
    if (!(p->log().config() == config)) p->log().set_config(config);
    sim::LockGuard g(p->role_lock());
    p->set_min_isr(min_isr(name));
    if (reg.leader == id_) {
      if (!p->is_leader() || p->leader_epoch().value != reg.leader_epoch) {
        fetchers_->remove(tp);
        if (p->make_leader(reg, world_.now()) != Errc::NONE) {
          world_.probe("broker: could not become leader (storage)");
          dirty_partitions_.insert(tp);  // tried again at the next pass
        } else {
          groups_->on_partition_leader(tp, LeaderEpoch{reg.leader_epoch});  // loads __consumer_offsets-N
          txns_->on_partition_leader(tp, LeaderEpoch{reg.leader_epoch});   // loads __transaction_state-N
        }
      } else if (reg.partition_epoch > p->partition_epoch()) {
        p->update_isr(reg.isr, reg.partition_epoch);
      }
      rm_->on_partition_changed(tp);
    } else {
      if (p->is_leader() || p->leader_epoch().value != reg.leader_epoch || p->leader() != reg.leader) {
        p->make_follower(reg);
        groups_->on_partition_follower(tp);  // unloads the groups of __consumer_offsets-N
        txns_->on_partition_follower(tp);
        if (reg.leader >= 0)
          fetchers_->add(tp, reg.leader, LeaderEpoch{reg.leader_epoch});
        else
          fetchers_->remove(tp);
      } else if (reg.partition_epoch > p->partition_epoch()) {
        p->update_isr(reg.isr, reg.partition_epoch);
      }
      rm_->on_partition_changed(tp);  // fails produces waiting on a lost leadership
    }
  }
}

sim::Reply BrokerServer::controller_call(const std::string& api, sim::Payload body, uint32_t size) {
  const auto leader = metadata_log_.leader();
  if (!leader) return sim::Reply{sim::CallStatus::disconnected, {}, 0, 0, nullptr};
  sim::Network& net = world_.network();
  return net.call_sync(self_, *leader, net.kind(api), std::move(body), size,
                       sim::milliseconds(config_.get_long("controller.quorum.request.timeout.ms")));
}

void BrokerServer::lifecycle() {
  const sim::Duration interval = sim::milliseconds(config_.get_long("broker.heartbeat.interval.ms"));
  const sim::Duration retry = sim::milliseconds(100);
  const uint64_t incarnation = (static_cast<uint64_t>(id_) << 32) | world_.incarnation(self_);
  for (;;) {
    if (broker_epoch_ < 0) {
      const sim::Reply r = controller_call("BrokerRegistration", sim::make_payload(protocol::BrokerRegistrationRequest{id_, incarnation, previous_broker_epoch_}), 64);
      if (r.status == sim::CallStatus::ok) {
        const auto& resp = sim::payload_as<protocol::BrokerRegistrationResponse>(r.payload);
        if (resp.error == Errc::NONE) {
          broker_epoch_ = resp.broker_epoch;
          rm_->set_broker_epoch(broker_epoch_);
          world_.probe("broker: registered");
          continue;  // heartbeat right away to get unfenced
        }
      }
      world_.sleep_for(retry);
      continue;
    }
    if (ready_to_stop_) return;
    if (want_shutdown_ && !config_.get_bool("controlled.shutdown.enable")) {
      // Kafka's BrokerServer skips the controlled-shutdown handshake: the
      // broker stops with its leaderships, which move only when the controller
      // fences it (broker.session.timeout.ms after its last heartbeat).
      finish_shutdown();
      world_.probe("broker: shutdown without controlled shutdown");
      return;
    }
    protocol::BrokerHeartbeatRequest hb{id_, broker_epoch_, image_.last_applied_offset(), want_shutdown_};
    const sim::Reply r = controller_call("BrokerHeartbeat", sim::make_payload(hb), 64);
    if (r.status == sim::CallStatus::ok) {
      const auto& resp = sim::payload_as<protocol::BrokerHeartbeatResponse>(r.payload);
      if (resp.error == Errc::STALE_BROKER_EPOCH) {
        broker_epoch_ = -1;  // the controller forgot us (or we were replaced): register again
        continue;
      }
      if (resp.error == Errc::NONE && want_shutdown_ && resp.should_shut_down) {
        // No leaderships left.
        finish_shutdown();
        world_.probe("broker: controlled shutdown complete");
        return;
      }
      if (resp.error == Errc::NONE) {
        if (fenced_ && !resp.is_fenced) world_.probe("broker: unfenced");
        fenced_ = resp.is_fenced;
        if (!fenced_ && !caught_up_) {
          caught_up_ = true;
          ++metadata_version_;  // reconcile what we have replayed so far
          metadata_changed_.notify_all();
        }
      }
      // While fenced or shutting down, heartbeat eagerly (Kafka does too).
      const bool eager = fenced_ || want_shutdown_;
      lifecycle_wakeup_.wait_for(eager ? retry : interval, [&] { return want_shutdown_ && !eager; });
    } else {
      world_.sleep_for(retry);
    }
  }
}

void BrokerServer::finish_shutdown() {
  // Flush every log (a clean shutdown loses nothing to a later power failure)
  // and let the process stop.
  bool flushed = true;
  for (const auto& [tp, p] : rm_->partitions())
    if (p->log().flush() != Errc::NONE) flushed = false;
  // The proof of a clean stop (KIP-966): without it the controller takes this
  // broker out of every ISR and ELR when it registers again, and the logs are
  // recovered when they open. A log dir whose flush failed is offline in Kafka
  // and gets no file: its unflushed data must not be trusted.
  if (!flushed)
    world_.probe("broker: a log could not be flushed at shutdown: no clean-shutdown file");
  else if (storage::CleanShutdownFile(world_.disk(self_), kLogDir).write(broker_epoch_) != Errc::NONE)
    world_.probe("broker: could not write the clean-shutdown file");
  ready_to_stop_ = true;
}

void BrokerServer::begin_controlled_shutdown() {
  want_shutdown_ = true;
  lifecycle_wakeup_.notify_all();
}

void BrokerServer::request_handler() {
  for (;;) {
    std::optional<sim::Incoming> in = requests_.pop();
    if (!in) return;
    dispatch(*in);
  }
}

void BrokerServer::dispatch(const sim::Incoming& in) {
  // The hot two by kind id, not by name.
  if (in.kind == fetch_kind_) return rm_->handle_fetch(in, in.tag != 0);
  if (in.kind.value == produce_kind_) return rm_->handle_produce(in);
  const std::string& api = world_.network().kind_name(in.kind);
  if (api == "Fetch") {
    fetch_kind_ = in.kind;
    rm_->handle_fetch(in, in.tag != 0);
  } else if (api == "OffsetsForLeaderEpoch") {
    rm_->handle_offsets_for_leader_epoch(in);
  } else if (api == "ListOffsets") {
    rm_->handle_list_offsets(in);
  } else if (api == "WriteTxnMarkers") {
    rm_->handle_write_txn_markers(in);
  } else if (api == "Metadata") {
    handle_metadata(in);
  } else if (api == "InitProducerId") {
    handle_init_producer_id(in);
  } else if (api == "FindCoordinator") {
    lookup_->handle_find_coordinator(in);
  } else if (coordinator::GroupCoordinator::handles(api)) {
    groups_->handle(api, in);
  } else if (coordinator::TransactionCoordinator::handles(api)) {
    txns_->handle(api, in);
  }
}

void BrokerServer::handle_metadata(const sim::Incoming& in) {
  const auto& req = sim::payload_as<protocol::MetadataRequest>(in.payload);
  protocol::MetadataResponse resp;
  for (const auto& [id, b] : image_.brokers())
    if (!b.fenced) resp.brokers.push_back(id);
  if (auto l = metadata_log_.leader()) resp.controller_id = kafka_id_of(*l);
  auto describe = [&](const std::string& name) {
    protocol::TopicMetadata tm;
    tm.name = name;
    const TopicImage* t = image_.topic(name);
    if (!t) {
      tm.error = auto_create_->on_unknown_topic(name, req.allow_auto_topic_creation);
    } else {
      for (size_t i = 0; i < t->partitions.size(); ++i) {
        const PartitionRegistration& p = t->partitions[i];
        protocol::PartitionMetadata pm;
        pm.partition = static_cast<int32_t>(i);
        pm.leader = p.leader;
        pm.leader_epoch = LeaderEpoch{p.leader_epoch};
        pm.replicas = p.replicas;
        pm.isr = p.isr;
        if (p.leader < 0) pm.error = Errc::LEADER_NOT_AVAILABLE;
        tm.partitions.push_back(pm);
      }
    }
    resp.topics.push_back(std::move(tm));
  };
  if (req.topics) {
    for (const std::string& t : *req.topics) describe(t);
  } else {
    for (const auto& [name, t] : image_.topics()) describe(name);
  }
  world_.network().respond(in, world_.network().kind("MetadataResponse"), sim::make_payload(std::move(resp)), 256);
}

// KIP-890 (TV2): before the first transactional batch of a producer on a
// partition, ask its transaction coordinator to add the partition to the
// producer's ongoing transaction (AddPartitionsToTxn from the broker). A
// batch of an ended transaction (stale epoch) or of a producer whose
// transaction cannot take the partition is refused. Coordinator trouble is
// answered NOT_ENOUGH_REPLICAS, which producers retry (Kafka maps it so).
// Under ksim.transaction.protocol=v1 nothing is verified (before KIP-890).
Errc BrokerServer::verify_transaction(const std::string& txn_id, ProducerId pid, ProducerEpoch epoch,
                                      const TopicPartition& tp) {
  if (txns_->transaction_version() < 2) return Errc::NONE;
  const protocol::FindCoordinatorResponse fc = lookup_->find(txn_id, 1);
  if (fc.error != Errc::NONE) return Errc::NOT_ENOUGH_REPLICAS;
  protocol::AddPartitionsToTxnRequest req;
  req.transactional_id = txn_id;
  req.producer_id = pid;
  req.producer_epoch = epoch;
  req.partitions = {tp};
  sim::Network& net = world_.network();
  const sim::Payload body = sim::make_payload(std::move(req));
  // The previous transaction's markers may still be on their way
  // (CONCURRENT_TRANSACTIONS): retried every add.partitions.to.txn.retry.backoff.ms
  // for up to add.partitions.to.txn.retry.backoff.max.ms, as Kafka's broker does.
  const sim::Instant give_up = world_.now() + sim::milliseconds(verify_retry_max_ms_);
  Errc e = Errc::NONE;
  for (;;) {
    const sim::Reply r = net.call_sync(self_, sim_node_of(fc.node_id), net.kind("AddPartitionsToTxn"), body, 64,
                                       sim::milliseconds(kVerifyTimeoutMs));
    if (r.status != sim::CallStatus::ok) return Errc::NOT_ENOUGH_REPLICAS;
    const auto& resp = sim::payload_as<protocol::AddPartitionsToTxnResponse>(r.payload);
    e = resp.error;
    for (const auto& [p, pe] : resp.partitions)
      if (pe != Errc::NONE) e = pe;
    if (e != Errc::CONCURRENT_TRANSACTIONS || world_.now() >= give_up) break;
    world_.sleep_for(sim::milliseconds(verify_retry_ms_));
  }
  switch (e) {
    case Errc::NONE:
      return Errc::NONE;
    case Errc::PRODUCER_FENCED:
    case Errc::INVALID_PRODUCER_EPOCH:
      world_.probe("txn: produce of a stale epoch refused by verification");
      return Errc::INVALID_PRODUCER_EPOCH;
    case Errc::INVALID_PRODUCER_ID_MAPPING:
    case Errc::INVALID_TXN_STATE:
      return Errc::TRANSACTION_ABORTABLE;
    default:
      return Errc::NOT_ENOUGH_REPLICAS;
  }
}

// InitProducerId for an idempotent (non-transactional) producer: any broker
// answers with a fresh id from its block, epoch 0 (Kafka's
// TransactionCoordinator.handleInitProducerId with a null transactional.id).
void BrokerServer::handle_init_producer_id(const sim::Incoming& in) {
  const auto& req = sim::payload_as<protocol::InitProducerIdRequest>(in.payload);
  protocol::InitProducerIdResponse resp;
  if (req.transactional_id) return txns_->handle("InitProducerId", in);
  resp.transaction_version = txns_->transaction_version();
  if (fenced_ || broker_epoch_ < 0) {
    resp.error = Errc::COORDINATOR_LOAD_IN_PROGRESS;
  } else {
    const auto [err, pid] = producer_ids_->generate();
    resp.error = err;
    if (err == Errc::NONE) {
      resp.producer_id = pid;
      resp.producer_epoch = ProducerEpoch{0};
    }
  }
  world_.network().respond(in, world_.network().kind("InitProducerIdResponse"), sim::make_payload(resp), 32);
}

}  // namespace ksim
