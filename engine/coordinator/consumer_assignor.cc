#include "engine/coordinator/consumer_assignor.h"

#include <vector>

#include "sim/error.h"

namespace ksim::coordinator {

std::map<std::string, PartitionSet> assign_uniform(const AssignorInput& members, const TopicCounts& topics) {
  std::map<std::string, PartitionSet> out;
  for (const auto& [id, m] : members) out[id];
  // Who may take each partition.
  std::map<TopicPartition, std::vector<std::string>> eligible;
  for (const auto& [topic, n] : topics)
    for (int32_t p = 0; p < n; ++p) {
      std::vector<std::string> who;
      for (const auto& [id, m] : members)
        if (m.topics.count(topic)) who.push_back(id);
      if (!who.empty()) eligible[TopicPartition{topic, p}] = std::move(who);
    }
  if (members.empty()) return out;
  // Quota: the partitions a member could take, shared evenly among members
  // that could take them (exact when subscriptions are identical).
  std::map<std::string, int64_t> quota;
  std::map<std::string, int64_t> floor_quota;
  {
    std::map<std::string, double> share;
    for (const auto& [tp, who] : eligible)
      for (const std::string& id : who) share[id] += 1.0 / static_cast<double>(who.size());
    for (const auto& [id, m] : members) {
      floor_quota[id] = static_cast<int64_t>(share[id] + 1e-9);
      quota[id] = floor_quota[id] + ((share[id] - static_cast<double>(floor_quota[id])) > 1e-9 ? 1 : 0);
    }
  }
  // Identical subscriptions: P = q*M + r; r members may keep q+1.
  int64_t extra = 0;
  {
    int64_t sum_floor = 0;
    for (const auto& [id, q] : floor_quota) sum_floor += q;
    extra = static_cast<int64_t>(eligible.size()) - sum_floor;
  }
  std::set<TopicPartition> taken;
  // 1. Stickiness: keep current partitions (still eligible) up to the floor quota,
  //    and one more while extra slots remain.
  for (const auto& [id, m] : members) {
    for (const TopicPartition& tp : m.current) {
      auto e = eligible.find(tp);
      if (e == eligible.end() || taken.count(tp) || !m.topics.count(tp.topic)) continue;
      const int64_t have = static_cast<int64_t>(out[id].size());
      if (have < floor_quota[id] || (have < quota[id] && extra > 0)) {
        if (have >= floor_quota[id]) --extra;
        out[id].insert(tp);
        taken.insert(tp);
      }
    }
  }
  // 2. The rest to the eligible member with the fewest partitions (ties: member id).
  for (const auto& [tp, who] : eligible) {
    if (taken.count(tp)) continue;
    const std::string* best = nullptr;
    for (const std::string& id : who)
      if (!best || out[id].size() < out[*best].size()) best = &id;
    out[*best].insert(tp);
    taken.insert(tp);
  }
  return out;
}

std::map<std::string, PartitionSet> assign_range(const AssignorInput& members, const TopicCounts& topics) {
  std::map<std::string, PartitionSet> out;
  for (const auto& [id, m] : members) out[id];
  for (const auto& [topic, n] : topics) {
    std::vector<std::string> subs;
    for (const auto& [id, m] : members)
      if (m.topics.count(topic)) subs.push_back(id);
    if (subs.empty()) continue;
    const int32_t per = n / static_cast<int32_t>(subs.size());
    const int32_t more = n % static_cast<int32_t>(subs.size());
    int32_t next = 0;
    for (size_t i = 0; i < subs.size(); ++i) {
      const int32_t count = per + (static_cast<int32_t>(i) < more ? 1 : 0);
      for (int32_t k = 0; k < count; ++k) out[subs[i]].insert(TopicPartition{topic, next++});
    }
  }
  return out;
}

bool assign_by_name(const std::string& name, const AssignorInput& members, const TopicCounts& topics,
                    std::map<std::string, PartitionSet>* out) {
  if (name == "uniform")
    *out = assign_uniform(members, topics);
  else if (name == "range")
    *out = assign_range(members, topics);
  else
    return false;
  // Whatever the assignor: each partition to at most one member, subscribed to its topic.
  std::set<TopicPartition> seen;
  for (const auto& [id, parts] : *out)
    for (const TopicPartition& tp : parts) {
      SIM_ASSERT(seen.insert(tp).second, "assignor " + name + " gave " + tp.str() + " twice");
      SIM_ASSERT(members.at(id).topics.count(tp.topic), "assignor " + name + " gave an unsubscribed " + tp.str());
    }
  return true;
}

}  // namespace ksim::coordinator
