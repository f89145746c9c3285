// ClientMetadata: a client's cached view of the cluster (Kafka's Metadata /
// MetadataCache on the client side): live brokers, and per topic the leader
// and leader epoch of each partition.
//
// Refreshes are pulled with a Metadata request to a live broker (the
// bootstrap list first, then any broker it learnt), when a caller asks for one
// (`request_update`, e.g. after NOT_LEADER_OR_FOLLOWER) or when the cache is
// older than metadata.max.age.ms. `refresh()` blocks the calling fiber.
// Invariant: a partition's cached leader epoch never goes backwards (KIP-320:
// a response carrying an older epoch than the cache is ignored for that
// partition, so a stale broker cannot send the client back to a deposed leader).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "engine/broker/protocol.h"
#include "engine/clients/client_runtime.h"

namespace ksim::clients {

struct PartitionLeader {
  int32_t leader = -1;  // -1: no leader known
  LeaderEpoch leader_epoch = kNoEpoch;
  std::vector<int32_t> replicas, isr;
};

class ClientMetadata {
 public:
  ClientMetadata(ClientContext ctx, int64_t max_age_ms, int64_t request_timeout_ms);

  // Topics the client cares about (refreshes ask for these).
  void add_topic(const std::string& topic);
  const std::vector<std::string>& topics() const { return topics_; }
  // Whether Metadata requests naming topics may create them (Kafka: the
  // producer always asks; the consumer per allow.auto.create.topics).
  void set_allow_auto_topic_creation(bool allow) { allow_auto_topic_creation_ = allow; }
  // Ask for every topic of the cluster (a consumer's regex subscription).
  void set_all_topics(bool all) {
    if (all && !all_topics_) update_requested_ = true;
    all_topics_ = all;
  }

  // Blocks (fiber) for one Metadata round trip; returns false when no broker answered.
  bool refresh();
  // Refreshes when an update was requested or the cache is older than max age.
  bool maybe_refresh();
  void request_update() { update_requested_ = true; }
  bool update_requested() const { return update_requested_; }

  // -1: topic unknown (not yet fetched or does not exist).
  int32_t partition_count(const std::string& topic) const;
  bool topic_exists(const std::string& topic) const;
  // The error the last refresh reported for `topic` (NONE if it exists; nullopt: never asked).
  std::optional<Errc> topic_error(const std::string& topic) const {
    auto it = topic_errors_.find(topic);
    return it == topic_errors_.end() ? std::nullopt : std::optional<Errc>(it->second);
  }
  // The cached leader of `tp`, or nullptr. Valid until the next refresh():
  // read it at once, never across a blocking call (the producer asks this
  // for every partition of a topic on every send; a copy allocated twice).
  const PartitionLeader* partition(const TopicPartition& tp) const;
  // Every topic the last full refresh returned (regex subscriptions).
  std::vector<std::string> all_topics() const;
  const std::vector<int32_t>& brokers() const { return brokers_; }
  // A broker to send a cluster-wide request to (round robin over the known live brokers).
  int32_t any_broker();
  uint64_t version() const { return version_; }

 private:
  ClientContext ctx_;
  int64_t max_age_ms_, request_timeout_ms_;
  std::vector<std::string> topics_;
  bool all_topics_ = false;
  bool allow_auto_topic_creation_ = true;
  std::vector<int32_t> brokers_;
  std::map<std::string, std::vector<PartitionLeader>> partitions_;
  std::map<std::string, Errc> topic_errors_;
  sim::Instant last_refresh_{};
  bool ever_refreshed_ = false;
  bool update_requested_ = true;
  size_t next_broker_ = 0;
  uint64_t version_ = 0;
};

}  // namespace ksim::clients
