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

## report: sample data → the nightly flow → facts, flags, answers and one PDF per company and per portfolio in
## $(OUT)/<today>/
report: system-deps $(STAMP)
	$(BIN)/finreport sample --out $(SAMPLE)
	FINREPORT_OUTPUT_DIR=$(OUT) $(BIN)/finreport run --input $(SAMPLE)/long --input $(SAMPLE)/prices \
		--input $(SAMPLE)/portfolios

## test: the whole test suite, slow and integration tests included (what CI runs; about 10 minutes and more on
## 2 cores, the wheel installed into a fresh virtualenv alone takes several)
test: test-system-deps $(STAMP)
	$(BIN)/python -m pytest -q

## test-fast: the inner loop, under 5 minutes on 2 cores: every test but those marked slow (model training, whole
## flow runs, the wheel install) or integration (a Prefect server or its ephemeral API, an SMTP server, `finreport
## run` as a subprocess); tests/ mirrors the source tree, so `pytest tests/generator/test_X.py` tests generator/X.py
test-fast: test-system-deps $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow and not integration"

## bench: ingest + validation + metrics on 1.6 M rows against pandas; reasoning time against snapshots;
## the whole nightly run on the sample and on 200 companies; market metrics of 5,000 tickers against pandas
bench: $(STAMP)
	$(BIN)/python bench/bench_facts.py
	$(BIN)/python bench/bench_graph.py
	$(BIN)/python bench/bench_run.py
	$(BIN)/python bench/bench_files.py
	$(BIN)/python bench/bench_market.py

lint: $(STAMP)
	$(BIN)/ruff check generator flows tests bench

clean:
	rm -rf $(OUT) $(SAMPLE) bench/out
