# SentryKV developer entry points.  Everything installs into .venv; nothing global
# except Debian's redis-server/redis-tools (the reference oracle), when missing.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 6379
DATA   ?= ./data

.PHONY: run test test-pure test-fast test-soak test-failover lint bench bench-full redis-tools netns-tools clean fuzz fuzz-coverage

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# The build: setup.py compiles the modules listed in sentrykv_server/buildinfo.py with
# mypyc when a C compiler is there (pure Python otherwise, or with SENTRYKV_PURE=1);
# docs/build.md.  The build tools live in the venv (no isolated build env to download
# each time) and the stamps depend on the compiled sources, so an edit rebuilds.
COMPILED_SRC := $(shell sed -n 's/^    "sentrykv_server\.\([a-z_.]*\)",$$/\1/p' sentrykv_server/buildinfo.py | tr . / | sed 's|^|sentrykv_server/|; s|$$|.py|')
BUILD_DEPS   := pyproject.toml setup.py sentrykv_server/buildinfo.py $(COMPILED_SRC)
PIP_BUILD    := $(BIN)/pip install -q --no-build-isolation

$(VENV)/.build-tools: | $(BIN)/python
	$(BIN)/pip install -q 'setuptools>=77' wheel 'mypy>=1.10' 'mypy_extensions>=1.0'
	touch $@

$(VENV)/.installed: $(BUILD_DEPS) | $(VENV)/.build-tools
	$(PIP_BUILD) -e .
	touch $@

$(VENV)/.installed-test: $(BUILD_DEPS) | $(VENV)/.build-tools
	$(PIP_BUILD) -e '.[test,bench]'
	touch $@ $(VENV)/.installed

## run: start the server on 127.0.0.1:$(PORT) with its data in $(DATA)
run: $(VENV)/.installed
	$(BIN)/sentrykv-server --bind 127.0.0.1 --port $(PORT) --dir $(DATA)

## redis-tools: Debian's redis-server, redis-tools and redis-sentinel, the oracle the tests compare against
redis-tools:
	@if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-benchmark >/dev/null 2>&1 \
			|| ! command -v redis-sentinel >/dev/null 2>&1; then \
		if [ "$$(id -u)" = 0 ]; then SUDO=; elif command -v sudo >/dev/null 2>&1; then SUDO=sudo; else \
			echo "redis-server/redis-tools/redis-sentinel are missing and cannot be installed (not root, no sudo)"; exit 1; fi; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq redis-server redis-tools redis-sentinel >/dev/null; \
	fi

## netns-tools: iproute2, so the protected-mode test can put a client in another network
## namespace (needs root; without it the test uses a local non-loopback address)
netns-tools:
	@if ! command -v ip >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iproute2 >/dev/null \
			|| echo "iproute2 could not be installed: the protected-mode test falls back to a local address"; \
	fi

## test: the whole suite (integration, crash, corruption, differential against redis-server)
## against the build installed (compiled when a C compiler is present), then test-pure
test: $(VENV)/.installed-test redis-tools netns-tools
	@$(BIN)/python -c 'from sentrykv_server import buildinfo; print("make test:", buildinfo.describe())'
	$(BIN)/python -m pytest -q -p no:cacheprovider -m "not soak"
	$(MAKE) --no-print-directory test-pure

## test-pure: a slice of the suite against the pure-Python modules (SENTRYKV_PURE=1 at run time):
## protocol, reply encoding, strings/keys and the differential tests against redis-server, < 1 min
PURE_TESTS ?= tests/core/test_protocol.py tests/core/test_reply_encoding.py tests/core/test_strings_keys.py \
              tests/core/test_differential.py tests/core/test_connection.py tests/test_build.py
test-pure: $(VENV)/.installed-test redis-tools
	SENTRYKV_PURE=1 $(BIN)/python -m pytest -q -p no:cacheprovider -m "not slow and not soak" $(PURE_TESTS)

test-fast: $(VENV)/.installed-test redis-tools netns-tools
	$(BIN)/python -m pytest -q -m "not slow"

## test-soak: the long runs (a cache at 10x maxmemory for 10 minutes, ...)
test-soak: $(VENV)/.installed-test redis-tools
	$(BIN)/python -m pytest -q -p no:cacheprovider -m soak -s

## test-failover: Sentinel kills and promotes masters in a loop under acknowledged writes (ROUNDS=20)
ROUNDS ?= 20
test-failover: $(VENV)/.installed-test redis-tools
	SENTRYKV_FAILOVER_ROUNDS=$(ROUNDS) $(BIN)/python -m pytest -q -s -m slow tests/replication/test_failover_loop.py

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/mypy

## fuzz: differential + protocol fuzzing against real processes (docs/fuzzing.md)
FUZZ_REQUESTS ?= 1000000
FUZZ_SEED ?= 1
fuzz: $(VENV)/.installed-test redis-tools
	$(BIN)/python -m tests.fuzz.run --requests $(FUZZ_REQUESTS) --seed $(FUZZ_SEED) --json fuzz-report.json

## fuzz-coverage: atheris on every parser target, the RDB decoder included, for FUZZ_SECONDS each (corpora in .fuzz-corpus/)
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := framing wal_records wal_segment snapshot_raw snapshot_blocks
fuzz-coverage: $(VENV)/.installed-test
	@for t in $(FUZZ_TARGETS); do mkdir -p .fuzz-corpus/$$t; echo "== $$t"; \
		$(BIN)/python -m tests.fuzz.coverage.main $$t -max_total_time=$(FUZZ_SECONDS) .fuzz-corpus/$$t \
		> .fuzz-corpus/$$t.log 2>&1; rc=$$?; tail -3 .fuzz-corpus/$$t.log; [ $$rc = 0 ] || exit $$rc; done
	@echo "== rdb_payload"; mkdir -p .fuzz-corpus/rdb_payload; \
		$(BIN)/python tests/fuzz/fuzz_rdb_payload.py -max_total_time=$(FUZZ_SECONDS) .fuzz-corpus/rdb_payload \
		> .fuzz-corpus/rdb_payload.log 2>&1; rc=$$?; tail -3 .fuzz-corpus/rdb_payload.log; exit $$rc

## bench: quick side-by-side run against redis-server (under 2 minutes)
bench: $(VENV)/.installed-test redis-tools
	$(BIN)/python -m bench --quick

bench-full: $(VENV)/.installed-test redis-tools
	$(BIN)/python -m bench --full

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
	find sentrykv_server -name '*.so' -delete; rm -f sentrykv_server/compiled_sources.json
