"""Benchmark: 1.6 M long-format fact rows through finreport's ingest, checks and metrics, against pandas.

Run ``python bench/bench_facts.py [--companies 1000 --quarters 40]``. It writes a seeded synthetic long CSV
to ``bench/out/`` (reused when it already exists with the same parameters), runs every stage of both engines in
this one process (pandas first, then its memory is handed back to the OS so finreport starts from a clean RSS),
samples the process RSS to get each stage's memory high-water mark, checks on a sample of entities that both
engines computed the same figures, and prints a table with the targets beside the figures. Nothing is asserted:
timings depend on the machine, so this is a measurement, not a test. The figures also go to
``bench/out/bench_facts.json``.

Memory is measured as resident set size (RSS), sampled by a background thread: Polars allocates outside
Python's allocator, so ``tracemalloc`` would not see it, and ``ru_maxrss`` is a process-wide high-water mark
that cannot be reset between stages.
"""

from __future__ import annotations

import argparse
import csv
import ctypes
import gc
import json
import os
import platform
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd
import polars as pl
import psutil
import pyarrow as pa

from generator.checks import accounting_checks
from generator.ingest import Ingested, ingest
from generator.metrics import compute_metrics
from generator.periods import pivot
from generator.schema import currencies, items, normalize_label

OUT_DIR = Path(__file__).resolve().parent / "out"
GENERATOR_VERSION = 2
"""Bump when the generated data changes, so a cached CSV from an older generator is not reused."""

LONG_COLUMNS = [
    "entity_id", "entity_name", "sector", "fiscal_year", "fiscal_period", "period_start", "period_end",
    "statement", "item", "value", "currency", "filed",
]
BENCH_ITEMS: tuple[str, ...] = (
    "revenue", "cost_of_revenue", "gross_profit", "sga_expense", "rnd_expense", "operating_income",
    "interest_expense", "pretax_income", "income_tax", "net_income", "net_income_parent",
    "depreciation_amortization", "shares_diluted", "eps_diluted",
    "cash", "short_term_investments", "receivables", "inventory", "current_assets", "ppe_net", "goodwill",
    "total_assets", "payables", "commercial_paper", "current_portion_long_term_debt", "current_liabilities",
    "long_term_debt", "total_liabilities", "total_equity", "noncontrolling_interest", "retained_earnings",
    "shares_outstanding",
    "operating_cash_flow", "capex", "investing_cash_flow", "financing_cash_flow", "dividends_paid",
    "share_repurchases", "net_change_in_cash", "fx_effect_on_cash",
)
"""40 items: every canonical item except ``short_term_debt`` and ``total_debt``, which are left out so that
both derivations (commercial paper + current portion → short-term debt → total debt) run on every period,
plus four auxiliary items that the derivations and the cash-flow reconciliation read."""

SECTORS = ("Technology", "Industrials", "Consumer", "Healthcare", "Energy", "Utilities", "Materials",
           "Financials", "Telecom", "Real Estate")
CURRENCIES = ("USD", "USD", "USD", "USD", "USD", "EUR", "GBP", "JPY", "CAD", "CHF")
BAD_VALUES = ("n/a", "1.2.3", "#REF!", "12 345", "--")
BAD_CURRENCIES = ("US$", "EURO", "DOLLARS")
BAD_LABELS = ("Other operating items", "Misc. adjustments", "Sundry accruals")
ALIAS_SHARE = 0.3
"""Share of (company, item) pairs that report under a human or us-gaap label instead of the canonical name."""
BAD_SHARE, RESTATED_SHARE, DUPLICATE_SHARE, CONFLICT_SHARE = 0.001, 0.005, 0.0005, 0.0001

TARGET_INGEST_ROWS_PER_S = 1_000_000
TARGET_METRICS_S = 10.0
TARGET_SPEEDUP = 5.0
CROSS_CHECK_ENTITIES = 100

T = TypeVar("T")


# --------------------------------------------------------------------------------------------- data


def dataset_path(out_dir: Path, companies: int, quarters: int, seed: int) -> Path:
    return out_dir / f"facts_long_c{companies}_q{quarters}_s{seed}_v{GENERATOR_VERSION}.csv"


def ensure_dataset(out_dir: Path, companies: int, quarters: int, seed: int) -> Path:
    """Written once per parameter set, so repeated runs (and runs before and after a change) read the same bytes."""
    path = dataset_path(out_dir, companies, quarters, seed)
    if path.exists():
        print(f"reusing {path} ({path.stat().st_size / 1e6:,.0f} MB; same companies, quarters, seed, generator)")
        return path
    out_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    frame = generate(companies, quarters, seed)
    tmp = path.with_suffix(".tmp")
    frame.write_csv(tmp)
    tmp.replace(path)
    print(f"generated {path} ({frame.height:,} rows, {path.stat().st_size / 1e6:,.0f} MB) "
          f"in {time.perf_counter() - t0:.1f} s")
    return path


def _aliases() -> dict[str, list[str]]:
    """Labels from the project's own alias table, per canonical item, so every one of them must map."""
    text = resources.files("generator.data").joinpath("aliases.csv").read_text(encoding="utf-8")
    out: dict[str, list[str]] = {}
    for row in csv.DictReader(text.splitlines()):
        out.setdefault(row["item"], []).append(row["alias"])
    return out


