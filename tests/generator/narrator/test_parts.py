"""Answers planned in parts on the sample: the moves largest first, each with its own two figures; a count, then
one sentence per finding or flag, each with its own facts; the summary's four sentences; every other question
whole. The verifier holds a part to its own facts and flags."""

from __future__ import annotations

import pytest

from generator.graph import flag_labels
from generator.narrator import Context, Question, catalogue, changes, relevant_flags
from generator.narrator.parts import WHOLE, joined, moved, plan
from generator.narrator.slots import prompt_facts
from generator.narrator.verify import verify
from generator.pipeline import FactsRun, answer
from generator.sample import ROLES

QUESTIONS = {q.id: q for q in catalogue()}


@pytest.fixture(scope="module")
def contexts(sample_run: FactsRun) -> dict[str, Context]:
    return {entity: ctx for entity, (ctx, _) in answer(sample_run, sample_run.entities).items()}


@pytest.fixture(scope="module")
def labels(sample_run: FactsRun) -> list[str]:
    return flag_labels(sample_run.graph.tbox)


def parts_of(question: Question, ctx: Context):
    return plan(question, ctx, prompt_facts(question, ctx))


def test_the_moves_are_planned_largest_first_each_with_its_own_two_figures(contexts: dict[str, Context]) -> None:
    question, ctx = QUESTIONS["what_changed"], contexts[ROLES["cash_cow"]]
    parts = parts_of(question, ctx)
    ranked = [c["metric"] for c in changes(question, ctx)]
    assert [p.item for p in parts] == ranked[:3] == moved(question, ctx, prompt_facts(question, ctx))[:3]
    for i, part in enumerate(parts):
        assert part.role == "move" and part.header() == f"part: move {i + 1} of 3"
        assert set(part.facts) == {"period", part.item, f"{part.item}_prior"}
        assert part.flags == ()


def test_findings_and_flags_open_with_their_count_then_one_part_each(contexts: dict[str, Context]) -> None:
    quality, ctx = QUESTIONS["data_quality"], contexts[ROLES["missing_quarter"]]
    opening, *findings = parts_of(quality, ctx)
    assert opening.role == "opening" and set(opening.facts) == {"period", "finding_count"}
    assert findings and all(set(p.facts) == {"period", "finding", "finding_period"} for p in findings)
    assert [p.answer_slots for p in findings] == [{"finding": f"finding{i}", "finding_period": f"finding{i}_period"}
                                                  for i in range(len(findings))]
    facts = prompt_facts(quality, ctx)
    assert findings[0].facts["finding"].text == facts["finding0"].text  # every finding's sentence is written alike
    assert findings[0].in_answer("In ⟨finding_period⟩: ⟨finding⟩.") == "In ⟨finding0_period⟩: ⟨finding0⟩."

    risk, volt = QUESTIONS["risk_flags"], contexts[ROLES["loss_maker"]]
    opening, *flags = parts_of(risk, volt)
    assert set(opening.facts) == {"period", "flag_count"} and opening.flags == ()
    assert [p.item["flag"] for p in flags] == [f["flag"] for f in relevant_flags(risk, volt)]
    for part in flags:
        assert part.flags == (part.item,) and part.names_flags
        tested = {c["metric"] for c in part.item["conditions"]}
        assert {f.metric for n, f in part.facts.items() if n != "period" and f.metric} == tested
        assert all(n.removesuffix("_min_threshold").removesuffix("_max_threshold") in tested
                   for n, f in part.facts.items() if f.metric is None and n != "period")


def test_the_summary_is_four_sentences_and_every_other_question_one_whole(contexts: dict[str, Context]) -> None:
    ctx = contexts[ROLES["loss_maker"]]
    summary = parts_of(QUESTIONS["executive_summary"], ctx)
    assert [p.role for p in summary] == ["revenue", "balance", "cash", "flags"]
    assert summary[-1].flags == tuple(relevant_flags(QUESTIONS["executive_summary"], ctx))
    assert all(p.flags == () for p in summary[:-1])
    assert "revenue" in summary[0].facts and "current_ratio" in summary[1].facts
    for question in catalogue():
        if question.id not in ("what_changed", "data_quality", "risk_flags", "executive_summary"):
            (part,) = parts_of(question, ctx)
            assert part.role == WHOLE and part.header() is None
            assert part.facts == prompt_facts(question, ctx)


