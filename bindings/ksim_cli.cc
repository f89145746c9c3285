// `ksim` — the command-line front end (Boost.Program_options).
//
//   ksim demo [--seed N] [--story S] [--trace]   a demo story
//   ksim run FILE.py [--seed N] [--out DIR]      a scenario (exit 0 iff as expected)
//   ksim sweep FILE.py --seeds A:B [--jobs N]    many seeds in parallel processes (Dask)
//   ksim describe RUN.db [--at MS]               partitions, kafka-topics --describe style
//   ksim dump-log RUN.db --broker B --topic T --partition P
//   ksim report RUN.db                           the run's summary and verdict
//   ksim --help | ksim COMMAND --help
//
// Bad arguments print a clear message and exit 2; failures of a run exit 1.
#include <boost/program_options.hpp>
#include <cstdlib>
#include <sys/wait.h>
#include <unistd.h>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "bindings/demo.h"
#include "engine/export/run_store.h"
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
    "  run      run a scenario file: ksim run FILE.py [--seed N] [--out DIR]\n"
    "  sweep    run a scenario over seeds: ksim sweep FILE.py --seeds A:B [--jobs N]\n"
    "  describe partitions of a run file: ksim describe RUN.db [--at MS]\n"
    "  dump-log a replica's log in a run file: ksim dump-log RUN.db --broker B --topic T --partition P\n"
    "  report   a run file's summary and verdict: ksim report RUN.db [--perfetto OUT.json]\n"
    "\n"
    "Run 'ksim COMMAND --help' for a command's options.\n";

void use_ksim_python() {
  const char* old = std::getenv("PYTHONPATH");
  const std::string path = std::string(KSIM_PYTHON_DIR) + (old && *old ? std::string(":") + old : "");
  setenv("PYTHONPATH", path.c_str(), 1);
}

// `ksim CMD POSITIONAL [options]`: adds --help and the one positional argument
// to `desc` and parses (with --help nothing is validated: the caller prints).
po::variables_map parse_command(const std::vector<std::string>& args, po::options_description& desc,
                                const char* positional, const char* what) {
  desc.add_options()("help,h", "show this help")(positional, po::value<std::string>(), what);
  po::positional_options_description pos;
  pos.add(positional, 1);
  po::variables_map vm;
  po::store(po::command_line_parser(args).options(desc).positional(pos).run(), vm);
  if (!vm.count("help")) po::notify(vm);
  return vm;
}

bool printed_help(const po::variables_map& vm, const po::options_description& desc) {
  if (vm.count("help")) std::cout << desc << "\n";
  return vm.count("help") > 0;
}

// Replaces this process by Debian's Python running `-m module args...` with this build's ksim.
int exec_python_module(const std::string& command, const char* module, std::vector<std::string> args) {
  use_ksim_python();
  std::vector<char*> argv{const_cast<char*>(KSIM_PYTHON_EXECUTABLE), const_cast<char*>("-m"), const_cast<char*>(module)};
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  execv(KSIM_PYTHON_EXECUTABLE, argv.data());
  std::cerr << "ksim " << command << ": cannot start " << KSIM_PYTHON_EXECUTABLE << "\n";
  return 1;
}

// `ksim run FILE.py [--seed N] [--out DIR]`: runs a scenario file with Debian's
// Python and the ksim module of this build; its exit code is the scenario's verdict.
int cmd_run(const std::vector<std::string>& args) {
  po::options_description desc("usage: ksim run FILE.py [options]");
  desc.add_options()("seed", po::value<uint64_t>()->default_value(1), "simulation seed (same seed, same run)")(
      "out", po::value<std::string>(), "directory for the run's trace store (FILE-SEED.db)");
  const po::variables_map vm = parse_command(args, desc, "file", "the scenario file");
  if (printed_help(vm, desc)) return 0;
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
  if (vm.count("out")) setenv("KSIM_OUT", vm["out"].as<std::string>().c_str(), 1);
  std::cout << "ksim run " << file << " --seed " << seed << std::endl;
  // Import the file and call its scenario() (ksim/run.py), whether or not it has a __main__ block.
  return exec_python_module("run", "ksim.run", {file, "--seed", seed});
}

