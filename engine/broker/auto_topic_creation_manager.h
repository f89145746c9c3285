// AutoTopicCreationManager: Kafka's broker-side topic auto-creation.
//
// A Metadata request that names a topic the cluster does not have, with
// allow_auto_topic_creation set (producers always; consumers unless
// allow.auto.create.topics=false) and the broker's auto.create.topics.enable
// on (Kafka's default), makes the broker ask the active controller to create
// it with num.partitions partitions and default.replication.factor replicas
// (both broker configs). The Metadata answer does not wait: the topic is
// reported LEADER_NOT_AVAILABLE, and the client asks again until it appears.
//
// The coordinators create their internal topics (`__consumer_offsets`,
// `__transaction_state`) through create_once too, with their own settings.
//
// Invariants: at most one CreateTopics in flight per topic per broker (a
// flood of Metadata requests sends one); internal topics (`__...`) are never
// auto-created from Metadata; a name Kafka would refuse is answered
// INVALID_TOPIC_EXCEPTION, not created.
#pragma once

#include <functional>
#include <set>
#include <string>

#include "engine/broker/protocol.h"
#include "engine/common/config.h"
#include "engine/common/errors.h"
#include "sim/network.h"
#include "sim/world.h"

namespace ksim {

class AutoTopicCreationManager {
 public:
  using ControllerCall = std::function<sim::Reply(const std::string& api, sim::Payload body, uint32_t size)>;
  AutoTopicCreationManager(sim::World& world, sim::NodeId self, const Config& broker_config,
                           ControllerCall controller_call);

  // The error a Metadata response gives for `topic`, which the cluster does
  // not have: UNKNOWN_TOPIC_OR_PARTITION (not created), INVALID_TOPIC_EXCEPTION,
  // or LEADER_NOT_AVAILABLE after starting its creation.
  Errc on_unknown_topic(const std::string& topic, bool allow_auto_topic_creation);

  // Sends a CreateTopics for `topic` to the active controller from a fiber of
  // its own, unless one is in flight already. `build` runs in that fiber (it
  // may wait) and makes the request.
  void create_once(const std::string& topic, std::function<protocol::CreateTopicsRequest()> build);

 private:
  sim::World& world_;
  sim::NodeId self_;
  const Config& config_;
  ControllerCall controller_call_;
  std::set<std::string> creating_;
};

}  // namespace ksim
