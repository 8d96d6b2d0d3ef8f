"""Ingest: every input file through its adapter, one validation, then duplicates and restatements resolved.

Nothing is lost: each input row ends up in ``facts`` (current values), ``superseded`` (earlier values a
later filing restated) or ``rejected`` (with file, line, column and reason). A file that cannot be read
at all is refused with one rejected row naming it; the other files go on.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from generator.errors import InputFileError
from generator.ingest import companyfacts, fx, holdings, long, prices, sectors, statement, wide, xbrl_csv
from generator.ingest.base import REJECTED_SCHEMA, Adapter, Probe, format_suffix, refused_row
from generator.ingest.shares import on_one_basis
from generator.ingest.validate import empty_accepted, empty_rejected, validate
from generator.rounding import reported_unit, unit, within_rounding
from generator.schema import FINDING_SCHEMA

ADAPTERS: tuple[Adapter, ...] = (companyfacts.ADAPTER, xbrl_csv.ADAPTER, long.ADAPTER, wide.ADAPTER,
                                  statement.ADAPTER)
"""Asked in this order whether a file is theirs: the more particular formats first (an XBRL facts table has a
value column too). A file none accepts is read as a long table, whose reader says which columns it lacks."""
INPUT_SUFFIXES = (".csv", ".parquet", ".pq", ".jsonl", ".ndjson", ".json")
PERIOD_KEYS = ["entity_id", "fiscal_year", "fiscal_period", "item"]
NOT_STATEMENTS = ("price", "holding", "fx rate")
"""The ``item`` of a rejected row that is no statement figure: a company whose only rejected rows are these has not
lost its statements (a holding of a company no input has names a company that is not one of the run's)."""


@dataclass(frozen=True)
class InputFile:
    """One input file as the manifest lists it: its path, its SHA-256 (a run is traced to the exact bytes it read), the
    adapter that read it and how many rows it held."""

    path: str
    sha256: str
    adapter: str
    rows: int


@dataclass
class Ingested:
    """All that ingest made of a run's inputs: current facts, values later filings superseded, rejected rows with their
    reasons, the files read and refused, stock-split and share-scale events, declared sectors."""

    facts: pl.DataFrame
    superseded: pl.DataFrame
    rejected: pl.DataFrame
    files: list[InputFile] = field(default_factory=list)
    refused: list[InputFileError] = field(default_factory=list)
    events: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=FINDING_SCHEMA))
    """Findings about how figures were put on one basis: stock splits, share counts tagged in thousands."""
    sectors: pl.DataFrame | None = None
    """What sectors files declared (``ingest.sectors``): each company's sector, SIC code and industry."""
    prices: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=prices.PRICES_SCHEMA))
    """Daily prices (``ingest.prices``), splits nobody declared read as splits."""
    price_findings: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=prices.PRICE_FINDING_SCHEMA))
    """What reading the prices found: splits detected, gaps of more than a week."""
    holdings: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=holdings.HOLDINGS_SCHEMA))
    """What each portfolio holds (``ingest.holdings``), under the ids the other inputs use."""
    blocking: dict[str, list[str]] = field(default_factory=dict)
    """For each portfolio, its rejected holdings rows that change what it holds: it is not reported."""
    fx: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=fx.FX_SCHEMA))
    """FX rates (``ingest.fx``): one unit of ``currency`` in ``base`` by day."""

    @property
    def rows_in(self) -> int:
        """Every row read, a refused file counting as one: what accepted and rejected rows must add up to, so that no
        row goes missing unnoticed."""
        return sum(f.rows for f in self.files) + len(self.refused)

    @property
    def accepted_count(self) -> int:
        """Rows used: current, superseded (kept for the restatements), sectors, price, holdings and FX rows; with the
        rejected ones they account for :attr:`rows_in`."""
        return self.facts.height + self.superseded.height + (0 if self.sectors is None else self.sectors.height) \
            + self.prices.height + self.holdings.height + self.fx.height

    def declared(self, column: str) -> dict[str, str]:
        """What the sectors files declared in one column (``sector``, ``benchmark``), by company."""
        if self.sectors is None:
            return {}
        return dict(self.sectors.filter(pl.col(column).is_not_null()).select("entity_id", column).iter_rows())

    def restatements(self) -> pl.DataFrame:
        """Each superseded value beside the value that replaced it: the next one filed, so a figure restated
        twice reads X → Y → Z (and X → Y → X back again), not X → Z and Y → Z. A value without a filed date
        counts as the oldest, as when the current value was chosen. A later filing that only rounds the figure
        differently (to the dollar, then to $0.1m), or repeats it on a post-split basis, restates nothing."""
        columns = [*PERIOD_KEYS, "period_end", "value", "filed", "source", "__unit"]
        restated = self.facts.join(self.superseded.select(PERIOD_KEYS).unique(), on=PERIOD_KEYS, how="semi")
        following = [pl.col(c).shift(-1).over(PERIOD_KEYS).alias(f"restated_{c}")
                     for c in ("value", "filed", "source", "__unit")]
        return (
            pl.concat([f.with_columns(__unit=reported_unit(pl.col("value"), pl.col("_raw")) if "_raw" in f.columns
                                      else unit(pl.col("value"))).select(columns)
                       for f in (self.superseded, restated)])
            .sort([*PERIOD_KEYS, "filed"], nulls_last=False)
            .with_columns(*following, __next=pl.int_range(pl.len()).over(PERIOD_KEYS) < pl.len().over(PERIOD_KEYS) - 1)
            .filter(pl.col("__next") & ~within_rounding(pl.col("value"), pl.col("restated_value"), pl.col("__unit"),
                                                         pl.col("restated___unit")))
            .rename({"value": "original_value", "filed": "original_filed", "source": "original_source"})
            .select(*PERIOD_KEYS, "period_end", "original_value", "original_filed", "original_source",
                    "restated_value", "restated_filed", "restated_source")
        )

    def unmapped(self) -> pl.DataFrame:
        """Labels and XBRL tags the mappings do not know: how often, and where first seen (file and line, or the
        JSON path of a companyfacts entry, which holds its accession number)."""
        where = pl.coalesce(pl.col("file") + ":" + pl.col("line").cast(pl.String),
                            pl.col("file") + " " + pl.col("column"))
        return (
            self.rejected.filter(pl.col("reason").str.starts_with("unmapped item"))
            .group_by("item")
            .agg(rows=pl.len(), first_seen=where.first())
            .sort("rows", "item", descending=[True, False])
        )


