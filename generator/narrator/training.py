"""Teaching a language model the house style: the corpus, the model, training, held-out evaluation, the card.

The corpus pairs each question's prompt (``finreport-slots-5``; one per part of an answer written in parts) for a
company-period with an answer in slots:
one of the differently-phrased templates of ``phrasings.toml``, the reference answer with its figures turned
back into slots, or an analyst's correction. Every target passes the verifier before it is used, so the model
never learns a claim the data does not support. Companies come from the sample generator with other seeds;
evaluation uses a seed the training corpus never saw.
"""

from __future__ import annotations

import json
import math
import random
import re
import time
import tomllib
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from jinja2 import Template

from generator import present
from generator.metrics import label
from generator.narrator import (
    BOUND_WORDS,
    LISTED_FINDINGS,
    Context,
    Question,
    ReferenceNarrator,
    Values,
    asked,
    catalogue,
    question_findings,
    relevant_flags,
)
from generator.narrator.model import ModelNarrator, prompt
from generator.narrator.parts import WHOLE, Part, joined, plan
from generator.narrator.slots import SLOT, Slot, condition_slot, move, prompt_facts
from generator.narrator.verify import BETTER, DOWN, UP, WORSE, figures, matches, named_flags, verify


@dataclass(frozen=True)
class Example:
    """One training pair: the prompt of a company-period and question, the answer in slots the model should write, and
    where that answer came from (a phrasing, the reference answer, an analyst's correction)."""

    entity: str
    period: str
    question: str
    prompt: str
    target: str
    source: str  # "phrasing-N", "reference" or "correction"


class _Slots:
    """``s.revenue`` / ``s["revenue"]`` in a phrasing: ``⟨revenue⟩`` when the prompt gives that fact, else None."""

    def __init__(self, facts: dict[str, Slot]) -> None:
        self._facts = facts

    def __getattr__(self, name: str) -> str | None:
        """A quarter's scores exist as trailing-twelve-month figures only: ``s.x`` falls back to ``x_ttm``."""
        for slot in (name, f"{name}_ttm"):
            if slot in self._facts:
                return f"⟨{slot}⟩"
        return None

    __getitem__ = __getattr__


def _why(facts: dict[str, Slot], context: Context) -> Callable[[dict[str, Any], str], str]:
    def why(flag: dict[str, Any], style: str) -> str:
        """A flag's conditions with slots; conditions on the same figure in several periods said once."""
        groups: dict[tuple[str, bool, str], list[str]] = {}
        for c in flag.get("conditions", []):
            slot = condition_slot(c, context)
            if slot not in facts or facts[slot].value != c["value"]:
                continue
            groups.setdefault((c["metric"], c["ttm"], json.dumps(c["bounds"])), []).append(f"⟨{slot}⟩")
        parts = []
        for (metric, ttm, bounds), slots in groups.items():
            name = label(metric) + (" over the last twelve months" if ttm else "")
            limits = [(op, f"⟨{metric}_{'min' if op.startswith('>') else 'max'}_threshold⟩")
                      for op, _ in json.loads(bounds)]
            shown = slots[0] if len(slots) == 1 else ", ".join(slots[:-1]) + f" and {slots[-1]} in " \
                f"{['', '', 'two', 'three', 'four'][len(slots)] or len(slots)} consecutive periods, each"
            if style == "threshold":
                parts.append(f"{name} at {shown} against " + " and ".join(
                    f"a {'floor' if op.startswith('>') else 'ceiling'} of {slot}" for op, slot in limits))
            else:
                parts.append(f"{name} {shown}{'' if len(slots) > 1 else ','} "
                             + " and ".join(f"{BOUND_WORDS[op]} {slot}" for op, slot in limits))
        return "; ".join(parts) or "its conditions hold"
    return why


@cache
def phrasings() -> dict[tuple[str, str], tuple[Template, ...]]:
    """The slot templates of ``phrasings.toml`` by question id and part (``whole`` when a phrasing names none),
    compiled once."""
    env = present.sandbox()
    data = tomllib.loads(resources.files("generator.narrator").joinpath("phrasings.toml").read_text("utf-8"))
    out: dict[tuple[str, str], list[Template]] = {}
    for p in data["phrasing"]:
        out.setdefault((p["question"], p.get("part", WHOLE)), []).append(env.from_string(p["template"].strip()))
    return {k: tuple(v) for k, v in out.items()}


