"""The model narrator: a Hugging Face causal language model phrases the answers; the verifier checks each one.

The model is loaded once per run from a local directory (``local_files_only``; a full checkpoint, or a
PEFT LoRA adapter on a local base) and generates greedily, in batches, for every question of every company
of the run; an answer the verifier rejects is drawn again by beam search, and the best-scored beam that
passes takes its place. Its prompt gives the question and the question's facts as slot lines (``⟨current_ratio⟩ 0.41x
down from ⟨current_ratio_prior⟩ 0.52x``); it answers with slots, and :func:`generator.narrator.verify.fill`
writes the values. An answer no beam gets through the verifier is replaced by the reference answer, and
``answers.json`` keeps the model's text, the verdict and the reason (and the greedy text a beam replaced).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from generator.narrator import Answer, Context, Question, ReferenceNarrator, facts_used
from generator.narrator.parts import Part, joined, plan
from generator.narrator.slots import SLOT, Slot, fill, move, prompt_facts
from generator.narrator.verify import Verdict, verify

PROMPT_FORMAT = "finreport-slots-7"
"""Recorded in the manifest and the model card: a checkpoint is trained for one prompt format."""


def quiet() -> None:
    """Loading and saving a checkpoint draw progress bars and log notes on the terminal: a report run shows
    its own progress, and transformers' notes on a checkpoint are not the reader's business."""
    from transformers.utils import logging

    logging.disable_progress_bar()
    logging.set_verbosity_error()


def prompt(question: Question, part: Part, context: Context) -> str:
    """One line per fact of the part: its slot and its value as the report writes it (a finding: its check); where
    the answer may give it a direction, the direction beside the slot the answer writes with it (``⟨current_ratio⟩
    0.41x down from ⟨current_ratio_prior⟩ 0.52x``, a growth rate ``⟨revenue_growth_yoy⟩ -3.1% down by
    ⟨revenue_growth_yoy_abs⟩``, a multiple against its sector's median ``⟨pe_ttm⟩ 25.10x above
    ⟨pe_ttm_sector_median⟩ 18.00x``), so the words an answer needs stand in one line; then the part's flags; then which
    part of the answer it is (``part: move 2 of 3``); then the question, last, where a small model attends most
    easily."""
    facts, lines = part.facts, []
    for name, fact in facts.items():
        base = name.removesuffix("_prior").removesuffix("_abs").removesuffix("_sector_median")
        if name != base and base in facts:  # written on its figure's line
            continue
        line = f"⟨{name}⟩ {fact.cue or fact.display(context.currency)}"
        direction, size, prior = move(facts, name, context.currency), f"{name}_abs" in facts, facts.get(f"{name}_prior")
        if size:
            line += f" {direction} by ⟨{name}_abs⟩"
        if prior is not None:
            line += (", a year earlier " if size else f" {direction} from ") + \
                f"⟨{name}_prior⟩ {prior.display(context.currency)}"
        elif direction and not size:
            line += f" {direction}"
        if (median := facts.get(f"{name}_sector_median")) is not None:  # the comparison a small model cannot make
            side = "above" if fact.value > median.value else "below" if fact.value < median.value else "level with"
            line += f" {side} ⟨{name}_sector_median⟩ {median.display(context.currency)}"
        lines.append(line)
    lines += [f"flag: {f['label']}" for f in part.flags]
    if part.header():
        lines.append(part.header())
    lines.append(f"question: {question.question}")
    return "\n".join(lines) + "\nanswer:"


def prompts(question: Question, context: Context) -> list[str]:
    """The prompts of one answer, one per part (:func:`generator.narrator.parts.plan`), in the answer's order."""
    facts = prompt_facts(question, context)
    return [prompt(question, part, context) for part in plan(question, context, facts)]


