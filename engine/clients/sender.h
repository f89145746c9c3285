// Sender: the producer's I/O thread (Kafka's Sender), a fiber on the client node.
//
// One loop iteration (Kafka's runOnce / sendProducerData):
//   1. idempotence: resolve expired sequences, apply a pending epoch bump, get
//      a producer id (InitProducerId to any broker) if there is none;
//   2. refresh metadata when asked to (NOT_LEADER_OR_FOLLOWER, unknown leader)
//      or when older than metadata.max.age.ms;
//   3. for every broker leading a partition with a sendable batch and fewer
//      than max.in.flight.requests.per.connection requests outstanding: drain
//      one batch per partition (up to max.request.size) into one Produce
//      request; with max.in.flight = 1 the partition is muted until the answer;
//   4. expire batches older than delivery.timeout.ms (queued or in flight);
//   5. sleep until the next batch is due, a response arrives or send() wakes us.
// Responses are handled as they arrive (a callback on the client node):
// success completes the batch's records; a retriable error (or, with
// idempotence, what TransactionManager.canRetry allows) puts the batch back
// for a retry after retry.backoff.ms (exponential up to retry.backoff.max.ms,
// 20% jitter) while retries and the delivery timeout allow; anything else
// fails it. A request that times out (request.timeout.ms) closes the
// connection, failing every other request on it with NETWORK_EXCEPTION, as
// Kafka's NetworkClient does.
//
// Without idempotence and with max.in.flight > 1, a batch that failed and is
// retried can land AFTER a later batch that succeeded meanwhile: reordering,
// exactly as Kafka warns. With idempotence the broker refuses the later batch
// (OUT_OF_ORDER_SEQUENCE_NUMBER) until the earlier one is in, so order holds.
//
// A transactional producer (transactional.id) sends only inside a transaction;
// under TV1 a partition's batches wait until AddPartitionsToTxn added it (the
// Sender asks, blocking its loop as Kafka's Sender sends that request first);
// Produce requests carry the transactional.id; a failed batch makes the
// transaction abortable (INVALID_PRODUCER_EPOCH too: KAFKA-10687), and
// PRODUCER_FENCED makes the producer fatal.
//
// History (engine/check/history.h): each record's send completes `ok` (offset,
// acking leader), `fail` when the write certainly did not happen (no attempt
// could have appended it), or `info` when it may have (an attempt timed out,
// was cut off, or got NOT_ENOUGH_REPLICAS_AFTER_APPEND and the like).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "engine/broker/protocol.h"
#include "engine/clients/client_metadata.h"
#include "engine/clients/client_runtime.h"
#include "engine/clients/producer_record.h"
#include "engine/clients/record_accumulator.h"
#include "engine/clients/transaction_manager.h"
#include "engine/common/sampled_stat.h"
#include "sim/rng.h"

namespace ksim::clients {

struct ProducerSettings {
  int16_t acks = -1;
  bool idempotent = true;
  int32_t max_in_flight = 5;
  int32_t retries = 2147483647;
  int64_t retry_backoff_ms = 100;
  int64_t retry_backoff_max_ms = 1000;
  int64_t reconnect_backoff_ms = 50;
  int64_t reconnect_backoff_max_ms = 1000;
  int32_t request_timeout_ms = 30000;
  int64_t delivery_timeout_ms = 120000;
  int32_t max_request_size = 1048576;
  int64_t max_block_ms = 60000;
  int64_t metadata_max_age_ms = 300000;
  double compression_ratio = 1.0;
  SampledStatConfig metrics_window;  // metrics.num.samples, metrics.sample.window.ms
};

struct ProducerStats {
  uint64_t produce_requests = 0, batches_sent = 0, retries = 0, records_acked = 0, records_failed = 0;
  uint64_t expired_batches = 0, init_producer_id_requests = 0, metadata_refreshes = 0;
};

class TransactionalClient;

class Sender {
 public:
  Sender(ClientContext ctx, ProducerSettings settings, RecordAccumulator& accumulator, ClientMetadata& metadata,
         TransactionManager* txn, std::vector<ProducerInterceptor>* interceptors, sim::CondVar& wake);

  // The fiber body; returns when closing and everything is done (or forced).
  void run();
  bool finished() const { return finished_; }
  void initiate_close() {
    closing_ = true;
    notify();
  }
  // Something changed (a send, a metadata request, a flush): run a loop iteration.
  void notify() {
    ++signals_;
    wake_.notify_all();
  }
  // close(timeout) ran out: fail what is left (Kafka's abortIncompleteBatches).
  void force_close();
  const ProducerStats& stats() const { return stats_; }
  // produce-throttle-time-avg / -max: every Produce response's throttle_time_ms
  // (0 included) over metrics.num.samples windows of metrics.sample.window.ms.
  std::map<std::string, double> metrics() const;
  void set_transactional_client(TransactionalClient* c) { txn_client_ = c; }
  // Completes a batch's records with an error (also used for force close and crash).
  void fail_batch(const BatchRef& b, Errc error, bool adjust_sequences);

