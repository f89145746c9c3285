#include "engine/server/workload_driver.h"

#include <stdexcept>

namespace ksim {

uint64_t Workload::producer_sum(uint64_t clients::ProducerWorkloadState::*counter) const {
  uint64_t n = 0;
  for (const auto& p : producers_) n += (*p).*counter;
  return n;
}
uint64_t Workload::sent() const { return producer_sum(&clients::ProducerWorkloadState::next_seq); }
uint64_t Workload::acked() const { return producer_sum(&clients::ProducerWorkloadState::acked); }
uint64_t Workload::failed() const { return producer_sum(&clients::ProducerWorkloadState::failed); }
uint64_t Workload::consumed() const {
  uint64_t n = 0;
  for (const auto& c : consumers_) n += c->records;
  return n;
}
bool Workload::producers_finished() const {
  for (const auto& p : producers_)
    if (!p->finished) return false;
  return true;
}
void Workload::stop() {
  for (const auto& p : producers_) p->stop = true;
  for (const auto& c : consumers_) c->stop = true;
}

std::shared_ptr<Workload> add_workload(Cluster& cluster, WorkloadOptions o) {
  if (o.topic.empty()) throw std::invalid_argument("workload: no topic");
  if (!(o.rate_per_s > 0)) throw std::invalid_argument("workload: rate_per_s must be positive");
  const size_t producer_count = o.producers.size() + static_cast<size_t>(std::max(0, o.new_producers));
  const size_t consumer_count = o.consumers.size() + static_cast<size_t>(std::max(0, o.new_consumers));
  if (producer_count + consumer_count == 0) throw std::invalid_argument("workload: no producers and no consumers");
  // client<T>() casts: only a client built as that kind may be driven as it.
  for (int32_t id : o.producers)
    if (!cluster.is_client(id) || cluster.client_kind(id) != "producer")
      throw ClusterError(Errc::INVALID_REQUEST, "workload: " + std::to_string(id) + " is not a producer client");
  for (int32_t id : o.consumers)
    if (!cluster.is_client(id) || cluster.client_kind(id) != "consumer")
      throw ClusterError(Errc::INVALID_REQUEST, "workload: " + std::to_string(id) + " is not a consumer client");
  // Record values are "<client name>-<seq>": a second workload of the same
  // name gets a suffix, so values stay unique across the run.
  if (o.new_producers > 0 || o.new_consumers > 0) {
    const std::string base = o.name;
    for (int k = 2; cluster.has_client_named(o.name + "-producer-1") || cluster.has_client_named(o.name + "-consumer-1"); ++k)
      o.name = base + "-" + std::to_string(k);
  }

  auto w = std::shared_ptr<Workload>(new Workload());
  clients::ProducerWorkloadSpec ps = o.producer;
  ps.topic = o.topic;
  ps.rate_per_s = producer_count ? o.rate_per_s / static_cast<double>(producer_count) : o.rate_per_s;
  if (o.duration_ms >= 0) ps.duration_ms = o.duration_ms;
  clients::ConsumerWorkloadSpec cs = o.consumer;
  if (o.duration_ms >= 0) cs.duration_ms = o.duration_ms;

  // Existing clients: attach now (if up) and at every restart.
  for (int32_t id : o.producers) {
    auto st = std::make_shared<clients::ProducerWorkloadState>(ps);
    auto attach = [st](const std::shared_ptr<void>& state) {
      clients::start_producer_workload(std::static_pointer_cast<clients::KafkaProducer>(state), st);
    };
    if (auto p = cluster.client<clients::KafkaProducer>(id)) attach(p);
    cluster.add_boot_hook(id, attach);
    w->producer_ids_.push_back(id);
    w->producers_.push_back(std::move(st));
  }
  for (int32_t id : o.consumers) {
    auto st = std::make_shared<clients::ConsumerWorkloadState>(cs);
    auto attach = [st, topics = cs.topics, assignment = cs.assignment](const std::shared_ptr<void>& state) mutable {
      auto c = std::static_pointer_cast<clients::KafkaConsumer>(state);
      // Keep (and remember, for restarts) the subscription the consumer has.
      if (topics.empty() && assignment.empty()) {
        const auto sub = c->subscription();
        if (!sub.empty())
          st->spec.topics.assign(sub.begin(), sub.end());
        else
          st->spec.assignment = c->assignment();
      }
      clients::start_consumer_workload(c, st);
    };
    if (auto c = cluster.client<clients::KafkaConsumer>(id)) attach(c);
    cluster.add_boot_hook(id, attach);
    w->consumer_ids_.push_back(id);
    w->consumers_.push_back(std::move(st));
  }

  // New clients.
  for (int32_t i = 0; i < o.new_producers; ++i) {
    auto st = std::make_shared<clients::ProducerWorkloadState>(ps);
    // One transactional.id per producer ("<id>-<i>"): the same id would fence its siblings.
    Config::Map pcfg = o.producer_config;
    if (auto t = pcfg.find("transactional.id"); t != pcfg.end()) t->second += "-" + std::to_string(i + 1);
    const int32_t id = cluster.add_client(o.name + "-producer-" + std::to_string(i + 1),
                                          clients::producer_workload_factory(pcfg, st), "producer");
    w->producer_ids_.push_back(id);
    w->producers_.push_back(std::move(st));
  }
  Config::Map ccfg = o.consumer_config;
  if (!ccfg.count("group.id") && cs.assignment.empty()) ccfg["group.id"] = o.name;
  if (cs.topics.empty() && cs.assignment.empty()) cs.topics = {o.topic};
  for (int32_t i = 0; i < o.new_consumers; ++i) {
    auto st = std::make_shared<clients::ConsumerWorkloadState>(cs);
    const int32_t id = cluster.add_client(o.name + "-consumer-" + std::to_string(i + 1),
                                          clients::consumer_workload_factory(ccfg, st), "consumer");
    w->consumer_ids_.push_back(id);
    w->consumers_.push_back(std::move(st));
  }
  return w;
}

// ---- pipelines -----------------------------------------------------------------------------------

uint64_t Pipeline::sum(uint64_t clients::PipelineState::*field) const {
  uint64_t n = 0;
  for (const auto& s : states_) n += (*s).*field;
  return n;
}

void Pipeline::stop() {
  for (const auto& s : states_) s->stop = true;
}

std::shared_ptr<Pipeline> add_pipeline(Cluster& cluster, PipelineOptions o) {
  if (o.spec.input_topic.empty() || o.spec.output_topic.empty())
    throw std::invalid_argument("a pipeline needs an input and an output topic");
  if (o.spec.input_topic == o.spec.output_topic)
    throw std::invalid_argument("a pipeline's input and output topics must differ");
  if (o.instances < 1) throw std::invalid_argument("a pipeline needs at least one instance");
  if (!(o.spec.abort_probability >= 0 && o.spec.abort_probability <= 1))
    throw std::invalid_argument("abort_probability must be in [0, 1]");
  Config::Map ccfg = o.consumer_config;
  if (!ccfg.count("group.id")) ccfg["group.id"] = o.name;
  const std::string txn_base = o.producer_config.count("transactional.id") ? o.producer_config.at("transactional.id") : o.name;
  auto p = std::make_shared<Pipeline>();
  for (int32_t i = 0; i < o.instances; ++i) {
    Config::Map pcfg = o.producer_config;
    // A stable id per instance: its restart fences its own zombie.
    if (o.spec.transactional)
      pcfg["transactional.id"] = txn_base + "-" + std::to_string(i + 1);
    else
      pcfg.erase("transactional.id");
    auto st = std::make_shared<clients::PipelineState>(o.spec);
    const int32_t id = cluster.add_client(o.name + "-" + std::to_string(i + 1),
                                          clients::pipeline_factory(ccfg, pcfg, st), "pipeline");
    p->ids_.push_back(id);
    p->states_.push_back(std::move(st));
  }
  check::PipelineCheck pc;
  pc.name = o.name;
  pc.input_topic = o.spec.input_topic;
  pc.output_topic = o.spec.output_topic;
  pc.group_id = ccfg.at("group.id");
  pc.output_prefix = o.spec.output_prefix;
  pc.transactional = o.spec.transactional;
  cluster.add_pipeline_check(std::move(pc));
  return p;
}

void rolling_restart(Cluster& cluster, const std::vector<int32_t>& ids, int64_t down_ms, int64_t between_ms) {
  for (size_t i = 0; i < ids.size(); ++i) {
    cluster.crash(ids[i]);
    if (down_ms > 0) cluster.run_for_ms(down_ms);
    cluster.restart(ids[i]);
    if (between_ms > 0 && i + 1 < ids.size()) cluster.run_for_ms(between_ms);
  }
}

}  // namespace ksim
