// The records of the KRaft metadata log (`__cluster_metadata`), by Kafka's
// names. The log IS the cluster's metadata: replaying its committed records in
// order rebuilds the MetadataImage on every controller and broker.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace ksim {

enum class LeaderRecoveryState : int8_t { recovered = 0, recovering = 1 };

// A broker announces itself (fenced until it has caught up with the log).
struct RegisterBrokerRecord {
  int32_t broker_id = -1;
  int64_t broker_epoch = -1;  // the offset of this record: unique per registration
  uint64_t incarnation = 0;   // a new id each time the broker process starts
  bool fenced = true;
  auto operator<=>(const RegisterBrokerRecord&) const = default;
};

// Fencing / unfencing / controlled shutdown of a registered broker.
struct BrokerRegistrationChangeRecord {
  int32_t broker_id = -1;
  int64_t broker_epoch = -1;
  std::optional<bool> fenced;
  std::optional<bool> in_controlled_shutdown;
  auto operator<=>(const BrokerRegistrationChangeRecord&) const = default;
};

struct TopicRecord {
  std::string name;
  int64_t topic_id = 0;  // ksim's stand-in for Kafka's UUID topic id
  auto operator<=>(const TopicRecord&) const = default;
};

// A new partition, with its initial leader and ISR.
struct PartitionRecord {
  int64_t topic_id = 0;
  int32_t partition = 0;
  std::vector<int32_t> replicas, isr, elr, last_known_elr;
  int32_t leader = -1;
  int32_t leader_epoch = 0;
  int32_t partition_epoch = 0;
  LeaderRecoveryState leader_recovery_state = LeaderRecoveryState::recovered;
  auto operator<=>(const PartitionRecord&) const = default;
};

// A change of a partition: only the fields present change. Every change bumps
// the partition epoch; a leader change also bumps the leader epoch.
struct PartitionChangeRecord {
  int64_t topic_id = 0;
  int32_t partition = 0;
  std::optional<std::vector<int32_t>> isr, elr, last_known_elr, replicas;
  std::optional<int32_t> leader;
  std::optional<LeaderRecoveryState> leader_recovery_state;
  bool unclean = false;  // ksim: marks an unclean election (for metrics and checkers)
  auto operator<=>(const PartitionChangeRecord&) const = default;
};

// A dynamic configuration (resource: "topic:<name>" or "broker:<id>" or "broker:").
struct ConfigRecord {
  std::string resource;
  std::string key;
  std::optional<std::string> value;  // nullopt: delete
  auto operator<=>(const ConfigRecord&) const = default;
};

// KIP-730: the controller hands out producer ids in blocks; the record moves
// the cluster-wide "next producer id" past the block it gave `broker_id`, so
// ids stay unique across controller failovers and broker restarts.
struct ProducerIdsRecord {
  int32_t broker_id = -1;
  int64_t broker_epoch = -1;
  int64_t next_producer_id = 0;  // the first id of the NEXT block
  auto operator<=>(const ProducerIdsRecord&) const = default;
};

// A client quota entity (Kafka's ClientQuotaEntity): entity type ("user",
// "client-id") -> name; nullopt names the type's default entity.
using ClientQuotaEntity = std::map<std::string, std::optional<std::string>>;

// KIP-546 in KRaft: one quota key of one entity ("producer_byte_rate",
// "consumer_byte_rate"), set or removed (engine/broker/README.md, "Client quotas").
struct ClientQuotaRecord {
  ClientQuotaEntity entity;
  std::string key;
  std::optional<double> value;  // nullopt: removed (Kafka's `remove` flag)
  auto operator<=>(const ClientQuotaRecord&) const = default;
};

using MetadataRecord = std::variant<RegisterBrokerRecord, BrokerRegistrationChangeRecord, TopicRecord,
                                    PartitionRecord, PartitionChangeRecord, ConfigRecord, ProducerIdsRecord,
                                    ClientQuotaRecord>;

std::string encode_records(const std::vector<MetadataRecord>& records);
// nullopt if the bytes are not a valid record list.
std::optional<std::vector<MetadataRecord>> decode_records(std::string_view bytes);
std::string describe(const MetadataRecord& r);

}  // namespace ksim
