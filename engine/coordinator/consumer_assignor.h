// Server-side assignors of consumer (KIP-848) groups: the broker computes
// the target assignment (Kafka's UniformAssignor and RangeAssignor of
// org.apache.kafka.coordinator.group.assignor). Pure functions of their
// input: members in member-id order, topics and partitions in name order.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>

#include "engine/coordinator/consumer_group.h"

namespace ksim::coordinator {

struct AssignorMember {
  std::set<std::string> topics;  // subscribed
  PartitionSet current;          // its current target (stickiness)
};
// member id -> what it subscribes to and has now.
using AssignorInput = std::map<std::string, AssignorMember>;
// topic -> partition count (topics that do not exist are absent).
using TopicCounts = std::map<std::string, int32_t>;

// uniform: every member subscribed to a topic may get its partitions;
// balanced (counts differ by at most one among members with the same
// subscription) and sticky (a member keeps what it had up to its quota).
std::map<std::string, PartitionSet> assign_uniform(const AssignorInput& members, const TopicCounts& topics);
// range: per topic, its subscribers in member-id order get consecutive ranges
// (the first `partitions % members` one more), as the classic RangeAssignor.
std::map<std::string, PartitionSet> assign_range(const AssignorInput& members, const TopicCounts& topics);
// By name ("uniform" | "range"); false for an unknown name.
bool assign_by_name(const std::string& name, const AssignorInput& members, const TopicCounts& topics,
                    std::map<std::string, PartitionSet>* out);

}  // namespace ksim::coordinator
