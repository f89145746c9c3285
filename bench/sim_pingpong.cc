// sim_pingpong — ksim's simulated world under the SimGrid comparison workload.
//
// 50 pairs of nodes; in each pair a client fiber does 10,000 request/response
// round trips of 64-byte messages with a server fiber (blocking receive +
// respond), over links of constant latency. Both sides are simulated processes,
// as SimGrid's actors are, so the figure measures the kernel: event queue,
// fiber switches, message routing and the trace hash.
//
// Prints name=value lines: messages, wall seconds, messages per wall second,
// ns per event, and peak RSS; and boost_fiber_yield_ns, what one switch
// between two plain Boost.Fiber fibers costs on this machine (the floor under
// every message a simulated process receives). `--server-mode handler` answers requests in a
// delivery handler instead of a fiber (how a Kafka broker's network layer can
// run), printed separately.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <sys/resource.h>
#include <thread>

#include <boost/fiber/all.hpp>

#include "sim/network.h"
#include "sim/world.h"

namespace {

struct Result {
  uint64_t messages = 0;
  uint64_t events = 0;
  double wall_s = 0;
  uint64_t trace_hash = 0;
};

Result run(int pairs, int rounds, bool handler_server) {
  sim::WorldConfig cfg;
  cfg.seed = 42;
  cfg.trace_keep_events = 0;  // hash everything, keep nothing: the benchmark setting
  cfg.fiber_stack_bytes = 64 * 1024;
  sim::World w(cfg);
  sim::LinkSpec constant;
  constant.latency_min = constant.latency_max = sim::microseconds(100);
  w.network().set_default_link(constant);
  const sim::KindId ping = w.network().kind("Ping");
  const sim::KindId pong = w.network().kind("Pong");
  uint64_t delivered = 0;
  for (int p = 0; p < pairs; ++p) {
    const sim::NodeId server = w.add_node("server" + std::to_string(p), [&w, pong, handler_server, rounds, &delivered](sim::NodeId self) {
      if (handler_server) {
        w.network().set_handler(self, [&w, pong, &delivered](sim::Incoming&& in) {
          ++delivered;
          w.network().respond(in, pong, nullptr, 64);
        });
      } else {
        w.spawn(self, "server", [&w, self, pong, rounds, &delivered] {
          for (int i = 0; i < rounds; ++i) {
            auto in = w.network().receive(self);
            ++delivered;
            w.network().respond(*in, pong, nullptr, 64);
          }
        });
      }
      return std::shared_ptr<void>();
    });
    w.add_node("client" + std::to_string(p), [&w, server, ping, rounds, &delivered](sim::NodeId self) {
      w.spawn(self, "client", [&w, self, server, ping, rounds, &delivered] {
        for (int i = 0; i < rounds; ++i) {
          sim::Reply r = w.network().call_sync(self, server, ping, nullptr, 64, sim::seconds(30));
          if (r.status != sim::CallStatus::ok) std::abort();  // benchmark precondition
          ++delivered;
        }
      });
      return std::shared_ptr<void>();
    });
  }
  for (uint32_t n = 0; n < w.node_count(); ++n) w.start(sim::NodeId{n});
  const auto t0 = std::chrono::steady_clock::now();  // determinism-ok: benchmark timing
  w.run_to_completion();
  const auto t1 = std::chrono::steady_clock::now();  // determinism-ok: benchmark timing
  Result r;
  r.messages = delivered;
  r.events = w.events_processed();
  r.wall_s = std::chrono::duration<double>(t1 - t0).count();
  r.trace_hash = w.trace().hash();
  return r;
}

// Two plain fibers yielding to each other, on a thread of their own (its own
// Boost.Fiber scheduler, not ksim's, and outside any World).
double fiber_yield_ns() {
  double ns = 0;
  std::thread t([&ns] {
    const int n = 1'000'000;
    const auto t0 = std::chrono::steady_clock::now();  // determinism-ok: benchmark timing
    boost::fibers::fiber a([] { for (int i = 0; i < n; ++i) boost::this_fiber::yield(); });
    boost::fibers::fiber b([] { for (int i = 0; i < n; ++i) boost::this_fiber::yield(); });
    a.join();
    b.join();
    const auto t1 = std::chrono::steady_clock::now();  // determinism-ok: benchmark timing
    ns = std::chrono::duration<double, std::nano>(t1 - t0).count() / (2.0 * n);
  });
  t.join();
  return ns;
}

}  // namespace

int main(int argc, char** argv) {
  int pairs = 50, rounds = 10'000;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--pairs")) pairs = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--rounds")) rounds = std::atoi(argv[i + 1]);
    else {
      std::fprintf(stderr, "usage: %s [--pairs N] [--rounds N]\n", argv[0]);
      return 2;
    }
  }
  if (pairs <= 0 || rounds <= 0) {
    std::fprintf(stderr, "--pairs and --rounds must be positive\n");
    return 2;
  }
  const Result f = run(pairs, rounds, false);
  const Result h = run(pairs, rounds, true);
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  std::printf("ksim_messages=%llu\n", static_cast<unsigned long long>(f.messages));
  std::printf("ksim_wall_s=%.3f\n", f.wall_s);
  std::printf("ksim_msgs_per_s=%.0f\n", static_cast<double>(f.messages) / f.wall_s);
  std::printf("ksim_ns_per_event=%.1f\n", f.wall_s * 1e9 / static_cast<double>(f.events));
  std::printf("ksim_handler_msgs_per_s=%.0f\n", static_cast<double>(h.messages) / h.wall_s);
  std::printf("ksim_peak_rss_mb=%.1f\n", static_cast<double>(ru.ru_maxrss) / 1024.0);
  std::printf("ksim_trace_hash=%016llx\n", static_cast<unsigned long long>(f.trace_hash));
  std::printf("boost_fiber_yield_ns=%.1f\n", fiber_yield_ns());
  return 0;
}
