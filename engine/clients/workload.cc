#include "engine/clients/workload.h"

#include <algorithm>
#include <charconv>
#include <cmath>

#include "sim/error.h"

namespace ksim::clients {
namespace {

int64_t ms_to_ns(int64_t ms) { return ms * 1'000'000; }

// Fixes the workload's window on its first start (restarts resume it).
template <class State>
void fix_window(State& st, int64_t now_ns, int64_t start_delay_ms, int64_t duration_ms) {
  if (st.start_ns >= 0) return;
  st.start_ns = now_ns + ms_to_ns(std::max<int64_t>(0, start_delay_ms));
  st.end_ns = duration_ms < 0 ? -1 : now_ns + ms_to_ns(duration_ms);
}

std::string value_of(const std::string& client, uint64_t seq, int32_t pad_to) {
  char digits[24];
  const size_t n = static_cast<size_t>(std::to_chars(digits, digits + sizeof digits, seq).ptr - digits);
  std::string v;  // one allocation: the padded size up front
  v.reserve(std::max<size_t>(client.size() + 1 + n, pad_to > 0 ? static_cast<size_t>(pad_to) : 0));
  v.append(client).append(1, '-').append(digits, n);
  if (pad_to > 0 && v.size() < static_cast<size_t>(pad_to)) v.append(static_cast<size_t>(pad_to) - v.size(), '.');
  return v;
}

}  // namespace

// ---- producer ----------------------------------------------------------------------------------

bool init_transactions_retrying(KafkaProducer& p, const std::function<bool()>& give_up) {
  while (!give_up()) {
    try {
      p.init_transactions(p.settings().max_block_ms);
      return true;
    } catch (const KafkaException& e) {
      if (e.kind() != "TimeoutException") return false;
    }
  }
  return false;
}

void commit_transaction_retrying(KafkaProducer& p, int attempts) {
  for (int attempt = 1;; ++attempt) {
    try {
      p.commit_transaction(p.settings().max_block_ms);
      return;
    } catch (const KafkaException& e) {
      if (e.kind() != "TimeoutException" || attempt >= attempts) throw;
    }
  }
}

namespace {

// The transaction boundaries of a transactional producer workload.
class TransactionalLoop {
 public:
  TransactionalLoop(std::shared_ptr<ProducerWorkloadState> state, sim::Rng& rng) : state_(std::move(state)), rng_(rng) {}

  bool before_send(KafkaProducer& p) {
    if (open_) return true;
    try {
      p.begin_transaction();
    } catch (const KafkaException&) {
      return false;
    }
    open_ = true;
    sent_ = 0;
    return true;
  }
  bool after_send(KafkaProducer& p) {
    if (++sent_ < std::max(1, state_->spec.transaction_records)) return true;
    const bool commit = rng_.uniform01() >= state_->spec.abort_probability;
    // An abort by choice comes after the transaction's records were sent, as
    // an application that wrote its output and then failed a later step:
    // aborting at once would drop them unsent (Kafka's abortTransaction fails
    // the batches still in the accumulator), and the log would almost never
    // hold aborted data for readers, the cleaner and late writes to trip on.
    if (!commit) p.flush(p.settings().max_block_ms);
    return end(p, commit);
  }
  bool finish(KafkaProducer& p) { return !open_ || end(p, true); }

 private:
  // Commits (or aborts); a failed commit is aborted. False: the producer is done.
  bool end(KafkaProducer& p, bool commit) {
    open_ = false;
    try {
      if (commit) {
        try {
          commit_transaction_retrying(p);
          ++state_->commits;
          return true;
        } catch (const KafkaException& e) {
          // Fenced, or still timing out: done. Abortable (a send failed): abort below.
          if (e.kind() == "ProducerFencedException" || e.kind() == "TimeoutException") return false;
        }
      }
      p.abort_transaction(p.settings().max_block_ms);
      ++state_->aborts;
      return true;
    } catch (const KafkaException&) {
      return false;  // fenced, fatal, or the coordinator unreachable for max.block.ms
    }
  }

