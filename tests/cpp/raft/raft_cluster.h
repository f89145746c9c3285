// A test harness: N voters (node ids 0..N-1) and M observers of one KRaft
// quorum in a simulated world, plus the bookkeeping every story checks:
//   * every committed entry ever delivered to any commit listener, by offset —
//     two nodes (or two incarnations) committing different entries at one
//     offset is a violation;
//   * every (epoch, leader) ever observed — two leaders in one epoch is a violation;
//   * every node's epoch, which must never go down (across restarts too);
//   * each node's committed prefix [0, HW) compared with the committed record.
// Violations are collected as text (a Catch assertion cannot be raised inside a
// simulated fiber) and each test requires the list to be empty.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/raft/raft_client.h"
#include "sim/disk.h"
#include "sim/network.h"
#include "sim/world.h"

namespace raft_test {

using ksim::Offset;
using ksim::raft::RaftClient;
using ksim::raft::RaftConfig;
using ksim::raft::RaftEntry;
using ksim::raft::RaftRole;
using sim::NodeId;

struct RaftCluster {
  sim::World w;
  std::vector<NodeId> voters, observers, nodes;
  RaftConfig config;
  std::map<int64_t, std::pair<int32_t, std::string>> committed;  // offset -> (epoch, bytes)
  std::map<int32_t, uint32_t> leaders;                           // epoch -> leader seen
  std::map<uint32_t, int32_t> epoch_seen;                        // node -> highest epoch seen
  std::map<uint32_t, int64_t> next_commit, verified;             // per incarnation
  std::vector<std::string> violations;

  explicit RaftCluster(uint64_t seed, int n_voters = 3, int n_observers = 0, RaftConfig c = {})
      : w(sim::WorldConfig{.seed = seed}), config(c) {
    for (int i = 0; i < n_voters + n_observers; ++i) {
      const bool voter = i < n_voters;
      NodeId id = w.add_node((voter ? "c" : "b") + std::to_string(i), [this, voter](NodeId self) {
        auto client = std::make_shared<RaftClient>(w, self, voters, voter ? RaftRole::voter : RaftRole::observer, config);
        next_commit[self.value] = 0;
        verified[self.value] = 0;
        client->set_commit_listener([this, self](const RaftEntry& e) { on_commit(self, e); });
        client->start();
        return client;
      });
      (voter ? voters : observers).push_back(id);
      nodes.push_back(id);
    }
    for (NodeId n : nodes) w.start(n);
  }

  std::shared_ptr<RaftClient> client(NodeId n) const { return w.process<RaftClient>(n); }

  void on_commit(NodeId n, const RaftEntry& e) {
    int64_t& next = next_commit[n.value];
    if (e.offset.value != next)
      violations.push_back("node " + std::to_string(n.value) + " committed offset " + std::to_string(e.offset.value) +
                           " out of order (expected " + std::to_string(next) + ")");
    next = e.offset.value + 1;
    record_committed(n, e);
  }

  void record_committed(NodeId n, const RaftEntry& e) {
    auto [it, fresh] = committed.try_emplace(e.offset.value, e.epoch.value, *e.data);
    if (!fresh && (it->second.first != e.epoch.value || it->second.second != *e.data))
      violations.push_back("node " + std::to_string(n.value) + " committed a different entry at offset " +
                           std::to_string(e.offset.value) + ": '" + *e.data + "' vs '" + it->second.second + "'");
  }

