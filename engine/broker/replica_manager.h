// ReplicaManager: every partition replica of one broker, and the Produce /
// Fetch / OffsetsForLeaderEpoch / ListOffsets / WriteTxnMarkers handling on
// top of them.
//
// Purgatories (Kafka's DelayedProduce / DelayedFetch):
//   * an acks=all produce waits until the HW passes its batches (checked
//     whenever a follower fetch moves the HW) or its timeout; a
//     WriteTxnMarkers request waits the same way (its markers are acks=all
//     appends, timeout kWriteTxnMarkersTimeoutMs);
//   * a fetch that found less than fetch.min.bytes waits until data arrives
//     or fetch.max.wait.ms passes; it is then re-run by a request handler.
// ISR: AlterPartition requests go to the active controller, one in flight per
// partition; the periodic shrink check runs every replica.lag.time.max.ms / 2.
//
// Transactions (the data plane; the coordinator lives in engine/coordinator):
//   * read_committed fetches read up to the last stable offset (LSO) and are
//     told the aborted transactions overlapping what they got; every fetch
//     response reports the LSO; ListOffsets(latest, read_committed) is the LSO;
//   * WriteTxnMarkers appends COMMIT/ABORT control batches as leader and
//     answers once they are replicated (acks=all, min.insync.replicas);
//   * KIP-890: a transactional batch of a producer with no open transaction
//     in the partition is first verified with the transaction coordinator
//     (`verify_transaction`).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <unordered_map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "engine/broker/fetch_session.h"
#include "engine/broker/partition.h"
#include "engine/broker/protocol.h"
#include "engine/common/config.h"
#include "sim/sync.h"
#include "sim/network.h"
#include "sim/world.h"

namespace ksim {

// How long a WriteTxnMarkers request waits for its markers to be replicated
// (Kafka uses the broker's request.timeout.ms, default 30000).
inline constexpr int32_t kWriteTxnMarkersTimeoutMs = 30'000;

struct BrokerMetrics {
  uint64_t isr_shrinks = 0, isr_expands = 0;
  uint64_t produce_requests = 0, fetch_requests = 0, failed_produce = 0;
  uint64_t messages_in = 0, bytes_in = 0;
  // Parked fetches re-run before their deadline because a partition they
  // wait on changed (ksim's own count; Kafka exports none).
  uint64_t delayed_fetch_wakeups = 0;
};

class ReplicaManager {
 public:
  // `send_to_controller` sends a controller API request (AlterPartition) and
  // returns the reply (or a failure) — it blocks the calling fiber.
  using ControllerCall = std::function<sim::Reply(const std::string& api, sim::Payload body, uint32_t size)>;

  ReplicaManager(sim::World& world, sim::NodeId self, int32_t broker_id, const Config& config,
                 ReplicationSwitches switches);

  // ---- partitions -----------------------------------------------------------------
  Partition* get(const TopicPartition& tp);
  // The same through `lookup`, refreshed only if a partition was added or
  // removed since it was filled (partition_lookup.h).
  Partition* get(const TopicPartition& tp, PartitionLookup& lookup) {
    if (lookup.generation != partitions_generation_) {
      lookup.partition = get(tp);
      lookup.generation = partitions_generation_;
    }
    return lookup.partition;
  }
  const std::map<TopicPartition, std::unique_ptr<Partition>>& partitions() const { return partitions_; }
  void add(std::unique_ptr<Partition> p);
  void remove(const TopicPartition& tp);
  // min.insync.replicas for a topic (from metadata: topic config or broker default).
  std::function<int32_t(const std::string&)> min_isr_of;
  // Whether the metadata shows a broker unfenced and not shutting down: only
  // such a follower is proposed for the ISR (the controller would refuse it).
  std::function<bool(int32_t)> broker_usable;
  void set_controller_call(ControllerCall fn) { controller_call_ = std::move(fn); }
  void set_broker_epoch(int64_t e) { broker_epoch_ = e; }

