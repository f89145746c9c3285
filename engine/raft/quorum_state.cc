#include "engine/raft/quorum_state.h"

#include <charconv>
#include <span>

namespace ksim::raft {

QuorumStateStore::QuorumStateStore(sim::Disk& disk, std::string file)
    : disk_(disk), file_(std::move(file)), tmp_(file_ + ".tmp") {}

// A JSON object like Kafka's, minus its data_version / directory-id fields:
//   {"leaderEpoch":3,"votedId":1,"leaderId":-1}
std::string QuorumStateStore::encode(const ElectionState& s) {
  auto id = [](const std::optional<sim::NodeId>& n) {
    return n ? std::to_string(n->value) : std::string("-1");
  };
  return "{\"leaderEpoch\":" + std::to_string(s.epoch.value) + ",\"votedId\":" + id(s.voted_for) +
         ",\"leaderId\":" + id(s.leader) + "}\n";
}

std::optional<ElectionState> QuorumStateStore::decode(const std::string& text) {
  auto field = [&](std::string_view name) -> std::optional<int64_t> {
    const std::string key = "\"" + std::string(name) + "\":";
    const size_t at = text.find(key);
    if (at == std::string::npos) return std::nullopt;
    const char* begin = text.data() + at + key.size();
    int64_t v = 0;
    auto [end, ec] = std::from_chars(begin, text.data() + text.size(), v);
    if (ec != std::errc() || end == begin) return std::nullopt;
    return v;
  };
  const auto epoch = field("leaderEpoch"), voted = field("votedId"), leader = field("leaderId");
  if (!epoch || !voted || !leader || *epoch < 0 || text.empty() || text.back() != '\n') return std::nullopt;
  auto id = [](int64_t v) { return v < 0 ? std::nullopt : std::optional(sim::NodeId{static_cast<uint32_t>(v)}); };
  return ElectionState{QuorumEpoch{static_cast<int32_t>(*epoch)}, id(*voted), id(*leader)};
}

ElectionState QuorumStateStore::load() {
  if (!disk_.exists(file_)) return {};
  const sim::ReadResult r = disk_.read(file_, 0, disk_.size(file_));
  SIM_ASSERT(r.status == sim::DiskStatus::ok, "cannot read " + file_);
  const std::optional<ElectionState> s = decode(std::string(r.bytes.begin(), r.bytes.end()));
  SIM_ASSERT(s.has_value(), "corrupt " + file_ + ": the node cannot know its epoch or vote");
  return *s;
}

sim::DiskStatus QuorumStateStore::store(const ElectionState& s) {
  const std::string text = encode(s);
  const auto bytes = std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size());
  if (disk_.exists(tmp_)) {
    if (auto st = disk_.remove(tmp_); st != sim::DiskStatus::ok) return st;
  }
  if (auto st = disk_.write(tmp_, 0, bytes); st != sim::DiskStatus::ok) return st;
  if (auto st = disk_.fsync(tmp_); st != sim::DiskStatus::ok) return st;
  return disk_.rename(tmp_, file_);  // the commit point
}

}  // namespace ksim::raft
