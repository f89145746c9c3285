// The persisted election state of one node: Kafka's `quorum-state` file.
//
// Raft's safety rests on three facts surviving any crash: the current epoch
// (so a node never goes back to an older epoch), whom it voted for in that
// epoch (so it never votes twice), and the leader it knows for the epoch. Kafka
// keeps them in a small JSON file next to the metadata log and rewrites it
// before a new vote, epoch or leader takes effect; so does ksim.
//
// Atomic replacement: write `quorum-state.tmp`, fsync it, rename it over
// `quorum-state`. The sim disk journals renames (durable at once), so after
// any crash or power failure the file is either the old or the new state,
// never a torn mixture. A file that does not parse (corrupted on the platter)
// fails the run with SimError — Kafka refuses to start on it, too.
#pragma once

#include <optional>
#include <string>

#include "engine/common/types.h"
#include "sim/disk.h"

namespace ksim::raft {

struct ElectionState {
  QuorumEpoch epoch{0};
  std::optional<sim::NodeId> voted_for;
  std::optional<sim::NodeId> leader;
  bool operator==(const ElectionState&) const = default;
};

class QuorumStateStore {
 public:
  explicit QuorumStateStore(sim::Disk& disk, std::string file = "quorum-state");
  // The stored state; epoch 0 with no vote and no leader if there is no file.
  // Reads through the disk (takes virtual time): call from the node's fiber.
  ElectionState load();
  // Durably replaces the stored state. On a disk error nothing changed.
  sim::DiskStatus store(const ElectionState& s);

  static std::string encode(const ElectionState& s);
  static std::optional<ElectionState> decode(const std::string& text);

 private:
  sim::Disk& disk_;
  std::string file_, tmp_;
};

}  // namespace ksim::raft
