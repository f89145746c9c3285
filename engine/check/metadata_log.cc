// lost-metadata: a metadata record the KRaft quorum had committed is gone —
// some node later committed a different entry at the same offset of
// __cluster_metadata. Raft promises this never happens; KIP-853 exists because
// it can when a voter is identified by its node id alone and comes back with
// an empty disk: it votes for a lagging candidate as if it still had the
// entries it helped commit, and the new leader's log overwrites them.
//
// The cluster records the first committed entry of every offset (epoch and
// content digest) and every later commit that differs (CheckInput).
#include "engine/check/checkers.h"

namespace ksim::check {

void check_metadata_log(const HistoryIndex& index, Verdict& out) {
  const CheckInput& in = index.input();
  if (in.metadata_losses.empty()) return;
  bool controller_wiped = false;
  for (const ClusterEvent& e : index.history().events())
    controller_wiped = controller_wiped || (e.type == EventType::fault && e.what.rfind("wipe", 0) == 0);
  for (const CheckInput::MetadataLoss& l : in.metadata_losses) {
    Anomaly a;
    a.kind = "lost-metadata";
    a.expected = !in.config.raft_directory_ids && controller_wiped;
    if (a.expected)
      a.cause = "ksim.raft.directory.id=false: a node whose disk was wiped still counted as the voter it had been";
    a.offsets = {l.offset};
    a.at_ns = l.later_at_ns;
    a.explanation = "__cluster_metadata offset " + std::to_string(l.offset) + " held " + l.first_summary +
                    " (raft epoch " + std::to_string(l.first_epoch) + "), committed on node " +
                    std::to_string(l.first_node) + " at " + fmt_time(l.first_at_ns) + "; node " +
                    std::to_string(l.later_node) + " later committed " + l.later_summary + " (raft epoch " +
                    std::to_string(l.later_epoch) + ") at the same offset, at " + fmt_time(l.later_at_ns) +
                    ": a committed metadata record disappeared.";
    out.add(std::move(a));
  }
}

}  // namespace ksim::check
