#include "engine/coordinator/coordinator_runtime.h"

#include "sim/error.h"

namespace ksim::coordinator {

Errc map_append_error(Errc e) {
  switch (e) {
    case Errc::UNKNOWN_TOPIC_OR_PARTITION:
    case Errc::NOT_ENOUGH_REPLICAS:
    case Errc::NOT_ENOUGH_REPLICAS_AFTER_APPEND:
    case Errc::REQUEST_TIMED_OUT:
      return Errc::COORDINATOR_NOT_AVAILABLE;
    case Errc::NOT_LEADER_OR_FOLLOWER:
    case Errc::KAFKA_STORAGE_ERROR:
    case Errc::FENCED_LEADER_EPOCH:
      return Errc::NOT_COORDINATOR;
    case Errc::MESSAGE_TOO_LARGE:
    case Errc::RECORD_LIST_TOO_LARGE:
      return Errc::UNKNOWN_SERVER_ERROR;
    default:
      return e;
  }
}

CoordinatorRuntime::CoordinatorRuntime(sim::World& world, sim::NodeId self, ReplicaManager& rm, std::string topic,
                                       int64_t commit_timeout_ms)
    : world_(world), self_(self), rm_(rm), topic_(std::move(topic)), commit_timeout_ms_(commit_timeout_ms),
      jobs_(world, 1'000'000) {}

void CoordinatorRuntime::start() { started_ = true; }

void CoordinatorRuntime::push(Job j) {
  // The writer fiber starts with the first job: a broker that never leads an
  // offsets partition runs exactly as it would without a coordinator.
  SIM_ASSERT(started_, "coordinator runtime used before start()");
  if (!writer_running_) {
    writer_running_ = true;
    world_.spawn(self_, "coordinator-writer-" + topic_, [this] { writer(); });
  }
  SIM_ASSERT(jobs_.try_push(std::move(j)), "coordinator job queue full");
}

// ---- shards ----------------------------------------------------------------------------------

void CoordinatorRuntime::on_became_leader(int32_t partition, LeaderEpoch epoch) {
  if (shards_.count(partition)) {
    world_.probe("coordinator: reload on a new leader epoch");
    unload(partition);
  }
  Shard s;
  s.id = next_shard_id_++;
  s.epoch = epoch;
  shards_[partition] = s;
  Job j;
  j.load = true;
  j.partition = partition;
  j.shard = s.id;
  push(std::move(j));
}

void CoordinatorRuntime::on_resigned(int32_t partition) {
  if (!shards_.count(partition)) return;
  world_.probe("coordinator: unload on resignation");
  unload(partition);
}

void CoordinatorRuntime::unload(int32_t partition) {
  const uint64_t id = shards_.at(partition).id;
  shards_.erase(partition);
  if (hooks_.unloaded) hooks_.unloaded(partition);
  // Appends of the old shard waiting for the HW: the records may still commit
  // under the next leader, but this coordinator cannot tell.
  std::vector<Pending> failed;
  std::erase_if(pending_, [&](Pending& p) {
    if (p.partition != partition || p.shard != id) return false;
    failed.push_back(std::move(p));
    return true;
  });
  for (Pending& p : failed) p.done(Errc::NOT_COORDINATOR);
}

bool CoordinatorRuntime::current(int32_t partition, uint64_t shard) const {
  auto it = shards_.find(partition);
  return it != shards_.end() && it->second.id == shard;
}

Errc CoordinatorRuntime::status(int32_t partition) const {
  auto it = shards_.find(partition);
  if (it == shards_.end()) return Errc::NOT_COORDINATOR;
  return it->second.state == ShardState::active ? Errc::NONE : Errc::COORDINATOR_LOAD_IN_PROGRESS;
}

uint64_t CoordinatorRuntime::shard_id(int32_t partition) const {
  auto it = shards_.find(partition);
  return it == shards_.end() ? 0 : it->second.id;
}

Offset CoordinatorRuntime::high_watermark(int32_t partition) const {
  const Partition* p = rm_.get(tp(partition));
  return p ? p->high_watermark() : Offset{0};
}

std::vector<int32_t> CoordinatorRuntime::active_partitions() const {
  std::vector<int32_t> out;
  for (const auto& [p, s] : shards_)
    if (s.state == ShardState::active) out.push_back(p);
  return out;
}

// ---- the writer fiber ------------------------------------------------------------------------------

void CoordinatorRuntime::append(int32_t partition, uint64_t shard, std::vector<storage::Record> records,
                                std::function<void(Offset)> on_appended, std::function<void(Errc)> done,
                                storage::BatchParams params) {
  Job j;
  j.params = params;
  j.partition = partition;
  j.shard = shard;
  j.records = std::move(records);
  j.on_appended = std::move(on_appended);
  j.done = std::move(done);
  push(std::move(j));
}

void CoordinatorRuntime::writer() {
  for (;;) {
    std::optional<Job> j = jobs_.pop();
    if (!j) return;
    if (j->load)
      do_load(*j);
    else
      do_append(*j);
  }
}

void CoordinatorRuntime::do_load(const Job& job) {
  if (!current(job.partition, job.shard)) return;  // resigned or reloaded since
  Partition* p = rm_.get(tp(job.partition));
  const LeaderEpoch epoch = shards_.at(job.partition).epoch;
  if (!p || !p->is_leader() || p->leader_epoch() != epoch) return;  // the metadata will move us on
  Offset from = p->log().log_start_offset();
  const Offset end = p->log_end_offset();
  uint64_t records = 0;
  while (from < end) {
    auto r = p->log().read(from, 1 << 20, std::nullopt, true);  // blocks on the disk
    if (!current(job.partition, job.shard)) return;
    p = rm_.get(tp(job.partition));
    if (!p) return;
    if (!r.ok() || r.value.empty()) {
      // A storage error: leave the shard LOADING and try again shortly.
      world_.probe("coordinator: load failed, retrying");
      world_.schedule_after(self_, sim::milliseconds(100), [this, job] {
        if (current(job.partition, job.shard)) {
          push(job);
        }
      });
      return;
    }
    for (const auto& b : r.value) {
      for (const storage::RecordView& rec : b->records())
        if (rec.offset < end) {
          if (hooks_.replay) hooks_.replay(job.partition, rec.offset, rec, *b);
          ++records;
        }
      from = b->next_offset();
    }
  }
  shards_.at(job.partition).state = ShardState::active;
  world_.probe(records ? "coordinator: loaded a partition with records" : "coordinator: loaded an empty partition");
  if (hooks_.loaded) hooks_.loaded(job.partition);
}

void CoordinatorRuntime::do_append(Job& job) {
  auto refuse = [&](Errc e) { job.done(map_append_error(e)); };
  auto it = shards_.find(job.partition);
  if (it == shards_.end() || it->second.id != job.shard || it->second.state != ShardState::active)
    return refuse(Errc::NOT_LEADER_OR_FOLLOWER);
  const LeaderEpoch epoch = it->second.epoch;
  Partition* p = rm_.get(tp(job.partition));
  if (!p) return refuse(Errc::NOT_LEADER_OR_FOLLOWER);
  storage::BatchPtr batch = storage::RecordBatch::build(job.params, job.records);
  const int32_t min_isr = rm_.min_isr_of ? rm_.min_isr_of(topic_) : 1;
  storage::Result<storage::LogAppendInfo> r(Errc::NOT_LEADER_OR_FOLLOWER);
  {
    sim::LockGuard g(p->role_lock());  // as a produce: never lands after leadership moved
    if (p->is_leader() && p->leader_epoch() == epoch)
      r = p->append_as_leader(batch, -1, min_isr, storage::AppendOrigin::coordinator);
  }
  if (!current(job.partition, job.shard)) return refuse(Errc::NOT_LEADER_OR_FOLLOWER);
  if (!r.ok()) return refuse(r.error);
  if (job.on_appended) job.on_appended(r.value.first_offset);
  rm_.notify_appended(tp(job.partition));  // followers long-polling for it
  const sim::Instant deadline = world_.now() + sim::milliseconds(commit_timeout_ms_);
  pending_.push_back(Pending{job.partition, job.shard, r.value.last_offset + 1, deadline, std::move(job.done)});
  world_.schedule_after(self_, sim::milliseconds(commit_timeout_ms_), [this] { check_pending(-1); });
  check_pending(job.partition);
}

void CoordinatorRuntime::on_hw_moved(const TopicPartition& t) {
  if (t.topic == topic_) check_pending(t.partition);
}

void CoordinatorRuntime::check_pending(int32_t partition) {
  const sim::Instant now = world_.now();
  std::vector<std::pair<std::function<void(Errc)>, Errc>> decided;
  std::erase_if(pending_, [&](Pending& w) {
    if (partition >= 0 && w.partition != partition) return false;
    std::optional<Errc> e;
    const Partition* p = rm_.get(tp(w.partition));
    if (!current(w.partition, w.shard) || !p || !p->is_leader()) {
      e = Errc::NOT_LEADER_OR_FOLLOWER;
    } else {
      e = p->check_enough_replicas_reach(w.required, rm_.min_isr_of ? rm_.min_isr_of(topic_) : 1);
      if (!e && now >= w.deadline) e = Errc::REQUEST_TIMED_OUT;
    }
    if (!e) return false;
    decided.emplace_back(std::move(w.done), map_append_error(*e));
    return true;
  });
  for (auto& [done, e] : decided) done(e);
}

}  // namespace ksim::coordinator
