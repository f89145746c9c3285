#include "engine/check/history.h"

#include <algorithm>

#include <stdexcept>

namespace ksim::check {

std::string_view txn_state_name(TxnState s) {
  switch (s) {
    case TxnState::committed: return "committed";
    case TxnState::aborted: return "aborted";
    default: return "";
  }
}

History::History() = default;

uint32_t History::intern_tp(const TopicPartition& tp) {
  if (last_tp_ != UINT32_MAX && tps_[last_tp_] == tp) return last_tp_;
  const uint64_t key = (static_cast<uint64_t>(pool_.intern(tp.topic)) << 32) | static_cast<uint32_t>(tp.partition);
  auto [it, fresh] = tp_ids_.try_emplace(key, static_cast<uint32_t>(tps_.size()));
  if (fresh) tps_.push_back(tp);
  return last_tp_ = it->second;
}

uint32_t History::find_tp(const TopicPartition& tp) const {
  const Sym topic = pool_.find(tp.topic);
  if (topic == kNoSym) return UINT32_MAX;
  auto it = tp_ids_.find((static_cast<uint64_t>(topic) << 32) | static_cast<uint32_t>(tp.partition));
  return it == tp_ids_.end() ? UINT32_MAX : it->second;
}

uint32_t History::intern_actor(const Actor& a) {
  // A client records its ops in a row: the last actor is the usual answer.
  auto same = [&a](const Actor& b) {
    return a.client == b.client && a.name == b.name && a.group == b.group && a.member == b.member &&
           a.instance == b.instance && a.generation == b.generation && a.max_in_flight == b.max_in_flight &&
           a.acks == b.acks && a.idempotent == b.idempotent && a.transactional == b.transactional &&
           a.read_committed == b.read_committed;
  };
  if (last_actor_ != UINT32_MAX && same(actors_[last_actor_])) return last_actor_;
  auto [it, fresh] = actor_ids_.try_emplace(std::tuple{a.client, a.name, a.group, a.member, a.instance, a.generation,
                                                       a.max_in_flight, a.acks, a.idempotent, a.transactional,
                                                       a.read_committed},
                                            static_cast<uint32_t>(actors_.size()));
  if (fresh) actors_.push_back(a);
  return last_actor_ = it->second;
}

uint64_t History::invoke(const OpSpec& op, int64_t now_ns) {
  Actor a;
  a.client = op.client;
  ClientHints& hint = hints_[static_cast<uint32_t>(op.client) % hints_.size()];
  a.name = intern_hinted(op.client_name, hint.name);
  a.group = intern_hinted(op.group_id, hint.group);
  a.member = intern_hinted(op.member_id, hint.member);
  a.instance = intern_hinted(op.group_instance_id, hint.instance);
  a.generation = op.generation;
  a.max_in_flight = op.max_in_flight;
  a.acks = op.acks;
  a.idempotent = op.idempotent;
  a.transactional = op.transactional;
  a.read_committed = op.read_committed;

  OpRecord r;
  r.invoke_ns = now_ns;
  r.complete_ns = -1;
  r.actor = intern_actor(a);
  r.tp = intern_tp(op.tp);
  r.bits = static_cast<uint8_t>(op.type);
  if (ops_.size() >= UINT32_MAX) throw std::length_error("history: too many operations");
  if (op.type == OpType::send) {
    r.offset = -1;
    if (op.key) send_keys_.push_back(KeyEntry{static_cast<uint32_t>(ops_.size()), pool_.intern(*op.key)});
    r.value = op.value_hash ? pool_.intern(op.value, *op.value_hash) : pool_.intern(op.value);
  } else {
    r.detail = pool_.intern(op.detail);
    if (op.type == OpType::poll) {
      if (!(polled_.size() + op.records.size() < UINT32_MAX)) throw std::length_error("history: too many polled records");
      r.items = ItemRange{static_cast<uint32_t>(polled_.size()), 0};
      // The values in one go: their lookups' cache misses overlap.
      scratch_views_.clear();
      for (const PolledSpec& p : op.records) scratch_views_.push_back(p.value);
      scratch_syms_.resize(scratch_views_.size());
      pool_.intern_all(scratch_views_, scratch_syms_.data());
      for (size_t k = 0; k < op.records.size(); ++k) {
        const PolledSpec& p = op.records[k];
        PolledRecord pr;
        pr.offset = p.offset.value;
        pr.tp = intern_tp(p.tp);
        pr.value = scratch_syms_[k];
        pr.leader_epoch = p.leader_epoch.value;
        const int64_t delta = p.high_watermark.value - p.offset.value;
        if (delta > INT32_MIN && delta <= INT32_MAX) {
          pr.hw_delta = static_cast<int32_t>(delta);
        } else {
          pr.hw_delta = PolledRecord::kHwElsewhere;
          polled_hws_.emplace_back(polled_.size(), p.high_watermark.value);
        }
        if (!p.key.empty()) polled_keys_.push_back(KeyEntry{static_cast<uint32_t>(polled_.size()), pool_.intern(p.key)});
        polled_.push_back(pr);
      }
      r.items.end = static_cast<uint32_t>(polled_.size());
    } else {
      if (!(offsets_.size() + op.offsets.size() < UINT32_MAX)) throw std::length_error("history: too many offset entries");
      r.items = ItemRange{static_cast<uint32_t>(offsets_.size()), 0};
      for (const OffsetEntry& e : op.offsets) {
        OffsetRecord o;
        o.offset = e.offset.value;
        o.tp = intern_tp(e.tp);
        offsets_.push_back(o);
      }
      r.items.end = static_cast<uint32_t>(offsets_.size());
    }
  }
  ops_.push_back(r);
  return ops_.size() - 1;
}

void History::complete(uint64_t id, Outcome outcome, int64_t now_ns, Errc error) {
  OpRecord& o = ops_[id];
  if (o.outcome() != Outcome::pending) return;
  o.bits = static_cast<uint8_t>((o.bits & ~0x18) | (static_cast<uint8_t>(outcome) << 3));
  o.complete_ns = now_ns;
  if (!OpRecord::pack_errc(error, &o.error)) throw std::out_of_range("history: an error code beyond a byte");
}

void History::set_ack(uint64_t id, Offset offset, int32_t leader) {
  if (leader < INT16_MIN || leader > INT16_MAX) throw std::out_of_range("history: a broker id beyond 16 bits");
  ops_[id].offset = offset.value;
  ops_[id].leader = static_cast<int16_t>(leader);
}

namespace {
// The key entered for `at` in a column sorted by it, or kNoSym.
Sym key_at(const ChunkedColumn<KeyEntry>& keys, uint64_t at) {
  size_t lo = 0, hi = keys.size();  // the first entry with at >= `at`
  while (lo < hi) {
    const size_t mid = (lo + hi) / 2;
    if (keys[mid].at < at) lo = mid + 1;
    else hi = mid;
  }
  return lo < keys.size() && keys[lo].at == at ? keys[lo].key : kNoSym;
}
}  // namespace

std::optional<std::string_view> History::send_key(uint64_t id) const {
  const Sym key = key_at(send_keys_, id);
  if (key == kNoSym) return std::nullopt;
  return pool_.view(key);
}

Offset History::high_watermark(uint64_t i) const {
  const PolledRecord& r = polled_[i];
  if (r.hw_delta != PolledRecord::kHwElsewhere) return Offset{r.offset + r.hw_delta};
  auto it = std::lower_bound(polled_hws_.begin(), polled_hws_.end(), std::pair<uint64_t, int64_t>{i, INT64_MIN});
  return Offset{it->second};
}

std::string_view History::polled_key(uint64_t i) const {
  const Sym key = key_at(polled_keys_, i);
  return key == kNoSym ? std::string_view{} : pool_.view(key);
}

size_t History::memory_bytes() const {
  size_t events = events_.capacity() * sizeof(ClusterEvent);
  for (const ClusterEvent& e : events_)
    events += (e.isr.capacity() + e.replicas.capacity()) * sizeof(int32_t) + (e.what.size() > 15 ? e.what.capacity() : 0);
  return sizeof(History) + ops_.memory_bytes() + polled_.memory_bytes() + offsets_.memory_bytes() +
         send_keys_.memory_bytes() +
         polled_keys_.memory_bytes() + polled_hws_.capacity() * sizeof(polled_hws_[0]) +
         pool_.memory_bytes() + tps_.size() * sizeof(TopicPartition) + tp_ids_.size() * 32 +
         tp_ids_.bucket_count() * sizeof(void*) + actors_.capacity() * sizeof(Actor) + actor_ids_.size() * 80 + events;
}

void History::clear() {
  ops_.clear();
  polled_.clear();
  offsets_.clear();
  send_keys_.clear();
  polled_keys_.clear();
  polled_hws_.clear();
  pool_.clear();
  tps_.clear();
  tp_ids_.clear();
  actors_.clear();
  actor_ids_.clear();
  last_actor_ = UINT32_MAX;
  last_tp_ = UINT32_MAX;
  hints_ = {};
  events_.clear();
}

}  // namespace ksim::check
