// Fuzz target 3: the run-store readers (engine/export/run_store.h) on foreign,
// corrupt, truncated or empty files.
//
// The input is written, as it is, to a per-process file in /dev/shm (or
// $TMPDIR): once as RUN.db, read by summary(), describe_at() (end of run and
// at a time) and dump_log() for a few replicas; once as RUN.pb, read by
// summary()'s Protobuf trace-stream reader. Each reader must return text or
// throw exporter::RunStoreError — any other exception, a crash, a leak or a
// sanitizer report is a failure.
#include <google/protobuf/stubs/logging.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <functional>
#include <string>

#include "engine/export/run_store.h"
#include "tests/fuzz/fuzz_common.h"

using namespace ksim;

namespace {

std::string scratch(const char* ext) {
  const char* dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : (std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp");
  return std::string(dir) + "/ksim-fuzz-run-store-" + std::to_string(getpid()) + ext;
}

void write_file(const std::string& path, const uint8_t* data, size_t size) {
  FILE* f = std::fopen(path.c_str(), "wb");
  KSIM_FUZZ_CHECK(f != nullptr, "cannot write " + path);
  if (size) KSIM_FUZZ_CHECK(std::fwrite(data, 1, size, f) == size, "short write to " + path);
  std::fclose(f);
}

void expect_text_or_run_store_error(const char* what, const std::function<std::string()>& read) {
  try {
    (void)read();
  } catch (const exporter::RunStoreError&) {
    // the project's error: fine
  } catch (const std::exception& e) {
    ksim::fuzz::fail(std::string(what) + " threw a non-RunStoreError: " + e.what());
  }
}

struct Cleanup {
  std::string db = scratch(".db"), pb = scratch(".pb");
  ~Cleanup() {
    std::remove(db.c_str());
    std::remove(pb.c_str());
  }
};

}  // namespace

// libprotobuf logs every invalid UTF-8 string it meets before the parse fails
// (and summary() throws): quiet, or the log is nothing else.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  google::protobuf::SetLogHandler(nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Cleanup files;  // one fixed name per process, removed at exit
  if (size > 1 << 20) return 0;
  write_file(files.db, data, size);
  expect_text_or_run_store_error("summary(.db)", [&] { return exporter::summary(files.db); });
  expect_text_or_run_store_error("describe_at(end)", [&] { return exporter::describe_at(files.db, std::nullopt); });
  expect_text_or_run_store_error("describe_at(t)", [&] { return exporter::describe_at(files.db, 1500.0); });
  for (int32_t broker : {1, 2, 3})
    expect_text_or_run_store_error("dump_log", [&] { return exporter::dump_log(files.db, broker, "orders", 0); });
  expect_text_or_run_store_error("dump_log(t)", [&] { return exporter::dump_log(files.db, 1, "t", 0); });

  write_file(files.pb, data, size);
  expect_text_or_run_store_error("summary(.pb)", [&] { return exporter::summary(files.pb); });
  return 0;
}
