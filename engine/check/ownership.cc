// split-ownership: two members of one group own one partition in one
// generation. Ownership starts with an assignment (generation g) and ends with
// a revocation; a member that receives a newer generation carries its owned
// partitions into it (cooperative rebalances only list what they add). A
// member is (client, member id): a restarted client is a new member, and a
// crashed or evicted member keeps an older generation, so neither conflicts
// with the new owners (the zombie case is the commit fencing's and the
// poll-order checker's to judge).
#include <map>

#include "engine/check/checkers.h"

namespace ksim::check {

void check_ownership(const HistoryIndex& index, Verdict& out) {
  const History& h = index.history();
  struct Owner {
    int32_t client;
    std::string member;
    uint64_t op;
  };
  std::map<std::string, std::map<TopicPartition, Owner>> owners;        // group -> tp -> owner
  std::map<std::pair<int32_t, std::string>, int32_t> generation;      // (client, member) -> latest generation
  for (const Op& op : h.ops()) {
    if (op.group_id.empty()) continue;
    if (op.type == OpType::revoke) {
      auto& g = owners[op.group_id];
      for (const OffsetEntry& e : op.offsets) {
        auto it = g.find(e.tp);
        if (it != g.end() && it->second.client == op.client && it->second.member == op.member_id) g.erase(it);
      }
      continue;
    }
    if (op.type != OpType::assign) continue;
    generation[{op.client, op.member_id}] = op.generation;
    auto& g = owners[op.group_id];
    for (const OffsetEntry& e : op.offsets) {
      auto it = g.find(e.tp);
      // One client hosts one live member at a time: its own earlier member
      // (a restart, or a static member's replacement) is not a second owner.
      const bool another_client = it != g.end() && it->second.client != op.client;
      if (another_client && generation[{it->second.client, it->second.member}] == op.generation) {
        const Op& other = h.op(it->second.op);
        Anomaly a;
        a.kind = "split-ownership";
        a.tp = e.tp;
        a.ops = {other.id, op.id};
        a.at_ns = op.invoke_ns;
        a.explanation = e.tp.str() + " is owned by both " + other.client_name + " and " + op.client_name +
                        " in generation " + std::to_string(op.generation) + " of group '" + op.group_id + "'.\n  " +
                        describe_op(other) + "\n  " + describe_op(op);
        out.add(std::move(a));
      }
      g[e.tp] = Owner{op.client, op.member_id, op.id};
    }
  }
}

}  // namespace ksim::check
