// The consumer's public value types (Kafka's names): ConsumerRecord,
// OffsetAndMetadata, OffsetAndTimestamp, ConsumerRebalanceListener, the
// commit callback, and KafkaException — the exception every consumer call
// raises, carrying Kafka's exception class name ("CommitFailedException",
// "NoOffsetForPartitionException", ...) and the Kafka error code behind it.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "engine/common/errors.h"
#include "engine/common/types.h"

namespace ksim::clients {

struct ConsumerRecord {
  TopicPartition tp;
  Offset offset;
  int64_t timestamp = -1;
  std::optional<std::string> key, value;
  // Record headers (name, value; nullopt: a null value), in order.
  std::vector<std::pair<std::string, std::optional<std::string>>> headers;
  LeaderEpoch leader_epoch = kNoEpoch;
  Offset high_watermark = kNoOffset;  // of the fetch response that carried the record
};

struct OffsetAndMetadata {
  Offset offset;
  LeaderEpoch leader_epoch = kNoEpoch;
  std::string metadata;
  bool operator==(const OffsetAndMetadata&) const = default;
};
using OffsetMap = std::map<TopicPartition, OffsetAndMetadata>;

// What sendOffsetsToTransaction needs to know of the consumer (Kafka's
// ConsumerGroupMetadata): the group coordinator fences a zombie with it.
struct ConsumerGroupMetadata {
  std::string group_id;
  int32_t generation_id = -1;
  std::string member_id;
  std::optional<std::string> group_instance_id;
};


struct OffsetAndTimestamp {
  Offset offset;
  int64_t timestamp = -1;
  LeaderEpoch leader_epoch = kNoEpoch;
};

// ConsumerRebalanceListener. Called from inside poll() (never from a network
// callback), so it may call the consumer (commit_sync, seek, position).
// on_lost defaults to on_revoked, as in Java.
struct RebalanceListener {
  std::function<void(const std::vector<TopicPartition>&)> on_revoked;
  std::function<void(const std::vector<TopicPartition>&)> on_assigned;
  std::function<void(const std::vector<TopicPartition>&)> on_lost;
};

// OffsetCommitCallback: the offsets and NONE, or the error. Invoked from a
// later poll() / commit call / close(), as Java invokes it.
using CommitCallback = std::function<void(const OffsetMap&, Errc)>;

class KafkaException : public std::runtime_error {
 public:
  KafkaException(std::string kind, Errc error, const std::string& message)
      : std::runtime_error(kind + ": " + message), kind_(std::move(kind)), error_(error) {}
  const std::string& kind() const { return kind_; }
  Errc error() const { return error_; }

 private:
  std::string kind_;
  Errc error_;
};

}  // namespace ksim::clients
