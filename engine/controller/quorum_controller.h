// QuorumController: the decisions of the ACTIVE KRaft controller.
//
// Kafka's QuorumController turns requests (BrokerRegistration,
// BrokerHeartbeat, CreateTopics, AlterPartition, ElectLeaders,
// IncrementalAlterConfigs) and the passage of time (broker sessions expiring)
// into metadata records. It applies them to its own image at once — so the
// next decision sees them — and hands them to the Raft layer to commit. Every
// other node learns them only from the committed log (replay).
//
// This class is the pure state machine: no network, no disk, no fibers. The
// controller node (engine/controller/controller_node) wires it to Raft and the
// network. Time comes in as an argument, randomness from a seeded stream.
//
// Failover: a new active controller starts from the committed image (whatever
// its predecessor proposed but did not commit is gone) and gives every broker a
// fresh session, as Kafka's BrokerHeartbeatManager does.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "engine/common/config.h"
#include "engine/common/errors.h"
#include "engine/controller/metadata_image.h"
#include "engine/controller/partition_change_builder.h"
#include "sim/rng.h"
#include "sim/time.h"

namespace ksim {

// What a handler decided: an error, or records to commit (possibly none).
struct ControllerResult {
  Errc error = Errc::NONE;
  std::string message;
  std::vector<MetadataRecord> records;
};

struct HeartbeatReply {
  Errc error = Errc::NONE;
  bool fenced = true;           // the broker may not serve yet (or any more)
  bool should_shut_down = false;  // controlled shutdown complete
  std::vector<MetadataRecord> records;
};

struct AlterPartitionReply {
  Errc error = Errc::NONE;
  int32_t leader_epoch = -1;
  int32_t partition_epoch = -1;
  std::vector<int32_t> isr;
  std::vector<MetadataRecord> records;
};

// KIP-730: a block of producer ids [first, first + size) for one broker.
struct ProducerIdsReply {
  Errc error = Errc::NONE;
  int64_t first = -1;
  int32_t size = 0;
  std::vector<MetadataRecord> records;
};

// Kafka's topic-name rule: 1-249 characters of ASCII alphanumerics, '.', '_'
// and '-', and neither "." nor "..".
bool valid_topic_name(const std::string& name);

struct TopicSpec {
  std::string name;
  int32_t partitions = -1;          // -1: num.partitions
  int32_t replication_factor = -1;  // -1: default.replication.factor
  std::vector<std::vector<int32_t>> assignment;  // explicit replica assignment (optional)
  Config::Map configs;
};

class QuorumController {
 public:
  QuorumController(Config broker_config, sim::Rng rng);

  // ---- every controller: replay of the committed log --------------------------
  void replay(const MetadataRecord& record, int64_t offset);
  const MetadataImage& committed() const { return committed_; }
  // The active controller's view: committed + its own proposals.
  const MetadataImage& image() const { return image_; }

  // ---- the active controller -------------------------------------------------------
  // Becoming active: start from the committed image; every broker gets a fresh session.
  void activate(sim::Instant now);
  // Drops the uncommitted changes: a standby works from the committed image.
  void deactivate() {
    active_ = false;
    image_ = committed_;
    balance_at_.reset();
    balance_now_ = false;
  }
  bool active() const { return active_; }
  // Every operation's records go into ONE log entry; the caller says at which
  // offset that entry will land (the registration's offset is the broker epoch).
  void prepare(int64_t next_entry_offset);
  // previous_broker_epoch: from the broker's clean-shutdown file, -1 without one (KIP-966).
  ControllerResult register_broker(int32_t broker_id, uint64_t incarnation, sim::Instant now,
                                   int64_t previous_broker_epoch = -1);
  HeartbeatReply heartbeat(int32_t broker_id, int64_t broker_epoch, int64_t metadata_offset, bool want_shut_down,
                           sim::Instant now);
  // Session expiry (broker.session.timeout.ms) and pending elections.
  ControllerResult tick(sim::Instant now);
  ControllerResult create_topic(const TopicSpec& spec);
  // Grows a topic to `count` partitions, placing the new ones like a new
  // topic's (same replication factor); INVALID_PARTITIONS if it would not grow.
  ControllerResult create_partitions(const std::string& topic, int32_t count);
  AlterPartitionReply alter_partition(int32_t broker_id, int64_t broker_epoch, const std::string& topic,
                                      int32_t partition, int32_t leader_epoch, int32_t partition_epoch,
                                      const std::vector<int32_t>& new_isr);
  ControllerResult elect_leaders(Election type, const std::vector<std::pair<std::string, int32_t>>& partitions);
  ControllerResult alter_config(const std::string& resource, const std::string& key,
                                const std::optional<std::string>& value);

