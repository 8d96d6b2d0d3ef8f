"""Benchmark: the model narrator's batched generation against one prompt at a time, on this machine's CPU.

Run ``python bench/bench_narrator.py [--prompts 64] [--batch 32]``. The prompts are the real ones of the
sample's companies (every catalogue question, the ``finreport-slots-1`` format). The model is a GPT-2 of
the size class the shipped narrator will have (4 layers, 256 wide; random weights, seeded) with a
byte-level BPE tokenizer trained on those prompts (digits one per token), written once to
``bench/out/narrator_bench_model/``. Both runs go through ``ModelNarrator.generate`` with the same greedy
settings and the same number of new tokens (an untrained model rarely stops early), so answers per second
compare the same work. Nothing is asserted; the target (batched at least 3× one-at-a-time) is printed.
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

from generator.facts import answer, build  # noqa: E402
from generator.narrator import catalogue  # noqa: E402
from generator.narrator.model import ModelNarrator, prompt, scratch  # noqa: E402
from generator.narrator.verify import prompt_facts  # noqa: E402
from generator.sample import write_sample  # noqa: E402

OUT = ROOT / "bench" / "out"


def prompts() -> list[str]:
    sample = OUT / "run_sample"
    if not (sample / "long" / "facts.csv").exists():
        write_sample(sample)
    run = build([sample / "long"])
    contexts = [ctx for ctx, _ in answer(run, run.entities).values()]
    return [prompt(q, prompt_facts(q, ctx), ctx) for ctx in contexts for q in catalogue()]


def model(path: Path, corpus: list[str]) -> Path:
    if not (path / "config.json").exists():
        scratch(path, corpus, vocab_size=2000, width=256, layers=4, heads=4)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prompts", type=int, default=64)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--new-tokens", type=int, default=48)
    args = parser.parse_args()
    every = prompts()
    chosen = every[: args.prompts]
    path = model(OUT / "narrator_bench_model", every)
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
