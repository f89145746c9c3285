// OffsetStore: the committed offsets of the groups of one __consumer_offsets
// partition, as a tiny timeline (Kafka's TimelineHashMap read at the "last
// committed offset").
//
// Every commit is stored with the log offset of the record that carries it,
// as soon as the record is appended. A read passes the partition's high
// watermark and sees, per (group, topic-partition), the newest value whose
// record is below it: an offset whose record is not committed yet is
// invisible to OffsetFetch, exactly like Kafka's coordinator. Older versions
// are dropped once a newer one is visible.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "engine/common/types.h"
#include "engine/coordinator/group_records.h"

namespace ksim::coordinator {

class OffsetStore {
 public:
  // A commit (or, with nullopt, a tombstone) whose record sits at `record_offset`.
  // Record offsets of one key only grow (asserted).
  void put(const std::string& group, const TopicPartition& tp, Offset record_offset,
           std::optional<OffsetAndMetadata> value);
  // The value visible at high watermark `hw`.
  std::optional<OffsetAndMetadata> get(const std::string& group, const TopicPartition& tp, Offset hw);
  // Every offset of the group visible at `hw`.
  std::map<TopicPartition, OffsetAndMetadata> all(const std::string& group, Offset hw);
  bool has_group(const std::string& group) const { return entries_.count(group) > 0; }

 private:
  struct Version {
    Offset record_offset;
    std::optional<OffsetAndMetadata> value;
  };
  using Versions = std::vector<Version>;
  static std::optional<OffsetAndMetadata> visible(Versions& vs, Offset hw);
  std::map<std::string, std::map<TopicPartition, Versions>> entries_;
};

}  // namespace ksim::coordinator
