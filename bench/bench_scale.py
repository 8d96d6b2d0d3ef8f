"""Benchmark: the nightly run at scale — threads against a Dask cluster, and a second night that only redoes what
changed.

Run ``python bench/bench_scale.py [--companies 1000] [--changed 0.03] [--narrator model] [--runners threads dask]``.
On N generated companies (statements only, seed 11), in this process:

1. night 1, a full run with each task runner (``FINREPORT_TASK_RUNNER``): threads, then Dask on a
   ``distributed.LocalCluster`` of ``--workers`` worker processes started here; wall time, the ratio, each stage's
   seconds (the manifest's timings), and whether both runners wrote the same facts, flags and answers;
2. night 2: a share of the companies (``--changed``, every k-th) restate one figure (revenue of their last year,
   +5%, in place: no other line moves), and the incremental run (the default) reuses the rest from night 1;
3. the same night 2 as a full run (``full_run``): the speed-up of the incremental night over it, and whether every
   company's files are the same (facts, findings, flags, answers, graph.ttl, and what each report said: its
   edition's digest; the PDFs' text, run ids aside, for the changed companies and a sample of the others).

Both nights answer with the same narrator (``--narrator``; default the model, as the flow's default), loaded once
per run. Nothing is asserted; the figures go to ``bench/out/bench_scale.json``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import re
import shutil
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pypdf import PdfReader  # noqa: E402

from flows.reports import nightly_reports  # noqa: E402
from generator.reports import ReportRequest  # noqa: E402
from generator.sample import write_sample  # noqa: E402

OUT = ROOT / "bench" / "out" / "scale"
FILES = ("facts.json", "findings.json", "flags.json", "answers.json", "market.json", "graph.ttl")
RUN_ID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b|\b[0-9a-f]{12}\b"
                    r"|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d")
"""What differs between two runs of the same inputs: the run's id and the time it made each report."""
SINCE = re.compile(r"Since the last run.*?(?=Executive summary)")
"""The "Since the last run" section and its entry in the contents: a run compares with the night before, a full
run of the same night written apart has nothing to compare with."""


def generated(companies: int) -> Path:
    folder = OUT / f"inputs-{companies}"
    if not (folder / "long" / "facts.csv").exists():
        write_sample(folder, seed=11, n_companies=companies)
    return folder / "long"


