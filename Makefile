# idv: two commands set everything up on a fresh machine: `make run` and `make test`.
CARGO ?= cargo
DATA_DIR ?= ./idv-data
BIND ?= 127.0.0.1:8080

# schemathesis, pinned in tests/contract/requirements.txt, lives in its own virtualenv.
CONTRACT_VENV ?= target/contract-venv
# The official Python MCP SDK, pinned in tests/mcp/requirements.txt, lives in its own virtualenv too.
MCP_VENV ?= target/mcp-venv

.PHONY: run run-deps build test test-deps test-contract test-mcp lint fmt bench bench-deps bench-instructions clean

build:
	$(CARGO) build --release --bins

run: build run-deps
	./target/release/idv serve --data-dir $(DATA_DIR) --bind $(BIND)

# What the server reads documents with (Debian): the OCR-B font its MRZ reader renders its templates from,
# Tesseract and its English data for the printed text (run as a program, so the build needs no headers),
# and pdftoppm for PDF page previews. Installs only what is missing.
run-deps:
	@[ -f /usr/share/fonts/opentype/ocr-b/OCRB.otf ] && command -v pdftoppm >/dev/null 2>&1 \
		&& command -v tesseract >/dev/null 2>&1 && ls /usr/share/tesseract-ocr/*/tessdata/eng.traineddata >/dev/null 2>&1 \
		|| (apt-get update -qq && apt-get install -y -qq fonts-ocr-b poppler-utils tesseract-ocr tesseract-ocr-eng >/dev/null)

# What the browser, webhook and contract tests need beyond cargo and run-deps: Chromium (Debian), playwright-core
# (npm, from package-lock.json), the standardwebhooks verifier and the mmdb-writer that makes the IP
# intelligence tests' MaxMind-format databases (PyPI), schemathesis (PyPI, into $(CONTRACT_VENV)) and the MCP
# SDK (PyPI, into $(MCP_VENV)). Installs only what is missing.
test-deps: $(CONTRACT_VENV)/.installed $(MCP_VENV)/.installed run-deps
	@command -v chromium >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)
	@[ -d node_modules/playwright-core ] || npm ci --no-audit --no-fund --loglevel=error
	@python3 -c "import standardwebhooks" 2>/dev/null || python3 -m pip install -q standardwebhooks
	@python3 -c "import mmdb_writer" 2>/dev/null || python3 -m pip install -q mmdb-writer==0.2.7

# Remade when the pins change.
$(CONTRACT_VENV)/.installed: tests/contract/requirements.txt
	@[ -x $(CONTRACT_VENV)/bin/python3 ] || python3 -m venv $(CONTRACT_VENV)
	$(CONTRACT_VENV)/bin/python3 -m pip install -q --disable-pip-version-check -r tests/contract/requirements.txt
	@touch $@

$(MCP_VENV)/.installed: tests/mcp/requirements.txt
	@[ -x $(MCP_VENV)/bin/python3 ] || python3 -m venv $(MCP_VENV)
	$(MCP_VENV)/bin/python3 -m pip install -q --disable-pip-version-check -r tests/mcp/requirements.txt
	@touch $@

# The first MRZ reader, kept for comparison behind cargo feature `ocr`, links Tesseract (Debian): its
# headers, Leptonica's, and libclang for the bindings. Nothing builds it by default.
ocr-deps:
	@[ -f /usr/include/tesseract/capi.h ] && [ -f /usr/include/leptonica/allheaders.h ] \
		&& ls /usr/share/tesseract-ocr/*/tessdata/eng.traineddata >/dev/null 2>&1 \
		&& ls /usr/lib/llvm-*/lib/libclang.so* >/dev/null 2>&1 \
		|| (apt-get update -qq && apt-get install -y -qq libtesseract-dev libleptonica-dev tesseract-ocr-eng \
			libclang-dev >/dev/null)

test: test-deps
	$(CARGO) build --bin idv
	$(CARGO) test --all-targets -- --test-threads=4
	IDV_BIN=target/debug/idv bash tests/browser/run.sh
	$(MAKE) test-mcp
	$(MAKE) test-contract

# The MCP server against the official Python MCP SDK, on a throwaway server (seconds).
test-mcp: $(MCP_VENV)/.installed
	$(CARGO) build --bin idv
	IDV_BIN=target/debug/idv MCP_PYTHON=$(MCP_VENV)/bin/python3 bash tests/mcp/run.sh

# Schemathesis over every operation of the OpenAPI document, against a throwaway server (about 5 minutes).
test-contract: $(CONTRACT_VENV)/.installed
	$(CARGO) build --bin idv
	IDV_BIN=target/debug/idv ST_BIN=$(CONTRACT_VENV)/bin/st bash tests/contract/run.sh

lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings
	bash tests/support/feature_parity.sh

fmt:
	$(CARGO) fmt

SCREENING_VENV ?= target/screening-venv
SCREENING_LIST ?= target/screening/people-1m.ftm.json

# The external load generator for `make bench` (Debian's wrk; its Lua scripts are in tests/bench/).
WRK ?= wrk

bench-deps:
	@command -v $(WRK) >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq wrk >/dev/null)

