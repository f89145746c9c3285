// A node's simulated disk, modelled on a real page cache (LevelDB's
// fault-injection Env is the inspiration).
//
//   write / append / truncate  land in the PAGE CACHE (what reads see) and are
//                              queued as unsynced operations;
//   fsync(file)                makes the file's cache content DURABLE.
//
// Crash semantics:
//   * process crash (World::crash): the OS keeps the page cache, so nothing is
//     lost — a restarted process reads everything it wrote.
//   * power failure (World::power_fail): every unsynced operation is lost; with
//     `torn`, a random prefix of them survives and the last surviving write may
//     be cut at a random byte. (A real disk may persist dirty pages in any
//     order; a prefix is the common, friendlier case — see README.)
//   * metadata operations (create, remove, rename, truncate) are durable at
//     once — the filesystem journals them (ext4 data=ordered); a file created
//     and never fsynced survives a power failure EMPTY; a truncate survives
//     even when writes queued before it are lost.
//
// Latency: operations queue on the device (one at a time) and take
// base + per-KiB time, times the slow-disk multiplier. The calling fiber
// sleeps for that virtual time; if its node crashes meanwhile, the operation
// never happened.
//
// Faults: slow (latency multiplier), full (growing writes fail with no_space),
// stall (operations block until unstall), corrupt (flip bytes of synced data —
// detectable only by checksums kept above this layer).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "sim/file_bytes.h"
#include "sim/page_cache.h"
#include "sim/sync.h"
#include "sim/world.h"

namespace sim {

enum class DiskStatus : uint8_t { ok, no_space, not_found, io_error };
const char* disk_status_name(DiskStatus s);

struct DiskSpec {
  Duration write_base = microseconds(5);    // buffered write into the page cache
  Duration write_per_kib = nanoseconds(200);
  Duration read_base = microseconds(5);
  Duration read_per_kib = nanoseconds(200);
  Duration fsync_base = microseconds(500);  // SSD flush
  Duration fsync_per_kib = microseconds(2);
  Duration meta_base = microseconds(20);    // create / rename / remove / truncate
};

struct ReadResult {
  DiskStatus status = DiskStatus::ok;
  std::vector<uint8_t> bytes;
};

struct DiskStats {
  uint64_t writes = 0, bytes_written = 0, reads = 0, bytes_read = 0, fsyncs = 0;
  uint64_t bytes_lost = 0, errors = 0;
};

class Disk {
 public:
  Disk(World& w, NodeId owner);
  Disk(const Disk&) = delete;  // find_cache_ points into this disk's own files
  Disk& operator=(const Disk&) = delete;

  // ---- operations (from a fiber of the owning node; they take virtual time) ----
  DiskStatus write(std::string_view file, uint64_t offset, std::span<const uint8_t> bytes);
  DiskStatus append(std::string_view file, std::span<const uint8_t> bytes);
  // An append of bytes that never change, kept alive by `owner` (a record
  // batch): the page cache may keep a reference instead of a copy (see
  // page_cache.h). `note` (the owner's, optional) lets every replica of
  // the bytes spill them once (spill_file.h). Same semantics, time and
  // trace as append().
  DiskStatus append_shared(std::string_view file, std::shared_ptr<const void> owner,
                           std::span<const uint8_t> bytes, SpillNote* note = nullptr);
  // Appends shorter than this are copied all the same (cheaper than a reference).
  static constexpr size_t kShareMinBytes = 512;
  // An append through a memory mapping (Kafka's offset and time indexes are
  // mmap'd files): a store into the page cache that issues no I/O, so it takes
  // no device time and does not wait for a stall. Otherwise an append: it is
  // unsynced until fsync, lost on power failure, refused when the disk is full.
  DiskStatus append_mapped(std::string_view file, std::span<const uint8_t> bytes);
  ReadResult read(std::string_view file, uint64_t offset, uint64_t length);
  // A read of bytes the caller already holds (a cache above this layer, kept
  // in step with what was written, so they are in the page cache): Kafka
  // serves them by sendfile from the page cache, which issues no device I/O.
  // It takes no time and does not wait for a stall; it counts and traces as a
  // read. `length` is clamped to the file.
  DiskStatus charge_read(std::string_view file, uint64_t offset, uint64_t length);
  // Bumped by every corrupt(): caches above this layer must drop what they hold.
  uint64_t corruptions() const { return corruptions_; }
  DiskStatus truncate(std::string_view file, uint64_t size);
  DiskStatus fsync(std::string_view file);
  DiskStatus create(std::string_view file);  // no-op if it exists
  DiskStatus remove(std::string_view file);
  DiskStatus rename(std::string_view from, std::string_view to);  // atomic, replaces `to`

