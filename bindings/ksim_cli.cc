// `ksim` — the command-line front end (Boost.Program_options).
//
//   ksim demo [--seed N] [--story S] [--trace]   a demo story
//   ksim --help | ksim COMMAND --help
//
// Commands that need the engine and the Python layer (run, sweep, describe,
// report, dump-log) arrive with their issues. Bad arguments print a clear
// message and exit 2; failures of a run exit 1.
#include <boost/program_options.hpp>
#include <iostream>
#include <string>
#include <vector>

#include "bindings/demo.h"
#include "engine/server/cluster.h"
#include "sim/error.h"

namespace po = boost::program_options;

namespace {

constexpr const char* kUsage =
    "usage: ksim [--help] [--version] COMMAND [ARGS]\n"
    "\n"
    "ksim is a deterministic simulator of an Apache Kafka cluster and a fault-injection lab.\n"
    "\n"
    "commands:\n"
    "  demo     run a demo story (default: an acks=1 write lost to a leader crash)\n"
    "\n"
    "Run 'ksim COMMAND --help' for a command's options.\n";

int cmd_demo(const std::vector<std::string>& args) {
  po::options_description desc("usage: ksim demo [options]");
  desc.add_options()("help,h", "show this help")(
      "seed", po::value<uint64_t>()->default_value(1), "simulation seed (same seed, same run)")(
      "trace", po::bool_switch(), "also print the trace events, one per line (heartbeat story)")(
      "story", po::value<std::string>()->default_value("acks1-leader-crash"),
      "acks1-leader-crash (a Kafka failure) or heartbeat (the bare simulated world)");
  po::variables_map vm;
  po::store(po::command_line_parser(args).options(desc).run(), vm);
  if (vm.count("help")) {
    std::cout << desc << "\n";
    return 0;
  }
  po::notify(vm);
  ksim::DemoOptions opts;
  opts.seed = vm["seed"].as<uint64_t>();
  opts.show_trace = vm["trace"].as<bool>();
  const std::string story = vm["story"].as<std::string>();
  if (story == "heartbeat") {
    ksim::run_demo(opts, std::cout);
  } else if (story == "acks1-leader-crash") {
    ksim::run_kafka_demo(opts, std::cout);
  } else {
    std::cerr << "ksim demo: unknown story '" << story << "' (acks1-leader-crash, heartbeat)\n";
    return 2;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    std::cout << kUsage;
    return args.empty() ? 2 : 0;
  }
  if (args[0] == "--version") {
    std::cout << "ksim 0.1.0\n";
    return 0;
  }
  const std::string command = args[0];
  args.erase(args.begin());
  try {
    if (command == "demo") return cmd_demo(args);
    std::cerr << "ksim: unknown command '" << command << "'\n\n" << kUsage;
    return 2;
  } catch (const po::error& e) {
    std::cerr << "ksim " << command << ": " << e.what() << "\n";
    return 2;
  } catch (const ksim::ClusterError& e) {
    std::cerr << "ksim " << command << ": " << e.what() << "\n";
    return 1;
  } catch (const ksim::ConfigError& e) {
    std::cerr << "ksim " << command << ": " << e.what() << "\n";
    return 2;
  } catch (const sim::SimError& e) {
    std::cerr << "ksim " << command << ": simulation failed: " << e.what() << "\n";
    return 1;
  }
}
