// ReplicaPlacer: where the replicas of new partitions go.
//
// Kafka's classic assignment (AdminUtils.assignReplicasToBrokers, no racks):
// brokers sorted by id; a random start index and a random shift, both drawn
// from the simulation's seeded stream; partition p's first replica is broker
// (start + p) mod n, followers follow at an increasing shift so replicas of
// consecutive partitions spread. Leaders (first replicas) are balanced.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "sim/rng.h"

namespace ksim {

// Returns one replica list per partition, or an error message (Kafka's
// INVALID_REPLICATION_FACTOR wording) when there are not enough brokers.
struct Placement {
  std::vector<std::vector<int32_t>> replicas;
  std::string error;
};

Placement place_replicas(const std::vector<int32_t>& usable_brokers, int32_t partitions,
                         int32_t replication_factor, sim::Rng& rng, int32_t first_partition = 0);

}  // namespace ksim
