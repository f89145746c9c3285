// Fuzz target 4: the ksim command line (bindings/cli_options.h, Boost.Program_options).
//
// The input is argv[1..], NUL-separated ("describe\0run.db\0--at\0-1e9").
// parse_cli must return a struct or throw boost::program_options::error or
// cli::UsageError; anything else, a crash, a leak or a sanitizer report is a
// failure. A parsed command line must also be coherent: --help has a help
// text, sweep has --jobs >= 1 and either --report or a checked A:B --seeds,
// hunt / shrink pass every later argument through, demo has a known story.
#include <boost/program_options/errors.hpp>

#include <cstddef>
#include <cstdint>
#include <exception>
#include <string>
#include <typeinfo>
#include <vector>

#include "bindings/cli_options.h"
#include "tests/fuzz/fuzz_common.h"

using namespace ksim;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 4096) return 0;
  std::vector<std::string> args;
  std::string cur;
  for (size_t i = 0; i < size; ++i) {
    if (data[i] == 0) {
      args.push_back(cur);
      cur.clear();
    } else {
      cur.push_back(static_cast<char>(data[i]));
    }
  }
  if (size > 0) args.push_back(cur);
  try {
    const cli::CliOptions o = cli::parse_cli(args);
    if (o.help) {
      KSIM_FUZZ_CHECK(!o.help_text.empty(), "--help without a help text");
      return 0;
    }
    switch (o.command) {
      case cli::Command::usage: KSIM_FUZZ_CHECK(args.empty(), "usage for a non-empty command line"); break;
      case cli::Command::run: KSIM_FUZZ_CHECK(!o.name.empty(), "run without its name"); break;
      case cli::Command::sweep:
        KSIM_FUZZ_CHECK(o.jobs >= 1, "sweep with --jobs < 1");
        KSIM_FUZZ_CHECK(o.sweep_report.has_value() != (o.seeds.find(':') != std::string::npos),
                        "sweep without exactly one of --report and an A:B --seeds");
        break;
      case cli::Command::hunt:
      case cli::Command::shrink:
        KSIM_FUZZ_CHECK(o.passthrough.size() + 1 == args.size(), "hunt/shrink dropped an argument");
        break;
      case cli::Command::demo:
        KSIM_FUZZ_CHECK(o.story == "heartbeat" || o.story == "acks1-leader-crash", "demo with an unknown story");
        break;
      case cli::Command::consumer_groups:
        KSIM_FUZZ_CHECK(!o.at || *o.at >= 0, "consumer-groups with --at < 0");
        break;
      default: break;
    }
  } catch (const boost::program_options::error&) {
    // the project's error for a bad command line: fine
  } catch (const cli::UsageError&) {
    // likewise
  } catch (const std::exception& e) {
    ksim::fuzz::fail(std::string("parse_cli threw ") + typeid(e).name() + ": " + e.what());
  }
  return 0;
}
