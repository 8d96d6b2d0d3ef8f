"""Benchmark: ``finreport ask`` on TAT-QA's dev questions whose evidence is the table, scored by TAT-QA's own scorer.

Run ``python bench/bench_tatqa.py [--data PATH] [--model DIR] [--out /tmp/tatqa.json] [--limit N]``, or
``--tables-only`` to adapt the tables and stop before asking anything. It reads the dev set (by default
``../shared/realdata/tatqa/tatqa_dataset_dev.json`` beside the checkout), keeps the questions with
``answer_from == "table"``, turns each of their tables once into a :class:`~generator.ask.knowledge.Knowledge`
(:func:`generator.ask.tables.table_knowledge`; the paragraphs are read for the table's scale only, when the table
states none) and asks each question with ``generator.ask.ask(question, knowledge, translator,
default_entity=<table uid>)``. An answer becomes what TAT-QA's scorer reads through
:func:`generator.ask.tables.tatqa_prediction`: a refusal, or an answer with no number, is an empty prediction.

Scores are exact match and F1 of TAT-QA's official scorer (``bench/tatqa_metric.py``, vendored unchanged in what it
computes), overall and by answer type, and by answer type and whether we refused. Questions whose table could not
be adapted count as wrong in the headline figures (they are questions we cannot answer) and are also left out in a
second line, with the reasons counted. The published figures printed beside ours are the TAT-QA leaderboard's, on
the *test* set and over *all* evidence types (table, text, and both), so they are context, not a like-for-like
comparison. Nothing is asserted; per-question results go to ``--out`` as JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter, defaultdict
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.tatqa_metric import TaTQAEmAndF1  # noqa: E402
from generator.ask.tables import TableError, table_knowledge, tatqa_prediction  # noqa: E402

DATA = ROOT.parent / "shared" / "realdata" / "tatqa" / "tatqa_dataset_dev.json"
TYPES = ("span", "multi-span", "arithmetic", "count")
PUBLISHED = (
    # TAT-QA leaderboard (docs/index.html of github.com/NExTplusplus/TAT-QA, commit 870accc): test set, all evidence.
    ("TagOp (Zhu et al., ACL 2021)", 50.1, 58.0),
    ("TAT-LLM 7B (Zhu et al., 2024)", 76.4, 85.1),
    ("Human", 84.1, 90.8),
)


def load(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        return json.load(f)


def adapt(docs: list[dict[str, Any]], as_of: date) -> tuple[dict[str, tuple[Any, str]], dict[str, str]]:
    """Each table with table-evidence questions, adapted once: uid → (knowledge, scale), or uid → why not."""
    adapted, failed = {}, {}
    for doc in docs:
        if not any(q["answer_from"] == "table" for q in doc["questions"]):
            continue
        uid = doc["table"]["uid"]
        context = " ".join(p["text"] for p in doc["paragraphs"])
        try:
            adapted[uid] = table_knowledge(doc["table"], as_of, context)
        except TableError as e:
            failed[uid] = e.reason
    return adapted, failed


def score(meter: TaTQAEmAndF1, q: dict[str, Any], uid: str, answer: Any, error: str | None, table_scale: str,
          skipped: str | None) -> dict[str, Any]:
    """One question scored by the official scorer, with what we answered."""
    prediction, scale = ("", "") if answer is None or answer.refused else \
        tatqa_prediction(answer.value, answer.unit, table_scale)
    meter(q, prediction, scale)
    scored = meter.get_raw()[-1]
    program = getattr(answer, "program", None)
    return {"uid": q["uid"], "table": uid, "question": q["question"], "answer_type": q["answer_type"],
            "gold": q["answer"], "gold_scale": q["scale"], "derivation": q["derivation"], "skipped": skipped,
            "error": error, "refused": None if answer is None else bool(answer.refused),
            "value": getattr(answer, "value", None), "unit": getattr(answer, "unit", None),
            "text": getattr(answer, "text", None), "reason": getattr(answer, "reason", None),
            "program": program.text() if program is not None else None, "pred": prediction, "pred_scale": scale,
            "em": float(scored["em"]), "f1": float(scored["f1"])}


def mean(xs: list[float]) -> float:
    return 100 * sum(xs) / len(xs) if xs else float("nan")


def row(name: str, rows: list[dict[str, Any]]) -> str:
    return f"  {name:<34} {len(rows):>5}  {mean([r['em'] for r in rows]):>6.1f}  {mean([r['f1'] for r in rows]):>6.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--model", type=Path, default=ROOT / "generator" / "ask" / "checkpoint")
    parser.add_argument("--out", type=Path, default=Path("/tmp/tatqa.json"))
    parser.add_argument("--limit", type=int, default=None, help="ask only the first N table-evidence questions")
    parser.add_argument("--tables-only", action="store_true", help="adapt the tables, report, and stop")
    args = parser.parse_args()

    docs = load(args.data)
    as_of = date.today()
    questions = [(doc, q) for doc in docs for q in doc["questions"] if q["answer_from"] == "table"]
    by_type = Counter(q["answer_type"] for _, q in questions)
    print(f"{args.data.name}: {len(docs)} tables, {sum(len(d['questions']) for d in docs)} questions; "
          f"{len(questions)} with the table as evidence: "
          + ", ".join(f"{by_type[t]} {t}" for t in TYPES))
    t0 = time.perf_counter()
    adapted, failed = adapt(docs, as_of)
    lost = Counter(failed[doc["table"]["uid"]] for doc, _ in questions if doc["table"]["uid"] in failed)
    print(f"tables with such questions: {len(adapted) + len(failed)}; adapted {len(adapted)} in "
          f"{time.perf_counter() - t0:.1f} s; not adapted {len(failed)} ("
          + ", ".join(f"{n} {why}" for why, n in Counter(failed.values()).most_common())
          + f"), holding {sum(lost.values())} questions ("
          + ", ".join(f"{n} {why}" for why, n in lost.most_common()) + ")")
    scales = Counter((q["scale"], adapted[d["table"]["uid"]][1]) for d, q in questions
                     if d["table"]["uid"] in adapted and q["answer_type"] == "arithmetic" and q["scale"] != "percent")
    agree = sum(n for (gold, ours), n in scales.items() if gold == ours)
    print(f"scale: the table's scale word is TAT-QA's for {agree} of {sum(scales.values())} arithmetic questions on "
          "adapted tables whose answer is not a percentage (" + ", ".join(
              f"{n} gold {gold or '-'!r} ours {ours or '-'!r}" for (gold, ours), n in scales.most_common()
              if gold != ours) + ")")
    if args.tables_only:
        return

    from generator.ask import ask_all
    from generator.ask.translate import load as load_translator

    translator = load_translator(args.model)
    if args.limit is not None:
        questions = questions[: args.limit]
    meter = TaTQAEmAndF1()
    results: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    by_table: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for doc, q in questions:
        by_table[doc["table"]["uid"]].append(q)
    for uid, qs in by_table.items():
        answers: list[Any] = [None] * len(qs)
        errors: list[str | None] = [None] * len(qs)
        if uid in adapted:  # one batch per table
            try:
                answers = ask_all([q["question"] for q in qs], knowledge=adapted[uid][0], translator=translator,
                                  default_entity=uid)
            except Exception as e:  # a crash is a wrong answer to each of the table's questions, and is counted
                errors = [f"{type(e).__name__}: {e}"] * len(qs)
        for q, answer, error in zip(qs, answers, errors, strict=True):
            results.append(score(meter, q, uid, answer, error, adapted.get(uid, (None, ""))[1], failed.get(uid)))
    seconds = time.perf_counter() - t0

    em, f1, scale_score, _ = meter.get_overall_metric()
    asked = [r for r in results if r["skipped"] is None]
    print(f"\nasked {len(asked)} questions in {seconds:.1f} s; refused {sum(bool(r['refused']) for r in asked)}, "
          f"errors {sum(r['error'] is not None for r in asked)}; the scorer's scale score (our scale word is "
          f"TAT-QA's, refusals and unadapted tables included) {100 * scale_score:.1f}%")
    print(f"\n  {'TAT-QA dev, table evidence':<34} {'n':>5}  {'EM':>6}  {'F1':>6}")
    print(row("all (unadapted tables count wrong)", results))
    print(row("on adapted tables", asked))
    for t in TYPES:
        print(row(t, [r for r in results if r["answer_type"] == t]))
    print("\n  by answer type and whether we refused (adapted tables only)")
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for r in asked:
        groups[(r["answer_type"], "error" if r["error"] else "refused" if r["refused"] else "answered")].append(r)
    for t in TYPES:
        for how in ("answered", "refused", "error"):
            if groups[(t, how)]:
                print(row(f"{t}, {how}", groups[(t, how)]))
    print(f"\n  {'published (TAT-QA leaderboard)':<34} {'':>5}  {'EM':>6}  {'F1':>6}")
    for name, p_em, p_f1 in PUBLISHED:
        print(f"  {name:<34} {'':>5}  {p_em:>6.1f}  {p_f1:>6.1f}")
    print("  Theirs are on the test set, over all evidence types (table, text, table and text); ours are on the dev "
          "set's\n  table-evidence questions only, so they are context, not a like-for-like comparison.")
    print(f"\nEM {100 * em:.1f}, F1 {100 * f1:.1f} (official scorer, {len(results)} questions)")
    args.out.write_text(json.dumps({"data": str(args.data), "questions": len(results), "em": em, "f1": f1,
                                    "not_adapted": failed, "results": results}, indent=1, default=str))
    print(f"per-question results: {args.out}")


if __name__ == "__main__":
    main()