 private:
  struct InFlightRequest {
    int32_t broker = -1;
    std::map<TopicPartition, BatchRef> batches;
    bool answered = false;
    // Failed here when another request on its connection timed out; the
    // network's own "disconnected" reply comes later and is ignored.
    bool failed_with_connection = false;
  };

  int64_t now_ms() const { return ctx_.world->now().ns / 1'000'000; }
  void maybe_init_producer_id();
  // TV1: AddPartitionsToTxn for the queued partitions the transaction lacks.
  void maybe_add_partitions_to_transaction();
  // Steps 3 and 4; returns the time of the next thing to do (ms), or nullopt: wait for a wake-up.
  std::optional<int64_t> send_producer_data();
  std::vector<BatchRef> drain(int32_t broker);
  void send_produce_request(int32_t broker, std::vector<BatchRef> batches);
  void handle_reply(const std::shared_ptr<InFlightRequest>& req, const sim::Reply& reply);
  // Fails every batch of a request with a connection-level error (retriable).
  void fail_request(const std::shared_ptr<InFlightRequest>& req, Errc error);
  // A refused connection: the request never reached the broker. Its batches
  // go back to the front of their queues as they were (no attempt spent) and
  // the broker waits out its reconnect backoff.
  void unsend_request(const std::shared_ptr<InFlightRequest>& req);
  void unsend_batch(const BatchRef& b);
  // The requests still in flight to `broker`, marked as ended with their
  // connection (one per broker): the caller fails or unsends each.
  std::vector<std::shared_ptr<InFlightRequest>> end_connection(int32_t broker);
  // A connection to `broker` was refused: not ready for its reconnect backoff; metadata refreshed.
  void refused(int32_t broker);
  void complete_batch(const BatchRef& b, const protocol::ProducePartitionResponse& resp, int32_t broker);
  void succeed_batch(const BatchRef& b, Offset base_offset, int32_t broker, int64_t log_append_time);
  bool can_retry(const BatchRef& b, const protocol::ProducePartitionResponse& resp);
  void reenqueue(const BatchRef& b);
  void finish_record(PendingRecord& p, const RecordMetadata& md, Errc error, check::Outcome outcome);
  void expire_batches();
  // delivery.timeout.ms passed: fail it with its outcome unknown (sequences not adjusted).
  void expire_batch(const BatchRef& b);
  int64_t backoff_ms(int32_t attempts);
  bool may_have_written(Errc e) const;

  ClientContext ctx_;
  ProducerSettings settings_;
  RecordAccumulator& acc_;
  ClientMetadata& metadata_;
  TransactionManager* txn_;
  TransactionalClient* txn_client_ = nullptr;
  std::vector<ProducerInterceptor>* interceptors_;
  sim::CondVar& wake_;
  sim::Rng rng_;
  std::map<int32_t, int32_t> in_flight_;  // broker -> requests outstanding
  // Kafka's NetworkClient.ready(): a broker that refused a connection is not
  // ready until its reconnect backoff (doubling per refusal) has passed;
  // nothing is drained for it meanwhile, so no batch spends an attempt on it.
  struct Reconnect {
    int32_t refusals = 0;
    int64_t ready_at_ms = 0;
  };
  std::map<int32_t, Reconnect> reconnect_;
  // KIP-219: a broker that answered with throttle_time_ms is not sent to
  // before then (Kafka's ClusterConnectionStates.throttle): broker -> until.
  std::map<int32_t, int64_t> throttled_until_ms_;
  SampledStat produce_throttle_time_{SampledStatConfig{}};
  // Every unanswered Produce request (at most max.in.flight per broker): a
  // request timeout closes the connection and fails all of them at once.
  std::vector<std::shared_ptr<InFlightRequest>> in_flight_requests_;
  std::map<int32_t, size_t> drain_index_;  // broker -> where the next drain starts (fairness)
  std::vector<BatchRef> in_flight_batches_;  // for in-flight delivery expiry
  std::set<TopicPartition> muted_;         // max.in.flight = 1: partitions with a batch in flight
  int64_t last_metadata_attempt_ms_ = -1'000'000;
  int64_t init_retry_at_ms_ = 0;
  bool closing_ = false;
  bool forced_ = false;
  bool finished_ = false;
  uint64_t signals_ = 0;
  ProducerStats stats_;
  // The Produce message kind, looked up at the first produce request (the
  // network numbers kinds in the order first asked).
  std::optional<sim::KindId> produce_kind_;
};

}  // namespace ksim::clients
