#include "engine/raft/raft_log.h"

#include <algorithm>
#include <cstring>
#include <span>

#include "sim/error.h"
#include "sim/hash.h"

namespace ksim::raft {
namespace {

constexpr size_t kHeader = 4 + 8 + 8 + 4 + 1;

uint64_t checksum(int64_t offset, int32_t epoch, bool control, std::string_view payload) {
  uint64_t h = sim::hash_combine(sim::hash_string(payload), static_cast<uint64_t>(offset));
  h = sim::hash_combine(h, static_cast<uint32_t>(epoch));
  return sim::hash_combine(h, control ? 1 : 0);
}

template <class T>
void put(std::vector<uint8_t>& out, T v) {
  uint8_t b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));
  out.insert(out.end(), b, b + sizeof(T));
}

template <class T>
T get(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

}  // namespace

RaftLog::RaftLog(sim::Disk& disk, std::string file) : disk_(disk), file_(std::move(file)) {}

const RaftEntry& RaftLog::at(Offset o) const {
  SIM_ASSERT(o.value >= 0 && o < end_offset(), "raft log read out of range");
  return entries_[static_cast<size_t>(o.value)];
}

std::vector<RaftEntry> RaftLog::read(Offset from, Offset to, size_t max_bytes) const {
  std::vector<RaftEntry> out;
  size_t bytes = 0;
  for (Offset o = from; o < std::min(to, end_offset()); o = o + 1) {
    const RaftEntry& e = at(o);
    if (!out.empty() && bytes + e.data->size() > max_bytes) break;
    bytes += e.data->size();
    out.push_back(e);
  }
  return out;
}

void RaftLog::recover() {
  entries_.clear();
  positions_.clear();
  file_end_ = 0;
  if (!disk_.exists(file_)) {
    rebuild_epoch_cache();
    return;
  }
  const uint64_t size = disk_.size(file_);
  const sim::ReadResult r = disk_.read(file_, 0, size);
  SIM_ASSERT(r.status == sim::DiskStatus::ok, "cannot read " + file_);
  const std::vector<uint8_t>& b = r.bytes;
  uint64_t pos = 0;
  while (pos + kHeader <= b.size()) {
    const uint8_t* p = b.data() + pos;
    const uint32_t len = get<uint32_t>(p);
    const uint64_t sum = get<uint64_t>(p + 4);
    const int64_t offset = get<int64_t>(p + 12);
    const int32_t epoch = get<int32_t>(p + 20);
    const bool control = p[24] != 0;
    if (pos + kHeader + len > b.size()) break;  // torn tail
    std::string payload(reinterpret_cast<const char*>(p + kHeader), len);
    if (sum != checksum(offset, epoch, control, payload)) break;
    if (offset != end_offset().value || (!entries_.empty() && epoch < entries_.back().epoch.value)) break;
    positions_.push_back(pos);
    entries_.push_back({Offset{offset}, QuorumEpoch{epoch}, control,
                        std::make_shared<const std::string>(std::move(payload))});
    pos += kHeader + len;
  }
  file_end_ = pos;
  if (pos < b.size()) {
    // Cut the torn tail durably, so later appends start at a record boundary.
    SIM_ASSERT(disk_.truncate(file_, pos) == sim::DiskStatus::ok, "cannot truncate torn tail of " + file_);
    SIM_ASSERT(disk_.fsync(file_) == sim::DiskStatus::ok, "cannot fsync " + file_);
  }
  rebuild_epoch_cache();
}

sim::DiskStatus RaftLog::append(const std::vector<RaftEntry>& entries) {
  if (entries.empty()) return sim::DiskStatus::ok;
  std::vector<uint8_t> buf;
  std::vector<uint64_t> pos;
  Offset next = end_offset();
  QuorumEpoch last = last_epoch();
  for (const RaftEntry& e : entries) {
    SIM_ASSERT(e.offset == next, "raft log append out of order");
    SIM_ASSERT(e.epoch >= last, "raft log epochs must not decrease");
    next = next + 1;
    last = e.epoch;
    pos.push_back(file_end_ + buf.size());
    put<uint32_t>(buf, static_cast<uint32_t>(e.data->size()));
    put<uint64_t>(buf, checksum(e.offset.value, e.epoch.value, e.control, *e.data));
    put<int64_t>(buf, e.offset.value);
    put<int32_t>(buf, e.epoch.value);
    buf.push_back(e.control ? 1 : 0);
    buf.insert(buf.end(), e.data->begin(), e.data->end());
  }
  if (auto st = disk_.append(file_, buf); st != sim::DiskStatus::ok) return st;
  if (auto st = disk_.fsync(file_); st != sim::DiskStatus::ok) return st;
  // Durable: now publish.
  file_end_ += buf.size();
  positions_.insert(positions_.end(), pos.begin(), pos.end());
  for (const RaftEntry& e : entries) {
    if (entries_.empty() || entries_.back().epoch != e.epoch) epoch_cache_[e.epoch] = e.offset;
    entries_.push_back(e);
  }
  return sim::DiskStatus::ok;
}

sim::DiskStatus RaftLog::truncate_to(Offset end) {
  if (end >= end_offset()) return sim::DiskStatus::ok;
  SIM_ASSERT(end.value >= 0, "negative truncation offset");
  const uint64_t cut = positions_[static_cast<size_t>(end.value)];
  if (auto st = disk_.truncate(file_, cut); st != sim::DiskStatus::ok) return st;
  if (auto st = disk_.fsync(file_); st != sim::DiskStatus::ok) return st;
  entries_.resize(static_cast<size_t>(end.value));
  positions_.resize(static_cast<size_t>(end.value));
  file_end_ = cut;
  rebuild_epoch_cache();
  return sim::DiskStatus::ok;
}

OffsetAndEpoch RaftLog::end_offset_for_epoch(QuorumEpoch epoch) const {
  auto it = epoch_cache_.upper_bound(epoch);  // first epoch > requested
  if (it == epoch_cache_.begin()) return {Offset{0}, QuorumEpoch{0}};
  const Offset end = it == epoch_cache_.end() ? end_offset() : it->second;
  --it;
  return {end, it->first};
}

Offset RaftLog::truncation_offset_for(OffsetAndEpoch leader) const {
  if (leader.epoch.value == 0) return std::min(leader.offset, end_offset());
  const OffsetAndEpoch mine = end_offset_for_epoch(leader.epoch);
  if (mine.epoch == leader.epoch) return std::min(mine.offset, leader.offset);
  return mine.offset;  // I never had the leader's epoch: cut after my last older epoch
}

void RaftLog::rebuild_epoch_cache() {
  epoch_cache_.clear();
  for (const RaftEntry& e : entries_)
    if (!epoch_cache_.contains(e.epoch)) epoch_cache_[e.epoch] = e.offset;
}

}  // namespace ksim::raft
