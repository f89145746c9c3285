// simgrid_pingpong.cc -- SimGrid side of the ksim-vs-SimGrid ping-pong benchmark.
//
// What it measures: N pairs of actors (client, server), each pair on its own two
// hosts. Every client performs R request/response round trips of 64-byte messages
// with its server through SimGrid mailboxes (request -> server mailbox, response
// -> client mailbox). We time e.run() with a wall clock and report delivered
// messages (2 per round trip) per wall-clock second.
//
// Why this configuration: the Constant network model gives every communication a
// fixed duration with no bandwidth sharing / route computation, and raw contexts
// are SimGrid's fastest actor context-switch implementation. Together they isolate
// the simulator kernel overhead (event handling + actor context switches) from
// network-model cost, which is what we compare against ksim.
//
// Build: g++ -O2 -std=c++20 -Wall -Wextra bench/simgrid_pingpong.cc -o /tmp/simgrid_pingpong -lsimgrid
// Usage: simgrid_pingpong [--pairs N] [--rounds N]   (defaults: 50 pairs, 10000 rounds)

#include <simgrid/s4u.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace sg4 = simgrid::s4u;

namespace {

constexpr double kMsgBytes = 64.0;
unsigned long long g_delivered = 0; // single-threaded simulation: plain counter is fine
char g_payload[64];                 // dummy payload; only the simulated size matters

void server(sg4::Mailbox* in, sg4::Mailbox* out, long rounds)
{
  for (long i = 0; i < rounds; ++i) {
    in->get<char>();
    ++g_delivered;
    out->put(g_payload, kMsgBytes);
  }
}

void client(sg4::Mailbox* in, sg4::Mailbox* out, long rounds)
{
  for (long i = 0; i < rounds; ++i) {
    out->put(g_payload, kMsgBytes);
    in->get<char>();
    ++g_delivered;
  }
}

long parse_positive(const char* flag, const char* value)
{
  char* end     = nullptr;
  long long v   = std::strtoll(value, &end, 10);
  if (end == value || *end != '\0' || v <= 0) {
    std::fprintf(stderr, "invalid value for %s: %s\n", flag, value);
    std::exit(2);
  }
  return static_cast<long>(v);
}

} // namespace

int main(int argc, char** argv)
{
  long pairs  = 50;
  long rounds = 10000;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--pairs") == 0 && i + 1 < argc) {
      pairs = parse_positive("--pairs", argv[++i]);
    } else if (std::strcmp(argv[i], "--rounds") == 0 && i + 1 < argc) {
      rounds = parse_positive("--rounds", argv[++i]);
    } else {
      std::fprintf(stderr, "usage: %s [--pairs N] [--rounds N]\n", argv[0]);
      return 2;
    }
  }

  // Hand SimGrid only our logging option, so its own logs are silenced from the
  // very start (anything that still slips through goes to stderr, never stdout).
  std::string prog     = argv[0];
  std::string log_opt  = "--log=root.thres:critical";
  std::vector<char*> sg_argv{prog.data(), log_opt.data(), nullptr};
  int sg_argc = 2;
  sg4::Engine e(&sg_argc, sg_argv.data());

  sg4::Engine::set_config("network/model:Constant");
  sg4::Engine::set_config("contexts/factory:raw");

  // Platform: one star zone, two hosts per pair. The Constant model needs no links.
  auto* zone = sg4::create_star_zone("bench");
  std::vector<sg4::Host*> hosts;
  hosts.reserve(static_cast<size_t>(2 * pairs));
  for (long i = 0; i < 2 * pairs; ++i)
    hosts.push_back(zone->create_host("h" + std::to_string(i), 1e9));
  zone->seal();

  for (long p = 0; p < pairs; ++p) {
    sg4::Mailbox* to_server = sg4::Mailbox::by_name("srv" + std::to_string(p));
    sg4::Mailbox* to_client = sg4::Mailbox::by_name("cli" + std::to_string(p));
    sg4::Actor::create("server" + std::to_string(p), hosts[static_cast<size_t>(2 * p)], server, to_server,
                       to_client, rounds);
    sg4::Actor::create("client" + std::to_string(p), hosts[static_cast<size_t>(2 * p + 1)], client, to_client,
                       to_server, rounds);
  }

  auto t0 = std::chrono::steady_clock::now();
  e.run();
  auto t1 = std::chrono::steady_clock::now();

  double wall = std::chrono::duration<double>(t1 - t0).count();
  unsigned long long rate =
      wall > 0.0 ? static_cast<unsigned long long>(static_cast<double>(g_delivered) / wall) : 0ULL;

  std::printf("simgrid_messages=%llu\n", g_delivered);
  std::printf("simgrid_wall_s=%.3f\n", wall);
  std::printf("simgrid_msgs_per_s=%llu\n", rate);
  return 0;
}
