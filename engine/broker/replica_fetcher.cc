#include "engine/broker/replica_fetcher.h"

#include <algorithm>

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
      switches_(switches),
      rm_(rm),
      changed_(world) {
  fetch_ = world_.network().kind("Fetch");
  ofle_ = world_.network().kind("OffsetsForLeaderEpoch");
}

void ReplicaFetcherManager::add(const TopicPartition& tp, int32_t leader, LeaderEpoch epoch) {
  State& s = states_[tp];
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
  states_.erase(tp);
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
  for (;;) {
    std::vector<TopicPartition> truncating;
    bool any_fetching = false;
    for (const auto& [tp, s] : states_) {
      if (s.leader != leader) continue;
      if (s.phase == Phase::truncating) truncating.push_back(tp);
      if (s.phase == Phase::fetching) any_fetching = true;
    }
    const uint64_t gen = generation_;
    bool waited = false;
    for (const TopicPartition& tp : truncating) waited = truncate(leader, tp) || waited;
    if (any_fetching || !truncating.empty()) waited = fetch(leader) || waited;
    if (!waited) changed_.wait_for(backoff, [&] { return generation_ != gen; });
  }
}

bool ReplicaFetcherManager::truncate(int32_t leader, const TopicPartition& tp) {
  auto it = states_.find(tp);
  Partition* p = rm_.get(tp);
  if (it == states_.end()) return false;
  if (!p || p->is_leader()) {
    states_.erase(it);  // no longer ours to follow
    return false;
  }
  State st = it->second;
  if (!switches_.truncate_by_epoch) {
    sim::LockGuard g(p->role_lock());
    if (p->is_leader() || !states_.contains(tp)) return true;  // moved on while we waited for the lock
    // Pre-KIP-101: the high watermark is all a follower trusts.
    truncate_to(*p, p->high_watermark(), "fetcher: truncated to high watermark (pre-KIP-101)");
    if (auto s = states_.find(tp); s != states_.end() && s->second.epoch == st.epoch) s->second.phase = Phase::fetching;
    return true;
  }
  const LeaderEpoch ask = st.ask_epoch ? *st.ask_epoch : p->log().latest_epoch().value_or(kNoEpoch);
  if (ask == kNoEpoch) {  // an empty log has nothing to reconcile
    it->second.phase = Phase::fetching;
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
    it = states_.find(tp);
    if (it == states_.end() || it->second.epoch != st.epoch || it->second.leader != leader || p->is_leader())
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
          it->second.ask_epoch = fe;
          done = false;
        }
      }
      if (done) {
        it->second.phase = Phase::fetching;
        it->second.ask_epoch.reset();
      }
    }
  }
  if (backoff) world_.sleep_for(backoff_);
  return true;
}

bool ReplicaFetcherManager::fetch(int32_t leader) {
  protocol::FetchRequest req;
  req.replica_id = broker_id_;
  req.max_wait_ms = wait_max_ms_;
  req.min_bytes = min_bytes_;
  std::map<TopicPartition, State> asked;
  for (const auto& [tp, s] : states_) {
    if (s.leader != leader || s.phase != Phase::fetching) continue;
    Partition* p = rm_.get(tp);
    if (!p) continue;
    protocol::FetchPartition fp;
    fp.tp = tp;
    fp.current_leader_epoch = s.epoch;
    fp.fetch_offset = p->log_end_offset();
    fp.last_fetched_epoch = p->log().latest_epoch().value_or(kNoEpoch);
    fp.partition_max_bytes = max_bytes_;
    req.partitions.push_back(fp);
    asked[tp] = s;
  }
  if (req.partitions.empty()) return false;
  const sim::Reply reply = world_.network().call_sync(
      self_, sim_node_of(leader), fetch_, sim::make_payload(req), 64,
      socket_timeout_);
  if (reply.status != sim::CallStatus::ok) {
    world_.sleep_for(backoff_);
    return true;
  }
  const auto& resp = sim::payload_as<protocol::FetchResponse>(reply.payload);
  bool backoff = false;
  for (const auto& r : resp.partitions) {
    auto it = states_.find(r.tp);
    Partition* p = rm_.get(r.tp);
    // Ignore answers about partitions that moved on while we waited.
    if (it == states_.end() || !p || it->second.epoch != asked[r.tp].epoch || it->second.leader != leader ||
        it->second.phase != Phase::fetching || p->is_leader())
      continue;
    switch (r.error) {
      case Errc::NONE: {
        sim::LockGuard g(p->role_lock());
        if (p->is_leader() || states_.find(r.tp) == states_.end()) break;
        if (!r.batches.empty() && r.batches.front()->base_offset() == p->log_end_offset()) {
          auto ap = p->log().append_as_follower(r.batches);
          if (!ap.ok()) states_[r.tp].phase = Phase::truncating;
        } else if (!r.batches.empty()) {
          // Our log moved under this response (an append of a stale leader
          // role, say): reconcile with the leader before fetching on.
          states_[r.tp].phase = Phase::truncating;
        }
        p->follower_update_hw(r.high_watermark);
        break;
      }
      case Errc::OFFSET_OUT_OF_RANGE:
        it->second.phase = Phase::truncating;
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
