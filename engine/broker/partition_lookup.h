// PartitionLookup: a Partition* remembered with the ReplicaManager generation
// it was looked up at.
//
// Why: the hot paths of replication name the same partitions request after
// request — a leader reads every partition of a fetch session, a follower's
// fetcher builds every request from its partitions — and a hash probe per
// partition per request was a cache miss each. ReplicaManager bumps its
// generation at every add and remove of a partition, so a pointer looked up
// at generation g is valid while the generation is still g
// (ReplicaManager::get(tp, lookup) refreshes it otherwise). A cache, never an
// owner: nothing keeps a Partition alive through it.
#pragma once

#include <cstdint>

namespace ksim {

class Partition;

struct PartitionLookup {
  Partition* partition = nullptr;
  uint64_t generation = 0;  // 0: never looked up (generations start at 1)
};

}  // namespace ksim
