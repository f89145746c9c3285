// Nemesis: random faults scheduled from the seed (Jepsen's nemesis), for
// sweeps and randomized tests. Each `step()` either injects one fault of the
// configured kinds (on a node not already faulted) or undoes one in force; at
// most `max_active` faults are active at once (1 keeps an RF=3,
// min.insync.replicas=2 cluster available; 2 lets the ISR shrink to one).
//
// Kinds: crash, power_fail (crash losing unflushed data), partition (one
// broker cut off from the other brokers and controllers; clients still reach
// it, as in the classic Jepsen split), pause, disk_stall, slow_disk, starve
// (a partition leader's Fetch responses are held: followers fall behind while
// it keeps acknowledging), unclean (an admin-forced unclean election).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/server/cluster.h"
#include "sim/network.h"
#include "sim/rng.h"

namespace ksim {

class Nemesis {
 public:
  static const std::vector<std::string>& all_kinds();
  // Throws ClusterError naming an unknown kind.
  Nemesis(Cluster& cluster, std::vector<std::string> kinds, size_t max_active = 1,
          const std::string& stream = "nemesis");

  // Injects a fault (or undoes the active one); returns what it did ("" when nothing).
  std::string step();
  // Undoes every active fault (crashed nodes restart, the network heals, holds are released).
  void stop();
  // Runs step() every `interval_ms` of virtual time from now on, on a node of
  // its own ("nemesis"), until stop(). Kinds that need an admin round trip
  // (unclean) cannot run from a timer: ClusterError.
  void start(int64_t interval_ms);
  bool running() const { return running_; }
  // What every step did, with virtual times ("t=1.200s crash node 2").
  const std::vector<std::string>& log() const { return log_; }
  size_t active() const { return active_.size(); }

 private:
  struct Active {
    std::string kind;
    int32_t node = -1;
    std::optional<sim::RuleId> rule;
  };
  std::string undo(size_t i);
  int32_t random_broker();

  Cluster& c_;
  std::vector<std::string> kinds_;
  sim::Rng rng_;
  void tick();

  size_t max_active_;
  std::vector<Active> active_;
  bool running_ = false;
  int64_t interval_ms_ = 0;
  int32_t node_ = -1;
  uint64_t generation_ = 0;  // invalidates timers of an earlier start()
  std::vector<std::string> log_;
  // Scheduled ticks hold a weak reference: a destroyed nemesis is never touched.
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
};

}  // namespace ksim
