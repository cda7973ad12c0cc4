# idv: two commands set everything up on a fresh machine: `make run` and `make test`.
CARGO ?= cargo
DATA_DIR ?= ./idv-data
BIND ?= 127.0.0.1:8080

# schemathesis, pinned in tests/contract/requirements.txt, lives in its own virtualenv.
CONTRACT_VENV ?= target/contract-venv

.PHONY: run build test test-deps test-contract lint fmt bench bench-deps clean

build:
	$(CARGO) build --release --bins

run: build
	./target/release/idv serve --data-dir $(DATA_DIR) --bind $(BIND)

# What the browser, webhook and contract tests need beyond cargo: Chromium (Debian), playwright-core
# (npm, from package-lock.json), the standardwebhooks verifier (PyPI) and schemathesis (PyPI, into
# $(CONTRACT_VENV)). Installs only what is missing.
test-deps: $(CONTRACT_VENV)/.installed
	@command -v chromium >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)
	@[ -d node_modules/playwright-core ] || npm ci --no-audit --no-fund --loglevel=error
	@python3 -c "import standardwebhooks" 2>/dev/null || python3 -m pip install -q standardwebhooks

# Remade when the pins change.
$(CONTRACT_VENV)/.installed: tests/contract/requirements.txt
	@[ -x $(CONTRACT_VENV)/bin/python3 ] || python3 -m venv $(CONTRACT_VENV)
	$(CONTRACT_VENV)/bin/python3 -m pip install -q --disable-pip-version-check -r tests/contract/requirements.txt
	@touch $@

test: test-deps
	$(CARGO) build --bin idv
	$(CARGO) test --all-targets -- --test-threads=4
	IDV_BIN=target/debug/idv bash tests/browser/run.sh
	$(MAKE) test-contract

# Schemathesis over every operation of the OpenAPI document, against a throwaway server (~2-3 minutes).
test-contract: $(CONTRACT_VENV)/.installed
	$(CARGO) build --bin idv
	IDV_BIN=target/debug/idv ST_BIN=$(CONTRACT_VENV)/bin/st bash tests/contract/run.sh

lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings

fmt:
	$(CARGO) fmt

# The external load generator for `make bench` (Debian's wrk; its Lua scripts are in tests/bench/).
WRK ?= wrk

bench-deps:
	@command -v $(WRK) >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq wrk >/dev/null)

bench: build bench-deps
	./target/release/idv-bench --server-bin target/release/idv --duration-secs 10 --concurrency 64 \
		--wrk $(WRK) --wrk-scripts tests/bench
	./target/release/idv-screening-bench --testdata ../shared/testdata
	./target/release/idv-webhook-bench --server-bin target/release/idv --duration-secs 10 --concurrency 32

clean:
	$(CARGO) clean
