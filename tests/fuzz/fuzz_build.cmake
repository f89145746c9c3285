# Injected into ksim's top-level project by `make fuzz` (never by `make test`):
#
#   cmake -S . -B build-fuzz -DCMAKE_CXX_COMPILER=clang++ \
#         -DCMAKE_PROJECT_INCLUDE=$PWD/tests/fuzz/fuzz_build.cmake
#
# CMake includes this file right after the top-level project() call, so the
# main CMakeLists.txt needs no fuzzing option: everything compiled in this
# build folder gets libFuzzer's coverage instrumentation plus ASan and UBSan
# (-fsanitize=fuzzer-no-link,address,undefined; any UB report aborts), and the
# fuzz targets (tests/fuzz/CMakeLists.txt) are added once the whole top-level
# directory has been read, when every ksim library target exists. Only the
# libraries the fuzz targets link are ever built (`cmake --build --target`).
if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  message(FATAL_ERROR "the fuzz build needs clang (libFuzzer): -DCMAKE_CXX_COMPILER=clang++")
endif()
set(KSIM_FUZZ_SANITIZERS "address,undefined")
add_compile_options(-fsanitize=fuzzer-no-link,${KSIM_FUZZ_SANITIZERS} -fno-sanitize-recover=all
                    -fno-omit-frame-pointer -O1 -gline-tables-only -Wno-unknown-warning-option)
add_link_options(-fsanitize=${KSIM_FUZZ_SANITIZERS})
cmake_language(DEFER DIRECTORY ${CMAKE_SOURCE_DIR}
               CALL add_subdirectory ${CMAKE_CURRENT_LIST_DIR} ${CMAKE_BINARY_DIR}/tests/fuzz)
