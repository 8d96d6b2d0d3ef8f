"""Benchmark: HermiT reasoning time against the number of entity-periods (snapshots): finreport's long-lived driver
against HermiT's command line, the path it replaced, in one process.

Run ``python bench/bench_graph.py [--sizes 100 1000 5000] [--workers 2]``. For each size the seeded sample generator
writes ``ceil(size / 15)`` companies (12 quarters + 3 fiscal years each) to ``bench/out/graph_sample_<size>/`` (reused
when present with the same seed), and the facts are ingested and turned into metrics. Then, in this one process, each
on a graph of its own built from the same analysis:

1. driver, as finreport does it: ``reason(build(analysis))`` with the default workers, the process's drivers ended
   first, so the run pays its JVM start and the ontology's classification (what a nightly run's process pays once);
2. driver, warm: the same again, with the driver the first run left started (what every later run of a long-lived
   worker process pays);
3. command line (the baseline): what ``reason`` did before the driver, rebuilt here: one N-Triples file per company
   (the ontology, then the company's individuals), ``org.semanticweb.HermiT.cli.CommandLine -c -I`` over all files in
   one JVM per worker (the JVM stops at an inconsistent file; the rest is restarted after it), then the same
   ``_apply``. The flags of 1 and 3 are compared: they must be the same.

``--workers N`` adds a driver row with N drivers. Fixed costs are measured once: starting a driver (JVM, ontology
parsed and classified), one partition in a warm driver, the command line's JVM start (``--help``), and one more
partition in a warm command-line JVM (a file given twice, minus once). Nothing is asserted: this is a measurement,
not a test. The figures go to ``bench/out/bench_graph.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import owlready2

from generator import graph as kg
from generator.ingest import ingest
from generator.metrics import Analysis, compute_metrics
from generator.sample import FISCAL_YEARS, QUARTERS, write_sample

OUT_DIR = Path(__file__).resolve().parent / "out"
SNAPSHOTS_PER_COMPANY = len(FISCAL_YEARS) * (len(QUARTERS) + 1)
TARGET_MS_PER_SNAPSHOT = 6.0
TARGET_SIZE = 5000
COLD = "driver (finreport)"
WARM = "driver, warm"
CLI = "command line (old)"


@dataclass
class Row:
    size: int
    """Requested entity-periods."""
    snapshots: int
    companies: int
    strategy: str
    seconds: float
    """Build + serialise + HermiT + apply."""
    jvm_starts: int
    build_s: float = 0.0
    serialise_s: float = 0.0
    reason_s: float = 0.0
    apply_s: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ms_per_snapshot(self) -> float:
        return 1000 * self.seconds / self.snapshots


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


# The command line, as generator/graph.py ran it before the driver.

def run_hermit(files: list[Path]) -> tuple[str, bool]:
    """(output, whether it stopped at an inconsistent ontology) for one command-line JVM over several files."""
    command = [kg.java(), f"-Xmx{owlready2.reasoning.JAVA_MEMORY}M", "-cp", kg._classpath(),
               "org.semanticweb.HermiT.cli.CommandLine", "-c", "-I", *[f.as_uri() for f in files]]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode == 0:
        return done.stdout, False
    if "InconsistentOntologyException" in done.stderr or "Inconsistent ontology" in done.stderr:
        return done.stdout, True
    raise kg.ReasonerError(f"HermiT failed (exit {done.returncode}): {done.stderr.strip().splitlines()[-1:]}")


def command_line_reason(graph: kg.Graph, workers: int) -> dict[str, float]:
    """The old ``reason``: partition files with the ontology in each, one command-line JVM per worker over its list
    (restarted after an inconsistent file, which is only counted here), then ``_apply``."""
    from concurrent.futures import ThreadPoolExecutor

    t0 = time.perf_counter()
    tbox = kg.ntriples(graph.tbox)
    with tempfile.TemporaryDirectory(prefix="bench-graph-") as tmp:
        parts: dict[str, Path] = {}
        for i, (entity, onto) in enumerate(sorted(graph.companies.items())):
            parts[entity] = Path(tmp) / f"p{i}.nt"
            parts[entity].write_bytes(tbox + kg.ntriples(onto))
        individuals = {e: {s.iri for k, s in graph.snapshots.items() if k[0] == e} for e in graph.companies}
        t1 = time.perf_counter()

        def work(names: list[str]) -> tuple[list[tuple[str, str]], list[str], int]:
            found: list[tuple[str, str]] = []
            bad: list[str] = []
            runs = 0
            while names:
                output, stopped = run_hermit([parts[n] for n in names])
                runs += 1
                pairs = kg._TYPE_LINE.findall(output)
                found += pairs
                graph.hierarchy.update(kg._SUBCLASS_LINE.findall(output))
                if not stopped:
                    break
                typed = {s for s, _ in pairs}
                failed = next(i for i, n in enumerate(names) if not individuals[n] & typed)
                bad.append(names[failed])
                names = names[failed + 1:]
            return found, bad, runs

        names = sorted(parts)
        chunks = [names[i::workers] for i in range(workers) if names[i::workers]]
        types: list[tuple[str, str]] = []
        inconsistent: list[str] = []
        starts = 0
        with ThreadPoolExecutor(max_workers=len(chunks)) as pool:
            for found, bad, runs in pool.map(work, chunks):
                types += found
                inconsistent += bad
                starts += runs
    t2 = time.perf_counter()
    kg._apply(graph, types)
    return {"serialise_s": t1 - t0, "reason_s": t2 - t1, "apply_s": time.perf_counter() - t2,
            "jvm_starts": float(starts), "inconsistent": float(len(inconsistent))}


def fixed_costs(analysis: Analysis) -> dict[str, float]:
    """Driver start and one warm partition; the command line's JVM start and one more file in a warm JVM."""
    graph = kg.build(analysis)
    tbox = kg.ntriples(graph.tbox)
    first = kg.ntriples(graph.companies[sorted(graph.companies)[0]])
    kg._driver_classes()  # compiled once, outside the timings

    def start() -> None:
        with kg.HermitDriver(tbox) as driver:
            assert driver.consistent

    costs = {"driver_start_s": median_time(start)}
    with kg.HermitDriver(tbox) as driver:
        driver.realise([first] * 20)  # warm-up: class loading and JIT
        t0 = time.perf_counter()
        driver.realise([first] * 20)
        costs["driver_partition_s"] = (time.perf_counter() - t0) / 20
    bare = [kg.java(), "-cp", kg._classpath(), "org.semanticweb.HermiT.cli.CommandLine", "--help"]
    costs["cli_jvm_start_s"] = median_time(lambda: subprocess.run(bare, capture_output=True, check=False))
    with tempfile.TemporaryDirectory(prefix="bench-graph-") as tmp:
        single = Path(tmp) / "one.nt"
        single.write_bytes(tbox + first)
        copies = [single] * 11
        once = median_time(lambda: run_hermit([single]))
        many = median_time(lambda: run_hermit(copies), repeat=1)
        costs["cli_one_partition_s"] = once
        costs["cli_partition_warm_s"] = max(0.0, (many - once) / 10)
    return costs


