"""The model narrator with real (tiny) transformers checkpoints built here, offline: an untrained model's
garbage never reaches a report, and a model taught one answer gets it through the verifier, slots filled."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from pypdf import PdfReader

from generator.graph import flag_labels
from generator.manifest import write_run
from generator.narrator import ReferenceNarrator, asked, catalogue
from generator.narrator.model import ModelNarrator, prompt, prompts
from generator.narrator.parts import WHOLE, Part, plan
from generator.narrator.slots import SLOT, Slot, fill, prompt_facts
from generator.narrator.training import scratch
from generator.narrator.verify import verify
from generator.pack import write_entity
from generator.pipeline import FactsRun, answer, build
from generator.render import job, print_pdf
from generator.sample import ROLES

KOLA = ROLES["cash_cow"]


def checkpoint(path: Path, corpus: list[str], train_on: list[str] = (), steps: int = 0) -> Path:
    """A 2-layer narrator from ``scratch``, trained for ``steps`` on ``train_on`` when given."""
    model, tokenizer = scratch(path, corpus, vocab_size=400, width=64, layers=2, heads=2)
    if steps:
        sequences = [torch.tensor([tokenizer(t + "<eos>")["input_ids"]]) for t in train_on]  # lengths differ
        optimiser = torch.optim.AdamW(model.parameters(), lr=3e-3)
        model.train()
        for _ in range(steps):
            loss = sum(model(input_ids=ids, labels=ids).loss for ids in sequences) / len(sequences)
            loss.backward()
            optimiser.step()
            optimiser.zero_grad()
        model.save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def run(sample_dir: Path) -> FactsRun:
    """Two companies of the shared sample: the narrators answer each question of each in one batch."""
    return build([sample_dir / "wide" / f"{KOLA}.csv", sample_dir / "wide" / f"{ROLES['loss_maker']}.csv"])


def labels(run: FactsRun) -> list[str]:
    return flag_labels(run.graph.tbox)


@pytest.mark.slow
def test_an_untrained_model_never_reaches_the_report(run: FactsRun, tmp_path: Path) -> None:
    contexts = answer(run, run.entities)
    corpus = [p for ctx, _ in contexts.values() for q in catalogue() if asked(q, ctx) for p in prompts(q, ctx)]
    narrator = ModelNarrator(checkpoint(tmp_path / "untrained", corpus), labels(run), max_new_tokens=40)
    answered = answer(run, run.entities, narrator)
    manifest = write_run(run, tmp_path / "out", as_of="2026-11-28")
    for entity, (ctx, answers) in answered.items():
        asked_here = [(q, ctx) for q in catalogue() if asked(q, ctx)]
        reference = [a.text for a in ReferenceNarrator().answer_all(asked_here)]
        assert [a.text for a in answers] == reference
        assert {a.origin for a in answers} == {"reference"}
        assert all(a.verification["status"] == "fallback" and "model_text" in a.verification for a in answers)
        assert all("none of 8 beams passed" in a.verification["decoding"] for a in answers)
        folder = tmp_path / "out" / entity
        report = write_entity(run, entity, folder, manifest["run_id"], "2026-11-28", (ctx, answers))
        print_pdf(job(report, run.analysis, manifest, folder / "report.pdf"))
        text = " ".join(" ".join(p.extract_text() or "" for p in PdfReader(folder / "report.pdf").pages).split())
        for line in reference:
            assert " ".join(line.split()) in text
        assert "the model's answer failed verification" in text.lower()
        saved = json.loads((folder / "answers.json").read_text())
        assert all(a["verification"]["status"] == "fallback" for a in saved)


def test_the_prompt_writes_each_direction_beside_the_slot_it_leads(run: FactsRun) -> None:
    """The direction the prompt gives a figure is the one the verifier demands of a word before it: a margin's
    move on a year earlier beside its ``_prior`` slot, a growth rate's own sign beside its ``_abs`` slot (growth
    that slowed from 7.6% to 1.8% is still revenue up)."""
    ctx = answer(run, [KOLA])[KOLA][0]
    trend = next(q for q in catalogue() if q.id == "revenue_trend")
    growth = "revenue_growth_yoy"
    facts = {"period": prompt_facts(trend, ctx)["period"],
             growth: Slot(growth, 0.018, "fraction", growth), f"{growth}_prior": Slot(f"{growth}_prior", 0.076,
                                                                                      "fraction", growth),
             f"{growth}_abs": Slot(f"{growth}_abs", 0.018, "fraction", growth),
             "revenue": Slot("revenue", 2.1e9, "currency", "revenue"),
             "revenue_prior": Slot("revenue_prior", 2.3e9, "currency", "revenue")}
    lines = prompt(trend, Part(WHOLE, facts, ()), ctx).splitlines()
    assert f"⟨{growth}⟩ 1.8% up by ⟨{growth}_abs⟩, a year earlier ⟨{growth}_prior⟩ 7.6%" in lines
    assert any(line.startswith("⟨revenue⟩ ") and line.endswith(" down from ⟨revenue_prior⟩ $2.3bn") for line in lines)
    assert not any(line.startswith((f"⟨{growth}_prior⟩", f"⟨{growth}_abs⟩", "⟨revenue_prior⟩")) for line in lines)
    for words, ok in (("Revenue was up ⟨revenue_growth_yoy_abs⟩ on a year earlier.", True),
                      ("Revenue was down ⟨revenue_growth_yoy_abs⟩ on a year earlier.", False),
                      ("Revenue was ⟨revenue⟩, down from ⟨revenue_prior⟩.", True),
                      ("Revenue was ⟨revenue⟩, up from ⟨revenue_prior⟩.", False)):
        assert verify(words, trend, ctx, labels(run), facts).ok is ok, words


def test_generation_is_deterministic(run: FactsRun, tmp_path: Path) -> None:
    ctx = answer(run, [KOLA])[KOLA][0]
    some = [p for q in catalogue()[:4] for p in prompts(q, ctx)]
    narrator = ModelNarrator(checkpoint(tmp_path / "m", some), labels(run), max_new_tokens=24)
    assert narrator.generate(some) == narrator.generate(some)


@pytest.mark.slow
def test_the_model_writes_only_slots_its_own_prompt_gives(run: FactsRun, tmp_path: Path) -> None:
    """A real filer lacks facts the sample always has, and the model wrote ⟨free_cash_flow⟩ for a company that
    reports no capex. Every slot is one token, and those of facts the prompt does not give are masked out while
    the model generates, greedily and in beams, prompt by prompt within a batch. Without the mask the same
    model writes foreign slots, so the test can tell."""
    contexts = answer(run, run.entities)
    jobs = [(q, ctx) for ctx, _ in contexts.values() for q in catalogue() if asked(q, ctx)]
    given = [p for q, ctx in jobs for p in prompts(q, ctx)]
    # slot after slot, no space between: each one token, as the model writes them
    every_slot = "".join(sorted({f"⟨{name}⟩" for q, ctx in jobs for name in prompt_facts(q, ctx)}))
    taught = checkpoint(tmp_path / "slots", [*given, every_slot], [f"answer:{every_slot}"], steps=80)
    narrator = ModelNarrator(taught, labels(run), max_new_tokens=30, beams=2)  # it learned to write slots

    def foreign(texts: list[list[str]]) -> int:
        """Slots written that the answer's own prompt does not give."""
        return sum(f"⟨{slot}⟩" not in own for own, drawn in zip(given, texts, strict=True)
                   for text in drawn for slot in SLOT.findall(text))

    greedy = [[text] for text in narrator.generate(given)]
    beams = narrator.beam(given)
    assert all(len(b) == 2 for b in beams)
    assert foreign(greedy) == 0 and foreign(beams) == 0
    narrator.slot_ids = []  # no mask: the same model writes the slots it learned, whatever its prompt gives
    assert foreign([[text] for text in narrator.generate(given)]) > 0


