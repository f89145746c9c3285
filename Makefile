# ksim's front door. Two commands matter:
#   make demo   install what is missing, build, run the demo story
#   make test   install what is missing, build, run every suite
# and `make bench` prints the benchmark figures (name=value lines).
BUILD  ?= build
JOBS   ?= 2
CMAKE_FLAGS ?= -DCMAKE_BUILD_TYPE=Release

.PHONY: all deps configure build demo test bench clean

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

bench: build
	@bench/run_all.sh $(BUILD)

clean:
	rm -rf $(BUILD)
