// Cluster: a whole simulated Kafka cluster in one sim::World — the C++ face of
// ksim that the Python module and the tests drive.
//
// Nodes are numbered like node.ids: brokers 1..N; with `controllers = K`,
// dedicated KRaft controllers N+1..N+K; without, the first min(3, N) brokers
// are also controllers (combined mode). Client processes (the admin client,
// producers, consumers) are nodes after those.
//
// Calls that talk to the cluster (create_topic, produce, ...) run the
// simulation until they get their answer, as a blocking client would, and
// throw ClusterError (with Kafka's error name) when the answer is an error.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "engine/check/check_input.h"
#include "engine/check/history.h"
#include "engine/check/verdict.h"
#include "engine/storage/unified_log.h"
#include "engine/clients/client_runtime.h"
#include "engine/common/config.h"
#include "engine/common/errors.h"
#include "engine/coordinator/group_coordinator.h"
#include "engine/server/kafka_node.h"
#include "engine/server/log_peek.h"
#include "engine/server/step_series.h"
#include "sim/world.h"

namespace ksim {

class ClusterError : public std::runtime_error {
 public:
  ClusterError(Errc e, const std::string& message) : std::runtime_error(message), error_(e) {}
  Errc error() const { return error_; }

 private:
  Errc error_;
};

struct ClusterOptions {
  uint64_t seed = 1;
  int32_t brokers = 3;
  int32_t controllers = 0;  // 0: combined mode
  Config::Map config;       // broker configs (Kafka keys) and ksim.* switches
  bool record_trace_hashes = false;
  // Check the cluster invariants online, after every driver step (cheap ones)
  // and every 100 virtual ms (replica logs below the HW); a violation stops the
  // run with a SimError naming the seed, the virtual time and the last events.
  bool online_invariants = false;
  // The metrics (and, up to 2,000 partitions, every partition's state) are
  // sampled every this many virtual ms (0: never) into step-function series
  // bounded by thinning (engine/server/step_series.h).
  int64_t metrics_interval_ms = 1'000;
  // Samples each metrics series keeps (see metrics_series()); the partition
  // series share kPartitionSamplesBudget.
  size_t metrics_series_capacity = 4'096;
};

struct ReplicaDescription {
  int32_t broker = -1;
  Offset log_end_offset = kNoOffset;
  Offset high_watermark = kNoOffset;
  Offset log_start_offset = kNoOffset;  // moved by retention (and followers follow the leader's)
  bool up = false;
  bool operator==(const ReplicaDescription&) const = default;
};

struct PartitionDescription {
  std::string topic;
  int32_t partition = 0;
  int32_t leader = -1;
  int32_t leader_epoch = -1;
  int32_t partition_epoch = -1;
  std::vector<int32_t> replicas, isr, elr;
  std::vector<int32_t> last_known_elr;  // KIP-966: the last leader, once the ISR and ELR emptied
  Offset high_watermark = kNoOffset;  // the leader's
  Offset last_stable_offset = kNoOffset;  // the leader's: below the first open transaction
  std::vector<ReplicaDescription> replica_states;
  bool operator==(const PartitionDescription&) const = default;
};

struct ProduceOutcome {
  Errc error = Errc::NONE;
  Offset base_offset = kNoOffset;
  int32_t leader = -1;
};

// What `Cluster::check` does before judging: the heal phase and its bound.
struct CheckOptions {
  bool heal = true;                  // stop faults, restart crashed nodes, heal the network
  int64_t converge_timeout_ms = 60'000;
  bool full_read = false;            // the run ended by reading everything: judge `unseen`
  bool unseen_is_violation = false;
};

class Nemesis;

class Cluster {
 public:
  explicit Cluster(ClusterOptions options);
  ~Cluster();
  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;

  sim::World& world() { return *world_; }
  const Config& config() const { return config_; }
  int32_t broker_count() const { return options_.brokers; }
  std::vector<int32_t> broker_ids() const;
  std::vector<int32_t> controller_ids() const;
  bool is_node(int32_t id) const;