  // ---- requests (called from request handler fibers) ----------------------------------
  // Each answers the request, now or later from a purgatory.
  void handle_produce(const sim::Incoming& in);
  void handle_fetch(const sim::Incoming& in, bool retry);
  void handle_offsets_for_leader_epoch(const sim::Incoming& in);
  void handle_list_offsets(const sim::Incoming& in);
  // WriteTxnMarkers (from a transaction coordinator): per marker and partition,
  // UNKNOWN_TOPIC_OR_PARTITION if no replica is here, NOT_LEADER_OR_FOLLOWER if
  // not led here, else the marker is appended as leader (AppendOrigin::coordinator:
  // INVALID_PRODUCER_EPOCH / TRANSACTION_COORDINATOR_FENCED / NOT_ENOUGH_REPLICAS
  // refuse it) and the answer waits like an acks=all produce.
  void handle_write_txn_markers(const sim::Incoming& in);

  // ---- transaction hooks (set by the broker; must not be called re-entrantly) --------
  // KIP-890 part 1: asked in handle_produce, before the role lock, for a
  // transactional batch of a request with a transactional.id when the
  // partition has no open transaction of that producer. It may block the
  // fiber (it asks the transaction coordinator); a result other than NONE
  // fails that partition with it, nothing appended. Unset: no verification
  // (ksim.transaction.protocol=v1).
  std::function<Errc(const std::string& transactional_id, ProducerId, ProducerEpoch, const TopicPartition&)>
      verify_transaction;
  // Called after a marker was appended here as leader (not yet replicated),
  // with its offset: the group coordinator completes transactional offset
  // commits of __consumer_offsets partitions from here. Must not block.
  std::function<void(const TopicPartition&, ProducerId, bool committed, Offset marker_offset)> marker_listener;
  // Whether a marker may be appended to `tp` now: false while the group
  // coordinator is still loading that __consumer_offsets partition (its replay
  // would miss the marker); the coordinator's marker channel retries.
  std::function<bool(const TopicPartition&)> marker_ready;
  // Client quotas (engine/broker/client_quota_manager.h), set by the
  // BrokerServer; unset: none. `produce_throttle` is called as a Produce is
  // answered (or, acks=0, handled): it records the request's size and returns
  // the throttle time (ms), having muted the connection when > 0.
  // `fetch_throttle` likewise for a consumer Fetch about to carry `bytes`:
  // > 0 means the answer goes out empty (the bytes were taken back).
  std::function<int32_t(const sim::Incoming& request)> produce_throttle;
  std::function<int32_t(const sim::Incoming& request, int64_t bytes)> fetch_throttle;
  // The most a consumer's Fetch may return under its quota (nullopt: no bound).
  std::function<std::optional<int64_t>(const sim::Incoming& request)> fetch_quota_bytes;

  // A partition changed role, ISR or HW outside a request (metadata applied):
  // complete waiting produces and wake waiting fetches that may now finish.
  void on_partition_changed(const TopicPartition& tp);

  // ---- periodic work (fibers of the broker) ---------------------------------------------
  void isr_shrink_pass();
  // Sends one pending AlterPartition (blocking); false if none was due.
  bool alter_partition_pass();
  // Requests a handler fiber re-run (fetch purgatory completions).
  std::function<void(sim::Incoming)> requeue;
  // Called whenever a partition's high watermark may have moved (the group
  // coordinator completes its acks=all appends from here). Must not block.
  std::function<void(const TopicPartition&)> hw_listener;
  // Someone other than a Produce appended to a partition we lead (the group
  // coordinator): wake the followers' fetches parked on it.
  void notify_appended(const TopicPartition& tp) { wake_fetches(tp); }

  BrokerMetrics metrics() const;
  // Open incremental fetch sessions and the partitions they hold.
  size_t fetch_sessions() const { return fetch_sessions_.size(); }
  size_t fetch_session_partitions() const { return fetch_sessions_.partitions_cached(); }

 private:
  // A Produce or a WriteTxnMarkers waiting for its appends to be replicated.
  struct DelayedProduce {
    sim::Incoming request;
    std::vector<protocol::ProducePartitionResponse> results;
    std::vector<Offset> required;  // per result: last offset + 1 to wait for (kNoOffset: done)
    std::vector<LeaderEpoch> epochs;  // the leader epoch each batch was appended in
    sim::Instant deadline;
    bool done = false;
    std::function<void(const DelayedProduce&)> respond;  // builds and sends the response
    bool is_produce = true;  // counted in failed_produce
    // Its request.timeout.ms expiry; cancelled when answered earlier, so a
    // busy broker does not carry one dead 30 s timer per produce.
    sim::TimerId expiry;
  };
  // Owned by delayed_fetch_ while parked. It leaves it in exactly two ways:
  // its expiry fires (expire_fetch) or data wakes it first (wake_fetches,
  // which cancels the expiry) — so the expiry's raw pointer is never stale.
  struct DelayedFetch {
    sim::Incoming request;
    std::vector<TopicPartition> partitions;
    sim::TimerId expiry;  // fetch.max.wait.ms
  };

