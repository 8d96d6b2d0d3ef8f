"""The knowledge graph: period snapshots as OWL individuals, classified by HermiT, explained from the ontology.

One Owlready2 world per run holds the ontology (``generator/ontology/finance.owl``) and one ontology of
individuals per company. HermiT (Java) classifies each company's snapshots in its own partition:
classification cost grows with the square of the individuals reasoned together, while companies never
share individuals, so partitions keep it linear. All partitions go to a few long-lived driver JVMs (one per two
cores, ``generator/ontology/PartitionReasoner.java`` over HermiT's API), each of which classifies the ontology once
and then realises one partition's individuals after another. A partition HermiT finds inconsistent does not stop the
others:
its snapshots are checked one by one, the contradictory ones are reported as data-quality findings
(naming the values and the axiom they break), and the rest are classified.

Explanations are read from the class definitions themselves: which restriction fired, with the value
that satisfied it and the threshold written in the ontology.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import io
import operator
import os
import queue
import re
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import quote

import owlready2
import polars as pl
import rdflib
from owlready2 import And, ConstrainedDatatype, Ontology, Or, Restriction, ThingClass, World

from generator.errors import FinreportError
from generator.metrics import MARKET_DEFINITIONS, Analysis, metric_names
from generator.present import MARKET, MARKET_LABEL, PORTFOLIO, period_label

ONTOLOGY = Path(__file__).resolve().parent / "ontology" / "finance.owl"
NAMESPACE = "https://finreport.dev/ontology/finance#"
DATA = "https://finreport.dev/data/"
_TYPE_LINE = re.compile(r"^Type\( <([^>]+)> <([^>]+)> \)$", re.MULTILINE)
_SUBCLASS_LINE = re.compile(r"^SubClassOf\( <([^>]+)> <([^>]+)> \)$", re.MULTILINE)
_FACETS = {"min_inclusive": ">=", "min_exclusive": ">", "max_inclusive": "<=", "max_exclusive": "<"}
_HERMIT = Path(owlready2.__file__).parent / "hermit"
_DRIVER_SOURCE = Path(__file__).resolve().parent / "ontology" / "PartitionReasoner.java"
_TTM = {name for name in metric_names() if name.endswith("_ttm")}


class JavaMissingError(FinreportError):
    """HermiT runs on Java: without it a run stops at once, saying how to install it, rather than report no flags."""

    def __init__(self) -> None:
        super().__init__("Java is needed for HermiT reasoning and was not found on PATH: install a Java runtime "
                         "(Debian: apt-get install default-jre-headless)")


class ReasonerError(FinreportError):
    """HermiT failed for another reason than an inconsistent partition."""


@dataclass
class Flag:
    """One category HermiT put a snapshot in (a liquidity concern in FY2022): its severity, the sentence that explains
    it, and the facts and conditions behind it. A row of flags.json."""

    entity_id: str
    fiscal_year: int
    fiscal_period: str
    flag: str
    label: str
    severity: str
    explanation: str
    facts: dict[str, Any]
    conditions: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Graph:
    """One run's knowledge graph: the Owlready2 world with the ontology and each company's individuals, the snapshots by
    (entity, year, period), and what reasoning added: flags, contradictory snapshots, timings."""

    world: World
    tbox: Ontology
    companies: dict[str, Ontology]
    snapshots: dict[tuple[str, int, str], Any]
    flags: list[Flag] = field(default_factory=list)
    findings: list[dict[str, Any]] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    tbox_triples: bytes | None = None
    hierarchy: set[tuple[str, str]] = field(default_factory=set)
    """(subclass, superclass) IRIs as HermiT classified them: a snapshot in a subclass is in its supers."""
    portfolios: dict[str, Ontology] = field(default_factory=dict)
    """Each portfolio's ontology: the portfolio individual (``portfolio``) and its holdings."""
    portfolio_flags: list[Flag] = field(default_factory=list)
    """The categories HermiT put each portfolio in (``fiscal_period`` "portfolio")."""

    @property
    def version(self) -> str:
        """The ontology's ``owl:versionInfo``, kept in the manifest: a flag traces back to the axioms that fired it."""
        return str(self.tbox.metadata.versionInfo[0]) if self.tbox.metadata.versionInfo else "unversioned"


def java() -> str:
    """The Java executable Owlready2 will use; a missing Java is a clear error, never a silent skip."""
    found = shutil.which(owlready2.JAVA_EXE)
    if not found:
        raise JavaMissingError()
    return found


def flag_classes(tbox: Ontology) -> list[ThingClass]:
    """Categories a report shows: defined classes with a severity annotation."""
    return [c for c in tbox.classes() if c.equivalent_to and c.severity]


