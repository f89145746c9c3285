#include "engine/coordinator/member_reconciler.h"

namespace ksim::coordinator {
namespace {

MemberStep compute_next(const ConsumerMember& m, int32_t target_epoch, const PartitionSet& target,
                        const std::optional<std::vector<TopicPartition>>& owned_reported,
                        const std::function<std::optional<std::string>(const TopicPartition&)>& owner) {
  PartitionSet kept, revoke, add;
  bool unreleased = false;
  for (const TopicPartition& tp : m.assigned) (target.count(tp) ? kept : revoke).insert(tp);
  for (const TopicPartition& tp : target) {
    if (m.assigned.count(tp)) continue;
    const std::optional<std::string> o = owner(tp);
    if (!o || *o == m.member_id)
      add.insert(tp);
    else
      unreleased = true;  // another member must revoke it first
  }
  // Kafka's ownsRevokedPartitions: a member that says what it owns and no
  // longer lists them has revoked them already (an eager classic member
  // rejoins owning nothing); without a list it must be asked to.
  bool owns_revoked = !owned_reported.has_value();
  if (owned_reported)
    for (const TopicPartition& tp : *owned_reported) owns_revoked |= revoke.count(tp) > 0;
  if (!revoke.empty() && owns_revoked) return MemberStep{m.member_epoch, MemberState::UnrevokedPartitions, kept, revoke};
  kept.insert(add.begin(), add.end());
  return MemberStep{target_epoch, unreleased ? MemberState::UnreleasedPartitions : MemberState::Stable, kept, {}};
}

}  // namespace

MemberStep reconcile_member(const ConsumerMember& m, int32_t target_epoch, const PartitionSet& target,
                            const std::optional<std::vector<TopicPartition>>& owned_reported,
                            const std::function<std::optional<std::string>(const TopicPartition&)>& owner) {
  const MemberStep same{m.member_epoch, m.state, m.assigned, m.pending_revocation};
  switch (m.state) {
    case MemberState::Stable:
      if (m.member_epoch != target_epoch) return compute_next(m, target_epoch, target, owned_reported, owner);
      return same;
    case MemberState::UnrevokedPartitions: {
      // Still holding any partition pending revocation? Then wait (revoke first).
      if (!owned_reported) return same;
      for (const TopicPartition& tp : *owned_reported)
        if (m.pending_revocation.count(tp)) return same;
      // Revoked: continue from what it kept, towards the (maybe newer) target.
      ConsumerMember revoked = m;
      revoked.pending_revocation.clear();
      revoked.state = MemberState::Stable;
      return compute_next(revoked, target_epoch, target, owned_reported, owner);
    }
    case MemberState::UnreleasedPartitions:
      // A newer target, or partitions released meanwhile.
      return compute_next(m, target_epoch, target, owned_reported, owner);
  }
  return same;
}

}  // namespace ksim::coordinator
