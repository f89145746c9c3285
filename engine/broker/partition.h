// Partition: one replica of one topic-partition on one broker (Kafka's
// kafka.cluster.Partition). It owns the replica's log and, while this broker
// leads the partition, the leader's replication state: the ISR (committed and
// pending), every follower's log end offset and last caught-up time, and the
// high watermark. States, invariants and the acks rules: README.md.
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "engine/broker/protocol.h"
#include "engine/controller/metadata_image.h"
#include "engine/storage/unified_log.h"
#include "sim/sync.h"
#include "sim/world.h"

namespace ksim {

// ksim's history switches that concern a partition (see design.md).
struct ReplicationSwitches {
  bool fetch_epoch_validation = true;  // ksim.fetch.leader.epoch.validation (KIP-320)
  bool hw_includes_pending_isr = true;  // ksim.hw.includes.pending.isr (KIP-497 maximal ISR)
  bool kip279 = true;                   // ksim.offsets.for.leader.epoch
  bool truncate_by_epoch = true;        // ksim.truncation.mode (false: pre-KIP-101, to the HW)
  bool elr = true;                      // ksim.eligible.leader.replicas (KIP-966, with its strict min ISR)
  // Planted bugs (ksim.bug.*), for checker validation only.
  bool bug_ack_before_isr = false;         // acks=all answered at append
  bool bug_hw_is_leader_leo = false;       // the leader's HW is its log end offset
  bool bug_follower_never_truncates = false;
  bool bug_read_past_hw = false;           // consumer fetches go up to the log end
};

class Partition {
 public:
  Partition(sim::World& world, int32_t local_broker, TopicPartition tp, std::unique_ptr<storage::UnifiedLog> log,
            ReplicationSwitches switches);

  const TopicPartition& tp() const { return tp_; }
  storage::UnifiedLog& log() { return *log_; }
  const storage::UnifiedLog& log() const { return *log_; }
  bool is_leader() const { return leader_ == local_; }
  int32_t leader() const { return leader_; }
  LeaderEpoch leader_epoch() const { return leader_epoch_; }
  int32_t partition_epoch() const { return partition_epoch_; }
  const std::vector<int32_t>& replicas() const { return replicas_; }
  const std::vector<int32_t>& isr() const { return isr_; }
  const std::optional<std::vector<int32_t>>& pending_isr() const { return pending_isr_; }
  Offset high_watermark() const { return log_->high_watermark(); }
  // min(HW, first offset of the earliest transaction still open, or decided
  // with its marker not yet below the HW): read_committed consumers read below
  // it (Kafka's lastStableOffset).
  Offset last_stable_offset() const { return log_->last_stable_offset(); }
  Offset log_end_offset() const { return log_->log_end_offset(); }
  // What the leader knows of each follower's log end offset.
  std::map<int32_t, Offset> follower_end_offsets() const;

  // ---- metadata (from the metadata log) ---------------------------------------
  // Becomes leader for a (new) leader epoch: stamps the epoch in the epoch cache
  // and resets the followers' states. Returns a storage error if it cannot.
  Errc make_leader(const PartitionRegistration& reg, sim::Instant now);
  void make_follower(const PartitionRegistration& reg);
  // Same leader epoch, new ISR / partition epoch (an AlterPartition committed).
  void update_isr(const std::vector<int32_t>& isr, int32_t partition_epoch);
  // The topic's min.insync.replicas (with ELR, the HW does not move while the
  // ISR is below it: KIP-966's strict min ISR).
  void set_min_isr(int32_t n) { min_isr_ = n; }

  // ---- leader: produce ---------------------------------------------------------------
  // min_isr: the topic's min.insync.replicas; acks -1 checks it before appending.
  // origin coordinator: a transaction marker or a coordinator's transactional
  // write (producer epoch checked, no sequence: UnifiedLog::append_as_leader).
  storage::Result<storage::LogAppendInfo> append_as_leader(
      const storage::BatchPtr& batch, int16_t acks, int32_t min_isr,
      storage::AppendOrigin origin = storage::AppendOrigin::client);
  // acks=all: NONE once the HW passed `required_offset` with enough ISR members,
  // NOT_ENOUGH_REPLICAS_AFTER_APPEND if the ISR shrank below min_isr, nullopt: wait.
  std::optional<Errc> check_enough_replicas_reach(Offset required_offset, int32_t min_isr) const;