def _figures(rng: np.random.Generator, companies: int, quarters: int) -> dict[str, np.ndarray]:
    """Every item as a (company, quarter) array of whole thousands, built so the accounting identities hold.

    Leaf lines are rounded first and totals are sums of rounded leaves, so the balance sheet, gross profit
    and cash-flow reconciliation add up exactly and the checks stage reports only real findings.
    """
    c, t = companies, np.arange(quarters)

    def per_company(low: float, high: float) -> np.ndarray:
        return rng.uniform(low, high, (c, 1))

    def maybe_zero(share_zero: float, values: np.ndarray) -> np.ndarray:
        return np.where(rng.uniform(size=(c, 1)) < share_zero, 0, values)

    def whole(x: np.ndarray) -> np.ndarray:
        return np.rint(x).astype(np.int64)

    growth = (1 + rng.normal(0.06, 0.08, (c, 1))) ** (t / 4)
    season = 1 + per_company(0, 0.08) * np.sin(np.pi / 2 * t + per_company(0, 2 * np.pi))
    noise = 1 + rng.normal(0, 0.03, (c, quarters))
    revenue_raw = rng.lognormal(np.log(200_000), 1.2, (c, 1)) * growth * season * noise
    f: dict[str, np.ndarray] = {"revenue": whole(np.maximum(revenue_raw, 100))}
    rev = f["revenue"].astype(np.float64)
    f["cost_of_revenue"] = whole(rev * (1 - per_company(0.2, 0.75)) * (1 + rng.normal(0, 0.01, (c, quarters))))
    f["gross_profit"] = f["revenue"] - f["cost_of_revenue"]
    f["sga_expense"] = whole(rev * per_company(0.08, 0.3))
    f["rnd_expense"] = whole(rev * maybe_zero(0.3, per_company(0.01, 0.12)))
    f["ppe_net"] = whole(rev * 4 * per_company(0.2, 1.5))
    f["depreciation_amortization"] = whole(f["ppe_net"] * per_company(0.015, 0.03))
    f["operating_income"] = f["gross_profit"] - f["sga_expense"] - f["rnd_expense"] - f["depreciation_amortization"]
    f["long_term_debt"] = whole(rev * 4 * maybe_zero(0.15, per_company(0.1, 1.2)))
    f["commercial_paper"] = whole(f["long_term_debt"] * maybe_zero(0.5, per_company(0.01, 0.1)))
    f["current_portion_long_term_debt"] = whole(f["long_term_debt"] * per_company(0.03, 0.1))
    debt = f["long_term_debt"] + f["commercial_paper"] + f["current_portion_long_term_debt"]
    f["interest_expense"] = whole(debt * per_company(0.02, 0.08) / 4)
    f["pretax_income"] = f["operating_income"] - f["interest_expense"]
    f["income_tax"] = whole(np.maximum(f["pretax_income"], 0) * per_company(0.15, 0.28))
    f["net_income"] = f["pretax_income"] - f["income_tax"]
    nci_share = maybe_zero(0.8, per_company(0.02, 0.1))
    f["net_income_parent"] = f["net_income"] - whole(f["net_income"] * nci_share)
    shares = whole(rng.lognormal(np.log(150_000), 1.0, (c, 1)) * (1 + per_company(-0.01, 0.01)) ** t)
    f["shares_outstanding"] = shares
    f["shares_diluted"] = whole(shares * per_company(1.0, 1.03))

    f["cash"] = whole(rev * per_company(0.2, 1.2) * np.exp(np.cumsum(rng.normal(0, 0.05, (c, quarters)), axis=1)))
    f["short_term_investments"] = whole(f["cash"] * maybe_zero(0.3, per_company(0.05, 0.8)))
    f["receivables"] = whole(rev * per_company(20, 80) / 91)
    f["inventory"] = whole(f["cost_of_revenue"] * maybe_zero(0.3, per_company(10, 120)) / 91)
    other_current = whole(rev * per_company(0.02, 0.2))
    f["current_assets"] = (f["cash"] + f["short_term_investments"] + f["receivables"] + f["inventory"]
                           + other_current)
    f["goodwill"] = np.repeat(whole(maybe_zero(0.3, rev[:, :1] * per_company(0.1, 3))), quarters, axis=1)
    f["total_assets"] = f["current_assets"] + f["ppe_net"] + f["goodwill"] + whole(rev * per_company(0.1, 1))
    f["payables"] = whole(f["cost_of_revenue"] * per_company(20, 90) / 91)
    f["current_liabilities"] = (f["payables"] + f["commercial_paper"] + f["current_portion_long_term_debt"]
                                + whole(rev * per_company(0.05, 0.4)))
    f["total_liabilities"] = f["current_liabilities"] + f["long_term_debt"] + whole(rev * per_company(0.1, 0.8))
    f["noncontrolling_interest"] = whole(f["total_assets"] * nci_share * 0.5)
    f["total_equity"] = f["total_assets"] - f["total_liabilities"] - f["noncontrolling_interest"]

    f["dividends_paid"] = whole(np.maximum(f["net_income_parent"], 0) * maybe_zero(0.4, per_company(0.1, 0.6)))
    f["share_repurchases"] = whole(np.maximum(f["net_income_parent"], 0) * maybe_zero(0.6, per_company(0.05, 0.3)))
    opening_equity = whole(f["total_equity"][:, :1] * per_company(0.2, 0.9))
    f["retained_earnings"] = opening_equity + np.cumsum(f["net_income_parent"] - f["dividends_paid"], axis=1)
    f["capex"] = whole(f["depreciation_amortization"] * per_company(0.8, 1.6) * (1 + rng.normal(0, 0.1, (c, quarters))))
    accruals = whole(rev * rng.normal(0, 0.03, rev.shape))
    f["operating_cash_flow"] = f["net_income"] + f["depreciation_amortization"] + accruals
    f["investing_cash_flow"] = -f["capex"] + whole(rev * rng.normal(0, 0.01, rev.shape))
    foreign = rng.uniform(size=(c, 1)) < 0.5
    f["fx_effect_on_cash"] = np.where(foreign, whole(rev * rng.normal(0, 0.002, rev.shape)), 0)
    opening_cash = whole(f["cash"][:, :1] * per_company(0.95, 1.05))
    f["net_change_in_cash"] = np.diff(f["cash"], axis=1, prepend=opening_cash)
    f["financing_cash_flow"] = (f["net_change_in_cash"] - f["operating_cash_flow"] - f["investing_cash_flow"]
                                - f["fx_effect_on_cash"])
    return f


