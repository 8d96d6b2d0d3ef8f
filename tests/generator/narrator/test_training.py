"""Teaching the narrator: phrasings and corpus, analysts' corrections, training (loss falls, seeded), the loss
weights, and save and load of a full model and of a LoRA adapter. The flow that runs it all is
``tests/flows/test_finetune.py``."""

from __future__ import annotations

import json
import random
import re
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
import torch

from generator.answers import narrate
from generator.corpus import company_periods
from generator.graph import flag_labels
from generator.narrator import Answer, Context, asked, catalogue
from generator.narrator.model import ModelNarrator, prompt
from generator.narrator.parts import WHOLE, joined, plan
from generator.narrator.slots import SLOT, fill, prompt_facts
from generator.narrator.training import (
    Example,
    collate,
    corrections,
    delexicalise,
    encode,
    examples_for,
    phrase,
    phrasings,
    scratch,
    train,
    weighted_loss,
)
from generator.narrator.verify import verify
from generator.pack import portfolio_contexts
from generator.pipeline import FactsRun, answer, build
from generator.sample import ROLES


@pytest.fixture(scope="module")
def labels(sample_run: FactsRun) -> list[str]:
    return flag_labels(sample_run.graph.tbox)


def tiny(path: Path, run: FactsRun, labels: list[str], companies: int = 2, seed: int = 0):
    """A 2-layer GPT-2 and its examples from the first companies of the sample, every period."""
    contexts = [c for c in company_periods(run) if c.entity_id in run.entities[:companies]]
    examples = examples_for(contexts, labels, random.Random(seed))
    model, tokenizer = scratch(path, [f"{e.prompt} {e.target}" for e in examples], vocab_size=500, width=64,
                               layers=2, heads=2, seed=seed)
    return model, tokenizer, examples


@pytest.fixture(scope="module")
def books(sample_dir: Path, sample_as_of: date) -> dict[str, tuple[Context, list[Answer]]]:
    """The sample's three portfolios, answered by the reference narrator."""
    run = build([sample_dir / "long", sample_dir / "prices", sample_dir / "portfolios"], as_of=sample_as_of)
    return narrate(portfolio_contexts(run))


def test_every_question_has_five_phrasings_that_verify_on_the_sample(
        sample_run: FactsRun, books: dict[str, tuple[Context, list[Answer]]], labels: list[str]) -> None:
    """Each part of each answer (most answers are one part) has five phrasings; each verifies as its part, and
    the parts of an answer, each in its first phrasing, verify together: for every company, and every portfolio."""
    report_periods = [ctx for ctx, _ in answer(sample_run, sample_run.entities).values()]
    report_periods += [ctx for ctx, _ in books.values()]
    roles = set()
    for question in catalogue():
        for ctx in report_periods:
            if not asked(question, ctx):
                continue
            facts = prompt_facts(question, ctx)
            parts = plan(question, ctx, facts)
            texts = []
            for part in parts:
                roles.add((question.id, part.role))
                templates = phrasings()[(question.id, part.role)]
                assert len(templates) >= 5, (question.id, part.role)
                for i, template in enumerate(templates):
                    text = phrase(template, question, ctx, part)
                    verdict = verify(text, question, ctx, labels, part.facts,
                                     part=None if part.role == WHOLE else part)
                    assert verdict.ok, (question.id, part.role, i, ctx.entity_id, text, verdict.reason)
                    assert "None" not in text and "  " not in text
                    assert all(slot in part.facts for slot in SLOT.findall(text))
                    assert len(re.split(r"(?<=[.!?])\s+", text)) == 1 or part.role == WHOLE, text  # a sentence a part
                texts.append(phrase(templates[0], question, ctx, part))
            verdict = verify(joined(texts, parts), question, ctx, labels, facts, joined=len(parts) > 1)
            assert verdict.ok, (question.id, joined(texts, parts), verdict.reason)
    assert {("what_changed", "move"), ("risk_flags", "opening"), ("risk_flags", "flag"),
            ("executive_summary", "revenue"), ("executive_summary", "flags")} <= roles


