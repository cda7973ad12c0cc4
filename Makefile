# idv: two commands set everything up on a fresh machine: `make run` and `make test`.
CARGO ?= cargo
DATA_DIR ?= ./idv-data
BIND ?= 127.0.0.1:8080

.PHONY: run build test test-deps lint fmt bench clean

build:
	$(CARGO) build --release --bins

run: build
	./target/release/idv serve --data-dir $(DATA_DIR) --bind $(BIND)

# What the browser and webhook tests need beyond cargo: Chromium (Debian), playwright-core (npm, from
# package-lock.json) and the standardwebhooks verifier (PyPI). Installs only what is missing.
test-deps:
	@command -v chromium >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)
	@[ -d node_modules/playwright-core ] || npm ci --no-audit --no-fund --loglevel=error
	@python3 -c "import standardwebhooks" 2>/dev/null || python3 -m pip install -q standardwebhooks

test: test-deps
	$(CARGO) build --bin idv
	$(CARGO) test --all-targets -- --test-threads=4
	IDV_BIN=target/debug/idv bash tests/browser/run.sh

lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings

fmt:
	$(CARGO) fmt

bench: build
	./target/release/idv-bench --server-bin target/release/idv --duration-secs 10 --concurrency 64
	./target/release/idv-screening-bench --testdata ../shared/testdata
	./target/release/idv-webhook-bench --server-bin target/release/idv --duration-secs 10 --concurrency 32

clean:
	$(CARGO) clean
