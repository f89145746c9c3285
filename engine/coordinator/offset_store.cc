#include "engine/coordinator/offset_store.h"

#include "sim/error.h"

namespace ksim::coordinator {

void OffsetStore::put(const std::string& group, const TopicPartition& tp, Offset record_offset,
                      std::optional<OffsetAndMetadata> value) {
  Versions& vs = entries_[group][tp];
  SIM_ASSERT(vs.empty() || vs.back().record_offset < record_offset,
             "offset commit records of " + group + "/" + tp.str() + " out of log order");
  vs.push_back(Version{record_offset, std::move(value)});
}

std::optional<OffsetAndMetadata> OffsetStore::visible(Versions& vs, Offset hw) {
  // The newest version below the HW; everything older can go.
  size_t i = vs.size();
  while (i > 0 && vs[i - 1].record_offset >= hw) --i;
  if (i == 0) return std::nullopt;
  vs.erase(vs.begin(), vs.begin() + static_cast<std::ptrdiff_t>(i - 1));
  return vs.front().value;
}

std::optional<OffsetAndMetadata> OffsetStore::get(const std::string& group, const TopicPartition& tp, Offset hw) {
  auto g = entries_.find(group);
  if (g == entries_.end()) return std::nullopt;
  auto it = g->second.find(tp);
  if (it == g->second.end()) return std::nullopt;
  return visible(it->second, hw);
}

std::map<TopicPartition, OffsetAndMetadata> OffsetStore::all(const std::string& group, Offset hw) {
  std::map<TopicPartition, OffsetAndMetadata> out;
  auto g = entries_.find(group);
  if (g == entries_.end()) return out;
  for (auto& [tp, vs] : g->second)
    if (auto v = visible(vs, hw)) out.emplace(tp, *v);
  return out;
}

}  // namespace ksim::coordinator