def test_reference_answers_turn_into_slots_and_back(
        sample_run: FactsRun, books: dict[str, tuple[Context, list[Answer]]], labels: list[str]) -> None:
    for ctx, answers in [*answer(sample_run, sample_run.entities).values(), *books.values()]:
        for question, reference in zip([q for q in catalogue() if asked(q, ctx)], answers, strict=True):
            facts = prompt_facts(question, ctx)
            slotted = delexicalise(reference.text, question, ctx, facts, labels)
            assert slotted is not None, (question.id, reference.text)
            assert fill(slotted, facts, ctx.currency) == reference.text
            if any(f.unit != "text" for f in facts.values()) and question.facts:
                assert SLOT.search(slotted), slotted  # the figures became slots, not copied digits


def test_a_figure_and_its_year_earlier_twin_that_read_the_same_become_slots_in_order(sample_run: FactsRun,
                                                                                    labels: list[str]) -> None:
    """"went from 0.41x to 0.41x" (0.4128 → 0.4132): "from" takes the year-earlier slot, "to" the current one.
    "Rose" is refused: a figure that reads the same as a year earlier did not move, as the reader sees it."""
    ctx = answer(sample_run, sample_run.entities[:1])[sample_run.entities[0]][0]
    ctx = replace(ctx, metrics=ctx.metrics | {"current_ratio": 0.4132}, prior=ctx.prior | {"current_ratio": 0.4128})
    liquidity = next(q for q in catalogue() if q.id == "liquidity")
    facts = prompt_facts(liquidity, ctx)
    slotted = delexicalise("The current ratio went from 0.41x to 0.41x.", liquidity, ctx, facts, labels)
    assert slotted == "The current ratio went from ⟨current_ratio_prior⟩ to ⟨current_ratio⟩."
    assert delexicalise("The current ratio rose from 0.41x to 0.41x.", liquidity, ctx, facts, labels) is None


def test_every_training_target_passes_the_verifier(sample_run: FactsRun, labels: list[str]) -> None:
    """A whole answer's target passes as an answer; a part's as that part, its prompt that part's."""
    contexts = company_periods(sample_run)[:40]
    examples = examples_for(contexts, labels, random.Random(3))
    assert len(examples) >= 0.95 * 40 * len(catalogue())  # a company-period none of whose candidates verifies
    # teaches nothing and is left out
    by_key = {(c.entity_id, c.period): c for c in contexts}
    questions = {q.id: q for q in catalogue()}
    in_parts = 0
    for e in examples:
        ctx, question = by_key[(e.entity, e.period)], questions[e.question]
        part = next(p for p in plan(question, ctx, prompt_facts(question, ctx)) if prompt(question, p, ctx) == e.prompt)
        in_parts += part.role != WHOLE
        assert verify(e.target, question, ctx, labels, part.facts, part=None if part.role == WHOLE else part).ok, e
        assert not any(ch.isdigit() for ch in SLOT.sub("", e.target).replace("Z''", "")), e.target
    assert len({e.source for e in examples}) >= 4  # the draw mixes phrasings and the reference
    assert in_parts >= 40 * 3  # the summary alone is four parts a period


def test_analyst_corrections_are_accepted_only_when_verified(sample_run: FactsRun, labels: list[str],
                                                             tmp_path: Path) -> None:
    kola = ROLES["cash_cow"]
    contexts = {(c.entity_id, c.period): c for c in company_periods(sample_run)}
    ctx = next(c for (e, _), c in reversed(contexts.items()) if e == kola and c.prior.get("current_ratio"))
    now, before = ctx.metrics["current_ratio"], ctx.prior["current_ratio"]
    word = "up" if round(now, 2) > round(before, 2) else "down"
    wrong = "down" if word == "up" else "up"
    lines = [
        {"question": "liquidity", "entity": kola, "period": ctx.period,
         "text": f"Short-term cover is sound: the current ratio was {now:.2f}x, {word} from {before:.2f}x a year "
                 "earlier."},
        {"question": "liquidity", "entity": kola, "period": ctx.period,
         "text": f"The current ratio was {now + 0.5:.2f}x."},
        {"question": "liquidity", "entity": kola, "period": ctx.period,
         "text": f"The current ratio was {now:.2f}x, {wrong} from {before:.2f}x a year earlier."},
        {"question": "liquidity", "entity": "NOPE", "period": ctx.period, "text": "Fine."},
    ]
    path = tmp_path / "corrections.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in lines[:2]) + "\n{not json\n"
                    + "\n".join(json.dumps(x) for x in lines[2:]) + "\n")
    accepted, refused = corrections(path, contexts, labels)
    assert [e.target for e in accepted] == [
        f"Short-term cover is sound: the current ratio was ⟨current_ratio⟩, {word} from ⟨current_ratio_prior⟩ a "
        "year earlier."]
    assert accepted[0].source == "correction"
    assert [r.split(": ", 1)[0] for r in refused] == [f"{path}:2", f"{path}:3", f"{path}:4", f"{path}:5"]
    assert "is not a figure of the facts" in refused[0]
    assert "not JSON" in refused[1]
    assert "contradicts" in refused[2]
    assert "unknown or missing" in refused[3]