def restated(source: Path, target: Path, share: float) -> list[str]:
    """Night 2's inputs: every k-th company's revenue of its last fiscal year restated +5% in place (no line moves);
    returns them."""
    target.mkdir(parents=True, exist_ok=True)
    with (source / "facts.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    entities = sorted({r["entity_id"] for r in rows})
    step = max(1, round(1 / share))
    chosen = entities[::step]
    last = {e: max(int(r["fiscal_year"]) for r in rows if r["entity_id"] == e and r["fiscal_period"] == "FY")
            for e in chosen}
    for row in rows:
        if row["entity_id"] in last and row["item"] == "revenue" and row["fiscal_period"] == "FY" \
                and int(row["fiscal_year"]) == last[row["entity_id"]]:
            row["value"] = str(round(float(row["value"]) * 1.05))
    with (target / "facts.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return chosen


@contextmanager
def runner(name: str, workers: int) -> Any:
    """FINREPORT_TASK_RUNNER for one run; for Dask, a LocalCluster of ``workers`` processes started here (its start
    is not part of the run's time: a deployment keeps its cluster)."""
    saved = {k: os.environ.get(k) for k in ("FINREPORT_TASK_RUNNER", "FINREPORT_DASK_ADDRESS")}
    cluster = None
    try:
        os.environ["FINREPORT_TASK_RUNNER"] = name
        if name == "dask":
            from distributed import LocalCluster

            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)
            os.environ["FINREPORT_DASK_ADDRESS"] = cluster.scheduler_address
        yield
    finally:
        if cluster is not None:
            cluster.close()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def night(inputs: Path, out: Path, narrator: str, full: bool) -> tuple[float, dict[str, Any]]:
    request = ReportRequest(inputs=[str(inputs)], output_dir=str(out), dated_folder=False, narrator=narrator,
                            full_run=full)  # type: ignore[arg-type]
    t0 = time.perf_counter()
    state = nightly_reports(request, return_state=True)
    wall = time.perf_counter() - t0
    manifest = state.result()
    if manifest["failures"]:
        raise SystemExit(f"{len(manifest['failures'])} companies failed in {out}: {manifest['failures'][:3]}")
    return wall, manifest


def folders(out: Path) -> list[Path]:
    return sorted(p for p in out.iterdir() if (p / "report.pdf").is_file())


def pdf_text(path: Path) -> str:
    text = " ".join(" ".join(p.extract_text() or "" for p in PdfReader(path).pages).split())
    return SINCE.sub("", RUN_ID.sub("RUN", text))


def differences(a: Path, b: Path, pdfs: set[str]) -> list[str]:
    """Company files that differ between two runs' folders (run ids aside)."""
    found = []
    left, right = {p.name for p in folders(a)}, {p.name for p in folders(b)}
    found += [f"{name}: only in one run" for name in sorted(left ^ right)]
    for name in sorted(left & right):
        for file in FILES:
            x, y = a / name / file, b / name / file
            if x.is_file() != y.is_file() or (x.is_file() and x.read_bytes() != y.read_bytes()):
                found.append(f"{name}/{file}")
        digests = [json.loads((f / name / "edition.json").read_text())["digest"] for f in (a, b)]
        if digests[0] != digests[1]:
            found.append(f"{name}/edition.json digest")
        if name in pdfs and pdf_text(a / name / "report.pdf") != pdf_text(b / name / "report.pdf"):
            found.append(f"{name}/report.pdf text")
    return found


def stages(manifest: dict[str, Any]) -> dict[str, float]:
    keep = ("ingest_s", "metrics_s", "market_s", "graph_s", "answers_s", "entities_s", "total_s")
    return {k: round(manifest["timings"].get(k, 0.0), 2) for k in keep}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--companies", type=int, default=1000)
    parser.add_argument("--changed", type=float, default=0.03, help="Share of companies restated on night 2")
    parser.add_argument("--narrator", choices=("model", "reference"), default="model")
    parser.add_argument("--runners", nargs="+", choices=("threads", "dask"), default=["threads", "dask"])
    parser.add_argument("--workers", type=int, default=2, help="Dask worker processes")
    parser.add_argument("--pdf-sample", type=int, default=20, help="Reused reports whose PDF text is compared")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    runs = OUT / f"runs-{args.companies}"
    shutil.rmtree(runs, ignore_errors=True)
    # one input folder, night after night, as a deployment reads it (a row's source names its file and line)
    inputs = runs / "inputs"
    shutil.copytree(generated(args.companies), inputs)
    result: dict[str, Any] = {"companies": args.companies, "narrator": args.narrator, "cpus": os.cpu_count(),
                              "python": platform.python_version(), "load_average_start": os.getloadavg()[0],
                              "night1": {}}
    print(f"{args.companies} generated companies, narrator {args.narrator}, {os.cpu_count()} cores")
    outs = {}
    for name in args.runners:
        out = runs / "nights" / "1" if name == "threads" else runs / f"night1-{name}"
        with runner(name, args.workers):
            wall, manifest = night(inputs, out, args.narrator, full=True)
        outs[name] = out
        result["night1"][name] = {"wall_s": round(wall, 1), "stages": stages(manifest),
                                  "reports": len(manifest["reports"])}
        print(f"night 1, {name:8} {wall:8.1f} s  {stages(manifest)}")
    if {"threads", "dask"} <= set(outs):
        same = differences(outs["threads"], outs["dask"], set())
        ratio = result["night1"]["threads"]["wall_s"] / result["night1"]["dask"]["wall_s"]
        result["dask_vs_threads"] = {"speed_up": round(ratio, 2), "differences": same}
        print(f"dask / threads: {ratio:.2f}x faster; same facts, flags and answers: {not same} {same[:5]}")
    if "threads" not in outs:
        return
    changed = restated(inputs, inputs, args.changed)
    wall_inc, manifest_inc = night(inputs, runs / "nights" / "2", args.narrator, full=False)
    wall_full, _ = night(inputs, runs / "night2-full", args.narrator, full=True)
    reused = len(manifest_inc["reuse"]["reused"])
    sample = {p.name for p in folders(runs / "nights" / "2")[::max(1, args.companies // args.pdf_sample)]}
    diff = differences(runs / "nights" / "2", runs / "night2-full", sample | set(changed))
    result["night2"] = {"restated": len(changed), "made_again": len(manifest_inc["reuse"]["computed"]),
                        "reused": reused, "incremental_s": round(wall_inc, 1), "full_s": round(wall_full, 1),
                        "speed_up": round(wall_full / wall_inc, 1), "stages": stages(manifest_inc),
                        "changes": manifest_inc["changes"], "differences": diff,
                        "pdfs_compared": len(sample | set(changed))}
    print(f"night 2: {len(changed)} companies restated, {len(manifest_inc['reuse']['computed'])} made again "
          f"(with their sector peers), {reused} reused")
    print(f"night 2 incremental {wall_inc:.1f} s, full {wall_full:.1f} s: {wall_full / wall_inc:.1f}x faster; "
          f"stages {stages(manifest_inc)}")
    print(f"identical to the full run: {not diff} ({len(diff)} differences{': ' + ', '.join(diff[:5]) if diff else ''};"
          f" PDF text compared for {len(sample | set(changed))} companies)")
    result["load_average_end"] = os.getloadavg()[0]
    (OUT.parent / "bench_scale.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
