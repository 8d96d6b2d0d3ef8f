"""Benchmark: the model narrator's batched generation against one prompt at a time, on this machine's CPU.

Run ``python bench/bench_narrator.py [--prompts 182] [--batch 32] [--model DIR]``. The prompts are the real ones
of the sample's companies (every catalogue question, the current prompt format); the model is the shipped
narrator checkpoint (``generator/narrator/checkpoint``, or ``--model``). Both runs go through
``ModelNarrator.generate`` with
the same greedy settings; the trained model stops at its end-of-answer token, so a batch runs as long as its
longest answer. Nothing is asserted; the target (batched at least 3× one-at-a-time) is printed with the share of
identical answers both ways.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from generator.narrator import catalogue  # noqa: E402
from generator.narrator.model import ModelNarrator, prompts  # noqa: E402
from generator.pipeline import answer, build  # noqa: E402
from generator.sample import write_sample  # noqa: E402
from generator.settings import get_settings  # noqa: E402

OUT = ROOT / "bench" / "out"


def sample_prompts() -> list[str]:
    sample = OUT / "run_sample"
    if not (sample / "long" / "facts.csv").exists():
        write_sample(sample)
    run = build([sample / "long"])
    contexts = [ctx for ctx, _ in answer(run, run.entities).values()]
    return [p for ctx in contexts for q in catalogue() for p in prompts(q, ctx)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prompts", type=int, default=182)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--new-tokens", type=int, default=160)
    parser.add_argument("--model", type=Path, default=get_settings().model_dir)
    args = parser.parse_args()
    chosen = sample_prompts()[: args.prompts]
    path = args.model
    results = {"prompts": len(chosen), "new_tokens": args.new_tokens, "torch": torch.__version__,
               "threads": torch.get_num_threads(), "python": platform.python_version()}
    texts = {}
    for label, batch in (("one at a time", 1), (f"batches of {args.batch}", args.batch)):
        narrator = ModelNarrator(path, [], batch_size=batch, max_new_tokens=args.new_tokens)
        narrator.generate(chosen[:2])  # warm-up
        t0 = time.perf_counter()
        texts[batch] = narrator.generate(chosen)
        seconds = time.perf_counter() - t0
        results[label] = {"seconds": seconds, "answers_per_s": len(chosen) / seconds}
        print(f"{label}: {len(chosen)} answers in {seconds:.1f} s = {len(chosen) / seconds:.2f} answers/s")
    ratio = results[f"batches of {args.batch}"]["answers_per_s"] / results["one at a time"]["answers_per_s"]
    same = sum(a == b for a, b in zip(texts[1], texts[args.batch], strict=True))
    results |= {"ratio": ratio, "same_text": same}
    print(f"batched / one at a time: {ratio:.1f}× (target ≥ 3×); identical continuations: {same} of {len(chosen)}")
    (OUT / "bench_narrator.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
