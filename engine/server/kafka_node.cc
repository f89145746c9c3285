#include "engine/server/kafka_node.h"

namespace ksim {

raft::RaftConfig raft_config_of(const Config& c) {
  raft::RaftConfig r;
  r.election_timeout = sim::milliseconds(c.get_long("controller.quorum.election.timeout.ms"));
  r.fetch_timeout = sim::milliseconds(c.get_long("controller.quorum.fetch.timeout.ms"));
  r.election_backoff_max = sim::milliseconds(c.get_long("controller.quorum.election.backoff.max.ms"));
  r.request_timeout = sim::milliseconds(c.get_long("controller.quorum.request.timeout.ms"));
  r.directory_ids = c.get_bool("ksim.raft.directory.id");
  r.pre_vote = c.get_bool("ksim.raft.pre.vote");
  return r;
}

KafkaNode::KafkaNode(sim::World& world, sim::NodeId self, NodeRoles roles, std::vector<sim::NodeId> voters,
                     Config config, MetadataObserver observer)
    : observer_(std::move(observer)) {
  raft_ = std::make_unique<raft::RaftClient>(world, self, std::move(voters),
                                             roles.controller ? raft::RaftRole::voter : raft::RaftRole::observer,
                                             raft_config_of(config));
  if (roles.controller) controller_ = std::make_unique<ControllerNode>(world, self, *raft_, config);
  if (roles.broker) broker_ = std::make_unique<BrokerServer>(world, self, config, *raft_);
}

void KafkaNode::start() {
  raft_->set_commit_listener([this](const raft::RaftEntry& e) {
    if (controller_) controller_->on_commit(e);
    if (broker_) broker_->on_metadata_commit(e);
    if (observer_) observer_(e);
  });
  raft_->start();
  if (controller_) controller_->start();
  if (broker_) broker_->start();
}

}  // namespace ksim
