# libFuzzer targets (see README.md). Included into the main project's top-level
# directory only by fuzz_build.cmake (deferred to the end of that directory,
# when every ksim library exists), in build-fuzz/; the normal build never reads
# this file. The ksim libraries are compiled with -fsanitize=fuzzer-no-link
# (fuzz_build.cmake); the executables get libFuzzer's main.
set(KSIM_FUZZ_DIR ${CMAKE_CURRENT_LIST_DIR})
function(ksim_fuzz_target name)
  add_executable(fuzz_${name} ${KSIM_FUZZ_DIR}/fuzz_${name}.cc ${ARGN})
  set_target_properties(fuzz_${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests/fuzz)
  target_include_directories(fuzz_${name} PRIVATE ${PROJECT_SOURCE_DIR})
  target_link_options(fuzz_${name} PRIVATE -fsanitize=fuzzer)
  target_compile_options(fuzz_${name} PRIVATE -fsanitize=fuzzer)
endfunction()

# 1. config parser and name validation
ksim_fuzz_target(config)
target_link_libraries(fuzz_config PRIVATE ksim_common ksim_controller)

# 2. record batch decoder and log recovery on a corrupted simulated disk
ksim_fuzz_target(record_batch)
target_link_libraries(fuzz_record_batch PRIVATE ksim_storage)

# 3. run-store readers (SQLite and Protobuf stream) on foreign files
ksim_fuzz_target(run_store)
target_link_libraries(fuzz_run_store PRIVATE ksim_export)

# 4. CLI argument parsing (bindings/cli_options.cc, Boost.Program_options)
ksim_fuzz_target(cli ${PROJECT_SOURCE_DIR}/bindings/cli_options.cc)
target_link_libraries(fuzz_cli PRIVATE Boost::program_options)

add_custom_target(fuzz_targets DEPENDS fuzz_config fuzz_record_batch fuzz_run_store fuzz_cli)