  std::shared_ptr<ProducerWorkloadState> state_;
  sim::Rng& rng_;
  bool open_ = false;
  int32_t sent_ = 0;
};

}  // namespace

void start_producer_workload(const std::shared_ptr<KafkaProducer>& producer,
                             const std::shared_ptr<ProducerWorkloadState>& state) {
  const ProducerWorkloadSpec& spec = state->spec;
  if (!(spec.rate_per_s > 0) || !std::isfinite(spec.rate_per_s))
    throw std::invalid_argument("workload: rate_per_s must be positive");
  if (spec.jitter < 0 || spec.jitter >= 1) throw std::invalid_argument("workload: jitter must be in [0, 1)");
  if (spec.topic.empty()) throw std::invalid_argument("workload: no topic");
  const ClientContext& ctx = producer->context();
  sim::World& w = *ctx.world;
  fix_window(*state, w.now().ns, spec.start_delay_ms, spec.duration_ms);
  ++state->incarnations;
  state->finished = false;
  const uint32_t incarnation = w.incarnation(ctx.self);
  std::weak_ptr<KafkaProducer> weak = producer;
  w.spawn(ctx.self, "workload", [weak, state, &w, name = ctx.name, incarnation] {
    const ProducerWorkloadSpec& sp = state->spec;
    sim::Rng rng = w.rng("workload/" + name + "/" + std::to_string(incarnation));
    const double interval_ns = 1e9 / sp.rate_per_s;
    const int64_t tick_ns = std::max<int64_t>(0, sp.tick_us) * 1000;
    // The schedule: the next send is due at `due` (exact, in ns as a double to
    // keep fractional intervals from drifting). A restart resumes at now.
    double due = static_cast<double>(std::max(state->start_ns, w.now().ns));
    auto next_gap = [&] {
      if (sp.jitter <= 0) return interval_ns;
      return interval_ns * (1.0 + sp.jitter * (2.0 * rng.uniform01() - 1.0));
    };
    auto exhausted = [&] {
      return state->stop || (sp.max_records >= 0 && state->next_seq >= static_cast<uint64_t>(sp.max_records)) ||
             (state->end_ns >= 0 && static_cast<int64_t>(due) >= state->end_ns);
    };
    TransactionalLoop txn(state, rng);
    if (auto p = weak.lock(); p && p->transactional() && !init_transactions_retrying(*p, exhausted)) return;
    while (!exhausted()) {
      const auto due_ns = static_cast<int64_t>(std::ceil(due));
      if (due_ns > w.now().ns) {
        w.sleep_until(sim::Instant{due_ns});
        continue;
      }
      // Everything due by now goes out at this wake-up, in schedule order.
      // Sends that block (metadata, buffer memory) delay the schedule; the
      // sends behind them then catch up, as an application with a backlog would.
      while (!exhausted() && static_cast<int64_t>(std::ceil(due)) <= w.now().ns) {
        auto p = weak.lock();
        if (!p || p->closed()) return;
        if (p->transactional() && !txn.before_send(*p)) return;
        ProducerRecord r;
        r.topic = sp.topic;
        if (sp.key_space > 0) r.key = "k" + std::to_string(rng.uniform(static_cast<uint64_t>(sp.key_space)));
        r.value = value_of(p->context().name, state->next_seq++, sp.value_bytes);
        try {
          p->send(std::move(r), [state](const RecordMetadata&, Errc e) { ++(e == Errc::NONE ? state->acked : state->failed); });
        } catch (const KafkaException&) {
          return;  // a transactional producer turned fatal (fenced): its restart starts over
        }
        due += next_gap();
        if (p->transactional() && !txn.after_send(*p)) return;
      }
      if (exhausted()) break;
      // The next wake-up: when the next send is due, but at most one per tick.
      w.sleep_until(sim::Instant{std::max(static_cast<int64_t>(std::ceil(due)), w.now().ns + tick_ns)});
    }
    if (auto p = weak.lock(); p && !p->closed()) {
      if (p->transactional()) {
        if (!txn.finish(*p)) return;
      } else {
        p->flush(std::max<int64_t>(1, p->settings().delivery_timeout_ms));
      }
      state->finished = true;
    }
  });
}

WorkloadClientFactory producer_workload_factory(Config::Map config, std::shared_ptr<ProducerWorkloadState> state,
                                                ProducerOptions options) {
  return [config = std::move(config), state = std::move(state),
          options = std::move(options)](const ClientContext& ctx) -> std::shared_ptr<void> {
    auto p = std::make_shared<KafkaProducer>(ctx, config, options);
    start_producer_workload(p, state);
    return p;
  };
}

// ---- consumer -----------------------------------------------------------------------------------

const char* commit_policy_name(CommitPolicy p) {
  switch (p) {
    case CommitPolicy::auto_commit: return "auto";
    case CommitPolicy::sync: return "sync";
    case CommitPolicy::async: return "async";
    case CommitPolicy::none: return "none";
  }
  return "?";
}

std::optional<CommitPolicy> parse_commit_policy(const std::string& s) {
  for (CommitPolicy p : {CommitPolicy::auto_commit, CommitPolicy::sync, CommitPolicy::async, CommitPolicy::none})
    if (s == commit_policy_name(p)) return p;
  return std::nullopt;
}

void start_consumer_workload(const std::shared_ptr<KafkaConsumer>& consumer,
                             const std::shared_ptr<ConsumerWorkloadState>& state) {
  const ConsumerWorkloadSpec& spec = state->spec;
  if (spec.poll_timeout_ms <= 0) throw std::invalid_argument("workload: poll_timeout_ms must be positive");
  const ClientContext& ctx = consumer->context();
  sim::World& w = *ctx.world;
  fix_window(*state, w.now().ns, 0, spec.duration_ms);
  ++state->incarnations;
  state->finished = false;
  // A fresh consumer (every boot) gets the spec's subscription; one that
  // already has a subscription or an assignment keeps it.
  if (consumer->subscription().empty() && consumer->assignment().empty()) {
    if (!spec.assignment.empty())
      consumer->assign(spec.assignment);
    else if (!spec.topics.empty())
      consumer->subscribe(spec.topics);
  }
  std::weak_ptr<KafkaConsumer> weak = consumer;
  w.spawn(ctx.self, "workload", [weak, state, &w] {
    const ConsumerWorkloadSpec& sp = state->spec;
    auto over = [&] { return state->stop || (state->end_ns >= 0 && w.now().ns >= state->end_ns); };
    while (!over()) {
      auto c = weak.lock();
      if (!c || c->closed()) return;
      std::vector<ConsumerRecord> records;
      try {
        records = c->poll(sp.poll_timeout_ms);
      } catch (const KafkaException&) {
        // e.g. NoOffsetForPartitionException with auto.offset.reset=none: the
        // application logs it and polls again later.
        ++state->errors;
        c.reset();
        w.sleep_for(sim::milliseconds(sp.poll_timeout_ms));
        continue;
      }
      ++state->polls;
      state->records += records.size();
      if (records.empty()) continue;
      if (sp.processing_us_per_record > 0)
        w.sleep_for(sim::microseconds(sp.processing_us_per_record * static_cast<int64_t>(records.size())));
      if (c->closed()) return;
      switch (sp.commit) {
        case CommitPolicy::sync:
          try {
            c->commit_sync();
            ++state->commits_ok;
          } catch (const KafkaException&) {
            ++state->commits_failed;  // CommitFailedException after a rebalance, a timeout, ...
          }
          break;
        case CommitPolicy::async:
          c->commit_async([state](const OffsetMap&, Errc e) { ++(e == Errc::NONE ? state->commits_ok : state->commits_failed); });
          break;
        case CommitPolicy::auto_commit:
        case CommitPolicy::none:
          break;
      }
    }
    auto c = weak.lock();
    if (c && !c->closed() && sp.close_at_end && !state->stop) c->close();
    state->finished = true;
  });
}

WorkloadClientFactory consumer_workload_factory(Config::Map config, std::shared_ptr<ConsumerWorkloadState> state) {
  config["enable.auto.commit"] = state->spec.commit == CommitPolicy::auto_commit ? "true" : "false";
  return [config = std::move(config), state = std::move(state)](const ClientContext& ctx) -> std::shared_ptr<void> {
    auto c = std::make_shared<KafkaConsumer>(ctx, config);
    start_consumer_workload(c, state);
    return c;
  };
}

}  // namespace ksim::clients
