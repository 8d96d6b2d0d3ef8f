"""Benchmark: the whole nightly run, on the sample and on 200 generated companies, with each stage's share.

Run ``python bench/bench_run.py [--companies 200]``. Three measurements:

1. ``finreport run`` on the 14-company sample as a new process, the way a user starts it: imports, Prefect's
   temporary server, the flow, shutdown (target: under 60 s);
2. in this process, the ``nightly_reports`` flow on the sample and on N generated companies (seed 11): seconds
   per report, the marginal seconds per additional company ((T_N − T_14) / (N − 14); target: under 3 s), and
   each stage's share of the run's wall time;
3. the baseline, in the same process: the same stage functions called directly, without Prefect (one task at
   a time in the main thread, PDFs printed in the same process pool), so the ratio is Prefect's cost. Both
   sides answer with the same narrator (``--narrator``, the flow's default: the model), loaded once per run, and
   the report says which.

Stage shares: ingest, metrics, reasoning and answers are whole-run stages, timed as wall time. Per-company
work (facts files and graph export, charts, PDF) runs on every core at once, so its wall time (the
``entities_s`` phase) is split in proportion to the CPU seconds each stage took in it. Orchestration is what
is left of the flow's wall time: Prefect's server calls and task bookkeeping, and waiting on each other.
Nothing is asserted; the figures go to ``bench/out/bench_run.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from flows.reports import nightly_reports  # noqa: E402
from generator import manifest as manifests  # noqa: E402
from generator import (  # noqa: E402
    pack,
    pipeline,
    render,
    reports,
)
from generator.outputs import folder_names  # noqa: E402
from generator.reports import ReportRequest  # noqa: E402
from generator.sample import write_sample  # noqa: E402

OUT = ROOT / "bench" / "out"
PER_ENTITY = {"facts": ("sum_facts_s", "sum_answers_s", "sum_graph_export_s"), "charts": ("sum_charts_s",),
              "PDF": ("sum_pdf_s",)}


def data(name: str, seed: int, companies: int) -> Path:
    folder = OUT / name
    if not (folder / "long" / "facts.csv").exists():
        write_sample(folder, seed=seed, n_companies=companies)
    return folder / "long"


def cli_run(inputs: Path) -> float:
    out = OUT / "cli_run"
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "flows.cli", "run", "--input", str(inputs), "--out", str(out)],
                   cwd=ROOT, check=True, capture_output=True)
    return time.perf_counter() - t0


def request(inputs: Path, name: str, narrator: str) -> ReportRequest:
    return ReportRequest(inputs=[str(inputs)], output_dir=str(OUT / name), dated_folder=False,
                         narrator=narrator)  # type: ignore[arg-type]


def flow_run(inputs: Path, name: str, narrator: str) -> tuple[float, dict[str, Any]]:
    t0 = time.perf_counter()
    state = nightly_reports(request(inputs, name, narrator), return_state=True)
    wall = time.perf_counter() - t0
    manifest = state.result()
    assert not manifest["failures"], manifest["failures"]
    return wall, manifest


def baseline(inputs: Path, name: str, narrator: str) -> tuple[float, str]:
    """The same stages without Prefect: the way ``finreport`` ran before the flows; the same narrator as the flow,
    loaded once; (seconds, the narrator that answered)."""
    out = OUT / name
    t0 = time.perf_counter()
    with render.printing_pool() as pool:
        render.warm_up(pool)
        run = pipeline.build([inputs])
        manifest = manifests.write_run(run, out)
        tbox = pack.ontology_triples(run.graph)
        model, about = reports.narrator_for(run, request(inputs, name, narrator))
        answered = pipeline.answer(run, run.entities, model)
        futures = []
        for entity, folder in folder_names(run.entities).items():
            report = pack.write_entity(run, entity, out / folder, manifest["run_id"], manifest["as_of"],
                                       answered[entity], tbox)
            futures.append(pool.submit(render.print_pdf, render.job(report, run.analysis, manifest,
                                                                    out / folder / "report.pdf")))
        for future in futures:
            future.result()
    return time.perf_counter() - t0, about["narrator"]


def shares(wall: float, timings: dict[str, float]) -> dict[str, float]:
    per_entity = {stage: sum(timings.get(k, 0.0) for k in keys) for stage, keys in PER_ENTITY.items()}
    cpu = sum(per_entity.values())
    out = {"ingest": timings["ingest_s"], "metrics": timings["metrics_s"], "reasoning": timings["graph_s"],
           "answers": timings["answers_s"]}
    out |= {stage: timings["entities_s"] * seconds / cpu for stage, seconds in per_entity.items()}
    out["orchestration"] = wall - sum(out.values())
    return {k: v / wall for k, v in out.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--companies", type=int, default=200)
    parser.add_argument("--narrator", choices=["model", "reference"],
                        default=ReportRequest.model_fields["narrator"].default,
                        help="The narrator both the flow and the baseline answer with (default: the flow's)")
    args = parser.parse_args()
    sample = data("run_sample", 7, 14)
    large = data(f"run_{args.companies}", 11, args.companies)
    cores = os.cpu_count() or 1

    cli = cli_run(sample)
    print(f"finreport run, sample (14 companies), new process, the default narrator: {cli:.1f} s end to end "
          "(target < 60 s)")

    nightly_reports(request(sample, "warm", args.narrator))
    results: dict[str, Any] = {"cli_sample_s": cli, "cores": cores, "python": platform.python_version(),
                               "narrator": args.narrator}
    for label, inputs, n in (("sample", sample, 14), (f"{args.companies}", large, args.companies)):
        wall, manifest = flow_run(inputs, f"flow_{label}", args.narrator)
        base, answered_by = baseline(inputs, f"baseline_{label}", args.narrator)
        assert manifest["narrator"]["narrator"] == answered_by == args.narrator, (manifest["narrator"], answered_by)
        part = shares(wall, manifest["timings"])
        results[label] = {"companies": n, "flow_s": wall, "baseline_s": base, "per_report_s": wall / n,
                          "shares": part, "timings": manifest["timings"], "narrator_counts": manifest["narrator"]}
        print(f"\n{n} companies, both answered by the {args.narrator} narrator: flow {wall:.1f} s ({wall / n:.2f} s "
              f"per report), without Prefect {base:.1f} s → flow / baseline {wall / base:.2f}×")
        print("  " + " · ".join(f"{k} {v:.0%}" for k, v in part.items()))
    small, big = results["sample"], results[f"{args.companies}"]
    marginal = (big["flow_s"] - small["flow_s"]) / (args.companies - 14)
    results["marginal_s_per_company"] = marginal
    print(f"\nmarginal cost per additional company: {marginal:.2f} s on {cores} cores (target < 3 s)")
    (OUT / "bench_run.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