def run_driver(size: int, analysis: Analysis, strategy: str, workers: int | None) -> tuple[Row, kg.Graph]:
    if strategy == COLD:
        kg._close_idle()
    t0 = time.perf_counter()
    graph = kg.build(analysis)
    built = time.perf_counter() - t0
    kg.reason(graph, workers=workers)
    total = time.perf_counter() - t0
    t = graph.timings
    row = Row(size, len(graph.snapshots), len(graph.companies), strategy, total, int(t["jvm_starts"]), built,
              t["serialise_s"], t["reason_s"], t["apply_s"],
              extra={"partitions": int(t["partitions"]), "flags": len(graph.flags), "findings": len(graph.findings),
                     "workers": workers})
    return row, graph


def run_command_line(size: int, analysis: Analysis, workers: int) -> tuple[Row, kg.Graph]:
    t0 = time.perf_counter()
    graph = kg.build(analysis)
    built = time.perf_counter() - t0
    t = command_line_reason(graph, workers)
    total = time.perf_counter() - t0
    row = Row(size, len(graph.snapshots), len(graph.companies), CLI, total, int(t["jvm_starts"]), built,
              t["serialise_s"], t["reason_s"], t["apply_s"],
              extra={"flags": len(graph.flags), "inconsistent_partitions": int(t["inconsistent"]), "workers": workers})
    return row, graph


def flag_rows(graph: kg.Graph) -> list[tuple[Any, ...]]:
    return sorted((f.entity_id, f.fiscal_year, f.fiscal_period, f.flag, f.explanation) for f in graph.flags)


def print_table(rows: list[Row]) -> None:
    head = (f"{'snapshots':>9}  {'strategy':<22} {'seconds':>8} {'ms/snap':>8} {'JVMs':>5}  "
            f"{'build':>6} {'serial':>6} {'HermiT':>7} {'apply':>6}")
    print(head)
    print("-" * len(head))
    for r in rows:
        print(f"{r.snapshots:>9,}  {r.strategy:<22} {r.seconds:>8.2f} {r.ms_per_snapshot:>8.2f} {r.jvm_starts:>5}  "
              f"{r.build_s:>6.2f} {r.serialise_s:>6.2f} {r.reason_s:>7.2f} {r.apply_s:>6.2f}")


