// The next step of one member towards its target assignment (Kafka's
// CurrentAssignmentBuilder). Revoke first, then assign:
//   * partitions the member has but the target does not are put pending
//     revocation, and the member keeps its epoch (UNREVOKED_PARTITIONS) and
//     gets nothing new until it reports (owned partitions in a heartbeat)
//     that it gave them up;
//   * partitions of the target another member still owns are withheld
//     (UNRELEASED_PARTITIONS, at the target epoch) until they are released;
//   * otherwise the member is STABLE at the target epoch with its target.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "engine/coordinator/consumer_group.h"

namespace ksim::coordinator {

struct MemberStep {
  int32_t epoch;
  MemberState state;
  PartitionSet assigned, pending_revocation;
  bool operator==(const MemberStep&) const = default;
};

// `owned_reported`: the partitions the member's request says it owns
// (nullopt: not reported). `owner`: who owns a partition now.
MemberStep reconcile_member(const ConsumerMember& m, int32_t target_epoch, const PartitionSet& target,
                            const std::optional<std::vector<TopicPartition>>& owned_reported,
                            const std::function<std::optional<std::string>(const TopicPartition&)>& owner);

}  // namespace ksim::coordinator