def expand_inputs(paths: Iterable[Path]) -> list[Path]:
    """Folders are searched recursively for input files, in a stable order (a statement table's metadata is
    not an input of its own)."""
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            out += sorted(p for p in path.rglob("*") if not p.is_dir() and format_suffix(p) in INPUT_SUFFIXES
                          and not statement.is_metadata(p))
        else:
            out.append(path)
    return out


def _unsafe(path: Path, folders: Sequence[Path]) -> str | None:
    """Why a file found as an input is not read: a link that leaves the folder it was found in (a
    ``passwd.csv`` pointing at /etc/passwd had its first line copied into the error and the manifest), or no
    regular file (reading a FIFO waits for ever)."""
    for folder in folders:
        if folder in path.parents and path.exists():
            target, root = path.resolve(), folder.resolve()
            if root not in target.parents:
                return f"a link to {target}, outside the input folder {folder}: not followed"
    if path.exists() and not path.is_file():
        return "not a regular file (a FIFO, socket or device): not read"
    return None


def choose_adapter(path: Path) -> Adapter:
    """The first adapter of :data:`ADAPTERS` that accepts the file; the long table's when none does."""
    probe = Probe(path)
    return next((adapter for adapter in ADAPTERS if adapter.accepts(probe)), long.ADAPTER)


def read_file(path: Path) -> tuple[Adapter, pl.DataFrame, pl.DataFrame]:
    """One file through its adapter and validation → (adapter, accepted, rejected)."""
    adapter = choose_adapter(path)
    raw = adapter.read(path)
    accepted, rejected = validate(raw)
    return adapter, accepted, rejected


def _read_or_refuse(path: Path) -> tuple[Adapter, pl.DataFrame] | InputFileError:
    """The file through its adapter (validation comes later, for many files at once), or why it is refused."""
    try:
        adapter = choose_adapter(path)
        return adapter, adapter.read(path)
    except InputFileError as exc:
        return exc


