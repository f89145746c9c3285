// FetchSessionCache: the leader's side of incremental fetch sessions (KIP-227;
// Kafka's FetchSession.scala / FetchManager).
//
// A follower (or any fetcher) that fetches the same partitions over and over
// opens a session with a full fetch (epoch 0). The leader remembers, per
// session, each partition's fetch parameters and the high watermark and log
// start offset it last reported. Later fetches are incremental (epoch 1, 2,
// ...): the request names only the partitions whose parameters changed (and
// `forgotten` the ones dropped); the leader still reads every partition of
// the session, but answers only those with news: records, a moved high
// watermark or log start offset, an error, a divergence. A partition that
// answered records moves to the back of the session (fairness under the
// response's byte limit).
//
// States of a request (ReplicaManager::handle_fetch):
//   epoch -1, id 0   sessionless full fetch
//   epoch -1, id N   close session N, then sessionless
//   epoch  0         full fetch; closes session `id` if given; the answer
//                    opens a new session if the cache has (or can make) room
//                    and carries its id (0: none, the fetcher stays full)
//   epoch  E > 0     incremental: FETCH_SESSION_ID_NOT_FOUND if the session is
//                    gone (evicted, or the broker restarted: sessions live in
//                    memory), INVALID_FETCH_SESSION_EPOCH if E is not the
//                    session's next epoch; else the session takes the
//                    request's changes and its epoch moves on
// Invariants: session ids are nonzero, unique, drawn from the broker
// incarnation's seeded stream; a session's partitions are distinct; the cache
// never holds more than max.incremental.fetch.session.cache.slots sessions.
//
// Eviction when full (Kafka's tryEvict): a session unused for
// kFetchSessionEvictionMs goes first; else the least valuable evictable one —
// ordered by (privileged, size, id); followers' sessions are privileged — if
// the new session is at least as valuable. A session is evictable by anyone
// kFetchSessionEvictionMs after its creation, and by a privileged newcomer at
// once if it is unprivileged.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <vector>

#include "engine/broker/partition_lookup.h"
#include "engine/broker/protocol.h"
#include "sim/rng.h"
#include "sim/time.h"

namespace ksim {

class Partition;  // engine/broker/partition.h

// Kafka's KafkaServer.MIN_INCREMENTAL_FETCH_SESSION_EVICTION_MS.
inline constexpr int64_t kFetchSessionEvictionMs = 120'000;

// One partition of a session, as the leader remembers it.
struct CachedPartition {
  protocol::FetchPartition request;   // the fetcher's latest parameters (tp inside)
  Offset high_watermark = kNoOffset;  // as last answered (kNoOffset after an error: answer again)
  Offset log_start_offset = kNoOffset;
  PartitionLookup lookup;             // the leader's Partition for request.tp (partition_lookup.h)
};

struct FetchSession {
  int32_t id = kInvalidFetchSessionId;
  bool privileged = false;  // opened by a follower
  int32_t epoch = 1;        // the epoch the next request must carry
  sim::Instant created, last_used;
  std::vector<CachedPartition> partitions;  // in fetch order

  CachedPartition* find(const TopicPartition& tp);
  // Applies an incremental request: new and changed partitions, then forgotten ones.
  void update(const std::vector<protocol::FetchPartition>& changed, const std::vector<TopicPartition>& forgotten);
};

class FetchSessionCache {
 public:
  FetchSessionCache(int32_t max_sessions, sim::Rng rng) : max_sessions_(max_sessions), rng_(rng) {}

  // Shared: a request handler holds its session across a read that blocks
  // (a log lock), while another handler may close or evict it.
  std::shared_ptr<FetchSession> get(int32_t id) const;
  void remove(int32_t id) { sessions_.erase(id); }
  // Opens a session over `partitions` if there is room (evicting if the rule
  // allows); its id, or kInvalidFetchSessionId.
  int32_t maybe_create(sim::Instant now, bool privileged, std::vector<CachedPartition> partitions);
  void touch(FetchSession& s, sim::Instant now) { s.last_used = now; }

  size_t size() const { return sessions_.size(); }
  size_t partitions_cached() const;

 private:
  bool try_evict(bool privileged, size_t size, sim::Instant now);

  int32_t max_sessions_;
  sim::Rng rng_;
  std::map<int32_t, std::shared_ptr<FetchSession>> sessions_;  // ordered: eviction scans are deterministic
};

}  // namespace ksim