def phrase(template: Template, question: Question, context: Context, part: Part) -> str:
    """One phrasing of ``phrasings.toml`` rendered in slots for a part of a company-period's answer (most answers
    are one part): the same facts in other words, so the model learns the house style rather than one sentence per
    question."""
    facts, flags = part.facts, list(part.flags)
    names = {f["flag"] for f in relevant_flags(question, context)}
    findings = question_findings(question, context)

    def direction(name: str, up: str, down: str, flat: str, unknown: str = "was") -> str:
        return {"up": up, "down": down, "flat": flat, None: unknown}[move(facts, name, context.currency)]

    text = template.render(
        s=_Slots(facts), m=Values(context.metrics), prior=Values(context.prior), flags=flags,
        findings=findings[:LISTED_FINDINGS], has=lambda flag: flag in names,
        flag=lambda name: next(f for f in flags if f["flag"] == name), why=_why(facts, context), dir=direction,
        lbl=label, sector=context.sector, comparable=any(n.endswith("_prior") for n in facts),
        item=part.item, index=part.index, count=part.count,
        total=len(findings) if question.findings else len(relevant_flags(question, context)),
    )
    sentence = " ".join(text.split())
    return present.capitalised(sentence)


def delexicalise(text: str, question: Question, context: Context, facts: dict[str, Slot],
                 flag_labels: Sequence[str]) -> str | None:
    """An answer written with numbers (a reference answer, an analyst's edit) turned into slots: the period and
    the findings' texts become theirs, then each figure the slot of the fact it states. None unless the text
    passes the verifier before and after its figures become slots."""
    texts = sorted(((f.text, n) for n, f in facts.items() if f.unit == "text" and f.text), key=lambda t: -len(t[0]))
    if question.findings:  # a finding's own period before the report's, when both read the same
        texts.sort(key=lambda t: (-len(t[0]), t[1] == "period"))
    for shown, name in texts:
        text = re.sub(rf"(?<![\w⟨]){re.escape(shown)}(?![\w⟩])", f"⟨{name}⟩", text)
    if not verify(text, question, context, flag_labels, facts).ok:  # a finding's own words are data, unchecked
        return None
    out, end, used = [], 0, set()  # a second "9" in "9 of 9" is the other fact that reads 9
    masked = SLOT.sub(lambda m: " " * len(m.group(0)), text)
    for figure in figures(masked):
        found = [f for f in facts.values() if f.unit != "text" and matches(figure, f)]
        if not found:
            return None
        start = figure.start + (len(figure.text) - len(figure.text.lstrip()))
        stop = figure.start + len(figure.text)
        if text[start] == "(" and not figure.text.rstrip().endswith(")"):  # "(71 days a year earlier)"
            start += 1
        before = text[:start].lower()
        then = before.rstrip().endswith("from")  # a move starts from the year-earlier figure
        # the fact written exactly so ("1.2%" is the size of a -1.2% change), then the one whose name stands
        # nearest before the figure ("debt to equity was 0.31x"), then the current value (after "from": the
        # year-earlier one, when both read the same)
        near = sorted(found, key=lambda f: (not text.startswith(f.display(context.currency), start), f.name in used,
                                            -before.rfind(label(f.metric or f.name.split("_prior")[0]).lower()),
                                            f.name.endswith("_prior") != then, "threshold" in f.name, f.name))
        shown = near[0].display(context.currency)
        if text.startswith(shown, start):  # the whole figure as the report writes it ("54 days", "$1.2bn")
            stop = start + len(shown)
        out += [text[end:start], f"⟨{near[0].name}⟩"]
        used.add(near[0].name)
        end = stop
    out.append(text[end:])
    slotted = "".join(out)
    return slotted if verify(slotted, question, context, flag_labels, facts).ok else None


def examples_for(contexts: Iterable[Context], flag_labels: Sequence[str], rng: random.Random,
                 stats: Counter[str] | None = None, questions: Sequence[Question] | None = None) -> list[Example]:
    """Training examples for every company-period and question: one per part of its answer
    (:func:`generator.narrator.parts.plan`). A whole answer's target is drawn at random from its phrasings and
    the reference answer in slots; a part's from its part's phrasings, and the parts of one answer are used only
    when they make an answer that passes as a whole. A candidate that fails the verifier is counted in ``stats``
    and the next one is drawn. ``questions``: those asked (default: the whole catalogue)."""
    stats = Counter() if stats is None else stats
    out = []
    for context in contexts:
        for question in questions or catalogue():
            if not asked(question, context):
                continue
            facts = prompt_facts(question, context)
            parts = plan(question, context, facts)
            if parts[0].role == WHOLE:
                out += _whole_example(question, context, parts[0], flag_labels, rng, stats)
                continue
            drawn = [_part_example(question, context, part, flag_labels, rng, stats) for part in parts]
            if any(d is None for d in drawn):
                continue
            verdict = verify(joined([d.target for d in drawn if d], parts), question, context, flag_labels, facts,
                             joined=True)
            if not verdict.ok:
                stats[f"refused {question.id} parts: {verdict.reason}"] += 1
                continue
            for d in drawn:
                if d:
                    out.append(d)
                    stats[f"{d.source.split('-')[0]} sentences"] += 1
    return out


