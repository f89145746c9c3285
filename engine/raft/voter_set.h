// VoterSet: who votes in a KRaft quorum (KIP-853), and the VotersRecord that
// carries it in the metadata log.
//
// A voter is a ReplicaKey: (node id, directory id). The set a replica uses is
// the one in the LATEST VotersRecord in its log — committed or not, as Kafka's
// KRaftControlRecordStateMachine does: a change takes effect on append, and a
// truncation that removes the record reverts it. Before any VotersRecord the
// set is the bootstrap one (`kafka-storage format --initial-controllers`:
// Kafka writes it into the bootstrap checkpoint, not at a log offset, so
// ksim keeps it implicit and the log's offsets are unchanged).
//
// Invariants: ids are distinct and sorted; a set is never empty.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "engine/raft/directory_id.h"
#include "sim/world.h"

namespace ksim::raft {

struct VoterKey {
  sim::NodeId id;
  DirectoryId directory_id;
  bool operator==(const VoterKey&) const = default;
};

class VoterSet {
 public:
  VoterSet() = default;
  explicit VoterSet(std::vector<VoterKey> voters);

  const std::vector<VoterKey>& voters() const { return voters_; }
  std::vector<sim::NodeId> ids() const;
  size_t size() const { return voters_.size(); }
  bool has_id(sim::NodeId id) const { return find(id) != nullptr; }
  // KIP-853's match: the id is a voter's and (with directory ids) so is the directory.
  bool has_key(sim::NodeId id, DirectoryId dir, bool directory_ids) const;
  // The directory id recorded for voter `id` (the zero id if it is none).
  DirectoryId directory_of(sim::NodeId id) const;

  // VoterSet.addVoter / removeVoter: nullopt when the id is already a voter /
  // the key is not one, or when the set would be left empty.
  std::optional<VoterSet> with(VoterKey v) const;
  std::optional<VoterSet> without(VoterKey v) const;

  // The control entry's bytes: "VotersRecord(voters=1:<dir>,2:<dir>)".
  std::string encode() const;
  // nullopt if `data` is no VotersRecord.
  static std::optional<VoterSet> decode(const std::string& data);
  static bool is_voters_record(const std::string& data) { return data.rfind(kPrefix, 0) == 0; }

  bool operator==(const VoterSet&) const = default;

 private:
  static constexpr const char* kPrefix = "VotersRecord(voters=";
  const VoterKey* find(sim::NodeId id) const;
  std::vector<VoterKey> voters_;  // by id
};

}  // namespace ksim::raft
