// SpillFile: where a simulated disk keeps file bytes it does not need in
// memory — an unnamed temporary file on the HOST's disk.
//
// Why: a simulated disk holds everything its logs ever kept. A one-hour soak
// at 1,000 records/s writes ~460 MB across three replicas; held in RAM that
// was a third of the run's peak (issue 13: memory bounded by what is live).
// The page cache (page_cache.h) keeps a file's newest bytes in memory and
// moves older ones here in chunks of about a MiB; reads of them become
// pread(2) calls. The host kernel caches this file as it sees fit; our
// resident set holds only what is hot.
//
// Pure storage, like FileBytes: a read returns exactly the bytes written, so
// the simulation, its virtual time and its trace do not depend on whether
// anything was spilled. Nothing here is virtual time or a fault: a HOST I/O
// error on put() just leaves the bytes in memory (put returns null); one on
// read is a broken host and throws SimError.
//
// Fork: a forked child shares the file descriptor (and so the file) with its
// parent. A child using an inherited simulation would write over the
// parent's chunks, and its destructors would punch holes in them: the file
// remembers its owner's pid, a child's put()/read() raise SimError, and its
// releases leave the parent's file alone.
//
// Space: a chunk frees its range when the last page cache extent naming it
// goes (truncation, file removal, a compaction swap) — FALLOC_FL_PUNCH_HOLE
// gives the blocks back; when nothing is live the file is truncated to zero.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <utility>

namespace sim {

class SpillFile;

// A range of the spill file holding bytes that never change. Owned (shared)
// by the page-cache extents that name it; its destructor frees the range.
class SpillChunk {
 public:
  SpillChunk(std::shared_ptr<SpillFile> file, uint64_t offset, uint64_t length)
      : file_(std::move(file)), offset_(offset), length_(length) {}
  ~SpillChunk();
  SpillChunk(const SpillChunk&) = delete;
  SpillChunk& operator=(const SpillChunk&) = delete;

  // Copies [at, at + n) of the chunk out (at + n <= length()).
  void read(uint64_t at, uint64_t n, uint8_t* out) const;
  uint64_t length() const { return length_; }

 private:
  std::shared_ptr<SpillFile> file_;
  uint64_t offset_, length_;
};

class SpillFile : public std::enable_shared_from_this<SpillFile> {
 public:
  // An unlinked temporary file under $TMPDIR (or /tmp); null when the host
  // cannot make one (the disk then keeps everything in memory).
  static std::shared_ptr<SpillFile> open_temporary();
  explicit SpillFile(int fd);
  ~SpillFile();
  SpillFile(const SpillFile&) = delete;
  SpillFile& operator=(const SpillFile&) = delete;

  // Appends `bytes`; null on a host I/O error (nothing was kept).
  std::shared_ptr<const SpillChunk> put(std::span<const uint8_t> bytes);
  // Appends the parts, in order, as one chunk: a gather write straight from
  // where they lie, so spilling copies no byte in user space.
  std::shared_ptr<const SpillChunk> put(std::span<const std::span<const uint8_t>> parts);

  uint64_t live_bytes() const { return live_bytes_; }
  uint64_t chunks_written() const { return chunks_written_; }

 private:
  friend class SpillChunk;
  void read(uint64_t offset, uint64_t n, uint8_t* out) const;
  void release(uint64_t offset, uint64_t length);
  bool foreign() const;  // in a forked child of the process that opened it

  int fd_ = -1;
  int owner_pid_ = 0;
  uint64_t end_ = 0;         // where the next chunk goes
  uint64_t live_bytes_ = 0;  // bytes of chunks still alive
  uint64_t chunks_written_ = 0;
};

// Where shared bytes went when a file spilled them. Kept BY THE BYTES' OWNER
// (a record batch holds one), so the leader's and the followers' files, which
// reference the same batch (page_cache.h), spill it ONCE: the first file to
// spill it fills the note, the others read it and name that chunk instead of
// writing the bytes again (three replicas wrote every batch three times, a
// sixth of the cluster benchmark's time in the host kernel). No index, no
// lookup: the note lives as long as the bytes it describes, and names its
// chunk weakly, so a note whose chunk was freed is simply written over.
struct SpillNote {
  struct Where {
    std::weak_ptr<const SpillChunk> chunk;
    const uint8_t* p = nullptr;  // the bytes that went: [p, p + length) lies in chunk at `at`
    uint64_t length = 0;
    uint64_t at = 0;
  };
  // Null until a file spills the bytes: a log holds tens of thousands of
  // small batches that are never shared or spilled by reference, and 40
  // bytes more on each cost the one-hour soak 8 MB of its peak.
  std::unique_ptr<Where> where;
};

// The spill file of one World, opened on first need (most runs never fill a
// file past PageCache::kSpillBytes and never open one). Shared by the page
// caches of every disk of that world.
class SpillStore {
 public:
  // The file, or null when the host could not make one (then never retried).
  SpillFile* file() {
    if (!file_ && !failed_) {
      file_ = SpillFile::open_temporary();
      failed_ = !file_;
    }
    return file_.get();
  }
  uint64_t live_bytes() const { return file_ ? file_->live_bytes() : 0; }

 private:
  std::shared_ptr<SpillFile> file_;
  bool failed_ = false;
};

}  // namespace sim
