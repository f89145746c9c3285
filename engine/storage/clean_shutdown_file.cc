#include "engine/storage/clean_shutdown_file.h"

#include <charconv>
#include <string_view>

namespace ksim::storage {
namespace {

constexpr std::string_view kPrefix = "{\"version\":0,\"brokerEpoch\":";

Errc disk_error(sim::DiskStatus s) { return s == sim::DiskStatus::ok ? Errc::NONE : Errc::KAFKA_STORAGE_ERROR; }

}  // namespace

Errc CleanShutdownFile::write(int64_t broker_epoch) {
  const std::string text = std::string(kPrefix) + std::to_string(broker_epoch) + "}";
  if (Errc e = disk_error(disk_->create(path_)); e != Errc::NONE) return e;
  if (Errc e = disk_error(disk_->truncate(path_, 0)); e != Errc::NONE) return e;
  const auto* p = reinterpret_cast<const uint8_t*>(text.data());
  if (Errc e = disk_error(disk_->append(path_, std::span<const uint8_t>(p, text.size()))); e != Errc::NONE) return e;
  return disk_error(disk_->fsync(path_));
}

int64_t CleanShutdownFile::read() const {
  if (!disk_->exists(path_)) return -1;
  const sim::ReadResult r = disk_->read(path_, 0, disk_->size(path_));
  if (r.status != sim::DiskStatus::ok) return -1;
  const std::string_view text(reinterpret_cast<const char*>(r.bytes.data()), r.bytes.size());
  // Exactly what write() produces; anything else (a torn write) proves nothing.
  if (text.size() < kPrefix.size() + 2 || text.substr(0, kPrefix.size()) != kPrefix || text.back() != '}') return -1;
  const std::string_view digits = text.substr(kPrefix.size(), text.size() - kPrefix.size() - 1);
  int64_t epoch = -1;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), epoch);
  if (ec != std::errc{} || end != digits.data() + digits.size() || epoch < 0) return -1;
  return epoch;
}

Errc CleanShutdownFile::remove() {
  if (!disk_->exists(path_)) return Errc::NONE;
  return disk_error(disk_->remove(path_));
}

}  // namespace ksim::storage
