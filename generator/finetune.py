"""Training the narrator, apart from how it is orchestrated: what a run is asked for, the model it trains
(from nothing, or LoRA on a local base), training with checkpoints, the held-out evaluation, and the model card
written beside the checkpoint. :mod:`flows.finetune` calls these from its tasks; none of them needs Prefect.
"""

from __future__ import annotations

import json
import platform
from pathlib import Path
from typing import Any, Literal, Protocol

from pydantic import BaseModel, Field

from generator.corpus import BOOKS, EVAL_AS_OF, PRICES_TO, REAL_AS_OF, TRAIN_AS_OF, Corpus, build_corpus
from generator.narrator.model import PROMPT_FORMAT, ModelNarrator
from generator.narrator.training import (
    LEAST_PART_EXAMPLES,
    Evaluation,
    Example,
    evaluate,
    lora,
    loss_curve,
    scratch,
    train,
)
from generator.settings import SHIPPED_NARRATOR


class FinetuneRequest(BaseModel):
    """How to train the narrator: the model, the corpus, the held-out sets and the optimiser. The Prefect UI shows
    these fields, with their descriptions, as the flow's form."""

    out: str = Field(str(SHIPPED_NARRATOR), description="Folder the checkpoint, its tokenizer and model card go to "
                                                         "(default: the one shipped with the package)")
    mode: Literal["scratch", "lora"] = Field("scratch", description="Train a small model from a config, or "
                                                                     "adapt a local base checkpoint with LoRA")
    base: str | None = Field(None, description="LoRA mode: folder of the base checkpoint (Hugging Face format)")
    family: Literal["gpt2", "llama"] = Field("gpt2", description="Scratch mode: model family")
    width: int = Field(256, description="Scratch mode: hidden size")
    layers: int = Field(4, description="Scratch mode: transformer layers")
    heads: int = Field(4, description="Scratch mode: attention heads")
    vocab_size: int = Field(2000, description="Scratch mode: size of the tokenizer trained on the corpus")
    lora_r: int = Field(16, description="LoRA mode: rank")
    lora_alpha: int = Field(32, description="LoRA mode: scaling")
    seeds: list[int] = Field([101, 102], description="Sample-generator seeds of the training companies")
    companies: int = Field(28, description="Sample companies per seed")
    real_like: int = Field(56, description="Companies per seed redrawn and filed as real filers file "
                                           "(generator.corpus)")
    eval_seed: int = Field(9001, description="Seed of the held-out companies (never in the training corpus)")
    eval_companies: int = Field(14, description="Held-out sample companies")
    eval_answers: int = Field(600, description="Held-out answers generated for each evaluation (a seeded sample)")
    real_inputs: list[str] = Field(
        ["tests/fixtures/real-filings/*.json", "tests/fixtures/sec-companyfacts/*.json",
         "tests/fixtures/xbrl-facts/*.csv", "tests/fixtures/apple"],
        description="Held-out real filings (files, folders or glob patterns), evaluated and reported apart; the "
                    "corpus never sees them")
    real_prices: list[str] = Field(
        ["tests/fixtures/prices", "tests/fixtures/apple", "tests/fixtures/real-filings/wmt_companyfacts_trimmed.json"],
        description="Held-out real prices (and the statements of those of their companies at hand, with the file "
                    "that names their tickers): their shares' market answers at year-ends, evaluated apart")
    real_benchmark: str = Field("SP500", description="The index the real prices are measured against")
    corrections: str | None = Field(None, description="Analysts' edited answers (JSONL), checked by the verifier")
    inputs: list[str] = Field([], description="Statement files or folders the corrections refer to")
    steps: int = Field(4000, description="Optimiser steps")
    batch_size: int = Field(8, description="Examples per step")
    learning_rate: float = Field(1.5e-3, description="Peak learning rate (cosine schedule)")
    checked_weight: float = Field(5.0, description="Loss weight of the words the verifier checks (direction words, "
                                                   "flag names); 1 is plain cross-entropy")
    save_steps: int = Field(200, description="Checkpoint every this many steps")
    seed: int = Field(0, description="Seed of the weights, the target draw and the batch order")
    resume: bool = Field(True, description="Continue from the latest checkpoint in the work folder if there is one")
    progress: bool = Field(False, description="Progress bars on the terminal")


