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
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

## report: sample data → facts, flags, answers and one PDF report per company in $(OUT)/
report: $(STAMP)
	$(BIN)/finreport sample --out $(SAMPLE)
	$(BIN)/finreport run --input $(SAMPLE)/long --out $(OUT)

## test: the whole test suite
test: $(STAMP)
	$(BIN)/python -m pytest -q

## bench: ingest + validation + metrics on 1.6 M rows against pandas; reasoning time against snapshots
bench: $(STAMP)
	$(BIN)/python bench/bench_facts.py
	$(BIN)/python bench/bench_graph.py

lint: $(STAMP)
	$(BIN)/ruff check generator tests bench

clean:
	rm -rf $(OUT) $(SAMPLE) bench/out
