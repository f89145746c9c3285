// `ksim` — the command-line front end (Boost.Program_options).
//
//   ksim demo [--seed N] [--story S] [--trace] [--out DIR]
//                                                a demo story (--out: its trace store DIR/demo-SEED.db)
//   ksim run FILE.py [--seed N] [--out DIR]      a scenario (exit 0 iff as expected)
//   ksim sweep FILE.py --seeds A:B [--jobs N] [--scheduler ADDR] [--db DB]
//                                                many seeds in parallel processes (Dask), each
//                                                seed's row kept in a SQLite sweep database
//   ksim sweep --report DB [--html OUT.html]     a sweep database: table, anomaly kinds, coverage
//                                                (--html: as one page, ksim.sweep_html)
//   ksim hunt ARGS...                            python3 -m ksim.hunt ARGS... (a swarm workload)
//   ksim shrink ARGS...                          python3 -m ksim.shrink ARGS... (a minimal failing scenario)
//   ksim describe RUN.db [--at MS]               partitions, kafka-topics --describe style
//   ksim dump-log RUN.db --broker B --topic T --partition P
//   ksim report RUN.db [--perfetto OUT.json] [--html OUT.html] [--timeline OUT.html]
//                                                the run's summary and verdict; the converters
//                                                ksim.perfetto, ksim.html_report, ksim.timeline
//   ksim consumer-groups RUN.db --describe [--group G] [--at MS]
//                                                groups, kafka-consumer-groups.sh style (ksim.groups)
//   ksim --help | ksim COMMAND --help
//
// Bad arguments print a clear message and exit 2; failures of a run exit 1.
// The command line is parsed by parse_cli (cli_options.h); this file runs it.
// run, sweep, hunt and shrink replace this process by Debian's python3 with
// this build's ksim package (exec_python_module): their exit status is Python's
// (sweep: 0 all as expected, 1 a seed not, 2 bad input, 3 a seed that did not
// reproduce its stored trace hash).
#include <boost/program_options.hpp>
#include <cstdio>
#include <cstdlib>
#include <sys/wait.h>
#include <unistd.h>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "bindings/cli_options.h"
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
    "  sweep    run a scenario over seeds: ksim sweep FILE.py --seeds A:B [--jobs N] [--db DB];\n"
    "           print a sweep database: ksim sweep --report DB [--html OUT.html]\n"
    "  hunt     find bugs with a built-in swarm workload: ksim hunt --seeds A:B [--jobs K] [--db DB] "
    "[--config key=value ...]\n"
    "  shrink   shrink a failing seed to a minimal scenario: ksim shrink SWEEP.db --seed N [--out FILE.py]\n"
    "  describe partitions of a run file: ksim describe RUN.db [--at MS]\n"
    "  dump-log a replica's log in a run file: ksim dump-log RUN.db --broker B --topic T --partition P\n"
    "  report   a run file's summary and verdict: ksim report RUN.db [--perfetto OUT.json] [--html OUT.html]\n"
    "           [--timeline OUT.html]\n"
    "  consumer-groups  a run file's groups: ksim consumer-groups RUN.db --describe [--group G] [--at MS]\n"
    "\n"
    "Run 'ksim COMMAND --help' for a command's options.\n";

