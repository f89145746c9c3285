// Pipeline: Kafka's exactly-once "consume-transform-produce" application
// (KIP-98 / KIP-447), as a simulated client process holding a consumer and a
// transactional producer on one node:
//
//   init_transactions(); subscribe([input])            (read_committed, no auto-commit,
//                                                       auto.offset.reset=earliest by default)
//   loop: records = poll()
//         begin_transaction()
//         send(output, key, prefix + value) for each record
//         send_offsets_to_transaction(next offsets, consumer.group_metadata())
//         commit_transaction()              -- or abort (by choice or on error),
//                                              then rewind to the committed offsets
//
// The promise it tests: every input record below the group's committed offset
// has exactly one committed output (engine/check/transactions.cc, kind
// `exactly-once`), whatever crashes, partitions and rebalances happen. A
// crashed instance restarts with the same transactional.id: its
// init_transactions fences the zombie and aborts what it left open.
//
// Determinism: the abort decisions come from "pipeline/<client>/<incarnation>".
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "engine/clients/kafka_consumer.h"
#include "engine/clients/kafka_producer.h"
#include "engine/clients/workload.h"

namespace ksim::clients {

struct PipelineSpec {
  std::string input_topic, output_topic;
  std::string output_prefix = "T:";  // output value = prefix + input value (traceable, unique)
  int64_t poll_timeout_ms = 100;
  double abort_probability = 0;      // abort a transaction by choice (then rewind and redo it)
  // false: at-least-once (send, flush, then commitSync the offsets): a crash
  // between the two repeats outputs. Kafka promises exactly-once only with transactions.
  bool transactional = true;
  // false: an application bug — after an abort, go on from the current
  // position instead of the committed offsets (the aborted inputs are lost).
  bool rewind_after_abort = true;
};

struct PipelineState {
  explicit PipelineState(PipelineSpec s) : spec(std::move(s)) {}
  PipelineSpec spec;
  bool stop = false;
  uint64_t polls = 0, records_in = 0, commits = 0, aborts = 0, fenced = 0;
  uint32_t incarnations = 0;
};

// The node's process: both clients (Cluster::client<PipelineApp>(id)).
struct PipelineApp {
  std::shared_ptr<KafkaConsumer> consumer;
  std::shared_ptr<KafkaProducer> producer;
};

// A client factory (Cluster::add_client, kind "pipeline"): builds both
// clients and starts the loop at every boot. `producer_config` must carry the
// instance's transactional.id; `consumer_config` its group.id.
WorkloadClientFactory pipeline_factory(Config::Map consumer_config, Config::Map producer_config,
                                       std::shared_ptr<PipelineState> state);

}  // namespace ksim::clients
