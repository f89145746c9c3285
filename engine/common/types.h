// Strong types for Kafka's identifiers and counters. Mixing up an offset and
// an epoch, or a broker id and a partition index, is a compile error.
//
// Values follow Kafka's wire types (int32 broker ids and epochs, int64 offsets
// and producer ids) and Kafka's sentinels (-1 = none / unknown).
#pragma once

#include <compare>
#include <cstdint>
#include <functional>
#include <string>

#include "engine/common/topic_name.h"

namespace ksim {

template <class Tag, class Rep>
struct Strong {
  Rep value{};
  constexpr Strong() = default;
  constexpr explicit Strong(Rep v) : value(v) {}
  constexpr auto operator<=>(const Strong&) const = default;
};

// broker.id / node.id: brokers are 1..N, dedicated controllers follow.
struct BrokerIdTag {};
using BrokerId = Strong<BrokerIdTag, int32_t>;
inline constexpr BrokerId kNoBroker{-1};

// A partition leader epoch (bumped on every leader change).
struct LeaderEpochTag {};
using LeaderEpoch = Strong<LeaderEpochTag, int32_t>;
inline constexpr LeaderEpoch kNoEpoch{-1};

// A partition epoch (bumped on every leader or ISR change; AlterPartition fencing).
struct PartitionEpochTag {};
using PartitionEpoch = Strong<PartitionEpochTag, int32_t>;

// A Raft (KRaft) quorum epoch.
struct QuorumEpochTag {};
using QuorumEpoch = Strong<QuorumEpochTag, int32_t>;

// Offsets: a position in a partition log (or in the metadata log).
struct Offset {
  int64_t value = 0;
  constexpr Offset() = default;
  constexpr explicit Offset(int64_t v) : value(v) {}
  constexpr auto operator<=>(const Offset&) const = default;
  constexpr Offset operator+(int64_t d) const { return Offset{value + d}; }
  constexpr Offset operator-(int64_t d) const { return Offset{value - d}; }
  constexpr int64_t operator-(Offset o) const { return value - o.value; }
};
inline constexpr Offset kNoOffset{-1};

struct ProducerIdTag {};
using ProducerId = Strong<ProducerIdTag, int64_t>;
inline constexpr ProducerId kNoProducerId{-1};

struct ProducerEpochTag {};
using ProducerEpoch = Strong<ProducerEpochTag, int16_t>;
inline constexpr ProducerEpoch kNoProducerEpoch{-1};

// A topic-partition, ordered by (topic, partition) — never by address.
struct TopicPartition {
  TopicName topic;
  int32_t partition = 0;
  auto operator<=>(const TopicPartition&) const = default;
  std::string str() const { return topic + "-" + std::to_string(partition); }
};

// For hash indexes beside ordered maps (lookups only: nothing may iterate a
// hash container where the order reaches the trace or an output).
struct TopicPartitionHash {
  size_t operator()(const TopicPartition& tp) const noexcept {
    return tp.topic.hash() * 1'000'003u + static_cast<size_t>(static_cast<uint32_t>(tp.partition));
  }
};

}  // namespace ksim
