// Kafka's checkpoint files: small text files a broker rewrites as a whole.
//
//   0                 <- format version
//   3                 <- number of entries
//   0 0               <- one entry per line, fields separated by a space
//   2 10
//   5 20
//
// Kafka keeps four of them: leader-epoch-checkpoint (per partition: "epoch
// start_offset"), and per log dir replication-offset-checkpoint (high
// watermarks), recovery-point-offset-checkpoint and log-start-offset-checkpoint
// ("topic partition offset").
//
// Writing is atomic, as Kafka's CheckpointFile: write `<name>.tmp`, fsync it,
// rename it over `<name>`. A power failure at any point leaves either the old
// file or the new one (rename is atomic and journaled), never a mix; a torn
// `.tmp` is simply overwritten next time. Reading validates the version, the
// count and every line; a malformed file is KAFKA_STORAGE_ERROR (Kafka raises
// an IOException that takes the log dir offline).
#pragma once

#include <compare>
#include <map>
#include <string>
#include <vector>

#include "engine/common/types.h"
#include "engine/storage/result.h"
#include "sim/disk.h"

namespace ksim::storage {

// The generic part: a version and a list of entry lines (without newlines).
// A missing file reads as no entries.
Errc write_checkpoint(sim::Disk& disk, const std::string& path, int version,
                      const std::vector<std::string>& lines);
Result<std::vector<std::string>> read_checkpoint(sim::Disk& disk, const std::string& path, int version);

// One leader epoch and the first offset written in it.
struct EpochEntry {
  LeaderEpoch epoch;
  Offset start_offset;
  auto operator<=>(const EpochEntry&) const = default;
};

// `leader-epoch-checkpoint` in a partition directory.
class LeaderEpochCheckpointFile {
 public:
  static constexpr const char* kFileName = "leader-epoch-checkpoint";
  LeaderEpochCheckpointFile(sim::Disk& disk, std::string path) : disk_(&disk), path_(std::move(path)) {}
  Errc write(const std::vector<EpochEntry>& entries);
  Result<std::vector<EpochEntry>> read();
  const std::string& path() const { return path_; }

 private:
  sim::Disk* disk_;
  std::string path_;
};

// A log dir's map TopicPartition -> offset (high watermarks, recovery points,
// log start offsets). Ordered by (topic, partition), so files are deterministic.
class OffsetCheckpointFile {
 public:
  OffsetCheckpointFile(sim::Disk& disk, std::string path) : disk_(&disk), path_(std::move(path)) {}
  Errc write(const std::map<TopicPartition, Offset>& offsets);
  Result<std::map<TopicPartition, Offset>> read();
  const std::string& path() const { return path_; }

 private:
  sim::Disk* disk_;
  std::string path_;
};

}  // namespace ksim::storage
