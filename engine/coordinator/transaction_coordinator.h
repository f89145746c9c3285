// TransactionCoordinator: transactions on a broker (Kafka's
// TransactionCoordinator + TransactionStateManager). README.md, "The
// transaction coordinator", has the state machine, the two transaction
// versions and the invariants.
//
// Requests: InitProducerId with a transactional.id, AddPartitionsToTxn (from
// producers under TV1, from partition leaders verifying a produce under TV2),
// AddOffsetsToTxn, EndTxn — each for a transactional id whose
// __transaction_state partition this broker leads (else NOT_COORDINATOR;
// while it loads, COORDINATOR_LOAD_IN_PROGRESS).
//
// Every state change goes through `write`: the new metadata is pending until
// its record is committed, then applied; requests meanwhile answer
// CONCURRENT_TRANSACTIONS. Completing a transaction (markers, then the
// Complete record) runs on a fiber of the broker, so it dies with the broker;
// the next coordinator finds the Prepare state when it loads and completes it.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "engine/broker/protocol.h"
#include "engine/broker/replica_manager.h"
#include "engine/common/config.h"
#include "engine/controller/metadata_image.h"
#include "engine/coordinator/coordinator_runtime.h"
#include "engine/coordinator/transaction_metadata.h"
#include "engine/coordinator/txn_marker_channel.h"

namespace ksim::coordinator {

// What `describe` tells about one transactional id (kafka-transactions.sh describe).
struct TxnDescription {
  std::string transactional_id;
  Errc error = Errc::NONE;  // NOT_COORDINATOR / COORDINATOR_LOAD_IN_PROGRESS / TRANSACTIONAL_ID_NOT_FOUND
  int32_t coordinator = -1;
  std::string state = "Dead";
  ProducerId producer_id = kNoProducerId;
  ProducerEpoch producer_epoch = kNoProducerEpoch;
  int32_t timeout_ms = 0;
  int64_t start_ms = -1;
  std::vector<TopicPartition> partitions;
};

class TransactionCoordinator {
 public:
  using Image = std::function<const MetadataImage&()>;
  using GenerateProducerId = std::function<std::pair<Errc, ProducerId>()>;  // blocks (KIP-730 block fetch)

  TransactionCoordinator(sim::World& world, sim::NodeId self, int32_t broker_id, const Config& config,
                         ReplicaManager& rm, Image image, GenerateProducerId generate);
  TransactionCoordinator(const TransactionCoordinator&) = delete;
  TransactionCoordinator& operator=(const TransactionCoordinator&) = delete;

  void start();  // the writer fiber and the timeout sweep (broker startup)

  // InitProducerId (only with a transactional.id), AddPartitionsToTxn, AddOffsetsToTxn, EndTxn.
  static bool handles(const std::string& api);
  // From a request handler fiber (may block: a producer id block fetch).
  void handle(const std::string& api, const sim::Incoming& in);

  // ---- hooks: metadata applier and replica manager (never block) -----------------------
  void on_partition_leader(const TopicPartition& tp, LeaderEpoch epoch);
  void on_partition_follower(const TopicPartition& tp);
  void on_hw_moved(const TopicPartition& tp) { runtime_.on_hw_moved(tp); }

  // 2 (KIP-890 complete) or 1 (ksim.transaction.protocol=v1).
  int8_t transaction_version() const { return version_; }
  int32_t partition_for(const std::string& transactional_id) const;
  TxnDescription describe(const std::string& transactional_id) const;
  const TxnMarkerChannel& markers() const { return channel_; }

 private:
  struct Shard {
    LeaderEpoch coordinator_epoch = kNoEpoch;
    std::map<std::string, TxnEntry> txns;
  };
  struct Ctx {
    int32_t partition = -1;
    uint64_t shard = 0;
  };

  void init_producer_id(const sim::Incoming& in);
  void add_partitions(const sim::Incoming& in);
  void add_offsets(const sim::Incoming& in);
  void end_txn(const sim::Incoming& in);

  // Adds `parts` to the producer's transaction (AddPartitionsToTxn / AddOffsetsToTxn).
  void add_to_transaction(const std::string& id, ProducerId pid, ProducerEpoch epoch,
                          const std::vector<TopicPartition>& parts, std::function<void(Errc)> reply);
  // Ongoing -> PrepareAbort under epoch + 1 (timeout, or a new incarnation's InitProducerId).
  void fence_and_abort(const Ctx& c, const std::string& id, const char* why);
  // Writes `next` as the new metadata of `id`; `done` runs once it is committed (applied) or failed.
  void write(const Ctx& c, const std::string& id, TxnMetadata next, std::function<void(Errc)> done);
  // PrepareCommit / PrepareAbort is committed: markers, then the Complete record (a fiber).
  void complete_transaction(const Ctx& c, const std::string& id);
  void sweep_timeouts();

  void replay(int32_t partition, Offset offset, const storage::RecordView& r);
  void loaded(int32_t partition);
  void unloaded(int32_t partition);

  std::pair<Ctx, Errc> target(const std::string& id) const;
  Shard* shard(const Ctx& c);
  TxnEntry* find(const Ctx& c, const std::string& id);
  void respond(const sim::Incoming& in, const char* kind, sim::Payload body, uint32_t size);
  int64_t now_ms() const { return world_.now().ns / 1'000'000; }

  sim::World& world_;
  sim::NodeId self_;
  int32_t broker_id_;
  const Config& config_;
  CoordinatorRuntime runtime_;
  Image image_;
  GenerateProducerId generate_;
  TxnMarkerChannel channel_;
  std::map<int32_t, Shard> shards_;
  int32_t num_partitions_, max_timeout_ms_, sweep_interval_ms_, offsets_partitions_;
  int8_t version_;
};

}  // namespace ksim::coordinator