  // ---- inspection (no latency; for recovery scans, tests and checkers) ----------
  bool exists(std::string_view file) const;
  uint64_t size(std::string_view file) const;  // page-cache size; 0 if missing
  std::vector<std::string> list(std::string_view prefix = "") const;
  // The whole page cache, contiguous. A file kept as extents (a log's batches
  // by reference, or spilled) is FLATTENED into one buffer to serve this, for
  // good: fine for small files, a copy of the log for a segment — read those
  // with peek() instead.
  std::span<const uint8_t> contents(std::string_view file) const;  // page cache
  // Copies [offset, offset + length) of the page cache out, without
  // flattening it; the range must lie within size(file).
  void peek(std::string_view file, uint64_t offset, uint64_t length, uint8_t* out) const;
  // The data on the platter. A truncate not yet followed by an fsync of the
  // file is journaled: it is not reflected here, yet a power failure applies it.
  std::span<const uint8_t> durable_contents(std::string_view file) const;
  uint64_t unsynced_bytes() const;
  uint64_t used_bytes() const { return used_bytes_; }
  const DiskStats& stats() const { return stats_; }

  // ---- faults ----------------------------------------------------------------------
  void set_spec(const DiskSpec& spec) { spec_ = spec; }
  void set_slowdown(double multiplier);
  double slowdown() const { return slowdown_; }
  void set_full(bool full);
  // Called (from the failing operation's fiber) when a write, append, truncate,
  // fsync, create or rename fails for want of space or an I/O error — what
  // Kafka's LogDirFailureChannel reacts to. The owner's software installs it
  // (a broker halts); it must not block and must capture nothing that dies
  // with the process (it outlives crashes).
  void on_write_error(std::function<void(DiskStatus)> fn) { on_write_error_ = std::move(fn); }
  bool full() const { return full_; }
  void set_capacity(uint64_t bytes) { capacity_bytes_ = bytes; }
  void stall();
  void unstall();
  bool stalled() const { return stalled_; }
  // Flips `length` bytes at `offset` in both the durable and the cached image.
  void corrupt(std::string_view file, uint64_t offset, uint64_t length);

  // Called by World::power_fail.
  void lose_unsynced(bool torn);

  // ---- the operator (only while the owning node is down) ----------------------------
  // The drive is swapped for a new, empty one of the same model: every file,
  // synced or not, is gone and the old drive's faults (full, slow, stalled)
  // went with it. What a replaced failed drive, or `rm -rf` of the data
  // directories, leaves a restarting server (sim.wipe).
  void replace();
  // Writes `file` durably and at once, as an offline tool does before the
  // server starts (kafka-storage format writing meta.properties). Replaces
  // an existing file of that name. Takes no virtual time and is not traced
  // (formatting precedes the run: runs that format alike hash alike).
  void install(std::string_view file, std::span<const uint8_t> bytes);

