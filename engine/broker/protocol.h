// The Kafka APIs brokers and controllers speak, as in-memory request and
// response bodies. They travel through sim::Network as shared, immutable
// payloads (never copied); `wire_size()` gives the byte size Kafka's encoding
// would have, which the network uses for bandwidth.
//
// Field names follow Kafka's message schemas (clients/src/main/resources/
// common/message/*.json), trimmed to what ksim uses. The API names are the
// sim::Network message kinds ("Produce", "Fetch", ...), so a scenario can
// hold or drop "the next Fetch response from broker 2".
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/common/errors.h"
#include "engine/common/types.h"
#include "engine/storage/record_batch.h"

namespace ksim::protocol {

using storage::BatchPtr;

// Kafka's API names (the request kinds); responses are "<Name>Response".
inline constexpr const char* kApis[] = {
    "Produce", "Fetch", "ListOffsets", "Metadata", "OffsetsForLeaderEpoch", "CreateTopics",
    "DescribeTopics", "ElectLeaders", "IncrementalAlterConfigs", "BrokerRegistration", "BrokerHeartbeat",
    "AlterPartition", "InitProducerId", "FindCoordinator", "JoinGroup", "SyncGroup", "Heartbeat",
    "LeaveGroup", "OffsetCommit", "OffsetFetch", "AddPartitionsToTxn", "AddOffsetsToTxn", "EndTxn",
    "WriteTxnMarkers", "TxnOffsetCommit", "Vote", "BeginQuorumEpoch", "EndQuorumEpoch", "MetadataFetch",
    "AllocateProducerIds", "CreatePartitions", "AlterClientQuotas", "ConsumerGroupHeartbeat",
};

// ---- Produce -------------------------------------------------------------------
struct ProduceRequest {
  int16_t acks = -1;  // 0, 1, -1 (all)
  int32_t timeout_ms = 30000;
  std::optional<std::string> transactional_id;
  std::vector<std::pair<TopicPartition, BatchPtr>> partitions;
};
struct ProducePartitionResponse {
  TopicPartition tp;
  Errc error = Errc::NONE;
  Offset base_offset = kNoOffset;
  int64_t log_append_time_ms = -1;
  Offset log_start_offset = kNoOffset;
};
struct ProduceResponse {
  std::vector<ProducePartitionResponse> partitions;
  int32_t throttle_time_ms = 0;  // KIP-219: the client waits this long before sending to this broker again
};

// ---- Fetch (followers and consumers) --------------------------------------------
enum class IsolationLevel : int8_t { read_uncommitted = 0, read_committed = 1 };

struct FetchPartition {
  TopicPartition tp;
  LeaderEpoch current_leader_epoch = kNoEpoch;  // KIP-320: fenced if stale
  Offset fetch_offset;
  LeaderEpoch last_fetched_epoch = kNoEpoch;    // followers: divergence check
  Offset log_start_offset = kNoOffset;
  int32_t partition_max_bytes = 1048576;
};
// KIP-227 session metadata (Kafka's FetchMetadata).
inline constexpr int32_t kInvalidFetchSessionId = 0;
inline constexpr int32_t kInitialFetchEpoch = 0;
inline constexpr int32_t kFinalFetchEpoch = -1;
// The epoch after `e` (FINAL stays FINAL; wraps past INT32_MAX to 1).
inline int32_t next_fetch_epoch(int32_t e) {
  if (e < 0) return kFinalFetchEpoch;
  return e == INT32_MAX ? 1 : e + 1;
}
struct FetchRequest {
  int32_t replica_id = -1;  // a broker id for followers; -1 for consumers
  int64_t replica_epoch = -1;
  int32_t max_wait_ms = 500;
  int32_t min_bytes = 1;
  int32_t max_bytes = 52428800;
  IsolationLevel isolation = IsolationLevel::read_uncommitted;
  // KIP-227 incremental fetch sessions (engine/broker/fetch_session.h):
  // epoch -1 with id 0 is a sessionless full fetch; epoch 0 a full fetch
  // that opens a session (closing `session_id` if set); a positive epoch an
  // incremental fetch of session `session_id` that carries only the
  // partitions whose parameters changed, and `forgotten` the ones it drops.
  int32_t session_id = 0;
  int32_t session_epoch = -1;
  std::vector<FetchPartition> partitions;
  std::vector<TopicPartition> forgotten;
};
struct AbortedTxn {
  ProducerId producer_id;
  Offset first_offset;
};
struct EpochEndOffset {
  LeaderEpoch epoch = kNoEpoch;
  Offset end_offset = kNoOffset;
};
struct FetchPartitionResponse {
  TopicPartition tp;
  Errc error = Errc::NONE;
  Offset high_watermark = kNoOffset;
  Offset last_stable_offset = kNoOffset;
  Offset log_start_offset = kNoOffset;
  std::optional<EpochEndOffset> diverging_epoch;
  std::optional<int32_t> current_leader;  // hint on NOT_LEADER / FENCED
  std::vector<AbortedTxn> aborted_transactions;
  std::vector<BatchPtr> batches;
};
struct FetchResponse {
  Errc error = Errc::NONE;  // FETCH_SESSION_ID_NOT_FOUND / INVALID_FETCH_SESSION_EPOCH: no partitions
  int32_t session_id = 0;   // the session this fetch opened or used (0: none); an incremental
                            // response holds only the partitions with news (KIP-227)
  std::vector<FetchPartitionResponse> partitions;
  int32_t throttle_time_ms = 0;  // KIP-219; a throttled consumer fetch has no partitions
};

// ---- OffsetsForLeaderEpoch (KIP-101 / KIP-279) -------------------------------------
struct OffsetForLeaderEpochPartition {
  TopicPartition tp;
  LeaderEpoch current_leader_epoch = kNoEpoch;
  LeaderEpoch leader_epoch;  // the epoch whose end offset is asked for
};
struct OffsetsForLeaderEpochRequest {
  int32_t replica_id = -1;
  std::vector<OffsetForLeaderEpochPartition> partitions;
};
struct OffsetForLeaderEpochResult {
  TopicPartition tp;
  Errc error = Errc::NONE;
  LeaderEpoch leader_epoch = kNoEpoch;  // KIP-279: the largest epoch <= requested (kNoEpoch under KIP-101)
  Offset end_offset = kNoOffset;
};
struct OffsetsForLeaderEpochResponse {
  std::vector<OffsetForLeaderEpochResult> partitions;
};

// ---- ListOffsets ---------------------------------------------------------------------
inline constexpr int64_t kLatestTimestamp = -1;
inline constexpr int64_t kEarliestTimestamp = -2;
struct ListOffsetsRequest {
  IsolationLevel isolation = IsolationLevel::read_uncommitted;
  std::vector<std::pair<TopicPartition, int64_t>> partitions;  // timestamp or -1 / -2
};
struct ListOffsetsPartitionResponse {
  TopicPartition tp;
  Errc error = Errc::NONE;
  int64_t timestamp = -1;
  Offset offset = kNoOffset;
  LeaderEpoch leader_epoch = kNoEpoch;
};
struct ListOffsetsResponse {
  std::vector<ListOffsetsPartitionResponse> partitions;
};

// ---- Metadata --------------------------------------------------------------------------
struct MetadataRequest {
  std::optional<std::vector<std::string>> topics;  // nullopt: all
  bool allow_auto_topic_creation = true;
};
struct PartitionMetadata {
  int32_t partition = 0;
  Errc error = Errc::NONE;
  int32_t leader = -1;
  LeaderEpoch leader_epoch = kNoEpoch;
  std::vector<int32_t> replicas, isr;
};
struct TopicMetadata {
  std::string name;
  Errc error = Errc::NONE;
  std::vector<PartitionMetadata> partitions;
};
struct MetadataResponse {
  std::vector<int32_t> brokers;  // live (unfenced) brokers
  int32_t controller_id = -1;
  std::vector<TopicMetadata> topics;
};

// ---- controller APIs ---------------------------------------------------------------------
struct BrokerRegistrationRequest {
  int32_t broker_id = -1;
  uint64_t incarnation = 0;
  // KIP-966: the broker epoch the clean-shutdown file recorded, -1 if the last
  // stop cannot be proven clean (no file: a crash, a power failure).
  int64_t previous_broker_epoch = -1;
};
struct BrokerRegistrationResponse {
  Errc error = Errc::NONE;
  int64_t broker_epoch = -1;
};
struct BrokerHeartbeatRequest {
  int32_t broker_id = -1;
  int64_t broker_epoch = -1;
  int64_t current_metadata_offset = -1;
  bool want_shut_down = false;
};
struct BrokerHeartbeatResponse {
  Errc error = Errc::NONE;
  bool is_fenced = true;
  bool should_shut_down = false;
};
struct AlterPartitionRequest {
  int32_t broker_id = -1;
  int64_t broker_epoch = -1;
  TopicPartition tp;
  int32_t leader_epoch = -1;
  int32_t partition_epoch = -1;
  std::vector<int32_t> new_isr;
};
struct AlterPartitionResponse {
  Errc error = Errc::NONE;
  int32_t leader_epoch = -1;
  int32_t partition_epoch = -1;
  std::vector<int32_t> isr;
};
struct CreateTopicsRequest {
  std::string name;
  int32_t partitions = -1;
  int32_t replication_factor = -1;
  std::vector<std::vector<int32_t>> assignment;
  std::map<std::string, std::string> configs;
};
struct AdminResponse {
  Errc error = Errc::NONE;
  std::string message;
};
// CreatePartitions: grow a topic to `count` partitions (Kafka never shrinks one).
struct CreatePartitionsRequest {
  std::string topic;
  int32_t count = 0;
};
// AlterClientQuotas (KIP-546): quota keys set (a value) or removed (nullopt)
// per entity (entity type "user" / "client-id" -> name, nullopt: the default).
struct ClientQuotaAlteration {
  std::map<std::string, std::optional<std::string>> entity;
  std::vector<std::pair<std::string, std::optional<double>>> ops;
};
struct AlterClientQuotasRequest {
  std::vector<ClientQuotaAlteration> entries;
};
struct ElectLeadersRequest {
  bool unclean = false;  // false: preferred
  std::vector<std::pair<std::string, int32_t>> partitions;  // empty: all
};
struct AlterConfigRequest {
  std::string resource;
  std::string key;
  std::optional<std::string> value;
};

// ---- idempotence / transactions (InitProducerId) --------------------------------------
struct InitProducerIdRequest {
  std::optional<std::string> transactional_id;
  int32_t transaction_timeout_ms = 60000;
  ProducerId producer_id = kNoProducerId;  // KIP-360: the current id/epoch when bumping
  ProducerEpoch producer_epoch{-1};
};
struct InitProducerIdResponse {
  Errc error = Errc::NONE;
  ProducerId producer_id = kNoProducerId;
  ProducerEpoch producer_epoch{-1};
  // The finalized transaction.version feature (Kafka learns it from
  // ApiVersions; ksim answers it here): 2 = KIP-890, 1 = before it.
  int8_t transaction_version = 2;
};

// AllocateProducerIds (KIP-730): a broker asks the active controller for a
// block of producer ids; the controller records it in the metadata log.
struct AllocateProducerIdsRequest {
  int32_t broker_id = -1;
  int64_t broker_epoch = -1;
};
struct AllocateProducerIdsResponse {
  Errc error = Errc::NONE;
  int64_t producer_id_start = -1;
  int32_t producer_id_len = 0;
};

// ---- group coordination (the classic consumer group protocol) ---------------------------
// FindCoordinator: any broker answers with the leader of the __consumer_offsets
// partition abs(hash(group.id)) % offsets.topic.num.partitions (key_type 0), or
// of the __transaction_state partition of a transactional.id (key_type 1).
struct FindCoordinatorRequest {
  std::string key;
  int8_t key_type = 0;  // 0: group, 1: transaction
};
struct FindCoordinatorResponse {
  Errc error = Errc::NONE;
  int32_t node_id = -1;  // broker id
};
// The member metadata / assignment bytes are opaque to the coordinator, as in
// Kafka: the consumer's ConsumerProtocol encodes them (engine/clients).
struct JoinGroupProtocol {
  std::string name;  // assignor name: "range", "roundrobin", "sticky", "cooperative-sticky"
  std::string metadata;
};
struct JoinGroupRequest {
  std::string group_id;
  int32_t session_timeout_ms = 45000;
  int32_t rebalance_timeout_ms = 300000;  // the consumer's max.poll.interval.ms
  std::string member_id;                   // "" on the first join (KIP-394: MEMBER_ID_REQUIRED)
  std::optional<std::string> group_instance_id;
  std::string protocol_type = "consumer";
  std::vector<JoinGroupProtocol> protocols;
  std::string reason;
};
struct JoinGroupMember {
  std::string member_id;
  std::optional<std::string> group_instance_id;
  std::string metadata;
};
struct JoinGroupResponse {
  Errc error = Errc::NONE;
  int32_t generation_id = -1;
  std::string protocol_name;
  std::string leader;
  bool skip_assignment = false;
  std::string member_id;
  std::vector<JoinGroupMember> members;  // only for the leader
};
struct SyncGroupAssignment {
  std::string member_id;
  std::string assignment;
};
struct SyncGroupRequest {
  std::string group_id;
  int32_t generation_id = -1;
  std::string member_id;
  std::optional<std::string> group_instance_id;
  std::string protocol_name;
  std::vector<SyncGroupAssignment> assignments;  // only from the leader
};
struct SyncGroupResponse {
  Errc error = Errc::NONE;
  std::string protocol_name;
  std::string assignment;
};
struct HeartbeatRequest {
  std::string group_id;
  int32_t generation_id = -1;
  std::string member_id;
  std::optional<std::string> group_instance_id;
};
struct HeartbeatResponse {
  Errc error = Errc::NONE;
};
struct LeaveGroupMember {
  std::string member_id;
  std::optional<std::string> group_instance_id;
  std::string reason;
};
struct LeaveGroupRequest {
  std::string group_id;
  std::vector<LeaveGroupMember> members;
};
struct LeaveGroupResponse {
  Errc error = Errc::NONE;
  std::vector<std::pair<std::string, Errc>> members;
};
// ConsumerGroupHeartbeat (KIP-848): the whole next-generation protocol is this
// one request. member_epoch 0 joins, -1 leaves, -2 leaves as a static member
// (its assignment is kept for a replacement with the same group.instance.id);
// a positive epoch heartbeats. Optional fields are sent only when they changed
// or on a full request (join, after an error), as in Kafka.
struct ConsumerGroupHeartbeatRequest {
  std::string group_id;
  std::string member_id;  // generated by the client (KIP-1082)
  int32_t member_epoch = 0;
  std::optional<std::string> instance_id;
  int32_t rebalance_timeout_ms = -1;  // the consumer's max.poll.interval.ms (on join)
  std::optional<std::vector<std::string>> subscribed_topic_names;
  std::optional<std::string> subscribed_topic_regex;
  std::optional<std::string> server_assignor;
  std::optional<std::vector<TopicPartition>> topic_partitions;  // owned (after reconciling)
};
struct ConsumerGroupHeartbeatResponse {
  Errc error = Errc::NONE;
  std::string error_message;
  std::string member_id;
  int32_t member_epoch = -1;
  int32_t heartbeat_interval_ms = 0;
  std::optional<std::vector<TopicPartition>> assignment;  // the member's assigned partitions
};
struct OffsetCommitPartition {
  TopicPartition tp;
  Offset committed_offset;
  LeaderEpoch committed_leader_epoch = kNoEpoch;
  std::string metadata;
};
struct OffsetCommitRequest {
  std::string group_id;
  int32_t generation_id = -1;  // -1 with member_id "": a simple (non-member) commit
  std::string member_id;
  std::optional<std::string> group_instance_id;
  std::vector<OffsetCommitPartition> partitions;
};
struct OffsetCommitResponse {
  std::vector<std::pair<TopicPartition, Errc>> partitions;
};
struct OffsetFetchRequest {
  std::string group_id;
  std::optional<std::vector<TopicPartition>> partitions;  // nullopt: all committed
  bool require_stable = true;
};
struct OffsetFetchPartition {
  TopicPartition tp;
  Offset committed_offset = kNoOffset;  // -1: none committed
  LeaderEpoch committed_leader_epoch = kNoEpoch;
  std::string metadata;
  Errc error = Errc::NONE;
};
struct OffsetFetchResponse {
  Errc error = Errc::NONE;
  std::vector<OffsetFetchPartition> partitions;
};

// ---- transactions (Kafka's TransactionCoordinator APIs) -----------------------------------
// AddPartitionsToTxn: a transactional producer (TV1: before its first send to a
// partition in a transaction) or a partition leader (KIP-890 verification,
// `verify_only`: "is this partition already in the producer's ongoing
// transaction?"; under TV2 the leader asks with verify_only=false and the
// coordinator adds the partition implicitly).
struct AddPartitionsToTxnRequest {
  std::string transactional_id;
  ProducerId producer_id = kNoProducerId;
  ProducerEpoch producer_epoch{-1};
  std::vector<TopicPartition> partitions;
  bool verify_only = false;
};
struct AddPartitionsToTxnResponse {
  Errc error = Errc::NONE;  // top level (e.g. NOT_COORDINATOR)
  std::vector<std::pair<TopicPartition, Errc>> partitions;
};
// AddOffsetsToTxn: the group's __consumer_offsets partition joins the transaction.
struct AddOffsetsToTxnRequest {
  std::string transactional_id;
  ProducerId producer_id = kNoProducerId;
  ProducerEpoch producer_epoch{-1};
  std::string group_id;
};
struct AddOffsetsToTxnResponse {
  Errc error = Errc::NONE;
};
// EndTxn: commit or abort. Under TV2 (KIP-890 part 2) the coordinator bumps the
// epoch at every end and answers the epoch the producer continues with.
struct EndTxnRequest {
  std::string transactional_id;
  ProducerId producer_id = kNoProducerId;
  ProducerEpoch producer_epoch{-1};
  bool committed = false;
};
struct EndTxnResponse {
  Errc error = Errc::NONE;
  ProducerId producer_id = kNoProducerId;  // TV2: the id/epoch for the next transaction
  ProducerEpoch producer_epoch{-1};
};
// WriteTxnMarkers: the coordinator asks each partition leader to append a
// COMMIT or ABORT control batch for the producer (answered once replicated).
struct WritableTxnMarker {
  ProducerId producer_id = kNoProducerId;
  ProducerEpoch producer_epoch{-1};
  bool committed = false;
  int32_t coordinator_epoch = 0;
  // 2 (KIP-890): the marker carries the epoch bumped at EndTxn, so it must be
  // above the producer's epoch in the partition — a duplicate or a delayed
  // marker of an earlier transaction is refused (INVALID_PRODUCER_EPOCH).
  int8_t transaction_version = 2;
  std::vector<TopicPartition> partitions;
};
struct WriteTxnMarkersRequest {
  std::vector<WritableTxnMarker> markers;
};
struct WriteTxnMarkersResult {
  ProducerId producer_id = kNoProducerId;
  std::vector<std::pair<TopicPartition, Errc>> partitions;
};
struct WriteTxnMarkersResponse {
  std::vector<WriteTxnMarkersResult> markers;
};
// TxnOffsetCommit: offsets committed as part of a transaction (to the group
// coordinator); they become visible when the COMMIT marker reaches the group's
// __consumer_offsets partition.
struct TxnOffsetCommitRequest {
  std::string transactional_id;
  std::string group_id;
  ProducerId producer_id = kNoProducerId;
  ProducerEpoch producer_epoch{-1};
  int32_t generation_id = -1;
  std::string member_id;
  std::optional<std::string> group_instance_id;
  std::vector<OffsetCommitPartition> partitions;
};
struct TxnOffsetCommitResponse {
  std::vector<std::pair<TopicPartition, Errc>> partitions;
};

// Approximate Kafka wire sizes (headers + payload), for bandwidth modelling.
uint32_t wire_size(const ProduceRequest& r);
uint32_t wire_size(const FetchResponse& r);

}  // namespace ksim::protocol

namespace ksim {
// The fetch-session metadata names, for the leader's cache and the fetchers' handlers alike.
using protocol::kInitialFetchEpoch;
using protocol::kInvalidFetchSessionId;
using protocol::next_fetch_epoch;
}  // namespace ksim
