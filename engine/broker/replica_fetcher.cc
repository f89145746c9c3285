#include "engine/broker/replica_fetcher.h"

#include <algorithm>
#include <cassert>

#include "engine/clients/fetch_session_handler.h"
#include "engine/common/node_ids.h"

namespace ksim {
ReplicaFetcherManager::ReplicaFetcherManager(sim::World& world, sim::NodeId self, int32_t broker_id,
                                             const Config& config, ReplicationSwitches switches, ReplicaManager& rm)
    : world_(world),
      self_(self),
      broker_id_(broker_id),
      backoff_(sim::milliseconds(config.get_long("replica.fetch.backoff.ms"))),
      socket_timeout_(sim::milliseconds(config.get_long("replica.socket.timeout.ms"))),
      wait_max_ms_(config.get_int("replica.fetch.wait.max.ms")),
      min_bytes_(config.get_int("replica.fetch.min.bytes")),
      max_bytes_(config.get_int("replica.fetch.max.bytes")),
      response_max_bytes_(config.get_int("replica.fetch.response.max.bytes")),
      switches_(switches),
      rm_(rm),
      changed_(world) {
  fetch_ = world_.network().kind("Fetch");
  ofle_ = world_.network().kind("OffsetsForLeaderEpoch");
}

ReplicaFetcherManager::State* ReplicaFetcherManager::find_state(const TopicPartition& tp) {
  const auto l = leader_of_.find(tp);
  if (l == leader_of_.end()) return nullptr;
  auto& group = by_leader_.at(l->second);
  const auto it = group.find(tp);
  assert(it != group.end() && "leader_of_ and by_leader_ disagree");
  return &it->second;
}

void ReplicaFetcherManager::erase_state(const TopicPartition& tp) {
  const auto l = leader_of_.find(tp);
  if (l == leader_of_.end()) return;
  by_leader_.at(l->second).erase(tp);
  leader_of_.erase(l);
}

void ReplicaFetcherManager::add(const TopicPartition& tp, int32_t leader, LeaderEpoch epoch) {
  if (const auto l = leader_of_.find(tp); l != leader_of_.end() && l->second != leader) erase_state(tp);
  leader_of_[tp] = leader;
  State& s = by_leader_[leader][tp];
  s.leader = leader;
  s.epoch = epoch;
  s.phase = Phase::truncating;
  s.ask_epoch.reset();
  if (fetchers_.insert(leader).second)
    world_.spawn(self_, "replica-fetcher-" + std::to_string(leader), [this, leader] { run(leader); });
  ++generation_;
  changed_.notify_all();
}

void ReplicaFetcherManager::remove(const TopicPartition& tp) {
  erase_state(tp);
  ++generation_;
  changed_.notify_all();
}

void ReplicaFetcherManager::truncate_to(Partition& p, Offset offset, const char* why) {
  if (offset >= p.log_end_offset()) return;
  if (switches_.bug_follower_never_truncates) {  // PLANTED BUG: keep the divergent suffix
    world_.probe("fetcher: PLANTED BUG skipped a truncation");
    return;
  }
  if (offset < p.high_watermark()) world_.probe("fetcher: follower truncated below high watermark");
  world_.probe(why);
  ++truncations_;
  p.log().truncate_to(offset);
  if (p.high_watermark() > p.log_end_offset()) p.log().update_high_watermark(p.log_end_offset());
}

void ReplicaFetcherManager::run(int32_t leader) {
  const sim::Duration backoff = backoff_;
  std::vector<protocol::FetchPartition> wanted;  // this fetcher's, reused round after round
  for (;;) {
    // One walk of the leader's partitions: those to truncate, and the fetch
    // of the others. Truncations block (they ask the leader), so after any
    // the fetch is collected again; without, nothing ran since the walk.
    std::vector<TopicPartition> truncating;
    collect(leader, wanted, &truncating);
    const uint64_t gen = generation_;
    bool waited = false;
    for (const TopicPartition& tp : truncating) waited = truncate(leader, tp) || waited;
    if (!truncating.empty()) collect(leader, wanted, nullptr);
    if (!wanted.empty()) waited = fetch(leader, wanted) || waited;
    if (!waited) changed_.wait_for(backoff, [&] { return generation_ != gen; });
  }
}

bool ReplicaFetcherManager::truncate(int32_t leader, const TopicPartition& tp) {
  State* it = find_state(tp);
  Partition* p = rm_.get(tp);
  if (!it) return false;
  if (!p || p->is_leader()) {
    erase_state(tp);  // no longer ours to follow
    return false;
  }
  State st = *it;
  if (!switches_.truncate_by_epoch) {
    sim::LockGuard g(p->role_lock());
    if (p->is_leader() || !find_state(tp)) return true;  // moved on while we waited for the lock
    // Pre-KIP-101: the high watermark is all a follower trusts.
    truncate_to(*p, p->high_watermark(), "fetcher: truncated to high watermark (pre-KIP-101)");
    if (State* s = find_state(tp); s && s->epoch == st.epoch) s->phase = Phase::fetching;
    return true;
  }
  const LeaderEpoch ask = st.ask_epoch ? *st.ask_epoch : p->log().latest_epoch().value_or(kNoEpoch);
  if (ask == kNoEpoch) {  // an empty log has nothing to reconcile
    it->phase = Phase::fetching;
    return false;
  }
  protocol::OffsetsForLeaderEpochRequest req;
  req.replica_id = broker_id_;
  req.partitions.push_back({tp, st.epoch, ask});
  const sim::Reply reply = world_.network().call_sync(
      self_, sim_node_of(leader), ofle_, sim::make_payload(req), 64,
      socket_timeout_);
  // Truncate under the partition's role lock, and only if nothing moved while
  // we asked (the lock is never held across the network call or a back-off).
  bool backoff = false;
  p = rm_.get(tp);  // re-read after blocking
  if (!p) return true;
  {
    sim::LockGuard g(p->role_lock());
    it = find_state(tp);
    if (!it || it->epoch != st.epoch || it->leader != leader || p->is_leader())
      return true;
    const protocol::OffsetForLeaderEpochResult* r =
        reply.status == sim::CallStatus::ok
            ? &sim::payload_as<protocol::OffsetsForLeaderEpochResponse>(reply.payload).partitions.front()
            : nullptr;
    if (!r || r->error != Errc::NONE) {
      // Unreachable leader, or stale metadata on one side: retry after a
      // back-off; the metadata log moves the partition if we are the stale one.
      backoff = true;
    } else {
      const Offset leo = p->log_end_offset();
      bool done = true;
      if (r->end_offset == kNoOffset) {
        truncate_to(*p, p->high_watermark(), "fetcher: leader has no epoch answer, truncated to HW");
      } else if (r->leader_epoch == kNoEpoch) {
        truncate_to(*p, std::min(r->end_offset, leo), "fetcher: truncated by KIP-101 offset");
      } else {
        const auto [fe, fend] = p->log().end_offset_for_epoch(r->leader_epoch);
        if (fe == r->leader_epoch || fe == kNoEpoch) {
          truncate_to(*p, std::min(r->end_offset, fend == kNoOffset ? leo : fend), "fetcher: truncated by leader epoch");
        } else {
          // We do not have the leader's epoch: cut to the end of our own older
          // epoch and ask again about it (KIP-279's iteration).
          truncate_to(*p, std::min(fend, leo), "fetcher: intermediate truncation (KIP-279)");
          it->ask_epoch = fe;
          done = false;
        }
      }
      if (done) {
        it->phase = Phase::fetching;
        it->ask_epoch.reset();
      }
    }
  }
  if (backoff) world_.sleep_for(backoff_);
  return true;
}

void ReplicaFetcherManager::collect(int32_t leader, std::vector<protocol::FetchPartition>& wanted,
                                    std::vector<TopicPartition>* truncating) {
  // Every partition to fetch now, ordered by partition (the map's order, which
  // the session handler's merge and the lookup in fetch rely on).
  wanted.clear();
  auto& mine = by_leader_[leader];
  for (auto& [tp, s] : mine) {
    if (s.phase == Phase::truncating && truncating) truncating->push_back(tp);
    if (s.phase != Phase::fetching) continue;
    Partition* p = rm_.get(tp, s.lookup);
    if (!p) continue;
    protocol::FetchPartition& fp = wanted.emplace_back();  // in place: a copy of a stack-built one stalled
    fp.tp = tp;
    fp.current_leader_epoch = s.epoch;
    fp.fetch_offset = p->log_end_offset();
    fp.last_fetched_epoch = p->log().latest_epoch().value_or(kNoEpoch);
    fp.partition_max_bytes = max_bytes_;
  }
}

bool ReplicaFetcherManager::fetch(int32_t leader, const std::vector<protocol::FetchPartition>& wanted) {
  protocol::FetchRequest req;
  req.replica_id = broker_id_;
  req.max_wait_ms = wait_max_ms_;
  req.min_bytes = min_bytes_;
  req.max_bytes = response_max_bytes_;
  // KIP-227: an incremental fetch sends only what changed since the last one.
  FetchSessionHandler& session = sessions_[leader];
  session.build(wanted, req);
  const sim::Reply reply = world_.network().call_sync(
      self_, sim_node_of(leader), fetch_, sim::make_payload(std::move(req)), 64,
      socket_timeout_);
  if (reply.status != sim::CallStatus::ok) {
    session.handle_error();
    world_.sleep_for(backoff_);
    return true;
  }
  const auto& resp = sim::payload_as<protocol::FetchResponse>(reply.payload);
  // A session error carries no partitions: fetch again at once, in full
  // (Kafka's fetcher gets an empty result and goes round).
  if (!session.handle_response(resp)) return true;
  bool backoff = false;
  // The leader answers the partitions with news, in its session's order.
  for (const auto& r : resp.partitions) {
    const auto w = std::lower_bound(wanted.begin(), wanted.end(), r.tp,
                                    [](const protocol::FetchPartition& fp, const TopicPartition& tp) { return fp.tp < tp; });
    if (w == wanted.end() || w->tp != r.tp) continue;  // not asked for (cannot happen with a sound leader)
    State* it = find_state(r.tp);
    Partition* p = rm_.get(r.tp);
    // Ignore answers about partitions that moved on while we waited.
    if (!it || !p || it->epoch != w->current_leader_epoch || it->leader != leader || it->phase != Phase::fetching ||
        p->is_leader())
      continue;
    switch (r.error) {
      case Errc::NONE: {
        sim::LockGuard g(p->role_lock());
        if (p->is_leader() || !find_state(r.tp)) break;
        // A compacted leader's log has gaps (its cleaner removed whole batches):
        // the first batch it returns may start past our end. Kafka's follower
        // appends it (offsets only increase); anything else starting elsewhere
        // than our end means our log moved, or diverged.
        const bool next = !r.batches.empty() &&
                          (r.batches.front()->base_offset() == p->log_end_offset() ||
                           (p->log().config().compact && r.batches.front()->base_offset() > p->log_end_offset()));
        if (next) {
          auto ap = p->log().append_as_follower(r.batches);
          if (!ap.ok()) find_state(r.tp)->phase = Phase::truncating;
        } else if (!r.batches.empty()) {
          // Our log moved under this response (an append of a stale leader
          // role, say): reconcile with the leader before fetching on.
          find_state(r.tp)->phase = Phase::truncating;
        }
        p->follower_update_hw(r.high_watermark);
        // Retention on the leader moves the followers' log start too.
        p->log().maybe_increment_log_start_offset(r.log_start_offset);
        break;
      }
      case Errc::OFFSET_OUT_OF_RANGE:
        it->phase = Phase::truncating;
        if (p->log_end_offset() < r.log_start_offset) {
          sim::LockGuard g(p->role_lock());
          p->log().truncate_fully_and_start_at(r.log_start_offset);
        }
        break;
      default:
        // FENCED_LEADER_EPOCH, UNKNOWN_LEADER_EPOCH, NOT_LEADER_OR_FOLLOWER:
        // one side's metadata is stale; back off and retry (the metadata log
        // re-adds the partition with its new leader and epoch).
        backoff = true;
        break;
    }
  }
  if (backoff) world_.sleep_for(backoff_);
  return true;
}

}  // namespace ksim