BATCH_ROWS = 1_000_000
"""Rows validated together. Validation costs a few hundred small frame operations whatever the rows: done per
file, 10,000 small files took 334 s (33 ms each); done per batch of files, a fraction of that."""


def _batches(frames: Sequence[pl.DataFrame]) -> list[list[pl.DataFrame]]:
    out: list[list[pl.DataFrame]] = [[]]
    rows = 0
    for frame in frames:
        if out[-1] and rows + frame.height > BATCH_ROWS:
            out.append([])
            rows = 0
        out[-1].append(frame)
        rows += frame.height
    return [batch for batch in out if batch]


def ingest(paths: Sequence[Path]) -> Ingested:
    """Every file read in turn (its SHA-256 computed alongside), the rows validated in batches of files; then
    duplicates resolved."""
    files: list[InputFile] = []
    refused: list[InputFileError] = []
    accepted_parts: list[pl.DataFrame] = [empty_accepted()]
    rejected_parts: list[pl.DataFrame] = [empty_rejected()]
    folders = [p for p in paths if p.is_dir()]
    found = expand_inputs(paths)
    unsafe = {p: InputFileError(p, why) for p in found if (why := _unsafe(p, folders))}
    refused += unsafe.values()
    rejected_parts += [refused_row(e) for e in unsafe.values()]
    paths = [p for p in found if p not in unsafe]
    sector_files = [p for p in paths if sectors.accepts(Probe(p))]
    paths = [p for p in paths if p not in sector_files]
    declared = sectors.read_all(sector_files)
    files += [InputFile(str(p), _sha256(p), "sectors", n) for p, n in declared.rows.items()]
    refused += declared.refused
    rejected_parts.append(declared.rejected)
    holding_files = [p for p in paths if holdings.accepts(Probe(p))]
    fx_files = [p for p in paths if p not in holding_files and fx.layout(Probe(p))]
    paths = [p for p in paths if p not in holding_files and p not in fx_files]
    held = holdings.read_all(holding_files)
    files += [InputFile(str(p), _sha256(p), "holdings", n) for p, n in held.rows.items()]
    refused += held.refused
    rates = fx.read_all(fx_files)
    files += [InputFile(str(p), _sha256(p), f"fx rates ({fx.layout(Probe(p))})", n) for p, n in rates.rows.items()]
    refused += rates.refused
    rejected_parts.append(rates.rejected)
    price_files = [p for p in paths if prices.layout(Probe(p))]
    paths = [p for p in paths if p not in price_files]
    quoted = prices.read_all(price_files)
    files += [InputFile(str(p), _sha256(p), f"prices ({prices.layout(Probe(p))})", n) for p, n in quoted.rows.items()]
    refused += quoted.refused
    rejected_parts.append(quoted.rejected)
    raws: list[pl.DataFrame] = []
    with ThreadPoolExecutor(max_workers=1) as hasher:
        digests = [hasher.submit(_sha256, p) for p in paths]
        outcomes = [_read_or_refuse(p) for p in paths]
    for path, digest, outcome in zip(paths, digests, outcomes, strict=True):
        if isinstance(outcome, InputFileError):
            refused.append(outcome)
            rejected_parts.append(refused_row(outcome))
            continue
        adapter, raw = outcome
        files.append(InputFile(str(path), digest.result(), adapter.name, raw.height))  # each row: used or rejected
        raws.append(raw)
    for batch in _batches(raws):
        accepted, rejected = validate(pl.concat(batch, how="vertical_relaxed"))
        accepted_parts.append(accepted)
        rejected_parts.append(rejected)
    accepted, foreign = one_currency(pl.concat(accepted_parts, how="vertical_relaxed"))
    rejected_parts.append(foreign)
    accepted, events = on_one_basis(accepted)
    current, superseded, duplicates = resolve(accepted)
    current, declared_sectors = sectors.attach(current, declared.table)
    priced = sectors.quoted_as(quoted.prices, declared_sectors)
    tickers = dict(declared_sectors.filter(pl.col("ticker").is_not_null()).select("ticker", "entity_id").iter_rows())
    held = holdings.known(held, set(current["entity_id"].unique().to_list()) | set(priced["entity_id"].unique()
                                                                                  .to_list()), tickers)
    rejected_parts.append(held.rejected)
    rejected = pl.concat([*rejected_parts, duplicates]).sort("file", "line", nulls_last=True, maintain_order=True)
    return Ingested(current, superseded, rejected, files, refused, events, declared_sectors, priced,
                    sectors.quoted_as(quoted.findings, declared_sectors), held.holdings, held.blocking, rates.rates)


