#include "engine/clients/pipeline.h"

#include <map>
#include <set>

namespace ksim::clients {
namespace {

// After an abort the consumer's positions are past records whose outputs were
// just thrown away: go back to the group's committed offsets (what every EOS
// application does; forgetting it is the classic way to lose records).
void rewind(KafkaConsumer& c, const std::set<TopicPartition>& tps) {
  const OffsetMap committed = c.committed(tps);
  for (const TopicPartition& tp : tps) {
    auto it = committed.find(tp);
    if (it != committed.end())
      c.seek(tp, it->second);
    else
      c.seek_to_beginning({tp});
  }
}

// Without transactions: outputs first, then the offsets. A crash in between
// (or a failed commit after a rebalance) makes the next owner redo the batch.
void at_least_once(KafkaConsumer& c, KafkaProducer& p, const std::vector<ConsumerRecord>& records,
                   const PipelineSpec& sp, PipelineState& state) {
  OffsetMap next;
  std::vector<SendFuture> sent;
  for (const ConsumerRecord& r : records) {
    ProducerRecord out;
    out.topic = sp.output_topic;
    out.key = r.key;
    out.value = sp.output_prefix + r.value.value_or("");
    sent.push_back(p.send(std::move(out)));
    next[r.tp] = OffsetAndMetadata{r.offset + 1, r.leader_epoch, ""};
  }
  p.flush(p.settings().delivery_timeout_ms);
  std::set<TopicPartition> tps;
  for (const auto& [tp, o] : next) tps.insert(tp);
  for (const SendFuture& f : sent)
    if (!f->done || f->error != Errc::NONE) {
      rewind(c, tps);  // redo the batch
      return;
    }
  try {
    c.commit_sync(next, p.settings().max_block_ms);
    ++state.commits;
  } catch (const KafkaException&) {
    // Rebalanced meanwhile: the new owner redoes what we produced.
  }
}

void run(const std::weak_ptr<PipelineApp>& weak, const std::shared_ptr<PipelineState>& state, sim::Rng rng) {
  const PipelineSpec& sp = state->spec;
  {
    auto app = weak.lock();
    if (!app) return;
    if (sp.transactional && !init_transactions_retrying(*app->producer, [&] { return state->stop; })) return;
    app->consumer->subscribe({sp.input_topic});
  }
  while (!state->stop) {
    auto app = weak.lock();
    if (!app) return;
    KafkaConsumer& c = *app->consumer;
    KafkaProducer& p = *app->producer;
    std::vector<ConsumerRecord> records;
    try {
      records = c.poll(sp.poll_timeout_ms);
    } catch (const KafkaException&) {
      // e.g. a fenced static member: the next poll rejoins (after a pause, so
      // that an error answered in zero virtual time cannot spin).
      c.context().world->sleep_for(sim::milliseconds(p.settings().retry_backoff_ms));
      continue;
    }
    ++state->polls;
    if (records.empty()) continue;
    state->records_in += records.size();
    std::map<TopicPartition, OffsetAndMetadata> next;
    std::set<TopicPartition> tps;
    if (!sp.transactional) {
      at_least_once(c, p, records, sp, *state);
      continue;
    }
    try {
      p.begin_transaction();
      for (const ConsumerRecord& r : records) {
        ProducerRecord out;
        out.topic = sp.output_topic;
        out.key = r.key;
        out.value = sp.output_prefix + r.value.value_or("");
        p.send(std::move(out));
        next[r.tp] = OffsetAndMetadata{r.offset + 1, r.leader_epoch, ""};
        tps.insert(r.tp);
      }
      p.send_offsets_to_transaction(next, c.group_metadata(), p.settings().max_block_ms);
      if (rng.uniform01() < sp.abort_probability) {
        p.abort_transaction(p.settings().max_block_ms);
        ++state->aborts;
        if (sp.rewind_after_abort) rewind(c, tps);
        continue;
      }
      commit_transaction_retrying(p);
      ++state->commits;
    } catch (const KafkaException& e) {
      if (e.kind() == "ProducerFencedException" || e.kind() == "IllegalStateException") {
        ++state->fenced;  // a zombie: another incarnation owns the transactional.id now
        return;
      }
      try {
        p.abort_transaction(p.settings().max_block_ms);
        ++state->aborts;
        if (sp.rewind_after_abort) rewind(c, tps);
      } catch (const KafkaException&) {
        ++state->fenced;
        return;  // fatal: this incarnation is done (a restart starts over)
      }
    }
  }
}

}  // namespace

WorkloadClientFactory pipeline_factory(Config::Map consumer_config, Config::Map producer_config,
                                       std::shared_ptr<PipelineState> state) {
  consumer_config["isolation.level"] = "read_committed";
  consumer_config["enable.auto.commit"] = "false";
  // The promise is about every input record: start from the beginning unless told otherwise.
  consumer_config.try_emplace("auto.offset.reset", "earliest");
  return [consumer_config, producer_config, state](const ClientContext& ctx) -> std::shared_ptr<void> {
    auto app = std::make_shared<PipelineApp>();
    app->consumer = std::make_shared<KafkaConsumer>(ctx, consumer_config);
    app->producer = std::make_shared<KafkaProducer>(ctx, producer_config);
    ++state->incarnations;
    sim::World& w = *ctx.world;
    sim::Rng rng = w.rng("pipeline/" + ctx.name + "/" + std::to_string(w.incarnation(ctx.self)));
    std::weak_ptr<PipelineApp> weak = app;
    w.spawn(ctx.self, "pipeline", [weak, state, rng]() mutable { run(weak, state, rng); });
    return app;
  };
}

}  // namespace ksim::clients