def _values(figures: dict[str, np.ndarray]) -> np.ndarray:
    """Currency units and shares (the figures are thousands); EPS in currency per share, to the cent."""
    stacked = np.stack([figures[i] for i in BENCH_ITEMS if i != "eps_diluted"], axis=-1).astype(np.float64) * 1000
    eps = np.round(figures["net_income_parent"] / np.maximum(figures["shares_diluted"], 1), 2)
    at = BENCH_ITEMS.index("eps_diluted")
    return np.insert(stacked, at, eps, axis=-1)


def _labels(rng: np.random.Generator, companies: int) -> tuple[pl.Series, np.ndarray]:
    """All distinct labels, and per (company, item) which one the company uses: mostly canonical names."""
    aliases = _aliases()
    labels: list[str] = list(BENCH_ITEMS)
    choice = np.tile(np.arange(len(BENCH_ITEMS)), (companies, 1))
    for i, item in enumerate(BENCH_ITEMS):
        options = aliases.get(item, [])
        if not options:
            continue
        use = rng.uniform(size=companies) < ALIAS_SHARE
        choice[use, i] = len(labels) + rng.integers(0, len(options), int(use.sum()))
        labels += options
    return pl.Series("label", labels), choice


def _period_columns(quarters: int, first_year: int) -> pl.DataFrame:
    """One row per quarter: calendar fiscal years, so Q1 runs January to March."""
    months = np.datetime64(f"{first_year}-01", "M") + 3 * np.arange(quarters)
    return pl.DataFrame({
        "fiscal_year": (first_year + np.arange(quarters) // 4).astype(np.int32),
        "fiscal_period": [f"Q{q % 4 + 1}" for q in range(quarters)],
        "period_start": months.astype("datetime64[D]"),
        "period_end": (months + 3).astype("datetime64[D]") - np.timedelta64(1, "D"),
    })


def generate(companies: int, quarters: int, seed: int, first_year: int = 2016) -> pl.DataFrame:
    """The long table as written to CSV: every column a string, in the canonical column order.

    Besides the clean rows it holds what real feeds hold: earlier filings later restated (``filed`` decides),
    exact and conflicting duplicate filings, and a sprinkling of unparseable numbers, unknown currencies and
    labels no alias maps, so validation and resolution have real work to do.
    """
    rng = np.random.default_rng(seed)
    n_items = len(BENCH_ITEMS)
    values = _values(_figures(rng, companies, quarters)).reshape(-1)
    company = np.repeat(np.arange(companies), quarters * n_items)
    quarter = np.tile(np.repeat(np.arange(quarters), n_items), companies)
    item = np.tile(np.arange(n_items), companies * quarters)
    labels, choice = _labels(rng, companies)
    filed_offset = rng.integers(25, 60, companies)[company]

    base = pl.DataFrame({"company": company, "quarter": quarter, "item": item, "value": values,
                         "label": choice[company, item], "filed_days": filed_offset, "kind": np.zeros_like(item)})
    base = base.with_columns(pl.col("company", "quarter", "item", "label").cast(pl.Int32), pl.col("kind").cast(pl.Int8))
    extras = _extra_filings(rng, base)
    rows = pl.concat([base, *extras]).sort("company", "quarter", "filed_days", "item", "kind")
    return _render(rng, rows, labels, companies, quarters, first_year)


def _extra_filings(rng: np.random.Generator, base: pl.DataFrame) -> list[pl.DataFrame]:
    """Restated originals (filed 16 days earlier, 3% off), exact duplicates, and conflicting duplicates."""
    def pick(share: float) -> pl.DataFrame:
        return base[np.sort(rng.choice(base.height, int(base.height * share), replace=False))]

    restated = pick(RESTATED_SHARE).with_columns(
        value=pl.col("value") * 1.03, filed_days=pl.col("filed_days") - 16, kind=pl.lit(1, pl.Int8))
    duplicate = pick(DUPLICATE_SHARE).with_columns(kind=pl.lit(2, pl.Int8))
    conflicting = pick(CONFLICT_SHARE).with_columns(value=pl.col("value") + 1000, kind=pl.lit(3, pl.Int8))
    return [restated, duplicate, conflicting]


def _render(rng: np.random.Generator, rows: pl.DataFrame, labels: pl.Series, companies: int, quarters: int,
            first_year: int) -> pl.DataFrame:
    """Index columns → the text a feed would carry; then a few bad cells are written over good ones."""
    width = len(str(companies))
    entity = pl.DataFrame({
        "company": pl.int_range(companies, eager=True, dtype=pl.Int32),
        "entity_id": [f"C{i:0{width}d}" for i in range(companies)],
        "entity_name": [f"Company {i:0{width}d} Holdings" for i in range(companies)],
        "sector": [SECTORS[i] for i in rng.integers(0, len(SECTORS), companies)],
        "currency": [CURRENCIES[i] for i in rng.integers(0, len(CURRENCIES), companies)],
    })
    period = _period_columns(quarters, first_year).with_columns(quarter=pl.int_range(quarters, dtype=pl.Int32))
    statement = pl.Series([items()[i].statement for i in BENCH_ITEMS])
    balance = pl.Series([items()[i].statement == "balance" for i in BENCH_ITEMS])
    per_share = pl.Series([i == "eps_diluted" for i in BENCH_ITEMS])
    frame = rows.join(entity, on="company", how="left").join(period, on="quarter", how="left").with_columns(
        statement=statement.gather(rows["item"]),
        item=labels.gather(rows["label"]),
        period_start=pl.when(balance.gather(rows["item"])).then(None).otherwise(pl.col("period_start")),
        filed=pl.col("period_end") + pl.duration(days=pl.col("filed_days")),
        value=pl.when(per_share.gather(rows["item"])).then(pl.col("value").round(2).cast(pl.String))
        .otherwise(pl.col("value").round(0).cast(pl.Int64).cast(pl.String)),
    ).select(LONG_COLUMNS).with_columns(pl.col("period_start", "period_end", "filed").cast(pl.String))
    return _salt(rng, frame)


def _salt(rng: np.random.Generator, frame: pl.DataFrame) -> pl.DataFrame:
    """~0.1% of rows get an unparseable number, an unknown currency or an unmapped label (a third each)."""
    bad = rng.choice(frame.height, int(frame.height * BAD_SHARE), replace=False)
    kinds = np.array_split(bad, 3)
    for column, choices, rows in zip(("value", "currency", "item"), (BAD_VALUES, BAD_CURRENCIES, BAD_LABELS), kinds,
                                     strict=True):
        replacement = pl.Series([choices[i] for i in rng.integers(0, len(choices), len(rows))], dtype=pl.String)
        frame = frame.with_columns(frame[column].scatter(rows, replacement))
    return frame


# ------------------------------------------------------------------------------------------ measuring


@dataclass
class Stage:
    engine: str
    stage: str
    rows_in: int
    rows_out: int
    seconds: float
    rows_per_s: float
    peak_rss_mb: float
    start_rss_mb: float

    @property
    def extra_mb(self) -> float:
        return self.peak_rss_mb - self.start_rss_mb


class RssSampler:
    """Highest RSS seen while a stage runs, sampled every ``interval`` seconds from a daemon thread.

    Polars releases the GIL while it works, so the sampler keeps running; pandas holds it in some loops,
    where a spike shorter than the loop can be missed, so the pandas peaks are lower bounds.
    """

    def __init__(self, interval: float = 0.005) -> None:
        self._process = psutil.Process()
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.start = self.peak = self._process.memory_info().rss

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._process.memory_info().rss)
            self._stop.wait(self._interval)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._process.memory_info().rss)


