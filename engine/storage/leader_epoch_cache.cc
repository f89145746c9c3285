#include "engine/storage/leader_epoch_cache.h"

#include "sim/error.h"

namespace ksim::storage {

LeaderEpochFileCache::LeaderEpochFileCache(sim::Disk& disk, const std::string& dir)
    : file_(disk, dir + "/" + LeaderEpochCheckpointFile::kFileName) {}

void LeaderEpochFileCache::check_invariants() const {
  SIM_ASSERT(latest_ == (entries_.empty() ? std::nullopt : std::optional(entries_.back().epoch)),
             "the cached latest epoch is the last entry's");
  for (size_t i = 1; i < entries_.size(); ++i) {
    SIM_ASSERT(entries_[i - 1].epoch < entries_[i].epoch, "epoch cache epochs must strictly increase");
    SIM_ASSERT(entries_[i - 1].start_offset < entries_[i].start_offset,
               "epoch cache start offsets must strictly increase");
  }
}

Errc LeaderEpochFileCache::persist() {
  latest_ = entries_.empty() ? std::nullopt : std::optional(entries_.back().epoch);
  check_invariants();
  return file_.write(entries_);
}

Errc LeaderEpochFileCache::load() {
  auto r = file_.read();
  if (!r.ok()) return r.error;
  for (size_t i = 1; i < r.value.size(); ++i) {
    if (!(r.value[i - 1].epoch < r.value[i].epoch) || !(r.value[i - 1].start_offset < r.value[i].start_offset))
      return Errc::KAFKA_STORAGE_ERROR;
  }
  entries_ = std::move(r.value);
  latest_ = entries_.empty() ? std::nullopt : std::optional(entries_.back().epoch);
  return Errc::NONE;
}

Errc LeaderEpochFileCache::assign(LeaderEpoch epoch, Offset start_offset) {
  SIM_ASSERT(epoch.value >= 0 && start_offset.value >= 0, "invalid leader epoch entry");
  if (!entries_.empty()) {
    const EpochEntry& last = entries_.back();
    if (epoch == last.epoch && start_offset >= last.start_offset) return Errc::NONE;  // nothing new
  }
  while (!entries_.empty() &&
         (entries_.back().epoch >= epoch || entries_.back().start_offset >= start_offset))
    entries_.pop_back();
  entries_.push_back({epoch, start_offset});
  return persist();
}

std::optional<EpochEntry> LeaderEpochFileCache::latest_entry() const {
  if (entries_.empty()) return std::nullopt;
  return entries_.back();
}
std::optional<EpochEntry> LeaderEpochFileCache::earliest_entry() const {
  if (entries_.empty()) return std::nullopt;
  return entries_.front();
}

std::optional<LeaderEpoch> LeaderEpochFileCache::epoch_for_offset(Offset offset) const {
  std::optional<LeaderEpoch> out;
  for (const EpochEntry& e : entries_) {
    if (e.start_offset > offset) break;
    out = e.epoch;
  }
  return out;
}

std::pair<LeaderEpoch, Offset> LeaderEpochFileCache::end_offset_for(LeaderEpoch requested,
                                                                    Offset log_end_offset) const {
  const std::pair<LeaderEpoch, Offset> undefined{kNoEpoch, kNoOffset};
  if (requested == kNoEpoch) return undefined;
  // The latest epoch is still being written: it ends at the log end.
  if (!entries_.empty() && entries_.back().epoch == requested) return {requested, log_end_offset};
  // The first entry with a higher epoch: where `requested` (or the epoch
  // before it) ended.
  size_t higher = 0;
  while (higher < entries_.size() && entries_[higher].epoch <= requested) ++higher;
  if (higher == entries_.size()) return undefined;
  if (higher == 0) return {requested, entries_[0].start_offset};
  return {entries_[higher - 1].epoch, entries_[higher].start_offset};
}

Errc LeaderEpochFileCache::truncate_from_end(Offset end_offset) {
  if (end_offset.value < 0 || entries_.empty() || entries_.back().start_offset < end_offset) return Errc::NONE;
  while (!entries_.empty() && entries_.back().start_offset >= end_offset) entries_.pop_back();
  return persist();
}

Errc LeaderEpochFileCache::truncate_from_start(Offset start_offset) {
  size_t removed = 0;
  while (removed < entries_.size() && entries_[removed].start_offset <= start_offset) ++removed;
  if (removed == 0) return Errc::NONE;
  const LeaderEpoch kept = entries_[removed - 1].epoch;
  entries_.erase(entries_.begin(), entries_.begin() + static_cast<std::ptrdiff_t>(removed));
  entries_.insert(entries_.begin(), EpochEntry{kept, start_offset});
  return persist();
}

Errc LeaderEpochFileCache::clear() {
  entries_.clear();
  return persist();
}

}  // namespace ksim::storage
