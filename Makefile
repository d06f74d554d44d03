# SPDX-License-Identifier: Apache-2.0 OR MIT
# What a user types: `make run` builds and starts RateWatch on the embedded store;
# `make test` installs what the tests need, runs every suite and cleans up after itself.

SHELL := /bin/bash
BUILD ?= build
BUILD_SAN ?= build-san
VENV ?= $(BUILD)/venv
JOBS ?= $(shell nproc)

.PHONY: all build build-san deps deps-test run test test-unit test-integration test-clients \
        format format-check bench fuzz clean docs-config

all: build

deps:
	@scripts/install-deps.sh build

deps-test:
	@scripts/install-deps.sh test

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build $(BUILD) -j $(JOBS) --target ratewatch

build-san: deps
	@cmake -S . -B $(BUILD_SAN) -DCMAKE_BUILD_TYPE=Debug -DRATEWATCH_SANITIZE=ON >/dev/null
	@cmake --build $(BUILD_SAN) -j $(JOBS)

run: build
	$(BUILD)/ratewatch

test: deps-test
	@scripts/test.sh

format:
	@clang-format -i $$(git ls-files 'src/*.[ch]' 'tests/*.[ch]' 'fuzz/*.c')

format-check:
	@scripts/format-check.sh

# FUZZ_SECONDS of libFuzzer on the /v1/check body parser and API keys (scripts/fuzz.sh).
FUZZ_SECONDS ?= 60
fuzz:
	@scripts/fuzz.sh $(FUZZ_SECONDS)

bench: deps-test build
	@bench/run.sh

clean:
	rm -rf $(BUILD) $(BUILD_SAN)
