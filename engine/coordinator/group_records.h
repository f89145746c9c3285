// The records the group coordinator writes to __consumer_offsets, and their
// encodings. Kafka's keys carry a version that says what the record is; ksim
// keeps that idea and Kafka's numbers, with its own compact value encoding
// (engine/common/codec.h: zigzag varints, length-prefixed strings):
//
//   key   = u8 version, then
//           version 1 (offset commit):  str group, str topic, varint partition
//           version 2 (group metadata): str group
//   value (offset commit, version 0):
//           varint offset, varint leader_epoch, str metadata, varint commit_timestamp_ms
//   value (group metadata, version 0):
//           str protocol_type, varint generation, opt-str protocol, opt-str leader,
//           varint current_state_timestamp_ms, varint member count, then per member:
//           str member_id, opt-str group_instance_id, str client_id, varint client_node,
//           varint rebalance_timeout_ms, varint session_timeout_ms,
//           str subscription (the member's metadata for the selected protocol),
//           str assignment
//   key version 3 (consumer group, KIP-848): str group
//   value (consumer group, version 0): a snapshot of the whole group —
//           varint group_epoch, varint assignment_epoch, varint member count, then per member:
//           str member_id, opt-str instance_id, str client_id, varint client_node, varint member_epoch,
//           varint previous_member_epoch, u8 state, varint rebalance_timeout_ms,
//           strs subscribed topics, str subscribed_topic_regex ("" : none), str server_assignor,
//           tps assigned, tps pending_revocation, tps target, u8 classic (then varint
//           session_timeout_ms, varint protocol count, per protocol: str name, str metadata);
//           then varint topic count, per
//           topic: str topic, varint partitions (the subscription metadata the target was
//           computed with); then varint regex count, per regex: str regex, strs the topics it
//           resolved to; then varint last_regex_refresh_ms.
//   (opt-str = u8 present flag, then str if present; strs / tps = varint count, then each.)
//   A record without a value is a tombstone (the group or offset is deleted).
//
// A group metadata record is written when a rebalance completes (the leader's
// assignments), when a group becomes Empty, when a group is created, and when a
// static member is replaced without a rebalance. Replaying them in log order
// rebuilds every group as of the last record: Stable with its members and
// assignments, or Empty.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "engine/common/types.h"

namespace ksim::coordinator {

struct OffsetCommitKey {
  std::string group;
  TopicPartition tp;
};
struct GroupMetadataKey {
  std::string group;
};
// A consumer (KIP-848) group: Kafka writes one record per member, per target
// and per epoch (ConsumerGroupMetadata, MemberMetadata, TargetAssignment...,
// CurrentMemberAssignment keys 3..8); ksim writes one snapshot per change.
struct ConsumerGroupKey {
  std::string group;
};
using RecordKey = std::variant<OffsetCommitKey, GroupMetadataKey, ConsumerGroupKey>;

struct OffsetAndMetadata {
  Offset offset = kNoOffset;
  LeaderEpoch leader_epoch = kNoEpoch;
  std::string metadata;
  int64_t commit_timestamp_ms = -1;
  bool operator==(const OffsetAndMetadata&) const = default;
};

struct MemberRecord {
  std::string member_id;
  std::optional<std::string> group_instance_id;
  std::string client_id;
  int32_t client_node = -1;  // Kafka's client_host
  int32_t rebalance_timeout_ms = 0;
  int32_t session_timeout_ms = 0;
  std::string subscription;
  std::string assignment;
  bool operator==(const MemberRecord&) const = default;
};

struct GroupMetadataValue {
  std::string protocol_type;
  int32_t generation = 0;
  std::optional<std::string> protocol;
  std::optional<std::string> leader;
  int64_t current_state_timestamp_ms = -1;
  std::vector<MemberRecord> members;
  bool operator==(const GroupMetadataValue&) const = default;
};

struct ConsumerMemberRecord {
  std::string member_id;
  std::optional<std::string> instance_id;
  std::string client_id;
  int32_t client_node = -1;
  int32_t member_epoch = 0;
  int32_t previous_member_epoch = -1;
  uint8_t state = 0;  // MemberState
  int32_t rebalance_timeout_ms = 0;
  std::vector<std::string> subscribed_topics;
  std::string subscribed_topic_regex;  // "" : none
  std::string server_assignor;
  std::vector<TopicPartition> assigned, pending_revocation, target;
  // A classic-protocol member (Kafka's ClassicMemberMetadata): its session
  // timeout and supported protocols (name, metadata).
  bool classic = false;
  int32_t classic_session_timeout_ms = 0;
  std::vector<std::pair<std::string, std::string>> classic_protocols;
  bool operator==(const ConsumerMemberRecord&) const = default;
};

struct ConsumerGroupValue {
  int32_t group_epoch = 0;
  int32_t assignment_epoch = 0;
  std::vector<ConsumerMemberRecord> members;
  std::vector<std::pair<std::string, int32_t>> subscription_metadata;
  // Server-side regexes: regex -> the topics it resolved to (Kafka's
  // ConsumerGroupRegularExpression records), and when they were resolved.
  std::vector<std::pair<std::string, std::vector<std::string>>> resolved_regexes;
  int64_t last_regex_refresh_ms = -1;
  bool operator==(const ConsumerGroupValue&) const = default;
};

std::string encode_key(const RecordKey& k);
std::string encode_consumer_group_value(const ConsumerGroupValue& v);
std::optional<ConsumerGroupValue> decode_consumer_group_value(std::string_view bytes);
std::string encode_offset_value(const OffsetAndMetadata& v);
std::string encode_group_value(const GroupMetadataValue& v);

// nullopt: not a record ksim wrote (unknown version or malformed).
std::optional<RecordKey> decode_key(std::string_view bytes);
std::optional<OffsetAndMetadata> decode_offset_value(std::string_view bytes);
std::optional<GroupMetadataValue> decode_group_value(std::string_view bytes);

}  // namespace ksim::coordinator
