// KafkaNode: the process of one Kafka node (process.roles = broker,
// controller, or both). It owns the node's Raft client for the metadata log —
// a voter when the node is a controller, an observer on a pure broker — and
// fans its committed entries out to the roles it runs.
//
// Built by the node's boot function on every start: everything here is
// volatile and dies with a crash; the disk keeps the logs, the metadata log
// and the checkpoints.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "engine/broker/broker_server.h"
#include "engine/common/config.h"
#include "engine/controller/controller_node.h"
#include "engine/raft/raft_client.h"

namespace ksim {

struct NodeRoles {
  bool broker = true;
  bool controller = false;
};

class KafkaNode {
 public:
  // `observer` (optional) sees every committed metadata-log entry this node
  // applies — the Cluster uses it to put elections on the history's timeline.
  using MetadataObserver = std::function<void(const raft::RaftEntry&)>;
  KafkaNode(sim::World& world, sim::NodeId self, NodeRoles roles, std::vector<sim::NodeId> voters, Config config,
            MetadataObserver observer = {});
  void start();

  raft::RaftClient& raft() { return *raft_; }
  const raft::RaftClient& raft() const { return *raft_; }
  BrokerServer* broker() { return broker_.get(); }
  const BrokerServer* broker() const { return broker_.get(); }
  ControllerNode* controller() { return controller_.get(); }
  const ControllerNode* controller() const { return controller_.get(); }

 private:
  std::unique_ptr<raft::RaftClient> raft_;
  std::unique_ptr<ControllerNode> controller_;
  std::unique_ptr<BrokerServer> broker_;
  MetadataObserver observer_;
};

raft::RaftConfig raft_config_of(const Config& c);

}  // namespace ksim
