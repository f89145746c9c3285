// CheckInput: everything the checkers read — the history, the final state of
// the logs after the heal phase, the run's durability-relevant configuration,
// and what the online invariants and the convergence phase found.
#pragma once

#include <algorithm>
#include <cstdint>
#include <utility>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "engine/check/history.h"
#include "engine/check/string_pool.h"

namespace ksim::check {

// 24 bytes: a soak's final logs hold millions of records, and check() must
// not need more memory than the run did. Keys and values are the History's
// Syms (Cluster::check_input interns what no op recorded), so the checkers
// compare them with sends and reads as integers, with no string per record.
// 16 bytes (a soak's final logs hold millions): the flags share the
// offset's word (Kafka offsets are below 2^62).
struct LogRecord {
  LogRecord() = default;
  LogRecord(int64_t o, Sym k, Sym v, bool ab = false, bool und = false)
      : offset(o), aborted(ab), undecided(und), key(k), value(v) {}
  int64_t offset : 62 = 0;
  // Part of an aborted transaction: read_committed consumers skip it, legitimately.
  bool aborted : 1 = false;
  // At or above the last stable offset: its transaction is still open.
  bool undecided : 1 = false;
  Sym key = kNoSym;    // kNoSym: a null key
  Sym value = kNoSym;  // kNoSym: a null value (a tombstone)
};
static_assert(sizeof(LogRecord) == 16);

// A final log's key or value as explanations print it (null: a tombstone).
inline std::string log_string(const History& h, Sym s) { return s == kNoSym ? "null" : std::string(h.str(s)); }

// A partition's final log, as the leader (or the most complete live replica)
// holds it after the heal phase, up to its high watermark.
struct FinalLog {
  int32_t source_broker = -1;   // -1: no replica could be read
  int64_t log_start_offset = 0;
  int64_t high_watermark = 0;
  std::vector<LogRecord> records;  // in offset order, data records only
  std::vector<int32_t> replicas;
  // cleanup.policy includes compact: the cleaner may have removed records a
  // later record of the same key superseded (and tombstones after
  // delete.retention.ms), leaving gaps in the offsets.
  bool compacted = false;
  int64_t delete_retention_ms = 0;
  int64_t read_at_ns = 0;  // when the final log was read (after the heal phase)
  // Who wrote the log (its batch headers' producer id and epoch), in offset
  // order: an entry where the writer changes (-1: no producer id); a run of
  // batches of one producer epoch is one entry.
  struct ProducerBatch {
    int64_t base_offset = 0;
    int64_t producer_id = -1;
    int32_t producer_epoch = -1;
  };
  std::vector<ProducerBatch> producer_batches = {};
  // The (producer id, epoch) that wrote the record at `offset`, or {-1, -1}.
  std::pair<int64_t, int32_t> producer_of(int64_t offset) const {
    auto it = std::upper_bound(producer_batches.begin(), producer_batches.end(), offset,
                               [](int64_t o, const ProducerBatch& b) { return o < b.base_offset; });
    if (it == producer_batches.begin()) return {-1, -1};
    --it;
    return {it->producer_id, it->producer_epoch};
  }
};

struct RunConfig {
  int32_t min_insync_replicas = 1;              // broker default
  std::map<std::string, int32_t> topic_min_isr;  // topic overrides
  bool unclean_leader_election = false;
  bool full_read = false;       // the run ended by reading every partition to its end
  bool unseen_is_violation = false;  // severity of `unseen`
  bool raft_directory_ids = true;    // ksim.raft.directory.id (KIP-853 voter keys)
  bool eligible_leader_replicas = true;  // ksim.eligible.leader.replicas (KIP-966)
  int32_t min_isr(const std::string& topic) const {
    auto it = topic_min_isr.find(topic);
    return it == topic_min_isr.end() ? min_insync_replicas : it->second;
  }
};

// A consume-transform-produce pipeline (engine/clients/pipeline.h): every
// input record below the group's final committed offset must have exactly one
// committed output, valued output_prefix + the input's value.
struct PipelineCheck {
  std::string name, input_topic, output_topic, group_id, output_prefix;
  bool transactional = true;  // false: at-least-once by design (a repeat is expected)
  // The group's committed offsets of the input after the heal phase (filled by the cluster).
  std::map<TopicPartition, int64_t> committed;
};

struct CheckInput {
  const History* history = nullptr;
  std::map<TopicPartition, FinalLog> final_logs;
  RunConfig config;
  // The cluster's online invariants ("multiple-leaders: ...", "divergence: ...").
  std::vector<std::string> invariant_violations;
  // Why the heal phase did not converge (empty: it converged). `cause` is set
  // when the configuration explains it (offline by design, not a liveness bug).
  struct LivenessFailure {
    TopicPartition tp;
    std::string what;
    std::string cause;
  };
  std::vector<LivenessFailure> liveness_failures;
  std::vector<PipelineCheck> pipelines;
  // Committed metadata entries later replaced by another entry at the same
  // offset (filled by the cluster, which sees every node commit every entry).
  struct MetadataLoss {
    int64_t offset = -1;
    int32_t first_epoch = -1, later_epoch = -1;  // raft epochs of the two entries
    int32_t first_node = -1, later_node = -1;    // who committed each
    int64_t first_at_ns = 0, later_at_ns = 0;
    std::string first_summary, later_summary;    // what the entries held
  };
  std::vector<MetadataLoss> metadata_losses;
};

}  // namespace ksim::check
