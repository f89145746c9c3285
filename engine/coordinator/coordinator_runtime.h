// CoordinatorRuntime: the part of the group coordinator that deals with its
// log, __consumer_offsets (Kafka's CoordinatorRuntime + CoordinatorLoader).
//
// It knows which partitions of the topic this broker serves ("shards"):
//
//            became leader (epoch e)       replayed to the log end
//   (none) ───────────────────────► LOADING ───────────────────────► ACTIVE
//     ▲                                │                                │
//     └──── resigned / new epoch ──────┴────────────────────────────────┘
//
// and does their I/O on ONE writer fiber per broker, in the order the jobs
// were queued:
//   * load: read the partition from its start to its end, hand every record
//     to the `replay` hook, then mark the shard ACTIVE (`loaded` hook);
//   * append: as leader, with acks=all semantics — `on_appended(base offset)`
//     runs right after the append, `done(error)` once the high watermark
//     passed the records (Errc::NONE), or the append failed, leadership was
//     lost, or offsets.commit.timeout.ms passed. Errors are mapped as Kafka's
//     coordinator maps them for the group APIs.
// Each shard has an id that changes whenever it is (re)loaded, so a job or a
// callback of an older shard is recognised and refused. Hooks from the
// metadata applier (became leader / resigned) and from the replica manager
// (HW moved) never block.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "engine/broker/replica_manager.h"
#include "engine/common/config.h"
#include "engine/storage/record_batch.h"
#include "sim/sync.h"
#include "sim/world.h"

namespace ksim::coordinator {

// Kafka's appendGroupMetadataErrorToResponseError.
Errc map_append_error(Errc e);

class CoordinatorRuntime {
 public:
  struct Hooks {
    // A record of partition `p` at log offset `offset`, replayed during a load
    // (with its batch: producer id, transactional and control flags).
    std::function<void(int32_t p, Offset offset, const storage::RecordView& r, const storage::RecordBatch& b)> replay;
    std::function<void(int32_t p)> loaded;    // LOADING -> ACTIVE
    std::function<void(int32_t p)> unloaded;  // the shard is gone (resigned, or reloading)
  };

  CoordinatorRuntime(sim::World& world, sim::NodeId self, ReplicaManager& rm, std::string topic,
                     int64_t commit_timeout_ms);
  void set_hooks(Hooks h) { hooks_ = std::move(h); }
  void start();  // the writer fiber (on the broker's node) starts with the first job

  // ---- from the metadata applier and the replica manager (never block) ----------------
  void on_became_leader(int32_t partition, LeaderEpoch epoch);
  void on_resigned(int32_t partition);
  void on_hw_moved(const TopicPartition& tp);

  // ---- queries --------------------------------------------------------------------------
  const std::string& topic() const { return topic_; }
  // NONE (ACTIVE), COORDINATOR_LOAD_IN_PROGRESS (LOADING) or NOT_COORDINATOR.
  Errc status(int32_t partition) const;
  // The current shard's id (0: not served here).
  uint64_t shard_id(int32_t partition) const;
  Offset high_watermark(int32_t partition) const;
  std::vector<int32_t> active_partitions() const;

  // ---- appends ----------------------------------------------------------------------------
  // Queues an append of `records` for shard `shard` of `partition`. Both
  // callbacks run later (never inside this call); on_appended may be empty.
  // `params`: the batch's producer fields (transactional offset commits carry
  // the producer's id and epoch so that its markers commit or abort them).
  void append(int32_t partition, uint64_t shard, std::vector<storage::Record> records,
              std::function<void(Offset base)> on_appended, std::function<void(Errc)> done,
              storage::BatchParams params = {});

 private:
  enum class ShardState : uint8_t { loading, active };
  struct Shard {
    uint64_t id = 0;
    LeaderEpoch epoch = kNoEpoch;
    ShardState state = ShardState::loading;
  };
  struct Job {
    bool load = false;
    int32_t partition = 0;
    uint64_t shard = 0;
    std::vector<storage::Record> records;
    storage::BatchParams params;
    std::function<void(Offset)> on_appended;
    std::function<void(Errc)> done;
  };
  struct Pending {
    int32_t partition;
    uint64_t shard;
    Offset required;  // last offset + 1
    sim::Instant deadline;
    std::function<void(Errc)> done;
  };

  void push(Job j);
  void writer();
  void do_load(const Job& job);
  void do_append(Job& job);
  bool current(int32_t partition, uint64_t shard) const;
  void unload(int32_t partition);
  // Completes the pending appends of `partition` (-1: all) that are decided.
  void check_pending(int32_t partition);
  TopicPartition tp(int32_t p) const { return TopicPartition{topic_, p}; }

  sim::World& world_;
  sim::NodeId self_;
  ReplicaManager& rm_;
  std::string topic_;
  int64_t commit_timeout_ms_;
  Hooks hooks_;
  std::map<int32_t, Shard> shards_;
  uint64_t next_shard_id_ = 1;
  sim::Channel<Job> jobs_;
  bool started_ = false, writer_running_ = false;
  std::vector<Pending> pending_;
};

}  // namespace ksim::coordinator
