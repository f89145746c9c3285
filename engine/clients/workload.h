// Workloads: the application code of simulated client processes — a producer
// sending at a fixed rate, a consumer's poll loop — as fibers on the client's
// own node, so they crash, restart and pause with it.
//
//   auto st = std::make_shared<ProducerWorkloadState>(ProducerWorkloadSpec{.topic = "t", .rate_per_s = 1000});
//   cluster.add_client("producer-1", producer_workload_factory({{"acks", "all"}}, st));
//   auto cs = std::make_shared<ConsumerWorkloadState>(ConsumerWorkloadSpec{.topics = {"t"}});
//   cluster.add_client("consumer-1", consumer_workload_factory({{"group.id", "g"}}, cs));
//   cluster.run_for_ms(10'000);   // st->acked, cs->records ...
//
// The factory builds the client AND starts the workload fiber at every boot of
// the node, so a crashed and restarted client resumes its workload (a fresh
// KafkaProducer / KafkaConsumer, as a restarted JVM). The node's process
// state is the client itself (Cluster::client<KafkaProducer>(id) works).
//
// The *State objects live outside the node (shared with whoever created the
// workload): the spec, the counters, and what must survive a restart — the
// next record sequence number, so values stay unique across incarnations.
//
// A workload can also be attached to an existing client for its current
// incarnation only (start_producer_workload / start_consumer_workload);
// engine/server/workload_driver.h attaches through a boot hook so that
// restarts resume it too.
//
// Determinism: the send schedule and keys come from the world's seeded
// stream "workload/<client name>/<incarnation>"; nothing reads a wall clock.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/clients/client_runtime.h"
#include "engine/clients/kafka_consumer.h"
#include "engine/clients/kafka_producer.h"
#include "engine/common/config.h"

namespace ksim::clients {

// ---- producer ----------------------------------------------------------------------------------

struct ProducerWorkloadSpec {
  std::string topic;
  double rate_per_s = 1000;       // records per virtual second (> 0)
  double jitter = 0;              // each gap is interval * (1 + U(-jitter, +jitter)), jitter in [0, 1)
  int64_t key_space = 0;          // 0: null keys (sticky partitioning); n: keys "k0".."k<n-1>", uniform
  int32_t value_bytes = 0;        // values are "<client>-<seq>", padded with '.' to at least this size
  int64_t duration_ms = -1;       // stop sending this long after the workload was created (< 0: never)
  int64_t max_records = -1;       // stop after this many sends in total (< 0: no limit)
  int64_t start_delay_ms = 0;     // first send this long after creation
  // Sends due within this window are sent together at one wake-up (fewer
  // fiber switches at high rates); the schedule itself stays exact.
  int64_t tick_us = 1000;
  // With a transactional.id: records per transaction (begin, send them, commit),
  // and the probability of aborting one instead (after flushing its records, so
  // the log holds the aborted data). A send that fails makes the
  // transaction abort; a fenced producer stops (its restart re-initialises).
  int32_t transaction_records = 10;
  double abort_probability = 0;
};

struct ProducerWorkloadState {
  explicit ProducerWorkloadState(ProducerWorkloadSpec s) : spec(std::move(s)) {}
  ProducerWorkloadSpec spec;
  // Absolute virtual times (ns), fixed on first start: a restart resumes the same window.
  int64_t start_ns = -1, end_ns = -1;
  bool stop = false;           // set to stop sending (takes effect at the next wake-up)
  // Counters over every incarnation.
  uint64_t next_seq = 0;       // also: sends attempted
  uint64_t acked = 0, failed = 0;
  uint32_t incarnations = 0;   // boots that started the workload
  bool finished = false;       // the current incarnation sent its last record and flushed
  uint64_t commits = 0, aborts = 0;  // transactions ended (transactional producers)
  // Records whose outcome was never reported (the client crashed with them pending).
  uint64_t unresolved() const { return next_seq - acked - failed; }
};

// Starts the workload fiber on the producer's node (current incarnation only).
void start_producer_workload(const std::shared_ptr<KafkaProducer>& producer,
                             const std::shared_ptr<ProducerWorkloadState>& state);

// A client factory (Cluster::add_client) building a KafkaProducer with
// `config` and starting the workload at every boot.
using WorkloadClientFactory = std::function<std::shared_ptr<void>(const ClientContext&)>;
WorkloadClientFactory producer_workload_factory(Config::Map config, std::shared_ptr<ProducerWorkloadState> state,
                                                ProducerOptions options = {});

// ---- what a transactional application does around the API -----------------------------------------

// initTransactions, retried while it times out (the coordinator may be
// moving) and `give_up()` is false; false: it failed for good or gave up.
bool init_transactions_retrying(KafkaProducer& p, const std::function<bool()>& give_up);
// commitTransaction, retried while it times out: a timed-out commit's outcome
// is unknown, and Kafka requires retrying it, never aborting it. Throws the
// KafkaException of any other failure, or of the last of `attempts` timeouts.
void commit_transaction_retrying(KafkaProducer& p, int attempts = 5);

// ---- consumer -----------------------------------------------------------------------------------

enum class CommitPolicy : uint8_t {
  auto_commit,  // enable.auto.commit=true: commits inside poll() every auto.commit.interval.ms
  sync,         // commit_sync() after every non-empty batch
  async,        // commit_async() after every non-empty batch
  none,         // never commits
};
const char* commit_policy_name(CommitPolicy p);
std::optional<CommitPolicy> parse_commit_policy(const std::string& s);

struct ConsumerWorkloadSpec {
  std::vector<std::string> topics;       // subscribe (needs group.id) ...
  std::vector<TopicPartition> assignment;  // ... or assign, if not empty
  int64_t poll_timeout_ms = 100;
  int64_t processing_us_per_record = 0;  // virtual processing time after each poll
  CommitPolicy commit = CommitPolicy::auto_commit;
  int64_t duration_ms = -1;              // stop polling this long after creation (< 0: never)
  bool close_at_end = true;              // close() (commit, leave the group) when the duration ends
};

struct ConsumerWorkloadState {
  explicit ConsumerWorkloadState(ConsumerWorkloadSpec s) : spec(std::move(s)) {}
  ConsumerWorkloadSpec spec;
  int64_t start_ns = -1, end_ns = -1;
  bool stop = false;
  uint64_t polls = 0, records = 0;
  uint64_t commits_ok = 0, commits_failed = 0;  // sync / async commits the workload made
  uint64_t errors = 0;                          // KafkaExceptions poll() raised
  uint32_t incarnations = 0;
  bool finished = false;
};

void start_consumer_workload(const std::shared_ptr<KafkaConsumer>& consumer,
                             const std::shared_ptr<ConsumerWorkloadState>& state);

// `config` gets enable.auto.commit from the commit policy.
WorkloadClientFactory consumer_workload_factory(Config::Map config, std::shared_ptr<ConsumerWorkloadState> state);

}  // namespace ksim::clients
