#include "engine/coordinator/consumer_group.h"

#include "sim/error.h"

namespace ksim::coordinator {

const char* consumer_group_state_name(ConsumerGroupState s) {
  switch (s) {
    case ConsumerGroupState::Empty: return "Empty";
    case ConsumerGroupState::Assigning: return "Assigning";
    case ConsumerGroupState::Reconciling: return "Reconciling";
    case ConsumerGroupState::Stable: return "Stable";
    default: return "Dead";
  }
}

const char* member_state_name(MemberState s) {
  switch (s) {
    case MemberState::Stable: return "STABLE";
    case MemberState::UnrevokedPartitions: return "UNREVOKED_PARTITIONS";
    default: return "UNRELEASED_PARTITIONS";
  }
}

ConsumerGroup::ConsumerGroup(std::string id, bool fence_pending_revocation)
    : id_(std::move(id)), fence_pending_revocation_(fence_pending_revocation) {}

ConsumerGroupState ConsumerGroup::state() const {
  // Kafka derives the state from the epochs and the members' states.
  if (dead_) return ConsumerGroupState::Dead;
  if (members_.empty()) return ConsumerGroupState::Empty;
  if (group_epoch_ > assignment_epoch_) return ConsumerGroupState::Assigning;
  for (const auto& [id, m] : members_)
    if (!m.left_static() && (m.member_epoch != assignment_epoch_ || m.state != MemberState::Stable))
      return ConsumerGroupState::Reconciling;
  return ConsumerGroupState::Stable;
}

ConsumerMember* ConsumerGroup::member(const std::string& id) {
  auto it = members_.find(id);
  return it == members_.end() ? nullptr : &it->second;
}

const ConsumerMember* ConsumerGroup::member(const std::string& id) const {
  auto it = members_.find(id);
  return it == members_.end() ? nullptr : &it->second;
}

std::optional<std::string> ConsumerGroup::static_member_id(const std::string& instance_id) const {
  for (const auto& [id, m] : members_)
    if (m.instance_id == instance_id) return id;
  return std::nullopt;
}

ConsumerMember& ConsumerGroup::add(ConsumerMember m) {
  SIM_ASSERT(!members_.count(m.member_id), "consumer group " + id_ + ": member added twice: " + m.member_id);
  const std::string id = m.member_id;
  ConsumerMember& out = members_.emplace(id, std::move(m)).first->second;
  own(out);
  return out;
}

ConsumerMember ConsumerGroup::remove(const std::string& member_id) {
  auto it = members_.find(member_id);
  SIM_ASSERT(it != members_.end(), "consumer group " + id_ + ": removing an unknown member " + member_id);
  disown(it->second);
  ConsumerMember m = std::move(it->second);
  members_.erase(it);
  target_.erase(member_id);
  return m;
}

void ConsumerGroup::update_member(ConsumerMember& m, int32_t epoch, MemberState state, PartitionSet assigned,
                                  PartitionSet pending_revocation) {
  SIM_ASSERT(epoch >= m.member_epoch || epoch < 0, "consumer group " + id_ + ": member epoch went back for " + m.member_id);
  disown(m);
  if (epoch != m.member_epoch) m.previous_member_epoch = m.member_epoch;
  m.member_epoch = epoch;
  m.state = state;
  m.assigned = std::move(assigned);
  m.pending_revocation = std::move(pending_revocation);
  own(m);
}

void ConsumerGroup::own(const ConsumerMember& m) {
  auto take = [&](const TopicPartition& tp) {
    auto [it, fresh] = owners_.emplace(tp, m.member_id);
    // The protocol's core promise: a partition is never given to a second
    // member while the first still has it (assigned or pending revocation).
    SIM_ASSERT(fresh || it->second == m.member_id || !fence_pending_revocation_,
               "consumer group " + id_ + ": " + tp.str() + " given to " + m.member_id + " while " + it->second +
                   " still owns it");
    if (!fresh) it->second = m.member_id;  // KAFKA-16147 switch: the new owner takes over the bookkeeping
  };
  for (const TopicPartition& tp : m.assigned) take(tp);
  // The KAFKA-16147 switch forgets partitions pending revocation: nobody owns them.
  if (fence_pending_revocation_)
    for (const TopicPartition& tp : m.pending_revocation) take(tp);
}

void ConsumerGroup::disown(const ConsumerMember& m) {
  auto drop = [&](const TopicPartition& tp) {
    auto it = owners_.find(tp);
    if (it != owners_.end() && it->second == m.member_id) owners_.erase(it);
  };
  for (const TopicPartition& tp : m.assigned) drop(tp);
  for (const TopicPartition& tp : m.pending_revocation) drop(tp);
}

const PartitionSet& ConsumerGroup::target_of(const std::string& member_id) const {
  static const PartitionSet kNone;  // immutable: not simulation state
  auto it = target_.find(member_id);
  return it == target_.end() ? kNone : it->second;
}

void ConsumerGroup::set_target(std::map<std::string, PartitionSet> target, int32_t epoch) {
  SIM_ASSERT(epoch >= assignment_epoch_ && epoch <= group_epoch_,
             "consumer group " + id_ + ": target assignment epoch out of order");
  target_ = std::move(target);
  assignment_epoch_ = epoch;
}

std::optional<std::string> ConsumerGroup::owner(const TopicPartition& tp) const {
  auto it = owners_.find(tp);
  if (it == owners_.end()) return std::nullopt;
  return it->second;
}

std::set<std::string> ConsumerGroup::subscribed_topics() const {
  std::set<std::string> out;
  for (const auto& [id, m] : members_) {
    const std::set<std::string> topics = member_topics(m);
    out.insert(topics.begin(), topics.end());
  }
  return out;
}

std::set<std::string> ConsumerGroup::member_topics(const ConsumerMember& m) const {
  std::set<std::string> out = m.subscribed_topics;
  if (!m.subscribed_topic_regex.empty())
    if (auto it = resolved_regexes.find(m.subscribed_topic_regex); it != resolved_regexes.end())
      out.insert(it->second.begin(), it->second.end());
  return out;
}

bool ConsumerGroup::all_members_use_classic_protocol_except(const std::string& except) const {
  for (const auto& [id, m] : members_)
    if (id != except && !m.uses_classic_protocol()) return false;
  return true;
}

bool ConsumerGroup::waiting_on_unreleased_partition(const ConsumerMember& m) const {
  if (m.state != MemberState::UnreleasedPartitions) return false;
  for (const TopicPartition& tp : target_of(m.member_id))
    if (!m.assigned.count(tp) && owner(tp)) return true;
  return false;
}

std::set<std::string> ConsumerGroup::subscribed_regexes() const {
  std::set<std::string> out;
  for (const auto& [id, m] : members_)
    if (!m.subscribed_topic_regex.empty()) out.insert(m.subscribed_topic_regex);
  return out;
}

void ConsumerGroup::assert_invariants() const {
  SIM_ASSERT(assignment_epoch_ <= group_epoch_, "consumer group " + id_ + ": target assignment epoch > group epoch");
  std::map<TopicPartition, std::string> seen;
  for (const auto& [id, m] : members_) {
    SIM_ASSERT(m.member_epoch <= assignment_epoch_, "consumer group " + id_ + ": member " + id + " epoch " +
                                                        std::to_string(m.member_epoch) + " > target assignment epoch");
    SIM_ASSERT(m.state != MemberState::UnrevokedPartitions || !m.pending_revocation.empty(),
               "consumer group " + id_ + ": member " + id + " revoking nothing");
    for (const TopicPartition& tp : m.pending_revocation)
      SIM_ASSERT(!m.assigned.count(tp), "consumer group " + id_ + ": " + tp.str() + " both assigned and revoking");
    if (!fence_pending_revocation_) continue;
    // Every partition has at most one owner, and owners_ says who.
    for (const PartitionSet* set : {&m.assigned, &m.pending_revocation})
      for (const TopicPartition& tp : *set) {
        auto [it, fresh] = seen.emplace(tp, id);
        SIM_ASSERT(fresh, "consumer group " + id_ + ": " + tp.str() + " owned by " + it->second + " and " + id);
        auto o = owners_.find(tp);
        SIM_ASSERT(o != owners_.end() && o->second == id, "consumer group " + id_ + ": owner bookkeeping of " + tp.str());
      }
  }
  if (fence_pending_revocation_)
    SIM_ASSERT(seen.size() == owners_.size(), "consumer group " + id_ + ": stale partition owners");
}

}  // namespace ksim::coordinator
