// split-ownership: two members of one group own one partition in one
// generation. Ownership starts with an assignment (generation g) and ends with
// a revocation; a member that receives a newer generation carries its owned
// partitions into it (cooperative rebalances only list what they add). A
// member is (client, member id): a restarted client is a new member, and a
// crashed or evicted member keeps an older generation, so neither conflicts
// with the new owners (the zombie case is the commit fencing's and the
// poll-order checker's to judge). A static member (KIP-345) replaced by a
// new instance on another client — the same group.instance.id — is no second
// owner either: Kafka hands the replacement the same generation and fences
// the old instance (FENCED_INSTANCE_ID) at its next request.
//
// Consumer (KIP-848) groups (assign detail `consumer:<assignor>`): member
// epochs differ between members by design, so "one generation" does not
// apply; the coordinator promises that a partition goes to a new member only
// once its owner revoked it or was fenced (a `member_fenced` event). Another
// client's live, unfenced owner is a second owner whatever the epochs.
//
// Incarnations: a coordinator that creates a group it has no state for (a
// `group_created` event) after the group existed has lost that state — its
// __consumer_offsets partition lost the group's records — and generations
// start over from 1, so an old member and a new one can both hold "generation
// 1". Two owners in one generation of different incarnations are still
// reported (they did read the partition at once), as expected when the fault
// model permits the loss of the __consumer_offsets partition's committed
// records (power failures, an unclean election), as a violation otherwise.
#include <map>
#include <string>
#include <vector>

#include "engine/check/checkers.h"
#include "engine/check/fault_model.h"

namespace ksim::check {

namespace {

struct Creation {
  int64_t at_ns;
  int32_t coordinator;
  TopicPartition offsets_tp;
};

// The group's creations before `at_ns` (the op's incarnation is their count).
size_t incarnation(const std::vector<Creation>& created, int64_t at_ns) {
  size_t n = 0;
  while (n < created.size() && created[n].at_ns <= at_ns) ++n;
  return n;
}

}  // namespace

void check_ownership(const HistoryIndex& index, Verdict& out) {
  const History& h = index.history();
  std::map<std::string, std::vector<Creation>> created;  // group id -> creations, in time order
  for (const ClusterEvent& e : h.events())
    if (e.type == EventType::group_created) created[e.what].push_back(Creation{e.at_ns, e.node, e.tp});
  std::map<std::pair<std::string, std::string>, int64_t> fenced;  // (group, member) -> first fenced at
  for (const ClusterEvent& e : h.events())
    if (e.type == EventType::member_fenced) fenced.try_emplace({e.what, e.member}, e.at_ns);
  static const std::vector<Creation> kNone;
  // Lookups only (never iterated into output): keyed by Syms and partition ids.
  struct Owner {
    int32_t client;
    Sym member;
    uint64_t op;
    size_t incarnation;
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
    const auto c = created.find(std::string(op.group_id()));
    const std::vector<Creation>& creations = c == created.end() ? kNone : c->second;
    const size_t inc = incarnation(creations, op.invoke_ns());
    for (uint64_t i = rec.items.begin; i < rec.items.end; ++i) {
      const uint32_t tp_id = h.offset_entry(i).tp;
      const TopicPartition& tp = h.tp(tp_id);
      auto it = g.find(tp_id);
      // One client hosts one live member at a time: its own earlier member
      // (a restart, or a static member's replacement) is not a second owner.
      const bool another_client = it != g.end() && it->second.client != op.client();
      const bool static_replacement =
          another_client && op.instance_sym() != 0 && h.op(it->second.op).instance_sym() == op.instance_sym();
      bool conflict =
          another_client && !static_replacement && generation[{it->second.client, it->second.member}] == op.generation();
      if (another_client && !static_replacement && op.detail().starts_with("consumer:")) {
        const OpView prev = h.op(it->second.op);
        auto f = fenced.find({std::string(op.group_id()), std::string(prev.member_id())});
        conflict = f == fenced.end() || f->second > op.invoke_ns();
      }
      if (conflict) {
        const OpView other = h.op(it->second.op);
        Anomaly a;
        a.kind = "split-ownership";
        a.tp = tp;
        a.ops = {other.id(), op.id()};
        a.at_ns = op.invoke_ns();
        const std::string when = op.detail().starts_with("consumer:")
                                     ? " at member epochs " + std::to_string(other.generation()) + " and " +
                                           std::to_string(op.generation())
                                     : " in generation " + std::to_string(op.generation());
        a.explanation = tp.str() + " is owned by both " + std::string(other.client_name()) + " and " +
                        std::string(op.client_name()) + when + " of group '" + std::string(op.group_id()) + "'.\n  " + describe_op(other) + "\n  " +
                        describe_op(op);
        if (it->second.incarnation != inc && inc > 0) {
          // Re-created after the earlier owner's assignment: the state was lost.
          const Creation& re = creations[inc - 1];
          const std::string cause = permitted_committed_loss(index, re.offsets_tp, other.invoke_ns());
          a.explanation += "\n  The group's coordinator (broker " + std::to_string(re.coordinator) +
                           ") created the group anew at " + fmt_time(re.at_ns) + ": its state in " +
                           re.offsets_tp.str() + " was lost, and generations started over.";
          if (!cause.empty()) {
            a.expected = true;
            a.cause = "the group's state in " + re.offsets_tp.str() + " was lost: " + cause;
          }
          a.explanation += a.expected ? "\n  Permitted: " + a.cause + "."
                                      : "\n  Nothing permitted that loss: a violation.";
        }
        out.add(std::move(a));
      }
      g[tp_id] = Owner{op.client(), op.member_sym(), op.id(), inc};
    }
  }
}

}  // namespace ksim::check
