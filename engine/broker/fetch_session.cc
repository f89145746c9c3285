#include "engine/broker/fetch_session.h"

#include <algorithm>
#include <cassert>
#include <tuple>

namespace ksim {

CachedPartition* FetchSession::find(const TopicPartition& tp) {
  // Sessions are a follower's partitions of one leader (tens) and requests
  // carry only what changed: a scan beats keeping an index in step with the
  // fairness reordering.
  for (CachedPartition& c : partitions)
    if (c.request.tp == tp) return &c;
  return nullptr;
}

void FetchSession::update(const std::vector<protocol::FetchPartition>& changed,
                          const std::vector<TopicPartition>& forgotten) {
  for (const protocol::FetchPartition& fp : changed) {
    if (CachedPartition* c = find(fp.tp)) {
      c->request = fp;  // Kafka's updateRequestParams: the answered HW / log start stay
    } else {
      CachedPartition added;
      added.request = fp;
      partitions.push_back(added);
    }
  }
  for (const TopicPartition& tp : forgotten)
    std::erase_if(partitions, [&](const CachedPartition& c) { return c.request.tp == tp; });
}

std::shared_ptr<FetchSession> FetchSessionCache::get(int32_t id) const {
  const auto it = sessions_.find(id);
  return it == sessions_.end() ? nullptr : it->second;
}

size_t FetchSessionCache::partitions_cached() const {
  size_t n = 0;
  for (const auto& [id, s] : sessions_) n += s->partitions.size();
  return n;
}

bool FetchSessionCache::try_evict(bool privileged, size_t size, sim::Instant now) {
  if (sessions_.empty()) return false;
  const sim::Duration eviction = sim::milliseconds(kFetchSessionEvictionMs);
  // A stale session (the least recently used, unused for the eviction time) goes first.
  const FetchSession* lru = nullptr;
  for (const auto& [id, s] : sessions_)
    if (!lru || std::tie(s->last_used, s->id) < std::tie(lru->last_used, lru->id)) lru = s.get();
  if (now - lru->last_used > eviction) {
    sessions_.erase(lru->id);
    return true;
  }
  // Else the least valuable session the newcomer may evict, if it is worth no more.
  const FetchSession* victim = nullptr;
  auto key = [](const FetchSession& s) { return std::tuple{s.privileged, s.partitions.size(), s.id}; };
  for (const auto& [id, s] : sessions_) {
    const bool old = now - s->created > eviction;
    const bool evictable = old || (privileged && !s->privileged);
    if (evictable && (!victim || key(*s) < key(*victim))) victim = s.get();
  }
  if (!victim || std::tuple{privileged, size, int32_t{0}} < key(*victim)) return false;
  sessions_.erase(victim->id);
  return true;
}

int32_t FetchSessionCache::maybe_create(sim::Instant now, bool privileged, std::vector<CachedPartition> partitions) {
  if (max_sessions_ <= 0) return kInvalidFetchSessionId;
  if (static_cast<int32_t>(sessions_.size()) >= max_sessions_ && !try_evict(privileged, partitions.size(), now))
    return kInvalidFetchSessionId;
  // A random positive id, never 0 and never one in use: a fetcher holding an
  // id from before a restart must not land in somebody else's session.
  int32_t id;
  do {
    id = static_cast<int32_t>(rng_.uniform(static_cast<uint64_t>(INT32_MAX))) + 1;
  } while (sessions_.contains(id));
  auto session = std::make_shared<FetchSession>();
  FetchSession& s = *session;
  s.id = id;
  s.privileged = privileged;
  s.epoch = next_fetch_epoch(kInitialFetchEpoch);
  s.created = s.last_used = now;
  s.partitions = std::move(partitions);
  sessions_.emplace(id, std::move(session));
  assert(static_cast<int32_t>(sessions_.size()) <= max_sessions_);
  return id;
}

}  // namespace ksim