def _whole_example(question: Question, context: Context, part: Part, flag_labels: Sequence[str],
                   rng: random.Random, stats: Counter[str]) -> list[Example]:
    sources = [f"phrasing-{i}" for i in range(len(phrasings().get((question.id, WHOLE), ())))] + ["reference"]
    rng.shuffle(sources)
    for source in sources:
        if source == "reference":
            text = delexicalise(ReferenceNarrator().answer(question, context).text, question, context, part.facts,
                                flag_labels)
            reason = None if text is not None else "its figures do not map to slots"
        else:
            text = phrase(phrasings()[(question.id, WHOLE)][int(source.split("-")[1])], question, context, part)
            verdict = verify(text, question, context, flag_labels, part.facts)
            reason = None if verdict.ok and "None" not in text else verdict.reason or "an absent slot"
        if reason is None and text is not None:
            stats[source] += 1
            return [Example(context.entity_id, context.period, question.id, prompt(question, part, context), text,
                            source)]
        stats[f"refused {question.id} {source}: {reason}"] += 1
    return []


def _part_example(question: Question, context: Context, part: Part, flag_labels: Sequence[str],
                  rng: random.Random, stats: Counter[str]) -> Example | None:
    templates = phrasings().get((question.id, part.role), ())
    for k in rng.sample(range(len(templates)), len(templates)):
        text = phrase(templates[k], question, context, part)
        verdict = verify(text, question, context, flag_labels, part.facts, part=part)
        if verdict.ok and "None" not in text:
            return Example(context.entity_id, context.period, question.id, prompt(question, part, context), text,
                           f"{part.role}-{k}")
        stats[f"refused {question.id} {part.role}-{k}: {verdict.reason or 'an absent slot'}"] += 1
    return None


LEAST_PART_EXAMPLES = 600
"""Examples a part of an answer gets at least, repeating its own when the corpus holds fewer (at most 8 times):
real filers' data-quality findings are many, the generated companies' few, and a model that saw 150 finding
sentences among 40,000 examples wrote garbage for them."""


def balanced(examples: Sequence[Example]) -> tuple[list[Example], dict[str, int]]:
    """The examples, those of each rare part (question and role) repeated up to :data:`LEAST_PART_EXAMPLES`;
    with how many copies were added per part."""
    by_part: dict[str, list[Example]] = {}
    for e in examples:
        role = e.source.rsplit("-", 1)[0]
        if role not in ("phrasing", "reference", "correction"):
            by_part.setdefault(f"{e.question} {role}", []).append(e)
    out, added = list(examples), {}
    for key, own in sorted(by_part.items()):
        extra = min(LEAST_PART_EXAMPLES, 8 * len(own)) - len(own)
        if extra > 0:
            out += [own[i % len(own)] for i in range(extra)]
            added[key] = extra
    return out, added