// `ksim sweep FILE.py --seeds A:B [--jobs N] [--scheduler ADDR]`: the Dask
// sweep of ksim.sweep, with this build's module.
int cmd_sweep(const std::vector<std::string>& args) {
  po::options_description desc("usage: ksim sweep FILE.py --seeds A:B [options]");
  desc.add_options()("seeds", po::value<std::string>(), "seed range A:B (inclusive)")(
      "jobs", po::value<int>()->default_value(2), "parallel worker processes")(
      "scheduler", po::value<std::string>(), "dask.distributed scheduler address (multi-machine)");
  const po::variables_map vm = parse_command(args, desc, "file", "the scenario file");
  if (printed_help(vm, desc)) return 0;
  if (!vm.count("file") || !vm.count("seeds")) {
    std::cerr << "ksim sweep: usage: ksim sweep FILE.py --seeds A:B [--jobs N]\n";
    return 2;
  }
  const std::string file = vm["file"].as<std::string>();
  if (access(file.c_str(), R_OK) != 0) {
    std::cerr << "ksim sweep: cannot read scenario file '" << file << "'\n";
    return 2;
  }
  if (vm["jobs"].as<int>() < 1) {
    std::cerr << "ksim sweep: --jobs must be at least 1\n";
    return 2;
  }
  std::vector<std::string> py{file, "--seeds", vm["seeds"].as<std::string>(), "--jobs",
                              std::to_string(vm["jobs"].as<int>())};
  if (vm.count("scheduler")) {
    py.push_back("--scheduler");
    py.push_back(vm["scheduler"].as<std::string>());
  }
  return exec_python_module("sweep", "ksim.sweep", std::move(py));
}

// The run-file commands: RUN.db must be given and readable.
po::variables_map parse_run_file_args(const std::string& name, const std::vector<std::string>& args,
                                      po::options_description& desc) {
  po::variables_map vm = parse_command(args, desc, "db", "the run file (ksim run --out)");
  if (vm.count("help")) return vm;
  if (!vm.count("db")) throw po::error("which run file? (ksim " + name + " RUN.db ...)");
  if (access(vm["db"].as<std::string>().c_str(), R_OK) != 0)
    throw ksim::exporter::RunStoreError("cannot read run file '" + vm["db"].as<std::string>() + "'");
  return vm;
}

int cmd_describe(const std::vector<std::string>& args) {
  po::options_description desc("usage: ksim describe RUN.db [--at MS]");
  desc.add_options()("at", po::value<double>(), "virtual time in ms (default: the end of the run)");
  const po::variables_map vm = parse_run_file_args("describe", args, desc);
  if (printed_help(vm, desc)) return 0;
  std::optional<double> at;
  if (vm.count("at")) at = vm["at"].as<double>();
  std::cout << ksim::exporter::describe_at(vm["db"].as<std::string>(), at);
  return 0;
}

int cmd_dump_log(const std::vector<std::string>& args) {
  po::options_description desc("usage: ksim dump-log RUN.db --broker B --topic T --partition P");
  desc.add_options()("broker", po::value<int32_t>()->required(), "broker id")(
      "topic", po::value<std::string>()->required(), "topic")("partition", po::value<int32_t>()->required(), "partition");
  const po::variables_map vm = parse_run_file_args("dump-log", args, desc);
  if (printed_help(vm, desc)) return 0;
  std::cout << ksim::exporter::dump_log(vm["db"].as<std::string>(), vm["broker"].as<int32_t>(),
                                        vm["topic"].as<std::string>(), vm["partition"].as<int32_t>());
  return 0;
}

int cmd_report(const std::vector<std::string>& args) {
  po::options_description desc("usage: ksim report RUN.db [--perfetto OUT.json]");
  desc.add_options()("perfetto", po::value<std::string>(), "also write a Perfetto / Chrome trace JSON");
  const po::variables_map vm = parse_run_file_args("report", args, desc);
  if (printed_help(vm, desc)) return 0;
  const std::string db = vm["db"].as<std::string>();
  std::cout << ksim::exporter::summary(db) << std::flush;
  if (!vm.count("perfetto")) return 0;
  use_ksim_python();
  const std::string out = vm["perfetto"].as<std::string>();
  const pid_t child = fork();
  if (child == 0) {
    execl(KSIM_PYTHON_EXECUTABLE, KSIM_PYTHON_EXECUTABLE, "-m", "ksim.perfetto", db.c_str(), out.c_str(),
          static_cast<char*>(nullptr));
    _exit(127);
  }
  int status = 0;
  if (child < 0 || waitpid(child, &status, 0) < 0) return 1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
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
    if (command == "sweep") return cmd_sweep(args);
    if (command == "describe") return cmd_describe(args);
    if (command == "dump-log") return cmd_dump_log(args);
    if (command == "report") return cmd_report(args);
    std::cerr << "ksim: unknown command '" << command << "'\n\n" << kUsage;
    return 2;
  } catch (const ksim::exporter::RunStoreError& e) {
    std::cerr << "ksim " << command << ": " << e.what() << "\n";
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
