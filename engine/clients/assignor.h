// Partition assignors: the pure function the group LEADER runs between
// JoinGroup and SyncGroup to split the subscribed topics' partitions among the
// members (Kafka's ConsumerPartitionAssignor). The coordinator only picks the
// assignor every member supports (first in the leader's preference order);
// the assignment itself happens in the leader consumer.
//
//   range               per topic, consecutive ranges to members in order
//                       (t has 3 partitions, members a, b: a gets 0,1; b gets 2)
//   roundrobin          all partitions of all topics dealt out one by one
//   sticky              balanced, and keeps as many previous assignments as it
//                       can (previous ones travel in the subscription's user data)
//   cooperative-sticky  sticky over the members' owned partitions, minus every
//                       partition that moves between members: those are first
//                       revoked by their owner and assigned in a follow-up
//                       rebalance (KIP-429's incremental protocol)
//
// Members are ordered as Kafka orders them (MemberInfo): members with a
// group.instance.id first, by instance id; then by member id. Every container
// is ordered, so the same input gives the same assignment, always.
// Invariant (asserted): each partition of a subscribed topic is given to at
// most one member, and only to a member subscribed to its topic.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/clients/consumer_protocol.h"
#include "engine/common/types.h"

namespace ksim::clients {

// KIP-429: eager revokes everything before rejoining; cooperative only what moves.
enum class RebalanceProtocol : uint8_t { eager, cooperative };
const char* rebalance_protocol_name(RebalanceProtocol p);

struct MemberSubscription {
  std::string member_id;
  std::optional<std::string> group_instance_id;
  Subscription subscription;
};

using PartitionsPerTopic = std::map<std::string, int32_t>;                   // topic -> partition count
using GroupAssignment = std::map<std::string, std::vector<TopicPartition>>;  // member id -> partitions

class PartitionAssignor {
 public:
  virtual ~PartitionAssignor() = default;
  virtual std::string name() const = 0;
  // Protocols this assignor can run under, most preferred last (as Kafka lists them).
  virtual std::vector<RebalanceProtocol> supported_protocols() const { return {RebalanceProtocol::eager}; }
  // The leader's computation. Topics missing from `partitions_per_topic` are
  // unknown (no metadata) and assigned to nobody. Every member gets an entry.
  virtual GroupAssignment assign(const PartitionsPerTopic& partitions_per_topic,
                                 const std::vector<MemberSubscription>& members) = 0;
  // What this member tells the leader besides its topics (sticky: its last assignment).
  virtual std::string subscription_user_data() const { return {}; }
  // This member received its assignment for `generation`.
  virtual void on_assignment(const Assignment& /*assignment*/, int32_t /*generation*/) {}
};

// By Kafka's short name ("range", "roundrobin", "sticky", "cooperative-sticky");
// nullptr for an unknown name.
std::unique_ptr<PartitionAssignor> make_assignor(const std::string& name);

// Members in Kafka's MemberInfo order.
std::vector<const MemberSubscription*> sorted_members(const std::vector<MemberSubscription>& members);
// Asserts the invariant above; returns the assignment with each list sorted.
GroupAssignment checked_assignment(GroupAssignment a, const PartitionsPerTopic& partitions_per_topic,
                                   const std::vector<MemberSubscription>& members);

class RangeAssignor final : public PartitionAssignor {
 public:
  std::string name() const override { return "range"; }
  GroupAssignment assign(const PartitionsPerTopic& partitions_per_topic,
                         const std::vector<MemberSubscription>& members) override;
};

class RoundRobinAssignor final : public PartitionAssignor {
 public:
  std::string name() const override { return "roundrobin"; }
  GroupAssignment assign(const PartitionsPerTopic& partitions_per_topic,
                         const std::vector<MemberSubscription>& members) override;
};

}  // namespace ksim::clients
