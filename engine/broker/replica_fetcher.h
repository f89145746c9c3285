// ReplicaFetcherManager: the follower side of replication (Kafka's
// ReplicaFetcherManager / ReplicaFetcherThread). One fetcher fiber per source
// (leader) broker fetches every partition this broker follows from it.
//
// A partition handed to a fetcher (new leader or new leader epoch) first
// TRUNCATES, then fetches:
//   * default (KIP-101 + KIP-279): ask the leader OffsetsForLeaderEpoch(our
//     latest epoch); if the leader's answer names the same epoch, truncate to
//     min(its end offset, ours for that epoch); if it names an older epoch,
//     truncate to our end of that epoch and ask again for it;
//   * ksim.offsets.for.leader.epoch=kip-101: the leader answers only an
//     offset; truncate to min(it, our log end) once;
//   * ksim.truncation.mode=high-watermark (pre-KIP-101): truncate to our
//     high watermark, no question asked.
// Fetching appends the leader's batches as they are and takes the leader's
// high watermark (bounded by our log end). Errors that mean "metadata is
// stale" (FENCED_LEADER_EPOCH, NOT_LEADER_OR_FOLLOWER, UNKNOWN_LEADER_EPOCH)
// back off and retry until the metadata log moves the partition.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <unordered_map>

#include "engine/clients/fetch_session_handler.h"
#include "engine/broker/partition.h"
#include "engine/broker/replica_manager.h"
#include "sim/sync.h"

namespace ksim {

class ReplicaFetcherManager {
 public:
  ReplicaFetcherManager(sim::World& world, sim::NodeId self, int32_t broker_id, const Config& config,
                        ReplicationSwitches switches, ReplicaManager& rm);

  // Follow `tp` from `leader` in `epoch` (truncating first).
  void add(const TopicPartition& tp, int32_t leader, LeaderEpoch epoch);
  void remove(const TopicPartition& tp);
  bool following(const TopicPartition& tp) const { return leader_of_.contains(tp); }
  uint64_t truncations() const { return truncations_; }

 private:
  enum class Phase : uint8_t { truncating, fetching };
  struct State {
    int32_t leader = -1;
    LeaderEpoch epoch = kNoEpoch;
    Phase phase = Phase::truncating;
    std::optional<LeaderEpoch> ask_epoch;  // next OffsetsForLeaderEpoch question
    PartitionLookup lookup;  // collect() builds every fetch from these (partition_lookup.h)
  };

  void run(int32_t leader);
  // Each returns whether it waited (network, disk or back-off): the loop must
  // never spin at one instant of virtual time.
  bool truncate(int32_t leader, const TopicPartition& tp);
  // The fetch of every fetching partition of `leader`, in partition order,
  // into `wanted`; with `truncating`, also those waiting to truncate.
  void collect(int32_t leader, std::vector<protocol::FetchPartition>& wanted, std::vector<TopicPartition>* truncating);
  // One Fetch of `wanted` (collect's, non-empty) and its answers.
  bool fetch(int32_t leader, const std::vector<protocol::FetchPartition>& wanted);
  void truncate_to(Partition& p, Offset offset, const char* why);

  sim::World& world_;
  sim::NodeId self_;
  int32_t broker_id_;
  // Read once: configuration lookups are string-keyed, fetching is hot.
  sim::Duration backoff_, socket_timeout_;
  int32_t wait_max_ms_, min_bytes_, max_bytes_, response_max_bytes_;
  ReplicationSwitches switches_;
  ReplicaManager& rm_;
  // The partitions followed, grouped by the leader they are fetched from:
  // each fetcher fiber walks only its own leader's map (a broker of a large
  // cluster follows hundreds of partitions from hundreds of leaders; walking
  // all of them per fetch made fetching quadratic). leader_of_ finds a
  // partition's group. Both change together, in add / remove / erase_state.
  std::map<int32_t, std::map<TopicPartition, State>> by_leader_;
  std::unordered_map<TopicPartition, int32_t, TopicPartitionHash> leader_of_;  // lookup only
  State* find_state(const TopicPartition& tp);
  void erase_state(const TopicPartition& tp);
  std::set<int32_t> fetchers_;  // leaders with a running fetcher fiber
  std::map<int32_t, FetchSessionHandler> sessions_;  // per leader: its incremental fetch session (KIP-227)
  sim::CondVar changed_;
  uint64_t generation_ = 0;  // bumped by add/remove: wakes an idle fetcher at once
  uint64_t truncations_ = 0;
  sim::KindId fetch_, ofle_;
};

}  // namespace ksim