  // ---- leader: fetch -----------------------------------------------------------------
  // Validates a fetch of a follower or a consumer (epoch fencing, KIP-320).
  Errc validate_fetch_epoch(LeaderEpoch current_leader_epoch) const;
  // A follower fetched at `fetch_offset` (its log end offset): update its state,
  // the ISR candidates and the high watermark. Returns true if the HW moved.
  bool on_follower_fetch(int32_t follower, Offset fetch_offset, sim::Instant now);
  // OffsetsForLeaderEpoch on the leader (KIP-279, or KIP-101's answer when switched off).
  protocol::OffsetForLeaderEpochResult end_offset_for_epoch(LeaderEpoch epoch) const;

  // ---- leader: ISR maintenance --------------------------------------------------------
  // Followers out of sync for longer than `lag` (replica.lag.time.max.ms).
  std::optional<std::vector<int32_t>> isr_after_shrink(sim::Instant now, sim::Duration lag) const;
  // The ISR with `follower` added, if it has caught up (>= HW and >= the start of this epoch).
  std::optional<std::vector<int32_t>> isr_after_expand(int32_t follower) const;
  // An AlterPartition for `isr` is in flight (at most one at a time).
  void set_pending_isr(std::vector<int32_t> isr) { pending_isr_ = std::move(isr); }
  void clear_pending_isr() { pending_isr_.reset(); }
  // Recomputes the HW over the maximal ISR; true if it moved (it never goes back).
  bool maybe_increment_hw();

  // ISR changes applied while this replica led (Kafka's IsrShrinksPerSec /
  // IsrExpandsPerSec count them on the leader).
  uint64_t isr_shrinks() const { return isr_shrinks_; }
  uint64_t isr_expands() const { return isr_expands_; }

  // ---- follower ------------------------------------------------------------------------
  void follower_update_hw(Offset leader_hw);

  // Serialises role changes with the fetcher's truncations and appends (Kafka's
  // leaderIsrUpdateLock): a follower append never lands after the replica
  // became leader.
  sim::Mutex& role_lock() { return role_lock_; }

 private:
  struct Remote {
    Offset log_end_offset = kNoOffset;
    sim::Instant last_caught_up{-1};
    Offset last_fetch_leader_leo = kNoOffset;
    sim::Instant last_fetch_time{-1};
  };
  // Whether `pred` holds for every member of the maximal ISR, walked in place
  // (the HW computation runs on every follower fetch). Kafka's maximal ISR:
  // during an expansion the new (larger) set, during a shrink the old
  // (larger) set — the HW must hold for either outcome.
  template <class Pred>
  bool all_of_maximal_isr(Pred pred) const {
    for (int32_t b : isr_)
      if (!pred(b)) return false;
    if (!pending_isr_ || !switches_.hw_includes_pending_isr) return true;
    for (int32_t b : *pending_isr_)
      if (std::find(isr_.begin(), isr_.end(), b) == isr_.end() && !pred(b)) return false;
    return true;
  }

  sim::World& world_;
  int32_t local_;
  TopicPartition tp_;
  std::unique_ptr<storage::UnifiedLog> log_;
  ReplicationSwitches switches_;
  std::vector<int32_t> replicas_, isr_;
  std::optional<std::vector<int32_t>> pending_isr_;
  int32_t leader_ = -1;
  LeaderEpoch leader_epoch_ = kNoEpoch;
  int32_t partition_epoch_ = -1;
  Offset leader_epoch_start_offset_ = kNoOffset;
  // The other replicas' fetch state (the leader's view). A handful of
  // entries read on every follower fetch: a flat array, scanned.
  std::vector<std::pair<int32_t, Remote>> remotes_;
  Remote* remote(int32_t id) {
    for (auto& [b, r] : remotes_)
      if (b == id) return &r;
    return nullptr;
  }
  const Remote* remote(int32_t id) const { return const_cast<Partition*>(this)->remote(id); }
  sim::Mutex role_lock_;
  uint64_t isr_shrinks_ = 0, isr_expands_ = 0;
  int32_t min_isr_ = 1;
};

}  // namespace ksim
