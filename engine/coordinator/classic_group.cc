#include "engine/coordinator/classic_group.h"

#include <algorithm>

#include "sim/error.h"

namespace ksim::coordinator {

const char* group_state_name(GroupState s) {
  switch (s) {
    case GroupState::Empty: return "Empty";
    case GroupState::PreparingRebalance: return "PreparingRebalance";
    case GroupState::CompletingRebalance: return "CompletingRebalance";
    case GroupState::Stable: return "Stable";
    case GroupState::Dead: return "Dead";
  }
  return "?";
}

namespace {

// Kafka's ClassicGroupState.validPreviousStates.
bool valid_previous(GroupState to, GroupState from) {
  using S = GroupState;
  switch (to) {
    case S::Empty: return from == S::PreparingRebalance;
    case S::PreparingRebalance: return from == S::Stable || from == S::CompletingRebalance || from == S::Empty;
    case S::CompletingRebalance: return from == S::PreparingRebalance;
    case S::Stable: return from == S::CompletingRebalance;
    case S::Dead: return true;
  }
  return false;
}

}  // namespace

bool ClassicMember::matches(const std::vector<protocol::JoinGroupProtocol>& ps) const {
  if (ps.size() != protocols.size()) return false;
  for (size_t i = 0; i < ps.size(); ++i)
    if (ps[i].name != protocols[i].name || ps[i].metadata != protocols[i].metadata) return false;
  return true;
}

std::string ClassicMember::metadata(const std::string& protocol) const {
  for (const auto& p : protocols)
    if (p.name == protocol) return p.metadata;
  return {};
}

ClassicGroup::ClassicGroup(std::string id, int64_t now_ms) : id_(std::move(id)), state_timestamp_ms_(now_ms) {}

ClassicMember& ClassicGroup::member(const std::string& id) {
  auto it = members_.find(id);
  SIM_ASSERT(it != members_.end(), "group " + id_ + " has no member " + id);
  return it->second;
}

void ClassicGroup::add(ClassicMember m) {
  SIM_ASSERT(!members_.count(m.member_id), "member " + m.member_id + " added twice to group " + id_);
  if (m.group_instance_id) {
    SIM_ASSERT(!static_members_.count(*m.group_instance_id),
               "static member " + *m.group_instance_id + " is already a member of group " + id_);
    static_members_[*m.group_instance_id] = m.member_id;
  }
  if (members_.empty()) protocol_type_ = m.protocol_type;
  SIM_ASSERT(protocol_type_ == m.protocol_type, "group and member protocol types differ");
  SIM_ASSERT(supports_protocols(m.protocol_type, m.protocols), "none of the member's protocols is supported");
  if (!leader_) leader_ = m.member_id;
  for (const auto& p : m.protocols) ++supported_protocols_[p.name];
  if (m.awaiting_join) ++num_awaiting_join_;
  pending_join_.erase(m.member_id);
  const std::string id = m.member_id;
  members_.emplace(id, std::move(m));
}

std::optional<ClassicMember> ClassicGroup::remove(const std::string& member_id) {
  std::optional<ClassicMember> out;
  auto it = members_.find(member_id);
  if (it != members_.end()) {
    for (const auto& p : it->second.protocols) --supported_protocols_[p.name];
    if (it->second.awaiting_join) --num_awaiting_join_;
    if (it->second.group_instance_id) static_members_.erase(*it->second.group_instance_id);
    out = std::move(it->second);
    members_.erase(it);
  }
  if (is_leader(member_id)) leader_ = members_.empty() ? std::nullopt : std::optional<std::string>(members_.begin()->first);
  pending_join_.erase(member_id);
  pending_sync_.erase(member_id);
  return out;
}

void ClassicGroup::update_member(ClassicMember& m, std::vector<protocol::JoinGroupProtocol> protocols,
                                 int32_t rebalance_timeout_ms, int32_t session_timeout_ms,
                                 std::optional<sim::Incoming> join) {
  for (const auto& p : m.protocols) --supported_protocols_[p.name];
  m.protocols = std::move(protocols);
  for (const auto& p : m.protocols) ++supported_protocols_[p.name];
  m.rebalance_timeout_ms = rebalance_timeout_ms;
  m.session_timeout_ms = session_timeout_ms;
  if (join && !m.awaiting_join)
    ++num_awaiting_join_;
  else if (!join && m.awaiting_join)
    --num_awaiting_join_;
  m.awaiting_join = std::move(join);
}

std::optional<sim::Incoming> ClassicGroup::take_join(ClassicMember& m) {
  if (!m.awaiting_join) return std::nullopt;
  --num_awaiting_join_;
  std::optional<sim::Incoming> out = std::move(m.awaiting_join);
  m.awaiting_join.reset();
  return out;
}

std::optional<sim::Incoming> ClassicGroup::take_sync(ClassicMember& m) {
  std::optional<sim::Incoming> out = std::move(m.awaiting_sync);
  m.awaiting_sync.reset();
  return out;
}

ClassicGroup::Replaced ClassicGroup::replace_static_member(const std::string& instance_id, const std::string& old_id,
                                                           const std::string& new_id) {
  auto it = members_.find(old_id);
  SIM_ASSERT(it != members_.end(), "cannot replace non-existing member " + old_id);
  ClassicMember m = std::move(it->second);
  members_.erase(it);
  Replaced r;
  if (m.awaiting_join) {
    --num_awaiting_join_;
    r.old_join = std::move(m.awaiting_join);
    m.awaiting_join.reset();
  }
  r.old_sync = std::move(m.awaiting_sync);
  m.awaiting_sync.reset();
  m.member_id = new_id;
  m.heartbeat_timer.reset();  // the old id's timer expires without effect
  members_.emplace(new_id, std::move(m));
  if (is_leader(old_id)) leader_ = new_id;
  if (pending_sync_.erase(old_id)) pending_sync_.insert(new_id);
  static_members_[instance_id] = new_id;
  return r;
}

std::optional<std::string> ClassicGroup::static_member_id(const std::string& instance_id) const {
  auto it = static_members_.find(instance_id);
  return it == static_members_.end() ? std::nullopt : std::optional<std::string>(it->second);
}

void ClassicGroup::add_pending(const std::string& id) {
  SIM_ASSERT(!has_member(id), "pending member " + id + " is already a member of group " + id_);
  pending_join_.insert(id);
}

void ClassicGroup::add_pending_sync(const std::string& id) {
  SIM_ASSERT(has_member(id), "pending sync member " + id + " is not a member of group " + id_);
  pending_sync_.insert(id);
}

std::vector<std::string> ClassicGroup::not_yet_rejoined() const {
  std::vector<std::string> out;
  for (const auto& [id, m] : members_)
    if (!m.awaiting_join) out.push_back(id);
  return out;
}

bool ClassicGroup::maybe_elect_new_joined_leader() {
  if (!leader_) return false;
  if (member(*leader_).awaiting_join) return true;
  for (const auto& [id, m] : members_)
    if (m.awaiting_join) {
      leader_ = id;
      return true;
    }
  return false;
}

int32_t ClassicGroup::rebalance_timeout_ms() const {
  int32_t t = 0;
  for (const auto& [id, m] : members_) t = std::max(t, m.rebalance_timeout_ms);
  return t;
}

bool ClassicGroup::supports_protocols(const std::string& type, const std::vector<protocol::JoinGroupProtocol>& ps) const {
  if (state_ == GroupState::Empty) return !type.empty() && !ps.empty();
  if (!protocol_type_ || *protocol_type_ != type) return false;
  for (const auto& p : ps) {
    auto it = supported_protocols_.find(p.name);
    if (it != supported_protocols_.end() && it->second == static_cast<int>(members_.size())) return true;
  }
  return false;
}

std::string ClassicGroup::select_protocol() const {
  SIM_ASSERT(!members_.empty(), "cannot select a protocol for empty group " + id_);
  std::set<std::string> candidates;
  for (const auto& [name, n] : supported_protocols_)
    if (n == static_cast<int>(members_.size())) candidates.insert(name);
  std::map<std::string, int> votes;
  for (const auto& [id, m] : members_)
    for (const auto& p : m.protocols)
      if (candidates.count(p.name)) {
        ++votes[p.name];
        break;
      }
  SIM_ASSERT(!votes.empty(), "no protocol all members of group " + id_ + " support");
  std::string best;
  int most = -1;
  for (const auto& [name, n] : votes)  // ordered by name: ties go to the smallest
    if (n > most) {
      best = name;
      most = n;
    }
  return best;
}

void ClassicGroup::transition_to(GroupState s, int64_t now_ms) {
  SIM_ASSERT(valid_previous(s, state_), "group " + id_ + ": invalid transition " + group_state_name(state_) + " -> " +
                                            group_state_name(s));
  previous_ = state_;
  state_ = s;
  state_timestamp_ms_ = now_ms;
}

bool ClassicGroup::can_rebalance() const {
  return state_ == GroupState::Stable || state_ == GroupState::CompletingRebalance || state_ == GroupState::Empty;
}

void ClassicGroup::init_next_generation(int64_t now_ms) {
  ++generation_;
  if (!members_.empty()) {
    protocol_name_ = select_protocol();
    transition_to(GroupState::CompletingRebalance, now_ms);
  } else {
    protocol_name_.reset();
    transition_to(GroupState::Empty, now_ms);
  }
  pending_sync_.clear();
}

GroupMetadataValue ClassicGroup::to_record(const std::map<std::string, std::string>* assignment) const {
  GroupMetadataValue v;
  v.protocol_type = protocol_type_.value_or("");
  v.generation = generation_;
  v.protocol = protocol_name_;
  v.leader = leader_;
  v.current_state_timestamp_ms = state_timestamp_ms_;
  for (const auto& [id, m] : members_) {
    MemberRecord r;
    r.member_id = id;
    r.group_instance_id = m.group_instance_id;
    r.client_id = m.client_id;
    r.client_node = m.client_node;
    r.rebalance_timeout_ms = m.rebalance_timeout_ms;
    r.session_timeout_ms = m.session_timeout_ms;
    r.subscription = protocol_name_ ? m.metadata(*protocol_name_) : std::string();
    r.assignment = m.assignment;
    if (assignment)
      if (auto it = assignment->find(id); it != assignment->end()) r.assignment = it->second;
    v.members.push_back(std::move(r));
  }
  return v;
}

ClassicGroup ClassicGroup::from_record(const std::string& id, const GroupMetadataValue& v) {
  ClassicGroup g(id, v.current_state_timestamp_ms);
  g.generation_ = v.generation;
  g.state_ = v.members.empty() ? GroupState::Empty : GroupState::Stable;
  g.previous_ = g.state_;
  if (!v.protocol_type.empty()) g.protocol_type_ = v.protocol_type;
  g.protocol_name_ = v.protocol;
  for (const MemberRecord& r : v.members) {
    ClassicMember m;
    m.member_id = r.member_id;
    m.group_instance_id = r.group_instance_id;
    m.client_id = r.client_id;
    m.client_node = r.client_node;
    m.rebalance_timeout_ms = r.rebalance_timeout_ms == -1 ? r.session_timeout_ms : r.rebalance_timeout_ms;
    m.session_timeout_ms = r.session_timeout_ms;
    m.protocol_type = v.protocol_type;
    m.protocols = {protocol::JoinGroupProtocol{v.protocol.value_or(""), r.subscription}};
    m.assignment = r.assignment;
    for (const auto& p : m.protocols) ++g.supported_protocols_[p.name];
    if (m.group_instance_id) g.static_members_[*m.group_instance_id] = m.member_id;
    g.members_.emplace(r.member_id, std::move(m));
  }
  g.leader_ = v.leader;
  if (g.leader_ && !g.members_.count(*g.leader_))
    g.leader_ = g.members_.empty() ? std::nullopt : std::optional<std::string>(g.members_.begin()->first);
  if (g.members_.empty()) g.leader_.reset();
  return g;
}

void ClassicGroup::assert_invariants() const {
  const std::string where = "group " + id_ + " (" + group_state_name(state_) + "): ";
  int awaiting = 0;
  size_t statics = 0;
  std::map<std::string, int> protocols;
  for (const auto& [id, m] : members_) {
    SIM_ASSERT(id == m.member_id, where + "member keyed by the wrong id");
    if (m.awaiting_join) ++awaiting;
    if (m.group_instance_id) {
      ++statics;
      auto it = static_members_.find(*m.group_instance_id);
      SIM_ASSERT(it != static_members_.end() && it->second == id, where + "static member map out of date for " + id);
    }
    for (const auto& p : m.protocols) ++protocols[p.name];
    SIM_ASSERT(!pending_join_.count(id), where + "member " + id + " is also pending");
  }
  SIM_ASSERT(awaiting == num_awaiting_join_, where + "awaiting-join count is " + std::to_string(num_awaiting_join_) +
                                                 ", members awaiting: " + std::to_string(awaiting));
  SIM_ASSERT(statics == static_members_.size(), where + "static member map has stale entries");
  for (const auto& [name, n] : supported_protocols_)
    SIM_ASSERT(n == (protocols.count(name) ? protocols.at(name) : 0), where + "protocol count of " + name + " is off");
  for (const std::string& id : pending_sync_) SIM_ASSERT(has_member(id), where + "pending sync " + id + " not a member");
  SIM_ASSERT(generation_ >= 0, where + "negative generation");
  SIM_ASSERT(members_.empty() == !leader_.has_value(), where + "a leader exists iff there are members");
  if (leader_) SIM_ASSERT(has_member(*leader_), where + "leader is not a member");
  switch (state_) {
    case GroupState::Empty:
      SIM_ASSERT(members_.empty(), where + "Empty group with members");
      SIM_ASSERT(pending_sync_.empty(), where + "Empty group with pending syncs");
      break;
    case GroupState::CompletingRebalance:
    case GroupState::Stable:
      SIM_ASSERT(!members_.empty(), where + "no members");
      SIM_ASSERT(protocol_name_.has_value(), where + "no selected protocol");
      break;
    case GroupState::PreparingRebalance:
    case GroupState::Dead:
      break;
  }
}

}  // namespace ksim::coordinator
