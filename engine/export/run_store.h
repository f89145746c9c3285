// RunStore: a run's trace store — one SQLite file per run (schema in
// proto/README.md), written by `sim.export(path)` / `ksim run --out DIR` and
// read back by `ksim describe`, `ksim dump-log`, `ksim report` and pandas.
//
// Writing never changes the simulation (no simulated I/O, no trace events):
// exporting twice gives the same rows. Errors (unwritable path, not a ksim
// run file) throw RunStoreError with a message naming the file.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>

#include "engine/check/verdict.h"
#include "engine/server/cluster.h"

namespace ksim::exporter {

class RunStoreError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct ScenarioInfo {
  std::string file;
  uint64_t seed = 0;
};

struct ExportOptions {
  const check::Verdict* verdict = nullptr;      // stored when given
  std::optional<ScenarioInfo> scenario;
  size_t max_trace_events = 200'000;            // the newest ones the kernel kept
};

// Writes the run to `path` (replacing an existing file).
void export_run(Cluster& cluster, const std::string& path, const ExportOptions& options = {});

// ---- reading a run file ---------------------------------------------------------------------
// kafka-topics.sh --describe of every partition as it stood at `at_ms` (the
// end of the run when nullopt), rebuilt from the elections and ISR changes.
std::string describe_at(const std::string& path, std::optional<double> at_ms);
// kafka-dump-log.sh --print-data-log of one replica's log at export time.
std::string dump_log(const std::string& path, int32_t broker, const std::string& topic, int32_t partition);
// The run summary: seed, trace hash, events, verdict (from the RunSummary protobuf).
std::string summary(const std::string& path);

}  // namespace ksim::exporter