def measure(engine: str, stage: str, rows_in: int, work: Callable[[], T], rows_out: Callable[[T], int],
            results: list[Stage]) -> T:
    """Run one stage after a full garbage collection, so its figures do not carry the previous stage's garbage."""
    gc.collect()
    with RssSampler() as rss:
        t0 = time.perf_counter()
        value = work()
        seconds = time.perf_counter() - t0
    mb = 1024 * 1024
    results.append(Stage(engine, stage, rows_in, rows_out(value), seconds, rows_in / seconds, rss.peak / mb,
                         rss.start / mb))
    print(f"  {engine:9} {stage:18} {seconds:7.2f} s", flush=True)
    return value


# ------------------------------------------------------------------------------------------ finreport


def run_finreport(path: Path, rows: int, results: list[Stage]) -> tuple[Ingested, pl.DataFrame]:
    ingested = measure("finreport", "ingest + validate", rows, lambda: ingest([path]),
                       lambda i: i.facts.height, results)
    facts = ingested.facts
    measure("finreport", "accounting checks", facts.height, lambda: accounting_checks(pivot(facts)), len, results)
    analysis = measure("finreport", "metrics", facts.height, lambda: compute_metrics(facts),
                       lambda a: a.metrics.height, results)
    return ingested, analysis.metrics


# --------------------------------------------------------------------------------------------- pandas

KEYS = ["entity_id", "fiscal_year", "fiscal_period"]
PERIOD_ITEM = [*KEYS, "item"]
FLOWS = [n for n, i in items().items() if i.kind == "flow" and i.unit == "currency"]


@dataclass(frozen=True)
class Reference:
    """Lookup tables the pandas baseline validates against: the same data files finreport reads."""

    aliases: dict[str, str]
    statements: dict[str, str]
    currencies: set[str]

    @classmethod
    def load(cls) -> Reference:
        aliases = {normalize_label(name): name for name in items()}
        aliases |= {normalize_label(alias): item for item, labels in _aliases().items() for alias in labels}
        return cls(aliases, {n: i.statement for n, i in items().items()}, set(currencies()))