  // Answers every delayed produce whose batches are committed, refused or expired.
  void try_complete_produce();
  // Parks `d` until its appends are replicated (or answers it now if nothing waits).
  void complete_or_park(const std::shared_ptr<DelayedProduce>& d, bool wait, int32_t timeout_ms);
  // KIP-890: whether batch `i` needs its transaction verified before the append.
  bool needs_verification(const protocol::ProduceRequest& req, size_t i) const;
  // Verifies each batch that needs it (blocks: asks the coordinator); NONE: append it.
  std::vector<Errc> verify_produce(const protocol::ProduceRequest& req);
  // The appends and the (delayed) response of a Produce, once verified
  // (`verified`: per batch, NONE to append; nullptr: nothing needed verifying).
  void produce(const sim::Incoming& in, const std::vector<Errc>* verified);
  void wake_fetches(const TopicPartition& tp);
  // fetch.max.wait.ms passed for `d` (parked in delayed_fetch_): re-run it.
  void expire_fetch(DelayedFetch* d);
  // Hands a parked fetch back to the request queue and keeps its object.
  void release_fetch(std::unique_ptr<DelayedFetch> d);
  // An incremental fetch's answer: only the session's partitions with news.
  void answer_incremental(FetchSession& session, protocol::FetchResponse& resp);
  void hw_moved(const TopicPartition& tp);
  void maybe_expand(Partition& p, int32_t follower);

  sim::World& world_;
  sim::NodeId self_;
  int32_t broker_id_;
  // Produce requests of a producer in verification, in arrival order (tickets):
  // they go on one at a time, so a later one never overtakes an earlier one.
  std::map<int64_t, std::deque<uint64_t>> verify_queue_;
  uint64_t next_verify_ticket_ = 0;
  std::unique_ptr<sim::CondVar> verified_cv_;
  Config config_;
  ReplicationSwitches switches_;
  int64_t broker_epoch_ = -1;
  std::map<TopicPartition, std::unique_ptr<Partition>> partitions_;
  // Lookup only (get() runs for every partition of every Fetch and Produce):
  // a hash probe instead of an ordered search of string compares.
  std::unordered_map<TopicPartition, Partition*, TopicPartitionHash> index_;
  // Bumped by add() and remove(): a Partition* remembered at generation g is
  // still this tp's while the generation is g (fetch sessions remember theirs,
  // so an incremental fetch skips a hash probe per session partition).
  uint64_t partitions_generation_ = 1;
  // answer_incremental's per-partition "has records" flags, kept between calls.
  std::vector<uint8_t> has_records_scratch_;
  std::vector<CachedPartition> reorder_scratch_;  // answer_incremental's new session order, kept
  // Spare buffers for an incremental fetch's snapshot of its session (a
  // handler that blocks keeps its own; another takes the next): a Fetch
  // reuses one instead of allocating. At most kSpareSnapshots are kept.
  static constexpr size_t kSpareSnapshots = 8;
  std::vector<std::vector<CachedPartition>> spare_snapshots_;
  // Incremental fetch sessions (KIP-227); in memory, so a restart forgets them.
  FetchSessionCache fetch_sessions_;
  std::vector<std::shared_ptr<DelayedProduce>> delayed_produce_;
  std::vector<std::unique_ptr<DelayedFetch>> delayed_fetch_;  // in the order they parked
  // Parked fetches' objects, kept for the next ones (two park per replicated
  // batch in a steady cluster: one allocation and a timer closure each, before).
  static constexpr size_t kSpareDelayedFetches = 16;
  std::vector<std::unique_ptr<DelayedFetch>> spare_delayed_fetch_;
  std::vector<std::unique_ptr<DelayedFetch>> ready_scratch_;  // wake_fetches' list, kept
  std::map<TopicPartition, std::vector<int32_t>> isr_changes_;  // queued AlterPartition targets
  ControllerCall controller_call_;
  BrokerMetrics metrics_;
  sim::KindId produce_resp_, fetch_resp_, ofle_resp_, list_offsets_resp_, write_txn_markers_resp_;
};

}  // namespace ksim
