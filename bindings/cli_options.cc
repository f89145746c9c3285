#include "bindings/cli_options.h"

#include <boost/program_options.hpp>
#include <sstream>
#include <stdexcept>

namespace po = boost::program_options;

namespace ksim::cli {
namespace {

std::string text_of(const po::options_description& desc) {
  std::ostringstream os;
  os << desc;
  return os.str();
}

// `ksim CMD POSITIONAL [options]`: adds --help and the one positional argument
// to `desc` and parses (with --help nothing is validated: the caller prints).
po::variables_map parse_command(const std::vector<std::string>& args, po::options_description& desc,
                                const char* positional, const char* what, CliOptions& out) {
  desc.add_options()("help,h", "show this help")(positional, po::value<std::string>(), what);
  po::positional_options_description pos;
  pos.add(positional, 1);
  po::variables_map vm;
  po::store(po::command_line_parser(args).options(desc).positional(pos).run(), vm);
  out.help = vm.count("help") > 0;
  if (out.help) out.help_text = text_of(desc);
  else po::notify(vm);
  return vm;
}

// Boost's lexical_cast takes "-1" for an unsigned option and wraps it to
// 18446744073709551615, so a typo became a different run: seeds are parsed
// strictly instead.
uint64_t parse_seed(const std::string& s) {
  if (s.empty() || s.find_first_not_of("0123456789") != std::string::npos)
    throw UsageError("--seed must be a non-negative integer, not '" + s + "'");
  try {
    return std::stoull(s);
  } catch (const std::out_of_range&) {
    throw UsageError("--seed " + s + " is out of range (at most 18446744073709551615)");
  }
}

std::optional<std::string> optional_string(const po::variables_map& vm, const char* key) {
  if (!vm.count(key)) return std::nullopt;
  return vm[key].as<std::string>();
}

// `ksim run FILE.py [--seed N] [--out DIR]`
void parse_run(const std::vector<std::string>& args, CliOptions& o) {
  po::options_description desc("usage: ksim run FILE.py [options]");
  desc.add_options()("seed", po::value<std::string>()->default_value("1"), "simulation seed (same seed, same run)")(
      "out", po::value<std::string>(), "directory for the run's trace store (FILE-SEED.db)");
  const po::variables_map vm = parse_command(args, desc, "file", "the scenario file", o);
  if (o.help) return;
  if (!vm.count("file")) throw UsageError("which scenario? (ksim run FILE.py [--seed N])");
  o.file = vm["file"].as<std::string>();
  o.seed = parse_seed(vm["seed"].as<std::string>());
  o.out = optional_string(vm, "out");
}

// `--seeds A:B`: two non-negative integers, A <= B (ksim.sweep checks it
// again for `python3 -m ksim.sweep`; here a typo fails before Python starts).
void check_seed_range(const std::string& s) {
  const size_t colon = s.find(':');
  const auto digits = [](const std::string& t) {
    return !t.empty() && t.size() <= 19 && t.find_first_not_of("0123456789") == std::string::npos;
  };
  if (colon == std::string::npos || !digits(s.substr(0, colon)) || !digits(s.substr(colon + 1)))
    throw UsageError("--seeds must be A:B with non-negative integers (e.g. 1:100), not '" + s + "'");
  if (std::stoull(s.substr(colon + 1)) < std::stoull(s.substr(0, colon)))
    throw UsageError("--seeds " + s + ": the last seed is before the first");
}

// `ksim sweep FILE.py --seeds A:B [--jobs N] [--scheduler ADDR] [--db DB]`, `ksim sweep --report DB`
void parse_sweep(const std::vector<std::string>& args, CliOptions& o) {
  po::options_description desc("usage: ksim sweep FILE.py --seeds A:B [options] | ksim sweep --report DB");
  desc.add_options()("seeds", po::value<std::string>(), "seed range A:B (inclusive)")(
      "jobs", po::value<int>()->default_value(2), "parallel worker processes (1: no worker process)")(
      "scheduler", po::value<std::string>(), "dask.distributed scheduler address (multi-machine)")(
      "db", po::value<std::string>(), "SQLite database keeping every seed's result (created, or added to; "
                                      "a seed already there must reproduce its trace hash)")(
      "report", po::value<std::string>(), "print a sweep database: the table, anomaly kinds, probe coverage")(
      "html", po::value<std::string>(), "with --report: write the sweep report as one HTML page");
  const po::variables_map vm = parse_command(args, desc, "file", "the scenario file", o);
  if (o.help) return;
  if (vm.count("report")) {
    if (vm.count("file") || vm.count("seeds") || vm.count("db") || vm.count("scheduler") || !vm["jobs"].defaulted())
      throw UsageError("--report DB takes no scenario file, --seeds, --jobs, --scheduler or --db");
    o.sweep_report = vm["report"].as<std::string>();
    o.sweep_html = optional_string(vm, "html");
    return;
  }
  if (vm.count("html")) throw UsageError("--html OUT.html goes with --report DB (ksim sweep --report DB --html OUT.html)");
  if (!vm.count("file") || !vm.count("seeds"))
    throw UsageError("usage: ksim sweep FILE.py --seeds A:B [--jobs N] [--db DB] | ksim sweep --report DB");
  o.file = vm["file"].as<std::string>();
  o.seeds = vm["seeds"].as<std::string>();
  check_seed_range(o.seeds);
  o.jobs = vm["jobs"].as<int>();
  if (o.jobs < 1) throw UsageError("--jobs must be at least 1");
  o.scheduler = optional_string(vm, "scheduler");
  o.sweep_db = optional_string(vm, "db");
}

// `ksim hunt ARGS...`, `ksim shrink ARGS...`: Python modules parse their own arguments.
void parse_passthrough(const std::vector<std::string>& args, CliOptions& o) { o.passthrough = args; }

// The run-file commands: RUN.db must be given.
po::variables_map parse_run_file_args(const std::vector<std::string>& args, po::options_description& desc,
                                      CliOptions& o) {
  po::variables_map vm = parse_command(args, desc, "db", "the run file (ksim run --out)", o);
  if (o.help) return vm;
  if (!vm.count("db")) throw po::error("which run file? (ksim " + o.name + " RUN.db ...)");
  o.db = vm["db"].as<std::string>();
  return vm;
}

void parse_describe(const std::vector<std::string>& args, CliOptions& o) {
  po::options_description desc("usage: ksim describe RUN.db [--at MS]");
  desc.add_options()("at", po::value<double>(), "virtual time in ms (default: the end of the run)");
  const po::variables_map vm = parse_run_file_args(args, desc, o);
  if (o.help) return;
  if (vm.count("at")) {
    o.at = vm["at"].as<double>();
    if (!(*o.at >= 0)) throw UsageError("--at must be a virtual time >= 0 ms");
  }
}

void parse_dump_log(const std::vector<std::string>& args, CliOptions& o) {
  po::options_description desc("usage: ksim dump-log RUN.db --broker B --topic T --partition P");
  desc.add_options()("broker", po::value<int32_t>()->required(), "broker id")(
      "topic", po::value<std::string>()->required(), "topic")("partition", po::value<int32_t>()->required(), "partition");
  const po::variables_map vm = parse_run_file_args(args, desc, o);
  if (o.help) return;
  o.broker = vm["broker"].as<int32_t>();
  o.topic = vm["topic"].as<std::string>();
  o.partition = vm["partition"].as<int32_t>();
}

void parse_report(const std::vector<std::string>& args, CliOptions& o) {
  po::options_description desc("usage: ksim report RUN.db [--perfetto OUT.json] [--html OUT.html] [--timeline OUT.html]");
  desc.add_options()("perfetto", po::value<std::string>(), "also write a Perfetto / Chrome trace JSON")(
      "html", po::value<std::string>(), "also write the HTML run report (verdict, story, plots, tables)")(
      "timeline", po::value<std::string>(), "also write the interactive timeline page");
  const po::variables_map vm = parse_run_file_args(args, desc, o);
  if (o.help) return;
  o.perfetto = optional_string(vm, "perfetto");
  o.html = optional_string(vm, "html");
  o.timeline = optional_string(vm, "timeline");
}

// `ksim consumer-groups RUN.db --describe [--group G] [--at MS]` (ksim.groups prints it)
void parse_consumer_groups(const std::vector<std::string>& args, CliOptions& o) {
  po::options_description desc("usage: ksim consumer-groups RUN.db --describe [--group G] [--at MS]");
  desc.add_options()("describe", po::bool_switch(), "describe the groups, kafka-consumer-groups.sh style")(
      "group", po::value<std::string>(), "only this group")(
      "at", po::value<double>(), "virtual time in ms (default: the end of the run)");
  const po::variables_map vm = parse_run_file_args(args, desc, o);
  if (o.help) return;
  if (!vm["describe"].as<bool>()) throw UsageError("say --describe (ksim consumer-groups RUN.db --describe [--group G] [--at MS])");
  o.group = optional_string(vm, "group");
  if (vm.count("at")) {
    o.at = vm["at"].as<double>();
    if (!(*o.at >= 0)) throw UsageError("--at must be a virtual time >= 0 ms");
  }
}

void parse_demo(const std::vector<std::string>& args, CliOptions& o) {
  po::options_description desc("usage: ksim demo [options]");
  desc.add_options()("help,h", "show this help")(
      "seed", po::value<std::string>()->default_value("1"), "simulation seed (same seed, same run)")(
      "trace", po::bool_switch(), "also print the trace events, one per line (heartbeat story)")(
      "story", po::value<std::string>()->default_value("acks1-leader-crash"),
      "acks1-leader-crash (a Kafka failure) or heartbeat (the bare simulated world)")(
      "out", po::value<std::string>(), "directory for the run's trace store (demo-SEED.db; acks1-leader-crash only)");
  po::variables_map vm;
  po::store(po::command_line_parser(args).options(desc).run(), vm);
  if (vm.count("help")) {
    o.help = true;
    o.help_text = text_of(desc);
    return;
  }
  po::notify(vm);
  o.seed = parse_seed(vm["seed"].as<std::string>());
  o.trace = vm["trace"].as<bool>();
  o.story = vm["story"].as<std::string>();
  if (o.story != "heartbeat" && o.story != "acks1-leader-crash")
    throw UsageError("unknown story '" + o.story + "' (acks1-leader-crash, heartbeat)");
  o.out = optional_string(vm, "out");
  if (o.out && o.story != "acks1-leader-crash") throw UsageError("--out: the heartbeat story has no Kafka run to store");
}

}  // namespace

CliOptions parse_cli(const std::vector<std::string>& all) {
  CliOptions o;
  if (all.empty()) return o;  // Command::usage
  if (all[0] == "--help" || all[0] == "-h" || all[0] == "help") {
    o.command = Command::help;
    return o;
  }
  if (all[0] == "--version") {
    o.command = Command::version;
    return o;
  }
  o.name = all[0];
  const std::vector<std::string> args(all.begin() + 1, all.end());
  using Parse = void (*)(const std::vector<std::string>&, CliOptions&);
  static const std::pair<const char*, std::pair<Command, Parse>> kCommands[] = {
      {"demo", {Command::demo, parse_demo}},         {"run", {Command::run, parse_run}},
      {"sweep", {Command::sweep, parse_sweep}},      {"describe", {Command::describe, parse_describe}},
      {"dump-log", {Command::dump_log, parse_dump_log}}, {"report", {Command::report, parse_report}},
      {"hunt", {Command::hunt, parse_passthrough}},      {"shrink", {Command::shrink, parse_passthrough}},
      {"consumer-groups", {Command::consumer_groups, parse_consumer_groups}},
  };
  o.command = Command::unknown;
  for (const auto& [word, cmd] : kCommands) {
    if (o.name != word) continue;
    o.command = cmd.first;
    cmd.second(args, o);
  }
  return o;
}

}  // namespace ksim::cli
