#include "engine/broker/auto_topic_creation_manager.h"

#include "engine/broker/protocol.h"
#include "engine/controller/quorum_controller.h"

namespace ksim {

AutoTopicCreationManager::AutoTopicCreationManager(sim::World& world, sim::NodeId self, const Config& broker_config,
                                                   ControllerCall controller_call)
    : world_(world), self_(self), config_(broker_config), controller_call_(std::move(controller_call)) {}

Errc AutoTopicCreationManager::on_unknown_topic(const std::string& topic, bool allow_auto_topic_creation) {
  if (!allow_auto_topic_creation || !config_.get_bool("auto.create.topics.enable") || topic.rfind("__", 0) == 0)
    return Errc::UNKNOWN_TOPIC_OR_PARTITION;
  if (!valid_topic_name(topic)) return Errc::INVALID_TOPIC_EXCEPTION;
  create_once(topic, [this, topic] {
    protocol::CreateTopicsRequest req;
    req.name = topic;
    req.partitions = config_.get_int("num.partitions");
    req.replication_factor = config_.get_int("default.replication.factor");
    return req;
  });
  return Errc::LEADER_NOT_AVAILABLE;
}

void AutoTopicCreationManager::create_once(const std::string& topic,
                                           std::function<protocol::CreateTopicsRequest()> build) {
  if (!creating_.insert(topic).second) return;
  world_.spawn(self_, "create-" + topic, [this, topic, build = std::move(build)] {
    struct Done {  // cleared also when a crash unwinds this fiber
      std::set<std::string>& s;
      std::string t;
      ~Done() { s.erase(t); }
    } done{creating_, topic};
    const sim::Reply r = controller_call_("CreateTopics", sim::make_payload(build()), 128);
    if (r.status != sim::CallStatus::ok) {
      world_.probe("broker: topic creation got no answer");
      return;
    }
    const Errc e = sim::payload_as<protocol::AdminResponse>(r.payload).error;
    world_.probe(e == Errc::NONE || e == Errc::TOPIC_ALREADY_EXISTS ? "broker: created a topic"
                                                                    : "broker: topic creation refused");
  });
}

}  // namespace ksim
