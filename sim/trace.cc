#include "sim/trace.h"

#include <algorithm>
#include <bit>

#include "sim/error.h"
#include "sim/hash.h"

namespace sim {
namespace {
constexpr size_t kRingReserve = size_t{1} << 21;  // events reserved at once for the ring (at most 80 MiB, virtual until used)
}  // namespace

Trace::Trace() : hash_(hash_string("ksim-trace-v1")) {
  // Order matters: ids are the enum values in ev::.
  kind("node_start", {"incarnation"});
  kind("node_crash", {"incarnation"});
  kind("node_power_fail", {"incarnation", "torn"});
  kind("node_pause", {"duration_ns"});
  kind("node_resume");
  kind("fiber_spawn", {"fiber", "name"}, 0b010);
  kind("fiber_exit", {"fiber"});
  kind("timer_fire", {"timer"});
  kind("msg_send", {"dst", "kind", "correlation"});
  kind("msg_deliver", {"src", "kind", "correlation"});
  kind("msg_drop", {"dst", "kind", "reason"}, 0b100);
  kind("msg_hold", {"dst", "kind", "rule"});
  kind("msg_release", {"dst", "kind", "rule"});
  kind("conn_open", {"peer", "connection"});
  kind("conn_break", {"peer", "connection", "reason"}, 0b100);
  kind("rpc_timeout", {"dst", "kind", "correlation"});
  kind("disk_write", {"file", "offset", "bytes"}, 0b001);
  kind("disk_fsync", {"file", "bytes"}, 0b001);
  kind("disk_truncate", {"file", "size"}, 0b001);
  kind("disk_read", {"file", "offset", "bytes"}, 0b001);
  kind("disk_error", {"file", "error"}, 0b011);
  kind("disk_lost", {"file", "bytes_lost"}, 0b001);
  kind("fault", {"what"}, 0b001);
  kind("probe", {"name"}, 0b001);
  kind("note", {"text"}, 0b001);
  SIM_ASSERT(kinds_.size() == ev::builtin_count, "built-in trace kinds out of sync");
}

uint16_t Trace::kind(std::string_view name, std::array<std::string, 3> arg_names,
                     uint8_t string_args) {
  if (auto it = kind_ids_.find(name); it != kind_ids_.end()) return it->second;
  SIM_ASSERT(kinds_.size() < 65535, "too many trace event kinds");
  const auto id = static_cast<uint16_t>(kinds_.size());
  kinds_.push_back({std::string(name), std::move(arg_names), string_args});
  kind_ids_.emplace(std::string(name), id);
  return id;
}

std::optional<uint16_t> Trace::find_kind(std::string_view name) const {
  if (auto it = kind_ids_.find(name); it != kind_ids_.end()) return it->second;
  return std::nullopt;
}

uint64_t Trace::intern(std::string_view text) {
  if (auto it = string_ids_.find(text); it != string_ids_.end()) return it->second;
  const uint64_t id = strings_.size();
  strings_.emplace_back(text);
  string_ids_.emplace(std::string(text), id);
  return id;
}

const std::string& Trace::text(uint64_t id) const {
  SIM_ASSERT(id < strings_.size(), "unknown interned string id");
  return strings_[id];
}

void Trace::record(uint16_t kind, Instant t, uint32_t node, uint64_t a, uint64_t b, uint64_t c) {
  // Interned ids are assigned in the order a run interns them, which the run
  // itself determines, so hashing ids is as deterministic as hashing text.
  // One avalanche per event: fields are spread by distinct odd multipliers and
  // rotations first, so swapping two fields or two events changes the hash.
  const uint64_t x = static_cast<uint64_t>(t.ns) * 0x9e3779b97f4a7c15ULL ^
                     std::rotl(((static_cast<uint64_t>(kind) << 32) | node) * 0xc2b2ae3d27d4eb4fULL, 13) ^
                     std::rotl(a * 0x165667b19e3779f9ULL, 27) ^ std::rotl(b * 0xd6e8feb86659fd93ULL, 41) ^
                     std::rotl(c * 0xff51afd7ed558ccdULL, 53);
  hash_ = mix64(hash_ ^ x) + 0x9e3779b97f4a7c15ULL;
  const Kept e{t, a, b, c, node, kind};
  ++count_;
  if (record_hashes_) hashes_.push_back(hash_);
  if (keep_max_ == 0) return;
  if (ring_.size() < keep_max_) {
    // Reserve the whole ring up front (up to a bound) instead of letting the
    // vector double: each doubling copied tens of MB and faulted in fresh
    // pages for the copy. Reserved, untouched memory costs no pages.
    if (ring_.size() == ring_.capacity()) ring_.reserve(std::min(keep_max_, std::max(ring_.size() * 2, kRingReserve)));
    ring_.push_back(e);
  } else {
    ring_[ring_next_] = e;
    if (++ring_next_ == keep_max_) ring_next_ = 0;  // no division per event
  }
}

void Trace::set_keep_events(size_t max_kept) {
  std::vector<TraceEvent> old = kept();
  keep_max_ = max_kept;
  ring_.clear();
  ring_next_ = 0;
  const size_t skip = old.size() > keep_max_ ? old.size() - keep_max_ : 0;
  ring_.reserve(old.size() - skip);
  for (size_t i = skip; i < old.size(); ++i) {
    const TraceEvent& e = old[i];
    ring_.push_back(Kept{e.time, e.a, e.b, e.c, e.node, e.kind});
  }
}

std::vector<TraceEvent> Trace::kept() const {
  std::vector<TraceEvent> out;
  out.reserve(ring_.size());
  const uint64_t oldest = count_ - ring_.size();
  for (size_t i = 0; i < ring_.size(); ++i) out.push_back(event_of(ring_[(ring_next_ + i) % ring_.size()], oldest + i));
  return out;
}

std::optional<TraceEvent> Trace::kept_at(uint64_t index) const {
  if (ring_.empty()) return std::nullopt;
  const uint64_t oldest = count_ - ring_.size();
  if (index < oldest || index >= count_) return std::nullopt;
  return event_of(ring_[(ring_next_ + (index - oldest)) % ring_.size()], index);
}

std::optional<Divergence> first_divergence(const Trace& left, const Trace& right) {
  const auto& l = left.hashes();
  const auto& r = right.hashes();
  SIM_ASSERT(l.size() == left.count() && r.size() == right.count(),
             "first_divergence needs traces recorded with set_record_hashes(true) from the start");
  const size_t n = l.size() < r.size() ? l.size() : r.size();
  for (size_t i = 0; i < n; ++i) {
    if (l[i] != r[i]) return Divergence{i, left.kept_at(i), right.kept_at(i)};
  }
  if (l.size() == r.size()) return std::nullopt;
  return Divergence{n, left.kept_at(n), right.kept_at(n)};
}

}  // namespace sim