def flag_labels(tbox: Ontology) -> list[str]:
    """How the categories are named in prose ("liquidity concern"): what a narrator may call a flag."""
    return [str(c.label[0]) for c in flag_classes(tbox) if c.label]


def flag_names(tbox: Ontology) -> dict[str, str]:
    """Each category's class name → its label ("LiquidityConcern" → "liquidity concern")."""
    return {c.name: str(c.label[0]) for c in flag_classes(tbox) if c.label}


def snapshot_properties(tbox: Ontology) -> list[str]:
    """Metric data properties of a snapshot: named as the facts engine's metrics, or the market's."""
    names = set(metric_names()) | set(MARKET_DEFINITIONS)
    return [p.name for p in tbox.data_properties() if p.name in names]


def snapshot_table(analysis: Analysis, properties: list[str]) -> pl.DataFrame:
    """One row per entity and period with the value of each snapshot property.

    Quarterly snapshots take the trailing-twelve-month variant of a metric when there is one, so a
    quarter is judged on a year of flows, as annual snapshots are.
    """
    names = set(metric_names())
    wanted = {p for p in properties} | {f"{p}_ttm" for p in properties if f"{p}_ttm" in names}
    values = analysis.metrics.filter(pl.col("metric").is_in(sorted(wanted)) & pl.col("value").is_not_null())
    wide = values.pivot(on="metric", index=["entity_id", "fiscal_year", "fiscal_period"], values="value",
                        on_columns=sorted(wanted))
    quarterly = pl.col("fiscal_period") != "FY"
    chosen = [
        (pl.when(quarterly).then(pl.col(f"{p}_ttm")).otherwise(pl.col(p)) if f"{p}_ttm" in wanted else pl.col(p))
        .alias(p)
        for p in properties
    ]
    attrs = analysis.base.select(
        pl.col("entity_id").cast(pl.String), "fiscal_year", pl.col("fiscal_period").cast(pl.String),
        pl.col("entity_name").cast(pl.String), pl.col("sector").cast(pl.String), "__qidx",
    )
    return attrs.join(wide.select("entity_id", "fiscal_year", "fiscal_period", *chosen),
                      on=["entity_id", "fiscal_year", "fiscal_period"], how="left").sort(
        "entity_id", "fiscal_year", "fiscal_period")


def load_ontology(ontology: Path = ONTOLOGY) -> tuple[World, Ontology]:
    """A fresh world holding the ontology, read from the local file only (imports are never fetched)."""
    world = World()
    return world, world.get_ontology(ontology.resolve().as_uri()).load(only_local=True)


def market_snapshots(analysis: Analysis, metrics: pl.DataFrame, as_of: date, properties: list[str]) -> pl.DataFrame:
    """One market snapshot row per entity with prices (``fiscal_period`` "market", the as-of year), named and put in
    a sector as its statements say (an entity with prices alone is named by its id)."""
    values = metrics.filter(pl.col("metric").is_in(properties) & pl.col("value").is_not_null())
    priced = metrics.select("entity_id").unique()
    wide = priced.join(values.pivot(on="metric", index="entity_id", values="value"), on="entity_id", how="left")
    names = analysis.base.sort("period_end").group_by("entity_id").agg(
        entity_name=pl.col("entity_name").cast(pl.String).last(), sector=pl.col("sector").cast(pl.String).last())
    columns = [pl.col(p) if p in wide.columns else pl.lit(None, pl.Float64).alias(p) for p in properties]
    return wide.join(names, on="entity_id", how="left").select(
        "entity_id", pl.lit(as_of.year, pl.Int32).alias("fiscal_year"), pl.lit(MARKET).alias("fiscal_period"),
        pl.coalesce("entity_name", "entity_id").alias("entity_name"), "sector",
        pl.lit(None, pl.Int64).alias("__qidx"), *columns)


def build(analysis: Analysis, market_metrics: pl.DataFrame | None = None, as_of: date | None = None,
          ontology: Path = ONTOLOGY) -> Graph:
    """One world: the ontology plus, per company, its company, sector and snapshot individuals, and a market
    snapshot at the as-of date for each company with prices."""
    world, tbox = load_ontology(ontology)
    properties = snapshot_properties(tbox)
    table = snapshot_table(analysis, properties)
    if market_metrics is not None and as_of is not None and not market_metrics.is_empty():
        snapshots = market_snapshots(analysis, market_metrics, as_of, properties)
        table = pl.concat([table, snapshots], how="diagonal_relaxed")
    return populate(world, tbox, table, as_of)