@pytest.mark.slow
def test_a_model_that_learned_an_answer_gets_it_verified_and_filled(run: FactsRun, tmp_path: Path) -> None:
    ctx = answer(run, [KOLA])[KOLA][0]
    liquidity = next(q for q in catalogue() if q.id == "liquidity")
    (text,) = prompts(liquidity, ctx)
    taught = "The current ratio was ⟨current_ratio⟩, up from ⟨current_ratio_prior⟩ a year earlier."
    assert ctx.metrics["current_ratio"] > ctx.prior["current_ratio"]
    narrator = ModelNarrator(checkpoint(tmp_path / "taught", [text, taught], [f"{text} {taught}"], steps=120),
                             labels(run), max_new_tokens=40)
    (result,) = narrator.answer_all([(liquidity, ctx)])
    assert result.origin == "model", result.verification
    assert result.verification["status"] == "verified"
    assert result.verification["model_text"] == taught
    assert result.text == (f"The current ratio was {ctx.metrics['current_ratio']:.2f}x, up from "
                           f"{ctx.prior['current_ratio']:.2f}x a year earlier.")


@pytest.mark.slow
def test_an_answer_that_fails_greedy_is_drawn_again_and_a_verified_beam_replaces_it(run: FactsRun,
                                                                                    tmp_path: Path) -> None:
    """Taught the wrong direction twice as often as the right one, the model writes the wrong one greedily; the
    verifier rejects it, beam search draws it again, and the second beam (the right direction) is used. With one
    beam there is no redraw: the reference answer stands, and the record keeps the rejected text."""
    ctx = answer(run, [KOLA])[KOLA][0]
    liquidity = next(q for q in catalogue() if q.id == "liquidity")
    (text,) = prompts(liquidity, ctx)
    right = "The current ratio was ⟨current_ratio⟩, up from ⟨current_ratio_prior⟩ a year earlier."
    wrong = right.replace(" up ", " down ")
    path = checkpoint(tmp_path / "torn", [text, right, wrong], [f"{text} {wrong}", f"{text} {wrong}",
                                                                f"{text} {right}"], steps=150)
    (redrawn,) = ModelNarrator(path, labels(run), max_new_tokens=40, beams=4).answer_all([(liquidity, ctx)])
    assert redrawn.origin == "model", redrawn.verification
    assert redrawn.verification["model_text"] == right
    assert redrawn.verification["decoding"] == "beam 2 of 4"
    assert redrawn.verification["greedy_text"] == wrong
    assert "'down' contradicts the change of current_ratio" in redrawn.verification["greedy_rejected"]
    (greedy,) = ModelNarrator(path, labels(run), max_new_tokens=40, beams=1).answer_all([(liquidity, ctx)])
    assert greedy.origin == "reference"
    assert greedy.verification["status"] == "fallback" and greedy.verification["model_text"] == wrong
    assert greedy.verification["decoding"] == "greedy" and "greedy_text" not in greedy.verification


