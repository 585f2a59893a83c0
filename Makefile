# The two newcomer commands are `make run` and `make test`; the rest serve them.
JOBS ?= $(shell nproc)
BUILD_TYPE_release := RelWithDebInfo
CMAKE_FLAGS ?=

.PHONY: deps build release debug run test test-unit clean format

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

format:
	git ls-files '*.cc' '*.h' | xargs clang-format -i

clean:
	rm -rf build
