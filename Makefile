# sandbox-host: `make run` starts the host, `make test` runs the whole suite.
# Both install what they need first (Debian packages through apt, a PyPI validator through pip).

SHELL := /bin/bash
CONFIG ?= debug
DATA_DIR ?= ./data
HOST ?= 127.0.0.1
PORT ?= 8000
SWIFT_BUILD_FLAGS ?=

# Debian packages the build links against, and what the sandbox runtime and its tests use.
APT_PACKAGES := pkg-config libsqlite3-dev libarchive-dev git e2fsprogs libnftables-dev nftables iproute2 conntrack
APT_TEST_PACKAGES := $(APT_PACKAGES) procps python3 busybox-static curl nodejs chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test test-python test-schemathesis build deps test-deps openapi clean bench

run: deps build
	@echo "Starting sandbox-host on http://$(HOST):$(PORT) (data in $(DATA_DIR); Ctrl-C stops it)"
	.build/$(CONFIG)/sandbox-host serve --host $(HOST) --port $(PORT) --data-dir $(DATA_DIR)

test: test-deps
	swift build --build-tests $(SWIFT_BUILD_FLAGS)
	python3 -m openapi_spec_validator openapi.yaml
	@# Two runs: the light suites in parallel, then the heavy ones (HeavySuites, one after another)
	@# on an otherwise quiet machine, so that neither's timing checks measure the other's load.
	@# Each run has a time limit: a hang is named and killed instead of using up CI's 90 minutes.
	SUITE_TIME_LIMIT=900 scripts/run-suite --skip HeavySuites $(SWIFT_BUILD_FLAGS)
	SUITE_TIME_LIMIT=1800 scripts/run-suite --filter HeavySuites $(SWIFT_BUILD_FLAGS)
	$(MAKE) --no-print-directory test-python
	$(MAKE) --no-print-directory test-schemathesis

# The Python SDK's tests (clients/python) against a live host: the debug binary built above, on a
# free port with a temp data directory, stopped and removed however the run ends. About 40 s.
test-python:
	clients/python/tests/run.sh

# openapi.yaml against the live debug host: schemathesis with every check, a fixed seed and a
# bounded time (scripts/schemathesis.toml says where a check is narrowed, and why). About 100 s.
test-schemathesis:
	scripts/schemathesis-check

build:
	swift build -c $(CONFIG) --product sandbox-host $(SWIFT_BUILD_FLAGS)
	swift build -c $(CONFIG) --product sandbox-init $(SWIFT_BUILD_FLAGS)

deps:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "Installing Debian packages: $$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

test-deps:
	@missing=$$(for p in $(APT_TEST_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "Installing Debian packages: $$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi
	@python3 -c "import openapi_spec_validator" 2>/dev/null || python3 -m pip install -q openapi-spec-validator
	@python3 -c "import httpx, pytest" 2>/dev/null || python3 -m pip install -q httpx pytest
	@python3 -c "import mcp.client.streamable_http" 2>/dev/null || python3 -m pip install -q mcp
	@python3 -c "import schemathesis" 2>/dev/null || python3 -m pip install -q "schemathesis>=4.32,<5"

openapi:
	python3 -m openapi_spec_validator openapi.yaml

clean:
	rm -rf .build

# The sandbox benchmark: physical floors beside ours, one table (see benchmarks/RESULTS.md).
bench: deps
	@command -v bwrap >/dev/null || ($(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq bubblewrap)
	swift build -c release --product sandbox-host $(SWIFT_BUILD_FLAGS)
	swift build -c release --product sandbox-init $(SWIFT_BUILD_FLAGS)
	@command -v bsdtar >/dev/null || ($(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq libarchive-tools)
	python3 benchmarks/run.py $(BENCH_FLAGS)
	python3 benchmarks/files.py $(FILES_BENCH_FLAGS)
	python3 benchmarks/agent.py $(AGENT_BENCH_FLAGS)
	python3 benchmarks/network.py $(NET_BENCH_FLAGS)
	@python3 -c "import httpx, mcp.client.streamable_http" 2>/dev/null || python3 -m pip install -q httpx mcp
	python3 benchmarks/terminal.py $(TERMINAL_BENCH_FLAGS)
	python3 benchmarks/watch.py $(WATCH_BENCH_FLAGS)
	python3 benchmarks/mcp.py $(MCP_BENCH_FLAGS)
	python3 benchmarks/sdk.py $(SDK_BENCH_FLAGS)
