# One command to set up and run the main job, one to set up and run the tests.
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
SAMPLE := data/sample
OUT    ?= output

export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: setup system-deps test-system-deps report test test-fast bench lint clean

## system-deps: Java, Pango, HarfBuzz and a font (installed with apt-get as root; otherwise the command to run)
system-deps:
	@bash scripts/system-deps.sh

test-system-deps:
	@bash scripts/system-deps.sh --tests

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,narrator]'
	# Prefect's local database, created now rather than by the first run's temporary server.
	PREFECT_SERVER_ANALYTICS_ENABLED=false $(BIN)/prefect server database upgrade -y >/dev/null
	touch $(STAMP)

setup: system-deps $(STAMP)

## report: sample data → the nightly flow → facts, flags, answers and one PDF per company in $(OUT)/<today>/
report: system-deps $(STAMP)
	$(BIN)/finreport sample --out $(SAMPLE)
	FINREPORT_OUTPUT_DIR=$(OUT) $(BIN)/finreport run --input $(SAMPLE)/long

## test: the whole test suite
test: test-system-deps $(STAMP)
	$(BIN)/python -m pytest -q

## test-fast: the inner loop: ingest, checks, metrics, rounding, shares, industries and real filings (no flows,
## no PDFs, no model training)
test-fast: test-system-deps $(STAMP)
	$(BIN)/python -m pytest -q tests/test_rounding.py tests/test_shares.py tests/test_sec_companyfacts.py \
		tests/test_real_filings.py tests/test_industry.py tests/test_sectors.py tests/test_checks.py \
		tests/test_metrics.py tests/test_ingest_errors.py tests/test_xbrl_facts.py tests/test_statement_tables.py

## bench: ingest + validation + metrics on 1.6 M rows against pandas; reasoning time against snapshots;
## the whole nightly run on the sample and on 200 companies
bench: $(STAMP)
	$(BIN)/python bench/bench_facts.py
	$(BIN)/python bench/bench_graph.py
	$(BIN)/python bench/bench_run.py
	$(BIN)/python bench/bench_files.py

lint: $(STAMP)
	$(BIN)/ruff check generator flows tests bench

clean:
	rm -rf $(OUT) $(SAMPLE) bench/out