@pytest.mark.slow
def test_a_tiny_model_learns_its_loss_falls_and_training_is_seeded(sample_run: FactsRun, labels: list[str],
                                                                   tmp_path: Path) -> None:
    weights = []
    for attempt in ("a", "b"):
        model, tokenizer, examples = tiny(tmp_path / attempt / "init", sample_run, labels)
        history = train(model, tokenizer, examples, tmp_path / attempt, steps=60, batch_size=8,
                        learning_rate=1e-2, seed=0, save_steps=1000, progress=False, resume=False)
        losses = [h["loss"] for h in history if "loss" in h]
        assert sum(losses[-5:]) / 5 < 0.9 * sum(losses[:5]) / 5, losses  # it learns: a tenth or more off
        weights.append(torch.cat([p.detach().flatten() for p in model.parameters()]))
    assert torch.equal(weights[0], weights[1])  # same seed, same data: the same model


def test_the_loss_weighs_the_words_the_verifier_checks(sample_run: FactsRun, labels: list[str], tmp_path: Path) -> None:
    """Direction words and flag names count ``checked_weight`` times, the prompt not at all; with every weight 1
    the loss is the model's own cross-entropy."""
    model, tokenizer, _ = tiny(tmp_path / "init", sample_run, labels)
    flag = labels[0]
    target = f"Cash fell from ⟨cash_prior⟩ to ⟨cash⟩, and {flag} is flagged; margins improved."
    example = Example("e", "FY2025", "q", "⟨cash⟩ $1.0bn down from ⟨cash_prior⟩ $1.2bn\nanswer:", target, "test")
    (plain,), (weighted,) = encode([example], tokenizer), encode([example], tokenizer, labels, 5.0)
    assert plain["input_ids"] == weighted["input_ids"] and plain["labels"] == weighted["labels"]
    runs = [[]]  # the weighted tokens, in runs of neighbours
    for token, weight in zip(weighted["input_ids"], weighted["weights"], strict=True):
        runs[-1:] = [[*runs[-1], token]] if weight == 5.0 else [runs[-1], []] if runs[-1] else runs[-1:]
    assert [tokenizer.decode(r).strip() for r in runs if r] == ["fell", flag, "improved"]
    counted = [w for w, label in zip(weighted["weights"], weighted["labels"], strict=True) if label != -100]
    assert 0.0 not in counted and all(w == 0.0 for w, label in zip(weighted["weights"], weighted["labels"],
                                                                     strict=True) if label == -100)
    batch = collate(tokenizer.pad_token_id)(encode([example, examples_for_two(sample_run, labels)], tokenizer))
    labels_, weights = batch.pop("labels"), batch.pop("weights")
    model.eval()  # no dropout: the two forward passes see the same network
    with torch.no_grad():
        own = model(**batch, labels=labels_).loss
        mine = weighted_loss(model(**batch).logits, labels_, weights)
    assert torch.allclose(own, mine, atol=1e-5)


def examples_for_two(run: FactsRun, labels: list[str]) -> Example:
    """A second, longer example, so the batch pads the first."""
    return examples_for(company_periods(run)[:1], labels, random.Random(0))[0]