def populate(world: World, tbox: Ontology, table: pl.DataFrame, as_of: date | None = None) -> Graph:
    """Individuals from a snapshot table (entity_id, entity_name, sector, fiscal_year, fiscal_period,
    ``__qidx`` and one column per snapshot property; absent columns or nulls assert nothing). A row of fiscal
    period "market" is the company's market snapshot at ``as_of``."""
    fr = tbox.get_namespace(NAMESPACE)
    properties = [p for p in snapshot_properties(tbox) if p in table.columns]
    companies: dict[str, Ontology] = {}
    snapshots: dict[tuple[str, int, str], Any] = {}
    by_quarter: dict[tuple[str, int], Any] = {}
    for row in table.iter_rows(named=True):
        entity = row["entity_id"]
        if entity not in companies:
            companies[entity] = world.get_ontology(f"{DATA}{quote(entity, safe='')}")
            with companies[entity]:
                company = fr.Company("company", namespace=companies[entity], entity_id=entity, label=[
                    row["entity_name"]])
                if row["sector"]:
                    company.in_sector = fr.Sector(f"sector_{quote(row['sector'], safe='')}",
                                                  namespace=companies[entity], label=[row["sector"]])
        onto = companies[entity]
        with onto:
            if row["fiscal_period"] == MARKET:
                snap = fr.MarketSnapshot(f"market_{as_of}", namespace=onto, label=[MARKET_LABEL])
            else:
                kind = fr.AnnualSnapshot if row["fiscal_period"] == "FY" else fr.QuarterlySnapshot
                snap = kind(f"{row['fiscal_period']}_{row['fiscal_year']}", namespace=onto,
                            label=[period_label(row["fiscal_year"], row["fiscal_period"])])
            snap.of_company = onto.company
            snap.fiscal_year = int(row["fiscal_year"])
            snap.fiscal_period = row["fiscal_period"]
            for p in properties:
                if row[p] is not None:
                    setattr(snap, p, float(row[p]))
        snapshots[(entity, row["fiscal_year"], row["fiscal_period"])] = snap
        if row["__qidx"] is not None:
            by_quarter[(entity, row["__qidx"])] = snap
    for (entity, year, period), snap in snapshots.items():
        if period == MARKET:
            continue
        if period == "FY":
            previous = snapshots.get((entity, year - 1, "FY"))
        else:
            previous = by_quarter.get((entity, year * 4 + int(period[1]) - 2))
        if previous is not None:
            with companies[entity]:
                snap.previous_snapshot = previous
    return Graph(world, tbox, companies, snapshots)


def ntriples(onto: Ontology) -> bytes:
    """N-Triples of one ontology, imports filtered (HermiT never fetches anything): the ontology's are what a
    :class:`HermitDriver` starts with, a company's (or any individuals') one partition to realise."""
    data = io.BytesIO()
    onto.save(data, format="ntriples", filter=lambda g, s, p, o, d: p != owlready2.owl_imports)
    return data.getvalue()


def _tbox_triples(graph: Graph) -> bytes:
    """The graph's ontology as N-Triples, serialised once per graph."""
    if graph.tbox_triples is None:
        graph.tbox_triples = ntriples(graph.tbox)
    return graph.tbox_triples


@dataclass(frozen=True)
class Realised:
    """HermiT's answer for one partition: whether it is consistent with the ontology, each individual's most specific
    classes (individual IRI, class IRI), and the class hierarchy (subclass IRI, superclass IRI) that holds with it."""

    consistent: bool
    types: list[tuple[str, str]]
    hierarchy: frozenset[tuple[str, str]]


