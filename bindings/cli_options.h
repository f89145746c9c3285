// The `ksim` command line, parsed (Boost.Program_options) into a struct, with
// no I/O and no side effects: ksim_cli.cc runs what it says, and
// tests/fuzz/fuzz_cli.cc fuzzes it.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace ksim::cli {

// A command line refused in ksim's own words (boost::program_options::error
// covers the rest). The CLI prints "ksim COMMAND: <what>" and exits 2.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

enum class Command {
  usage, help, version, unknown, demo, run, sweep, describe, dump_log, report, hunt, shrink, consumer_groups
};

struct CliOptions {
  Command command = Command::usage;  // usage: no arguments; help: `ksim --help`
  std::string name;                  // the command word as typed ("dump-log")
  bool help = false;                 // `ksim COMMAND --help`: print help_text, exit 0
  std::string help_text;             // the command's option table
  // demo
  uint64_t seed = 1;
  bool trace = false;
  std::string story;
  // run, sweep
  std::string file;
  std::optional<std::string> out;
  std::string seeds;  // sweep: "A:B", checked (non-negative integers, A <= B)
  int jobs = 2;
  std::optional<std::string> scheduler;
  std::optional<std::string> sweep_db;      // sweep --db DB: keep every seed's row
  std::optional<std::string> sweep_report;  // sweep --report DB: print a sweep database (no FILE, no --seeds)
  std::optional<std::string> sweep_html;    // sweep --report DB --html OUT.html: and write it as a page
  // hunt, shrink: the arguments after the command word, untouched (--help
  // included): ksim.hunt / ksim.shrink parse them
  std::vector<std::string> passthrough;
  // demo --out DIR: the run's trace store DIR/demo-SEED.db (out, above)
  // describe, dump-log, report, consumer-groups
  std::string db;
  std::optional<double> at;
  int32_t broker = 0;
  std::string topic;
  int32_t partition = 0;
  std::optional<std::string> perfetto;
  std::optional<std::string> html;      // report --html OUT.html: the HTML run report (ksim.html_report)
  std::optional<std::string> timeline;  // report --timeline OUT.html: the interactive timeline (ksim.timeline)
  std::optional<std::string> group;     // consumer-groups --group G
};

// Parses argv[1..]. Throws boost::program_options::error or UsageError on a bad
// command line; never touches files (whether FILE / RUN.db can be read is the
// caller's to check).
CliOptions parse_cli(const std::vector<std::string>& args);

}  // namespace ksim::cli
