// `ksim` — the command-line front end (Boost.Program_options).
//
//   ksim demo [--seed N] [--story S] [--trace]   a demo story
//   ksim run FILE.py [--seed N]                  a scenario (exit 0 iff as expected)
//   ksim --help | ksim COMMAND --help
//
// Commands that need the engine and the Python layer (run, sweep, describe,
// report, dump-log) arrive with their issues. Bad arguments print a clear
// message and exit 2; failures of a run exit 1.
#include <boost/program_options.hpp>
#include <cstdlib>
#include <unistd.h>
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
    "  run      run a scenario file: ksim run FILE.py [--seed N]\n"
    "\n"
    "Run 'ksim COMMAND --help' for a command's options.\n";

// `ksim run FILE.py [--seed N]`: runs a scenario file with Debian's Python and
// the ksim module of this build; its exit code is the scenario's verdict.
int cmd_run(const std::vector<std::string>& args) {
  po::options_description desc("usage: ksim run FILE.py [options]");
  desc.add_options()("help,h", "show this help")("seed", po::value<uint64_t>()->default_value(1),
                                                 "simulation seed (same seed, same run)")(
      "file", po::value<std::string>(), "the scenario file");
  po::positional_options_description pos;
  pos.add("file", 1);
  po::variables_map vm;
  po::store(po::command_line_parser(args).options(desc).positional(pos).run(), vm);
  if (vm.count("help")) {
    std::cout << desc << "\n";
    return 0;
  }
  po::notify(vm);
  if (!vm.count("file")) {
    std::cerr << "ksim run: which scenario? (ksim run FILE.py [--seed N])\n";
    return 2;
  }
  const std::string file = vm["file"].as<std::string>();
  if (access(file.c_str(), R_OK) != 0) {
    std::cerr << "ksim run: cannot read scenario file '" << file << "'\n";
    return 2;
  }
  const std::string seed = std::to_string(vm["seed"].as<uint64_t>());
  const char* old = std::getenv("PYTHONPATH");
  const std::string path = std::string(KSIM_PYTHON_DIR) + (old && *old ? std::string(":") + old : "");
  setenv("PYTHONPATH", path.c_str(), 1);
  std::cout << "ksim run " << file << " --seed " << seed << std::endl;
  execl(KSIM_PYTHON_EXECUTABLE, KSIM_PYTHON_EXECUTABLE, file.c_str(), "--seed", seed.c_str(),
        static_cast<char*>(nullptr));
  std::cerr << "ksim run: cannot start " << KSIM_PYTHON_EXECUTABLE << "\n";
  return 1;
}

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
    if (command == "run") return cmd_run(args);
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