 private:
  // An unsynced operation. An append at the end of the file is kept by
  // reference (`ref`: the bytes are the page cache's [offset, offset+length)),
  // so a log's stream of appends is not copied twice; before any operation
  // that could change those cached bytes (an overwrite, a truncate, a
  // corruption, a power failure) they are copied into `bytes` (materialize).
  struct Op {
    bool is_truncate = false;
    bool ref = false;
    uint64_t offset = 0;  // truncate: new size
    uint64_t length = 0;  // ref: the length of the cached range
    std::vector<uint8_t> bytes;
    uint64_t size() const { return ref ? length : bytes.size(); }
  };
  // The durable image is usually a prefix of the page cache (a log is
  // appended, then fsynced): then it is not stored twice. While `shared`, the
  // platter holds data[0, durable_len) and nothing may change those cached
  // bytes; an operation that would (an overwrite or a truncate below
  // durable_len, a corruption) first copies them into `durable` (unshare).
  struct File {
    PageCache data;     // page cache
    FileBytes durable;  // on the platter, once not shared
    bool shared = true;
    uint64_t durable_len = 0;  // while shared
    std::vector<Op> unsynced;
    // The file name's interned trace id, once known: every operation traces
    // it, and interning is a string-keyed map lookup. (Interning is
    // idempotent, so caching the id changes no id.) Reset on rename.
    mutable uint64_t trace_id = kNoTraceId;
  };
  static constexpr uint64_t kNoTraceId = UINT64_MAX;

  // Waits out a stall and the device queue (a crash throws NodeCrashed here:
  // the operation then never happened).
  void occupy(Duration cost, std::string_view what);
  void check_caller() const;
  DiskStatus write_at(std::string_view file, std::optional<uint64_t> offset, std::span<const uint8_t> bytes,
                      std::shared_ptr<const void> owner = nullptr, SpillNote* note = nullptr);
  // write_at's effect on the page cache and the unsynced queue, once the device (if any) is done.
  DiskStatus store(std::string_view file, std::optional<uint64_t> offset, std::span<const uint8_t> bytes,
                   std::shared_ptr<const void> owner = nullptr, SpillNote* note = nullptr);
  DiskStatus fail(std::string_view file, DiskStatus status);
  File* find(std::string_view name);
  const File* find(std::string_view name) const;
  File& add_file(std::string_view name);  // a new, empty file (or the existing one)
  void erase_file(std::map<std::string, File, std::less<>>::iterator it);
  static void apply(FileBytes& image, const Op& op);
  static void apply(PageCache& image, const Op& op);
  static uint64_t durable_size(const File& f) { return f.shared ? f.durable_len : f.durable.size(); }
  // The durable image's bytes, copied out.
  static void copy_durable(const File& f, FileBytes& out);
  // Gives the durable image bytes of its own (before the cached prefix changes).
  static void unshare(File& f);
  // The platter now holds exactly the page cache.
  static void share_all(File& f);
  // Turns every by-reference operation of `f` into one holding its bytes.
  static void materialize(File& f);
  Duration scaled(Duration base, Duration per_kib, uint64_t bytes) const;
  uint64_t file_id(std::string_view name);
  uint64_t file_id(const File& f, std::string_view name);

  World& world_;
  NodeId owner_;
  std::function<void(DiskStatus)> on_write_error_;
  DiskSpec spec_;
  // Ordered by name: list() and lose_unsynced() (which draws random numbers
  // per file) iterate it, so the order must not depend on hashing.
  std::map<std::string, File, std::less<>> files_;
  // Lookup only, never iterated: name (viewing the map's key) -> file. The
  // paths of a log share long prefixes, which made every operation's
  // ordered-map search a chain of long memcmps.
  std::unordered_map<std::string_view, File*> index_;
  // In front of index_: a direct-mapped cache slotted by where the caller's
  // name string lives (a log segment asks with its own path string every
  // time). A hit is confirmed by comparing the names, a short memcmp where
  // index_ hashes the whole ~40-character path; it only spares that lookup,
  // never decides anything. Emptied whenever a file goes (erase_file, replace).
  struct FindCacheEntry {
    File* file = nullptr;
    std::string_view name;  // the file's own name (files_'s key)
  };
  mutable std::array<FindCacheEntry, 64> find_cache_{};
  File* lookup(std::string_view name) const;  // find()s through find_cache_
  uint64_t used_bytes_ = 0;
  uint64_t corruptions_ = 0;
  uint64_t capacity_bytes_ = UINT64_MAX;
  double slowdown_ = 1.0;
  bool full_ = false;
  bool stalled_ = false;
  Instant busy_until_;
  WaitQueue stall_waiters_;
  DiskStats stats_;
  Rng rng_;
};

}  // namespace sim
