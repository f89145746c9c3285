// ControllerNode: a KRaft controller process — the Raft voter of the metadata
// log plus the QuorumController state machine, served over the network.
//
// Threads of control (all fibers of the node):
//   * the Raft client's own fiber (engine/raft), whose commit listener replays
//     committed records into the QuorumController and answers requests whose
//     records have just committed;
//   * the controller event loop: one fiber handling requests and the periodic
//     tick one at a time (Kafka's QuorumController event queue), proposing the
//     resulting records as one log entry per operation.
// The controller becomes ACTIVE only once it leads the Raft quorum and has
// replayed its own epoch's LeaderChange entry (so everything committed before
// it is in its image); it stops being active the moment it loses leadership,
// and requests still waiting for their records to commit get NOT_CONTROLLER.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>

#include "engine/common/config.h"
#include "engine/controller/quorum_controller.h"
#include "engine/raft/raft_client.h"
#include "sim/network.h"
#include "sim/sync.h"
#include "sim/world.h"

namespace ksim {

struct ControllerStats {
  uint64_t activations = 0, requests = 0, proposals = 0, not_controller = 0;
};

class ControllerNode {
 public:
  // `raft`: the node's Raft voter of the metadata log (owned by the node; on a
  // combined node the broker follows the metadata log through the same client).
  ControllerNode(sim::World& world, sim::NodeId self, raft::RaftClient& raft, Config broker_config);
  ControllerNode(const ControllerNode&) = delete;
  ControllerNode& operator=(const ControllerNode&) = delete;

  // Serves the controller APIs and starts the event loop (the Raft client is
  // started by the node).
  void start();
  // The node's commit listener calls this for every committed entry.
  void on_commit(const raft::RaftEntry& e);
  bool active() const { return qc_.active(); }
  const QuorumController& state() const { return qc_; }
  const ControllerStats& stats() const { return stats_; }

 private:
  struct Parked {
    sim::Incoming request;
    int64_t offset;
    sim::Payload response;
    uint32_t size;
    sim::KindId kind;
    std::string api;
    int32_t raft_epoch;  // the epoch the entry was proposed in
  };

  void loop();
  void handle(sim::Incoming&& in);
  void sync_leadership();
  // Proposes `records` as one entry; the response goes out once it commits.
  void propose_then_respond(const sim::Incoming& in, std::vector<MetadataRecord> records, sim::KindId kind,
                            sim::Payload response, uint32_t size);
  void respond_now(const sim::Incoming& in, sim::KindId kind, sim::Payload response, uint32_t size = 64);
  void fail_parked();

  sim::World& world_;
  sim::NodeId self_;
  Config config_;
  raft::RaftClient* raft_;
  QuorumController qc_;
  sim::Channel<std::optional<sim::Incoming>> events_;  // nullopt: just wake up
  std::vector<Parked> parked_;
  int64_t next_offset_ = 0;   // where the next proposal must land
  int32_t leader_change_committed_epoch_ = -1;  // epoch of our last committed LeaderChange
  int32_t active_epoch_ = -1;
  ControllerStats stats_;
  std::map<std::string, sim::KindId, std::less<>> kinds_;
};

}  // namespace ksim
