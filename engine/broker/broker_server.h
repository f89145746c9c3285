// BrokerServer: a Kafka broker process (Kafka's BrokerServer in KRaft mode).
//
// Boot: recover every partition log found on the node's disk (and its
// checkpointed high watermark), then start the simulated processes:
//   * metadata applier — turns the replayed metadata image into partition
//     roles (become leader / follower), creating logs for new partitions;
//   * lifecycle — BrokerRegistration, then BrokerHeartbeat every
//     broker.heartbeat.interval.ms to the active controller (fenced until
//     caught up; re-registers on STALE_BROKER_EPOCH);
//   * request handlers (num.io.threads of them) serving Produce, Fetch,
//     ListOffsets, OffsetsForLeaderEpoch, Metadata and InitProducerId, and
//     the group coordinator's APIs (FindCoordinator, JoinGroup, SyncGroup,
//     Heartbeat, LeaveGroup, OffsetCommit, OffsetFetch: engine/coordinator);
//   * ISR shrink checks, AlterPartition sending, high-watermark checkpoints.
// The metadata log itself is followed by the node's Raft client (an observer on
// a pure broker, the voter on a combined node), whose commit listener calls
// on_metadata_commit.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>

#include "engine/broker/auto_topic_creation_manager.h"
#include "engine/broker/client_quota_manager.h"
#include "engine/broker/producer_id_manager.h"
#include "engine/broker/replica_fetcher.h"
#include "engine/broker/replica_manager.h"
#include "engine/broker/throttled_channels.h"
#include "engine/common/config.h"
#include "engine/controller/metadata_image.h"
#include "engine/coordinator/coordinator_lookup.h"
#include "engine/coordinator/group_coordinator.h"
#include "engine/coordinator/transaction_coordinator.h"
#include "engine/raft/raft_client.h"
#include "engine/storage/log_config.h"
#include "sim/sync.h"

namespace ksim {

class BrokerServer {
 public:
  BrokerServer(sim::World& world, sim::NodeId self, Config config, raft::RaftClient& metadata_log);
  BrokerServer(const BrokerServer&) = delete;
  BrokerServer& operator=(const BrokerServer&) = delete;

  void start();
  // Controlled shutdown (Kafka's BrokerLifecycleManager): heartbeats ask the
  // controller to move this broker's leaderships away; once it answers
  // should_shut_down, every log is flushed and `ready_to_stop()` turns true.
  // With controlled.shutdown.enable=false the handshake is skipped: the logs
  // are flushed and the clean-shutdown file written at once.
  void begin_controlled_shutdown();
  bool ready_to_stop() const { return ready_to_stop_; }
  // Called by the Raft client's commit listener (must not block).
  void on_metadata_commit(const raft::RaftEntry& e);

  int32_t id() const { return id_; }
  const MetadataImage& metadata() const { return image_; }
  ReplicaManager& replica_manager() { return *rm_; }
  const ReplicaManager& replica_manager() const { return *rm_; }
  const ReplicaFetcherManager& fetchers() const { return *fetchers_; }
  bool registered() const { return broker_epoch_ >= 0; }
  bool fenced() const { return fenced_; }
  int64_t broker_epoch() const { return broker_epoch_; }
  bool started() const { return started_; }
  // The group coordinator (classic groups, __consumer_offsets) and FindCoordinator.
  coordinator::GroupCoordinator& group_coordinator() { return *groups_; }
  coordinator::CoordinatorLookup& coordinator_lookup() { return *lookup_; }
  // The transaction coordinator (__transaction_state).
  coordinator::TransactionCoordinator& transaction_coordinator() { return *txns_; }
  // Client quotas (README "Client quotas"): the Produce and Fetch byte-rate managers.
  const ClientQuotaManager& quota_manager(ClientQuotaType t) const {
    return t == ClientQuotaType::produce ? produce_quota_ : fetch_quota_;
  }
  const ThrottledChannels& throttled_channels() const { return throttled_; }

 private:
  void startup();
  void recover_logs();
  void metadata_applier();
  void reconcile();
  void lifecycle();
  void request_handler();
  void dispatch(const sim::Incoming& in);
  void handle_metadata(const sim::Incoming& in);
  void handle_init_producer_id(const sim::Incoming& in);
  Errc verify_transaction(const std::string& txn_id, ProducerId pid, ProducerEpoch epoch, const TopicPartition& tp);
  sim::Reply controller_call(const std::string& api, sim::Payload body, uint32_t size);
  // A topic's log config and min.insync.replicas, from the broker's config and
  // the image's "topic:<name>" overrides. Cached per topic until a ConfigRecord
  // lands: reconcile asks for every partition it acts on (all of them after a
  // config change), and building a LogConfig parses the whole topic config.
  const storage::LogConfig& log_config(const std::string& topic) const;
  int32_t min_isr(const std::string& topic) const;
  storage::LogConfig build_log_config(const std::string& topic) const;
  int32_t read_min_isr(const std::string& topic) const;
  struct TopicSettings {
    uint64_t configs_version = 0;
    std::optional<storage::LogConfig> log;
    std::optional<int32_t> min_isr;
  };
  TopicSettings& settings_of(const std::string& topic) const;

