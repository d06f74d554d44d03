# SPDX-License-Identifier: Apache-2.0 OR MIT
# What a user types: `make run` builds and starts RateWatch on the embedded store;
# `make test` installs what the tests need, runs every suite and cleans up after itself.

SHELL := /bin/bash
BUILD ?= build
BUILD_SAN ?= build-san
VENV ?= $(BUILD)/venv
JOBS ?= $(shell nproc)

.PHONY: all build build-san deps deps-test run test format format-check bench fuzz clean install \
        docker-test

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

# RateWatch against nginx's limit_req; RateWatch on Redis against redis-benchmark; what
# metrics and authentication cost a check; what the Python client adds to one.
bench: deps-test build
	@bench/run.sh
	@bench/redis.sh
	@bench/costs.sh
	@bench/clients.sh

PREFIX ?= /usr/local

# The binary, the systemd unit and a default environment file (DESTDIR for staging).
install: build
	@PREFIX="$(PREFIX)" DESTDIR="$(DESTDIR)" BUILD="$(BUILD)" scripts/install.sh

# Builds the Dockerfile with podman and tries the image's binary (scripts/docker-test.sh).
docker-test:
	@scripts/docker-test.sh

clean:
	rm -rf $(BUILD) $(BUILD_SAN)
