// TransactionalClient: the request flows of a transactional producer (Kafka's
// TransactionManager.TxnRequestHandler family): find the transaction
// coordinator, InitProducerId, AddPartitionsToTxn (TV1), AddOffsetsToTxn +
// TxnOffsetCommit (sendOffsetsToTransaction), EndTxn.
//
// Each flow blocks its caller (a fiber of the client node, or the main
// context, which runs the world meanwhile — client_runtime.h) until it is done
// or its deadline passes, retrying as Kafka's client does:
//   NOT_COORDINATOR / COORDINATOR_NOT_AVAILABLE / a lost request
//                               -> look the coordinator up again, retry;
//   COORDINATOR_LOAD_IN_PROGRESS / CONCURRENT_TRANSACTIONS
//                               -> retry after retry.backoff.ms;
//   PRODUCER_FENCED / INVALID_PRODUCER_EPOCH / INVALID_PRODUCER_ID_MAPPING /
//   INVALID_TXN_STATE / INVALID_TRANSACTION_TIMEOUT
//                               -> fatal: the producer can only be closed.
// Failures are thrown as KafkaException with Kafka's exception names
// (TimeoutException, ProducerFencedException, CommitFailedException, ...).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/clients/client_metadata.h"
#include "engine/clients/client_runtime.h"
#include "engine/clients/consumer_api.h"
#include "engine/clients/sender.h"
#include "engine/clients/transaction_manager.h"

namespace ksim::clients {

class TransactionalClient {
 public:
  TransactionalClient(ClientContext ctx, const ProducerSettings& settings, TransactionManager& txn,
                      ClientMetadata& metadata, sim::CondVar& wake);

  // InitProducerId: a first id/epoch, or (bump) a new epoch for the current id (KIP-360).
  void init_producer_id(bool bump, sim::Instant deadline);
  // TV1: the partitions join the transaction before anything is sent to them.
  void add_partitions(const std::vector<TopicPartition>& tps, sim::Instant deadline);
  void send_offsets(const OffsetMap& offsets, const ConsumerGroupMetadata& group, sim::Instant deadline);
  // EndTxn; then (TV2) the bumped epoch, or (TV1 abort after a sequence problem) an InitProducerId bump.
  void end_transaction(bool commit, sim::Instant deadline);

  int32_t coordinator() const { return txn_coordinator_; }
  uint64_t requests() const { return requests_; }

 private:
  // One request; nullopt if it failed on the network or the deadline passed first.
  std::optional<sim::Reply> request(int32_t broker, const char* api, sim::Payload body, uint32_t size,
                                    sim::Instant deadline);
  // FindCoordinator (any broker); -1 when there is none yet.
  int32_t find_coordinator(const std::string& key, int8_t key_type, sim::Instant deadline);
  // Sends `make()` to the transaction coordinator until `handle(error)` says done
  // (true) or throws; the coordinator is looked up as needed.
  template <class Response, class Make, class Handle>
  void with_txn_coordinator(const char* api, Make make, Handle handle, sim::Instant deadline);
  void backoff(sim::Instant deadline);
  [[noreturn]] void fail_fatal(Errc e, const std::string& what);
  [[noreturn]] void timeout(const std::string& what);

  ClientContext ctx_;
  const ProducerSettings& settings_;
  TransactionManager& txn_;
  ClientMetadata& metadata_;
  sim::CondVar& wake_;
  int32_t txn_coordinator_ = -1;
  uint64_t requests_ = 0;
};

}  // namespace ksim::clients