def pandas_ingest(path: Path, ref: Reference) -> dict[str, pd.DataFrame]:
    """Read, type, validate and resolve as an analyst would: one vectorised pass per check, then sort + dedupe."""
    df = pd.read_csv(path, dtype={"value": str, "fiscal_year": str})
    df["number"] = pd.to_numeric(df["value"], errors="coerce")
    df["year"] = pd.to_numeric(df["fiscal_year"], errors="coerce")
    for column in ("period_start", "period_end", "filed"):
        df[f"{column}_date"] = pd.to_datetime(df[column], format="%Y-%m-%d", errors="coerce")
    df["canonical"] = df["item"].str.lower().str.replace(r"[^0-9a-z]+", "", regex=True).map(ref.aliases)
    df["currency"] = df["currency"].str.upper()
    df["fiscal_period"] = df["fiscal_period"].str.upper()
    checks = [
        (df[["entity_id", "entity_name", "period_end", "item", "value", "currency"]].isna().any(axis=1),
         "required value is empty"),
        (~df["year"].between(1900, 2200), "not a fiscal year"),
        (~df["fiscal_period"].isin(["FY", "Q1", "Q2", "Q3", "Q4"]), "unknown fiscal period"),
        (df["period_end_date"].isna(), "unparseable period_end"),
        (df["period_start"].notna() & df["period_start_date"].isna(), "unparseable period_start"),
        (df["filed"].notna() & df["filed_date"].isna(), "unparseable filed"),
        (df["period_start_date"] > df["period_end_date"], "period_start after period_end"),
        (df["number"].isna() | ~np.isfinite(df["number"]), "unparseable number"),
        (~df["currency"].isin(ref.currencies), "unknown currency"),
        (df["canonical"].isna(), "unmapped item"),
        (df["statement"].notna() & ~df["statement"].isin(["income", "balance", "cashflow"]), "unknown statement"),
    ]
    df["reason"] = np.select([bad.to_numpy(dtype=bool) for bad, _ in checks], [r for _, r in checks], default="")
    rejected = df[df["reason"] != ""]
    good = df[df["reason"] == ""].drop(columns=["item", "value", "fiscal_year", "period_start", "period_end",
                                                "filed", "reason"])
    good = good.rename(columns={"canonical": "item", "number": "value", "year": "fiscal_year",
                                "period_start_date": "period_start", "period_end_date": "period_end",
                                "filed_date": "filed"})
    good["statement"] = good["item"].map(ref.statements)
    return _pandas_resolve(good, rejected)


