# edgeroute: the two commands a new machine needs are `make demo` and
# `make test`; everything they need is installed by scripts/setup.sh.
SHELL := /bin/bash
BUILD ?= build
BUILD_ASAN ?= build-asan
BUILD_TYPE ?= RelWithDebInfo
VENV ?= .venv
PYTHON := $(abspath $(VENV))/bin/python
JOBS ?= $(shell nproc)
CMAKE_ARGS ?=

.PHONY: all setup configure build build-asan test test-unit test-sanitize demo format tidy clean help

all: build

help:
	@echo "make demo           set up, build, then the whole pipeline: corpus, dapt, train, compress, calibrate, serve"
	@echo "make test           set up, build, run every test, then the unit tests under ASan+UBSan"
	@echo "make build          set up and build ./$(BUILD)/bin/edgeroute (+ edgeroute-train with libtorch)"
	@echo "make test-unit      the unit tests only (about a minute)"
	@echo "make test-sanitize  the unit tests under AddressSanitizer + UndefinedBehaviorSanitizer"
	@echo "make format | tidy  clang-format in place | clang-tidy report"

setup:
	@scripts/setup.sh

configure: setup
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DEDGEROUTE_PYTHON=$(PYTHON) $(CMAKE_ARGS)

build: configure
	cmake --build $(BUILD) -j $(JOBS)

build-asan: setup
	cmake -S . -B $(BUILD_ASAN) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DEDGEROUTE_PYTHON=$(PYTHON) \
	  -DEDGEROUTE_SANITIZE_ADDRESS=ON -DEDGEROUTE_SANITIZE_UNDEFINED=ON -DEDGEROUTE_BUILD_BENCH=OFF $(CMAKE_ARGS)
	cmake --build $(BUILD_ASAN) -j $(JOBS) --target unit_tests

test: build
	ctest --test-dir $(BUILD) -j $(JOBS) --output-on-failure
	$(MAKE) --no-print-directory test-sanitize

test-unit: build
	ctest --test-dir $(BUILD) -j $(JOBS) -L unit --output-on-failure

test-sanitize: build-asan
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --test-dir $(BUILD_ASAN) -j $(JOBS) -L unit --output-on-failure

# The demo needs only the two binaries, not the test suites.
demo: configure
	cmake --build $(BUILD) -j $(JOBS) --target edgeroute edgeroute-train
	@scripts/demo.sh $(BUILD)/bin

format:
	git ls-files '*.cc' '*.h' | xargs clang-format -i

tidy: configure
	git ls-files 'src/*.cc' | xargs clang-tidy -p $(BUILD) --quiet

clean:
	rm -rf $(BUILD) $(BUILD_ASAN)
