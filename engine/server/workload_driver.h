// Workloads on a whole cluster: the C++ face of Python's
// `sim.workload(producers=..., consumers=..., topic=..., rate_per_s=...)`,
// and rolling restarts of client processes.
//
//   WorkloadOptions o;
//   o.topic = "orders";
//   o.new_producers = 1;                    // or o.producers = {existing producer client ids}
//   o.new_consumers = 3;                    // a group (consumer_config["group.id"], default o.name)
//   o.rate_per_s = 10'000;                  // in total, split evenly over the producers
//   std::shared_ptr<Workload> w = add_workload(cluster, o);
//   cluster.run_for_ms(10'000);
//   w->acked(), w->consumed(), w->stop();
//
// New clients are built by workload factories (engine/clients/workload.h):
// the workload fiber starts at every boot. Existing clients (a KafkaProducer
// or KafkaConsumer made with Cluster::add_client) get the workload attached
// now and, through a boot hook, at every restart; an existing consumer keeps
// the subscription it had unless the options name topics / an assignment.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/clients/pipeline.h"
#include "engine/clients/workload.h"
#include "engine/server/cluster.h"

namespace ksim {

struct WorkloadOptions {
  std::string name = "workload";   // client names "<name>-producer-<i>", "<name>-consumer-<i>"
  std::string topic;
  // Existing clients to drive (Cluster::add_client ids) ...
  std::vector<int32_t> producers, consumers;
  // ... and clients to create.
  int32_t new_producers = 0, new_consumers = 0;
  Config::Map producer_config;
  Config::Map consumer_config;     // group.id defaults to `name`
  double rate_per_s = 1000;        // records per virtual second over all producers
  int64_t duration_ms = -1;        // producers and consumers stop after this (< 0: never)
  // The rest of the per-client specs; topic, rate and duration above win.
  clients::ProducerWorkloadSpec producer;
  clients::ConsumerWorkloadSpec consumer;  // topics default to {topic} (new consumers)
};

class Workload {
 public:
  const std::vector<int32_t>& producer_ids() const { return producer_ids_; }
  const std::vector<int32_t>& consumer_ids() const { return consumer_ids_; }
  const std::vector<std::shared_ptr<clients::ProducerWorkloadState>>& producer_states() const { return producers_; }
  const std::vector<std::shared_ptr<clients::ConsumerWorkloadState>>& consumer_states() const { return consumers_; }

  uint64_t sent() const;      // sends attempted
  uint64_t acked() const;     // sends acknowledged
  uint64_t failed() const;    // sends that failed
  uint64_t consumed() const;  // records the consumers' polls returned
  // A counter of every producer's state, summed (e.g. &ProducerWorkloadState::commits).
  uint64_t producer_sum(uint64_t clients::ProducerWorkloadState::*counter) const;
  // Every producer stopped sending and flushed (only with a duration or a record limit).
  bool producers_finished() const;
  // Stops every producer and consumer loop at its next wake-up (clients stay up).
  void stop();

 private:
  friend std::shared_ptr<Workload> add_workload(Cluster& cluster, WorkloadOptions options);
  std::vector<int32_t> producer_ids_, consumer_ids_;
  std::vector<std::shared_ptr<clients::ProducerWorkloadState>> producers_;
  std::vector<std::shared_ptr<clients::ConsumerWorkloadState>> consumers_;
};

// Throws ClusterError (unknown client, not a producer/consumer) or
// std::invalid_argument (no topic, rate <= 0, no clients).
std::shared_ptr<Workload> add_workload(Cluster& cluster, WorkloadOptions options);

// ---- exactly-once pipelines (engine/clients/pipeline.h) ---------------------------------------

struct PipelineOptions {
  std::string name = "pipeline";  // clients "<name>-<i>", group.id and transactional.id "<name>-<i>" by default
  int32_t instances = 2;
  clients::PipelineSpec spec;     // input and output topics, prefix, abort probability
  Config::Map consumer_config;    // group.id defaults to `name`
  Config::Map producer_config;    // transactional.id is "<transactional.id or name>-<i>"
};

class Pipeline {
 public:
  const std::vector<int32_t>& ids() const { return ids_; }
  const std::vector<std::shared_ptr<clients::PipelineState>>& states() const { return states_; }
  uint64_t sum(uint64_t clients::PipelineState::*field) const;
  void stop();

 private:
  friend std::shared_ptr<Pipeline> add_pipeline(Cluster& cluster, PipelineOptions options);
  std::vector<int32_t> ids_;
  std::vector<std::shared_ptr<clients::PipelineState>> states_;
};

// Starts `instances` pipeline processes and registers the pipeline with the
// checkers (check(): exactly-once from input to output). Throws
// std::invalid_argument (no topics, instances < 1, same input and output).
std::shared_ptr<Pipeline> add_pipeline(Cluster& cluster, PipelineOptions options);

// Restarts the given nodes (clients or brokers) one at a time, from the main
// context: crash, `down_ms` later restart, then `between_ms` before the next.
// Runs the simulation for the whole sequence.
void rolling_restart(Cluster& cluster, const std::vector<int32_t>& ids, int64_t down_ms, int64_t between_ms);

}  // namespace ksim
