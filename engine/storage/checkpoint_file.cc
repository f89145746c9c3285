#include "engine/storage/checkpoint_file.h"

#include <charconv>
#include <string_view>

namespace ksim::storage {
namespace {

Errc storage_error(sim::DiskStatus s) { return s == sim::DiskStatus::ok ? Errc::NONE : Errc::KAFKA_STORAGE_ERROR; }

// Whole-token integer parse: "12x", "", "+1" are rejected.
template <class T>
bool parse_int(std::string_view s, T& out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  for (size_t i = 0; i <= s.size(); ++i) {
    if (i == s.size() || s[i] == sep) {
      out.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  }
  return out;
}

}  // namespace

Errc write_checkpoint(sim::Disk& disk, const std::string& path, int version,
                      const std::vector<std::string>& lines) {
  std::string text = std::to_string(version) + "\n" + std::to_string(lines.size()) + "\n";
  for (const std::string& l : lines) text += l + "\n";
  const std::string tmp = path + ".tmp";
  // A leftover .tmp (an earlier write cut by a crash) is discarded first:
  // writing over it would leave its longer tail behind.
  if (disk.exists(tmp)) {
    if (Errc e = storage_error(disk.remove(tmp)); e != Errc::NONE) return e;
  }
  if (Errc e = storage_error(disk.create(tmp)); e != Errc::NONE) return e;
  const auto* p = reinterpret_cast<const uint8_t*>(text.data());
  if (Errc e = storage_error(disk.append(tmp, std::span<const uint8_t>(p, text.size()))); e != Errc::NONE) return e;
  if (Errc e = storage_error(disk.fsync(tmp)); e != Errc::NONE) return e;
  return storage_error(disk.rename(tmp, path));
}

Result<std::vector<std::string>> read_checkpoint(sim::Disk& disk, const std::string& path, int version) {
  if (!disk.exists(path)) return std::vector<std::string>{};
  sim::ReadResult r = disk.read(path, 0, disk.size(path));
  if (r.status != sim::DiskStatus::ok) return Errc::KAFKA_STORAGE_ERROR;
  const std::string text(r.bytes.begin(), r.bytes.end());
  std::vector<std::string_view> lines = split(text, '\n');
  // Every line ends with '\n', so the last split piece must be empty.
  if (lines.size() < 3 || !lines.back().empty()) return Errc::KAFKA_STORAGE_ERROR;
  lines.pop_back();
  int read_version = 0;
  size_t count = 0;
  if (!parse_int(lines[0], read_version) || read_version != version) return Errc::KAFKA_STORAGE_ERROR;
  if (!parse_int(lines[1], count) || count != lines.size() - 2) return Errc::KAFKA_STORAGE_ERROR;
  return std::vector<std::string>(lines.begin() + 2, lines.end());
}

Errc LeaderEpochCheckpointFile::write(const std::vector<EpochEntry>& entries) {
  std::vector<std::string> lines;
  for (const EpochEntry& e : entries)
    lines.push_back(std::to_string(e.epoch.value) + " " + std::to_string(e.start_offset.value));
  return write_checkpoint(*disk_, path_, 0, lines);
}

Result<std::vector<EpochEntry>> LeaderEpochCheckpointFile::read() {
  auto lines = read_checkpoint(*disk_, path_, 0);
  if (!lines.ok()) return lines.error;
  std::vector<EpochEntry> out;
  for (const std::string& l : lines.value) {
    auto f = split(l, ' ');
    EpochEntry e;
    if (f.size() != 2 || !parse_int(f[0], e.epoch.value) || !parse_int(f[1], e.start_offset.value))
      return Errc::KAFKA_STORAGE_ERROR;
    out.push_back(e);
  }
  return out;
}

Errc OffsetCheckpointFile::write(const std::map<TopicPartition, Offset>& offsets) {
  std::vector<std::string> lines;
  for (const auto& [tp, off] : offsets)
    lines.push_back(tp.topic + " " + std::to_string(tp.partition) + " " + std::to_string(off.value));
  return write_checkpoint(*disk_, path_, 0, lines);
}

Result<std::map<TopicPartition, Offset>> OffsetCheckpointFile::read() {
  auto lines = read_checkpoint(*disk_, path_, 0);
  if (!lines.ok()) return lines.error;
  std::map<TopicPartition, Offset> out;
  for (const std::string& l : lines.value) {
    auto f = split(l, ' ');
    TopicPartition tp;
    Offset off;
    if (f.size() != 3 || f[0].empty() || !parse_int(f[1], tp.partition) || !parse_int(f[2], off.value))
      return Errc::KAFKA_STORAGE_ERROR;
    tp.topic = std::string(f[0]);
    out[tp] = off;
  }
  return out;
}

}  // namespace ksim::storage
