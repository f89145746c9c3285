#include "engine/server/nemesis.h"

#include <algorithm>

#include "engine/check/history_index.h"
#include "engine/common/node_ids.h"

namespace ksim {

const std::vector<std::string>& Nemesis::all_kinds() {
  static const std::vector<std::string> kinds = {"crash",      "power_fail", "partition", "pause",
                                                 "disk_stall", "slow_disk",  "starve",    "unclean"};
  return kinds;
}

Nemesis::Nemesis(Cluster& cluster, std::vector<std::string> kinds, size_t max_active, const std::string& stream)
    : c_(cluster), kinds_(std::move(kinds)), rng_(cluster.world().rng(stream)), max_active_(std::max<size_t>(1, max_active)) {
  if (kinds_.empty()) kinds_ = {"crash", "partition", "pause", "starve"};
  for (const std::string& k : kinds_)
    if (std::find(all_kinds().begin(), all_kinds().end(), k) == all_kinds().end()) {
      std::string known;
      for (const auto& a : all_kinds()) known += (known.empty() ? "" : ", ") + a;
      throw ClusterError(Errc::INVALID_REQUEST, "unknown nemesis kind '" + k + "' (known: " + known + ")");
    }
}

int32_t Nemesis::random_broker() {
  const auto ids = c_.broker_ids();
  return ids[rng_.uniform(ids.size())];
}

std::string Nemesis::undo(size_t i) {
  if (i >= active_.size()) return "";
  const Active a = active_[i];
  active_.erase(active_.begin() + static_cast<std::ptrdiff_t>(i));
  const std::string who = "node " + std::to_string(a.node);
  if (a.kind == "crash" || a.kind == "power_fail") {
    if (!c_.world().is_up(sim_node_of(a.node))) c_.restart(a.node);
    return "restart " + who;
  }
  if (a.kind == "partition") {
    c_.heal();  // heals every partition: forget the others too
    active_.erase(std::remove_if(active_.begin(), active_.end(), [](const Active& x) { return x.kind == "partition"; }),
                  active_.end());
    return "heal";
  }
  if (a.kind == "disk_stall") {
    c_.disk_stall(a.node, false);
    return "unstall " + who;
  }
  if (a.kind == "slow_disk") {
    c_.slow_disk(a.node, 1.0);
    return "disk of " + who + " back to speed";
  }
  if (a.kind == "starve" && a.rule) {
    c_.world().network().release(*a.rule);
    return "release the held Fetch responses of " + who;
  }
  return "";  // pause and unclean end by themselves
}

std::string Nemesis::step() {
  if (!active_.empty() && (active_.size() >= max_active_ || rng_.uniform(2) == 0))
    return undo(rng_.uniform(active_.size()));
  const std::string kind = kinds_[rng_.uniform(kinds_.size())];
  const int32_t b = random_broker();
  if (!c_.world().is_up(sim_node_of(b))) return "";
  for (const Active& x : active_)
    if (x.node == b) return "";  // one fault per node at a time
  Active a{kind, b, std::nullopt};
  std::string did = kind + " node " + std::to_string(b);
  if (kind == "crash") {
    c_.crash(b);
  } else if (kind == "power_fail") {
    c_.power_fail(b);
  } else if (kind == "partition") {
    std::vector<int32_t> rest;
    for (int32_t id : c_.broker_ids())
      if (id != b) rest.push_back(id);
    for (int32_t id : c_.controller_ids())
      if (id != b && std::find(rest.begin(), rest.end(), id) == rest.end()) rest.push_back(id);
    c_.cut({{b}, rest});  // overlapping nemesis faults (max_active > 1) add up
  } else if (kind == "pause") {
    c_.pause(b, 200 + static_cast<int64_t>(rng_.uniform(3'000)));
  } else if (kind == "disk_stall") {
    c_.disk_stall(b, true);
  } else if (kind == "slow_disk") {
    c_.slow_disk(b, 20.0);
  } else if (kind == "starve") {
    auto& net = c_.world().network();
    a.rule = net.add_rule({.src = sim_node_of(b), .dst = std::nullopt, .kind = net.kind("FetchResponse"),
                           .dir = sim::Direction::response},
                          sim::RuleAction::hold, 0);
    did = "hold the Fetch responses of node " + std::to_string(b);
  } else if (kind == "unclean") {
    try {
      c_.elect_leaders(/*unclean=*/true);
    } catch (const ClusterError&) {
      return "";  // no partition needed one
    }
    return "unclean election";
  }
  if (kind != "pause") active_.push_back(a);
  return did;
}

void Nemesis::stop() {
  running_ = false;
  ++generation_;
  while (!active_.empty()) {
    const std::string did = undo(active_.size() - 1);
    if (!did.empty()) log_.push_back(check::fmt_time(c_.world().now().ns) + " " + did);
  }
}

void Nemesis::start(int64_t interval_ms) {
  if (interval_ms <= 0) throw ClusterError(Errc::INVALID_REQUEST, "nemesis interval_ms must be positive");
  if (std::find(kinds_.begin(), kinds_.end(), "unclean") != kinds_.end())
    throw ClusterError(Errc::INVALID_REQUEST, "the 'unclean' nemesis kind cannot run on a schedule; call "
                                              "elect_leaders(unclean=True) from the script instead");
  if (node_ < 0) node_ = c_.add_client("nemesis", [](const clients::ClientContext&) { return std::shared_ptr<void>(); }, "nemesis");
  running_ = true;
  interval_ms_ = interval_ms;
  const uint64_t gen = ++generation_;
  c_.world().schedule_after(sim_node_of(node_), sim::milliseconds(interval_ms_),
                            [this, gen, alive = std::weak_ptr<int>(alive_)] {
                              if (alive.lock() && gen == generation_) tick();
                            });
}

void Nemesis::tick() {
  if (!running_) return;
  const std::string did = step();
  if (!did.empty()) log_.push_back(check::fmt_time(c_.world().now().ns) + " " + did);
  const uint64_t gen = generation_;
  c_.world().schedule_after(sim_node_of(node_), sim::milliseconds(interval_ms_),
                            [this, gen, alive = std::weak_ptr<int>(alive_)] {
                              if (alive.lock() && gen == generation_) tick();
                            });
}

}  // namespace ksim
