#include "engine/clients/transactional_client.h"

#include <algorithm>
#include <memory>

#include "engine/broker/protocol.h"

namespace ksim::clients {
namespace {

bool coordinator_moved(Errc e) { return e == Errc::NOT_COORDINATOR || e == Errc::COORDINATOR_NOT_AVAILABLE; }
bool retry_later(Errc e) { return e == Errc::COORDINATOR_LOAD_IN_PROGRESS || e == Errc::CONCURRENT_TRANSACTIONS; }

}  // namespace

TransactionalClient::TransactionalClient(ClientContext ctx, const ProducerSettings& settings, TransactionManager& txn,
                                         ClientMetadata& metadata, sim::CondVar& wake)
    : ctx_(std::move(ctx)), settings_(settings), txn_(txn), metadata_(metadata), wake_(wake) {}

std::optional<sim::Reply> TransactionalClient::request(int32_t broker, const char* api, sim::Payload body,
                                                       uint32_t size, sim::Instant deadline) {
  sim::World& w = *ctx_.world;
  if (w.now() >= deadline) return std::nullopt;
  ++requests_;
  auto result = std::make_shared<std::optional<sim::Reply>>();
  sim::Network& net = w.network();
  const sim::Duration timeout = std::min<sim::Duration>(sim::milliseconds(settings_.request_timeout_ms), deadline - w.now());
  const sim::CallId id = net.call(ctx_.self, sim_node_of(broker), net.kind(api), std::move(body), size, timeout);
  sim::CondVar* wake = &wake_;
  net.on_reply(id, [result, wake](const sim::Reply& r) {
    *result = r;
    wake->notify_all();
  });
  wait_until(w, wake_, [&] { return result->has_value(); }, deadline);
  if (!result->has_value() || (*result)->status != sim::CallStatus::ok) return std::nullopt;
  return *result;
}

void TransactionalClient::backoff(sim::Instant deadline) {
  sim::World& w = *ctx_.world;
  const sim::Instant until = std::min(deadline, w.now() + sim::milliseconds(settings_.retry_backoff_ms));
  wait_until(w, wake_, [] { return false; }, until);
}

void TransactionalClient::fail_fatal(Errc e, const std::string& what) {
  txn_.fatal_error(e);
  ctx_.world->probe("producer: transactional producer hit a fatal error");
  const char* kind = is_fencing_error(e) ? "ProducerFencedException" : "KafkaException";
  throw KafkaException(kind, e, what + " failed: " + std::string(errc_name(e)) +
                                    (is_fencing_error(e) ? " (another producer with the same transactional.id is active, or the "
                                                  "coordinator aborted this transaction)"
                                                : ""));
}

void TransactionalClient::timeout(const std::string& what) {
  throw KafkaException("TimeoutException", Errc::REQUEST_TIMED_OUT,
                       "Timeout expired while awaiting " + what + " (transactional.id " + txn_.transactional_id() + ")");
}

int32_t TransactionalClient::find_coordinator(const std::string& key, int8_t key_type, sim::Instant deadline) {
  const int32_t broker = metadata_.any_broker();
  if (broker < 0) {
    metadata_.request_update();
    return -1;
  }
  auto r = request(broker, "FindCoordinator", sim::make_payload(protocol::FindCoordinatorRequest{key, key_type}), 48,
                   deadline);
  if (!r) return -1;
  const auto& resp = sim::payload_as<protocol::FindCoordinatorResponse>(r->payload);
  return resp.error == Errc::NONE ? resp.node_id : -1;
}

template <class Response, class Make, class Handle>
void TransactionalClient::with_txn_coordinator(const char* api, Make make, Handle handle, sim::Instant deadline) {
  sim::World& w = *ctx_.world;
  while (w.now() < deadline) {
    if (txn_coordinator_ < 0) txn_coordinator_ = find_coordinator(txn_.transactional_id(), 1, deadline);
    if (txn_coordinator_ < 0) {
      backoff(deadline);
      continue;
    }
    auto r = request(txn_coordinator_, api, sim::make_payload(make()), 64, deadline);
    if (!r) {
      txn_coordinator_ = -1;  // lost: maybe the coordinator moved or died
      continue;
    }
    const auto& resp = sim::payload_as<Response>(r->payload);
    const Errc e = handle(resp);
    if (e == Errc::NONE) return;
    if (coordinator_moved(e)) {
      txn_coordinator_ = -1;
      backoff(deadline);
    } else if (retry_later(e)) {
      backoff(deadline);
    } else {
      fail_fatal(e, api);
    }
  }
  timeout(api);
}

void TransactionalClient::init_producer_id(bool bump, sim::Instant deadline) {
  with_txn_coordinator<protocol::InitProducerIdResponse>(
      "InitProducerId",
      [&] {
        protocol::InitProducerIdRequest req;
        req.transactional_id = txn_.transactional_id();
        req.transaction_timeout_ms = txn_.transaction_timeout_ms();
        if (bump) {
          req.producer_id = txn_.producer_id();
          req.producer_epoch = txn_.producer_epoch();
        }
        return req;
      },
      [&](const protocol::InitProducerIdResponse& resp) {
        if (resp.error == Errc::NONE) {
          txn_.reset_for_epoch(resp.producer_id, resp.producer_epoch);
          txn_.set_transaction_version(resp.transaction_version);
        }
        return resp.error;
      },
      deadline);
}

void TransactionalClient::add_partitions(const std::vector<TopicPartition>& tps, sim::Instant deadline) {
  with_txn_coordinator<protocol::AddPartitionsToTxnResponse>(
      "AddPartitionsToTxn",
      [&] {
        protocol::AddPartitionsToTxnRequest req;
        req.transactional_id = txn_.transactional_id();
        req.producer_id = txn_.producer_id();
        req.producer_epoch = txn_.producer_epoch();
        req.partitions = tps;
        return req;
      },
      [&](const protocol::AddPartitionsToTxnResponse& resp) {
        Errc e = resp.error;
        for (const auto& [tp, pe] : resp.partitions)
          if (pe != Errc::NONE) e = pe;
        if (e == Errc::NONE) txn_.partitions_added(tps);
        return e;
      },
      deadline);
}

void TransactionalClient::send_offsets(const OffsetMap& offsets, const ConsumerGroupMetadata& group,
                                       sim::Instant deadline) {
  with_txn_coordinator<protocol::AddOffsetsToTxnResponse>(
      "AddOffsetsToTxn",
      [&] {
        return protocol::AddOffsetsToTxnRequest{txn_.transactional_id(), txn_.producer_id(), txn_.producer_epoch(),
                                                group.group_id};
      },
      [&](const protocol::AddOffsetsToTxnResponse& resp) { return resp.error; }, deadline);
  txn_.mark_started();
  // Then the offsets themselves, to the group's coordinator.
  sim::World& w = *ctx_.world;
  int32_t group_coordinator = -1;
  while (w.now() < deadline) {
    if (group_coordinator < 0) group_coordinator = find_coordinator(group.group_id, 0, deadline);
    if (group_coordinator < 0) {
      backoff(deadline);
      continue;
    }
    protocol::TxnOffsetCommitRequest req;
    req.transactional_id = txn_.transactional_id();
    req.group_id = group.group_id;
    req.producer_id = txn_.producer_id();
    req.producer_epoch = txn_.producer_epoch();
    req.generation_id = group.generation_id;
    req.member_id = group.member_id;
    req.group_instance_id = group.group_instance_id;
    for (const auto& [tp, o] : offsets) req.partitions.push_back({tp, o.offset, o.leader_epoch, o.metadata});
    auto r = request(group_coordinator, "TxnOffsetCommit", sim::make_payload(std::move(req)),
                     64 + 24 * static_cast<uint32_t>(offsets.size()), deadline);
    if (!r) {
      group_coordinator = -1;
      continue;
    }
    Errc e = Errc::NONE;
    for (const auto& [tp, pe] : sim::payload_as<protocol::TxnOffsetCommitResponse>(r->payload).partitions)
      if (pe != Errc::NONE) e = pe;
    if (e == Errc::NONE) return;
    if (coordinator_moved(e)) {
      group_coordinator = -1;
      backoff(deadline);
    } else if (retriable(e) || e == Errc::CONCURRENT_TRANSACTIONS) {
      backoff(deadline);
    } else if (e == Errc::ILLEGAL_GENERATION || e == Errc::UNKNOWN_MEMBER_ID || e == Errc::FENCED_INSTANCE_ID ||
               e == Errc::REBALANCE_IN_PROGRESS) {
      // KIP-447: a consumer of an older generation (a zombie) cannot commit.
      txn_.abortable_error(e);
      w.probe("producer: transactional offset commit fenced (generation)");
      throw KafkaException("CommitFailedException", e,
                           std::string("Transaction offset commit failed: ") + std::string(errc_name(e)) +
                               " (the group rebalanced; abort the transaction)");
    } else {
      fail_fatal(e, "TxnOffsetCommit");
    }
  }
  timeout("TxnOffsetCommit");
}

void TransactionalClient::end_transaction(bool commit, sim::Instant deadline) {
  const ProducerId pid = txn_.producer_id();
  const ProducerEpoch epoch = txn_.producer_epoch();
  with_txn_coordinator<protocol::EndTxnResponse>(
      "EndTxn", [&] { return protocol::EndTxnRequest{txn_.transactional_id(), pid, epoch, commit}; },
      [&](const protocol::EndTxnResponse& resp) {
        if (resp.error == Errc::NONE && txn_.transaction_version() >= 2)
          txn_.reset_for_epoch(resp.producer_id, resp.producer_epoch);  // TV2: the epoch moved on
        return resp.error;
      },
      deadline);
  // TV1: an abort after a sequence problem asks for a new epoch (KIP-360).
  if (!commit && txn_.transaction_version() < 2 && txn_.epoch_bump_required()) init_producer_id(true, deadline);
}

}  // namespace ksim::clients
