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
  // Lookups only (never iterated into output): keyed by Syms and partition ids.
  struct Owner {
    int32_t client;
    Sym member;
    uint64_t op;
  };
  std::map<Sym, std::map<uint32_t, Owner>> owners;             // group -> tp -> owner
  std::map<std::pair<int32_t, Sym>, int32_t> generation;      // (client, member) -> latest generation
  for (uint64_t id = 0; id < h.size(); ++id) {
    const OpRecord& rec = h.rec(id);
    if (rec.type() != OpType::revoke && rec.type() != OpType::assign) continue;
    const OpView op = h.op(id);
    if (op.group_sym() == 0) continue;  // "": no group
    if (op.type() == OpType::revoke) {
      auto& g = owners[op.group_sym()];
      for (uint64_t i = rec.items.begin; i < rec.items.end; ++i) {
        auto it = g.find(h.offset_entry(i).tp);
        if (it != g.end() && it->second.client == op.client() && it->second.member == op.member_sym()) g.erase(it);
      }
      continue;
    }
    generation[{op.client(), op.member_sym()}] = op.generation();
    auto& g = owners[op.group_sym()];
    for (uint64_t i = rec.items.begin; i < rec.items.end; ++i) {
      const uint32_t tp_id = h.offset_entry(i).tp;
      const TopicPartition& tp = h.tp(tp_id);
      auto it = g.find(tp_id);
      // One client hosts one live member at a time: its own earlier member
      // (a restart, or a static member's replacement) is not a second owner.
      const bool another_client = it != g.end() && it->second.client != op.client();
      if (another_client && generation[{it->second.client, it->second.member}] == op.generation()) {
        const OpView other = h.op(it->second.op);
        Anomaly a;
        a.kind = "split-ownership";
        a.tp = tp;
        a.ops = {other.id(), op.id()};
        a.at_ns = op.invoke_ns();
        a.explanation = tp.str() + " is owned by both " + std::string(other.client_name()) + " and " +
                        std::string(op.client_name()) + " in generation " + std::to_string(op.generation()) +
                        " of group '" + std::string(op.group_id()) + "'.\n  " + describe_op(other) + "\n  " +
                        describe_op(op);
        out.add(std::move(a));
      }
      g[tp_id] = Owner{op.client(), op.member_sym(), op.id()};
    }
  }
}

}  // namespace ksim::check