void use_ksim_python() {
  const char* old = std::getenv("PYTHONPATH");
  const std::string path = std::string(KSIM_PYTHON_DIR) + (old && *old ? std::string(":") + old : "");
  setenv("PYTHONPATH", path.c_str(), 1);
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
int cmd_run(const ksim::cli::CliOptions& o) {
  if (access(o.file.c_str(), R_OK) != 0) {
    std::cerr << "ksim run: cannot read scenario file '" << o.file << "'\n";
    return 2;
  }
  const std::string seed = std::to_string(o.seed);
  if (o.out) setenv("KSIM_OUT", o.out->c_str(), 1);
  std::cout << "ksim run " << o.file << " --seed " << seed << std::endl;
  // Import the file and call its scenario() (ksim/run.py), whether or not it has a __main__ block.
  return exec_python_module("run", "ksim.run", {o.file, "--seed", seed});
}

// `ksim sweep FILE.py --seeds A:B [--jobs N] [--scheduler ADDR] [--db DB]`:
// the Dask sweep of ksim.sweep, with this build's module; `ksim sweep --report
// DB` prints a sweep database (ksim.sweep checks it is one).
int cmd_sweep(const ksim::cli::CliOptions& o) {
  if (o.sweep_report && o.sweep_html)
    return exec_python_module("sweep", "ksim.sweep_html", {*o.sweep_report, *o.sweep_html});
  if (o.sweep_report) return exec_python_module("sweep", "ksim.sweep", {"--report", *o.sweep_report});
  if (access(o.file.c_str(), R_OK) != 0) {
    std::cerr << "ksim sweep: cannot read scenario file '" << o.file << "'\n";
    return 2;
  }
  std::vector<std::string> py{o.file, "--seeds", o.seeds, "--jobs", std::to_string(o.jobs)};
  if (o.scheduler) {
    py.push_back("--scheduler");
    py.push_back(*o.scheduler);
  }
  if (o.sweep_db) {
    py.push_back("--db");
    py.push_back(*o.sweep_db);
  }
  return exec_python_module("sweep", "ksim.sweep", std::move(py));
}

// The run-file commands: RUN.db must be readable.
void require_run_file(const ksim::cli::CliOptions& o) {
  if (access(o.db.c_str(), R_OK) != 0) throw ksim::exporter::RunStoreError("cannot read run file '" + o.db + "'");
}

// Runs Debian's python3 `-m module db out` in a child and waits: its exit status.
int run_converter(const char* module, const std::string& db, const std::string& out) {
  use_ksim_python();
  std::cout << std::flush;
  const pid_t child = fork();
  if (child == 0) {
    execl(KSIM_PYTHON_EXECUTABLE, KSIM_PYTHON_EXECUTABLE, "-m", module, db.c_str(), out.c_str(),
          static_cast<char*>(nullptr));
    _exit(127);
  }
  int status = 0;
  if (child < 0 || waitpid(child, &status, 0) < 0) return 1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

// The summary, then each converter asked for (the first failure's status wins).
int cmd_report(const ksim::cli::CliOptions& o) {
  std::cout << ksim::exporter::summary(o.db) << std::flush;
  const std::pair<const char*, const std::optional<std::string>*> converters[] = {
      {"ksim.perfetto", &o.perfetto}, {"ksim.html_report", &o.html}, {"ksim.timeline", &o.timeline}};
  for (const auto& [module, out] : converters) {
    if (!*out) continue;
    if (const int rc = run_converter(module, o.db, **out); rc != 0) return rc;
  }
  return 0;
}

// `ksim consumer-groups RUN.db --describe [--group G] [--at MS]`: ksim.groups prints it.
int cmd_consumer_groups(const ksim::cli::CliOptions& o) {
  std::vector<std::string> py{o.db, "--describe"};
  if (o.group) {
    py.push_back("--group");
    py.push_back(*o.group);
  }
  if (o.at) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.17g", *o.at);
    py.push_back("--at");
    py.push_back(buf);
  }
  return exec_python_module("consumer-groups", "ksim.groups", std::move(py));
}

int cmd_demo(const ksim::cli::CliOptions& o) {
  ksim::DemoOptions opts;
  opts.seed = o.seed;
  opts.show_trace = o.trace;
  if (o.out) opts.out_dir = *o.out;
  if (o.story == "heartbeat") ksim::run_demo(opts, std::cout);
  else ksim::run_kafka_demo(opts, std::cout);
  return 0;
}

int run_command(const ksim::cli::CliOptions& o) {
  using ksim::cli::Command;
  if (o.help) {
    std::cout << o.help_text << "\n";
    return 0;
  }
  switch (o.command) {
    case Command::demo: return cmd_demo(o);
    case Command::run: return cmd_run(o);
    case Command::sweep: return cmd_sweep(o);
    case Command::hunt: return exec_python_module("hunt", "ksim.hunt", o.passthrough);
    case Command::shrink: return exec_python_module("shrink", "ksim.shrink", o.passthrough);
    case Command::describe:
      require_run_file(o);
      std::cout << ksim::exporter::describe_at(o.db, o.at);
      return 0;
    case Command::dump_log:
      require_run_file(o);
      std::cout << ksim::exporter::dump_log(o.db, o.broker, o.topic, o.partition);
      return 0;
    case Command::report:
      require_run_file(o);
      return cmd_report(o);
    case Command::consumer_groups:
      require_run_file(o);
      return cmd_consumer_groups(o);
    case Command::usage:
    case Command::help:
    case Command::version:
    case Command::unknown:
      break;
  }
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  using ksim::cli::Command;
  const std::vector<std::string> args(argv + 1, argv + argc);
  const std::string command = args.empty() ? "" : args[0];
  try {
    const ksim::cli::CliOptions o = ksim::cli::parse_cli(args);
    switch (o.command) {
      case Command::usage:
      case Command::help:
        std::cout << kUsage;
        return o.command == Command::usage ? 2 : 0;
      case Command::version:
        std::cout << "ksim 0.1.0\n";
        return 0;
      case Command::unknown:
        std::cerr << "ksim: unknown command '" << command << "'\n\n" << kUsage;
        return 2;
      default:
        return run_command(o);
    }
  } catch (const ksim::cli::UsageError& e) {
    std::cerr << "ksim " << command << ": " << e.what() << "\n";
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
