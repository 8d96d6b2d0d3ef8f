"""Benchmark: HermiT reasoning time against the number of entity-periods (snapshots), three strategies.

Run ``python bench/bench_graph.py [--sizes 100 1000 5000]``. For each size the seeded sample generator writes
``ceil(size / 15)`` companies (12 quarters + 3 fiscal years each) to ``bench/out/graph_sample_<size>/`` (reused
when present with the same seed), and the facts are ingested and turned into metrics. Then, in this one process:

1. batch, as finreport does it: ``reason(build(analysis))`` with the default workers (one JVM per two cores, each
   reasoning a list of per-company partitions); its ``timings`` give the shares;
2. one JVM call per entity: ``_run_hermit([partition])`` once per company, sequentially (for large sizes timed
   on a random sample of companies and extrapolated, which the output says);
3. one call for the whole batch as a single ontology (every company's individuals in one partition file, what
   ``owlready2.sync_reasoner_hermit(world)`` does), capped by a timeout because it grows super-linearly.

The fixed costs are measured once: the JVM start (``CommandLine --help``), HermiT in a fresh JVM on the ontology
with no individuals and on one company's partition (each 3x, median), and what one more of each costs in a warm
JVM. Nothing is asserted: this is a measurement, not a test. The figures go to ``bench/out/bench_graph.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import shutil
import statistics
import subprocess
import tempfile
import time
import types
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any
from unittest import mock

import owlready2

from generator import graph as kg
from generator.ingest import ingest
from generator.metrics import Analysis, compute_metrics
from generator.sample import FISCAL_YEARS, QUARTERS, write_sample

OUT_DIR = Path(__file__).resolve().parent / "out"
SNAPSHOTS_PER_COMPANY = len(FISCAL_YEARS) * (len(QUARTERS) + 1)
TARGET_MS_PER_SNAPSHOT = 20.0
TARGET_SIZE = 5000
COPIES = 21
"""HermiT is run on 1 and on this many copies of a file in one JVM: the difference is what one more partition
costs in a warm JVM. HermiT loads and classifies the ontology (TBox) again for every file, so the individual-free
ontology's figure is what each partition pays before any of its individuals is reasoned."""


@dataclass
class Row:
    size: int
    """Requested entity-periods."""
    snapshots: int
    companies: int
    strategy: str
    seconds: float | None
    """None: the run was stopped at the timeout."""
    jvm_starts: int
    build_s: float = 0.0
    serialise_s: float = 0.0
    jvm_s: float = 0.0
    hermit_s: float = 0.0
    apply_s: float = 0.0
    timed_out: bool = False
    extrapolated_from: int | None = None
    """Companies actually run when the figure is extrapolated to all of them."""
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ms_per_snapshot(self) -> float | None:
        return None if self.seconds is None else 1000 * self.seconds / self.snapshots

    def shares(self) -> dict[str, float]:
        if not self.seconds:
            return {}
        parts = {"build": self.build_s, "serialise": self.serialise_s, "jvm_start": self.jvm_s,
                 "hermit": self.hermit_s, "apply": self.apply_s}
        return {k: v / self.seconds for k, v in parts.items()}


def companies_for(size: int) -> int:
    return max(1, math.ceil(size / SNAPSHOTS_PER_COMPANY))


def ensure_sample(out_dir: Path, size: int, seed: int) -> tuple[Path, bool]:
    """``long/facts.csv`` of the seeded sample for this size; (path, whether an existing one was reused)."""
    folder = out_dir / f"graph_sample_{size}"
    params = {"seed": seed, "n_companies": companies_for(size)}
    stamp = folder / "params.json"
    facts = folder / "long" / "facts.csv"
    if facts.exists() and stamp.exists() and json.loads(stamp.read_text(encoding="utf-8")) == params:
        return facts, True
    write_sample(folder, seed=seed, n_companies=params["n_companies"])
    stamp.write_text(json.dumps(params) + "\n", encoding="utf-8")
    return facts, False


