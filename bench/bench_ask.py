"""Benchmark: ``finreport ask`` over many questions, batched as a report run asks them against one at a time.

Run ``python bench/bench_ask.py [--questions 200] [--model DIR]``. It builds the sample's facts and graph once (the
knowledge every question is asked of), draws held-out phrasings over the sample's companies renamed from the names
the translator never saw (``generator.ask.training``), and answers them twice in the same process: all in one
``ask_all`` call (the translator decodes in batches of 32), then one ``ask`` per question. It prints questions per
second for each (after a first, cold translation of the same questions), the ratio, where the time goes (linking,
translating, running and writing), and the execution
accuracy of both passes (which must agree). Nothing is asserted.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from generator.ask import ask, ask_all  # noqa: E402
from generator.ask.knowledge import from_run  # noqa: E402
from generator.ask.link import link  # noqa: E402
from generator.ask.training import agree, denotation, gold, pairs, renamed, written  # noqa: E402
from generator.ask.translate import load  # noqa: E402
from generator.pipeline import build  # noqa: E402
from generator.sample import write_sample  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--model", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        write_sample(Path(tmp), seed=7)
        t0 = time.perf_counter()
        knowledge = renamed(from_run(build([Path(tmp) / "long"])), "eval", random.Random(0))
        print(f"facts, graph and knowledge of the sample: {time.perf_counter() - t0:.1f} s")
    found, _ = pairs(knowledge, random.Random(1), "eval", 3, written())
    found = random.Random(2).sample(found, min(args.questions, len(found)))
    questions = [p.question for p in found]
    translator = load(args.model)
    translator.programs([link(questions[0], knowledge).text])  # the first call sets the model up: not measured

    t0 = time.perf_counter()
    linked = [link(q, knowledge) for q in questions]
    t_link = time.perf_counter() - t0
    t0 = time.perf_counter()
    translator.programs([lk.text for lk in linked])  # cold: the grammar's caches start empty, as in a new process
    t_cold = time.perf_counter() - t0
    t0 = time.perf_counter()
    translator.programs([lk.text for lk in linked])
    t_translate = time.perf_counter() - t0

    t0 = time.perf_counter()
    together = {}
    for default in {p.default for p in found}:  # implicit questions are about their report's company
        group = [i for i, p in enumerate(found) if p.default == default]
        answers = ask_all([questions[i] for i in group], knowledge, translator, default)
        together.update(zip(group, answers, strict=True))
    t_batch = time.perf_counter() - t0
    t0 = time.perf_counter()
    alone = [ask(p.question, knowledge, translator, default_entity=p.default) for p in found]
    t_alone = time.perf_counter() - t0

    n = len(found)
    right = [agree(denotation(together[i], p, knowledge), denotation(gold(p, knowledge), p, knowledge))
             for i, p in enumerate(found)]
    alike = sum(together[i].text == alone[i].text and together[i].program == alone[i].program for i in range(n))
    print(f"{n} held-out questions over renamed sample companies")
    print(f"  batched (ask_all):  {t_batch:6.2f} s  {n / t_batch:6.1f} questions/s")
    print(f"  one at a time:      {t_alone:6.2f} s  {n / t_alone:6.1f} questions/s")
    print(f"  batched / one at a time: {t_alone / t_batch:.2f}x faster")
    print(f"  of the batched time: linking {t_link:.2f} s, translating {t_translate:.2f} s, running and writing "
          f"{max(0.0, t_batch - t_link - t_translate):.2f} s (translating in a new process, the grammar's caches "
          f"empty: {t_cold:.2f} s)")
    print(f"  execution accuracy {sum(right) / n:.1%}; the two passes give the same answer to {alike} of {n}")


if __name__ == "__main__":
    main()
