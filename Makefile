# ksim's front door. Two commands matter:
#   make demo   install what is missing, build, run the demo story
#   make test   install what is missing, build, run every suite
# and `make bench` prints the benchmark figures (name=value lines).
BUILD  ?= build
JOBS   ?= 2
CMAKE_FLAGS ?= -DCMAKE_BUILD_TYPE=Release
# ccache hits across checkouts (CI builds a fresh clone in another folder):
# paths under the checkout are hashed relative to it, and the compile
# directory is left out of the hash of -g builds.
export CCACHE_BASEDIR   := $(CURDIR)
export CCACHE_NOHASHDIR := 1

.PHONY: all deps configure build demo test test-asan bench clean fuzz

all: build

deps:
	@.ci/install-deps

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) $(CMAKE_FLAGS)

configure: deps $(BUILD)/CMakeCache.txt

build: configure
	cmake --build $(BUILD) -j$(JOBS)

demo: build
	./ksim demo --seed 7

# ctest runs every suite (Catch2 now; pytest and notebooks register as ctest
# tests when they exist), so its summary line is the last thing printed.
test: build
	cd $(BUILD) && ctest -j$(JOBS) --output-on-failure

# The whole suite again under AddressSanitizer + UndefinedBehaviorSanitizer, in
# its own build folder (Debug, -O0: the build the determinism check compares
# with Release). Any report aborts the test that caused it.
ASAN_BUILD ?= build-asan
SANITIZER_ENV = ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1:check_initialization_order=1:detect_stack_use_after_return=0 \
                UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
test-asan: deps
	@[ -f $(ASAN_BUILD)/CMakeCache.txt ] || cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DKSIM_SANITIZE=address,undefined
	cmake --build $(ASAN_BUILD) -j$(JOBS)
	cd $(ASAN_BUILD) && $(SANITIZER_ENV) ctest -j$(JOBS) --output-on-failure

# libFuzzer targets (tests/fuzz/README.md) in their own clang build folder with
# ASan + UBSan: each runs FUZZ_SECONDS on a copy of its seed corpus; any crash,
# leak or sanitizer report fails. Opt-in: `make test` never builds them.
FUZZ_BUILD   ?= build-fuzz
FUZZ_SECONDS ?= 30
FUZZ_TARGETS ?= config record_batch run_store cli
fuzz: deps
	JOBS=$(JOBS) tests/fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

bench: build
	@bench/run_all.sh $(BUILD)

clean:
	rm -rf $(BUILD)
