#include "engine/controller/partition_change_builder.h"

#include <algorithm>

namespace ksim {
namespace {

bool contains(const std::vector<int32_t>& v, int32_t x) { return std::find(v.begin(), v.end(), x) != v.end(); }

std::vector<int32_t> minus(const std::vector<int32_t>& a, const std::vector<int32_t>& b) {
  std::vector<int32_t> out;
  for (int32_t x : a)
    if (!contains(b, x)) out.push_back(x);
  return out;
}

// Members in replica (preference) order, so results never depend on input order.
std::vector<int32_t> in_replica_order(const std::vector<int32_t>& set, const std::vector<int32_t>& replicas) {
  std::vector<int32_t> out;
  for (int32_t r : replicas)
    if (contains(set, r)) out.push_back(r);
  return out;
}

}  // namespace

bool partition_steady(const PartitionRegistration& cur, const MetadataImage& image) {
  if (cur.leader < 0 || !cur.elr.empty() || !cur.last_known_elr.empty() || !contains(cur.isr, cur.leader)) return false;
  // in_replica_order(cur.isr, cur.replicas) == cur.isr, without building it.
  size_t k = 0;
  for (int32_t r : cur.replicas)
    if (contains(cur.isr, r) && (k >= cur.isr.size() || cur.isr[k++] != r)) return false;
  if (k != cur.isr.size()) return false;
  for (int32_t b : cur.isr)
    if (!image.usable(b)) return false;
  return true;
}

std::optional<PartitionChangeRecord> build_partition_change(int64_t topic_id, int32_t partition,
                                                            const PartitionRegistration& cur,
                                                            const MetadataImage& image,
                                                            std::optional<std::vector<int32_t>> target_isr_in,
                                                            Election election, const ElectionOptions& opts,
                                                            int32_t unclean_shutdown_replica) {
  // The steady state changes nothing (partition_steady; the election tests
  // check this agrees with the full computation below).
  if (!target_isr_in && election == Election::normal && unclean_shutdown_replica < 0 && partition_steady(cur, image))
    return std::nullopt;
  auto usable = [&](int32_t b) { return b != unclean_shutdown_replica && image.usable(b); };
  std::vector<int32_t> isr = in_replica_order(target_isr_in ? *target_isr_in : cur.isr, cur.replicas);
  // Only usable brokers may be (or stay) in the ISR ...
  std::vector<int32_t> isr_usable;
  for (int32_t b : isr)
    if (usable(b)) isr_usable.push_back(b);
  std::vector<int32_t> elr = cur.elr;
  const std::vector<int32_t> removed = minus(cur.isr, isr_usable);
  if (opts.elr_enabled) {
    // KIP-966: replicas leaving an ISR that is below min.insync.replicas keep
    // every committed record; they become Eligible Leader Replicas.
    if (static_cast<int32_t>(isr_usable.size()) >= opts.min_isr) {
      elr.clear();
    } else {
      for (int32_t b : removed)
        if (!contains(elr, b)) elr.push_back(b);
      elr = in_replica_order(minus(elr, isr_usable), cur.replicas);
    }
    // A replica back from an unclean shutdown may have lost what made it eligible.
    if (unclean_shutdown_replica >= 0) elr = minus(elr, {unclean_shutdown_replica});
    isr = isr_usable;
  } else {
    elr.clear();
    // ... except that without ELR the ISR never becomes empty: KRaft keeps the
    // last member, so it can lead again when it comes back.
    if (isr_usable.empty() && !cur.isr.empty())
      isr = {contains(cur.isr, cur.leader) ? cur.leader : in_replica_order(cur.isr, cur.replicas).front()};
    else
      isr = isr_usable;
  }

  int32_t leader = -1;
  bool unclean = false;
  std::optional<LeaderRecoveryState> recovery;
  const bool leader_ok = cur.leader >= 0 && contains(isr, cur.leader) && usable(cur.leader);
  if (election == Election::preferred) {
    const int32_t preferred = cur.replicas.front();
    leader = contains(isr, preferred) && usable(preferred) ? preferred : (leader_ok ? cur.leader : -1);
  } else if (leader_ok) {
    leader = cur.leader;
  }
  if (leader < 0) {
    for (int32_t r : cur.replicas)
      if (contains(isr, r) && usable(r)) {
        leader = r;
        break;
      }
  }
  if (leader < 0 && opts.elr_enabled) {
    for (int32_t r : elr)
      if (usable(r)) {
        leader = r;
        isr = {r};
        elr = minus(elr, {r});
        break;
      }
  }
  // KIP-966 (Kafka >= 4.1): with neither an ISR nor an ELR left — every
  // eligible replica came back from an unclean shutdown — the last known
  // leader may lead again when it is usable. It had every committed record
  // when it led, but may have lost unflushed ones since: an UNCLEAN election,
  // allowed without unclean.leader.election.enable.
  bool last_known_leader = false;
  if (leader < 0 && opts.elr_enabled && isr.empty() && elr.empty() && cur.last_known_elr.size() == 1 &&
      usable(cur.last_known_elr.front())) {
    leader = cur.last_known_elr.front();
    isr = {leader};
    last_known_leader = true;
    recovery = LeaderRecoveryState::recovering;
  }
  if (leader < 0 && (opts.unclean_allowed || election == Election::unclean || opts.bug_unclean_without_permission)) {
    for (int32_t r : cur.replicas)
      if (usable(r)) {
        leader = r;
        isr = {r};
        elr.clear();
        unclean = opts.unclean_allowed || election == Election::unclean;
        recovery = LeaderRecoveryState::recovering;
        break;
      }
  }
  if (leader >= 0 && !contains(isr, leader)) isr.push_back(leader);

  PartitionChangeRecord rec;
  rec.topic_id = topic_id;
  rec.partition = partition;
  bool changed = false;
  if (isr != cur.isr) {
    rec.isr = isr;
    changed = true;
  }
  if (opts.elr_enabled && elr != cur.elr) {
    rec.elr = elr;
    changed = true;
  }
  if (opts.elr_enabled) {
    // The last known leader (Kafka keeps one, in lastKnownElr): set when the
    // ISR first empties, cleared once the partition has a leader again.
    std::vector<int32_t> lke = cur.last_known_elr;
    if (isr.empty() && !cur.isr.empty() && cur.leader >= 0) lke = {cur.leader};
    if (leader >= 0) lke.clear();
    if (lke != cur.last_known_elr) {
      rec.last_known_elr = lke;
      changed = true;
    }
  }
  if (leader != cur.leader) {
    rec.leader = leader;
    changed = true;
  }
  if (recovery && *recovery != cur.leader_recovery_state) rec.leader_recovery_state = recovery;
  rec.unclean = unclean || last_known_leader;
  if (!changed) return std::nullopt;
  return rec;
}

}  // namespace ksim
