#include "engine/clients/sticky_assignor.h"

#include <algorithm>
#include <deque>
#include <set>

#include "engine/common/codec.h"
#include "sim/error.h"

namespace ksim::clients {
namespace {

bool subscribes(const MemberSubscription& m, const std::string& topic) {
  const auto& ts = m.subscription.topics;
  return std::find(ts.begin(), ts.end(), topic) != ts.end();
}

bool exists(const PartitionsPerTopic& ppt, const TopicPartition& tp) {
  auto it = ppt.find(tp.topic);
  return it != ppt.end() && tp.partition >= 0 && tp.partition < it->second;
}

}  // namespace

GroupAssignment AbstractStickyAssignor::assign(const PartitionsPerTopic& partitions_per_topic,
                                               const std::vector<MemberSubscription>& members) {
  return checked_assignment(sticky_assign(partitions_per_topic, members), partitions_per_topic, members);
}

GroupAssignment AbstractStickyAssignor::sticky_assign(const PartitionsPerTopic& ppt,
                                                      const std::vector<MemberSubscription>& members) const {
  const std::vector<const MemberSubscription*> order = sorted_members(members);
  GroupAssignment out;
  if (order.empty()) return out;

  // 1. Who owned what: the highest generation's claim wins; a tie voids it.
  struct Claim {
    int32_t generation = -1;
    const MemberSubscription* owner = nullptr;
    int claimants = 0;
  };
  std::map<TopicPartition, Claim> claims;
  for (const MemberSubscription* m : order) {
    const MemberData md = member_data(m->subscription);
    for (const TopicPartition& tp : md.partitions) {
      if (!exists(ppt, tp) || !subscribes(*m, tp.topic)) continue;
      Claim& c = claims[tp];
      if (c.claimants == 0 || md.generation > c.generation) {
        c = {md.generation, m, 1};
      } else if (md.generation == c.generation) {
        ++c.claimants;
      }
    }
  }
  std::map<std::string, std::vector<TopicPartition>> owned;
  for (const MemberSubscription* m : order) owned[m->member_id];
  for (const auto& [tp, c] : claims)
    if (c.claimants == 1) owned[c.owner->member_id].push_back(tp);

  // Every partition some member can take, sorted.
  std::vector<TopicPartition> all;
  for (const auto& [topic, count] : ppt) {
    bool wanted = false;
    for (const MemberSubscription* m : order) wanted = wanted || subscribes(*m, topic);
    if (!wanted) continue;
    for (int32_t p = 0; p < count; ++p) all.push_back({topic, p});
  }

  bool all_equal = true;
  {
    std::set<std::string> first(order[0]->subscription.topics.begin(), order[0]->subscription.topics.end());
    for (const MemberSubscription* m : order)
      all_equal = all_equal && std::set<std::string>(m->subscription.topics.begin(), m->subscription.topics.end()) == first;
  }

  std::set<TopicPartition> taken;
  if (all_equal) {
    // 2a. Constrained: quotas.
    const int64_t n = static_cast<int64_t>(order.size());
    const int64_t total = static_cast<int64_t>(all.size());
    const size_t min_q = static_cast<size_t>(total / n), max_q = static_cast<size_t>((total + n - 1) / n);
    const int64_t expected_over = total % n;
    int64_t over = 0;
    std::vector<std::string> under_min;
    std::deque<std::string> exactly_min;
    for (const MemberSubscription* m : order) {
      const std::vector<TopicPartition>& own = owned[m->member_id];
      std::vector<TopicPartition>& mine = out[m->member_id];
      if (own.size() >= max_q && over < expected_over) {
        mine.assign(own.begin(), own.begin() + static_cast<std::ptrdiff_t>(max_q));
        if (++over == expected_over) exactly_min.clear();
      } else if (own.size() >= min_q) {
        mine.assign(own.begin(), own.begin() + static_cast<std::ptrdiff_t>(min_q));
        if (over < expected_over) exactly_min.push_back(m->member_id);
      } else {
        mine = own;
        under_min.push_back(m->member_id);
      }
      taken.insert(mine.begin(), mine.end());
    }
    size_t next = 0;
    for (const TopicPartition& tp : all) {
      if (taken.count(tp)) continue;
      if (!under_min.empty()) {
        next %= under_min.size();
        const std::string m = under_min[next];
        out[m].push_back(tp);
        if (out[m].size() >= min_q) {
          under_min.erase(under_min.begin() + static_cast<std::ptrdiff_t>(next));
          if (over < expected_over) exactly_min.push_back(m);
        } else {
          ++next;
        }
      } else {
        SIM_ASSERT(!exactly_min.empty(), "sticky assignor: quotas exhausted with " + tp.str() + " unassigned");
        const std::string m = exactly_min.front();
        exactly_min.pop_front();
        out[m].push_back(tp);
        if (++over == expected_over) exactly_min.clear();
      }
      taken.insert(tp);
    }
  } else {
    // 2b. General: keep owned, deal the rest to the least loaded, then even out.
    for (const MemberSubscription* m : order) {
      out[m->member_id] = owned[m->member_id];
      taken.insert(out[m->member_id].begin(), out[m->member_id].end());
    }
    for (const TopicPartition& tp : all) {
      if (taken.count(tp)) continue;
      const MemberSubscription* best = nullptr;
      for (const MemberSubscription* m : order)
        if (subscribes(*m, tp.topic) && (!best || out[m->member_id].size() < out[best->member_id].size())) best = m;
      out[best->member_id].push_back(tp);
      taken.insert(tp);
    }
    for (size_t guard = 0; guard <= all.size() * all.size(); ++guard) {
      bool moved = false;
      for (const MemberSubscription* heavy : order) {
        for (const MemberSubscription* light : order) {
          auto& h = out[heavy->member_id];
          auto& l = out[light->member_id];
          if (h.size() <= l.size() + 1) continue;
          for (size_t i = h.size(); i-- > 0;) {
            if (!subscribes(*light, h[i].topic)) continue;
            l.push_back(h[i]);
            h.erase(h.begin() + static_cast<std::ptrdiff_t>(i));
            moved = true;
            break;
          }
          if (moved) break;
        }
        if (moved) break;
      }
      if (!moved) break;
    }
  }
  for (auto& [m, parts] : out) std::sort(parts.begin(), parts.end());
  return out;
}

std::string StickyAssignor::encode_user_data(const std::vector<TopicPartition>& partitions, int32_t generation) {
  Writer w;
  w.str(encode_partitions(partitions));
  w.varint(generation);
  return w.take();
}

std::string StickyAssignor::subscription_user_data() const {
  return encode_user_data(member_assignment_, generation_);
}

void StickyAssignor::on_assignment(const Assignment& assignment, int32_t generation) {
  member_assignment_ = assignment.partitions;
  generation_ = generation;
}

AbstractStickyAssignor::MemberData StickyAssignor::member_data(const Subscription& s) const {
  if (s.user_data.empty()) return {s.owned_partitions, s.generation_id};
  Reader r(s.user_data);
  const std::string parts = r.str();
  const int64_t generation = r.varint();
  auto decoded = decode_partitions(parts);
  if (!r.ok() || !decoded) return {s.owned_partitions, s.generation_id};
  return {std::move(*decoded), static_cast<int32_t>(generation)};
}

GroupAssignment CooperativeStickyAssignor::assign(const PartitionsPerTopic& partitions_per_topic,
                                                  const std::vector<MemberSubscription>& members) {
  GroupAssignment a = sticky_assign(partitions_per_topic, members);
  // Partitions some member gives up this round...
  std::set<TopicPartition> revoked;
  for (const MemberSubscription& m : members) {
    const std::vector<TopicPartition>& mine = a[m.member_id];
    for (const TopicPartition& tp : m.subscription.owned_partitions)
      if (std::find(mine.begin(), mine.end(), tp) == mine.end()) revoked.insert(tp);
  }
  // ... are not given to their new owner until the follow-up rebalance.
  for (const MemberSubscription& m : members) {
    std::vector<TopicPartition>& mine = a[m.member_id];
    const auto& own = m.subscription.owned_partitions;
    std::erase_if(mine, [&](const TopicPartition& tp) {
      return revoked.count(tp) && std::find(own.begin(), own.end(), tp) == own.end();
    });
  }
  return checked_assignment(std::move(a), partitions_per_topic, members);
}

}  // namespace ksim::clients
