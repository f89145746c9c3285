// Judging a run: the heal phase (safety, then liveness) and the checkers'
// input built from the cluster's final state.
//
// During the fault phase only safety holds. `check()` then stops every fault
// (FoundationDB / VOPR style), lets the cluster converge within a bound —
// every partition led, ISR = replicas, every replica at the HW — and reads each partition's final log
// from its leader (or, without one, from the live replica with the longest
// log). A partition that cannot converge is a liveness finding; when the
// configuration explains it (unclean election disabled and no in-sync replica
// left to lead), it is reported as offline by design, not as a bug.
//
// Hanging transactions (Kafka's KIP-664 / KIP-890 motivation): after the
// partitions converge, a partition whose last stable offset is below its high
// watermark holds an open transaction. A live one completes or is aborted by
// its coordinator within transaction.max.timeout.ms (plus the abort sweep's
// interval); one still open at the same first offset after that never will —
// its coordinator does not know it — and read_committed readers can never
// reach the committed records behind it: a liveness violation.
#include <algorithm>
#include <set>

#include "engine/check/checkers.h"
#include "engine/common/node_ids.h"
#include "engine/server/cluster.h"
#include "engine/server/nemesis.h"
#include "sim/disk.h"

namespace ksim {
namespace {

bool is_internal(const std::string& topic) { return topic.rfind("__", 0) == 0; }

}  // namespace

bool Cluster::shutdown(int32_t id, int64_t timeout_ms) {
  check_id(id);
  if (timeout_ms < 0) throw ClusterError(Errc::INVALID_REQUEST, "shutdown: timeout_ms must be >= 0, got " + std::to_string(timeout_ms));
  if (!world_->is_up(node_id(id)))
    throw ClusterError(Errc::INVALID_REQUEST, "node " + std::to_string(id) + " is already down");
  note_event(check::EventType::fault, id, "controlled shutdown");
  bool released = true;
  KafkaNode* n = node(id);
  if (n && n->broker()) {
    n->broker()->begin_controlled_shutdown();
    released = run_until(
        [&] {
          KafkaNode* k = node(id);
          return !k || k->broker()->ready_to_stop();
        },
        timeout_ms);
  }
  if (world_->is_up(node_id(id))) world_->crash(node_id(id));
  return released;
}

bool Cluster::rolling_restart(bool controlled, int64_t timeout_ms) {
  if (timeout_ms < 0)
    throw ClusterError(Errc::INVALID_REQUEST, "rolling_restart: timeout_ms must be >= 0, got " + std::to_string(timeout_ms));
  auto full_isr = [this] { return full_isr_everywhere(/*caught_up=*/false); };
  for (int32_t b : broker_ids()) {
    if (!world_->is_up(node_id(b))) continue;
    if (controlled) {
      shutdown(b, timeout_ms);
    } else {
      crash(b);
    }
    restart(b);
    if (!run_until(full_isr, timeout_ms)) return false;
  }
  return true;
}

void Cluster::create_partitions(const std::string& topic, int32_t count) {
  admin("CreatePartitions", sim::make_payload(protocol::CreatePartitionsRequest{topic, count}));
  run_until([&] { return all_partitions_led(topic) && static_cast<int32_t>(describe_topic(topic).size()) >= count; },
            10'000 + static_cast<int64_t>(count) * 2);
}

Nemesis& Cluster::set_nemesis(std::unique_ptr<Nemesis> n) {
  if (nemesis_) nemesis_->stop();
  nemesis_ = std::move(n);
  return *nemesis_;
}

void Cluster::heal_all() {
  note_event(check::EventType::heal, -1, "heal phase: every fault stops");
  if (nemesis_) nemesis_->stop();
  world_->network().heal();
  const int32_t total = options_.brokers + options_.controllers;
  for (int32_t id = 1; id <= total; ++id) {
    const sim::NodeId n = node_id(id);
    sim::Disk& d = world_->disk(n);
    d.set_slowdown(1.0);
    d.set_full(false);
    d.unstall();
    if (world_->is_paused(n)) world_->resume(n);
    if (!world_->is_up(n)) world_->restart(n);
  }
}

// Ready, and every partition led with its full ISR — plus, with `caught_up`,
// every replica up and holding the leader's log up to the HW.
bool Cluster::full_isr_everywhere(bool caught_up) const {
  if (!ready()) return false;
  for (const std::string& topic : topics()) {
    for (const PartitionDescription& p : describe_topic(topic)) {
      if (p.leader < 0 || p.isr.size() != p.replicas.size()) return false;
      if (!caught_up) continue;
      if (!const_cast<Cluster*>(this)->node(p.leader)) return false;
      for (const ReplicaDescription& r : p.replica_states)
        if (!r.up || r.log_end_offset != p.high_watermark) return false;
    }
    if (caught_up && !all_partitions_led(topic)) return false;
  }
  return true;
}

bool Cluster::converged() const { return full_isr_everywhere(/*caught_up=*/true); }

std::map<TopicPartition, std::pair<Offset, Offset>> Cluster::open_transactions() {
  std::map<TopicPartition, std::pair<Offset, Offset>> open;  // tp -> (first unstable offset, HW)
  for (const std::string& topic : topics()) {
    if (is_internal(topic)) continue;
    for (const PartitionDescription& p : describe_topic(topic)) {
      if (p.leader < 0) continue;
      KafkaNode* n = node(p.leader);
      const Partition* part = n && n->broker() ? n->broker()->replica_manager().get({topic, p.partition}) : nullptr;
      if (!part) continue;
      const std::optional<Offset> first = part->log().first_unstable_offset();
      if (first && *first < part->high_watermark()) open[{topic, p.partition}] = {*first, part->high_watermark()};
    }
  }
  return open;
}

void Cluster::find_hanging_transactions(const CheckOptions& options,
                                        std::vector<check::CheckInput::LivenessFailure>& liveness) {
  const std::map<TopicPartition, std::pair<Offset, Offset>> before = open_transactions();
  if (before.empty()) return;
  const int64_t wait_ms = config_.get_long("transaction.max.timeout.ms") +
                          config_.get_long("transaction.abort.timed.out.transaction.cleanup.interval.ms") +
                          options.converge_timeout_ms;
  // Each open transaction must end (its first unstable offset moves on).
  auto still_open = [&] {
    std::vector<TopicPartition> out;
    const auto now = open_transactions();
    for (const auto& [tp, at] : before)
      if (auto it = now.find(tp); it != now.end() && it->second.first == at.first) out.push_back(tp);
    return out;
  };
  run_until([&] { return still_open().empty(); }, wait_ms);
  // Kafka's contract permits it when the coordinator may have lost the
  // transaction's records in __transaction_state: a power failure (Kafka
  // does not fsync; every replica may have lost the unflushed tail) or an
  // unclean election of one of its partitions. Then no coordinator knows the
  // transaction, and only an operator's kafka-transactions.sh abort ends it.
  std::string cause;
  {
    std::set<int32_t> power_failed;
    std::string unclean;
    for (const check::ClusterEvent& e : history_.events()) {
      if (e.type == check::EventType::fault && e.what.rfind("power_fail", 0) == 0) power_failed.insert(e.node);
      if (e.type == check::EventType::election && e.unclean && e.tp.topic == "__transaction_state" && unclean.empty())
        unclean = "an unclean election of " + e.tp.str();
    }
    if (!unclean.empty()) {
      cause = unclean + " may have lost the transaction's records in __transaction_state";
    } else if (!power_failed.empty()) {
      std::string nodes;
      for (int32_t n : power_failed) nodes += (nodes.empty() ? "" : ", ") + std::to_string(n);
      cause = "power failures (node " + nodes +
              ") may have lost the transaction's records in __transaction_state (Kafka does not fsync)";
    }
  }
  const auto now = open_transactions();
  for (const TopicPartition& tp : still_open()) {
    const auto& [first, hw] = now.at(tp);
    world_->probe("check: hanging transaction");
    liveness.push_back({tp,
                        tp.str() + " has a hanging transaction: its last stable offset stays at " +
                            std::to_string(first.value) + " below the high watermark " + std::to_string(hw.value) +
                            " for " + std::to_string(wait_ms) +
                            " ms (transaction.max.timeout.ms + the abort sweep + converge_timeout_ms): no coordinator "
                            "will end the transaction opened there, and read_committed readers cannot read past it",
                        cause});
  }
}

check::CheckInput Cluster::check_input() {
  check::CheckInput in;
  in.history = &history_;
  in.config.min_insync_replicas = config_.get_int("min.insync.replicas");
  in.config.unclean_leader_election = config_.get_bool("unclean.leader.election.enable");
  in.config.raft_directory_ids = config_.get_bool("ksim.raft.directory.id");
  in.config.eligible_leader_replicas = config_.get_bool("ksim.eligible.leader.replicas");
  in.metadata_losses = metadata_losses_;
  std::vector<std::string_view> strings;  // one batch's keys and values, in record order (reused)
  std::vector<check::Sym> syms;
  for (const std::string& topic : topics()) {
    // Internal topics (__consumer_offsets, ...) are the engine's, not the clients' history.
    if (is_internal(topic)) continue;
    for (const PartitionDescription& p : describe_topic(topic)) {
      const TopicPartition tp{topic, p.partition};
      check::FinalLog f;
      f.replicas = p.replicas;
      // The leader's log if it serves; else the live replica with the longest log.
      int32_t source = p.leader >= 0 && node(p.leader) ? p.leader : -1;
      if (source < 0) {
        Offset best = kNoOffset;
        for (const ReplicaDescription& r : p.replica_states)
          if (r.up && r.log_end_offset > best) {
            best = r.log_end_offset;
            source = r.broker;
          }
      }
      const KafkaNode* n = source >= 0 ? node(source) : nullptr;
      const Partition* part = n && n->broker() ? const_cast<KafkaNode*>(n)->broker()->replica_manager().get(tp) : nullptr;
      if (part) {
        f.source_broker = source;
        f.log_start_offset = part->log().log_start_offset().value;
        f.high_watermark = part->high_watermark().value;
        f.compacted = part->log().config().compact;
        f.delete_retention_ms = part->log().config().delete_retention_ms;
        f.read_at_ns = world_->now().ns;
        // At most one record per offset: sized once, no growth slack (a soak's logs hold millions).
        f.records.reserve(static_cast<size_t>(std::max<int64_t>(0, f.high_watermark - f.log_start_offset)));
        const std::vector<storage::CompletedTxn> aborted = part->log().producer_state().aborted_index();
        const Offset last_stable = part->last_stable_offset();  // the log does not move while it is read
        // Batch by batch: the decoded log is never held whole, only the records extracted.
        for_each_batch(world_->disk(node_id(source)), part->log(), [&](const storage::BatchPtr& b) {
          if (b->is_control()) return;
          const int64_t pid = b->producer_id().value;
          const int32_t pepoch = pid >= 0 ? b->producer_epoch().value : -1;
          if (f.producer_batches.empty() || f.producer_batches.back().producer_id != pid ||
              f.producer_batches.back().producer_epoch != pepoch)
            f.producer_batches.push_back({b->base_offset().value, pid, pepoch});
          const bool in_aborted_txn =
              b->is_transactional() && std::any_of(aborted.begin(), aborted.end(), [&](const storage::CompletedTxn& t) {
                return t.producer_id == b->producer_id() && t.first_offset <= b->base_offset() &&
                       b->base_offset() < t.last_offset;
              });
          // The batch's keys and values interned together, in record order
          // (the Syms one intern after another would give), their table
          // lookups overlapped.
          const std::vector<storage::RecordView> records = b->records();
          auto view = [](const std::optional<std::span<const uint8_t>>& x) {
            return std::string_view(reinterpret_cast<const char*>(x->data()), x->size());
          };
          strings.clear();
          for (const auto& r : records) {
            if (r.offset.value >= f.high_watermark) break;
            if (r.key) strings.push_back(view(r.key));
            if (r.value) strings.push_back(view(r.value));
          }
          syms.resize(strings.size());
          history_.intern_all(strings, syms.data());
          const check::Sym* next = syms.data();
          for (const auto& r : records) {
            if (r.offset.value >= f.high_watermark) break;
            check::LogRecord lr;
            lr.offset = r.offset.value;
            lr.aborted = in_aborted_txn;
            lr.undecided = r.offset >= last_stable;
            if (r.key) lr.key = *next++;
            if (r.value) lr.value = *next++;
            f.records.push_back(std::move(lr));
          }
        });
      }
      in.final_logs.emplace(tp, std::move(f));
    }
  }
  // Topic-level min.insync.replicas overrides.
  for (const std::string& topic : topics()) {
    const MetadataImage* img = nullptr;
    for (int32_t id : broker_ids())
      if (const KafkaNode* n = node(id); n && n->broker()) img = &n->broker()->metadata();
    if (!img) break;
    if (auto it = img->configs().find("topic:" + topic); it != img->configs().end())
      if (auto k = it->second.find("min.insync.replicas"); k != it->second.end())
        in.config.topic_min_isr[topic] = std::stoi(k->second);
  }
  in.invariant_violations = check_invariants();
  return in;
}

check::Verdict Cluster::check(const CheckOptions& options) {
  if (options.converge_timeout_ms < 0)
    throw ClusterError(Errc::INVALID_REQUEST,
                       "check: converge_timeout_ms must be >= 0, got " + std::to_string(options.converge_timeout_ms));
  std::vector<check::CheckInput::LivenessFailure> liveness;
  if (options.heal) {
    heal_all();
    if (!run_until([this] { return converged(); }, options.converge_timeout_ms)) {
      const bool unclean = config_.get_bool("unclean.leader.election.enable");
      if (!ready()) liveness.push_back({{}, "the cluster has no active controller or unregistered brokers", ""});
      for (const std::string& topic : topics()) {
        for (const PartitionDescription& p : describe_topic(topic)) {
          const TopicPartition tp{topic, p.partition};
          if (p.leader < 0) {
            // Offline by design only when no ISR / ELR member is up to lead
            // (the heal phase restarted every node, so normally one is).
            bool candidate_up = false;
            for (const ReplicaDescription& r : p.replica_states) {
              const bool eligible = std::find(p.isr.begin(), p.isr.end(), r.broker) != p.isr.end() ||
                                    std::find(p.elr.begin(), p.elr.end(), r.broker) != p.elr.end();
              candidate_up = candidate_up || (eligible && r.up);
            }
            liveness.push_back({tp, tp.str() + " has no leader after " + std::to_string(options.converge_timeout_ms) + " ms",
                                unclean || candidate_up
                                    ? ""
                                    : "unclean.leader.election.enable=false and no in-sync replica is up to lead"});
          } else if (p.isr.size() != p.replicas.size()) {
            std::string isr;
            for (int32_t b : p.isr) isr += (isr.empty() ? "" : ",") + std::to_string(b);
            liveness.push_back({tp, tp.str() + " ISR is still {" + isr + "} of " + std::to_string(p.replicas.size()) +
                                        " replicas after " + std::to_string(options.converge_timeout_ms) + " ms", ""});
          }
        }
      }
    }
  }
  if (options.heal) find_hanging_transactions(options, liveness);
  check::CheckInput in = check_input();
  for (auto& f : liveness)
    if (!is_internal(f.tp.topic) || f.tp.topic.empty()) in.liveness_failures.push_back(std::move(f));
  in.config.full_read = options.full_read;
  for (check::PipelineCheck pc : pipelines_) {
    for (const auto& [tp, o] : describe_group(pc.group_id).offsets)
      if (tp.topic == pc.input_topic) pc.committed[tp] = o.offset.value;
    in.pipelines.push_back(std::move(pc));
  }
  in.config.unseen_is_violation = options.unseen_is_violation;
  check::Verdict v = check::check_all(in);
  last_verdict_ = v;
  return v;
}

}  // namespace ksim
