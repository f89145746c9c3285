// ProducerIdManager: where a broker gets the producer ids it hands to
// idempotent producers in InitProducerId (Kafka's RPCProducerIdManager,
// KIP-730).
//
// Ids must be unique cluster-wide and forever — a reused id would let a new
// producer's sequence 0 be taken for an old producer's duplicate. So no broker
// invents them: each asks the active controller for a block of 1000
// (AllocateProducerIds); the controller answers only after the block is
// recorded (ProducerIdsRecord) in the metadata log, so the next block it — or
// its successor after a failover — hands out starts past it. A broker that
// restarts forgets its block and asks for a new one: ids are skipped, never
// repeated.
//
// States: no block -> fetching (one request at a time; other callers wait)
// -> block [next, end) -> exhausted -> fetching ... A failed request
// (controller moving, stale broker epoch) answers the caller
// COORDINATOR_LOAD_IN_PROGRESS, retriable, as Kafka's manager does while its
// block request is pending.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>

#include "engine/common/errors.h"
#include "engine/common/types.h"
#include "sim/network.h"
#include "sim/sync.h"
#include "sim/world.h"

namespace ksim {

class ProducerIdManager {
 public:
  // `allocate` sends AllocateProducerIds to the active controller (blocking the
  // calling fiber) and returns the reply.
  using Allocate = std::function<sim::Reply()>;
  ProducerIdManager(sim::World& world, Allocate allocate) : world_(world), allocate_(std::move(allocate)), cv_(world) {}

  // The next unused producer id, or an error (retriable) when no block could be had.
  std::pair<Errc, ProducerId> generate();

  int64_t blocks_fetched() const { return blocks_fetched_; }

 private:
  sim::World& world_;
  Allocate allocate_;
  sim::CondVar cv_;
  int64_t next_ = 0, end_ = 0;  // the current block: [next_, end_)
  bool fetching_ = false;
  int64_t blocks_fetched_ = 0;
};

}  // namespace ksim
