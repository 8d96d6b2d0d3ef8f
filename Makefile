# One command to set up and run the main job, one to set up and run the tests.
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
SAMPLE := data/sample
OUT    ?= output

export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: setup report test bench lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,narrator]'
	# Prefect's local database, created now rather than by the first run's temporary server.
	PREFECT_SERVER_ANALYTICS_ENABLED=false $(BIN)/prefect server database upgrade -y >/dev/null
	touch $(STAMP)

setup: $(STAMP)

## report: sample data → the nightly flow → facts, flags, answers and one PDF per company in $(OUT)/<today>/
report: $(STAMP)
	$(BIN)/finreport sample --out $(SAMPLE)
	FINREPORT_OUTPUT_DIR=$(OUT) $(BIN)/finreport run --input $(SAMPLE)/long

## test: the whole test suite
test: $(STAMP)
	$(BIN)/python -m pytest -q

## bench: ingest + validation + metrics on 1.6 M rows against pandas; reasoning time against snapshots;
## the whole nightly run on the sample and on 200 companies
bench: $(STAMP)
	$(BIN)/python bench/bench_facts.py
	$(BIN)/python bench/bench_graph.py
	$(BIN)/python bench/bench_run.py

lint: $(STAMP)
	$(BIN)/ruff check generator flows tests bench

clean:
	rm -rf $(OUT) $(SAMPLE) bench/out
