#include "sim/disk.h"

#include <algorithm>

namespace sim {

const char* disk_status_name(DiskStatus s) {
  switch (s) {
    case DiskStatus::ok: return "ok";
    case DiskStatus::no_space: return "no_space";
    case DiskStatus::not_found: return "not_found";
    case DiskStatus::io_error: return "io_error";
  }
  return "?";
}

Disk::Disk(World& w, NodeId owner)
    : world_(w), owner_(owner), stall_waiters_(w),
      rng_(w.rng("disk/" + std::to_string(owner.value))) {}

void Disk::check_caller() const {
  if (!world_.in_fiber())
    throw SimError("disk operations must run inside a simulated process of node " +
                   world_.node_name(owner_));
  if (world_.current_node() != owner_)
    throw SimError("a process of node " + world_.node_name(world_.current_node()) +
                   " used the disk of node " + world_.node_name(owner_));
}

Duration Disk::scaled(Duration base, Duration per_kib, uint64_t bytes) const {
  const double ns = static_cast<double>(base.ns + per_kib.ns * static_cast<int64_t>((bytes + 1023) / 1024));
  return Duration{static_cast<int64_t>(ns * slowdown_)};
}

void Disk::occupy(Duration cost, std::string_view) {
  while (stalled_) stall_waiters_.wait();
  // One operation at a time: a slow disk backs up its queue.
  const Instant start = std::max(world_.now(), busy_until_);
  busy_until_ = start + cost;
  world_.sleep_until(busy_until_);
  while (stalled_) stall_waiters_.wait();
}

uint64_t Disk::file_id(std::string_view name) { return world_.trace().intern(name); }

uint64_t Disk::file_id(const File& f, std::string_view name) {
  if (f.trace_id == kNoTraceId) f.trace_id = world_.trace().intern(name);
  return f.trace_id;
}

Disk::File* Disk::lookup(std::string_view name) const {
  // The slot depends on an address, the answer never does (see find_cache_).
  FindCacheEntry& c = find_cache_[(reinterpret_cast<uintptr_t>(name.data()) >> 4) % find_cache_.size()];  // determinism-ok: a cache slot, never an order
  if (c.file && c.name == name) return c.file;
  auto it = index_.find(name);
  if (it == index_.end()) return nullptr;
  c = FindCacheEntry{it->second, it->first};
  return it->second;
}

Disk::File* Disk::find(std::string_view name) { return lookup(name); }

const Disk::File* Disk::find(std::string_view name) const { return lookup(name); }

Disk::File& Disk::add_file(std::string_view name) {
  auto [it, inserted] = files_.try_emplace(std::string(name));
  if (inserted) {
    index_.emplace(std::string_view(it->first), &it->second);
    it->second.data.set_spill(&world_.spill_store());
  }
  return it->second;
}

void Disk::erase_file(std::map<std::string, File, std::less<>>::iterator it) {
  find_cache_.fill(FindCacheEntry{});  // it may name this file
  index_.erase(std::string_view(it->first));
  files_.erase(it);
}

void Disk::materialize(File& f) {
  for (Op& op : f.unsynced) {
    if (!op.ref) continue;
    op.bytes = f.data.read(op.offset, op.length);
    op.ref = false;
    op.length = 0;
  }
}

void Disk::copy_durable(const File& f, FileBytes& out) {
  if (!f.shared) {
    out.assign(f.durable.span());
    return;
  }
  out.resize(f.durable_len);
  f.data.read(0, f.durable_len, out.data());
}

void Disk::unshare(File& f) {
  if (!f.shared) return;
  copy_durable(f, f.durable);
  f.shared = false;
  f.durable_len = 0;
}

void Disk::share_all(File& f) {
  f.durable = FileBytes{};
  f.shared = true;
  f.durable_len = f.data.size();
}

void Disk::apply(FileBytes& image, const Op& op) {
  SIM_ASSERT(!op.ref, "a by-reference disk operation must be materialized before it is applied elsewhere");
  if (op.is_truncate) {
    image.resize(op.offset);
    return;
  }
  if (image.size() < op.offset + op.bytes.size()) image.resize(op.offset + op.bytes.size());
  std::copy(op.bytes.begin(), op.bytes.end(), image.begin() + static_cast<std::ptrdiff_t>(op.offset));
}

void Disk::apply(PageCache& image, const Op& op) {
  SIM_ASSERT(!op.ref, "a by-reference disk operation must be materialized before it is applied elsewhere");
  if (op.is_truncate) {
    image.resize(op.offset);
    return;
  }
  image.write(op.offset, op.bytes);
}

DiskStatus Disk::write(std::string_view name, uint64_t offset, std::span<const uint8_t> bytes) {
  return write_at(name, offset, bytes);
}

DiskStatus Disk::write_at(std::string_view name, std::optional<uint64_t> at, std::span<const uint8_t> bytes,
                          std::shared_ptr<const void> owner, SpillNote* note) {
  check_caller();
  occupy(scaled(spec_.write_base, spec_.write_per_kib, bytes.size()), name);
  return store(name, at, bytes, std::move(owner), note);
}

DiskStatus Disk::append_mapped(std::string_view name, std::span<const uint8_t> bytes) {
  check_caller();
  return store(name, std::nullopt, bytes);
}

DiskStatus Disk::store(std::string_view name, std::optional<uint64_t> at, std::span<const uint8_t> bytes,
                       std::shared_ptr<const void> owner, SpillNote* note) {
  File* f = find(name);
  const uint64_t size = f ? f->data.size() : 0;
  // An append's offset is decided when the device performs it, not when it was
  // queued: two fibers appending concurrently must not overwrite each other.
  const uint64_t offset = at ? *at : size;
  const uint64_t end = offset + bytes.size();
  const uint64_t growth = end > size ? end - size : 0;
  if (growth > 0 && (full_ || used_bytes_ + growth > capacity_bytes_)) return fail(name, DiskStatus::no_space);
  if (!f) f = &add_file(name);
  if (offset == f->data.size()) {
    // An append: kept by reference to the cache. Right after the previous
    // unsynced append it extends it, so a log's stream of appends stays one
    // operation (a torn power failure still cuts it at any byte).
    if (!f->unsynced.empty() && f->unsynced.back().ref &&
        f->unsynced.back().offset + f->unsynced.back().length == offset) {
      f->unsynced.back().length += bytes.size();
    } else {
      Op op;
      op.ref = true;
      op.offset = offset;
      op.length = bytes.size();
      f->unsynced.push_back(std::move(op));
    }
    if (owner && bytes.size() >= kShareMinBytes)
      f->data.append_shared(std::move(owner), bytes, note);
    else
      f->data.append(bytes);
  } else {
    // Overwrites cached bytes (or leaves a hole): earlier by-reference
    // operations must keep what they wrote, and so must the platter.
    materialize(*f);
    if (f->shared && offset < f->durable_len) unshare(*f);
    Op op{false, false, offset, 0, std::vector<uint8_t>(bytes.begin(), bytes.end())};
    apply(f->data, op);
    f->unsynced.push_back(std::move(op));
  }
  used_bytes_ += growth;
  ++stats_.writes;
  stats_.bytes_written += bytes.size();
  world_.trace().record(ev::disk_write, world_.now(), owner_.value, file_id(*f, name), offset, bytes.size());
  return DiskStatus::ok;
}

DiskStatus Disk::append(std::string_view name, std::span<const uint8_t> bytes) {
  return write_at(name, std::nullopt, bytes);
}

DiskStatus Disk::append_shared(std::string_view name, std::shared_ptr<const void> owner,
                               std::span<const uint8_t> bytes, SpillNote* note) {
  return write_at(name, std::nullopt, bytes, std::move(owner), note);
}

DiskStatus Disk::fail(std::string_view name, DiskStatus status) {
  ++stats_.errors;
  world_.trace().record(ev::disk_error, world_.now(), owner_.value, file_id(name),
                        world_.trace().intern(disk_status_name(status)));
  if (on_write_error_ && (status == DiskStatus::no_space || status == DiskStatus::io_error)) on_write_error_(status);
  return status;
}

ReadResult Disk::read(std::string_view name, uint64_t offset, uint64_t length) {
  check_caller();
  occupy(scaled(spec_.read_base, spec_.read_per_kib, length), name);
  const File* f = find(name);
  if (!f) return {DiskStatus::not_found, {}};
  ReadResult r;
  if (offset < f->data.size()) {
    const uint64_t n = std::min<uint64_t>(length, f->data.size() - offset);
    r.bytes = f->data.read(offset, n);
  }
  ++stats_.reads;
  stats_.bytes_read += r.bytes.size();
  world_.trace().record(ev::disk_read, world_.now(), owner_.value, file_id(*f, name), offset, r.bytes.size());
  return r;
}

DiskStatus Disk::charge_read(std::string_view name, uint64_t offset, uint64_t length) {
  check_caller();
  const File* f = find(name);
  if (!f) return DiskStatus::not_found;
  const uint64_t n = offset < f->data.size() ? std::min<uint64_t>(length, f->data.size() - offset) : 0;
  ++stats_.reads;
  stats_.bytes_read += n;
  world_.trace().record(ev::disk_read, world_.now(), owner_.value, file_id(*f, name), offset, n);
  return DiskStatus::ok;
}

DiskStatus Disk::truncate(std::string_view name, uint64_t size) {
  check_caller();
  occupy(scaled(spec_.meta_base, {}, 0), name);
  File* f = find(name);
  if (!f) return DiskStatus::not_found;
  if (size > f->data.size() && (full_ || used_bytes_ + (size - f->data.size()) > capacity_bytes_))
    return fail(name, DiskStatus::no_space);
  used_bytes_ = used_bytes_ - f->data.size() + size;
  materialize(*f);
  if (f->shared && size < f->durable_len) unshare(*f);
  Op op{true, false, size, 0, {}};
  apply(f->data, op);
  f->unsynced.push_back(std::move(op));
  world_.trace().record(ev::disk_truncate, world_.now(), owner_.value, file_id(*f, name), size);
  return DiskStatus::ok;
}

DiskStatus Disk::fsync(std::string_view name) {
  check_caller();
  File* f = find(name);
  if (!f) return DiskStatus::not_found;
  // fsync makes durable what was written before it was issued; writes that
  // land while it waits on the device stay unsynced.
  const size_t ops = f->unsynced.size();
  const uint64_t last_size = ops ? f->unsynced.back().size() : 0;
  uint64_t dirty = 0;
  for (const Op& op : f->unsynced) dirty += op.size();
  occupy(scaled(spec_.fsync_base, spec_.fsync_per_kib, dirty), name);
  f = find(name);  // the file may have been removed or renamed while we waited
  if (!f) return DiskStatus::not_found;
  const size_t n = std::min(ops, f->unsynced.size());
  // An append that landed while we waited may have extended the last
  // operation issued before us (store() merges adjacent appends): its tail
  // is not ours to make durable.
  if (n == ops && n > 0 && f->unsynced[n - 1].size() > last_size && !f->unsynced[n - 1].is_truncate) {
    Op& op = f->unsynced[n - 1];
    Op tail;
    tail.offset = op.offset + last_size;
    if (op.ref) {
      tail.ref = true;
      tail.length = op.length - last_size;
      op.length = last_size;
    } else {
      tail.bytes.assign(op.bytes.begin() + static_cast<std::ptrdiff_t>(last_size), op.bytes.end());
      op.bytes.resize(last_size);
    }
    f->unsynced.insert(f->unsynced.begin() + static_cast<std::ptrdiff_t>(n), std::move(tail));
  }
  // The common cases keep the platter a prefix of the cache, copying nothing:
  // everything synced (the platter is then the cache, by construction), or
  // only appends kept by reference, contiguous from the synced end.
  if (f->shared && n == f->unsynced.size()) {
    share_all(*f);
  } else if (f->shared) {
    uint64_t len = f->durable_len;
    bool prefix = true;
    for (size_t i = 0; i < n && prefix; ++i) {
      const Op& op = f->unsynced[i];
      prefix = op.ref && op.offset == len;
      len += op.length;
    }
    if (prefix) {
      f->durable_len = len;
    } else {
      unshare(*f);
    }
  }
  if (!f->shared) {
    for (size_t i = 0; i < n; ++i) {
      const Op& op = f->unsynced[i];
      if (op.ref) {  // the cached bytes are still what was appended (nothing changed them since)
        if (f->durable.size() < op.offset + op.length) f->durable.resize(op.offset + op.length);
        f->data.read(op.offset, op.length, f->durable.data() + op.offset);
      } else {
        apply(f->durable, op);
      }
    }
  }
  f->unsynced.erase(f->unsynced.begin(), f->unsynced.begin() + static_cast<std::ptrdiff_t>(n));
  SIM_ASSERT(!f->unsynced.empty() || durable_size(*f) == f->data.size(),
             "fsync left a durable image of another size than the page cache");
  ++stats_.fsyncs;
  world_.trace().record(ev::disk_fsync, world_.now(), owner_.value, file_id(*f, name), dirty);
  return DiskStatus::ok;
}

DiskStatus Disk::create(std::string_view name) {
  check_caller();
  occupy(scaled(spec_.meta_base, {}, 0), name);
  if (!find(name)) add_file(name);
  return DiskStatus::ok;
}

DiskStatus Disk::remove(std::string_view name) {
  check_caller();
  occupy(scaled(spec_.meta_base, {}, 0), name);
  auto it = files_.find(name);
  if (it == files_.end()) return DiskStatus::not_found;
  used_bytes_ -= it->second.data.size();
  erase_file(it);
  return DiskStatus::ok;
}

DiskStatus Disk::rename(std::string_view from, std::string_view to) {
  check_caller();
  occupy(scaled(spec_.meta_base, {}, 0), from);
  auto it = files_.find(from);
  if (it == files_.end()) return DiskStatus::not_found;
  File moved = std::move(it->second);
  erase_file(it);
  if (auto old = files_.find(to); old != files_.end()) {
    used_bytes_ -= old->second.data.size();
    erase_file(old);
  }
  moved.trace_id = kNoTraceId;  // the cached id was the old name's
  add_file(to) = std::move(moved);
  return DiskStatus::ok;
}

bool Disk::exists(std::string_view name) const { return find(name) != nullptr; }

uint64_t Disk::size(std::string_view name) const {
  const File* f = find(name);
  return f ? f->data.size() : 0;
}

std::vector<std::string> Disk::list(std::string_view prefix) const {
  std::vector<std::string> out;
  for (auto it = files_.lower_bound(prefix); it != files_.end() && it->first.starts_with(prefix); ++it)
    out.push_back(it->first);
  return out;
}

std::span<const uint8_t> Disk::contents(std::string_view name) const {
  const File* f = find(name);
  if (!f) throw SimError("no file '" + std::string(name) + "' on " + world_.node_name(owner_));
  return f->data.contiguous();
}

void Disk::peek(std::string_view name, uint64_t offset, uint64_t length, uint8_t* out) const {
  const File* f = find(name);
  if (!f) throw SimError("no file '" + std::string(name) + "' on " + world_.node_name(owner_));
  if (offset > f->data.size() || length > f->data.size() - offset)
    throw SimError("peek beyond the end of '" + std::string(name) + "' on " + world_.node_name(owner_));
  f->data.read(offset, length, out);
}

std::span<const uint8_t> Disk::durable_contents(std::string_view name) const {
  const File* f = find(name);
  if (!f) throw SimError("no file '" + std::string(name) + "' on " + world_.node_name(owner_));
  if (!f->shared) return f->durable;
  return f->data.contiguous().subspan(0, f->durable_len);
}

uint64_t Disk::unsynced_bytes() const {
  uint64_t n = 0;
  for (const auto& [name, f] : files_)
    for (const Op& op : f.unsynced) n += op.size();
  return n;
}

void Disk::set_slowdown(double multiplier) {
  // Bounded: latencies are int64 nanoseconds; an infinite or huge factor would overflow them.
  if (!(multiplier >= 1.0 && multiplier <= 1e6)) throw SimError("disk slowdown multiplier must be >= 1 and <= 1e6");
  slowdown_ = multiplier;
  world_.note_fault(owner_, "slow_disk x" + std::to_string(multiplier));
}

void Disk::set_full(bool full) {
  full_ = full;
  world_.note_fault(owner_, full ? "disk_full" : "disk_full cleared");
}

void Disk::stall() {
  stalled_ = true;
  world_.note_fault(owner_, "disk_stall");
}

void Disk::unstall() {
  stalled_ = false;
  world_.note_fault(owner_, "disk_stall cleared");
  stall_waiters_.notify_all();
}

void Disk::corrupt(std::string_view name, uint64_t offset, uint64_t length) {
  File* f = find(name);
  if (!f) throw SimError("cannot corrupt missing file '" + std::string(name) + "'");
  if (offset + length > durable_size(*f))
    throw SimError("corruption range beyond the synced size of '" + std::string(name) + "'");
  materialize(*f);
  unshare(*f);
  ++corruptions_;
  for (uint64_t i = offset; i < offset + length; ++i) f->durable[i] ^= static_cast<uint8_t>(1u << rng_.uniform(8));
  // The cache shows the corruption only where no unsynced write covers it.
  f->data.assign(f->durable.span());
  for (const Op& op : f->unsynced) apply(f->data, op);
  world_.note_fault(owner_, "corrupt " + std::string(name) + " @" + std::to_string(offset) + "+" +
                                std::to_string(length));
}

void Disk::replace() {
  if (world_.is_up(owner_)) throw SimError("a disk can only be replaced while its node is down");
  files_.clear();
  index_.clear();
  find_cache_.fill(FindCacheEntry{});
  used_bytes_ = 0;
  ++corruptions_;  // caches above this layer must not keep the old drive's bytes
  full_ = false;
  slowdown_ = 1.0;
  stalled_ = false;
  world_.note_fault(owner_, "disk replaced: empty");
}

void Disk::install(std::string_view name, std::span<const uint8_t> bytes) {
  if (world_.is_up(owner_)) throw SimError("a file can only be installed while its node is down");
  File& f = add_file(name);
  used_bytes_ = used_bytes_ - f.data.size() + bytes.size();
  f.unsynced.clear();
  f.data.assign(bytes);
  share_all(f);
}

void Disk::lose_unsynced(bool torn) {
  for (auto& [name, f] : files_) {
    if (f.unsynced.empty()) continue;
    materialize(f);
    size_t keep = 0;
    uint64_t partial = 0;
    if (torn) {
      keep = rng_.uniform(f.unsynced.size() + 1);
      if (keep < f.unsynced.size() && !f.unsynced[keep].is_truncate && !f.unsynced[keep].bytes.empty())
        partial = rng_.uniform(f.unsynced[keep].bytes.size());
    }
    FileBytes image;
    copy_durable(f, image);
    for (size_t i = 0; i < keep; ++i) apply(image, f.unsynced[i]);
    if (partial > 0) {
      Op cut = f.unsynced[keep];
      cut.bytes.resize(partial);
      apply(image, cut);
    }
    // A truncate changes only the inode's size: a metadata operation the
    // filesystem journals, durable at its next commit — which any fsync on the
    // disk forces (ext4 data=ordered, XFS alike), and Kafka fsyncs its
    // leader-epoch checkpoint right after truncating a log. So a truncate is
    // never lost, like create / rename / remove: a power failure cannot bring
    // back records a follower truncated away while keeping the epoch
    // checkpoint that says they are gone (a false divergence ksim hunt found).
    for (size_t i = keep; i < f.unsynced.size(); ++i)
      if (f.unsynced[i].is_truncate) apply(image, f.unsynced[i]);
    const uint64_t before = f.data.size();
    used_bytes_ = used_bytes_ - before + image.size();
    uint64_t lost = 0;
    for (size_t i = keep; i < f.unsynced.size(); ++i) lost += f.unsynced[i].bytes.size();
    lost -= partial;
    stats_.bytes_lost += lost;
    world_.trace().record(ev::disk_lost, world_.now(), owner_.value, file_id(name), lost);
    // What survived is now on the platter (and in the cache the restart reads).
    f.data.assign(image.span());
    share_all(f);
    f.unsynced.clear();
  }
}

}  // namespace sim