def short_context_checkpoint(path: Path, corpus: list[str], positions: int) -> Path:
    """A narrator whose model attends to only ``positions`` tokens, as the shipped one attends to 2,048."""
    from transformers import AutoTokenizer, GPT2Config, GPT2LMHeadModel

    checkpoint(path, corpus)
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    ids = {"bos_token_id": tokenizer.eos_token_id, "eos_token_id": tokenizer.eos_token_id,
           "pad_token_id": tokenizer.pad_token_id}
    GPT2LMHeadModel(GPT2Config(vocab_size=len(tokenizer), n_positions=positions, n_embd=32, n_layer=1, n_head=2,
                               **ids)).save_pretrained(path)
    return path


def test_a_prompt_the_model_cannot_hold_falls_back_alone_and_says_why(run: FactsRun, tmp_path: Path) -> None:
    """A real filer's restatements prompt ran to 11,000 tokens: generation raised IndexError and the whole run
    died. Now a prompt that leaves no room for an answer is not generated; the others are."""
    contexts = answer(run, run.entities)
    jobs = [(q, ctx) for ctx, _ in contexts.values() for q in catalogue()
            if asked(q, ctx) and plan(q, ctx, prompt_facts(q, ctx))[0].role == WHOLE]
    whole = [prompts(q, ctx)[0] for q, ctx in jobs]
    narrator = ModelNarrator(short_context_checkpoint(tmp_path / "short", whole, 120), labels(run),
                             max_new_tokens=8, beams=1)
    lengths = [len(ids) for ids in narrator.tokenizer(whole)["input_ids"]]
    assert min(lengths) + 8 <= 120 < max(lengths)
    answers = narrator.answer_all(jobs)
    for n, answer_ in zip(lengths, answers, strict=True):
        decoding = answer_.verification["decoding"]
        if n + 8 > 120:
            assert decoding == "not generated"
            assert answer_.origin == "reference" and answer_.verification["status"] == "fallback"
            assert answer_.verification["detail"] == (f"prompt of {n:,} tokens leaves no room for a 8-token answer "
                                                      f"in the model's 120 positions")
        else:
            assert decoding == "greedy"