def _driver_classes() -> Path:
    """The compiled driver: compiled once per source and Java (with Java's own compiler module; a JRE without
    ``jdk.compiler`` cannot) into the user's cache folder, shared by every process; a temporary folder when the cache
    cannot be written."""
    source = _DRIVER_SOURCE.read_bytes()
    executable = os.path.realpath(java())
    key = hashlib.sha256(source + b"\0" + executable.encode()).hexdigest()[:20]
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "finreport" / "hermit-driver"
    target = cache / key
    if (target / f"{_DRIVER_SOURCE.stem}.class").exists():
        return target
    try:
        cache.mkdir(parents=True, exist_ok=True)
        building = Path(tempfile.mkdtemp(prefix=f"{key}-", dir=cache))
    except OSError:
        building = target = Path(tempfile.mkdtemp(prefix="finreport-hermit-driver-"))
    command = [executable, "-m", "jdk.compiler/com.sun.tools.javac.Main", "-nowarn", "-implicit:none", "-sourcepath",
               "", "-encoding", "UTF-8", "-d", str(building), "-cp", _classpath(), str(_DRIVER_SOURCE)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        shutil.rmtree(building, ignore_errors=True)
        last = [line for line in (done.stderr or done.stdout).splitlines() if line.strip()][-1:]
        raise ReasonerError(f"the HermiT driver could not be compiled (this Java needs its jdk.compiler module, which "
                            f"Debian's default-jre-headless and every JDK have): {' '.join(last)}")
    if building != target:
        try:
            building.rename(target)
        except OSError:  # another process compiled the same source first
            shutil.rmtree(building, ignore_errors=True)
    return target


def _classpath() -> str:
    """Owlready2's HermiT: its patched classes first, then the jar with HermiT and the OWL API."""
    return f"{_HERMIT}{os.pathsep}{_HERMIT / 'HermiT.jar'}"


class HermitDriver:
    """One long-lived HermiT JVM (``generator/ontology/PartitionReasoner.java``) that loads and classifies the ontology
    once, then realises partitions of individuals one after the other, each on its own, as the HermiT command line
    would on the ontology plus that partition.

    Requests are written to its stdin and answers read in order by a thread, so that many partitions can be submitted
    before the first answer is read (the JVM reasons while Python serialises the next). A driver that dies is a
    :class:`ReasonerError` naming its exit status and its last words, never a wait without end.
    """

    def __init__(self, tbox: bytes) -> None:
        classpath = f"{_driver_classes()}{os.pathsep}{_classpath()}"
        self.digest = hashlib.sha256(tbox).hexdigest()
        self.pid = os.getpid()
        self.reused = False
        """Whether it came from an earlier run (:func:`drivers`): its JVM start and classification were paid then."""
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 (closed by close(), the JVM's lifetime)
        self._process = subprocess.Popen(
            # the serial collector: HermiT reasons on one thread, and a concurrent collector's threads only compete
            # with it and the other drivers for the cores (bench/bench_graph.py)
            [java(), f"-Xmx{owlready2.reasoning.JAVA_MEMORY}M", "-XX:+UseSerialGC", "-cp", classpath,
             _DRIVER_SOURCE.stem],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr)
        self._answers: queue.SimpleQueue[tuple[str, list[str]] | None] = queue.SimpleQueue()
        self._ended = False
        threading.Thread(target=self._read, name=f"hermit-driver-{self._process.pid}", daemon=True).start()
        self._tbox: tuple[bool, frozenset[tuple[str, str]]] | None = None
        self._send(b"TBOX", tbox)

    @property
    def process_id(self) -> int:
        """The JVM's process id."""
        return self._process.pid

    @property
    def alive(self) -> bool:
        """Whether the JVM still runs and has not failed."""
        return not self._ended and self._process.poll() is None

    def _read(self) -> None:
        lines: list[str] = []
        assert self._process.stdout is not None
        try:
            for raw in self._process.stdout:
                line = raw.decode("utf-8").rstrip("\n")
                if line.startswith("END "):
                    self._answers.put((line[4:], lines))
                    lines = []
                else:
                    lines.append(line)
        except (OSError, ValueError):
            pass
        self._answers.put(None)

    def _death(self) -> str:
        """One line: how the JVM ended, and the last line it wrote to stderr."""
        self._ended = True
        try:
            code = self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            code = self._process.wait()
        self._stderr.seek(0)
        last = [line for line in self._stderr.read().decode("utf-8", "replace").splitlines() if line.strip()][-1:]
        how = f"killed by signal {-code}" if code < 0 else f"exit {code}"
        return f"the HermiT driver (pid {self._process.pid}) died ({how}){': ' + last[0].strip() if last else ''}"

    def _send(self, kind: bytes, body: bytes) -> None:
        stdin = self._process.stdin
        assert stdin is not None
        try:
            stdin.write(b"%s %d\n" % (kind, len(body)))
            stdin.write(body)
            stdin.flush()
        except (OSError, ValueError) as error:
            raise ReasonerError(self._death()) from error

    def _answer(self) -> tuple[str, list[str]]:
        answer = self._answers.get()
        if answer is None:
            self._answers.put(None)  # every later call ends the same way
            raise ReasonerError(self._death())
        status, lines = answer
        if status.startswith("error"):
            self._ended = True
            raise ReasonerError(f"HermiT failed: {status[len('error '):]}")
        return status, lines

    def _ontology(self) -> tuple[bool, frozenset[tuple[str, str]]]:
        if self._tbox is None:
            status, lines = self._answer()
            self._tbox = (status == "ok", frozenset(_SUBCLASS_LINE.findall("\n".join(lines))))
        return self._tbox

    @property
    def consistent(self) -> bool:
        """Whether the ontology alone is consistent (an inconsistent one makes every partition inconsistent)."""
        return self._ontology()[0]

    @property
    def hierarchy(self) -> frozenset[tuple[str, str]]:
        """The ontology's class hierarchy as (subclass IRI, superclass IRI), as the command line's ``-c`` prints it."""
        return self._ontology()[1]

    def submit(self, partition: bytes) -> None:
        """Send one partition (N-Triples of individuals, without the ontology); its answer comes from :meth:`result`."""
        self._send(b"PART", partition)

    def result(self) -> Realised:
        """The answer to the oldest partition submitted and not yet answered."""
        hierarchy = self._ontology()[1]
        status, lines = self._answer()
        if status != "ok":
            return Realised(False, [], hierarchy)
        text = "\n".join(lines)
        found = frozenset(_SUBCLASS_LINE.findall(text))
        return Realised(True, _TYPE_LINE.findall(text), found or hierarchy)

    def realise(self, partitions: Iterable[bytes]) -> list[Realised]:
        """Each partition's answer, in order: all are submitted before the answers are read."""
        count = 0
        for partition in partitions:
            self.submit(partition)
            count += 1
        return [self.result() for _ in range(count)]

    def close(self) -> None:
        """End the JVM (end of input; killed if it does not stop within 10 s)."""
        self._ended = True
        if self._process.stdin is not None and not self._process.stdin.closed:
            with contextlib.suppress(OSError):
                self._process.stdin.close()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        if self._process.stdout is not None:
            self._process.stdout.close()
        self._stderr.close()

    def __enter__(self) -> HermitDriver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_IDLE: list[HermitDriver] = []
"""Drivers of this process waiting for the next run over the same ontology (one per worker at most)."""
_IDLE_LOCK = threading.Lock()


@contextlib.contextmanager
def drivers(tbox: bytes, count: int) -> Iterator[list[HermitDriver]]:
    """``count`` drivers over this ontology, each used by one caller at a time: this process's idle ones first (their
    ontology is already classified), new ones for the rest. They stay started for the next caller, unless one failed;
    all are ended when the process exits (they also stop on their own when it dies: their input ends)."""
    digest = hashlib.sha256(tbox).hexdigest()
    with _IDLE_LOCK:
        mine = [d for d in _IDLE if d.digest == digest and d.pid == os.getpid() and d.alive][:count]
        for d in mine:
            _IDLE.remove(d)
    for d in mine:
        d.reused = True
    mine += [HermitDriver(tbox) for _ in range(count - len(mine))]
    failed = True
    try:
        yield mine
        failed = False
    finally:
        keep = [] if failed else [d for d in mine if d.alive]
        with _IDLE_LOCK:
            _IDLE.extend(keep)
            spare = _IDLE[:max(0, len(_IDLE) - max(2, os.cpu_count() or 1))]
            del _IDLE[:len(spare)]
        for d in [d for d in mine if d not in keep] + spare:
            d.close()


@atexit.register
def _close_idle() -> None:
    with _IDLE_LOCK:
        idle = [d for d in _IDLE if d.pid == os.getpid()]
        _IDLE.clear()
    for d in idle:
        d.close()


def realise_partitions(tbox: bytes, partitions: Sequence[bytes]) -> list[Realised]:
    """Realise some partitions with this process's long-lived driver: what a worker process (Dask, a process pool)
    runs over its share, ``tbox`` being :func:`ntriples` of the ontology and each partition :func:`ntriples` of an
    ontology of individuals. The first call in a process starts the JVM and classifies the ontology; later calls over
    the same ontology reuse it."""
    with drivers(tbox, 1) as (driver,):
        return driver.realise(partitions)


def ontology_is_consistent(ontology: Path = ONTOLOGY) -> bool:
    """HermiT on the ontology alone: an edit in Protégé that makes it contradictory is caught here."""
    _, tbox = load_ontology(ontology)
    with HermitDriver(ntriples(tbox)) as driver:
        return driver.consistent


def _classify(graph: Graph, pool: list[HermitDriver], parts: Iterable[tuple[str, Callable[[], bytes]]]
              ) -> tuple[list[tuple[str, str]], list[str], float]:
    """Types inferred for every consistent partition, the names of the inconsistent ones, and the seconds spent
    serialising. Partitions go to the drivers in turn, each serialised only when it is sent, so that Python writes the
    next while the JVMs reason."""
    if not pool[0].consistent:
        raise ReasonerError("the ontology itself is inconsistent: no partition can be classified")
    sent: list[list[str]] = [[] for _ in pool]
    serialise = 0.0
    for i, (name, triples) in enumerate(parts):
        t0 = time.perf_counter()
        body = triples()
        serialise += time.perf_counter() - t0
        pool[i % len(pool)].submit(body)
        sent[i % len(pool)].append(name)
    types: list[tuple[str, str]] = []
    inconsistent: list[str] = []
    for driver, names in zip(pool, sent, strict=True):
        for name in names:
            answer = driver.result()
            graph.hierarchy.update(answer.hierarchy)
            types += answer.types
            if not answer.consistent:
                inconsistent.append(name)
    return types, sorted(inconsistent), serialise


def _workers(workers: int | None, partitions: int) -> int:
    return max(1, min(workers or max(1, (os.cpu_count() or 1) // 2), partitions))


def reason(graph: Graph, workers: int | None = None, entities: set[str] | None = None) -> Graph:
    """Classify every snapshot (``entities``: only those companies'); record flags with explanations, and
    inconsistencies as findings.

    One driver JVM per two cores by default (a HermiT JVM keeps about two cores busy: bench/bench_graph.py), each
    started once per process and kept for the next run; each realises its share of the companies' partitions.
    """
    java()
    t0 = time.perf_counter()
    tbox = _tbox_triples(graph)
    companies = {e: o for e, o in graph.companies.items() if entities is None or e in entities}
    with drivers(tbox, _workers(workers, len(companies))) as pool:
        starts = sum(not d.reused for d in pool)
        parts = ((e, partial(ntriples, o)) for e, o in sorted(companies.items()))
        types, inconsistent, serialise = _classify(graph, pool, parts)
        for entity in inconsistent:
            types += _isolate(graph, pool, entity)
    t2 = time.perf_counter()
    _apply(graph, types)
    graph.timings.update(serialise_s=serialise, reason_s=t2 - t0 - serialise, apply_s=time.perf_counter() - t2,
                         jvm_starts=float(starts), partitions=float(len(companies)))
    return graph


@dataclass(frozen=True)
class Held:
    """One holding as the graph takes it: the company, its weight, and the snapshots whose flags it carries."""

    entity_id: str
    weight: float
    snapshots: tuple[tuple[str, int, str], ...]


def add_portfolios(graph: Graph, portfolios: dict[str, tuple[str, float, list[Held]]]) -> None:
    """Each portfolio (id → name, effective number of holdings, holdings) as a ``Portfolio`` individual in an
    ontology of its own, holding a ``Holding`` per company, linked to the company and to the (already classified)
    snapshots it is judged on."""
    fr = graph.tbox.get_namespace(NAMESPACE)
    for portfolio_id, (name, effective, holdings) in portfolios.items():
        onto = graph.world.get_ontology(f"{DATA}portfolio/{quote(portfolio_id, safe='')}")
        with onto:
            book = fr.Portfolio("portfolio", namespace=onto, portfolio_id=portfolio_id, label=[name],
                                effective_holdings=float(effective))
            for held in holdings:
                holding = fr.Holding(f"holding_{quote(held.entity_id, safe='')}", namespace=onto,
                                     label=[held.entity_id], holding_weight=float(held.weight))
                if held.entity_id in graph.companies:
                    holding.held_company = graph.companies[held.entity_id].company
                holding.judged_on = [graph.snapshots[k] for k in held.snapshots if k in graph.snapshots]
                book.holds.append(holding)
        graph.portfolios[portfolio_id] = onto


def set_liquidity_shares(graph: Graph, shares: dict[str, float]) -> None:
    """The share of each portfolio's value in liquidity concerns, as the SPARQL query over the reasoned companies
    found it: the datum ``LiquidityRiskExposure`` is defined on."""
    for portfolio_id, onto in graph.portfolios.items():
        with onto:
            onto.portfolio.liquidity_concern_share = float(min(1.0, shares.get(portfolio_id, 0.0)))


def reason_portfolios(graph: Graph, as_of: date, workers: int | None = None) -> Graph:
    """Classify every portfolio (one partition each: the ontology and the portfolio's own individuals) and record
    its categories as flags, explained from the class definitions."""
    if not graph.portfolios:
        return graph
    t0 = time.perf_counter()
    with drivers(_tbox_triples(graph), _workers(workers, len(graph.portfolios))) as pool:
        parts = ((p, partial(ntriples, o)) for p, o in sorted(graph.portfolios.items()))
        types, inconsistent, _ = _classify(graph, pool, parts)
    if inconsistent:
        raise ReasonerError(f"portfolio(s) {', '.join(inconsistent)} contradict the ontology")
    wanted = {c.iri: c for c in flag_classes(graph.tbox)}
    books = {o.portfolio.iri: (p, o.portfolio) for p, o in graph.portfolios.items()}
    inferred = graph.world.get_ontology(f"{DATA}inferred")
    for individual, cls_iri in sorted(_with_superclasses(set(types), graph.hierarchy)):
        if individual not in books or cls_iri not in wanted:
            continue
        (portfolio_id, book), cls = books[individual], wanted[cls_iri]
        with inferred:
            book.is_a.append(cls)
        text, facts, conditions = explain(cls, book, MARKET_LABEL)
        graph.portfolio_flags.append(Flag(portfolio_id, as_of.year, PORTFOLIO, cls.name, str(cls.label[0]) if
                                          cls.label else cls.name, str(cls.severity[0]), text, facts, conditions))
    graph.timings["portfolio_reason_s"] = time.perf_counter() - t0
    return graph


def _isolate(graph: Graph, pool: list[HermitDriver], entity: str) -> list[tuple[str, str]]:
    """An inconsistent company: find the snapshots that contradict the ontology, report them, classify the rest."""
    own = {k: s for k, s in graph.snapshots.items() if k[0] == entity}
    singles = {}
    for (_, year, period), snap in own.items():
        lone = graph.world.get_ontology(f"{DATA}check/{quote(entity, safe='')}/{period}_{year}")
        with lone:
            copy = snap.is_a[0](snap.name, namespace=lone)
            for p in snapshot_properties(graph.tbox):
                value = getattr(snap, p)
                if value is not None:
                    setattr(copy, p, value)
        singles[f"{entity}|{year}|{period}"] = lone
    _, bad, _ = _classify(graph, pool, ((k, partial(ntriples, lone)) for k, lone in singles.items()))
    for lone in singles.values():
        lone.destroy()
    offending = set()
    for key in bad:
        _, year, period = key.split("|")
        snap = own[(entity, int(year), period)]
        offending.add(snap)
        graph.findings.append(_inconsistency(graph, entity, int(year), period, snap))
    for snap in offending:
        for p in snapshot_properties(graph.tbox):
            setattr(snap, p, None)
    types, still, _ = _classify(graph, pool[:1], [(entity, partial(ntriples, graph.companies[entity]))])
    if still:
        raise ReasonerError(f"{entity}: still inconsistent after removing the contradictory snapshots")
    return types


def _inconsistency(graph: Graph, entity: str, year: int, period: str, snap: Any) -> dict[str, Any]:
    """Which values break which axiom (property ranges are read from the ontology)."""
    facts: dict[str, Any] = {}
    broken = []
    for p in snapshot_properties(graph.tbox):
        value = getattr(snap, p)
        if value is None:
            continue
        facts[p] = value
        prop = graph.tbox[p]
        for rng in prop.range:
            if isinstance(rng, ConstrainedDatatype) and not _within(value, rng):
                broken.append(f"{p} = {_number(value)} outside its range ({_facets(rng)})")
    reason = "; ".join(broken) or "the snapshot's values contradict the ontology's axioms"
    return {"entity_id": entity, "fiscal_year": year, "fiscal_period": period, "check": "ontology_inconsistency",
            "severity": "error", "message": f"{period_label(year, period)} was not classified: {reason}",
            "facts": facts}


_COMPARE = {"min_inclusive": operator.ge, "min_exclusive": operator.gt, "max_inclusive": operator.le,
            "max_exclusive": operator.lt}


def _within(value: float, datatype: ConstrainedDatatype) -> bool:
    return all(compare(value, datatype.__dict__[facet]) for facet, compare in _COMPARE.items()
               if facet in datatype.__dict__)


def _facets(datatype: ConstrainedDatatype) -> str:
    return " and ".join(f"{op} {float(datatype.__dict__[f])!r}" for f, op in _FACETS.items() if f in datatype.__dict__)


def _number(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 10_000 else f"{value:.4g}"


def _apply(graph: Graph, types: list[tuple[str, str]]) -> None:
    """Inferred categories become types of the snapshots (in their own ontology) and Flag records."""
    by_iri = {s.iri: (k, s) for k, s in graph.snapshots.items()}
    wanted = {c.iri: c for c in flag_classes(graph.tbox)}
    inferred = graph.world.get_ontology(f"{DATA}inferred")
    for individual, cls_iri in sorted(_with_superclasses(set(types), graph.hierarchy)):
        if individual not in by_iri or cls_iri not in wanted:
            continue
        (entity, year, period), snap = by_iri[individual]
        cls = wanted[cls_iri]
        with inferred:
            snap.is_a.append(cls)
        text, facts, conditions = explain(cls, snap)
        graph.flags.append(Flag(entity, year, period, cls.name, str(cls.label[0]) if cls.label else cls.name,
                                str(cls.severity[0]), text, facts, conditions))


def _with_superclasses(types: set[tuple[str, str]], hierarchy: set[tuple[str, str]]) -> set[tuple[str, str]]:
    """HermiT prints an individual's most specific classes; a severe liquidity concern is a liquidity concern too."""
    parents: dict[str, set[str]] = {}
    for sub, sup in hierarchy:
        parents.setdefault(sub, set()).add(sup)
    closed = set(types)
    frontier = list(types)
    while frontier:
        individual, cls = frontier.pop()
        for sup in parents.get(cls, ()):
            if (individual, sup) not in closed:
                closed.add((individual, sup))
                frontier.append((individual, sup))
    return closed


def _conditions(expression: Any, snap: Any, here: str) -> list[dict[str, Any]]:
    """Each restriction the snapshot satisfies, recursively: metric, value, period, whether the value is a
    trailing-twelve-month one, and the bounds [comparison, threshold] read from the class definition."""
    if isinstance(expression, ThingClass):
        if not expression.equivalent_to:
            return []
        return _conditions(expression.equivalent_to[0], snap, here)
    if isinstance(expression, And):
        return [c for part in expression.Classes for c in _conditions(part, snap, here)]
    if isinstance(expression, Or):  # the alternatives that hold
        return [c for part in expression.Classes for c in _conditions(part, snap, here)
                if all(_holds(c["value"], c["bounds"]) for c in _conditions(part, snap, here))]
    if isinstance(expression, Restriction) and expression.property.name == "holds":  # the largest that does
        held = [c for holding in snap.holds for c in _conditions(expression.value, holding, str(holding.label[0]))
                if _holds(c["value"], c["bounds"])]
        return [max(held, key=lambda c: c["value"])] if held else []
    if isinstance(expression, Restriction) and isinstance(expression.value, ConstrainedDatatype):
        name = expression.property.name
        facets = expression.value.__dict__
        bounds = [[op, float(facets[f])] for f, op in _FACETS.items() if f in facets]
        return [{"metric": name, "value": getattr(snap, expression.property.python_name), "period": here,
                 "ttm": getattr(snap, "fiscal_period", "FY") != "FY" and f"{name}_ttm" in _TTM, "bounds": bounds}]
    if isinstance(expression, Restriction) and expression.property.name == "previous_snapshot":
        previous = snap.previous_snapshot
        if previous is None:
            return []
        return _conditions(expression.value, previous, str(previous.label[0]))
    return []


def _holds(value: float | None, bounds: list[list[Any]]) -> bool:
    """Whether a value meets every bound of a restriction (how :func:`explain` tells which alternative fired)."""
    compare = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt}
    return value is not None and all(compare[op](value, threshold) for op, threshold in bounds)


def explain(cls: ThingClass, snap: Any, here: str | None = None) -> tuple[str, dict[str, Any], list[dict[str, Any]]]:
    """"current_ratio = 0.8794 < 1.0 (FY2022)": read from the class definition, with the snapshot's values;
    also the facts behind it and the conditions as data (a narrator words them for people)."""
    conditions = _conditions(cls, snap, here or str(snap.label[0]))
    parts, facts = [], {}
    for c in conditions:
        when = c["period"] + (", TTM" if c["ttm"] else "")
        facets = " and ".join(f"{op} {threshold!r}" for op, threshold in c["bounds"])
        parts.append(f"{c['metric']} = {'unknown' if c['value'] is None else _number(c['value'])} {facets} ({when})")
        facts |= {f"{c['metric']} ({when})": c["value"], f"{c['metric']} threshold": facets}
    return "flagged because " + " and ".join(parts), facts, conditions


def turtle(graph: Graph, entity: str, tbox: rdflib.Graph | None = None) -> str:
    """The company's reasoned graph, self-contained (ontology included), for Protégé or any RDF tool.

    ``tbox`` is the parsed ontology when the caller exports several companies (parse it once).
    """
    out = rdflib.Graph()
    out += tbox if tbox is not None else ontology_graph(graph)
    data = io.BytesIO()
    graph.companies[entity].save(data, format="ntriples")
    out.parse(data=data.getvalue().decode("utf-8"), format="nt")
    for f in graph.flags:
        if f.entity_id == entity:
            snap = graph.snapshots[(f.entity_id, f.fiscal_year, f.fiscal_period)]
            out.add((rdflib.URIRef(snap.iri), rdflib.RDF.type, rdflib.URIRef(NAMESPACE + f.flag)))
    out.bind("fr", NAMESPACE)
    out.bind("data", graph.companies[entity].base_iri)
    return out.serialize(format="turtle")


def ontology_graph(graph: Graph) -> rdflib.Graph:
    """The ontology alone as an rdflib graph: parsed once per run and handed to :func:`turtle` for every company."""
    data = io.BytesIO()
    graph.tbox.save(data, format="ntriples")
    return rdflib.Graph().parse(data=data.getvalue().decode("utf-8"), format="nt")


def flag_records(graph: Graph, entity: str) -> list[dict[str, Any]]:
    """flags.json rows of one company, by period, then category: the same flags give the same file from run to run."""
    flags = [vars(f) for f in graph.flags if f.entity_id == entity]
    return sorted(flags, key=lambda f: (f["fiscal_year"], f["fiscal_period"], f["flag"]))
