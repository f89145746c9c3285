// ConsumerProtocol: the bytes a consumer puts into the classic group
// protocol's opaque fields (Kafka's ConsumerProtocol, protocol type "consumer").
//
// The group coordinator never looks inside these: it stores each member's
// JoinGroup metadata (a Subscription) and hands them all to the leader, which
// runs the assignor and sends back one Assignment per member in SyncGroup.
//
//   Subscription (JoinGroup metadata)   Assignment (SyncGroup)
//     version                             version
//     topics            sorted            partitions (topic, partition) sorted
//     user_data         assignor's own    user_data  assignor's own
//     owned_partitions  cooperative: what the member still owns (KIP-429)
//     generation_id     the generation those were owned in (-1: none)
//     rack_id           client.rack (unused by ksim's assignors)
//
// Encoding: ksim's codec (engine/common/codec.h) — varints and length-
// prefixed strings — not Kafka's exact bytes; the fields are Kafka's
// (ConsumerProtocolSubscription / ConsumerProtocolAssignment v3).
// Decoding never trusts its input: malformed bytes yield nullopt.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/common/types.h"

namespace ksim::clients {

inline constexpr const char* kConsumerProtocolType = "consumer";
inline constexpr int16_t kConsumerProtocolVersion = 3;

struct Subscription {
  std::vector<std::string> topics;
  std::string user_data;
  std::vector<TopicPartition> owned_partitions;
  int32_t generation_id = -1;
  std::string rack_id;
  bool operator==(const Subscription&) const = default;
};

struct Assignment {
  std::vector<TopicPartition> partitions;
  std::string user_data;
  bool operator==(const Assignment&) const = default;
};

std::string encode_subscription(const Subscription& s);
std::optional<Subscription> decode_subscription(const std::string& bytes);
std::string encode_assignment(const Assignment& a);
std::optional<Assignment> decode_assignment(const std::string& bytes);

// A list of partitions on its own (assignors' user data).
std::string encode_partitions(const std::vector<TopicPartition>& tps);
std::optional<std::vector<TopicPartition>> decode_partitions(const std::string& bytes);

// "t-0, t-1, u-3" for messages and history details.
std::string partitions_str(const std::vector<TopicPartition>& tps);

}  // namespace ksim::clients
