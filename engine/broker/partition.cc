#include "engine/broker/partition.h"

#include <algorithm>

namespace ksim {
namespace {
bool contains(const std::vector<int32_t>& v, int32_t x) { return std::find(v.begin(), v.end(), x) != v.end(); }
}  // namespace

Partition::Partition(sim::World& world, int32_t local_broker, TopicPartition tp,
                     std::unique_ptr<storage::UnifiedLog> log, ReplicationSwitches switches)
    : world_(world),
      local_(local_broker),
      tp_(std::move(tp)),
      log_(std::move(log)),
      switches_(switches),
      role_lock_(world) {}

std::map<int32_t, Offset> Partition::follower_end_offsets() const {
  std::map<int32_t, Offset> out;
  for (const auto& [id, r] : remotes_) out[id] = r.log_end_offset;
  return out;
}

Errc Partition::make_leader(const PartitionRegistration& reg, sim::Instant now) {
  const bool new_epoch = LeaderEpoch{reg.leader_epoch} != leader_epoch_ || !is_leader();
  replicas_ = reg.replicas;
  isr_ = reg.isr;
  partition_epoch_ = reg.partition_epoch;
  pending_isr_.reset();
  if (!new_epoch) return Errc::NONE;
  SIM_ASSERT(reg.leader_epoch >= leader_epoch_.value, "leader epochs never go back");
  leader_ = local_;
  leader_epoch_ = LeaderEpoch{reg.leader_epoch};
  leader_epoch_start_offset_ = log_->log_end_offset();
  // The epoch starts here, in the epoch cache too, before any append: a
  // follower asking OffsetsForLeaderEpoch for the previous epoch must get its
  // true end, not "undefined".
  if (Errc e = log_->assign_epoch_start(leader_epoch_, leader_epoch_start_offset_); e != Errc::NONE) return e;
  // Followers start afresh; ISR members count as caught up now, so a new
  // leader does not shrink the ISR before they had a chance to fetch.
  remotes_.clear();
  for (int32_t r : replicas_) {
    if (r == local_) continue;
    if (remote(r)) continue;
    Remote& rem = remotes_.emplace_back(r, Remote{}).second;
    if (contains(isr_, r)) rem.last_caught_up = now;
  }
  world_.probe("partition: became leader");
  return Errc::NONE;
}

void Partition::make_follower(const PartitionRegistration& reg) {
  replicas_ = reg.replicas;
  isr_ = reg.isr;
  partition_epoch_ = reg.partition_epoch;
  pending_isr_.reset();
  remotes_.clear();
  SIM_ASSERT(reg.leader_epoch >= leader_epoch_.value, "leader epochs never go back");
  leader_ = reg.leader;
  leader_epoch_ = LeaderEpoch{reg.leader_epoch};
}

void Partition::update_isr(const std::vector<int32_t>& isr, int32_t partition_epoch) {
  if (partition_epoch <= partition_epoch_) return;  // older (or the same) news
  if (is_leader() && isr.size() < isr_.size()) ++isr_shrinks_;
  if (is_leader() && isr.size() > isr_.size()) ++isr_expands_;
  isr_ = isr;
  partition_epoch_ = partition_epoch;
  // Whatever AlterPartition was in flight was based on the previous partition
  // epoch: it either produced this state or will be refused. Either way the
  // leader may propose again from here.
  pending_isr_.reset();
}

storage::Result<storage::LogAppendInfo> Partition::append_as_leader(const storage::BatchPtr& batch, int16_t acks,
                                                                    int32_t min_isr, storage::AppendOrigin origin) {
  if (!is_leader()) return Errc::NOT_LEADER_OR_FOLLOWER;
  if (acks == -1 && static_cast<int32_t>(isr_.size()) < min_isr) {
    world_.probe("partition: produce rejected NOT_ENOUGH_REPLICAS");
    return Errc::NOT_ENOUGH_REPLICAS;
  }
  auto r = log_->append_as_leader(batch, leader_epoch_, origin);
  if (r.ok()) maybe_increment_hw();  // an ISR of one moves the HW at once
  return r;
}

std::optional<Errc> Partition::check_enough_replicas_reach(Offset required, int32_t min_isr) const {
  if (!is_leader()) return Errc::NOT_LEADER_OR_FOLLOWER;
  if (high_watermark() < required) return std::nullopt;
  if (static_cast<int32_t>(isr_.size()) < min_isr) return Errc::NOT_ENOUGH_REPLICAS_AFTER_APPEND;
  return Errc::NONE;
}

Errc Partition::validate_fetch_epoch(LeaderEpoch current) const {
  if (!switches_.fetch_epoch_validation || current == kNoEpoch) return Errc::NONE;
  if (current < leader_epoch_) return Errc::FENCED_LEADER_EPOCH;
  if (current > leader_epoch_) return Errc::UNKNOWN_LEADER_EPOCH;
  return Errc::NONE;
}

bool Partition::maybe_increment_hw() {
  if (!is_leader()) return false;
  if (switches_.elr && static_cast<int32_t>(isr_.size()) < min_isr_) return false;  // strict min ISR
  Offset hw = log_->log_end_offset();
  const bool every_leo_known = switches_.bug_hw_is_leader_leo || all_of_maximal_isr([&](int32_t b) {
    if (b == local_) return true;
    const Remote* r = remote(b);
    const Offset leo = r ? r->log_end_offset : kNoOffset;
    if (leo == kNoOffset) return false;  // an ISR member we have not heard from yet
    hw = std::min(hw, leo);
    return true;
  });
  if (!every_leo_known) return false;
  if (hw <= log_->high_watermark()) return false;
  log_->update_high_watermark(hw);
  SIM_ASSERT(log_->high_watermark() == hw, "high watermark not applied");
  return true;
}

bool Partition::on_follower_fetch(int32_t follower, Offset fetch_offset, sim::Instant now) {
  Remote* found = remote(follower);
  if (!found) return false;  // not a replica
  Remote& r = *found;
  const Offset leader_leo = log_->log_end_offset();
  // Kafka's updateFollowerFetchState: caught up if it asked for the leader's
  // end offset, or at least for what the leader had at its previous fetch.
  if (fetch_offset >= leader_leo)
    r.last_caught_up = now;
  else if (r.last_fetch_leader_leo != kNoOffset && fetch_offset >= r.last_fetch_leader_leo)
    r.last_caught_up = r.last_fetch_time;
  r.last_fetch_leader_leo = leader_leo;
  r.last_fetch_time = now;
  r.log_end_offset = fetch_offset;
  return maybe_increment_hw();
}

protocol::OffsetForLeaderEpochResult Partition::end_offset_for_epoch(LeaderEpoch epoch) const {
  protocol::OffsetForLeaderEpochResult res;
  res.tp = tp_;
  const auto [e, end] = log_->end_offset_for_epoch(epoch);
  if (switches_.kip279) {
    res.leader_epoch = e;
    res.end_offset = end;
  } else {
    // KIP-101 without KIP-279: only an offset; the follower cannot tell whether
    // the leader even had its epoch.
    res.leader_epoch = kNoEpoch;
    res.end_offset = end;
  }
  return res;
}

std::optional<std::vector<int32_t>> Partition::isr_after_shrink(sim::Instant now, sim::Duration lag) const {
  if (!is_leader() || pending_isr_) return std::nullopt;
  std::vector<int32_t> keep;
  bool shrink = false;
  for (int32_t b : isr_) {
    if (b == local_) {
      keep.push_back(b);
      continue;
    }
    const Remote* r = remote(b);
    const bool lagging = !r || r->last_caught_up.ns < 0 || now - r->last_caught_up > lag;
    if (lagging)
      shrink = true;
    else
      keep.push_back(b);
  }
  if (!shrink) return std::nullopt;
  return keep;
}

std::optional<std::vector<int32_t>> Partition::isr_after_expand(int32_t follower) const {
  if (!is_leader() || pending_isr_ || contains(isr_, follower)) return std::nullopt;
  const Remote* r = remote(follower);
  if (!r) return std::nullopt;
  const Offset leo = r->log_end_offset;
  if (leo < log_->high_watermark() || leo < leader_epoch_start_offset_) return std::nullopt;
  std::vector<int32_t> out = isr_;
  out.push_back(follower);
  return out;
}

void Partition::follower_update_hw(Offset leader_hw) {
  // A follower's HW is the leader's, bounded by what it has itself.
  const Offset hw = std::min(leader_hw, log_->log_end_offset());
  if (hw > log_->high_watermark()) log_->update_high_watermark(hw);
}

}  // namespace ksim
