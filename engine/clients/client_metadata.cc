#include "engine/clients/client_metadata.h"

#include <algorithm>

namespace ksim::clients {

ClientMetadata::ClientMetadata(ClientContext ctx, int64_t max_age_ms, int64_t request_timeout_ms)
    : ctx_(std::move(ctx)), max_age_ms_(max_age_ms), request_timeout_ms_(request_timeout_ms), brokers_(ctx_.bootstrap) {}

void ClientMetadata::add_topic(const std::string& topic) {
  if (std::find(topics_.begin(), topics_.end(), topic) != topics_.end()) return;
  topics_.push_back(topic);
  update_requested_ = true;
}

int32_t ClientMetadata::any_broker() {
  const std::vector<int32_t>& pool = brokers_.empty() ? ctx_.bootstrap : brokers_;
  if (pool.empty()) return -1;
  return pool[next_broker_++ % pool.size()];
}

bool ClientMetadata::refresh() {
  // Try each known broker once (then the bootstrap list): the first answer wins.
  std::vector<int32_t> candidates = brokers_;
  for (int32_t b : ctx_.bootstrap)
    if (std::find(candidates.begin(), candidates.end(), b) == candidates.end()) candidates.push_back(b);
  if (candidates.empty()) return false;
  const size_t start = next_broker_++;
  for (size_t i = 0; i < candidates.size(); ++i) {
    const int32_t b = candidates[(start + i) % candidates.size()];
    protocol::MetadataRequest req;
    req.topics = topics_.empty() || all_topics_ ? std::nullopt : std::optional<std::vector<std::string>>(topics_);
    req.allow_auto_topic_creation = allow_auto_topic_creation_ && req.topics.has_value();
    const sim::Reply r =
        call_broker(ctx_, b, "Metadata", sim::make_payload(std::move(req)), 64, request_timeout_ms_);
    if (r.status != sim::CallStatus::ok) continue;
    const auto& resp = sim::payload_as<protocol::MetadataResponse>(r.payload);
    if (!resp.brokers.empty()) brokers_ = resp.brokers;
    // Kafka's Metadata asks again (after retry.backoff.ms) when a topic came
    // back with an InvalidMetadataException: a broker whose metadata lags
    // does not know it yet, or it is being auto-created. Without this a
    // consumer group leader that assigned before learning a topic would
    // wait metadata.max.age.ms (5 min) to notice its partitions.
    bool ask_again = false;
    for (const protocol::TopicMetadata& t : resp.topics) {
      topic_errors_[t.name] = t.error;
      ask_again = ask_again || t.error == Errc::UNKNOWN_TOPIC_OR_PARTITION || t.error == Errc::LEADER_NOT_AVAILABLE;
      if (t.error != Errc::NONE) continue;
      std::vector<PartitionLeader>& cached = partitions_[t.name];
      if (cached.size() < t.partitions.size()) cached.resize(t.partitions.size());
      for (const protocol::PartitionMetadata& p : t.partitions) {
        PartitionLeader& c = cached.at(static_cast<size_t>(p.partition));
        if (p.leader_epoch < c.leader_epoch) continue;  // stale broker: keep the newer view
        c.leader = p.leader;
        c.leader_epoch = p.leader_epoch;
        c.replicas = p.replicas;
        c.isr = p.isr;
      }
    }
    last_refresh_ = ctx_.world->now();
    ever_refreshed_ = true;
    update_requested_ = ask_again;
    ++version_;
    return true;
  }
  return false;
}

bool ClientMetadata::maybe_refresh() {
  const bool aged = !ever_refreshed_ || ctx_.world->now() - last_refresh_ >= sim::milliseconds(max_age_ms_);
  if (!update_requested_ && !aged) return true;
  return refresh();
}

int32_t ClientMetadata::partition_count(const std::string& topic) const {
  auto it = partitions_.find(topic);
  return it == partitions_.end() ? -1 : static_cast<int32_t>(it->second.size());
}

bool ClientMetadata::topic_exists(const std::string& topic) const {
  auto it = topic_errors_.find(topic);
  return it != topic_errors_.end() && it->second == Errc::NONE;
}

const PartitionLeader* ClientMetadata::partition(const TopicPartition& tp) const {
  auto it = partitions_.find(tp.topic);
  if (it == partitions_.end() || tp.partition < 0 || static_cast<size_t>(tp.partition) >= it->second.size())
    return nullptr;
  return &it->second[static_cast<size_t>(tp.partition)];
}

std::vector<std::string> ClientMetadata::all_topics() const {
  std::vector<std::string> out;
  for (const auto& [name, err] : topic_errors_)
    if (err == Errc::NONE) out.push_back(name);
  return out;
}

}  // namespace ksim::clients