class Trained(Protocol):
    """A training request: what it needs of one here is where its output goes."""

    out: str


def work(request: Trained) -> Path:
    """The folder of a training run's initial model and checkpoints, beside its output (``<out>.work``): the
    narrator's and the translator's."""
    return Path(request.out).with_name(Path(request.out).name + ".work")


def corpus(request: FinetuneRequest, labels: list[str], log: Any = None) -> Corpus:
    """The request's training examples and held-out questions (:func:`generator.corpus.build_corpus`)."""
    return build_corpus(seeds=request.seeds, companies=request.companies, real_like=request.real_like,
                        labels=labels, seed=request.seed, eval_seed=request.eval_seed,
                        eval_companies=request.eval_companies, eval_answers=request.eval_answers,
                        real=request.real_inputs, real_prices=request.real_prices,
                        real_benchmark=request.real_benchmark,
                        corrected=Path(request.corrections) if request.corrections else None,
                        inputs=[Path(p) for p in request.inputs], log=log)


def model(request: FinetuneRequest, examples: list[Example]) -> tuple[Any, Any]:
    """A model to train: from nothing, with a tokenizer trained on the corpus (made once, then reloaded from
    the work folder, so a resumed run trains the same weights), or a local base checkpoint with LoRA."""
    if request.mode == "lora":
        if not request.base:
            raise ValueError("LoRA mode needs a base checkpoint: give its folder")
        return lora(Path(request.base), r=request.lora_r, alpha=request.lora_alpha)
    from transformers import AutoModelForCausalLM, AutoTokenizer

    init = work(request) / "init"
    if not (init / "config.json").exists():
        scratch(init, [f"{e.prompt} {e.target}" for e in examples], vocab_size=request.vocab_size,
                width=request.width, layers=request.layers, heads=request.heads, seed=request.seed,
                family=request.family)
    return AutoModelForCausalLM.from_pretrained(init, local_files_only=True), \
        AutoTokenizer.from_pretrained(init, local_files_only=True)


def fit(request: FinetuneRequest, model: Any, tokenizer: Any, examples: list[Example], labels: list[str]
        ) -> list[dict[str, Any]]:
    """Train (checkpointed, resumable) and save the model and tokenizer in ``out`` (a LoRA model saves its
    adapter, whose adapter_config.json names the base); returns the trainer's log history."""
    history = train(model, tokenizer, examples, work(request), steps=request.steps, batch_size=request.batch_size,
                    learning_rate=request.learning_rate, seed=request.seed, save_steps=request.save_steps,
                    progress=request.progress, resume=request.resume, flag_labels=labels,
                    checked_weight=request.checked_weight)
    out = Path(request.out)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return history


def held_out(request: FinetuneRequest, jobs: dict[str, list[tuple[Any, Any]]], labels: list[str]
             ) -> dict[str, Evaluation]:
    """The trained checkpoint on each held-out set on its own: the synthetic companies, the real filings."""
    narrator = ModelNarrator(Path(request.out), labels)
    return {name: evaluate(narrator, part, labels) for name, part in jobs.items()}


def write_card(request: FinetuneRequest, about: dict[str, Any], history: list[dict[str, Any]],
               evaluations: dict[str, Evaluation], seconds: float, resumed: int | None) -> dict[str, Any]:
    """The model card and evaluation.json beside the checkpoint; returns each held-out set's figures."""
    out = Path(request.out)
    (out / "README.md").write_text(card(request, about, history, evaluations, seconds, resumed), encoding="utf-8")
    record = {name: result.record() for name, result in evaluations.items()}
    (out / "evaluation.json").write_text(json.dumps(record | {"corpus": about, "seconds": seconds}, indent=2),
                                         encoding="utf-8")
    return record


