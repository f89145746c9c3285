#include "engine/raft/voter_set.h"

#include <algorithm>
#include <charconv>

#include "sim/error.h"

namespace ksim::raft {

VoterSet::VoterSet(std::vector<VoterKey> voters) : voters_(std::move(voters)) {
  std::sort(voters_.begin(), voters_.end(), [](const VoterKey& a, const VoterKey& b) { return a.id < b.id; });
  SIM_ASSERT(!voters_.empty(), "a voter set is never empty");
  SIM_ASSERT(std::adjacent_find(voters_.begin(), voters_.end(),
                                [](const VoterKey& a, const VoterKey& b) { return a.id == b.id; }) == voters_.end(),
             "voter ids are distinct");
}

std::vector<sim::NodeId> VoterSet::ids() const {
  std::vector<sim::NodeId> out;
  out.reserve(voters_.size());
  for (const VoterKey& v : voters_) out.push_back(v.id);
  return out;
}

const VoterKey* VoterSet::find(sim::NodeId id) const {
  auto it = std::lower_bound(voters_.begin(), voters_.end(), id, [](const VoterKey& v, sim::NodeId n) { return v.id < n; });
  return it != voters_.end() && it->id == id ? &*it : nullptr;
}

bool VoterSet::has_key(sim::NodeId id, DirectoryId dir, bool directory_ids) const {
  const VoterKey* v = find(id);
  return v && (!directory_ids || v->directory_id == dir);
}

DirectoryId VoterSet::directory_of(sim::NodeId id) const {
  const VoterKey* v = find(id);
  return v ? v->directory_id : DirectoryId{};
}

std::optional<VoterSet> VoterSet::with(VoterKey v) const {
  if (has_id(v.id)) return std::nullopt;
  std::vector<VoterKey> next = voters_;
  next.push_back(v);
  return VoterSet(std::move(next));
}

std::optional<VoterSet> VoterSet::without(VoterKey v) const {
  const VoterKey* old = find(v.id);
  if (!old || !(*old == v) || voters_.size() == 1) return std::nullopt;
  std::vector<VoterKey> next;
  for (const VoterKey& k : voters_)
    if (k.id != v.id) next.push_back(k);
  return VoterSet(std::move(next));
}

std::string VoterSet::encode() const {
  std::string out = kPrefix;
  for (size_t i = 0; i < voters_.size(); ++i) {
    if (i) out += ",";
    out += std::to_string(voters_[i].id.value) + ":" + voters_[i].directory_id.str();
  }
  return out + ")";
}

std::optional<VoterSet> VoterSet::decode(const std::string& data) {
  if (!is_voters_record(data) || data.back() != ')') return std::nullopt;
  std::vector<VoterKey> voters;
  const char* p = data.data() + std::char_traits<char>::length(kPrefix);
  const char* end = data.data() + data.size() - 1;
  while (p < end) {
    uint32_t id = 0;
    uint64_t dir = 0;
    auto [q, e1] = std::from_chars(p, end, id);
    if (e1 != std::errc() || q == end || *q != ':') return std::nullopt;
    auto [r, e2] = std::from_chars(q + 1, end, dir, 16);
    if (e2 != std::errc()) return std::nullopt;
    voters.push_back({sim::NodeId{id}, DirectoryId{dir}});
    p = r;
    if (p < end) {
      if (*p != ',') return std::nullopt;
      ++p;
    }
  }
  if (voters.empty()) return std::nullopt;
  return VoterSet(std::move(voters));
}

}  // namespace ksim::raft