  // The invariants, checked against every running node.
  void check() {
    for (NodeId n : nodes) {
      auto c = client(n);
      if (!c) continue;
      const int32_t epoch = c->epoch().value;
      auto [seen, fresh] = epoch_seen.try_emplace(n.value, epoch);
      if (!fresh && epoch < seen->second)
        violations.push_back("node " + std::to_string(n.value) + " epoch went back from " +
                             std::to_string(seen->second) + " to " + std::to_string(epoch));
      seen->second = std::max(seen->second, epoch);
      if (c->is_leader()) {
        auto [l, first] = leaders.try_emplace(epoch, n.value);
        if (!first && l->second != n.value)
          violations.push_back("two leaders in epoch " + std::to_string(epoch) + ": " + std::to_string(l->second) +
                               " and " + std::to_string(n.value));
      }
      // The committed prefix of this node's log agrees with every other's.
      int64_t& from = verified[n.value];
      const Offset hw = c->high_watermark();
      for (const RaftEntry& e : c->entries(Offset{from}, hw)) record_committed(n, e);
      from = std::max(from, hw.value);
    }
  }

  // Runs `d` of virtual time, checking the invariants every 10 ms.
  void run_checked(sim::Duration d) {
    const sim::Instant end = w.now() + d;
    while (w.now() < end) {
      w.run_until(std::min(end, w.now() + sim::milliseconds(10)));
      check();
    }
  }

  // Runs (checking) until pred holds; false after `timeout`.
  template <class Pred>
  bool run_until(Pred pred, sim::Duration timeout) {
    const sim::Instant end = w.now() + timeout;
    while (!pred()) {
      if (w.now() >= end) return false;
      w.run_until(std::min(end, w.now() + sim::milliseconds(10)));
      check();
    }
    return true;
  }

  // The running leaders (a healthy cluster has exactly one).
  std::vector<NodeId> leaders_now() const {
    std::vector<NodeId> out;
    for (NodeId n : voters)
      if (auto c = client(n); c && c->is_leader()) out.push_back(n);
    return out;
  }
  std::optional<NodeId> leader() const {
    auto l = leaders_now();
    return l.size() == 1 ? std::optional(l[0]) : std::nullopt;
  }
  bool one_leader() const { return leaders_now().size() == 1; }

  std::optional<Offset> propose(const std::string& text) {
    auto l = leader();
    if (!l) return std::nullopt;
    auto r = client(*l)->propose(std::make_shared<const std::string>(text));
    return r.error == ksim::Errc::NONE ? std::optional(r.offset) : std::nullopt;
  }

  // Every running node has the leader's whole log, and knows it is committed.
  bool converged() const {
    auto l = leader();
    if (!l) return false;
    auto lc = client(*l);
    const Offset end = lc->log_end_offset();
    if (lc->pending_proposals() != 0 || end.value == 0 || lc->high_watermark() != end) return false;
    for (NodeId n : nodes) {
      auto c = client(n);
      if (!c || c->leader() != l || c->epoch() != lc->epoch()) return false;
      if (c->log_end_offset() != end || c->high_watermark() != end) return false;
    }
    return true;
  }

  // One line per node, for failure messages.
  std::string describe() const {
    std::string out = "t=" + std::to_string(w.now().ms()) + "ms";
    for (NodeId n : nodes) {
      out += "\n  node " + std::to_string(n.value) + ": ";
      auto c = client(n);
      if (!c) {
        out += "down";
        continue;
      }
      out += std::string(ksim::raft::raft_state_name(c->state())) + " epoch=" + std::to_string(c->epoch().value) +
             " leader=" + (c->leader() ? std::to_string(c->leader()->value) : "-") +
             " voted=" + (c->voted_for() ? std::to_string(c->voted_for()->value) : "-") +
             " leo=" + std::to_string(c->log_end_offset().value) + " hw=" + std::to_string(c->high_watermark().value) +
             (w.is_paused(n) ? " paused" : "") + (c->halted() ? " HALTED" : "");
    }
    return out;
  }

  // The bytes of the committed entries, LeaderChange entries left out.
  std::vector<std::string> committed_user_entries() const {
    std::vector<std::string> out;
    for (const auto& [off, e] : committed)
      if (e.second.rfind("LeaderChange", 0) != 0) out.push_back(e.second);
    return out;
  }
};

}  // namespace raft_test
