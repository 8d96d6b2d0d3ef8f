"""Real companyfacts files against figures read by hand from the filings themselves.

Hand-made fixtures only test the rules someone thought of. These are whole SEC companyfacts files of real
companies (an IFRS filer in TWD, a January year end, a bank holding company, a 3-for-1 split, losses,
noncontrolling interests, temporary equity, amendments, proxy facts in thousands), and ``expected.csv``
holds what their annual reports say: each line value copied from the named tag of the latest 10-K or 20-F,
each ratio worked out by hand from those values, never from finreport's own output. A figure finreport gets
wrong here is a figure a user would have read wrong in a report.
"""

from __future__ import annotations

import csv
import functools
import math
from pathlib import Path
from typing import NamedTuple

import polars as pl
import pytest

from generator import pipeline
from generator.ingest import Ingested, ingest

CORPUS = Path(__file__).parent / "fixtures" / "real-filings"
EXPECTED = CORPUS / "expected.csv"


class Expected(NamedTuple):
    file: str
    entity_id: str
    fiscal_year: int
    fiscal_period: str
    name: str
    value: float
    source: str

    @property
    def id(self) -> str:
        return f"{self.file.split('_')[0]}-{self.fiscal_period}{self.fiscal_year}-{self.name}"


def expected_figures() -> list[Expected]:
    """The rows of ``expected.csv``; lines starting with ``#`` are notes on figures deliberately not tested."""
    with EXPECTED.open(encoding="utf-8", newline="") as f:
        rows = csv.DictReader(line for line in f if not line.startswith("#"))
        return [
            Expected(r["file"], r["entity_id"], int(r["fiscal_year"]), r["fiscal_period"], r["name"],
                     float(r["value"]), r["source"])
            for r in rows
        ]


FIGURES = expected_figures()
FILES = sorted({figure.file for figure in FIGURES})


@functools.cache
def ingested(file: str) -> Ingested:
    return ingest([CORPUS / file])


@functools.cache
def metrics(file: str) -> pl.DataFrame:
    analysis, _findings = pipeline.analyse(ingested(file))
    return analysis.metrics


def same_to_four_digits(actual: float, expected: float) -> bool:
    """Within half a unit of the expected figure's fourth significant digit. Comparing ``f"{v:.4g}"`` strings
    instead would fail on double rounding: a hand ratio written as −0.082915 reads −0.08292, the exact
    −0.0829149… reads −0.08291."""
    if expected == 0:
        return actual == 0
    half_unit = 0.5 * 10 ** (math.floor(math.log10(abs(expected))) - 3)
    return abs(actual - expected) <= half_unit * (1 + 1e-9)


@pytest.mark.parametrize("file", FILES)
def test_every_input_row_is_accounted_for(file: str) -> None:
    result = ingested(file)
    assert result.rows_in == result.accepted_count + result.rejected.height


@pytest.mark.parametrize("figure", FIGURES, ids=lambda figure: figure.id)
def test_figure_matches_the_filing(figure: Expected) -> None:
    rows = metrics(figure.file).filter(
        entity_id=figure.entity_id, fiscal_year=figure.fiscal_year, fiscal_period=figure.fiscal_period,
        metric=figure.name,
    )
    assert rows.height == 1, f"{rows.height} rows for {figure.id} (expected {figure.value:g} from {figure.source})"
    actual, reason = rows.item(0, "value"), rows.item(0, "reason")
    assert actual is not None, f"no value ({reason}); the filing says {figure.value:g} ({figure.source})"
    assert same_to_four_digits(actual, figure.value), (
        f"{actual:.6g} where the filing says {figure.value:.6g} ({figure.source})"
    )
