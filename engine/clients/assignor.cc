#include "engine/clients/assignor.h"

#include <algorithm>
#include <set>

#include "engine/clients/sticky_assignor.h"
#include "sim/error.h"

namespace ksim::clients {

const char* rebalance_protocol_name(RebalanceProtocol p) {
  return p == RebalanceProtocol::eager ? "EAGER" : "COOPERATIVE";
}

std::unique_ptr<PartitionAssignor> make_assignor(const std::string& name) {
  if (name == "range") return std::make_unique<RangeAssignor>();
  if (name == "roundrobin") return std::make_unique<RoundRobinAssignor>();
  if (name == "sticky") return std::make_unique<StickyAssignor>();
  if (name == "cooperative-sticky") return std::make_unique<CooperativeStickyAssignor>();
  return nullptr;
}

std::vector<const MemberSubscription*> sorted_members(const std::vector<MemberSubscription>& members) {
  std::vector<const MemberSubscription*> out;
  for (const MemberSubscription& m : members) out.push_back(&m);
  std::sort(out.begin(), out.end(), [](const MemberSubscription* a, const MemberSubscription* b) {
    if (a->group_instance_id && b->group_instance_id) {
      if (*a->group_instance_id != *b->group_instance_id) return *a->group_instance_id < *b->group_instance_id;
      return a->member_id < b->member_id;
    }
    if (a->group_instance_id) return true;
    if (b->group_instance_id) return false;
    return a->member_id < b->member_id;
  });
  return out;
}

GroupAssignment checked_assignment(GroupAssignment a, const PartitionsPerTopic& partitions_per_topic,
                                   const std::vector<MemberSubscription>& members) {
  std::set<TopicPartition> seen;
  for (const MemberSubscription& m : members) {
    std::vector<TopicPartition>& parts = a[m.member_id];  // every member gets an entry
    std::sort(parts.begin(), parts.end());
    const std::vector<std::string>& topics = m.subscription.topics;
    for (const TopicPartition& tp : parts) {
      SIM_ASSERT(seen.insert(tp).second, "assignor gave " + tp.str() + " to two members");
      SIM_ASSERT(std::find(topics.begin(), topics.end(), tp.topic) != topics.end(),
                 "assignor gave " + tp.str() + " to " + m.member_id + ", not subscribed to its topic");
      auto it = partitions_per_topic.find(tp.topic);
      SIM_ASSERT(it != partitions_per_topic.end() && tp.partition >= 0 && tp.partition < it->second,
                 "assignor gave a partition that does not exist: " + tp.str());
    }
  }
  SIM_ASSERT(a.size() == members.size(), "assignment names a member that did not join");
  return a;
}

GroupAssignment RangeAssignor::assign(const PartitionsPerTopic& partitions_per_topic,
                                      const std::vector<MemberSubscription>& members) {
  GroupAssignment out;
  const std::vector<const MemberSubscription*> order = sorted_members(members);
  for (const auto& [topic, count] : partitions_per_topic) {
    std::vector<const MemberSubscription*> subscribers;
    for (const MemberSubscription* m : order) {
      const auto& ts = m->subscription.topics;
      if (std::find(ts.begin(), ts.end(), topic) != ts.end()) subscribers.push_back(m);
    }
    if (subscribers.empty()) continue;
    const int32_t n = static_cast<int32_t>(subscribers.size());
    const int32_t per = count / n, extra = count % n;
    for (int32_t i = 0; i < n; ++i) {
      const int32_t start = per * i + std::min(i, extra);
      const int32_t len = per + (i < extra ? 1 : 0);
      for (int32_t p = start; p < start + len; ++p) out[subscribers[static_cast<size_t>(i)]->member_id].push_back({topic, p});
    }
  }
  return checked_assignment(std::move(out), partitions_per_topic, members);
}

GroupAssignment RoundRobinAssignor::assign(const PartitionsPerTopic& partitions_per_topic,
                                           const std::vector<MemberSubscription>& members) {
  GroupAssignment out;
  const std::vector<const MemberSubscription*> order = sorted_members(members);
  if (order.empty()) return out;
  std::set<std::string> subscribed;
  for (const MemberSubscription* m : order) subscribed.insert(m->subscription.topics.begin(), m->subscription.topics.end());
  size_t next = 0;  // the circular iterator over members
  for (const auto& [topic, count] : partitions_per_topic) {
    if (!subscribed.count(topic)) continue;
    for (int32_t p = 0; p < count; ++p) {
      for (;;) {
        const MemberSubscription* m = order[next % order.size()];
        ++next;
        const auto& ts = m->subscription.topics;
        if (std::find(ts.begin(), ts.end(), topic) != ts.end()) {
          out[m->member_id].push_back({topic, p});
          break;
        }
      }
    }
  }
  return checked_assignment(std::move(out), partitions_per_topic, members);
}

}  // namespace ksim::clients
