// MetadataImage: the cluster's metadata as of some offset of the metadata log —
// registered brokers, topics with their partitions, and dynamic configs. It is
// built ONLY by replaying records (apply), so every controller and broker that
// replayed the same committed prefix holds an identical image.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/controller/metadata_record.h"

namespace ksim {

struct BrokerRegistration {
  int32_t id = -1;
  int64_t epoch = -1;
  uint64_t incarnation = 0;
  bool fenced = true;
  bool in_controlled_shutdown = false;
  bool operator==(const BrokerRegistration&) const = default;
};

struct PartitionRegistration {
  std::vector<int32_t> replicas, isr, elr, last_known_elr;
  int32_t leader = -1;
  int32_t leader_epoch = 0;
  int32_t partition_epoch = 0;
  LeaderRecoveryState leader_recovery_state = LeaderRecoveryState::recovered;

  bool has_leader() const { return leader >= 0; }
  bool is_replica(int32_t b) const;
  bool in_isr(int32_t b) const;
  bool operator==(const PartitionRegistration&) const = default;
};

struct TopicImage {
  std::string name;
  int64_t id = 0;
  std::vector<PartitionRegistration> partitions;
  bool operator==(const TopicImage&) const = default;
};

class MetadataImage {
 public:
  // Applies one committed (or, on the active controller, proposed) record of
  // the log entry at `offset` (the records of one entry share it). Throws
  // SimError if the record breaks an invariant.
  void apply(const MetadataRecord& record, int64_t offset);

  const std::map<int32_t, BrokerRegistration>& brokers() const { return brokers_; }
  const BrokerRegistration* broker(int32_t id) const;
  // Registered, unfenced and not shutting down: may lead and join ISRs.
  bool usable(int32_t broker_id) const;

  const std::map<std::string, TopicImage, std::less<>>& topics() const { return topics_; }
  const TopicImage* topic(std::string_view name) const;
  const TopicImage* topic_by_id(int64_t id) const;
  const PartitionRegistration* partition(std::string_view topic, int32_t p) const;

  // Dynamic configs by resource ("topic:<name>", "broker:<id>", "broker:" for the default).
  const std::map<std::string, std::map<std::string, std::string>, std::less<>>& configs() const { return configs_; }

  // Client quotas (KIP-546): entity -> quota key -> value.
  using ClientQuotas = std::map<ClientQuotaEntity, std::map<std::string, double>>;
  const ClientQuotas& client_quotas() const { return client_quotas_; }

  int64_t last_applied_offset() const { return last_offset_; }
  int64_t next_topic_id() const { return next_topic_id_; }
  // KIP-730: the first producer id of the next block the controller hands out.
  int64_t next_producer_id() const { return next_producer_id_; }
  uint64_t unclean_elections() const { return unclean_elections_; }
  bool operator==(const MetadataImage&) const = default;

 private:
  static void check(const PartitionRegistration& p, const std::string& where);

  std::map<int32_t, BrokerRegistration> brokers_;
  std::map<std::string, TopicImage, std::less<>> topics_;
  std::map<int64_t, std::string> topic_names_;
  std::map<std::string, std::map<std::string, std::string>, std::less<>> configs_;
  ClientQuotas client_quotas_;
  int64_t last_offset_ = -1;
  int64_t next_topic_id_ = 1;
  int64_t next_producer_id_ = 0;
  uint64_t unclean_elections_ = 0;
};

}  // namespace ksim
