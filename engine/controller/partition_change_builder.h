// PartitionChangeBuilder: the single place that decides a partition's next
// leader, ISR and ELR — for broker fencing and unfencing, AlterPartition,
// controlled shutdown and admin elections. See README.md, "Leader election".
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "engine/controller/metadata_image.h"

namespace ksim {

enum class Election : uint8_t {
  normal,     // keep a usable leader; otherwise elect (unclean only if allowed by config)
  preferred,  // move leadership to the first replica if it is a usable ISR member
  unclean,    // admin-forced: elect any usable replica if no ISR member can lead
};

struct ElectionOptions {
  bool unclean_allowed = false;  // unclean.leader.election.enable of the topic
  bool elr_enabled = true;       // ksim.eligible.leader.replicas (KIP-966)
  int32_t min_isr = 1;           // min.insync.replicas of the topic
  // PLANTED BUG (ksim.bug.unclean.without.permission): elect an out-of-sync
  // replica although unclean election is disabled, without marking it unclean.
  bool bug_unclean_without_permission = false;
};

// True when a normal election with no target ISR and no unclean shutdown
// leaves `current` as it is: its ISR is in replica order and every member
// usable, its leader is in it, and it has no ELR and no last known leader.
// build_partition_change checks this first and returns nullopt without
// building anything: the controller's tick asks it about every partition of
// the cluster, and nearly all of them are in this state nearly always.
bool partition_steady(const PartitionRegistration& current, const MetadataImage& image);

// The change to make to `current`, or nullopt if nothing changes.
// `target_isr`: the ISR the caller wants (nullopt: keep the current one);
// members that are not usable brokers are dropped from it.
// `unclean_shutdown_replica` (KIP-966, or -1): a broker re-registering after a
// shutdown it cannot prove clean. Its unflushed records may be gone, so it
// leaves the ISR and the ELR and cannot be elected by this change.
std::optional<PartitionChangeRecord> build_partition_change(int64_t topic_id, int32_t partition,
                                                            const PartitionRegistration& current,
                                                            const MetadataImage& image,
                                                            std::optional<std::vector<int32_t>> target_isr,
                                                            Election election, const ElectionOptions& opts,
                                                            int32_t unclean_shutdown_replica = -1);

}  // namespace ksim