def analysis_for(facts_csv: Path) -> Analysis:
    """The long file only: the wide files of the sample hold the same facts (ingest would resolve them as
    duplicates, which only adds time here)."""
    return compute_metrics(ingest([facts_csv]).facts)


def median_time(run: Any, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        run()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def jvm_costs(analysis: Analysis) -> dict[str, float]:
    """Fixed costs of HermiT, each measured on its own JVM(s).

    ``jvm_start_s``: ``CommandLine --help`` (median of 3); ``hermit_tbox_only_s`` / ``hermit_one_partition_s``:
    HermiT on the ontology with no individuals / on one company's partition (median of 3, cold JVM each);
    ``*_per_extra_s``: what one more such file costs in a warm JVM (the same file copied ``COPIES`` times, one
    call, minus the single-file time, divided by ``COPIES - 1``).
    """
    classpath = f"{kg._HERMIT}{os.pathsep}{kg._HERMIT / 'HermiT.jar'}"
    bare = [kg.java(), "-cp", classpath, "org.semanticweb.HermiT.cli.CommandLine", "--help"]
    graph = kg.build(analysis)
    first = graph.companies[sorted(graph.companies)[0]]
    costs = {"jvm_start_s": median_time(lambda: subprocess.run(bare, capture_output=True, check=False))}
    with tempfile.TemporaryDirectory(prefix="bench-graph-") as tmp:
        directory = Path(tmp)
        for name, ontologies in (("tbox_only", []), ("one_partition", [first])):
            single = kg._partition_file(graph, directory, name, ontologies)
            copies = [single]
            for i in range(1, COPIES):
                copies.append(directory / f"{name}_{i}.nt")
                shutil.copy(single, copies[-1])
            cold = median_time(lambda single=single: kg._run_hermit([single]))
            t0 = time.perf_counter()
            kg._run_hermit(copies)
            many = time.perf_counter() - t0
            costs[f"hermit_{name}_s"] = cold
            costs[f"{name}_per_extra_s"] = max(0.0, (many - cold) / (COPIES - 1))
    return costs


def run_batch(size: int, analysis: Analysis, jvm_start: float, workers: int | None) -> Row:
    t0 = time.perf_counter()
    graph = kg.build(analysis)
    built = time.perf_counter() - t0
    kg.reason(graph, workers=workers)
    total = time.perf_counter() - t0
    t = graph.timings
    starts = int(t["jvm_starts"])
    jvm = min(starts * jvm_start, t["reason_s"])
    name = "batch (finreport)" if workers is None else f"batch, workers={workers}"
    return Row(size, len(graph.snapshots), len(graph.companies), name, total, starts, built, t["serialise_s"], jvm,
               t["reason_s"] - jvm, t["apply_s"],
               extra={"partitions": int(t["partitions"]), "flags": len(graph.flags), "findings": len(graph.findings),
                      "reason_s": t["reason_s"]})


def run_per_entity(size: int, analysis: Analysis, jvm_start: float, sample: int | None, seed: int) -> Row:
    """``_run_hermit`` once per company partition, one after the other."""
    t0 = time.perf_counter()
    graph = kg.build(analysis)
    built = time.perf_counter() - t0
    entities = sorted(graph.companies)
    chosen = entities if sample is None or sample >= len(entities) else random.Random(seed).sample(entities, sample)
    serialise = hermit = 0.0
    stopped = 0
    with tempfile.TemporaryDirectory(prefix="bench-graph-") as tmp:
        for i, entity in enumerate(chosen):
            t1 = time.perf_counter()
            part = kg._partition_file(graph, Path(tmp), f"p{i}", [graph.companies[entity]])
            t2 = time.perf_counter()
            _, inconsistent = kg._run_hermit([part])
            t3 = time.perf_counter()
            serialise += t2 - t1
            hermit += t3 - t2
            stopped += inconsistent
    scale = len(entities) / len(chosen)
    serialise, hermit = serialise * scale, hermit * scale
    jvm = min(len(entities) * jvm_start, hermit)
    row = Row(size, len(graph.snapshots), len(graph.companies), "one JVM per entity", built + serialise + hermit,
              len(entities), built, serialise, jvm, hermit - jvm, extra={"inconsistent_partitions": stopped})
    if len(chosen) < len(entities):
        row.extrapolated_from = len(chosen)
        row.note = f"extrapolated from {len(chosen)} random companies of {len(entities)}"
    return row


def run_single(size: int, analysis: Analysis, jvm_start: float, timeout: float) -> Row:
    """Every company's individuals in ONE partition file, one HermiT call (what ``sync_reasoner_hermit`` does).

    ``_run_hermit`` is called as it is, with ``subprocess.run`` given a timeout (the JVM is killed when it passes).
    """
    t0 = time.perf_counter()
    graph = kg.build(analysis)
    built = time.perf_counter() - t0
    timed_run = types.SimpleNamespace(run=partial(subprocess.run, timeout=timeout))
    row = Row(size, len(graph.snapshots), len(graph.companies), "one ontology, one call", None, 1, built)
    with tempfile.TemporaryDirectory(prefix="bench-graph-") as tmp:
        t1 = time.perf_counter()
        part = kg._partition_file(graph, Path(tmp), "all", graph.companies.values())
        t2 = time.perf_counter()
        row.serialise_s = t2 - t1
        try:
            with mock.patch.object(kg, "subprocess", timed_run):
                output, inconsistent = kg._run_hermit([part])
        except subprocess.TimeoutExpired:
            row.timed_out = True
            row.note = f"stopped after {timeout:.0f} s"
            return row
        hermit = time.perf_counter() - t2
    row.jvm_s = min(jvm_start, hermit)
    row.hermit_s = hermit - row.jvm_s
    row.seconds = built + row.serialise_s + hermit
    row.extra = {"inconsistent": inconsistent, "types": len(kg._TYPE_LINE.findall(output))}
    return row


def skipped_single(size: int, analysis: Analysis, reason: str) -> Row:
    snapshots = analysis.base.height
    companies = analysis.base["entity_id"].n_unique()
    return Row(size, snapshots, companies, "one ontology, one call", None, 0, note=f"skipped: {reason}")


def _seconds(row: Row) -> str:
    if row.timed_out:
        return "> timeout"
    return "skipped" if row.seconds is None else f"{row.seconds:.2f}"


def print_table(rows: list[Row]) -> None:
    head = (f"{'snapshots':>9}  {'strategy':<22} {'seconds':>10} {'ms/snap':>8} {'JVMs':>5}  "
            f"{'build':>6} {'serial':>6} {'JVM':>6} {'HermiT':>6} {'apply':>6}  note")
    print(head)
    print("-" * len(head))
    for r in rows:
        ms = r.ms_per_snapshot
        shares = r.shares()
        cells = " ".join(f"{100 * shares[k]:5.1f}%" if shares else f"{'':>6}"
                         for k in ("build", "serialise", "jvm_start", "hermit", "apply"))
        starts = str(r.jvm_starts) if r.jvm_starts else ""
        print(f"{r.snapshots:>9,}  {r.strategy:<22} {_seconds(r):>10} {'' if ms is None else f'{ms:.1f}':>8} "
              f"{starts:>5}  {cells}  {r.note}")


def target_lines(rows: list[Row]) -> list[tuple[str, str, bool | None]]:
    batch = {r.size: r for r in rows if r.strategy == "batch (finreport)" and r.ms_per_snapshot is not None}
    lines: list[tuple[str, str, bool | None]] = []
    at = batch.get(TARGET_SIZE)
    lines.append((f"batch < {TARGET_MS_PER_SNAPSHOT:.0f} ms per entity-period at {TARGET_SIZE:,}",
                  "not measured" if at is None else f"{at.ms_per_snapshot:.1f} ms",
                  None if at is None else at.ms_per_snapshot < TARGET_MS_PER_SNAPSHOT))
    if len(batch) >= 2:
        small, large = batch[min(batch)], batch[max(batch)]
        ratio = large.ms_per_snapshot / small.ms_per_snapshot  # type: ignore[operator]
        lines.append((f"batch grows no faster than linearly (ms/snap {large.size:,} / {small.size:,} <= 1)",
                      f"{ratio:.2f}", ratio <= 1.0))
    return lines


def environment() -> dict[str, Any]:
    java = subprocess.run([kg.java(), "-version"], capture_output=True, text=True, check=False)
    return {
        "cpu_count": os.cpu_count(),
        "load_average_1m": os.getloadavg()[0],
        "java": (java.stderr.splitlines() or [""])[0],
        "java_memory_mb": owlready2.reasoning.JAVA_MEMORY,
        "owlready2": getattr(owlready2, "VERSION", "?"),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 5000], help="entity-periods")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=OUT_DIR, help="where the samples and the JSON figures go")
    parser.add_argument("--per-entity-sample", type=int, default=40,
                        help="above --per-entity-full companies, time this many and extrapolate")
    parser.add_argument("--per-entity-full", type=int, default=100,
                        help="run every company one by one up to this many companies")
    parser.add_argument("--single-timeout", type=float, default=300.0, help="seconds for the one-ontology call")
    parser.add_argument("--single-max", type=int, default=1000, help="largest size tried as one ontology")
    parser.add_argument("--batch-workers", type=int, nargs="*", default=[],
                        help="also run the batch with these worker counts (default: only reason()'s default)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)

    env = environment()
    print(f"os.cpu_count() = {env['cpu_count']}, load average (1 min) at start = {env['load_average_1m']:.2f}, "
          f"{env['java']}, -Xmx{env['java_memory_mb']}M")
    if env["load_average_1m"] > 0.5:
        print(f"WARNING: load average {env['load_average_1m']:.2f} > 0.5 before the run: other processes share "
              "the CPUs, so the timings below are slower than on an idle machine")

    prepared: dict[int, tuple[Analysis, dict[str, Any]]] = {}
    for size in args.sizes:
        t0 = time.perf_counter()
        facts_csv, reused = ensure_sample(args.out, size, args.seed)
        t1 = time.perf_counter()
        analysis = analysis_for(facts_csv)
        t2 = time.perf_counter()
        prepared[size] = analysis, {"path": str(facts_csv.parent.parent), "reused": reused,
                                    "companies": companies_for(size), "sample_s": t1 - t0, "metrics_s": t2 - t1}
        print(f"size {size:,}: {companies_for(size)} companies, {analysis.base.height:,} entity-periods; sample "
              f"{'reused' if reused else f'written in {t1 - t0:.1f} s'} ({facts_csv.parent.parent}), "
              f"ingest + metrics {t2 - t1:.1f} s")

    costs = jvm_costs(prepared[args.sizes[0]][0])
    jvm_start = costs["jvm_start_s"]
    tbox_share = costs["tbox_only_per_extra_s"] / max(costs["one_partition_per_extra_s"], 1e-9)
    print(f"JVM start (CommandLine --help, median of 3): {1000 * jvm_start:.0f} ms; HermiT in a fresh JVM (median "
          f"of 3) on the ontology with no individuals: {1000 * costs['hermit_tbox_only_s']:.0f} ms, on one company's "
          f"partition: {1000 * costs['hermit_one_partition_s']:.0f} ms")
    print(f"in a warm JVM, each further partition: {1000 * costs['one_partition_per_extra_s']:.0f} ms, of which "
          f"the ontology alone (re-loaded and re-classified per file): {1000 * costs['tbox_only_per_extra_s']:.0f} ms "
          f"({100 * min(tbox_share, 1):.0f}%)")

    rows: list[Row] = []
    loads: dict[int, float] = {}
    for size in args.sizes:
        analysis = prepared[size][0]
        loads[size] = os.getloadavg()[0]
        print(f"\n{size:,} (load {loads[size]:.2f}): batch ...", flush=True)
        rows.append(run_batch(size, analysis, jvm_start, None))
        print(f"{size:,}: reason() with its default workers used {rows[-1].jvm_starts} JVM(s)", flush=True)
        for workers in args.batch_workers:
            rows.append(run_batch(size, analysis, jvm_start, workers))
        companies = companies_for(size)
        sample = None if companies <= args.per_entity_full else args.per_entity_sample
        print(f"{size:,}: one JVM per entity{'' if sample is None else f' (sample of {sample})'} ...", flush=True)
        rows.append(run_per_entity(size, analysis, jvm_start, sample, args.seed))
        if size > args.single_max:
            rows.append(skipped_single(size, analysis, f"> {args.single_max:,} entity-periods (super-linear)"))
        else:
            print(f"{size:,}: one ontology (timeout {args.single_timeout:.0f} s) ...", flush=True)
            rows.append(run_single(size, analysis, jvm_start, args.single_timeout))
    env["load_average_1m_end"] = os.getloadavg()[0]

    print()
    print_table(rows)
    print("\nseconds: build + serialise + HermiT (+ apply for the batch); shares of those seconds. JVM = JVM starts x "
          f"{1000 * jvm_start:.0f} ms; HermiT = the rest of the time in HermiT (parsing, TBox, individuals).")
    for r in rows:
        if r.strategy == "batch (finreport)":
            print(f"  {r.snapshots:,} batch: {r.extra['partitions']} partitions in {r.jvm_starts} JVMs, "
                  f"{r.extra['flags']:,} flags, {r.extra['findings']} findings; a warm partition costs "
                  f"{1000 * costs['one_partition_per_extra_s']:.0f} ms alone, so each JVM's "
                  f"{r.extra['partitions'] / max(1, r.jvm_starts):.0f} partitions need "
                  f"~{r.extra['partitions'] / max(1, r.jvm_starts) * costs['one_partition_per_extra_s']:.1f} s "
                  f"(+ one cold start) of the {r.extra['reason_s']:.1f} s measured")
        elif r.strategy == "one JVM per entity" and r.seconds:
            cold = r.jvm_starts * costs["hermit_tbox_only_s"]
            print(f"  {r.snapshots:,} per entity: {r.jvm_starts} calls x {1000 * costs['hermit_tbox_only_s']:.0f} ms "
                  f"(HermiT on the ontology alone, cold) = {cold:.1f} s, {100 * cold / r.seconds:.0f}% of the time")
    print("\ntargets")
    targets = target_lines(rows)
    for name, measured, met in targets:
        verdict = "n/a" if met is None else "met" if met else "NOT MET"
        print(f"  {name:<66} {measured:>12}  {verdict}")
    print(f"\nload average (1 min): {env['load_average_1m']:.2f} at start, {env['load_average_1m_end']:.2f} at end; "
          f"os.cpu_count() = {env['cpu_count']}")

    figures = {
        "environment": env,
        "samples": {str(s): meta for s, (_, meta) in prepared.items()},
        "load_average_1m_before_size": {str(s): v for s, v in loads.items()},
        "hermit_fixed_costs": costs, "tbox_share_of_warm_partition": tbox_share,
        "rows": [asdict(r) | {"ms_per_snapshot": r.ms_per_snapshot, "shares": r.shares()} for r in rows],
        "targets": [{"target": n, "measured": m, "met": ok} for n, m, ok in targets],
    }
    target = args.out / "bench_graph.json"
    target.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    print(f"figures written to {target}")


if __name__ == "__main__":
    main()