def test_a_trained_model_and_a_lora_adapter_round_trip_through_disk(sample_run: FactsRun, labels: list[str],
                                                                    tmp_path: Path) -> None:
    from peft import LoraConfig, get_peft_model

    model, tokenizer, examples = tiny(tmp_path / "base", sample_run, labels)
    train(model, tokenizer, examples, tmp_path / "full", steps=10, batch_size=8, learning_rate=3e-3, seed=0,
          save_steps=1000, progress=False, resume=False)
    model.save_pretrained(tmp_path / "full" / "model")
    tokenizer.save_pretrained(tmp_path / "full" / "model")
    prompts = [e.prompt for e in examples[:6]]
    loaded = ModelNarrator(tmp_path / "full" / "model", labels, max_new_tokens=12)
    in_memory = _generate(model, tokenizer, prompts, 12)
    assert loaded.generate(prompts) == in_memory

    base = tmp_path / "full" / "model"
    peft = get_peft_model(ModelNarrator(base, labels).model.train(),
                          LoraConfig(task_type="CAUSAL_LM", r=4, lora_alpha=8, target_modules=["c_attn"]))
    frozen = {n: p.clone() for n, p in peft.named_parameters() if "lora_" not in n}
    train(peft, tokenizer, examples, tmp_path / "lora", steps=10, batch_size=8, learning_rate=3e-3, seed=0,
          save_steps=1000, progress=False, resume=False)
    assert all(torch.equal(p, frozen[n]) for n, p in peft.named_parameters() if "lora_" not in n)
    adapter = tmp_path / "lora" / "adapter"
    peft.save_pretrained(adapter)
    tokenizer.save_pretrained(adapter)
    assert (adapter / "adapter_config.json").is_file() and not (adapter / "model.safetensors").exists()
    assert json.loads((adapter / "adapter_config.json").read_text())["base_model_name_or_path"] == str(base)
    reloaded = ModelNarrator(adapter, labels, max_new_tokens=12)
    assert reloaded.generate(prompts) == _generate(peft, tokenizer, prompts, 12)


def _generate(model, tokenizer, prompts: list[str], new: int) -> list[str]:
    """Greedy continuations of each prompt on its own, without the narrator's batching."""
    model.eval()
    out = []
    for text in prompts:
        ids = tokenizer(text, return_tensors="pt")
        with torch.inference_mode():
            generated = model.generate(**ids, do_sample=False, max_new_tokens=new,
                                       pad_token_id=tokenizer.pad_token_id)
        decoded = tokenizer.decode(generated[0, ids["input_ids"].shape[1]:], skip_special_tokens=True)
        out.append(decoded.strip().split("\n")[0].strip())
    return out


def test_a_correction_of_an_answer_in_parts_teaches_each_part_its_sentence(sample_run: FactsRun, labels: list[str],
                                                                           tmp_path: Path) -> None:
    """"What changed" is written a move at a time: an analyst's edit of it, one sentence per move, teaches each
    move's prompt its sentence; an edit that does not split into the answer's parts is refused with the reason."""
    kola = ROLES["cash_cow"]
    contexts = {(c.entity_id, c.period): c for c in company_periods(sample_run)}
    ctx = answer(sample_run, [kola])[kola][0]
    changed = next(q for q in catalogue() if q.id == "what_changed")
    parts = plan(changed, ctx, prompt_facts(changed, ctx))
    facts = prompt_facts(changed, ctx)

    def moved(name: str, lead: str = "") -> str:
        way = "rose" if ctx.metrics[name] > ctx.prior[name] else "fell"
        return f"{name.replace('_', ' ').capitalize()} {lead}{way} from " \
               f"{fill(f'⟨{name}_prior⟩', facts, ctx.currency)} to {fill(f'⟨{name}⟩', facts, ctx.currency)}."

    sentences = [moved(p.item, "moved most: it " if p.index == 0 else "") for p in parts]
    path = tmp_path / "corrections.jsonl"
    path.write_text("\n".join(json.dumps({"question": "what_changed", "entity": kola, "period": ctx.period,
                                          "text": text}) for text in (" ".join(sentences), sentences[0])) + "\n")
    accepted, refused = corrections(path, contexts, labels)
    assert [e.prompt for e in accepted] == [prompt(changed, p, ctx) for p in parts]
    assert [e.target for e in accepted] == [
        f"{p.item.replace('_', ' ').capitalize()} {'moved most: it ' if p.index == 0 else ''}"
        f"{'rose' if ctx.metrics[p.item] > ctx.prior[p.item] else 'fell'} from ⟨{p.item}_prior⟩ to ⟨{p.item}⟩."
        for p in parts]
    assert refused == [f"{path}:2: refused, this answer is written one sentence per part (move, move, move): the "
                       "edit has 1 sentence for 3 parts"]
