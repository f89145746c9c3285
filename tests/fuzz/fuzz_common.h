// Helpers shared by ksim's libFuzzer targets.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>

namespace ksim::fuzz {

// A broken property: print it and abort, so libFuzzer saves the input as a crash.
[[noreturn]] inline void fail(const std::string& what) {
  std::fprintf(stderr, "\n*** ksim fuzz property violated: %s\n", what.c_str());
  std::fflush(stderr);
  std::abort();
}

#define KSIM_FUZZ_CHECK(cond, msg)                                                        \
  do {                                                                                    \
    if (!(cond)) ::ksim::fuzz::fail(std::string(#cond " -- ") + std::string(msg));      \
  } while (0)

}  // namespace ksim::fuzz
