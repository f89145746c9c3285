// FindCoordinator, answered by every broker from its metadata image, and the
// on-demand creation of the internal topics that hold coordinator state
// (Kafka's KafkaApis.getCoordinator + AutoTopicCreationManager).
//
//   key_type 0 (group):        __consumer_offsets,  offsets.topic.num.partitions,
//                              offsets.topic.replication.factor
//   key_type 1 (transaction):  __transaction_state, transaction.state.log.num.partitions,
//                              transaction.state.log.replication.factor
//   partition   = Utils.abs(key.hashCode()) % num.partitions (java_hash.h)
//   coordinator = that partition's leader
//
// While the topic does not exist, the broker asks the active controller to
// create it (once at a time) and answers COORDINATOR_NOT_AVAILABLE; so does a
// partition without a leader. ksim caps the replication factor at the number
// of usable brokers (Kafka would refuse to create the topic: README.md).
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "engine/broker/auto_topic_creation_manager.h"
#include "engine/broker/protocol.h"
#include "engine/common/config.h"
#include "engine/controller/metadata_image.h"
#include "sim/network.h"
#include "sim/world.h"

namespace ksim::coordinator {

inline constexpr const char* kGroupMetadataTopic = "__consumer_offsets";
inline constexpr const char* kTransactionStateTopic = "__transaction_state";

class CoordinatorLookup {
 public:
  // Internal topics are created through the broker's `topics` (one
  // CreateTopics in flight per topic).
  CoordinatorLookup(sim::World& world, const Config& config, std::function<const MetadataImage&()> image,
                    AutoTopicCreationManager& topics);

  void handle_find_coordinator(const sim::Incoming& in);
  // The answer FindCoordinator gives (also used by Cluster).
  protocol::FindCoordinatorResponse find(const std::string& key, int8_t key_type);

 private:
  void create_internal_topic(const std::string& topic, int32_t partitions, int32_t replication_factor);

  sim::World& world_;
  const Config& config_;
  std::function<const MetadataImage&()> image_;
  AutoTopicCreationManager& topics_;
};

}  // namespace ksim::coordinator
