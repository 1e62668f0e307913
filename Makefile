# linewatch: `make run` sets up and starts the daemon on config/default.yaml;
# `make test` sets up and runs the whole suite. Both install what is missing on Debian 12.

SHELL := /bin/bash
.DEFAULT_GOAL := help

# GStreamer (capture, with headers for the gstreamer-superficial addon), mosquitto (tests and
# the PLC side), gst-rtsp-server (the RTSP camera tests), jemalloc (an optional preload, README
# "Deployment", and its test), Debian's torch (training/).
APT_PACKAGES := build-essential pkg-config python3 \
	libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev gstreamer1.0-tools \
	gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad \
	gstreamer1.0-plugins-ugly gstreamer1.0-libav gstreamer1.0-rtsp \
	gir1.2-gst-rtsp-server-1.0 python3-gi python3-gst-1.0 \
	mosquitto mosquitto-clients libjemalloc2 \
	python3-torch python3-numpy python3-pil python3-onnx python3-scipy python3-matplotlib

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
export ONNXRUNTIME_NODE_INSTALL := skip
export npm_config_onnxruntime_node_install := skip
export UV_THREADPOOL_SIZE ?= 32

TEST_FILES = $(shell find test -name '*.test.ts' | sort)
UNIT_TESTS = $(filter-out test/integration/%,$(TEST_FILES))
INTEGRATION_TESTS = $(filter test/integration/%,$(TEST_FILES))

.PHONY: help setup apt npm build run test typecheck unit integration smoke clean

help:
	@echo "make run    install what is missing, build, run the daemon on config/default.yaml"
	@echo "make test   install what is missing, build, type-check and run every test"

setup: apt npm build

# Installs only the packages that are missing, so a set-up machine pays nothing.
apt:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing: $$missing"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

npm: node_modules/.package-lock.json

build: npm
	npx tsc -p tsconfig.json

run: setup
	GLIBC_TUNABLES=glibc.malloc.mmap_threshold=131072 node --initial-old-space-size=48 dist/src/cli.cjs run --config config/default.yaml

typecheck: npm
	npx tsc -p tsconfig.json --noEmit

unit: setup
	node --import tsx --test --test-reporter=spec --test-reporter-destination=stdout $(UNIT_TESTS)

integration: setup
	node --import tsx --test --test-reporter=spec --test-reporter-destination=stdout $(INTEGRATION_TESTS)

smoke: apt
	bash training/smoke.sh

# The whole suite: types, units, integration on real parts, the training toolchain's smoke run.
test: setup typecheck
	node --import tsx --test --test-reporter=spec --test-reporter-destination=stdout $(TEST_FILES)
	@if [ -f training/smoke.sh ]; then bash training/smoke.sh; fi

clean:
	rm -rf dist .state
