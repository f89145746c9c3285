// split-ownership: two members of one group own one partition in one
// generation. Ownership starts with an assignment (generation g) and ends with
// a revocation; a member that receives a newer generation carries its owned
// partitions into it. A crashed or evicted member keeps an older generation,
// so it never conflicts with the new owners (that is the zombie case, which
// the commit fencing and poll-order checkers judge).
#include <map>

#include "engine/check/checkers.h"

namespace ksim::check {

void check_ownership(const HistoryIndex& index, Verdict& out) {
  const History& h = index.history();
  struct Owner {
    int32_t client;
    uint64_t op;
  };
  std::map<std::string, std::map<TopicPartition, Owner>> owners;  // group -> tp -> owner
  std::map<int32_t, int32_t> generation;                          // client -> latest generation
  for (const Op& op : h.ops()) {
    if (op.group_id.empty()) continue;
    if (op.type == OpType::revoke) {
      auto& g = owners[op.group_id];
      for (const OffsetEntry& e : op.offsets) {
        auto it = g.find(e.tp);
        if (it != g.end() && it->second.client == op.client) g.erase(it);
      }
      continue;
    }
    if (op.type != OpType::assign) continue;
    generation[op.client] = op.generation;
    auto& g = owners[op.group_id];
    for (const OffsetEntry& e : op.offsets) {
      auto it = g.find(e.tp);
      if (it != g.end() && it->second.client != op.client && generation[it->second.client] == op.generation) {
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
      g[e.tp] = Owner{op.client, op.id};
    }
  }
}

}  // namespace ksim::check
