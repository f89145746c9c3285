#include "bindings/demo.h"

#include <cstdio>
#include <map>
#include <ostream>
#include <string>

#include "sim/network.h"
#include "sim/world.h"

namespace ksim {
namespace {

std::string stamp(sim::Instant t) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "t=%8.3fs", static_cast<double>(t.ns) / 1e9);
  return buf;
}

// Per-node failure detector state: what this node currently believes of each peer.
struct Detector {
  std::map<uint32_t, bool> peer_alive;
};

}  // namespace

uint64_t run_demo(const DemoOptions& opts, std::ostream& out) {
  sim::WorldConfig cfg;
  cfg.seed = opts.seed;
  sim::World w(cfg);
  sim::Network& net = w.network();
  sim::Rng params = w.rng("demo/params");
  const sim::Duration latency_max = sim::microseconds(200 + static_cast<int64_t>(params.uniform(800)));
  sim::LinkSpec link;
  link.latency_min = sim::microseconds(100);
  link.latency_max = latency_max;
  net.set_default_link(link);
  const sim::Duration heartbeat = sim::milliseconds(100);
  const sim::Duration timeout = sim::milliseconds(50);
  w.record_param("link.latency.max.us", std::to_string(latency_max.ns / 1000));
  const sim::KindId hb = net.kind("Heartbeat"), hb_ack = net.kind("HeartbeatAck");

  std::vector<sim::NodeId> nodes;
  for (int i = 1; i <= 3; ++i) {
    nodes.push_back(w.add_node("n" + std::to_string(i), [&, i](sim::NodeId self) {
      auto det = std::make_shared<Detector>();
      net.set_handler(self, [&net, hb_ack](sim::Incoming&& in) { net.respond(in, hb_ack, nullptr, 16); });
      for (sim::NodeId peer : nodes) {
        if (peer == self) continue;
        det->peer_alive[peer.value] = true;
        w.spawn(self, "heartbeat->" + w.node_name(peer), [&, self, peer, det, i] {
          for (;;) {
            const sim::Reply r = net.call_sync(self, peer, hb, nullptr, 16, timeout);
            const bool alive = r.status == sim::CallStatus::ok;
            if (alive != det->peer_alive[peer.value]) {
              det->peer_alive[peer.value] = alive;
              out << stamp(w.now()) << "  n" << i << " sees " << w.node_name(peer) << " "
                  << (alive ? "ALIVE again" : std::string("DOWN (") + sim::call_status_name(r.status) + ")")
                  << "\n";
            }
            w.sleep_for(heartbeat);
          }
        });
      }
      return std::shared_ptr<void>(det);
    }));
  }
  out << "ksim demo — three nodes heartbeat each other every " << heartbeat.ms_floor()
      << " ms (timeout " << timeout.ms_floor() << " ms)\n";
  out << "seed=" << opts.seed << "\n";
  for (const auto& [k, v] : w.params()) out << "param " << k << "=" << v << "\n";
  out << "\n";
  for (sim::NodeId n : nodes) w.start(n);

  auto fault = [&](const std::string& what) { out << stamp(w.now()) << "  ** " << what << "\n"; };
  w.run_for(sim::seconds(1));
  fault("partition [[n1], [n2, n3]]");
  net.partition({{nodes[0]}, {nodes[1], nodes[2]}});
  w.run_for(sim::milliseconds(1500));
  fault("heal");
  net.heal();
  w.run_for(sim::milliseconds(500));
  fault("crash n3");
  w.crash(nodes[2]);
  w.run_for(sim::milliseconds(500));
  fault("restart n3");
  w.restart(nodes[2]);
  w.run_for(sim::milliseconds(500));
  fault("pause n2 for 400 ms (a long GC pause)");
  w.pause(nodes[1], sim::milliseconds(400));
  w.run_for(sim::seconds(1));

  if (opts.show_trace) {
    out << "\ntrace (last " << w.trace().kept().size() << " events):\n";
    for (const sim::TraceEvent& e : w.trace().kept()) out << w.describe(e) << "\n";
  }
  const auto& st = net.stats();
  char hash[32];
  std::snprintf(hash, sizeof hash, "%016llx", static_cast<unsigned long long>(w.trace().hash()));
  out << "\nmessages sent=" << st.sent << " delivered=" << st.delivered << " dropped=" << st.dropped
      << " connections broken=" << st.connections_broken << "\n";
  out << "events=" << w.events_processed() << " virtual time=" << w.now().ms() / 1000.0 << " s\n";
  out << "trace_hash=" << hash << "\n";
  out << "reproduce: ./ksim demo --seed " << opts.seed << "\n";
  return w.trace().hash();
}

}  // namespace ksim