def corrections(path: Path, contexts: dict[tuple[str, str], Context], flag_labels: Sequence[str]
                ) -> tuple[list[Example], list[str]]:
    """Analysts' edited answers (JSONL: question, entity, period, text), each accepted only if it passes the
    verifier against that company-period's facts. Returns the examples and one line per refused edit."""
    questions = {q.id: q for q in catalogue()}
    accepted, refused = [], []
    for number, line in enumerate(path.read_text("utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            edit = json.loads(line)
            question, context = questions[edit["question"]], contexts[(edit["entity"], edit["period"])]
            text = str(edit["text"])
        except json.JSONDecodeError as e:
            refused.append(f"{where}: not JSON ({e.msg}, column {e.colno})")
            continue
        except KeyError as e:
            refused.append(f"{where}: unknown or missing {e.args[0]!r} (question, entity and period of this run)")
            continue
        facts = prompt_facts(question, context)
        verdict = verify(text, question, context, flag_labels, facts)
        slotted = delexicalise(text, question, context, facts, flag_labels) if verdict.ok else None
        if slotted is None:
            refused.append(f"{where}: refused, {verdict.reason if not verdict.ok else 'its figures are ambiguous'}")
            continue
        examples, why = _corrected_parts(slotted, question, context, flag_labels)
        if why:
            refused.append(f"{where}: refused, {why}")
        accepted += examples
    return accepted, refused


def _corrected_parts(slotted: str, question: Question, context: Context, flag_labels: Sequence[str]
                     ) -> tuple[list[Example], str | None]:
    """An accepted edit as training examples: the whole answer, or, for an answer written in parts, one sentence
    per part (each must pass as its part)."""
    parts = plan(question, context, prompt_facts(question, context))
    if parts[0].role == WHOLE:
        return [Example(context.entity_id, context.period, question.id, prompt(question, parts[0], context),
                        slotted, "correction")], None
    sentences = [s for s in re.split(r"(?<=[.!?])\s+", slotted.strip()) if s]
    if len(sentences) != len(parts):
        return [], f"this answer is written one sentence per part ({', '.join(p.role for p in parts)}): the " \
                   f"edit has {len(sentences)} sentence{'s' if len(sentences) != 1 else ''} for {len(parts)} parts"
    examples = []
    for part, sentence in zip(parts, sentences, strict=True):
        sentence = part.in_part(sentence)
        verdict = verify(sentence, question, context, flag_labels, part.facts, part=part)
        if not verdict.ok:
            return [], f"sentence {len(examples) + 1} as {part.header()}: {verdict.reason}"
        examples.append(Example(context.entity_id, context.period, question.id, prompt(question, part, context),
                                sentence, "correction"))
    return examples, None


def checked_spans(text: str, flag_labels: Sequence[str]) -> list[tuple[int, int]]:
    """Where ``text`` says what the verifier judges by words, not figures: direction words (rose, down, improved,
    above) and flag names. A few such words decide an answer's whole verdict."""
    names = "|".join(re.escape(f) for f in sorted(flag_labels, key=len, reverse=True))
    words = "|".join((*UP, *DOWN, *BETTER, *WORSE, "above", "below"))
    pattern = re.compile(rf"\b(?:{words}{'|' + names if names else ''})\b", re.IGNORECASE)
    return [m.span() for m in pattern.finditer(text)]


def encode(examples: Sequence[Example], tokenizer: Any, flag_labels: Sequence[str] = (), checked_weight: float = 1.0
           ) -> list[dict[str, list[int] | list[float]]]:
    """Prompt and answer as one sequence; the loss counts the answer and its end only, each token of a word in
    :func:`checked_spans` ``checked_weight`` times."""
    prompts = tokenizer([e.prompt for e in examples], add_special_tokens=False)["input_ids"]
    answers = tokenizer([" " + e.target for e in examples], add_special_tokens=False, return_offsets_mapping=True)
    eos = tokenizer.eos_token_id
    out = []
    for p, a, offsets, example in zip(prompts, answers["input_ids"], answers["offset_mapping"], examples, strict=True):
        spans = checked_spans(" " + example.target, flag_labels)
        weights = [checked_weight if any(start < e and s < stop for s, e in spans) else 1.0 for start, stop in offsets]
        out.append({"input_ids": p + a + [eos], "labels": [-100] * len(p) + a + [eos],
                    "weights": [0.0] * len(p) + weights + [1.0]})
    return out


def collate(pad_id: int) -> Callable[[Sequence[dict[str, list[Any]]]], dict[str, Any]]:
    """Batches of :func:`encode`'s sequences, padded on the right (no loss, no attention there)."""
    import torch

    def batch(features: Sequence[dict[str, list[Any]]]) -> dict[str, Any]:
        width = max(len(f["input_ids"]) for f in features)

        def pad(key: str, value: float, dtype: Any) -> Any:
            return torch.tensor([f[key] + [value] * (width - len(f[key])) for f in features], dtype=dtype)

        return {"input_ids": pad("input_ids", pad_id, torch.long), "labels": pad("labels", -100, torch.long),
                "attention_mask": torch.tensor([[1] * len(f["input_ids"]) + [0] * (width - len(f["input_ids"]))
                                                for f in features]),
                "weights": pad("weights", 0.0, torch.float32)}
    return batch


def weighted_loss(logits: Any, labels: Any, weights: Any) -> Any:
    """Next-token cross-entropy, each position weighted, normalised by the weights it counts."""
    import torch.nn.functional as F

    logits, labels, weights = logits[:, :-1].float(), labels[:, 1:], weights[:, 1:]
    loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), labels.reshape(-1), ignore_index=-100,
                           reduction="none")
    return (loss * weights.reshape(-1)).sum() / weights.sum().clamp(min=1e-9)