def test_a_failure_inside_the_model_stays_with_the_prompt_that_caused_it(run: FactsRun, tmp_path: Path) -> None:
    """Batched with prompts the model can answer, one it cannot (longer than its positions: torch raises
    IndexError) gets its exception; the batch is decoded again prompt by prompt and the others get their text."""
    contexts = answer(run, run.entities)
    given = sorted({p for ctx, _ in contexts.values() for q in catalogue() if asked(q, ctx) for p in prompts(q, ctx)},
                   key=len)
    narrator = ModelNarrator(short_context_checkpoint(tmp_path / "short", given, 120), labels(run),
                             max_new_tokens=8)
    chosen = [given[0], given[-1], given[1]]
    out = narrator.generate(chosen)
    assert isinstance(out[1], IndexError)
    assert isinstance(out[0], str) and isinstance(out[2], str)
    assert out[0] == narrator.generate([given[0]])[0]


@pytest.mark.slow
def test_an_answer_in_parts_is_written_part_by_part_and_verified_whole(run: FactsRun, tmp_path: Path) -> None:
    """"What changed" is written a move at a time, each prompt holding that move's two figures alone; the parts
    joined are the answer, filled. A model that words one move wrongly fails that part, and the reason says which:
    the reference answer stands for the whole."""
    ctx = answer(run, [KOLA])[KOLA][0]
    changed = next(q for q in catalogue() if q.id == "what_changed")
    parts = plan(changed, ctx, prompt_facts(changed, ctx))
    given = prompts(changed, ctx)
    assert len(given) == len(parts) == 3 and all("part: move" in p for p in given)
    right = [f"{p.item.replace('_', ' ').capitalize()} {'moved most: it ' if p.index == 0 else ''}"
             f"{'rose' if ctx.metrics[p.item] > ctx.prior[p.item] else 'fell'} from ⟨{p.item}_prior⟩ to ⟨{p.item}⟩."
             for p in parts]
    taught = checkpoint(tmp_path / "parts", [*given, *right], [f"{p} {t}" for p, t in zip(given, right, strict=True)],
                        steps=150)
    (result,) = ModelNarrator(taught, labels(run), max_new_tokens=30, beams=1).answer_all([(changed, ctx)])
    assert result.origin == "model", result.verification
    assert result.verification["model_text"] == " ".join(right)
    assert result.verification["decoding"] == "greedy"
    assert result.text == fill(" ".join(right), prompt_facts(changed, ctx), ctx.currency)

    wrong = [right[0], right[1].replace(" rose ", " fell ") if " rose " in right[1] else right[1].replace(
        " fell ", " rose "), right[2]]
    torn = checkpoint(tmp_path / "torn", [*given, *wrong], [f"{p} {t}" for p, t in zip(given, wrong, strict=True)],
                      steps=150)
    (fallback,) = ModelNarrator(torn, labels(run), max_new_tokens=30, beams=1).answer_all([(changed, ctx)])
    assert fallback.origin == "reference"
    assert fallback.verification["detail"].startswith("part: move 2 of 3: ")
    assert "contradicts" in fallback.verification["detail"]