def target_lines(rows: list[Row]) -> list[tuple[str, str, bool | None]]:
    cold = {r.size: r for r in rows if r.strategy == COLD}
    old = {r.size: r for r in rows if r.strategy == CLI}
    lines: list[tuple[str, str, bool | None]] = []
    at = cold.get(TARGET_SIZE)
    lines.append((f"driver <= {TARGET_MS_PER_SNAPSHOT:.0f} ms per entity-period at {TARGET_SIZE:,}",
                  "not measured" if at is None else f"{at.ms_per_snapshot:.2f} ms",
                  None if at is None else at.ms_per_snapshot <= TARGET_MS_PER_SNAPSHOT))
    for size in sorted(cold):
        if size in old:
            ratio = old[size].ms_per_snapshot / cold[size].ms_per_snapshot
            lines.append((f"command line / driver at {size:,}", f"{ratio:.2f}x", None))
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
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 5000], help="entity-periods")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=OUT_DIR, help="where the samples and the JSON figures go")
    parser.add_argument("--workers", type=int, nargs="*", default=[],
                        help="also run the driver with this many drivers (the default is one per two cores)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)

    env = environment()
    print(f"{env['cpu_count']} CPUs, load average {env['load_average_1m']:.2f}, {env['date']}; "
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

    costs = fixed_costs(prepared[args.sizes[0]][0])
    print(f"driver: start (JVM, ontology parsed and classified; median of 3) {1000 * costs['driver_start_s']:.0f} ms, "
          f"each partition in a warm driver {1000 * costs['driver_partition_s']:.1f} ms")
    print(f"command line: JVM start (--help) {1000 * costs['cli_jvm_start_s']:.0f} ms, one partition in a fresh JVM "
          f"{1000 * costs['cli_one_partition_s']:.0f} ms, each further partition in the same JVM "
          f"{1000 * costs['cli_partition_warm_s']:.0f} ms (the ontology parsed and classified again every time)")

    default_workers = max(1, (os.cpu_count() or 1) // 2)
    rows: list[Row] = []
    loads: dict[int, float] = {}
    same: dict[int, bool] = {}
    for size in args.sizes:
        analysis = prepared[size][0]
        loads[size] = os.getloadavg()[0]
        print(f"\n{size:,} (load {loads[size]:.2f}): driver, cold ...", flush=True)
        row, new = run_driver(size, analysis, COLD, None)
        rows.append(row)
        print(f"{size:,}: driver, warm ...", flush=True)
        rows.append(run_driver(size, analysis, WARM, None)[0])
        for workers in args.workers:
            rows.append(run_driver(size, analysis, f"driver, workers={workers}", workers)[0])
        print(f"{size:,}: command line ...", flush=True)
        row, old = run_command_line(size, analysis, default_workers)
        rows.append(row)
        same[size] = flag_rows(new) == flag_rows(old)
        print(f"{size:,}: {len(new.flags):,} flags; the same as the command line's: {'yes' if same[size] else 'NO'}")
    env["load_average_1m_end"] = os.getloadavg()[0]
    kg._close_idle()

    print()
    print_table(rows)
    print("\nseconds: build + serialise + HermiT + apply. For the driver, serialise is the time Python spent writing "
          "N-Triples while the driver reasoned, HermiT the rest of the reasoning phase.")
    print("\ntargets and ratios")
    targets = target_lines(rows)
    for name, measured, met in targets:
        verdict = "" if met is None else "met" if met else "NOT MET"
        print(f"  {name:<56} {measured:>12}  {verdict}")
    print(f"  {'same flags as the command line at every size':<56} {all(same.values())!s:>12}")
    print(f"\nload average (1 min): {env['load_average_1m']:.2f} at start, {env['load_average_1m_end']:.2f} at end; "
          f"os.cpu_count() = {env['cpu_count']}")

    figures = {
        "environment": env,
        "samples": {str(s): meta for s, (_, meta) in prepared.items()},
        "load_average_1m_before_size": {str(s): v for s, v in loads.items()},
        "fixed_costs": costs,
        "same_flags": {str(s): v for s, v in same.items()},
        "rows": [asdict(r) | {"ms_per_snapshot": r.ms_per_snapshot} for r in rows],
        "targets": [{"target": n, "measured": m, "met": ok} for n, m, ok in targets],
    }
    target = args.out / "bench_graph.json"
    target.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    print(f"figures written to {target}")


if __name__ == "__main__":
    main()
