#include "engine/check/verdict.h"

#include <algorithm>
#include <cstdio>
#include <unordered_map>

#include "engine/check/checkers.h"

namespace ksim::check {

bool Verdict::ok() const {
  return std::none_of(anomalies_.begin(), anomalies_.end(), [](const Anomaly& a) { return !a.expected; });
}

std::vector<Anomaly> Verdict::violations() const {
  std::vector<Anomaly> out;
  for (const Anomaly& a : anomalies_)
    if (!a.expected) out.push_back(a);
  return out;
}

std::vector<Anomaly> Verdict::expected() const {
  std::vector<Anomaly> out;
  for (const Anomaly& a : anomalies_)
    if (a.expected) out.push_back(a);
  return out;
}

std::map<std::string, std::pair<uint64_t, uint64_t>> Verdict::counts() const {
  std::map<std::string, std::pair<uint64_t, uint64_t>> out;
  for (const Anomaly& a : anomalies_) (a.expected ? out[a.kind].second : out[a.kind].first)++;
  return out;
}

void Verdict::finish() {
  std::stable_sort(anomalies_.begin(), anomalies_.end(), [](const Anomaly& a, const Anomaly& b) {
    const int64_t ao = a.offsets.empty() ? -1 : a.offsets.front(), bo = b.offsets.empty() ? -1 : b.offsets.front();
    return std::tie(a.at_ns, a.kind, a.tp, ao) < std::tie(b.at_ns, b.kind, b.tp, bo);
  });
}

std::string Verdict::text() const {
  std::string s = ok() ? "VERDICT: ok" : "VERDICT: VIOLATED";
  const auto c = counts();
  if (c.empty()) s += " (no anomalies)";
  s += "\n";
  for (const auto& [kind, n] : c) {
    s += "  " + kind + ": " + std::to_string(n.first) + " violation(s)";
    if (n.second) s += ", " + std::to_string(n.second) + " expected";
    s += "\n";
  }
  for (const auto& [kind, n] : c) {
    (void)n;
    auto it = std::find_if(anomalies_.begin(), anomalies_.end(), [&k = kind](const Anomaly& a) { return a.kind == k; });
    s += "\n[" + kind + (it->expected ? ", expected" : "") + "] " + it->explanation;
    if (s.back() != '\n') s += "\n";
  }
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "\nstats: %llu ops; sends %llu (acked %llu, failed %llu, unknown %llu); polls %llu (%llu records); "
                "commits %llu; lost %llu, duplicated %llu\n"
                "send latency p50 %.1f ms, p99 %.1f ms, max %.1f ms; end-to-end p50 %.1f ms, p99 %.1f ms, max %.1f ms\n",
                (unsigned long long)stats_.ops, (unsigned long long)stats_.sends, (unsigned long long)stats_.acked,
                (unsigned long long)stats_.failed, (unsigned long long)stats_.unknown,
                (unsigned long long)stats_.polls, (unsigned long long)stats_.records_polled,
                (unsigned long long)stats_.commits, (unsigned long long)stats_.lost,
                (unsigned long long)stats_.duplicated, stats_.send_latency_ms_p50, stats_.send_latency_ms_p99,
                stats_.send_latency_ms_max, stats_.e2e_latency_ms_p50, stats_.e2e_latency_ms_p99,
                stats_.e2e_latency_ms_max);
  return s + buf;
}

void check_liveness(const HistoryIndex& index, Verdict& out) {
  for (const auto& f : index.input().liveness_failures) {
    Anomaly a;
    a.kind = "liveness";
    a.tp = f.tp;
    a.cause = f.cause;
    a.expected = !f.cause.empty();
    a.explanation = "after the heal phase: " + f.what + (f.cause.empty() ? "" : " — by design: " + f.cause);
    out.add(std::move(a));
  }
}

namespace {
void percentiles(std::vector<int64_t>& v, double& p50, double& p99, double& max) {
  if (v.empty()) return;
  // The exact order statistics a sort would give, in linear time: p99's
  // element first, then p50's among those below it.
  auto rank = [&](double q) { return std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size()))); };
  const size_t k99 = rank(0.99), k50 = rank(0.50);
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k99), v.end());
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k50), v.begin() + static_cast<std::ptrdiff_t>(k99));
  p50 = static_cast<double>(v[k50]) / 1e6;
  p99 = static_cast<double>(v[k99]) / 1e6;
  max = static_cast<double>(*std::max_element(v.begin(), v.end())) / 1e6;
}
}  // namespace

void compute_stats(const HistoryIndex& index, Verdict& out) {
  Stats& s = out.mutable_stats();
  const History& h = index.history();
  std::vector<int64_t> send_lat, e2e;
  // Value Sym -> the first time a consumer returned it (kNever: never).
  constexpr int64_t kNever = INT64_MIN;
  std::vector<int64_t> first_read_ns(h.strings().size(), kNever);
  size_t sends = 0;
  for (uint64_t id = 0; id < h.size(); ++id) {
    const OpRecord& op = h.rec(id);
    ++s.ops;
    if (op.type() == OpType::poll) {
      ++s.polls;
      s.records_polled += op.items.end - op.items.begin;
      for (uint64_t i = op.items.begin; i < op.items.end; ++i) {
        int64_t& first = first_read_ns[h.polled(i).value];
        if (first == kNever) first = op.invoke_ns;
      }
    } else if (op.type() == OpType::commit) {
      ++s.commits;
    } else if (op.type() == OpType::send) {
      ++sends;
    }
  }
  send_lat.reserve(sends);  // sized once: a soak's history holds millions of sends
  e2e.reserve(sends);
  for (uint64_t id = 0; id < h.size(); ++id) {
    const OpRecord& op = h.rec(id);
    if (op.type() != OpType::send) continue;
    ++s.sends;
    switch (op.outcome()) {
      case Outcome::ok:
        ++s.acked;
        send_lat.push_back(op.complete_ns - op.invoke_ns);
        break;
      case Outcome::fail:
        ++s.failed;
        break;
      default:
        ++s.unknown;
    }
    if (const int64_t first = first_read_ns[op.value]; first != kNever && first >= op.invoke_ns)
      e2e.push_back(first - op.invoke_ns);
  }
  for (const Anomaly& a : out.anomalies())
    if (a.kind == "lost-write") ++s.lost;
  percentiles(send_lat, s.send_latency_ms_p50, s.send_latency_ms_p99, s.send_latency_ms_max);
  percentiles(e2e, s.e2e_latency_ms_p50, s.e2e_latency_ms_p99, s.e2e_latency_ms_max);
}

Verdict check_all(const CheckInput& input) {
  const HistoryIndex index(input);
  Verdict v;
  check_lost_writes(index, v);
  check_duplicates(index, v);
  check_consistency(index, v);
  check_send_order(index, v);
  check_poll_order(index, v);
  check_uncommitted_reads(index, v);
  check_ownership(index, v);
  check_unseen(index, v);
  check_transactions(index, v);
  check_compaction(index, v);
  check_pipelines(index, v);
  check_metadata_log(index, v);
  check_liveness(index, v);
  v.finish();
  compute_stats(index, v);
  return v;
}

}  // namespace ksim::check