HELD_OUT = {"synthetic": "synthetic companies", "real": "real filings", "market": "synthetic companies' shares",
            "real prices": "real prices", "portfolios": "synthetic portfolios",
            "real portfolios": "portfolios of real prices"}
"""What each held-out set is, as the model card titles it."""


def results(name: str, result: Evaluation) -> list[str]:
    """One held-out set's table, its rate by question and its commonest reasons for a fallback."""
    return [
        "| measure | value |", "|---|---|",
        f"| answers | {result.answers} |",
        f"| verified rate, greedy (the first answer passes the verifier) | {result.greedy_verified_rate:.1%} |",
        f"| verified rate (an answer passes, greedy or a beam drawn again; no fallback) | {result.verified_rate:.1%} |",
        f"| number accuracy (figures written that are facts of the prompt) | {result.number_accuracy:.1%} |",
        f"| flag accuracy (answers naming exactly the flags they should) | {result.flag_accuracy:.1%} |",
        f"| generation, redraws included | {result.tokens_per_s:.0f} tokens/s, {result.answers_per_s:.1f} answers/s |",
        "",
        f"Verified rate by question ({name}): "
        + ", ".join(f"{q} {v:.0%}" for q, v in sorted(result.by_question.items())),
        "", "Most common reasons for a fallback: " + ("; ".join(f"{r} ({n})" for r, n in result.reasons.items())
                                                      or "none"), "",
    ]


def resumed_from(request: FinetuneRequest) -> int | None:
    """The step of the checkpoint this run continues from, if it continues one."""
    from transformers.trainer_utils import get_last_checkpoint

    checkpoints = work(request) / "checkpoints"
    last = get_last_checkpoint(str(checkpoints)) if request.resume and checkpoints.is_dir() else None
    return int(Path(last).name.removeprefix("checkpoint-")) if last else None