def test_a_part_names_its_own_flag_and_no_other(contexts: dict[str, Context], labels: list[str]) -> None:
    risk, ctx = QUESTIONS["risk_flags"], contexts[ROLES["loss_maker"]]
    opening, first, second, *_ = parts_of(risk, ctx)
    own, other = first.item["label"], second.item["label"]
    figure = f"on a figure of ⟨{first.required[0]}⟩"
    assert verify(f"{own[:1].upper()}{own[1:]} is raised for ⟨period⟩ {figure}.", risk, ctx, labels, first.facts,
                  part=first).ok
    refused = verify(f"{own[:1].upper()}{own[1:]} is raised for ⟨period⟩ {figure}; so is {other}.", risk, ctx,
                     labels, first.facts, part=first)
    assert refused.reason == f"names a flag that is not this part's: {other.lower()}"
    assert verify(f"The reasoner raised a flag for ⟨period⟩ {figure}.", risk, ctx, labels, first.facts,
                  part=first).reason == f"misses its flag: {own.lower()}"
    assert verify(f"The reasoner raised ⟨flag_count⟩ flags for ⟨period⟩, among them {own}.", risk, ctx, labels,
                  opening.facts, part=opening).reason == f"names a flag that is not this part's: {own.lower()}"


def test_a_part_gives_the_figures_it_is_about(contexts: dict[str, Context], labels: list[str]) -> None:
    """A finding's sentence that wrote "No sector peers are in this run to compare with." passed every other check,
    and so did a first move that began "Next came cash"."""
    quality, ctx = QUESTIONS["data_quality"], contexts[ROLES["missing_quarter"]]
    _, finding, *_ = parts_of(quality, ctx)
    assert verify("In ⟨finding_period⟩: ⟨finding⟩.", quality, ctx, labels, finding.facts, part=finding).ok
    assert verify("No sector peers are in this run to compare with.", quality, ctx, labels, finding.facts,
                  part=finding).reason == "it does not give ⟨finding⟩, what this part is about"
    changed, kola = QUESTIONS["what_changed"], contexts[ROLES["cash_cow"]]
    first, *_ = parts_of(changed, kola)
    way = "rose" if kola.metrics[first.item] > kola.prior[first.item] else "fell"
    text = f"Next came {first.item.replace('_', ' ')}, which {way} from ⟨{first.item}_prior⟩ to ⟨{first.item}⟩."
    assert verify(text, changed, kola, labels, first.facts, part=first).reason == \
        "the first move does not say it is the largest"


def test_only_the_first_move_may_say_it_is_the_largest(contexts: dict[str, Context], labels: list[str]) -> None:
    question, ctx = QUESTIONS["what_changed"], contexts[ROLES["cash_cow"]]
    first, second, _ = parts_of(question, ctx)

    def sentence(part, words: str) -> str:
        way = "rose" if ctx.metrics[part.item] > ctx.prior[part.item] else "fell"
        return f"{words} {part.item.replace('_', ' ')} {way} from ⟨{part.item}_prior⟩ to ⟨{part.item}⟩."

    assert verify(sentence(first, "Most of all,"), question, ctx, labels, first.facts, part=first).ok
    assert verify(sentence(second, "Next,"), question, ctx, labels, second.facts, part=second).ok
    refused = verify(sentence(second, "Most of all,"), question, ctx, labels, second.facts, part=second)
    assert refused.reason.startswith(f"'largest' but names {second.item}")


def test_parts_joined_may_share_words_a_single_answer_may_not_repeat(contexts: dict[str, Context],
                                                                     labels: list[str]) -> None:
    """Three flags "over the last twelve months" are a list; one answer saying it three times unasked is a loop."""
    risk, ctx = QUESTIONS["risk_flags"], contexts[ROLES["loss_maker"]]
    facts = prompt_facts(risk, ctx)
    flags = relevant_flags(risk, ctx)
    text = joined(["The reasoner raised ⟨flag_count⟩ risk flags for ⟨period⟩."] + [
        f"{f['label'][:1].upper()}{f['label'][1:]} is one of the flags the reasoner raised for ⟨period⟩."
        for f in flags])
    assert verify(text, risk, ctx, labels, facts, joined=True).ok
    assert verify(text, risk, ctx, labels, facts).reason == "repeated: the same words over and over"
