// KafkaProducer: Kafka's producer client, on a simulated client node.
//
//   auto p = std::make_shared<KafkaProducer>(ctx, Config::Map{{"acks", "all"}});
//   SendFuture f = p->send({.topic = "orders", .key = "k1", .value = "v1"},
//                          [](const RecordMetadata& md, Errc e) { ... });
//   p->flush(5'000);   // blocks (fiber) or runs the world (main context)
//   p->close();
//
// Pieces (one concept per file, as in Kafka):
//   producer_record.h      ProducerRecord, RecordMetadata, the send future, interceptors
//   partitioner.h          murmur2 for keys, sticky for null keys, RoundRobinPartitioner, user function
//   record_accumulator.h   per-partition batches, linger.ms / batch.size, buffer.memory
//   transaction_manager.h  idempotence: producer id, epoch, sequence numbers (KIP-360 bumps);
//                          the transactional state machine
//   transactional_client.h the transaction coordinator's request flows (transactional.id)
//   sender.h               the I/O fiber: drain, Produce requests, retries, expiry, metadata
//
// send() never waits for the broker: it partitions the record, appends it to
// a batch and returns. It blocks only for what Kafka's send() blocks for — the
// topic's metadata, and buffer memory — each at most max.block.ms, after which
// the send fails (the future and callback see DELIVERY_TIMEOUT, Kafka's
// client-side TimeoutException).
//
// Configuration: Kafka's producer keys and defaults (Kafka 4.0: acks=all,
// enable.idempotence=true, linger.ms=5, ...); invalid combinations throw
// ConfigError naming the key (engine/common/config.cc, KIP-679).
//
// A crash of the client node destroys the producer: records still pending are
// recorded as `info` in the history (they may or may not have been written)
// and their callbacks never run — as when a JVM dies.
#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/clients/client_metadata.h"
#include "engine/clients/client_runtime.h"
#include "engine/clients/partitioner.h"
#include "engine/clients/producer_record.h"
#include "engine/clients/record_accumulator.h"
#include "engine/clients/sender.h"
#include "engine/clients/transaction_manager.h"
#include "engine/clients/transactional_client.h"
#include "engine/common/config.h"

namespace ksim::clients {

struct ProducerOptions {
  PartitionFn partitioner;  // a user partitioner (takes precedence over partitioner.class)
  std::vector<ProducerInterceptor> interceptors;
};

class KafkaProducer {
 public:
  // Parses the producer config (throws ConfigError) and starts the Sender fiber on ctx.self.
  KafkaProducer(ClientContext ctx, const Config::Map& config, ProducerOptions options = {});
  ~KafkaProducer();
  KafkaProducer(const KafkaProducer&) = delete;
  KafkaProducer& operator=(const KafkaProducer&) = delete;

  // Kafka's send(record, callback). Throws std::logic_error after close().
  SendFuture send(ProducerRecord record, SendCallback callback = {});
  // Waits until every record sent before the call completed, or `timeout_ms`
  // passed; returns how many of those are still undelivered.
  int64_t flush(int64_t timeout_ms);
  // Sends what is buffered and stops, waiting at most `timeout_ms`; what is
  // left then fails (Kafka's close(Duration): "closed forcefully").
  void close(int64_t timeout_ms = std::numeric_limits<int64_t>::max() / 4);
  bool closed() const { return closed_; }
  // Waits for one future (fiber or main context); true if it completed.
  bool wait(const SendFuture& f, int64_t timeout_ms);

  // ---- transactions (transactional.id; Kafka's names and rules) -----------------------
  // Each blocks at most `timeout_ms` (Kafka: max.block.ms) and throws
  // KafkaException: TimeoutException (may be retried), ProducerFencedException
  // (fatal), CommitFailedException (abort), IllegalStateException (misuse).
  void init_transactions(int64_t timeout_ms);
  void begin_transaction();
  void send_offsets_to_transaction(const OffsetMap& offsets, const ConsumerGroupMetadata& group, int64_t timeout_ms);
  // Flushes, then EndTxn(commit). A failed send makes it throw: abort instead.
  void commit_transaction(int64_t timeout_ms);
  // Unsent records fail (TRANSACTION_ABORTED), in-flight ones are awaited, then EndTxn(abort).
  void abort_transaction(int64_t timeout_ms);
  bool transactional() const { return txn_client_ != nullptr; }
  const TransactionalClient* transactional_client() const { return txn_client_.get(); }

  // Every producer key with its effective value ("print the effective config").
  std::string effective_config() const { return config_.describe(); }
  const Config& config() const { return config_; }
  const ProducerSettings& settings() const { return settings_; }
  bool idempotent() const { return settings_.idempotent; }
  // The producer id and epoch (idempotence), once InitProducerId answered.
  std::optional<std::pair<ProducerId, ProducerEpoch>> producer_id() const;
  const TransactionManager* transaction_manager() const { return txn_.get(); }
  const ProducerStats& stats() const { return sender_->stats(); }
  // Kafka's producer-metrics of ksim: produce-throttle-time-avg / -max (ms).
  std::map<std::string, double> metrics() const { return sender_->metrics(); }
  ClientMetadata& metadata() { return metadata_; }
  const ClientContext& context() const { return ctx_; }

 private:
  // The partition for a record (explicit, user, round robin, murmur2, or -1: sticky).
  int32_t choose_partition(const ProducerRecord& r, const PartitionView& view);
  // The partitioner's view of `topic`, cached per metadata version, with the
  // topic's interned name (a send then names its partition without hashing).
  struct CachedView {
    uint64_t version = UINT64_MAX;  // the metadata version it was built from (none yet)
    PartitionView view;
    TopicName name;
  };
  const CachedView& view_of(const std::string& topic);
  std::map<std::string, CachedView> views_;
  SendFuture fail_now(const ProducerRecord& r, int32_t partition, Errc error, const SendCallback& cb,
                      std::optional<uint64_t> op);
  int64_t now_ms() const { return ctx_.world->now().ns / 1'000'000; }
  // Throws unless the transactional producer may do `what` (Kafka's maybeFailWithError / state checks).
  void require_phase(const char* what, std::initializer_list<TransactionManager::Phase> allowed) const;
  void finish_transaction(bool committed);
  sim::Instant deadline_ms(int64_t timeout_ms) const;
  // Every batch handed to the Sender so far has completed (sent or failed).
  bool all_batches_done() const;

  ClientContext ctx_;
  Config config_;
  ProducerSettings settings_;
  ProducerOptions options_;
  bool round_robin_ = false;
  bool ignore_keys_ = false;
  ClientMetadata metadata_;
  RecordAccumulator accumulator_;
  std::unique_ptr<TransactionManager> txn_;
  sim::CondVar wake_;
  std::unique_ptr<TransactionalClient> txn_client_;  // with a transactional.id
  std::unique_ptr<Sender> sender_;
  RoundRobinPartitioner round_robin_partitioner_;
  StickyPartitioner sticky_;
  bool closed_ = false;
};

}  // namespace ksim::clients