  // ---- time ----------------------------------------------------------------------------
  void run_for_ms(int64_t ms);
  bool run_until(const std::function<bool()>& pred, int64_t timeout_ms);
  int64_t now_ms() const;
  // A controller is active and every live broker is registered and unfenced.
  bool ready() const;
  void wait_ready(int64_t timeout_ms = 30'000);

  // ---- admin ----------------------------------------------------------------------------
  void create_topic(const std::string& name, int32_t partitions, int32_t replication_factor,
                    const Config::Map& configs = {}, const std::vector<std::vector<int32_t>>& assignment = {});
  void elect_leaders(bool unclean, const std::vector<std::pair<std::string, int32_t>>& partitions = {});
  // kafka-topics --alter --partitions: grows the topic to `count` partitions
  // and waits until the new ones are led.
  void create_partitions(const std::string& topic, int32_t count);
  void alter_topic_config(const std::string& topic, const std::string& key, const std::optional<std::string>& value);
  // Admin.alterClientQuotas (KIP-546; kafka-configs --alter --entity-type
  // clients/users): sets (a value) or removes (nullopt) quota keys of one
  // entity through the active controller (ClientQuotaRecords), then waits up
  // to 5 s until every live broker has replayed them. ClusterError
  // INVALID_REQUEST names a bad entity, key or value.
  void alter_client_quotas(const ClientQuotaEntity& entity,
                           const std::vector<std::pair<std::string, std::optional<double>>>& quotas);
  // Admin.describeClientQuotas: every entity with its quotas (freshest metadata).
  MetadataImage::ClientQuotas describe_client_quotas() const;

  // Waits until the partition has a leader that knows it leads (in the
  // registered leader epoch); returns it, or -1 after the timeout.
  int32_t wait_for_leader(const std::string& topic, int32_t partition, int64_t timeout_ms = 30'000);
  // Every partition of the topic is led by a broker that knows it leads.
  bool all_partitions_led(const std::string& topic) const;

  // ---- observation ------------------------------------------------------------------------
  std::optional<int32_t> active_controller() const;
  std::vector<PartitionDescription> describe_topic(const std::string& topic) const;
  PartitionDescription describe_partition(const std::string& topic, int32_t partition) const;
  // The same into `d`, reusing its storage.
  void describe_partition_into(const std::string& topic, int32_t partition, PartitionDescription& d) const;
  std::vector<std::string> topics() const;
  // Kafka's broker / controller metric names.
  std::map<std::string, double> metrics() const;
  // metrics() sampled every ClusterOptions::metrics_interval_ms, as a step
  // function: (virtual ms, values) at the first sample and at every sample
  // whose values differ from the previous kept one; each holds until the
  // next (the last until now). At most ClusterOptions::metrics_series_capacity
  // samples: the newest half exact, older ones thinned (step_series.h).
  const std::vector<std::pair<int64_t, std::map<std::string, double>>>& metrics_series() const {
    return metrics_series_.samples();
  }
  // Every partition's state (leader, epoch, ISR, HW, replica end offsets)
  // sampled with the metrics, for clusters of up to 2,000 partitions: one
  // step-function series per partition, bounded the same way (with
  // kPartitionSamplesBudget shared), flattened in time order, then topic and
  // partition.
  std::vector<std::pair<int64_t, PartitionDescription>> partition_series() const;
  // Samples and thinnings of the series, for tests and the memory bench.
  const StepSeries<std::map<std::string, double>>& metrics_step_series() const { return metrics_series_; }
  size_t partition_series_samples() const;
  const ClusterOptions& options() const { return options_; }
  // kafka-topics.sh --describe style.
  std::string describe_text(const std::string& topic) const;
  // The records (offset, value) a broker's log holds for a partition, from the
  // page cache (no simulated I/O): what a dump-log would show. Throws for an
  // unknown topic-partition and for a broker that is down; a broker that is
  // not a replica holds nothing.
  std::vector<std::pair<int64_t, std::string>> log_contents(int32_t broker, const std::string& topic,
                                                            int32_t partition) const;
  KafkaNode* node(int32_t id);
  const KafkaNode* node(int32_t id) const;

  // ---- raw client requests (until the producer/consumer clients exist) --------------------
  // Sends one batch of `values` to the partition's current leader.
  ProduceOutcome produce(const std::string& topic, int32_t partition, const std::vector<std::string>& values,
                         int16_t acks, int64_t timeout_ms = 30'000);

  // A new client process (a producer, a consumer, a load generator): a node
  // after the cluster's, up at once. Partitions may name it by its node id.
  sim::NodeId add_client_node(const std::string& name);
  // A client process (producer, consumer, workload) on a node of its own,
  // numbered after the cluster's nodes; `make` builds its state at every boot
  // (so a crash loses it and a restart starts a fresh client, like a JVM).
  // Faults (crash, restart, pause, partition, isolate) accept client ids.
  using ClientFactory = std::function<std::shared_ptr<void>(const clients::ClientContext&)>;
  // `kind` names what the factory builds ("producer", "consumer", ...) so
  // callers can check before they cast client<T>(id).
  int32_t add_client(const std::string& name, ClientFactory make, std::string kind = "");
  const std::string& client_kind(int32_t id) const;
  bool has_client_named(const std::string& name) const;
  // Runs `hook` with the client's fresh state at every later boot of the
  // client's node (a restart): how a workload attached to an existing client
  // (engine/server/workload_driver.h) resumes after a crash.
  using BootHook = std::function<void(const std::shared_ptr<void>&)>;
  void add_boot_hook(int32_t client_id, BootHook hook);
  // The client's live state, or nullptr while its node is down.
  template <class T>
  std::shared_ptr<T> client(int32_t id) const {
    return is_client(id) ? world_->process<T>(node_id(id)) : nullptr;
  }
  bool is_client(int32_t id) const { return client_names_.count(id) > 0; }
  const std::string& client_name(int32_t id) const;
  // Every client operation and cluster event of the run (engine/check/history.h).
  check::History& history() { return history_; }
  const check::History& history() const { return history_; }

  // The broker id the current metadata names as leader (-1: none).
  int32_t leader_of(const std::string& topic, int32_t partition) const;

  // ---- consumer groups ------------------------------------------------------------------------
  // A group as its coordinator holds it (state, generation, members with their
  // opaque metadata / assignment, committed offsets). `error` says why not:
  // COORDINATOR_NOT_AVAILABLE (no __consumer_offsets or no leader),
  // COORDINATOR_LOAD_IN_PROGRESS, NOT_COORDINATOR. Unknown groups are "Dead".
  coordinator::GroupDescription describe_group(const std::string& group_id) const;
  // kafka-transactions.sh describe: the transactional id as its coordinator knows it.
  coordinator::TxnDescription describe_transaction(const std::string& transactional_id) const;
  // The broker coordinating the group now (-1: none).
  int32_t group_coordinator_of(const std::string& group_id) const;

  // ---- faults -------------------------------------------------------------------------------
  void crash(int32_t id);
  // The node restarts on a new, empty disk (an operator replacing a failed
  // drive, then re-formatting it): every log, checkpoint, clean-shutdown file
  // and quorum-state is gone, and its meta.properties has a NEW directory id
  // (KIP-853: the node is a new replica). Crashes the node first if it is up.
  void wipe(int32_t id);
  // kafka-metadata-quorum describe --status/--replication, from the current
  // raft leader's view (any live controller's if there is no leader).
  raft::QuorumDescription describe_quorum() const;
  // KIP-853 (kafka-metadata-quorum add-controller / remove-controller): the
  // quorum leader appends a VotersRecord adding controller `id` with the
  // directory id of its current disk / removing (id, directory_id; default
  // the one the voter set names). Runs the simulation until the change
  // commits. Throws ClusterError with Kafka's error (raft_client.h lists
  // them; NOT_CONTROLLER without a quorum leader; REQUEST_TIMED_OUT when the
  // record did not commit within timeout_ms). Returns the record's offset.
  int64_t add_voter(int32_t id, int64_t timeout_ms = 30'000);
  int64_t remove_voter(int32_t id, std::optional<std::string> directory_id = std::nullopt, int64_t timeout_ms = 30'000);
  // A controlled shutdown: the broker asks the controller to move its
  // leaderships away, flushes its logs, then stops (a controller-only node
  // just stops). Throws if the node is down. Returns false when the
  // controller did not release it within the timeout (it stops anyway, as
  // Kafka's shutdown does after controlled.shutdown retries).
  bool shutdown(int32_t id, int64_t timeout_ms = 30'000);
  // Restarts every broker in turn (controlled shutdown, or crash), waiting
  // after each until every partition has its full ISR again. False if a step
  // did not converge within `timeout_ms`.
  bool rolling_restart(bool controlled = true, int64_t timeout_ms = 60'000);
  void restart(int32_t id);
  void power_fail(int32_t id, bool torn = false);
  void pause(int32_t id, int64_t ms);
  // The network split into exactly these groups (no message crosses between
  // two of them), replacing every earlier cut; nodes in no group reach
  // everyone. `cut` adds the groups' cuts to the current ones instead.
  void partition(const std::vector<std::vector<int32_t>>& groups);
  void cut(const std::vector<std::vector<int32_t>>& groups, bool replace = false);
  void isolate(int32_t id);
  void heal();
  void slow_disk(int32_t id, double factor);
  void disk_full(int32_t id, bool full);
  void disk_stall(int32_t id, bool stalled);

  // A scheduled nemesis (engine/server/nemesis.h) the cluster owns; the heal
  // phase of check() stops it. Replaces (and stops) an earlier one.
  Nemesis& set_nemesis(std::unique_ptr<Nemesis> n);
  Nemesis* nemesis() { return nemesis_.get(); }
  // A consume-transform-produce pipeline whose exactly-once promise check() judges.
  void add_pipeline_check(check::PipelineCheck p) { pipelines_.push_back(std::move(p)); }

  // ---- judging a run (engine/server/cluster_check.cc) -------------------------------------------
  // Safety, then liveness: optionally heals every fault and lets the cluster
  // converge (every partition led with a full ISR) within the bound, then runs
  // every checker over the history and the final logs.
  check::Verdict check(const CheckOptions& options = {});
  // The verdict of the last check() (nullptr before one).
  const check::Verdict* last_verdict() const { return last_verdict_ ? &*last_verdict_ : nullptr; }
  // The checkers' input as things stand (no heal phase).
  check::CheckInput check_input();
  // Stops every fault: heals the network, restarts crashed nodes, resumes
  // paused ones, clears disk faults.
  void heal_all();
  // Every partition of every topic led by a serving leader with a full ISR,
  // every replica's log end at the leader's high watermark.
  bool converged() const;

  // ---- invariants (online checks) -------------------------------------------------------------
  // Empty when every cluster invariant holds; otherwise one line per violation
  // ("<kind>: <detail>"): multiple-leaders (per partition and leader epoch),
  // hw-regression (per leader epoch), leader-epoch-regression (metadata),
  // multiple-controller-leaders (per Raft epoch), and — with `logs` — divergence
  // (ISR members' logs differ below the HW).
  std::vector<std::string> check_invariants(bool logs = true);
  // Whether a node (broker, controller or client) is running: not crashed,
  // stopped or halted (a broker halts when its log dir fails). Paused is up.
  // ClusterError for an unknown id.
  bool is_up(int32_t id) const;

  // The partition series together keep at most about this many samples (each
  // ~0.4 KB): per partition, clamp(budget / partitions, 16, 1,024).
  static constexpr size_t kPartitionSamplesBudget = 65'536;

 private:
  // User partitions whose last stable offset is below the HW at their leader: (first unstable offset, HW).
  std::map<TopicPartition, std::pair<Offset, Offset>> open_transactions();
  // The heal phase's last step: open transactions that never end (see cluster_check.cc).
  void find_hanging_transactions(const CheckOptions& options, std::vector<check::CheckInput::LivenessFailure>& liveness);
  // The broker process of a live broker node (nullptr: unknown id or down).
  BrokerServer* live_broker(int32_t id) const;
  sim::NodeId node_id(int32_t kafka_id) const;
  void check_id(int32_t id) const;
  // The registration's leader is up and leads in the registered epoch.
  bool leader_serving(const std::string& topic, int32_t partition, const PartitionRegistration& reg) const;
  sim::Reply client_call(const std::string& api, int32_t dst, sim::Payload body, uint32_t size, int64_t timeout_ms);
  void admin(const std::string& api, sim::Payload body);
  void note_event(check::EventType type, int32_t node, std::string what);
  void record_event(check::ClusterEvent e);
  struct ElectionStats {
    uint64_t count = 0, timed = 0;
    double ms_total = 0;
    std::map<int32_t, int64_t> fault_at;       // node -> time of its last fault
    std::map<TopicPartition, int32_t> leader;  // the leader the last election named
  } election_stats_;
  bool full_isr_everywhere(bool caught_up) const;
  void observe_metadata(const raft::RaftEntry& e);

  ClusterOptions options_;
  Config config_;
  std::unique_ptr<sim::World> world_;
  std::vector<sim::NodeId> voters_;
  sim::NodeId client_;
  // Invariant bookkeeping: (topic-partition, leader epoch) -> leader seen.
  std::map<std::pair<TopicPartition, int32_t>, int32_t> leaders_seen_;
  std::map<std::pair<TopicPartition, int32_t>, Offset> max_hw_seen_;  // per leader epoch
  std::map<TopicPartition, int32_t> max_leader_epoch_seen_;           // in the freshest metadata
  std::map<int32_t, int32_t> raft_leaders_seen_;                      // quorum epoch -> controller
  int64_t last_image_offset_checked_ = -1;
  void online_check();
  sim::Instant next_full_check_{};
  bool in_online_check_ = false;
  check::History history_;
  std::unique_ptr<Nemesis> nemesis_;
  std::vector<check::PipelineCheck> pipelines_;
  std::optional<check::Verdict> last_verdict_;
  StepSeries<std::map<std::string, double>> metrics_series_;
  std::map<TopicPartition, StepSeries<PartitionDescription>> partition_series_;
  PartitionDescription describe_scratch_;  // sample_metrics' description, filled in place
  void sample_metrics();
  std::map<int32_t, std::string> client_names_, client_kinds_;
  std::map<int32_t, std::vector<BootHook>> boot_hooks_;
  // Election bookkeeping for the history (observe_metadata).
  int64_t observed_metadata_offset_ = -1;
  // lost-metadata detector: the first committed entry of every metadata
  // offset (dense from 0: a node commits in offset order) and every later
  // commit of a different entry at an offset (check/metadata_log.cc).
  struct CommittedMetadata {
    int32_t epoch = -1, node = -1;
    uint64_t digest = 0;
    int64_t at_ns = 0;
    std::string summary;
  };
  std::vector<CommittedMetadata> committed_metadata_;
  std::vector<check::CheckInput::MetadataLoss> metadata_losses_;
  std::map<int32_t, uint32_t> formats_;  // re-formats per node (wipe)
  raft::RaftClient* quorum_leader();
  int64_t await_voter_change(const raft::RaftClient::VoterChange& c, const raft::VoterSet& expected,
                             const std::string& what, int64_t timeout_ms);
  void check_metadata_commit(int32_t node, const raft::RaftEntry& e);
  std::map<int64_t, std::string> topic_names_;
  std::map<TopicPartition, int32_t> leader_epochs_;
  std::map<TopicPartition, std::vector<int32_t>> isrs_, replicas_;
};

}  // namespace ksim
