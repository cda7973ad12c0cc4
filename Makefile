# idv: two commands set everything up on a fresh machine: `make run` and `make test`.
CARGO ?= cargo
DATA_DIR ?= ./idv-data
BIND ?= 127.0.0.1:8080

.PHONY: run build test lint fmt bench clean

build:
	$(CARGO) build --release --bins

run: build
	./target/release/idv serve --data-dir $(DATA_DIR) --bind $(BIND)

test:
	$(CARGO) test --all-targets -- --test-threads=4

lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings

fmt:
	$(CARGO) fmt

bench: build
	./target/release/idv-bench --server-bin target/release/idv --duration-secs 10 --concurrency 64

clean:
	$(CARGO) clean
