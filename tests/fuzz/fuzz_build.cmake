# Injected into ksim's top-level project by `make fuzz` (never by `make test`):
#
#   cmake -S . -B build-fuzz -DCMAKE_CXX_COMPILER=clang++ \
#         -DCMAKE_PROJECT_INCLUDE=$PWD/tests/fuzz/fuzz_build.cmake
#
# CMake includes this file right after the top-level project() call, so the
# main CMakeLists.txt needs no fuzzing option: everything compiled in this
# build folder gets libFuzzer's coverage instrumentation plus ASan and UBSan
# (-fsanitize=fuzzer-no-link,address,undefined; any UB report aborts), and the
# fuzz targets (tests/fuzz/fuzz_targets.cmake) are added once the whole
# top-level directory has been read, when every ksim library target exists
# (deferred: add_subdirectory is not allowed there, include is). Only the
# libraries the fuzz targets link are ever built (`cmake --build --target`).
if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  message(FATAL_ERROR "the fuzz build needs clang (libFuzzer): -DCMAKE_CXX_COMPILER=clang++")
endif()
set(KSIM_FUZZ_SANITIZERS "address,undefined")
add_compile_options(-fsanitize=fuzzer-no-link,${KSIM_FUZZ_SANITIZERS} -fno-sanitize-recover=all
                    -fno-omit-frame-pointer -O1 -gline-tables-only -Wno-unknown-warning-option)
add_link_options(-fsanitize=${KSIM_FUZZ_SANITIZERS})
# (A deferred call evaluates its arguments when it runs, in the top-level
# directory: keep the path in a variable.)
set(KSIM_FUZZ_TARGETS_FILE ${CMAKE_CURRENT_LIST_DIR}/fuzz_targets.cmake)
cmake_language(DEFER CALL include ${KSIM_FUZZ_TARGETS_FILE})
