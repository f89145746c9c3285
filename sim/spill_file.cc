#include "sim/spill_file.h"

#include <fcntl.h>
#include <sys/uio.h>
#include <climits>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>
#include <algorithm>

#include "sim/error.h"

namespace sim {

SpillChunk::~SpillChunk() { file_->release(offset_, length_); }

void SpillChunk::read(uint64_t at, uint64_t n, uint8_t* out) const {
  SIM_ASSERT(at <= length_ && n <= length_ - at, "spill chunk read beyond the chunk");
  file_->read(offset_ + at, n, out);
}

std::shared_ptr<SpillFile> SpillFile::open_temporary() {
  const char* env = std::getenv("TMPDIR");  // where, not what: no effect on the simulation
  const std::string dir = env && *env ? env : "/tmp";
  int fd = ::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0) {
    // A filesystem without O_TMPFILE: a named file, unlinked at once.
    std::string path = dir + "/ksim-spill-XXXXXX";
    fd = ::mkstemp(path.data());
    if (fd < 0) return nullptr;
    ::unlink(path.c_str());
  }
  return std::make_shared<SpillFile>(fd);
}

SpillFile::SpillFile(int fd) : fd_(fd), owner_pid_(static_cast<int>(::getpid())) {}

SpillFile::~SpillFile() {
  if (fd_ >= 0) ::close(fd_);  // a child closes only its own descriptor
}

bool SpillFile::foreign() const { return static_cast<int>(::getpid()) != owner_pid_; }

std::shared_ptr<const SpillChunk> SpillFile::put(std::span<const uint8_t> bytes) {
  const std::span<const uint8_t> one[] = {bytes};
  return put(one);
}

std::shared_ptr<const SpillChunk> SpillFile::put(std::span<const std::span<const uint8_t>> parts) {
  uint64_t total = 0;
  for (const auto& part : parts) total += part.size();
  SIM_ASSERT(total > 0, "spilling nothing");
  if (foreign())
    throw SimError("a simulation created before fork() cannot run in the child process (its disks spill to the "
                   "parent's file): create the Simulation in the child");
  // pwritev takes at most IOV_MAX parts and may write fewer bytes than asked:
  // go on from the first byte not written.
  uint64_t done = 0;
  size_t part = 0, in_part = 0;  // the first byte not written: parts[part][in_part]
  std::vector<iovec> iov;
  while (done < total) {
    iov.clear();
    for (size_t i = part; i < parts.size() && iov.size() < IOV_MAX; ++i) {
      const size_t skip = i == part ? in_part : 0;
      if (parts[i].size() > skip)
        iov.push_back({const_cast<uint8_t*>(parts[i].data() + skip), parts[i].size() - skip});
    }
    const ssize_t n = ::pwritev(fd_, iov.data(), static_cast<int>(iov.size()), static_cast<off_t>(end_ + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return nullptr;  // host disk full or failing: the caller keeps the bytes in memory
    done += static_cast<uint64_t>(n);
    for (uint64_t left = static_cast<uint64_t>(n); left > 0;) {
      const uint64_t here = std::min<uint64_t>(left, parts[part].size() - in_part);
      in_part += here;
      left -= here;
      if (in_part == parts[part].size()) ++part, in_part = 0;  // empty parts are stepped over too
    }
  }
  auto chunk = std::make_shared<const SpillChunk>(shared_from_this(), end_, total);
  end_ += total;
  live_bytes_ += total;
  ++chunks_written_;
  return chunk;
}

void SpillFile::read(uint64_t offset, uint64_t n, uint8_t* out) const {
  if (foreign())
    throw SimError("a simulation created before fork() cannot run in the child process (its disks spill to the "
                   "parent's file): create the Simulation in the child");
  uint64_t done = 0;
  while (done < n) {
    const ssize_t r = ::pread(fd_, out + done, n - done, static_cast<off_t>(offset + done));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0)
      throw SimError("the host failed to read back spilled disk bytes (" +
                     std::string(r < 0 ? std::strerror(errno) : "short read") + ")");
    done += static_cast<uint64_t>(r);
  }
}

void SpillFile::release(uint64_t offset, uint64_t length) {
  SIM_ASSERT(live_bytes_ >= length, "spill file: more bytes released than live");
  live_bytes_ -= length;
  if (foreign()) return;  // the parent's file: not ours to cut
  if (live_bytes_ == 0) {
    // Nothing live: start over from an empty file.
    if (::ftruncate(fd_, 0) == 0) end_ = 0;
    return;
  }
  // Best effort: a filesystem without hole punching keeps the blocks until
  // the file is empty or closed.
  (void)::fallocate(fd_, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(offset),
                    static_cast<off_t>(length));
}

}  // namespace sim
