// The bodies of KRaft's four RPCs, as ksim sends them over sim::Network
// (payloads are shared pointers to these structs; nothing is serialised).
// Message kinds: "Vote", "BeginQuorumEpoch", "EndQuorumEpoch", "MetadataFetch"
// (Kafka's Fetch on __cluster_metadata); a response travels under its
// request's kind, so a network rule on ("MetadataFetch", response) matches
// exactly the fetch answers.
//
// Every response carries the responder's (epoch, leader): that is how a node
// learns of a newer epoch or of the leader from whatever message reaches it
// first — KafkaRaftClient's maybeTransition().
#pragma once

#include <optional>
#include <vector>

#include "engine/common/errors.h"
#include "engine/common/types.h"
#include "engine/raft/directory_id.h"
#include "engine/raft/raft_log.h"
#include "sim/world.h"

namespace ksim::raft {

// What every response says about the responder's view of the quorum.
struct QuorumView {
  Errc error = Errc::NONE;
  QuorumEpoch epoch{0};
  std::optional<sim::NodeId> leader;
};

// A candidate asks for a vote in `candidate_epoch`, showing how up to date its
// log is: (epoch of its last entry, its log end offset).
struct VoteRequest {
  QuorumEpoch candidate_epoch;
  sim::NodeId candidate;
  QuorumEpoch last_epoch;
  Offset end_offset;
  // KIP-996: would you vote for me in candidate_epoch? Changes nothing on the
  // voter (no epoch bump, nothing persisted).
  bool pre_vote = false;
};
struct VoteResponse {
  QuorumView view;
  bool vote_granted = false;
};

// The new leader tells each voter it won `epoch`.
struct BeginQuorumEpochRequest {
  QuorumEpoch epoch;
  sim::NodeId leader;
};

// A resigning leader asks voters to elect someone else soon, most caught-up
// successors first (they wait the least before standing).
struct EndQuorumEpochRequest {
  QuorumEpoch epoch;
  sim::NodeId leader;
  std::vector<sim::NodeId> preferred_successors;
};

// Begin/EndQuorumEpoch answer with the view only.
struct EpochResponse {
  QuorumView view;
};

// A follower or observer pulls from `fetch_offset`; `last_fetched_epoch` is the
// epoch of its entry just below (0 when its log is empty). `epoch` is the
// fetcher's current epoch: the leader fences older ones.
struct FetchRequest {
  sim::NodeId replica;
  DirectoryId replica_directory_id;  // KIP-853: which replica of that node fetches
  QuorumEpoch epoch;
  Offset fetch_offset;
  QuorumEpoch last_fetched_epoch;
  sim::Duration max_wait;
};
struct FetchResponse {
  QuorumView view;
  Offset high_watermark{-1};              // -1: unknown
  std::optional<OffsetAndEpoch> diverging;  // set: truncate, then fetch again
  std::vector<RaftEntry> entries;           // from fetch_offset on
};

}  // namespace ksim::raft