def _pandas_resolve(good: pd.DataFrame, rejected: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Exact duplicates dropped, conflicting same-day filings rejected, then the latest ``filed`` wins."""
    same_filing = good.duplicated([*PERIOD_ITEM, "filed"], keep=False)
    repeated = good[same_filing]
    conflicting = repeated.groupby([*PERIOD_ITEM, "filed"])["value"].transform("nunique") > 1
    conflicts = repeated[conflicting]
    good = good.drop(index=conflicts.index).drop_duplicates([*PERIOD_ITEM, "filed", "value"])
    ordered = good.sort_values("filed", kind="stable")
    facts = ordered.drop_duplicates(PERIOD_ITEM, keep="last")
    superseded = ordered[ordered.duplicated(PERIOD_ITEM, keep="last")]
    return {"facts": facts, "superseded": superseded, "rejected": pd.concat([rejected, conflicts])}


def pandas_pivot(facts: pd.DataFrame) -> pd.DataFrame:
    """One row per entity and period, one column per item, with the period attributes beside them."""
    wide = facts.pivot_table(index=KEYS, columns="item", values="value", aggfunc="first")
    attrs = facts.groupby(KEYS).agg(entity_name=("entity_name", "last"), currency=("currency", "first"),
                                    period_start=("period_start", "min"), period_end=("period_end", "max"))
    wide = attrs.join(wide).reset_index().sort_values(KEYS, ignore_index=True)
    for name in items():
        if name not in wide.columns:
            wide[name] = np.nan
    quarter = wide["fiscal_period"].map({"Q1": 1, "Q2": 2, "Q3": 3, "Q4": 4})
    wide["qidx"] = wide["fiscal_year"] * 4 + quarter - 1
    return wide


def pandas_checks(facts: pd.DataFrame) -> pd.DataFrame:
    """The same identities as ``accounting_checks``, as boolean column arithmetic on the pivot."""
    w = pandas_pivot(facts)

    def tolerance(*sides: pd.Series) -> pd.Series:
        return np.maximum(pd.concat([s.abs() for s in sides], axis=1).max(axis=1) * 1e-4, 1.0)

    liabilities_side = w["total_liabilities"] + w["total_equity"] + w["noncontrolling_interest"].fillna(0) \
        + w["temporary_equity"].fillna(0)
    gross = w["revenue"] - w["cost_of_revenue"]
    flows = w["operating_cash_flow"] + w["investing_cash_flow"] + w["financing_cash_flow"] \
        + w["fx_effect_on_cash"].fillna(0)
    prior_cash = w.groupby("entity_id")["cash"].shift(1)
    roll = w["cash"] - prior_cash
    change = w["net_change_in_cash"]
    failed = {
        "balance_sheet_identity": (w["total_assets"] - liabilities_side).abs()
        > tolerance(w["total_assets"], liabilities_side),
        "gross_profit_identity": (w["gross_profit"] - gross).abs() > tolerance(w["gross_profit"], gross),
        "cash_flow_reconciliation": (change - flows).abs().gt(tolerance(change, flows))
        | (change.isna() & (roll - flows).abs().gt(tolerance(roll, flows))),
        "current_assets_within_total_assets": w["current_assets"] > w["total_assets"] + tolerance(w["total_assets"]),
        "current_liabilities_within_total_liabilities": w["current_liabilities"]
        > w["total_liabilities"] + tolerance(w["total_liabilities"]),
        "missing_period": w.groupby("entity_id")["qidx"].diff().gt(1),
    }
    parts = []
    for check, mask in failed.items():
        rows = w.loc[mask.fillna(False), KEYS].copy()
        rows["check"] = check
        rows["message"] = check + " failed for " + rows["entity_id"] + " " + rows["fiscal_period"] \
            + " FY" + rows["fiscal_year"].astype(str)
        parts.append(rows)
    return pd.concat(parts, ignore_index=True)


def _derive(w: pd.DataFrame) -> pd.DataFrame:
    w["short_term_debt"] = w["short_term_debt"].fillna(w["commercial_paper"].fillna(0)
                                                       + w["current_portion_long_term_debt"].fillna(0))
    w["total_debt"] = w["total_debt"].fillna(w["short_term_debt"] + w["long_term_debt"])
    w["total_liabilities"] = w["total_liabilities"].fillna(
        w["total_liabilities_and_equity"] - w["total_equity"] - w["noncontrolling_interest"].fillna(0)
        - w["temporary_equity"].fillna(0))
    w["gross_profit"] = w["gross_profit"].fillna(w["revenue"] - w["cost_of_revenue"])
    no_nci = w["noncontrolling_interest"].fillna(0) == 0
    w["net_income_parent"] = w["net_income_parent"].fillna(w["net_income"].where(no_nci))
    w["net_income"] = w["net_income"].fillna(w["net_income_parent"].where(no_nci))
    return w


def _ratios(w: pd.DataFrame, days: pd.Series) -> dict[str, pd.Series]:
    ebitda = w["operating_income"] + w["depreciation_amortization"]
    fcf = w["operating_cash_flow"] - w["capex"]
    return {
        "ebitda": ebitda,
        "free_cash_flow": fcf,
        "gross_margin": w["gross_profit"] / w["revenue"],
        "operating_margin": w["operating_income"] / w["revenue"],
        "net_margin": w["net_income"] / w["revenue"],
        "ebitda_margin": ebitda / w["revenue"],
        "interest_coverage": w["operating_income"] / w["interest_expense"],
        "dso": w["receivables"] / w["revenue"] * days,
        "fcf_margin": fcf / w["revenue"],
        "cash_conversion": w["operating_cash_flow"] / w["net_income"],
    }


def _annual_style(w: pd.DataFrame, prior: pd.DataFrame) -> dict[str, pd.Series]:
    """Metrics that mix a year of flows with balances: on TTM rows here, as finreport's ``*_ttm`` variants."""
    assets = w["total_assets"]
    compared = ["net_income", "total_assets", "long_term_debt", "current_assets", "current_liabilities",
                "shares_outstanding", "gross_profit", "revenue"]
    complete = w[[*compared, "operating_cash_flow"]].notna().all(axis=1) & prior[compared].notna().all(axis=1)
    roa, roa_before = w["net_income"] / assets, prior["net_income"] / prior["total_assets"]
    signals = [
        roa > 0, w["operating_cash_flow"] > 0, roa > roa_before, w["operating_cash_flow"] > w["net_income"],
        w["long_term_debt"] / assets < prior["long_term_debt"] / prior["total_assets"],
        w["current_assets"] / w["current_liabilities"] > prior["current_assets"] / prior["current_liabilities"],
        w["shares_outstanding"] <= prior["shares_outstanding"],
        w["gross_profit"] / w["revenue"] > prior["gross_profit"] / prior["revenue"],
        w["revenue"] / assets > prior["revenue"] / prior["total_assets"],
    ]
    return {
        "roe": w["net_income_parent"] / w["total_equity"],
        "roe_avg": w["net_income_parent"] / ((w["total_equity"] + prior["total_equity"]) / 2),
        "roa": roa,
        "asset_turnover": w["revenue"] / assets,
        "inventory_turnover": w["cost_of_revenue"] / w["inventory"],
        "net_debt_to_ebitda": (w["total_debt"] - w["cash"]) / (w["operating_income"] + w["depreciation_amortization"]),
        "altman_z_double_prime": 6.56 * (w["current_assets"] - w["current_liabilities"]) / assets
        + 3.26 * w["retained_earnings"] / assets + 6.72 * w["operating_income"] / assets
        + 1.05 * w["total_equity"] / w["total_liabilities"],
        "piotroski_f_score": sum(s.astype(int) for s in signals).astype(float).where(complete),
    }


def pandas_metrics(facts: pd.DataFrame) -> pd.DataFrame:
    """Pivot, derive, then ratios, growth (``groupby().shift()``), TTM (``groupby().rolling(4)``), Altman Z''."""
    w = _derive(pandas_pivot(facts))
    by_entity = w.groupby("entity_id")
    days = ((w["period_end"] - w["period_start"]).dt.days + 1).fillna(91)
    base: dict[str, pd.Series] = {
        **_ratios(w, days),
        "net_debt": w["total_debt"] - w["cash"],
        "working_capital": w["current_assets"] - w["current_liabilities"],
        "current_ratio": w["current_assets"] / w["current_liabilities"],
        "quick_ratio": (w["cash"] + w["short_term_investments"] + w["receivables"]) / w["current_liabilities"],
        "cash_ratio": (w["cash"] + w["short_term_investments"]) / w["current_liabilities"],
        "debt_to_equity": w["total_debt"] / w["total_equity"],
        "liabilities_to_equity": w["total_liabilities"] / w["total_equity"],
        "debt_to_assets": w["total_debt"] / w["total_assets"],
        "revenue_growth_yoy": (w["revenue"] - by_entity["revenue"].shift(4)) / by_entity["revenue"].shift(4).abs(),
        "revenue_growth_qoq": (w["revenue"] - by_entity["revenue"].shift(1)) / by_entity["revenue"].shift(1).abs(),
        "net_income_growth_yoy": (w["net_income"] - by_entity["net_income"].shift(4))
        / by_entity["net_income"].shift(4).abs(),
    }
    ttm = w.copy()
    ttm[FLOWS] = by_entity[FLOWS].rolling(4).sum().reset_index(level=0, drop=True)
    ttm_by_entity = ttm.groupby("entity_id")
    prior = ttm_by_entity[list(items())].shift(4)
    ttm_metrics: dict[str, pd.Series] = {
        **_ratios(ttm, pd.Series(365.0, index=ttm.index)),
        **_annual_style(ttm, prior),
        "revenue_growth_yoy": (ttm["revenue"] - prior["revenue"]) / prior["revenue"].abs(),
        "net_income_growth_yoy": (ttm["net_income"] - prior["net_income"]) / prior["net_income"].abs(),
    }
    line_items = [n for n, i in items().items() if i.canonical]
    wide = pd.concat(
        [w[KEYS + line_items], pd.DataFrame(base),
         ttm[[f for f in FLOWS if f in line_items]].add_suffix("_ttm"), pd.DataFrame(ttm_metrics).add_suffix("_ttm")],
        axis=1,
    )
    wide = wide.loc[:, ~wide.columns.duplicated()].replace([np.inf, -np.inf], np.nan)
    return wide.melt(id_vars=KEYS, var_name="metric", value_name="value")


def run_pandas(path: Path, rows: int, results: list[Stage]) -> pd.DataFrame:
    """Returns the metrics of the first CROSS_CHECK_ENTITIES entities only: the rest is freed before finreport runs."""
    ref = Reference.load()
    ingested = measure("pandas", "ingest + validate", rows, lambda: pandas_ingest(path, ref),
                       lambda d: len(d["facts"]), results)
    facts = ingested["facts"]
    measure("pandas", "accounting checks", len(facts), lambda: pandas_checks(facts), len, results)
    metrics = measure("pandas", "metrics", len(facts), lambda: pandas_metrics(facts), len, results)
    sample = np.sort(metrics["entity_id"].unique())[:CROSS_CHECK_ENTITIES]
    return metrics[metrics["entity_id"].isin(sample)].copy()


# -------------------------------------------------------------------------------------------- report


def cross_check(finreport: pl.DataFrame, baseline: pd.DataFrame) -> dict[str, Any]:
    """Evidence that the baseline does the same work: same metrics, same values, absent in the same places."""
    theirs = pl.from_pandas(baseline).rename({"value": "pandas"}).with_columns(
        pl.col("fiscal_year").cast(pl.Int32), pl.col("pandas").fill_nan(None))
    ours = finreport.filter(pl.col("entity_id").is_in(theirs["entity_id"].unique().implode())).select(
        *KEYS, "metric", "value")
    joined = ours.join(theirs, on=[*KEYS, "metric"], how="full", coalesce=True)
    both = joined.filter(pl.col("value").is_not_null() & pl.col("pandas").is_not_null())
    gap = ((pl.col("value") - pl.col("pandas")).abs() / pl.max_horizontal(pl.col("value").abs(), 1.0)).alias("gap")
    worst = both.group_by("metric").agg(gap.max()).sort("gap", descending=True)
    return {
        "entities": theirs["entity_id"].n_unique(),
        "metrics": {"finreport": ours["metric"].n_unique(), "pandas": theirs["metric"].n_unique(),
                    "both": worst.height},
        "compared_values": both.height,
        "present_in_one_only": joined.filter(pl.col("value").is_null() != pl.col("pandas").is_null()).height,
        "max_relative_gap": float(worst["gap"].max() or 0.0),
        "worst_metrics": worst.head(3).to_dicts(),
    }


def target_lines(stages: list[Stage]) -> list[tuple[str, str, bool]]:
    by = {(s.engine, s.stage): s for s in stages}
    ingest_rate = by[("finreport", "ingest + validate")].rows_per_s
    metrics_s = by[("finreport", "metrics")].seconds
    lines = [
        (f"ingest + validate >= {TARGET_INGEST_ROWS_PER_S:,} rows/s", f"{ingest_rate:,.0f} rows/s",
         ingest_rate >= TARGET_INGEST_ROWS_PER_S),
        (f"all metrics, all entities < {TARGET_METRICS_S:.0f} s", f"{metrics_s:.2f} s", metrics_s < TARGET_METRICS_S),
    ]
    if ("pandas", "metrics") in by:
        speedup = total(stages, "pandas") / total(stages, "finreport")
        lines.append((f">= {TARGET_SPEEDUP:.0f}x the pandas baseline (total)", f"{speedup:.1f}x",
                      speedup >= TARGET_SPEEDUP))
    return lines


def total(stages: list[Stage], engine: str) -> float:
    return sum(s.seconds for s in stages if s.engine == engine)


def print_report(stages: list[Stage], env: dict[str, Any], check: dict[str, Any] | None) -> None:
    print()
    print(f"polars {env['polars']} (thread pool {env['polars_threads']}), pandas {env['pandas']}, "
          f"os.cpu_count() = {env['cpu_count']}, {env['platform']}")
    header = f"{'engine':9}  {'stage':18}  {'rows in':>10}  {'rows out':>10}  {'seconds':>8}  {'rows/s':>11}  " \
             f"{'peak RSS MB':>11}  {'+MB':>7}"
    print(header)
    print("-" * len(header))
    for s in sorted(stages, key=lambda s: s.engine != "finreport"):
        print(f"{s.engine:9}  {s.stage:18}  {s.rows_in:>10,}  {s.rows_out:>10,}  {s.seconds:>8.2f}  "
              f"{s.rows_per_s:>11,.0f}  {s.peak_rss_mb:>11,.0f}  {s.extra_mb:>+7,.0f}")
    engines = {s.engine for s in stages}
    if {"finreport", "pandas"} <= engines:
        print()
        print("speed-up (pandas seconds / finreport seconds)")
        ours = {s.stage: s.seconds for s in stages if s.engine == "finreport"}
        for s in (s for s in stages if s.engine == "pandas"):
            print(f"  {s.stage:18}  {s.seconds / ours[s.stage]:6.1f}x")
        print(f"  {'total':18}  {total(stages, 'pandas') / total(stages, 'finreport'):6.1f}x "
              f"({total(stages, 'pandas'):.2f} s vs {total(stages, 'finreport'):.2f} s)")
    if check:
        m = check["metrics"]
        print(f"\ncross-check on {check['entities']} entities: metrics finreport {m['finreport']}, pandas "
              f"{m['pandas']}, both {m['both']}; {check['compared_values']:,} values compared, largest relative gap "
              f"{check['max_relative_gap']:.1e}; present in one engine only: {check['present_in_one_only']:,}")
    print("\ntargets")
    for name, figure, met in target_lines(stages):
        print(f"  {name:42}  {figure:>16}  {'met' if met else 'NOT MET'}")


def environment() -> dict[str, Any]:
    return {
        "polars": pl.__version__,
        "polars_threads": pl.thread_pool_size(),
        "pandas": pd.__version__,
        "numpy": np.__version__,
        "cpu_count": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 1e9, 1),
        "load_average_1m": os.getloadavg()[0],
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--companies", type=int, default=1000)
    parser.add_argument("--quarters", type=int, default=40)
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument("--out", type=Path, default=OUT_DIR, help="where the CSV and the JSON figures go")
    parser.add_argument("--no-pandas", action="store_true", help="finreport only (quicker)")
    args = parser.parse_args(argv)

    path = ensure_dataset(args.out, args.companies, args.quarters, args.seed)
    rows = pl.scan_csv(path, infer_schema=False).select(pl.len()).collect().item()
    env = environment()
    if env["load_average_1m"] > 0.5:
        print(f"note: load average {env['load_average_1m']:.1f} before the run: other processes share the CPUs, "
              "so the timings below are slower than on an idle machine")
    stages: list[Stage] = []
    print(f"{rows:,} rows, {args.companies:,} companies x {args.quarters} quarters; stages:")
    sample = None
    if not args.no_pandas:
        sample = run_pandas(path, rows, stages)
        release_memory()
    ingested, metrics = run_finreport(path, rows, stages)
    counts = {"facts": ingested.facts.height, "superseded": ingested.superseded.height,
              "rejected": ingested.rejected.height}
    check = None if sample is None else cross_check(metrics, sample)
    print_report(stages, env, check)
    write_json(args.out / "bench_facts.json", args, path, rows, counts, env, stages, check)


def release_memory() -> None:
    """Hand freed memory back to the OS so the next engine's RSS starts near the interpreter's own.

    Without this, glibc's and Arrow's allocators keep pandas' freed pages resident and the finreport
    figures would carry a few hundred MB that are not theirs.
    """
    gc.collect()
    if platform.system() == "Linux":
        with suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6").malloc_trim(0)
    pa.default_memory_pool().release_unused()


def write_json(target: Path, args: argparse.Namespace, path: Path, rows: int, counts: dict[str, int],
               env: dict[str, Any], stages: list[Stage], check: dict[str, Any] | None) -> None:
    figures = {
        "dataset": {"path": str(path), "rows": rows, "companies": args.companies, "quarters": args.quarters,
                    "items": len(BENCH_ITEMS), "seed": args.seed, "finreport_counts": counts},
        "environment": env,
        "stages": [asdict(s) for s in stages],
        "targets": [{"target": n, "measured": f, "met": m} for n, f, m in target_lines(stages)],
        "cross_check": check,
    }
    if any(s.engine == "pandas" for s in stages):
        figures["speedup_total"] = total(stages, "pandas") / total(stages, "finreport")
    target.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    print(f"\nfigures written to {target}")


if __name__ == "__main__":
    main()