@dataclass(frozen=True)
class Draft:
    """What the model wrote for one question: the greedy text, or the beam that replaced it, and its verdict."""

    text: str
    verdict: Verdict
    decoding: str  # "greedy", "beam 3 of 8", "greedy; none of 8 beams passed"
    greedy: tuple[str, str] | None = None  # the greedy text and why it failed, when a beam replaced it

    def record(self) -> dict[str, object]:
        """The verdict with the model's text and its decoding (and the greedy text a beam replaced): the
        ``verification`` of answers.json."""
        record = self.verdict.record() | {"model_text": self.text, "decoding": self.decoding}
        if self.greedy:
            record |= {"greedy_text": self.greedy[0], "greedy_rejected": self.greedy[1]}
        return record


class ModelNarrator:
    """Any local causal LM; CUDA with bf16 when a GPU is present, the CPU in float32 otherwise."""

    def __init__(self, path: Path, flag_labels: Sequence[str], batch_size: int = 32, max_new_tokens: int = 160,
                 beams: int = 8) -> None:
        """``path`` holds a full checkpoint, or a PEFT adapter whose ``adapter_config.json`` names its base.
        ``beams``: how many beams draw an answer again when its greedy text fails the verifier (1: none)."""
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        quiet()
        self.path, self.flag_labels, self.batch_size, self.max_new_tokens, self.beams = path, flag_labels, \
            batch_size, max_new_tokens, beams
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        self.tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        self.tokenizer.padding_side = "left"  # generation continues each prompt where it ends
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        dtype = torch.bfloat16 if self.device == "cuda" else torch.float32
        adapter = path / "adapter_config.json"
        if adapter.is_file():
            from peft import PeftModel

            base = json.loads(adapter.read_text("utf-8"))["base_model_name_or_path"]
            model = PeftModel.from_pretrained(
                AutoModelForCausalLM.from_pretrained(base, local_files_only=True, dtype=dtype), path)
        else:
            model = AutoModelForCausalLM.from_pretrained(path, local_files_only=True, dtype=dtype)
        self.model = model.to(self.device).eval()
        config = self.model.config
        self.positions: int | None = getattr(config, "n_positions", None) or \
            getattr(config, "max_position_embeddings", None)
        """How many tokens the model attends to: prompt and answer together must fit."""
        self.slot_ids = sorted(i for token, i in self.tokenizer.get_added_vocab().items() if SLOT.fullmatch(token))
        """The tokens that are whole slots (a checkpoint trained from nothing has one per slot of its corpus)."""

    def generate(self, prompts: Sequence[str]) -> list[str | Exception]:
        """Greedy continuations, one line each, in batches of prompts of similar length (less padding); a prompt
        the model failed on gets the exception instead of a text."""
        return [texts if isinstance(texts, Exception) else texts[0] for texts in self._decode(prompts, 1)]

    def beam(self, prompts: Sequence[str]) -> list[list[str] | Exception]:
        """Each prompt's ``beams`` beam-search continuations, best-scored first; batches hold as many sequences
        as greedy batches do."""
        return self._decode(prompts, self.beams)

    def too_long(self, prompts: Sequence[str]) -> list[str | None]:
        """Why a prompt cannot be answered by this model (prompt and answer would not fit its positions)."""
        lengths = [len(ids) for ids in self.tokenizer(list(prompts))["input_ids"]]
        return [None if self.positions is None or n + self.max_new_tokens <= self.positions else
                f"prompt of {n:,} tokens leaves no room for a {self.max_new_tokens}-token answer in the model's "
                f"{self.positions:,} positions" for n in lengths]

    def _decode(self, prompts: Sequence[str], beams: int) -> list[list[str] | Exception]:
        """A batch the model fails on is decoded again one prompt at a time, so that a failure stays with the
        prompt that caused it and every other answer is still written."""
        lengths = [len(ids) for ids in self.tokenizer(list(prompts))["input_ids"]]
        order = sorted(range(len(prompts)), key=lambda i: lengths[i])
        size = max(1, self.batch_size // beams)
        out: dict[int, list[str] | Exception] = {}
        for start in range(0, len(order), size):
            chunk = order[start:start + size]
            try:
                out |= dict(zip(chunk, self._batch([prompts[i] for i in chunk], beams), strict=True))
            except Exception as exc:  # whatever the model raises: one answer's failure is that answer's alone
                if len(chunk) == 1:
                    out[chunk[0]] = exc
                    continue
                for i in chunk:
                    try:
                        out[i] = self._batch([prompts[i]], beams)[0]
                    except Exception as alone:  # the prompt that causes it
                        out[i] = alone
        return [out[i] for i in range(len(prompts))]

    def _batch(self, prompts: list[str], beams: int) -> list[list[str]]:
        import torch
        from transformers import LogitsProcessorList

        batch = self.tokenizer(prompts, return_tensors="pt", padding=True).to(self.device)
        with torch.inference_mode():
            ids = self.model.generate(**batch, do_sample=False, num_beams=beams, num_return_sequences=beams,
                                      max_new_tokens=self.max_new_tokens, pad_token_id=self.tokenizer.pad_token_id,
                                      logits_processor=LogitsProcessorList(self._own_slots(batch["input_ids"], beams)))
        texts = self.tokenizer.batch_decode(ids[:, batch["input_ids"].shape[1]:], skip_special_tokens=True)
        lines = [text.strip().split("\n")[0].strip() for text in texts]
        return [lines[k * beams:(k + 1) * beams] for k in range(len(prompts))]

    def _own_slots(self, prompts: Any, beams: int) -> list[Any]:
        """A logits processor that lets each answer write only the slots its own prompt gives: a slot of a fact
        the filing lacks (⟨free_cash_flow⟩ of a bank) cannot be written, so the model says what it has instead.
        No processor when the tokenizer has no whole-slot tokens (a pretrained base spells slots in pieces)."""
        if not self.slot_ids:
            return []
        import torch
        from transformers import LogitsProcessor

        slots = torch.tensor(self.slot_ids, device=prompts.device)
        absent = ~(slots[None, :, None] == prompts[:, None, :]).any(-1)  # (prompts, slots)
        # generate() expands each prompt into its beams in place: row k of the scores is prompt k // beams
        rows, columns = torch.nonzero(absent.repeat_interleave(beams, dim=0), as_tuple=True)
        columns = slots[columns]

        class OwnSlots(LogitsProcessor):
            def __call__(self, input_ids: Any, scores: Any) -> Any:
                scores[rows, columns] = float("-inf")
                return scores

        return [OwnSlots()]

    def draft(self, jobs: Sequence[tuple[Question, Context]], facts: Sequence[dict[str, Slot]]) -> list[Draft]:
        """Each answer written part by part (:func:`generator.narrator.parts.plan`; most answers are one part):
        every part greedily, each verified on its own; the parts that fail are drawn again by beam search, and the
        best-scored beam that passes replaces the greedy text (none passing: the greedy text and its verdict stay,
        and the decoding says the beams were tried). An answer in several parts is then verified as a whole. A
        prompt too long for the model is not generated, and one the model fails on is not drawn again: both fall
        back to the reference answer, with the reason."""
        plans = [plan(q, c, f) for (q, c), f in zip(jobs, facts, strict=True)]
        pieces = [(j, part) for j, parts in enumerate(plans) for part in parts]
        prompts = [prompt(jobs[j][0], part, jobs[j][1]) for j, part in pieces]
        skipped = self.too_long(prompts)
        fits = [i for i, why in enumerate(skipped) if why is None]
        texts: dict[int, str | Exception] = dict(zip(fits, self.generate([prompts[i] for i in fits]), strict=True))
        drafts = []
        for i, (j, part) in enumerate(pieces):
            (question, context), text = jobs[j], texts.get(i)
            if isinstance(text, str):
                drafts.append(Draft(text, self._verify(text, question, context, part), "greedy"))
            else:
                why = skipped[i] or f"the model failed: {type(text).__name__}: {text}"
                drafts.append(Draft("", Verdict(False, why), "not generated"))
        failed = [i for i, d in enumerate(drafts) if not d.verdict.ok and d.decoding == "greedy"]
        if self.beams > 1 and failed:
            for i, beams in zip(failed, self.beam([prompts[i] for i in failed]), strict=True):
                (question, context), part, first = jobs[pieces[i][0]], pieces[i][1], drafts[i]
                drafts[i] = Draft(first.text, first.verdict, f"greedy; none of {self.beams} beams passed")
                for rank, text in enumerate([] if isinstance(beams, Exception) else beams, start=1):
                    verdict = self._verify(text, question, context, part)
                    if verdict.ok:
                        drafts[i] = Draft(text, verdict, f"beam {rank} of {self.beams}",
                                          (first.text, first.verdict.reason))
                        break
        by_answer: list[list[tuple[Part, Draft]]] = [[] for _ in jobs]
        for (j, part), piece in zip(pieces, drafts, strict=True):
            by_answer[j].append((part, piece))
        return [self._whole(question, context, fact, parts)
                for (question, context), fact, parts in zip(jobs, facts, by_answer, strict=True)]

    def _verify(self, text: str, question: Question, context: Context, part: Part) -> Verdict:
        """A whole answer is verified as an answer; a part as a part of one, against its own facts and flags."""
        if part.header() is None:
            return verify(text, question, context, self.flag_labels, part.facts)
        verdict = verify(text, question, context, self.flag_labels, part.facts, part=part)
        return verdict if verdict.ok else Verdict(False, f"{part.header()}: {verdict.reason}", verdict.checked)

    def _whole(self, question: Question, context: Context, facts: dict[str, Slot],
               parts: list[tuple[Part, Draft]]) -> Draft:
        """One answer's draft from its parts' drafts: a whole part as it is; parts joined, the first failure the
        reason, and once every part passes, the answer verified as a whole."""
        if len(parts) == 1 and parts[0][0].header() is None:
            return parts[0][1]
        drafts = [d for _, d in parts]
        text = joined([d.text for d in drafts], [p for p, _ in parts])
        decodings = [d.decoding for d in drafts]
        decoding = "greedy" if set(decodings) == {"greedy"} else "parts: " + ", ".join(decodings)
        greedy = None
        if any(d.greedy for d in drafts):
            why = next(d.greedy[1] for d in drafts if d.greedy)
            greedy = (joined([(d.greedy or (d.text, ""))[0] for d in drafts], [p for p, _ in parts]), why)
        wrong = next((d.verdict for d in drafts if not d.verdict.ok), None)
        verdict = wrong or verify(text, question, context, self.flag_labels, facts, joined=True)
        return Draft(text, verdict, decoding, greedy)

    def answer_all(self, jobs: Sequence[tuple[Question, Context]]) -> list[Answer]:
        """Every job drafted together (in batches, beams for the failures): an answer that passes is filled in; any
        other is replaced by the reference answer, the model's text and the reason kept beside it."""
        if not jobs:  # a run with no portfolio to answer for: nothing to tokenize
            return []
        facts = [prompt_facts(q, c) for q, c in jobs]
        return [self._checked(q, c, f, d) for (q, c), f, d in zip(jobs, facts, self.draft(jobs, facts), strict=True)]

    def answer(self, question: Question, context: Context) -> Answer:
        """One question as a batch of one; a run asks :meth:`answer_all`, so the model generates in batches."""
        return self.answer_all([(question, context)])[0]

    def _checked(self, question: Question, context: Context, facts: dict[str, Slot], draft: Draft) -> Answer:
        if draft.verdict.ok:
            return Answer(question.id, question.question, fill(draft.text, facts, context.currency), "model",
                          draft.record(), facts_used(question, context))
        reference = ReferenceNarrator().answer(question, context)
        reference.verification = draft.record() | {"status": "fallback"}
        return reference