@dataclass
class Evaluation:
    """A checkpoint's figures on one held-out set, as its model card reports them: verified rates (greedy, and with
    beams), number and flag accuracy, speed, the rate by question, and the commonest reasons for a fallback."""

    parameters: int
    answers: int
    beams: int
    greedy_verified_rate: float
    verified_rate: float
    number_accuracy: float
    flag_accuracy: float
    tokens_per_s: float
    answers_per_s: float
    seconds: float
    by_question: dict[str, float]
    reasons: dict[str, int]

    def record(self) -> dict[str, Any]:
        """The figures as plain data, for evaluation.json and the flow's result."""
        return asdict(self)


def evaluate(narrator: ModelNarrator, jobs: Sequence[tuple[Question, Context]], flag_labels: Sequence[str]
             ) -> Evaluation:
    """The held-out figures, from the narrator's own drafts (greedy, the failures drawn again by beam search):
    the share of greedy answers that pass the verifier, and of answers that pass at all (no fallback); of the
    figures the final texts write (slots and figure numbers), the share that are facts of the prompt; of the
    answers that may name flags, the share naming exactly what they should (the risk questions: every inferred
    flag; the others: none the reasoner did not infer); tokens of the final texts and answers per second of the
    whole drafting, the redraws included. The reasons are those of the answers that fall back."""
    facts = [prompt_facts(q, c) for q, c in jobs]
    t0 = time.perf_counter()
    drafts = narrator.draft(jobs, facts)
    seconds = time.perf_counter() - t0
    texts = [d.text for d in drafts]
    tokens = sum(len(ids) + 1 for ids in narrator.tokenizer(texts, add_special_tokens=False)["input_ids"])
    written, right, flagged, flags_right = 0, 0, 0, 0
    per_question: dict[str, list[bool]] = {}
    reasons: Counter[str] = Counter()
    for (question, context), fact, draft in zip(jobs, facts, drafts, strict=True):
        text, verdict = draft.text, draft.verdict
        per_question.setdefault(question.id, []).append(verdict.ok)
        if not verdict.ok:
            reasons[re.sub(r"[-+(]*[$€£¥]?\d[\d.,]*(?:%|x\b|bn|m\b|k\b)?\)?", "#", verdict.reason)[:80]] += 1
        slots = SLOT.findall(text)
        written += len(slots)
        right += sum(s in fact for s in slots)
        for figure in figures(SLOT.sub(" ", text)):
            written += 1
            right += any(f.unit != "text" and matches(figure, f) for f in fact.values())
        if question.flags:
            flagged += 1
            named = named_flags(text, flag_labels)
            inferred = {f["label"].lower() for f in context.flags}
            expected = {f["label"].lower() for f in relevant_flags(question, context)}
            exact = any(f.startswith("*") for f in question.flags)
            flags_right += (named == expected) if exact else named <= inferred
    n = max(1, len(jobs))
    return Evaluation(
        parameters=sum(p.numel() for p in narrator.model.parameters()), answers=len(jobs), beams=narrator.beams,
        greedy_verified_rate=sum(d.decoding == "greedy" and d.verdict.ok for d in drafts) / n,
        verified_rate=sum(d.verdict.ok for d in drafts) / n, number_accuracy=right / max(1, written),
        flag_accuracy=flags_right / max(1, flagged), tokens_per_s=tokens / seconds, answers_per_s=len(jobs) / seconds,
        seconds=seconds, by_question={q: sum(v) / len(v) for q, v in per_question.items()},
        reasons=dict(reasons.most_common(12)))


def loss_curve(history: Sequence[dict[str, Any]]) -> list[tuple[int, float]]:
    """(step, training loss) from a trainer's log history."""
    return [(int(h["step"]), float(h["loss"])) for h in history if "loss" in h and math.isfinite(h["loss"])]


