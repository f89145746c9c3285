// The sticky assignors (Kafka's AbstractStickyAssignor and its two faces).
//
// Goal, in order: (1) balance — partition counts differ by at most one when
// every member subscribes to the same topics; (2) stickiness — a member keeps
// as many of the partitions it had as balance allows.
//
// What a member "had" comes from its subscription: `sticky` (eager) carries
// the previous assignment and its generation in the user data (under eager
// rebalancing a member owns nothing while it rejoins), `cooperative-sticky`
// uses the subscription's owned_partitions and generation_id. Conflicting
// claims are resolved by generation: the highest wins; two claims in the same
// generation void both (the partition is reassigned from scratch).
//
// Constrained case (identical subscriptions), as Kafka's constrainedAssign:
// quotas min = P / N and max = ceil(P / N); members keep owned partitions up
// to max (only P % N members may reach max) else min; the rest are dealt to
// members under min first, then to members at min until P % N are at max.
// General case (different subscriptions): keep owned, deal each unassigned
// partition to the least-loaded subscribed member, then move partitions from
// the most to the least loaded eligible member while they differ by more than
// one. (Kafka's generalAssign explores reassignments more exhaustively; ksim's
// heuristic is balanced and sticky but may differ in which partitions move.)
//
// cooperative-sticky then removes from the result every partition that would
// change owner in this rebalance: its previous owner revokes it first, and a
// follow-up rebalance assigns it (KIP-429) — so no partition is ever owned by
// two members at once.
#pragma once

#include "engine/clients/assignor.h"

namespace ksim::clients {

class AbstractStickyAssignor : public PartitionAssignor {
 public:
  struct MemberData {
    std::vector<TopicPartition> partitions;
    int32_t generation = -1;
  };
  GroupAssignment assign(const PartitionsPerTopic& partitions_per_topic,
                         const std::vector<MemberSubscription>& members) override;

 protected:
  virtual MemberData member_data(const Subscription& s) const = 0;
  // The balanced, sticky assignment before any protocol-specific adjustment.
  GroupAssignment sticky_assign(const PartitionsPerTopic& partitions_per_topic,
                                const std::vector<MemberSubscription>& members) const;
};

class StickyAssignor final : public AbstractStickyAssignor {
 public:
  std::string name() const override { return "sticky"; }
  std::string subscription_user_data() const override;
  void on_assignment(const Assignment& assignment, int32_t generation) override;

  static std::string encode_user_data(const std::vector<TopicPartition>& partitions, int32_t generation);

 protected:
  MemberData member_data(const Subscription& s) const override;

 private:
  std::vector<TopicPartition> member_assignment_;
  int32_t generation_ = -1;
};

class CooperativeStickyAssignor final : public AbstractStickyAssignor {
 public:
  std::string name() const override { return "cooperative-sticky"; }
  std::vector<RebalanceProtocol> supported_protocols() const override {
    return {RebalanceProtocol::eager, RebalanceProtocol::cooperative};
  }
  GroupAssignment assign(const PartitionsPerTopic& partitions_per_topic,
                         const std::vector<MemberSubscription>& members) override;

 protected:
  MemberData member_data(const Subscription& s) const override { return {s.owned_partitions, s.generation_id}; }
};

}  // namespace ksim::clients