# Instructions per API-only verification, identity creation and identity read under callgrind (valgrind,
# Debian): the writer's and the work around it, repeatable where wall-clock figures drift, for comparing two
# builds of the write and read paths (two or three minutes once built).
bench-instructions: build
	@command -v valgrind >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq valgrind >/dev/null)
	WORKLOAD=verifications bash tests/bench/instructions.sh
	WORKLOAD=creations bash tests/bench/instructions.sh
	WORKLOAD=reads bash tests/bench/instructions.sh

bench: build bench-deps $(SCREENING_LIST)
	./target/release/idv-bench --server-bin target/release/idv --duration-secs 10 --concurrency 64 \
		--wrk $(WRK) --wrk-scripts tests/bench
	./target/release/idv-screening-bench --testdata ../shared/testdata --large-list $(SCREENING_LIST)
	./target/release/idv-import-bench --server-bin target/release/idv --list $(SCREENING_LIST)
	./target/release/idv-webhook-bench --server-bin target/release/idv --duration-secs 10 --concurrency 32
	$(MAKE) --no-print-directory $(MRZ_SET)/passporteye.json
	./target/release/idv-mrz-bench --set $(MRZ_SET) --split report
	./target/release/idv-printed-bench --set $(MRZ_SET) --split report

clean:
	$(CARGO) clean

# The screening bench's list of a million people as OpenSanctions FollowTheMoney JSON lines, which the bench
# reads with the importer a watchlist upload uses (tests/screening/people.py, from the name lists Faker ships;
# Faker pinned in tests/screening/requirements.txt, in $(SCREENING_VENV)). Made once, about a minute.
# fixtures/screening/people.tsv, the unrelated people screened, is made the same way (`people.py queries`).
$(SCREENING_VENV)/.installed: tests/screening/requirements.txt
	@[ -x $(SCREENING_VENV)/bin/python3 ] || python3 -m venv $(SCREENING_VENV)
	$(SCREENING_VENV)/bin/python3 -m pip install -q --disable-pip-version-check -r tests/screening/requirements.txt
	@touch $@

$(SCREENING_LIST): $(SCREENING_VENV)/.installed tests/screening/people.py
	@mkdir -p $(dir $@)
	$(SCREENING_VENV)/bin/python3 tests/screening/people.py ftm $@

# The MRZ test set (tests/mrz/README.md): generated document photos with ground truth, and PassportEye, the
# open-source reader, measured on them. Tesseract, its English data and the OCR-B font come from Debian;
# Pillow, numpy and PassportEye, pinned in tests/mrz/requirements.txt, live in $(MRZ_VENV).
MRZ_VENV ?= target/mrz-venv
MRZ_SET ?= target/mrz-set
MRZ_PER_SUBSET ?= 100
MRZ_JOBS ?= 2

mrz-deps: $(MRZ_VENV)/.installed
	@command -v tesseract >/dev/null 2>&1 && [ -f /usr/share/fonts/opentype/ocr-b/OCRB.otf ] \
		&& [ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] && ls /usr/share/tesseract-ocr/*/tessdata/eng.traineddata >/dev/null 2>&1 \
		|| (apt-get update -qq && apt-get install -y -qq tesseract-ocr tesseract-ocr-eng fonts-ocr-b fonts-dejavu-core >/dev/null)

$(MRZ_VENV)/.installed: tests/mrz/requirements.txt
	@[ -x $(MRZ_VENV)/bin/python3 ] || python3 -m venv $(MRZ_VENV)
	$(MRZ_VENV)/bin/python3 -m pip install -q --disable-pip-version-check -r tests/mrz/requirements.txt
	@touch $@

mrz-set: mrz-deps
	$(MRZ_VENV)/bin/python3 tests/mrz/generate.py --self-test
	$(MRZ_VENV)/bin/python3 tests/mrz/generate.py --out $(MRZ_SET) --per-subset $(MRZ_PER_SUBSET) --jobs $(MRZ_JOBS)

bench-mrz-peer: mrz-deps
	@[ -f $(MRZ_SET)/truth.jsonl ] || $(MAKE) mrz-set
	$(MRZ_VENV)/bin/python3 tests/mrz/passporteye_eval.py --set $(MRZ_SET) --split report --quiet \
		--json $(MRZ_SET)/passporteye.json

# What `make bench` shows beside idv's MRZ reader: PassportEye on the report split, measured once per generated
# set (about 6 minutes here) and again only when the set or the evaluation script changes; the set is
# generated first when missing (about 3 minutes).
$(MRZ_SET)/truth.jsonl: | mrz-deps
	$(MAKE) --no-print-directory mrz-set

$(MRZ_SET)/passporteye.json: $(MRZ_SET)/truth.jsonl tests/mrz/passporteye_eval.py | mrz-deps
	$(MRZ_VENV)/bin/python3 tests/mrz/passporteye_eval.py --set $(MRZ_SET) --split report --quiet --json $@

# idv's MRZ reader (pure Rust, templates from the OCR-B font) on the report split, beside PassportEye's
# numbers when bench-mrz-peer has run.
bench-mrz: mrz-deps
	@[ -f $(MRZ_SET)/truth.jsonl ] || $(MAKE) mrz-set
	$(CARGO) build --release --bin idv-mrz-bench
	./target/release/idv-mrz-bench --set $(MRZ_SET) --split report

.PHONY: ocr-deps mrz-deps mrz-set bench-mrz-peer bench-mrz