def train(model: Any, tokenizer: Any, examples: Sequence[Example], work: Path, *, steps: int, batch_size: int,
          learning_rate: float, seed: int, save_steps: int, progress: bool, resume: bool,
          flag_labels: Sequence[str] = (), checked_weight: float = 1.0) -> list[dict[str, Any]]:
    """Fine-tune ``model`` on the examples with the Hugging Face Trainer: AdamW, cosine schedule after a short
    warm-up, shuffled batches (batches of similar length would hold one question each, and the model would
    swing between them), the words the verifier checks weighted ``checked_weight`` times in the loss,
    checkpoints every ``save_steps`` in ``work/checkpoints`` (the last two kept); with ``resume``, training
    continues from the latest checkpoint. Returns the log history."""
    import torch
    from transformers import Trainer, TrainingArguments
    from transformers.trainer_utils import get_last_checkpoint

    class Weighted(Trainer):
        def compute_loss(self, model: Any, inputs: dict[str, Any], return_outputs: bool = False,
                         num_items_in_batch: Any = None) -> Any:
            labels, weights = inputs.pop("labels"), inputs.pop("weights")
            outputs = model(**inputs)
            loss = weighted_loss(outputs.logits, labels, weights)
            return (loss, outputs) if return_outputs else loss

    checkpoints = work / "checkpoints"
    cuda = torch.cuda.is_available()
    args = TrainingArguments(
        output_dir=str(checkpoints), max_steps=steps, per_device_train_batch_size=batch_size,
        learning_rate=learning_rate, warmup_steps=0.05, lr_scheduler_type="cosine", weight_decay=0.01,
        logging_steps=max(1, min(50, steps // 20)), save_steps=save_steps, save_total_limit=2, seed=seed,
        data_seed=seed, report_to=[], disable_tqdm=not progress, dataloader_num_workers=0, use_cpu=not cuda, bf16=cuda,
        remove_unused_columns=False)  # the weights are no argument of the model's forward
    trainer = Weighted(model=model, args=args, train_dataset=encode(examples, tokenizer, flag_labels, checked_weight),
                       data_collator=collate(tokenizer.pad_token_id))
    last = get_last_checkpoint(str(checkpoints)) if resume and checkpoints.is_dir() else None
    trainer.train(resume_from_checkpoint=last)
    return trainer.state.log_history


def scratch(path: Path, corpus: Sequence[str], *, vocab_size: int, width: int, layers: int, heads: int,
            seed: int = 0, family: str = "gpt2", tokens: Sequence[str] = ()) -> tuple[Any, Any]:
    """A narrator to train from nothing, saved in ``path``: a byte-level BPE tokenizer trained on ``corpus``
    (digits one per token, so numbers never become opaque words; each of ``tokens`` one token of its own) and a
    GPT-2 or Llama of the given size, seeded. Returns (model, tokenizer)."""
    import torch
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True),
                                                 pre_tokenizers.ByteLevel(add_prefix_space=False)])
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(corpus, trainers.BpeTrainer(vocab_size=vocab_size,
                                                        special_tokens=["<pad>", "<eos>", "<unk>"],
                                                        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    # Every slot of the corpus is one token: the model copies ⟨free_cash_flow⟩ from its prompt as a whole
    # instead of spelling it from pieces (and inventing ⟨free_flow⟩).
    tok.add_tokens([AddedToken(slot, normalized=False) for slot in sorted({m.group(0) for text in corpus
                                                                            for m in SLOT.finditer(text)})])
    tok.add_tokens([AddedToken(token, normalized=False) for token in tokens])
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<eos>", pad_token="<pad>",
                                        unk_token="<unk>")
    torch.manual_seed(seed)
    ids = {"bos_token_id": tokenizer.eos_token_id, "eos_token_id": tokenizer.eos_token_id,
           "pad_token_id": tokenizer.pad_token_id}
    if family == "llama":
        model = LlamaForCausalLM(LlamaConfig(vocab_size=len(tokenizer), hidden_size=width,
                                             intermediate_size=width * 8 // 3, num_hidden_layers=layers,
                                             num_attention_heads=heads, max_position_embeddings=2048,
                                             tie_word_embeddings=True, **ids))
    else:
        model = GPT2LMHeadModel(GPT2Config(vocab_size=len(tokenizer), n_positions=2048, n_embd=width,
                                           n_layer=layers, n_head=heads, **ids))
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return model, tokenizer


def lora(base: Path, *, r: int, alpha: int) -> tuple[Any, Any]:
    """A local base checkpoint with a fresh LoRA adapter of rank ``r`` (dropout 0.05) to train; its tokenizer
    pads with its end token where it has no pad token. Returns (model, tokenizer)."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(base, local_files_only=True)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(base, local_files_only=True)
    return get_peft_model(model, LoraConfig(task_type="CAUSAL_LM", r=r, lora_alpha=alpha, lora_dropout=0.05)), \
        tokenizer
