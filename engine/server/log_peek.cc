#include "engine/server/log_peek.h"

#include <algorithm>

#include "engine/storage/log_segment.h"

namespace ksim {

LogBatchCursor::LogBatchCursor(const sim::Disk& disk, const storage::UnifiedLog& log)
    : disk_(&disk), dir_(log.dir()), bases_(log.segment_base_offsets()) {}

bool LogBatchCursor::open_next_segment() {
  while (segment_ < bases_.size()) {
    path_ = storage::LogSegment::file_stem(dir_, bases_[segment_++]) + ".log";
    if (!disk_->exists(path_)) continue;
    pos_ = 0;
    end_ = disk_->size(path_);
    return true;
  }
  path_.clear();
  return false;
}

storage::BatchPtr LogBatchCursor::next(const storage::RecordBatch* twin) {
  constexpr size_t kHead = storage::RecordBatch::kLogOverhead;
  for (;;) {
    if (path_.empty() && !open_next_segment()) return nullptr;
    if (pos_ + kHead <= end_) {
      uint8_t head[kHead];
      disk_->peek(path_, pos_, kHead, head);
      const auto size = storage::RecordBatch::peek_size({head, kHead});
      if (size && *size <= end_ - pos_) {
        storage::Bytes bytes(*size);
        disk_->peek(path_, pos_, *size, bytes.data());
        const bool copy_of_twin = twin && twin->bytes().size() == bytes.size() &&
                                  std::equal(bytes.begin(), bytes.end(), twin->bytes().begin());
        auto b = copy_of_twin ? storage::RecordBatch::decode_trusted(std::move(bytes))
                              : storage::RecordBatch::decode_checked(std::move(bytes));
        if (b.ok()) {
          pos_ += *size;
          return b.value;
        }
      }
    }
    path_.clear();  // this segment's end, or its first undecodable batch: on to the next
  }
}

std::vector<storage::BatchPtr> peek_batches(const sim::Disk& disk, const storage::UnifiedLog& log) {
  std::vector<storage::BatchPtr> out;
  LogBatchCursor cursor(disk, log);
  while (storage::BatchPtr b = cursor.next()) out.push_back(std::move(b));
  return out;
}

void for_each_batch(const sim::Disk& disk, const storage::UnifiedLog& log,
                    const std::function<void(const storage::BatchPtr&)>& visit) {
  LogBatchCursor cursor(disk, log);
  while (storage::BatchPtr b = cursor.next()) visit(b);
}

}  // namespace ksim