  sim::World& world_;
  sim::NodeId self_;
  int32_t id_;
  Config config_;
  ReplicationSwitches switches_;
  raft::RaftClient& metadata_log_;
  MetadataImage image_;
  std::unique_ptr<ReplicaManager> rm_;
  std::unique_ptr<ReplicaFetcherManager> fetchers_;
  std::unique_ptr<coordinator::GroupCoordinator> groups_;  // after rm_: it refers to it
  std::unique_ptr<AutoTopicCreationManager> auto_create_;  // before lookup_: it creates through it
  std::unique_ptr<coordinator::CoordinatorLookup> lookup_;
  std::unique_ptr<ProducerIdManager> producer_ids_;  // KIP-730 blocks for InitProducerId
  std::unique_ptr<coordinator::TransactionCoordinator> txns_;  // after producer_ids_ and rm_
  sim::Channel<sim::Incoming> requests_;
  sim::CondVar metadata_changed_;
  uint64_t metadata_version_ = 0;
  // What the next reconcile pass must look at (Kafka's MetadataDelta): the
  // partitions whose registration changed since the last pass (and those a
  // pass could not act on: no log, no leadership), or every partition (the
  // first pass, and after a config change).
  std::set<TopicPartition> dirty_partitions_;
  bool reconcile_all_ = true;
  // Kafka processes one request per connection at a time (the channel is
  // muted until the response is sent), so a producer's pipelined Produce
  // requests are handled in the order they were sent even when the first
  // waits on replication. ksim keeps that order for Produce: the next
  // Produce of a connection is dispatched when the previous one is answered.
  // A connection its client closed is read on until a response fails to go
  // out: the first response after the close is written, the second fails
  // (TCP resets a closed socket's traffic), and what is still unread is
  // never processed (Kafka's Selector keeps a closing channel "until a send
  // fails or all outstanding receives are processed").
  struct ProduceChannel {
    bool busy = false;
    int32_t answered_after_close = 0;
    // A vector: libstdc++'s deque allocates even while empty, and a channel
    // is made for nearly every Produce; at most max.in.flight - 1 wait here.
    std::vector<sim::Incoming> waiting;
  };
  std::map<uint32_t, ProduceChannel> produce_channels_;
  uint16_t produce_kind_ = 0;
  void receive(sim::Incoming&& in);
  void enqueue(sim::Incoming&& in);
  void produce_answered(uint32_t conn);
  // KIP-219: records a client's bytes against its quota; a throttle time > 0 mutes its connection.
  int32_t throttle(ClientQuotaManager& quota, const sim::Incoming& in, int64_t bytes, bool take_back_if_throttled);

  int64_t broker_epoch_ = -1;
  // KIP-966: the epoch the clean-shutdown file recorded at startup (-1: none).
  int64_t previous_broker_epoch_ = -1;
  bool fenced_ = true;
  bool caught_up_ = false;  // first unfenced in this incarnation
  bool started_ = false;
  // The end of any clean stop: flush every log, write the clean-shutdown file.
  void finish_shutdown();
  // The log cleaner thread (Kafka's CleanerThread): started with the first
  // compacted log that has a segment besides its active one — until then it
  // would have nothing to do (and an idle thread would still add timer events).
  bool cleaner_started_ = false;
  void maybe_start_cleaner();
  void log_cleaner();
  bool want_shutdown_ = false;
  bool ready_to_stop_ = false;
  sim::CondVar lifecycle_wakeup_{world_};
  int32_t default_min_isr_;  // min.insync.replicas, read once
  uint64_t configs_version_ = 0;  // bumped by every ConfigRecord applied
  // Fetch's message kind, learnt in dispatch when the first one arrives (none
  // yet: an id no kind has; the network numbers kinds in the order first asked).
  sim::KindId fetch_kind_{UINT16_MAX};
  mutable std::map<std::string, TopicSettings, std::less<>> topic_settings_;
  int32_t verify_retry_ms_, verify_retry_max_ms_;  // add.partitions.to.txn.retry.backoff(.max).ms
  ClientQuotaManager produce_quota_, fetch_quota_;
  ThrottledChannels throttled_;
};

}  // namespace ksim
