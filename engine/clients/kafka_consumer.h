// KafkaConsumer: Kafka's Java consumer (the classic group protocol) on a
// simulated client node.
//
//   auto c = std::make_shared<KafkaConsumer>(ctx, Config::Map{{"group.id", "g"}});
//   c->subscribe({"orders"});                 // or assign({{"orders", 0}})
//   for (const ConsumerRecord& r : c->poll(1000)) ...
//   c->commit_sync();
//
// It is built by the client node's boot function (Cluster::add_client), so a
// crash of the node loses it and a restart builds a fresh one with the same
// config — like a JVM dying. Every call may be made from the main context
// (Python, tests: the call runs the simulation while it waits) or from a
// fiber (C++ workloads); see ConsumerNetworkClient. poll(0) never advances
// the simulation: use a positive timeout to let time pass.
//
// Parts (one concept each): SubscriptionState (what is assigned, positions),
// Fetcher (Fetch / ListOffsets, the prefetch buffer), ConsumerCoordinator
// (FindCoordinator, JoinGroup/SyncGroup, heartbeats, commits), assignors
// (range, roundrobin, sticky, cooperative-sticky), ClientMetadata (leaders),
// refreshed by a metadata fiber.
//
// What the History gets (engine/check/history.h): a poll op per poll() with
// every returned record (tp, offset, key, value, leader epoch, the fetch's
// HW); a commit op per OffsetCommit request (auto / sync / async); a seek op
// per position set other than by consumption (seek, seek_to_beginning,
// seek_to_end, committed, reset:earliest, reset:latest); assign / revoke
// ops per assignment change (assign(), rebalances; detail revoked / lost /
// unassigned / unsubscribed).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "engine/clients/client_metadata.h"
#include "engine/clients/consumer_api.h"
#include "engine/clients/consumer_coordinator.h"
#include "engine/clients/consumer_network_client.h"
#include "engine/clients/fetcher.h"
#include "engine/clients/subscription_state.h"
#include "engine/common/config.h"

namespace ksim::clients {

class KafkaConsumer {
 public:
  // Parses `config` for the consumer scope (ConfigError on bad keys/values).
  KafkaConsumer(const ClientContext& ctx, const Config::Map& config);
  KafkaConsumer(const ClientContext& ctx, Config config);
  ~KafkaConsumer();
  KafkaConsumer(const KafkaConsumer&) = delete;
  KafkaConsumer& operator=(const KafkaConsumer&) = delete;

  // ---- subscriptions ------------------------------------------------------------------
  void subscribe(const std::vector<std::string>& topics, RebalanceListener listener = {});
  void subscribe_pattern(const std::string& regex, RebalanceListener listener = {});
  void assign(const std::vector<TopicPartition>& partitions);
  void unsubscribe();
  std::vector<TopicPartition> assignment() const { return subscriptions_.assigned_partitions(); }
  std::set<std::string> subscription() const;

  // ---- reading ----------------------------------------------------------------------------
  // At most max.poll.records records (or `max_records` when positive: the
  // Python binding asks for one per poll(), as confluent-kafka returns one).
  std::vector<ConsumerRecord> poll(int64_t timeout_ms, int32_t max_records = -1);
  // timeout_ms < 0: default.api.timeout.ms.
  Offset position(const TopicPartition& tp, int64_t timeout_ms = -1);
  void seek(const TopicPartition& tp, Offset offset);
  void seek(const TopicPartition& tp, const OffsetAndMetadata& offset);
  // Empty: every assigned partition. Lazy, as in Java: the position is looked
  // up (ListOffsets) by the next poll() / position().
  void seek_to_beginning(const std::vector<TopicPartition>& tps = {});
  void seek_to_end(const std::vector<TopicPartition>& tps = {});
  std::map<TopicPartition, std::optional<OffsetAndTimestamp>> offsets_for_times(
      const std::map<TopicPartition, int64_t>& timestamps, int64_t timeout_ms = -1);
  std::map<TopicPartition, Offset> beginning_offsets(const std::vector<TopicPartition>& tps, int64_t timeout_ms = -1);
  std::map<TopicPartition, Offset> end_offsets(const std::vector<TopicPartition>& tps, int64_t timeout_ms = -1);
  void pause(const std::vector<TopicPartition>& tps);
  void resume(const std::vector<TopicPartition>& tps);
  std::vector<TopicPartition> paused() const;

  // ---- offsets -------------------------------------------------------------------------------
  // Partitions without a committed offset are absent.
  OffsetMap committed(const std::set<TopicPartition>& tps, int64_t timeout_ms = -1);
  void commit_sync(int64_t timeout_ms = -1);  // the positions of every assigned partition
  // What commit_sync() without offsets commits (Java's subscriptions.allConsumed()):
  // the position of every assigned partition that has a valid one. Never blocks.
  OffsetMap consumed_offsets() const;
  void commit_sync(const OffsetMap& offsets, int64_t timeout_ms = -1);
  void commit_async(CommitCallback cb = {});
  void commit_async(const OffsetMap& offsets, CommitCallback cb = {});

  // Commits (auto-commit), revokes, leaves the group. Idempotent.
  void close(int64_t timeout_ms = 30000);
  bool closed() const { return closed_; }

  // ---- introspection -------------------------------------------------------------------------
  std::vector<std::pair<std::string, std::string>> effective_config() const { return config_.effective(); }
  const Config& config() const { return config_; }
  // Kafka's consumer-fetch-manager-metrics of ksim: fetch-throttle-time-avg / -max (ms).
  std::map<std::string, double> metrics() const { return fetcher_.metrics(); }
  const ClientContext& context() const { return net_.ctx(); }
  int32_t generation() const { return coordinator_ ? coordinator_->generation().id : -1; }
  std::string member_id() const { return coordinator_ ? coordinator_->generation().member_id : ""; }
  // groupMetadata(): what a transactional producer's sendOffsetsToTransaction needs.
  ConsumerGroupMetadata group_metadata() const {
    ConsumerGroupMetadata g;
    if (!config_.is_null("group.id")) g.group_id = config_.get_string("group.id");
    g.generation_id = generation();
    g.member_id = member_id();
    if (!config_.is_null("group.instance.id")) g.group_instance_id = config_.get_string("group.instance.id");
    return g;
  }
  std::optional<MemberState> member_state() const;
  // The group coordinator's broker id (-1: unknown or no group).
  int32_t coordinator_id() const { return coordinator_ ? coordinator_->coordinator() : -1; }
  std::optional<RebalanceProtocol> rebalance_protocol() const;
  // Records the last fetch reported below the high watermark (consumer lag).
  std::optional<int64_t> lag(const TopicPartition& tp) const;

 private:
  void ensure_open() const;
  void ensure_group(const char* what) const;
  sim::Instant deadline_for(int64_t timeout_ms) const;
  bool update_assignment_metadata_if_needed(sim::Instant deadline);
  bool update_fetch_positions(sim::Instant deadline);
  std::vector<ConsumerRecord> poll_for_fetches(sim::Instant deadline, int32_t max_records);
  void metadata_loop();
  void record_assignment(check::OpType type, const std::vector<TopicPartition>& tps, const std::string& detail);
  void track_topics();

  Config config_;
  ConsumerNetworkClient net_;
  ClientMetadata metadata_;
  ConsumerRecorder recorder_;
  SubscriptionState subscriptions_;
  Fetcher fetcher_;
  std::unique_ptr<ConsumerCoordinator> coordinator_;
  int64_t default_api_timeout_ms_;
  int64_t retry_backoff_ms_;
  bool closed_ = false;
  bool stop_fibers_ = false;
};

}  // namespace ksim::clients
