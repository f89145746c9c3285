#include "engine/controller/metadata_image.h"

#include <algorithm>
#include <set>

#include "sim/error.h"

namespace ksim {
namespace {

bool contains(const std::vector<int32_t>& v, int32_t x) { return std::find(v.begin(), v.end(), x) != v.end(); }

}  // namespace

bool PartitionRegistration::is_replica(int32_t b) const { return contains(replicas, b); }
bool PartitionRegistration::in_isr(int32_t b) const { return contains(isr, b); }

const BrokerRegistration* MetadataImage::broker(int32_t id) const {
  auto it = brokers_.find(id);
  return it == brokers_.end() ? nullptr : &it->second;
}

bool MetadataImage::usable(int32_t id) const {
  const BrokerRegistration* b = broker(id);
  return b && !b->fenced && !b->in_controlled_shutdown;
}

const TopicImage* MetadataImage::topic(std::string_view name) const {
  auto it = topics_.find(name);
  return it == topics_.end() ? nullptr : &it->second;
}

const TopicImage* MetadataImage::topic_by_id(int64_t id) const {
  auto it = topic_names_.find(id);
  return it == topic_names_.end() ? nullptr : topic(it->second);
}

const PartitionRegistration* MetadataImage::partition(std::string_view t, int32_t p) const {
  const TopicImage* ti = topic(t);
  if (!ti || p < 0 || static_cast<size_t>(p) >= ti->partitions.size()) return nullptr;
  return &ti->partitions[static_cast<size_t>(p)];
}

void MetadataImage::check(const PartitionRegistration& p, const std::string& where) {
  std::set<int32_t> reps(p.replicas.begin(), p.replicas.end());
  SIM_ASSERT(reps.size() == p.replicas.size() && !reps.empty(), where + ": replicas must be distinct and non-empty");
  for (int32_t b : p.isr) SIM_ASSERT(reps.contains(b), where + ": ISR member is not a replica");
  for (int32_t b : p.elr) {
    SIM_ASSERT(reps.contains(b), where + ": ELR member is not a replica");
    SIM_ASSERT(!contains(p.isr, b), where + ": a replica is in both ISR and ELR");
  }
  SIM_ASSERT(p.leader == -1 || contains(p.isr, p.leader), where + ": the leader is not in the ISR");
  SIM_ASSERT(!p.isr.empty() || !p.elr.empty() || p.leader == -1, where + ": empty ISR with a leader");
}

void MetadataImage::apply(const MetadataRecord& record, int64_t offset) {
  // Records of one log entry (one controller operation) share its offset.
  SIM_ASSERT(offset >= last_offset_, "metadata records must be applied in offset order");
  last_offset_ = offset;
  std::visit(
      [&](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, RegisterBrokerRecord>) {
          BrokerRegistration& b = brokers_[x.broker_id];
          b.id = x.broker_id;
          b.epoch = x.broker_epoch;
          b.incarnation = x.incarnation;
          b.fenced = x.fenced;
          b.in_controlled_shutdown = false;
        } else if constexpr (std::is_same_v<T, BrokerRegistrationChangeRecord>) {
          auto it = brokers_.find(x.broker_id);
          SIM_ASSERT(it != brokers_.end(), "change of an unregistered broker");
          if (it->second.epoch != x.broker_epoch) return;  // about an older registration
          if (x.fenced) it->second.fenced = *x.fenced;
          if (x.in_controlled_shutdown) it->second.in_controlled_shutdown = *x.in_controlled_shutdown;
        } else if constexpr (std::is_same_v<T, TopicRecord>) {
          SIM_ASSERT(!topics_.contains(x.name), "topic created twice: " + x.name);
          topics_[x.name] = TopicImage{x.name, x.topic_id, {}};
          topic_names_[x.topic_id] = x.name;
          next_topic_id_ = std::max(next_topic_id_, x.topic_id + 1);
        } else if constexpr (std::is_same_v<T, PartitionRecord>) {
          auto it = topic_names_.find(x.topic_id);
          SIM_ASSERT(it != topic_names_.end(), "partition of an unknown topic");
          TopicImage& t = topics_[it->second];
          SIM_ASSERT(static_cast<size_t>(x.partition) == t.partitions.size(), "partitions must be created in order");
          PartitionRegistration p{x.replicas, x.isr, x.elr, x.last_known_elr, x.leader,
                                  x.leader_epoch, x.partition_epoch, x.leader_recovery_state};
          check(p, t.name + "-" + std::to_string(x.partition));
          t.partitions.push_back(std::move(p));
        } else if constexpr (std::is_same_v<T, PartitionChangeRecord>) {
          auto it = topic_names_.find(x.topic_id);
          SIM_ASSERT(it != topic_names_.end(), "change of a partition of an unknown topic");
          TopicImage& t = topics_[it->second];
          SIM_ASSERT(x.partition >= 0 && static_cast<size_t>(x.partition) < t.partitions.size(),
                     "change of an unknown partition");
          PartitionRegistration& p = t.partitions[static_cast<size_t>(x.partition)];
          PartitionRegistration next = p;
          if (x.replicas) next.replicas = *x.replicas;
          if (x.isr) next.isr = *x.isr;
          if (x.elr) next.elr = *x.elr;
          if (x.last_known_elr) next.last_known_elr = *x.last_known_elr;
          if (x.leader && *x.leader != p.leader) {
            next.leader = *x.leader;
            ++next.leader_epoch;  // every leader change starts a new leader epoch
          }
          if (x.leader_recovery_state) next.leader_recovery_state = *x.leader_recovery_state;
          ++next.partition_epoch;
          check(next, t.name + "-" + std::to_string(x.partition));
          if (x.unclean) ++unclean_elections_;
          p = std::move(next);
        } else if constexpr (std::is_same_v<T, ProducerIdsRecord>) {
          SIM_ASSERT(x.next_producer_id > next_producer_id_, "producer id blocks must move forward");
          next_producer_id_ = x.next_producer_id;
        } else if constexpr (std::is_same_v<T, ClientQuotaRecord>) {
          SIM_ASSERT(!x.value || *x.value > 0, "a client quota must be positive");
          if (x.value) {
            client_quotas_[x.entity][x.key] = *x.value;
          } else if (auto q = client_quotas_.find(x.entity); q != client_quotas_.end()) {
            q->second.erase(x.key);
            if (q->second.empty()) client_quotas_.erase(q);
          }
        } else {
          if (x.value)
            configs_[x.resource][x.key] = *x.value;
          else if (auto c = configs_.find(x.resource); c != configs_.end())
            c->second.erase(x.key);
        }
      },
      record);
}

}  // namespace ksim
