# The two newcomer commands are `make run` and `make test`; the rest serve them.
JOBS ?= $(shell nproc)
BUILD_TYPE_release := RelWithDebInfo
CMAKE_FLAGS ?=

.PHONY: deps build release debug run test test-asan test-tsan clean format bench bench-quick \
        fuzz fuzz-build

deps:
	@./scripts/install-deps.sh

build/release/build.ninja:
	cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS)

build/debug/build.ninja:
	cmake -S . -B build/debug -G Ninja -DCMAKE_BUILD_TYPE=Debug $(CMAKE_FLAGS)

release: deps build/release/build.ninja
	cmake --build build/release -j $(JOBS)

build: release

debug: deps build/debug/build.ninja
	cmake --build build/debug -j $(JOBS)

run: release
	./build/release/memkv -l 127.0.0.1 -p 11211

test: release
	./tests/clients/install.sh
	cd build/release && ctest --output-on-failure -j $(JOBS) --timeout 600

# Sanitizer builds (clang): every test, with the servers the tests start
# built the same way. A sanitizer report aborts the process, so it fails the test.
SAN_ENV := ASAN_OPTIONS=abort_on_error=1:detect_leaks=1 \
           UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
           TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1

build/asan/build.ninja:
	cmake -S . -B build/asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_COMPILER=clang++ \
	  -DMEMKV_SANITIZE=address,undefined $(CMAKE_FLAGS)

build/tsan/build.ninja:
	cmake -S . -B build/tsan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_COMPILER=clang++ \
	  -DMEMKV_SANITIZE=thread $(CMAKE_FLAGS)

test-asan: deps build/asan/build.ninja
	cmake --build build/asan -j $(JOBS)
	./tests/clients/install.sh
	cd build/asan && $(SAN_ENV) ctest --output-on-failure -j $(JOBS) --timeout 900

# Under TSan every test but the real-client ones (label clients: Debian's and npm's
# memcached clients against the server, which the release and ASan runs cover): they add
# protocol coverage, not threads, and took 74 s of a TSan run on 2 cores (CI must stay
# under 45 min).
test-tsan: deps build/tsan/build.ninja
	cmake --build build/tsan -j $(JOBS)
	cd build/tsan && $(SAN_ENV) ctest --output-on-failure -j $(JOBS) --timeout 900 -LE '^clients$$'

# Fuzzing (clang, libFuzzer): every library is built with coverage and
# ASan/UBSan, the targets with libFuzzer's main. `make fuzz` runs each target
# FUZZ_SECONDS on its seeds in fuzz/corpus/<target> (read only) plus what it
# learned before in build/fuzz/corpus/<target>; a crash input lands in
# build/fuzz/crashes/ and fails the run.
FUZZ_SECONDS ?= 60
FUZZ_MAX_LEN ?= 32768
FUZZ_TARGETS := frame_parser_fuzzer text_parser_fuzzer connection_input_fuzzer sasl_fuzzer \
                cluster_map_fuzzer dcp_request_fuzzer

build/fuzz/build.ninja:
	cmake -S . -B build/fuzz -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_COMPILER=clang++ \
	  -DMEMKV_FUZZ=ON -DMEMKV_BUILD_TESTS=OFF -DMEMKV_SANITIZE=fuzzer-no-link,address,undefined \
	  $(CMAKE_FLAGS)

# Only the targets (and the libraries they link): the server and tools are
# built and tested by the other builds, and CI's time is better spent fuzzing.
fuzz-build: deps build/fuzz/build.ninja
	cmake --build build/fuzz -j $(JOBS) --target $(FUZZ_TARGETS)

fuzz: fuzz-build
	@mkdir -p build/fuzz/crashes
	@$(MAKE) --no-print-directory -j $(JOBS) $(addprefix fuzz-run-,$(FUZZ_TARGETS))

# One target (libFuzzer is single-threaded: `make fuzz` runs JOBS at once), its output in
# build/fuzz/TARGET.log, shown when it fails.
fuzz-run-%:
	@mkdir -p build/fuzz/corpus/$*
	@echo "fuzz: $* for $(FUZZ_SECONDS) s"
	@UBSAN_OPTIONS=print_stacktrace=1 ./build/fuzz/fuzz/$* -max_total_time=$(FUZZ_SECONDS) \
	  -max_len=$(FUZZ_MAX_LEN) -print_final_stats=1 -artifact_prefix=build/fuzz/crashes/$*- \
	  build/fuzz/corpus/$* fuzz/corpus/$* >build/fuzz/$*.log 2>&1 \
	  || { tail -80 build/fuzz/$*.log; echo "fuzz: $* FAILED"; exit 1; }
	@echo "fuzz: $* done, $$(grep -m1 '^stat::number_of_executed_units' build/fuzz/$*.log)"

# Benchmarks: memkv against Debian's memcached, side by side (never part of `make test`).
bench: release
	./bench/run.sh --suite full

bench-quick: release
	./bench/run.sh --suite quick

format:
	git ls-files '*.cc' '*.h' | xargs clang-format -i

clean:
	rm -rf build