def card(request: FinetuneRequest, about: dict[str, Any], history: list[dict[str, Any]],
         evaluations: dict[str, Evaluation], seconds: float, resumed: int | None = None) -> str:
    """The model card (the checkpoint's README.md): what it is, its data, its settings and training, its
    held-out results on each set, and the command that reproduces it."""
    import torch

    out = Path(request.out)
    size = sum(f.stat().st_size for f in out.glob("*.safetensors"))
    curve = loss_curve(history)
    settings = request.model_dump(exclude={"progress", "resume"})
    out_option = [] if Path(request.out) == SHIPPED_NARRATOR else [f"--out {request.out}"]
    command = ["finreport finetune", *out_option, f"--steps {request.steps}",
               f"--checked-weight {request.checked_weight:g}", f"--companies {request.companies}",
               f"--real-like {request.real_like}", *(f"--seed-company {s}" for s in request.seeds)]
    first = next(iter(evaluations.values()))
    lines = [
        "---", "library_name: transformers", "pipeline_tag: text-generation", "tags: [finreport, data-to-text, slots]",
        "---", "", f"# finreport narrator ({request.mode}, {request.family if request.mode == 'scratch' else 'LoRA'})",
        "",
        "Writes the answers of finreport's analyst questions in slots (`⟨revenue⟩`), which the report fills from "
        "the facts; every answer is verified before it reaches a PDF. It may only write the slots its prompt "
        "gives (the others are masked out while it generates). Answers that list things (the moves on a year "
        "earlier, data-quality findings, risk flags) and the executive summary are written a sentence at a time: "
        "the data plans the parts and their order, each part's prompt holds its own facts alone, and each part is "
        "verified, then the answer they make. A part whose greedy text fails is drawn again "
        f"by beam search ({first.beams} beams) and the best-scored beam that passes is used; the reference answer "
        f"replaces any answer that still fails. Prompt format `{PROMPT_FORMAT}`.", "",
        "## Data", "",
        f"- Training: for each of the seeds {request.seeds}, {request.companies} of the sample generator's "
        f"companies and {request.real_like} companies filed as real filers file (`generator/corpus.py`: "
        "economies redrawn from thriving to insolvent, sizes from thousands to hundreds of billions, seven "
        "currencies, items never reported by kind of filer, gaps, annual reports only or quarters only, no "
        "sector, banks by SIC code, late refilings restating up to dozens of figures), every period, and their "
        f"shares (daily prices to {PRICES_TO}) measured at {', '.join(map(str, TRAIN_AS_OF))} for the market "
        f"questions; {about['examples']} examples, one per company-period (or share and date), question and part of "
        "its answer, the target "
        "drawn from the phrasings of `generator/narrator/phrasings.toml` (at least five per question and part) "
        "and, for an answer in one part, the reference answer turned into slots.",
        f"- Targets by source: {json.dumps(about['by_source'])}; refused by the verifier before training: "
        f"{about['refused_targets']}.",
        f"- Rare parts repeated to at least {LEAST_PART_EXAMPLES} examples (at most 8 times their own): "
        f"{json.dumps(about.get('repeated', {}))}.",
        f"- Analysts' corrections: {about['by_source'].get('corrections accepted', 0)} accepted, "
        f"{len(about['refused_corrections'])} refused.",
        f"- Held out, synthetic: seed {request.eval_seed} ({request.eval_companies} sample companies and "
        f"{request.eval_companies} filed like real ones, none in the corpus), "
        f"{about['held_out_answers']['synthetic']} answers sampled from every period and question.",
        *([f"- Held out, real filings: {len(about['real_inputs'])} inputs the corpus never saw "
           f"({', '.join(f'`{p}`' for p in about['real_inputs'])}), {about['held_out_answers']['real']} answers "
           "sampled from every period and question."] if "real" in evaluations else []),
        f"- Held out, shares: the held-out companies' shares measured at {', '.join(map(str, EVAL_AS_OF))} (the "
        f"training shares at {', '.join(map(str, TRAIN_AS_OF))}), every market question: "
        f"{about['held_out_answers']['market']} answers.",
        *([f"- Held out, real prices: {', '.join(f'`{p}`' for p in about['real_prices'])} against "
           f"{request.real_benchmark}, measured at {', '.join(map(str, REAL_AS_OF))}, every market question: "
           f"{about['held_out_answers']['real prices']} answers."] if "real prices" in evaluations else []),
        f"- Portfolios: {BOOKS} random books over each run's companies (`generator.corpus.write_books`: two "
        "holdings to thirty, by quantity or weight, in dollars, euros or pounds), valued at the same dates as the "
        "shares; held out: the evaluation seed's books at the held-out dates, every portfolio question: "
        f"{about['held_out_answers'].get('portfolios', 0)} answers"
        + (f"; and {BOOKS} books of the real prices at the same year-ends: "
           f"{about['held_out_answers']['real portfolios']} answers" if "real portfolios" in evaluations else "")
        + ".", "",
        "## Model and training", "",
        f"- Settings: `{json.dumps(settings)}`",
        f"- Parameters: {first.parameters:,}; weights {size / 1e6:.1f} MB.",
        f"- Trained {curve[-1][0] if curve else 0} steps"
        + (f", continued from the checkpoint of step {resumed} of an earlier run of the same corpus (its cosine "
           f"schedule ran on over {request.steps} steps from there; a fresh run follows one schedule)"
           if resumed else "")
        + f"; corpus, training and evaluation took {seconds / 60:.1f} min"
        + (" (this run)" if resumed else "") + " on "
        f"{'CUDA' if torch.cuda.is_available() else f'CPU ({torch.get_num_threads()} threads)'}, torch "
        f"{torch.__version__}, Python {platform.python_version()}.",
        "- Training loss: " + " → ".join(f"{loss:.3f} (step {step})"
                                         for step, loss in [*curve[:: max(1, len(curve) // 6)], *curve[-1:]]), "",
    ]
    for name, result in evaluations.items():
        lines += [f"## Held-out results: {HELD_OUT[name]}", "",
                  *results(name, result)]
    lines += ["## Reproduce", "", "```", " ".join(command), "```", "",
              "Same seeds, same settings, same machine class give the same weights up to floating-point order.", ""]
    return "\n".join(lines)
