// What an application hands the producer and what it gets back (Kafka's
// ProducerRecord, RecordMetadata, the Future of send() and its Callback).
//
// Keys and values are byte strings (std::string holding bytes): the Python
// bindings pass `bytes` straight through, and the history records them as-is.
// A record's topic-partition is decided in send(): the explicit partition if
// given, else the partitioner's choice (engine/clients/partitioner.h).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "engine/common/errors.h"
#include "engine/common/types.h"

namespace ksim::clients {

struct ProducerRecord {
  std::string topic;
  std::optional<std::string> key;  // nullopt: Kafka's null key (sticky partitioning)
  std::optional<std::string> value;  // nullopt: Kafka's null value — on a compacted topic, a tombstone
  std::vector<std::pair<std::string, std::string>> headers;
  std::optional<int32_t> partition;  // explicit partition: the partitioner is not consulted
  std::optional<int64_t> timestamp;  // CreateTime in ms; default: now (virtual)
};

// Where a record landed. `offset` is kNoOffset for acks=0 (nobody told us) and
// for a duplicate the broker could only report as DUPLICATE_SEQUENCE_NUMBER.
struct RecordMetadata {
  TopicPartition tp;
  Offset offset = kNoOffset;
  int64_t timestamp = -1;
  int32_t serialized_key_size = -1;
  int32_t serialized_value_size = 0;
  int32_t leader = -1;  // the broker that acknowledged (ksim: for the history)
};

// The future send() returns: shared state the producer completes exactly once.
struct SendState {
  bool done = false;
  Errc error = Errc::NONE;  // NONE: delivered (metadata holds the offset)
  RecordMetadata metadata;
};
using SendFuture = std::shared_ptr<const SendState>;

// Called once per record on completion, from the client node's context (it
// must not block — Kafka runs callbacks on the producer's I/O thread).
using SendCallback = std::function<void(const RecordMetadata&, Errc)>;

// ProducerInterceptor: onSend may rewrite the record before it is partitioned;
// onAcknowledgement sees every completion (before the record's callback).
struct ProducerInterceptor {
  std::function<void(ProducerRecord&)> on_send;
  std::function<void(const RecordMetadata&, Errc)> on_acknowledgement;
};

}  // namespace ksim::clients