  // AlterClientQuotas (KIP-546, Kafka's ClientQuotaControlManager): per
  // entity, quota keys set (a value) or removed (nullopt), one
  // ClientQuotaRecord each. All or nothing: the first invalid entity, key or
  // value fails the request with INVALID_REQUEST naming it.
  using ClientQuotaOps = std::vector<std::pair<std::string, std::optional<double>>>;
  ControllerResult alter_client_quotas(const std::vector<std::pair<ClientQuotaEntity, ClientQuotaOps>>& entries);

  // AllocateProducerIds (KIP-730, Kafka's ProducerIdControlManager): the next
  // block of 1000 ids for a registered broker, recorded in the metadata log.
  ProducerIdsReply allocate_producer_ids(int32_t broker_id, int64_t broker_epoch);
  static constexpr int32_t kProducerIdBlockSize = 1000;

  // Effective topic config (broker config + topic overrides).
  Config topic_config(const std::string& topic) const;

 private:
  // Registered, unfenced, not shutting down: where new replicas may go.
  std::vector<int32_t> usable_brokers() const;
  ElectionOptions election_options(const std::string& topic) const;
  // Re-evaluates every partition (after a broker's state changed).
  // Emits, for every partition of every topic, the change `decide` returns.
  using PartitionDecision = std::function<std::optional<PartitionChangeRecord>(
      int64_t topic_id, int32_t partition, const PartitionRegistration& current, const ElectionOptions& opts)>;
  void change_all(std::vector<MetadataRecord>& out, const PartitionDecision& decide);
  void rebalance_all(std::vector<MetadataRecord>& out);
  sim::Duration session_timeout() const {
    return sim::milliseconds(broker_config_.get_long("broker.session.timeout.ms"));
  }
  // KIP-966: takes `broker_id` out of every ISR and ELR (it restarted uncleanly).
  void handle_unclean_shutdown(int32_t broker_id, std::vector<MetadataRecord>& out);
  // auto.leader.rebalance.enable (Kafka's maybeBalancePartitionLeaders):
  // leader.imbalance.check.interval.seconds after the controller sees a
  // partition led by other than its preferred replica, it runs a preferred
  // election of up to kMaxElectionsPerImbalance such partitions (again 10 ms
  // later if it hit the limit, else after another interval while any stays
  // imbalanced).
  void maybe_balance_leaders(sim::Instant now, std::vector<MetadataRecord>& out);
  bool leaders_imbalanced() const;
  static constexpr size_t kMaxElectionsPerImbalance = 1000;  // Kafka's MAX_ELECTIONS_PER_IMBALANCE
  void emit(std::vector<MetadataRecord>& out, MetadataRecord r);

  Config broker_config_;
  sim::Rng rng_;
  MetadataImage committed_;
  MetadataImage image_;
  int64_t next_entry_offset_ = 0;  // where the current operation's records will land
  bool active_ = false;
  std::map<int32_t, sim::Instant> last_heartbeat_;
  std::optional<sim::Instant> balance_at_;  // the scheduled leader balance (none: not scheduled)
  // election_options per topic, with the topic's config overrides it was
  // derived from: reused while they are unchanged (every tick asks for every
  // topic, and deriving parses a whole topic config).
  struct CachedElectionOptions {
    std::map<std::string, std::string> overrides;
    ElectionOptions options;
  };
  mutable std::map<std::string, CachedElectionOptions, std::less<>> election_options_cache_;
  bool balance_now_ = false;                // the last balance hit the limit: the next one in 10 ms
};

}  // namespace ksim