def one_currency(accepted: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(rows in the company's reporting currency, the others as rejected rows). The reporting currency is the one
    most of a company's rows are in. A JPY revenue row in a USD company had become USD revenue, and a EUR year
    beside USD years a growth rate across currencies: nothing is converted without an FX table."""
    counted = accepted.group_by("entity_id", "currency").len()
    reporting = counted.sort(["len", "currency"], descending=[True, False]).group_by(
        "entity_id", maintain_order=True).agg(pl.col("currency").first().alias("__reporting"),
                                              (pl.col("len").first() / pl.col("len").sum()).alias("__share"))
    marked = accepted.join(reporting, on="entity_id", how="left", maintain_order="left")
    other = pl.col("currency") != pl.col("__reporting")
    foreign = marked.filter(other).select(
        file=pl.col("_file"), line=pl.col("_line"), column=pl.lit("currency"), entity_id=pl.col("entity_id"),
        item=pl.col("item"), value=pl.col("_raw"),
        reason=pl.lit("in ") + pl.col("currency") + pl.lit(", but ") + pl.col("entity_id") + pl.lit(" reports in ")
        + pl.col("__reporting") + pl.lit(" (") + (pl.col("__share") * 100).round(0).cast(pl.Int64).cast(pl.String)
        + pl.lit("% of its rows): figures in another currency are not converted (no FX table is read)"),
    ).cast(REJECTED_SCHEMA)  # type: ignore[arg-type]
    return marked.filter(~other).drop("__reporting", "__share"), foreign


def resolve(accepted: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Duplicates first (same period, item and ``filed``), then restatements (the latest ``filed`` wins).

    Only rows that share a period and item with another row need either step, so one hash pass finds
    them and the rest of the table keeps its order untouched.
    """
    keys = [*PERIOD_KEYS, "filed"]
    numbered = accepted.with_row_index("__row")
    shared = numbered.filter(pl.struct(PERIOD_KEYS).is_duplicated())
    shared = shared.with_columns(
        __values=pl.col("value").n_unique().over(keys),
        __rank=pl.int_range(pl.len()).over(keys),
        __first=pl.col("source").first().over(keys),
        __all=pl.concat_str(pl.col("source") + pl.lit(" = ") + pl.col("_raw")).str.join("; ").over(keys),
    )
    conflicting = shared.filter(pl.col("__values") > 1)
    extra = shared.filter((pl.col("__values") == 1) & (pl.col("__rank") > 0))
    duplicates = pl.concat([
        _as_rejected(conflicting, pl.lit("conflicting values for the same entity, period, item and filed date: ")
                     + pl.col("__all")),
        _as_rejected(extra, pl.lit("duplicate of ") + pl.col("__first") + pl.lit(" (same value)")),
    ])
    candidates = shared.filter((pl.col("__values") == 1) & (pl.col("__rank") == 0))
    latest = candidates.sort("filed", nulls_last=False).with_columns(
        __latest=pl.int_range(pl.len()).over(PERIOD_KEYS) == pl.len().over(PERIOD_KEYS) - 1
    )
    dropped = pl.concat([conflicting["__row"], extra["__row"], latest.filter(~pl.col("__latest"))["__row"]])
    current = numbered.filter(~pl.col("__row").is_in(dropped.implode())).drop("__row")
    superseded = latest.filter(~pl.col("__latest")).sort("__row").select(accepted.columns)
    return current, superseded, duplicates


def _as_rejected(frame: pl.DataFrame, reason: pl.Expr) -> pl.DataFrame:
    return frame.select(
        file=pl.col("_file"),
        line=pl.col("_line"),
        column=pl.lit("value"),
        entity_id=pl.col("entity_id"),
        item=pl.col("item"),
        value=pl.col("_raw"),
        reason=reason,
    ).cast(REJECTED_SCHEMA)  # type: ignore[arg-type]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
