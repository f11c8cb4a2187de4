# The README's two commands are `make demo` and `make test`; each sets up a fresh Debian
# bookworm machine (scripts/install-deps.sh) before it builds.
JOBS    ?= 2
BUILD   ?= build
ASAN    ?= build-asan
PREFIX  ?= /usr/local
CMAKE_COMMON = -DCMAKE_BUILD_TYPE=Release

.PHONY: deps configure configure-test configure-asan build demo test test-release test-asan bench bench-big docs install clean fuzz tsan

deps:
	@bash scripts/install-deps.sh

configure: deps
	@cmake -S . -B $(BUILD) $(CMAKE_COMMON) -DCOMPRESS_BUILD_BENCHMARKS=OFF -DCOMPRESS_EXAMPLE_OPT= -DCOMPRESS_TOOL_OPT= >/dev/null

# make test's release configuration: the same directory, examples and the tool at -O1
# (examples/CMakeLists.txt, tools/CMakeLists.txt).
configure-test: deps
	@cmake -S . -B $(BUILD) $(CMAKE_COMMON) -DCOMPRESS_BUILD_BENCHMARKS=OFF -DCOMPRESS_EXAMPLE_OPT=-O1 -DCOMPRESS_TOOL_OPT=-O1 >/dev/null

build: configure
	@cmake --build $(BUILD) -j $(JOBS)

## The main job: the end-to-end compression demo.
demo: configure
	@cmake --build $(BUILD) -j $(JOBS) --target demo_program
	@cmake --build $(BUILD) --target run_demo

## The whole test suite: a release build and an ASan+UBSan build, each with every test.
## The two configurations build and run side by side (two jobs each), so neither leaves a core
## idle while its last TU compiles or its slowest test runs; each line of output is prefixed
## with its configuration. `make test-release` / `make test-asan` run one of them.
## The sanitizer build is -O0: -fsanitize=address,undefined at -O1 triples the compile time of a
## template-heavy TU, and compile time is what this suite costs. Without debug information
## (-g0, 11% less compile time): reports name functions, not lines; `make test-asan ASAN_G=-g1`
## for file:line.
ASAN_G ?= -g0
ASAN_CONFIG = -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O0 $(ASAN_G)" \
              -DCOMPRESS_SANITIZE=ON -DCOMPRESS_BUILD_BENCHMARKS=OFF -DCOMPRESS_BUILD_EXAMPLES=OFF
ASAN_ENV = ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

test: configure-test configure-asan
	@bash scripts/run-tests.sh "$(BUILD)" "$(ASAN)" "$(JOBS)"

test-release: build
	@ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)

configure-asan: deps
	@cmake -S . -B $(ASAN) $(ASAN_CONFIG) >/dev/null

test-asan: configure-asan
	@cmake --build $(ASAN) -j $(JOBS)
	@$(ASAN_ENV) ctest --test-dir $(ASAN) --output-on-failure -j $(JOBS)

bench: deps
	@cmake -S . -B $(BUILD)-bench $(CMAKE_COMMON) -DCOMPRESS_BUILD_BENCHMARKS=ON -DCOMPRESS_BUILD_TESTS=OFF >/dev/null
	@cmake --build $(BUILD)-bench -j $(JOBS)
	@bash benchmarks/run.sh $(BUILD)-bench

## Big-checkpoint benchmark (issue 10): an 8 GiB synthetic bf16 checkpoint through the CLI
## (int8, int4, 2:4) next to cp; GB/s and peak RSS. Minutes and ~24 GiB of free disk, so not
## part of `make bench`. TENSORS=4 scales it down.
bench-big: configure
	@cmake --build $(BUILD) -j $(JOBS) --target compress_cli
	@flock /tmp/compress-bench.lock bash benchmarks/run_reliability.sh $(BUILD)

## libFuzzer (clang): builds fuzz/ into $(FUZZ) and runs each target for FUZZ_SECONDS.
## Not part of `make test` (which replays the corpora and regressions with g++ instead).
FUZZ ?= build-fuzz
FUZZ_SECONDS ?= 60
fuzz: deps
	@cmake -S fuzz -B $(FUZZ) -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(FUZZ) -j $(JOBS)
	@FUZZ_SECONDS=$(FUZZ_SECONDS) bash fuzz/run_fuzz.sh $(FUZZ)

## ThreadSanitizer: the thread-safety test (tests/test_threads.cpp) built with -fsanitize=thread
## in its own build directory. Not part of `make test`.
TSAN ?= build-tsan
tsan: deps
	@cmake -S . -B $(TSAN) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g" \
	    -DCMAKE_CXX_FLAGS="-fsanitize=thread -fno-omit-frame-pointer" -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=thread" \
	    -DCOMPRESS_BUILD_BENCHMARKS=OFF -DCOMPRESS_BUILD_EXAMPLES=OFF -DCOMPRESS_BUILD_TOOLS=OFF >/dev/null
	@cmake --build $(TSAN) -j $(JOBS) --target test_threads
	@TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" ctest --test-dir $(TSAN) -R '^test_threads:' --output-on-failure

docs:
	@bash scripts/install-deps.sh --with-docs
	@doxygen docs/Doxyfile

install: build
	@cmake --install $(BUILD) --prefix $(PREFIX)

clean:
	@rm -rf $(BUILD) $(ASAN) $(BUILD)-bench
