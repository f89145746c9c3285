#include "engine/coordinator/coordinator_lookup.h"

#include <algorithm>

#include "engine/coordinator/java_hash.h"

namespace ksim::coordinator {

CoordinatorLookup::CoordinatorLookup(sim::World& world, const Config& config,
                                     std::function<const MetadataImage&()> image, AutoTopicCreationManager& topics)
    : world_(world), config_(config), image_(std::move(image)), topics_(topics) {}

protocol::FindCoordinatorResponse CoordinatorLookup::find(const std::string& key, int8_t key_type) {
  protocol::FindCoordinatorResponse resp;
  if (key_type != 0 && key_type != 1) {
    resp.error = Errc::INVALID_REQUEST;
    return resp;
  }
  if (key.empty()) {
    resp.error = key_type == 0 ? Errc::INVALID_GROUP_ID : Errc::INVALID_REQUEST;
    return resp;
  }
  const bool group = key_type == 0;
  const std::string topic = group ? kGroupMetadataTopic : kTransactionStateTopic;
  const int32_t partitions =
      config_.get_int(group ? "offsets.topic.num.partitions" : "transaction.state.log.num.partitions");
  const MetadataImage& img = image_();
  const TopicImage* t = img.topic(topic);
  if (!t) {
    const int32_t rf =
        config_.get_int(group ? "offsets.topic.replication.factor" : "transaction.state.log.replication.factor");
    create_internal_topic(topic, partitions, rf);
    resp.error = Errc::COORDINATOR_NOT_AVAILABLE;
    return resp;
  }
  const int32_t p = partition_for(key, partitions);
  if (p >= static_cast<int32_t>(t->partitions.size()) || t->partitions[static_cast<size_t>(p)].leader < 0) {
    resp.error = Errc::COORDINATOR_NOT_AVAILABLE;
    return resp;
  }
  resp.node_id = t->partitions[static_cast<size_t>(p)].leader;
  return resp;
}

void CoordinatorLookup::handle_find_coordinator(const sim::Incoming& in) {
  const auto& req = sim::payload_as<protocol::FindCoordinatorRequest>(in.payload);
  protocol::FindCoordinatorResponse resp = find(req.key, req.key_type);
  sim::Network& net = world_.network();
  net.respond(in, net.kind("FindCoordinatorResponse"), sim::make_payload(resp), 48);
}

void CoordinatorLookup::create_internal_topic(const std::string& topic, int32_t partitions, int32_t rf) {
  topics_.create_once(topic, [this, topic, partitions, rf] {
    // The replication factor is capped at the brokers registered in the
    // metadata. Right after a cluster starts our image may not show every
    // registration yet: before capping, give it a moment to catch up.
    auto registered = [this] { return static_cast<int32_t>(image_().brokers().size()); };
    if (registered() < rf) world_.sleep_for(sim::seconds(1));
    protocol::CreateTopicsRequest req;
    req.name = topic;
    req.partitions = partitions;
    req.replication_factor = std::max(1, std::min(rf, registered()));
    if (req.replication_factor < rf) world_.probe("coordinator: internal topic RF capped at the registered brokers");
    req.configs["cleanup.policy"] = "compact";
    req.configs["compression.type"] = "producer";
    req.configs["segment.bytes"] = std::to_string(config_.get_int(
        topic == kGroupMetadataTopic ? "offsets.topic.segment.bytes" : "transaction.state.log.segment.bytes"));
    if (topic == kTransactionStateTopic)  // capped like the RF, or no write could ever succeed
      req.configs["min.insync.replicas"] =
          std::to_string(std::min(config_.get_int("transaction.state.log.min.isr"), req.replication_factor));
    return req;
  });
}

}  // namespace ksim::coordinator
