# Depot: the two commands of the README, and what they build on.
SHELL := /bin/bash
export PATH := $(CURDIR)/.venv/bin:$(PATH)
SWIFT ?= swift
PYTHON := $(CURDIR)/.venv/bin/python

.PHONY: all deps build build-debug run test unit integration clean

all: build

deps:
	@scripts/install-deps.sh

build: deps
	$(SWIFT) build -c release --product depot
	$(SWIFT) build -c release --product depotctl

build-debug: deps
	$(SWIFT) build --product depot
	$(SWIFT) build --product depotctl

## make run: the whole stack on loopback (DEPOT_PORT, DEPOT_RUN_DIR), in the foreground.
run: build
	$(PYTHON) scripts/run.py

## make test: unit tests, then integration tests against real nginx, workers, SQLite and SeaweedFS.
test: deps build-debug unit integration

unit:
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build

integration:
	DEPOT_BUILD=debug $(PYTHON) -m pytest -q Tests/integration

clean:
	rm -rf .build .run
