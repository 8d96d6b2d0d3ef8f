"""The fine-tuning flow: corpus from generated companies, a narrator trained from nothing or adapted with LoRA,
evaluation on companies it never saw, and a model card beside the checkpoint.

``finreport finetune`` runs it; so does a Prefect deployment of ``flows/finetune.py:finetune_narrator``.
"""

from __future__ import annotations

import json
import os
import platform
import random
import shutil
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any, Literal

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")  # offline machines: no call home
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")  # a busy machine starts slowly

from prefect import flow, get_run_logger, task
from pydantic import BaseModel, Field

from generator.facts import build
from generator.narrator import catalogue
from generator.narrator.corpus import write_companies
from generator.narrator.model import PROMPT_FORMAT, ModelNarrator, quiet, scratch
from generator.narrator.training import (
    Evaluation,
    Example,
    company_periods,
    corrections,
    evaluate,
    examples_for,
    generated_run,
    loss_curve,
    train,
)


class FinetuneRequest(BaseModel):
    out: str = Field("models/narrator", description="Folder the checkpoint, its tokenizer and model card go to")
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
                                           "(generator.narrator.corpus)")
    eval_seed: int = Field(9001, description="Seed of the held-out companies (never in the training corpus)")
    eval_companies: int = Field(14, description="Held-out sample companies")
    eval_answers: int = Field(600, description="Held-out answers generated for each evaluation (a seeded sample)")
    real_inputs: list[str] = Field(
        ["tests/fixtures/real-filings/*.json", "tests/fixtures/sec-companyfacts/*.json",
         "tests/fixtures/xbrl-facts/*.csv", "tests/fixtures/apple"],
        description="Held-out real filings (files, folders or glob patterns), evaluated and reported apart; the "
                    "corpus never sees them")
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


def _work(request: FinetuneRequest) -> Path:
    return Path(request.out).with_name(Path(request.out).name + ".work")


def real_inputs(patterns: list[str]) -> list[Path]:
    """The held-out real filings: each pattern a file, a folder or a glob pattern, in order, once each."""
    found: list[Path] = []
    for pattern in patterns:
        matches = sorted(Path().glob(pattern)) if any(c in pattern for c in "*?[") else [Path(pattern)]
        found += [m for m in matches if m.exists() and m not in found]
    return found


def sampled(contexts: list[Any], seed: int, answers: int) -> list[tuple[Any, Any]]:
    """A seeded sample of every question of every company-period."""
    jobs = [(q, c) for c in contexts for q in catalogue()]
    return random.Random(seed).sample(jobs, min(answers, len(jobs)))


@task(name="corpus")
def build_corpus(request: FinetuneRequest, labels: list[str]) -> tuple[list[Example], dict[str, list[Any]],
                                                                          dict[str, Any]]:
    """Training examples from the seeds' companies (every period): the sample's and those filed like real
    ones; the analysts' accepted corrections; and the held-out questions: the evaluation seed's companies
    (both kinds) and the real filings, apart."""
    logger = get_run_logger()
    rng = random.Random(request.seed)
    stats: Counter[str] = Counter()
    examples: list[Example] = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in request.seeds:
            run = generated_run(seed, request.companies, Path(tmp) / f"seed{seed}")
            examples += examples_for(company_periods(run), labels, rng, stats)
            run = build(write_companies(seed, request.real_like, Path(tmp) / f"real-like{seed}"))
            examples += examples_for(company_periods(run), labels, rng, stats)
            logger.info("seed %s: %s sample and %s real-like companies, %s examples so far", seed, request.companies,
                        request.real_like, len(examples))
        refused: list[str] = []
        if request.corrections:
            run = build([Path(p) for p in request.inputs])
            contexts = {(c.entity_id, c.period): c for c in company_periods(run)}
            accepted, refused = corrections(Path(request.corrections), contexts, labels)
            examples += accepted * 4  # an analyst's edit outweighs one generated phrasing
            stats["corrections accepted"] = len(accepted)
            for line in refused:
                logger.warning(line)
        held_out = company_periods(generated_run(request.eval_seed, request.eval_companies, Path(tmp) / "eval")) + \
            company_periods(build(write_companies(request.eval_seed, request.eval_companies, Path(tmp) / "eval-real")))
    jobs = {"synthetic": sampled(held_out, request.eval_seed, request.eval_answers)}
    real = real_inputs(request.real_inputs)
    if real:
        jobs["real"] = sampled(company_periods(build(real)), request.eval_seed, request.eval_answers)
    about = {"examples": len(examples), "by_source": {k: v for k, v in stats.items() if not k.startswith("refused")},
             "refused_targets": sum(v for k, v in stats.items() if k.startswith("refused")),
             "refused_corrections": refused, "held_out_answers": {k: len(v) for k, v in jobs.items()},
             "real_inputs": [str(p) for p in real]}
    return examples, jobs, about


@task(name="model")
def prepare(request: FinetuneRequest, examples: list[Example]) -> tuple[Any, Any]:
    """A model to train: from nothing (tokenizer trained on the corpus) or a base checkpoint with LoRA."""
    work = _work(request)
    if request.mode == "scratch":
        from transformers import AutoModelForCausalLM, AutoTokenizer

        init = work / "init"
        if not (init / "config.json").exists():
            scratch(init, [f"{e.prompt} {e.target}" for e in examples], vocab_size=request.vocab_size,
                    width=request.width, layers=request.layers, heads=request.heads, seed=request.seed,
                    family=request.family)
        return AutoModelForCausalLM.from_pretrained(init, local_files_only=True), \
            AutoTokenizer.from_pretrained(init, local_files_only=True)
    if not request.base:
        raise ValueError("LoRA mode needs a base checkpoint: give its folder")
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(request.base, local_files_only=True)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(request.base, local_files_only=True)
    model = get_peft_model(model, LoraConfig(task_type="CAUSAL_LM", r=request.lora_r, lora_alpha=request.lora_alpha,
                                             lora_dropout=0.05))
    return model, tokenizer


@task(name="train")
def fit(request: FinetuneRequest, model: Any, tokenizer: Any, examples: list[Example], labels: list[str]
        ) -> list[dict[str, Any]]:
    history = train(model, tokenizer, examples, _work(request), steps=request.steps, batch_size=request.batch_size,
                    learning_rate=request.learning_rate, seed=request.seed, save_steps=request.save_steps,
                    progress=request.progress, resume=request.resume, flag_labels=labels,
                    checked_weight=request.checked_weight)
    out = Path(request.out)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)  # a LoRA model saves its adapter (adapter_config.json names the base)
    tokenizer.save_pretrained(out)
    return history


@task(name="evaluate")
def held_out(request: FinetuneRequest, jobs: dict[str, list[tuple[Any, Any]]], labels: list[str]
             ) -> dict[str, Evaluation]:
    """Each held-out set on its own: the synthetic companies, the real filings."""
    narrator = ModelNarrator(Path(request.out), labels)
    return {name: evaluate(narrator, part, labels) for name, part in jobs.items()}


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

    checkpoints = _work(request) / "checkpoints"
    last = get_last_checkpoint(str(checkpoints)) if request.resume and checkpoints.is_dir() else None
    return int(Path(last).name.removeprefix("checkpoint-")) if last else None


def card(request: FinetuneRequest, about: dict[str, Any], history: list[dict[str, Any]],
         evaluations: dict[str, Evaluation], seconds: float, resumed: int | None = None) -> str:
    import torch

    out = Path(request.out)
    size = sum(f.stat().st_size for f in out.glob("*.safetensors"))
    curve = loss_curve(history)
    settings = request.model_dump(exclude={"progress", "resume"})
    command = ["finreport finetune", f"--out {request.out}", f"--steps {request.steps}",
               f"--checked-weight {request.checked_weight:g}", f"--companies {request.companies}",
               f"--real-like {request.real_like}", *(f"--seed-company {s}" for s in request.seeds)]
    first = next(iter(evaluations.values()))
    lines = [
        "---", "library_name: transformers", "pipeline_tag: text-generation", "tags: [finreport, data-to-text, slots]",
        "---", "", f"# finreport narrator ({request.mode}, {request.family if request.mode == 'scratch' else 'LoRA'})",
        "",
        "Writes the answers of finreport's analyst questions in slots (`⟨revenue⟩`), which the report fills from "
        "the facts; every answer is verified before it reaches a PDF. It may only write the slots its prompt "
        "gives (the others are masked out while it generates). An answer whose greedy text fails is drawn again "
        f"by beam search ({first.beams} beams) and the best-scored beam that passes is used; the reference answer "
        f"replaces any that still fails. Prompt format `{PROMPT_FORMAT}`.", "",
        "## Data", "",
        f"- Training: for each of the seeds {request.seeds}, {request.companies} of the sample generator's "
        f"companies and {request.real_like} companies filed as real filers file (`generator/narrator/corpus.py`: "
        "economies redrawn from thriving to insolvent, sizes from thousands to hundreds of billions, seven "
        "currencies, items never reported by kind of filer, gaps, annual reports only or quarters only, no "
        "sector, banks by SIC code, late refilings restating up to dozens of figures), every period; "
        f"{about['examples']} examples, one per company-period and question, the target drawn from the phrasings "
        "of `generator/narrator/phrasings.toml` (at least five per question) and the reference answer turned "
        "into slots.",
        f"- Targets by source: {json.dumps(about['by_source'])}; refused by the verifier before training: "
        f"{about['refused_targets']}.",
        f"- Analysts' corrections: {about['by_source'].get('corrections accepted', 0)} accepted, "
        f"{len(about['refused_corrections'])} refused.",
        f"- Held out, synthetic: seed {request.eval_seed} ({request.eval_companies} sample companies and "
        f"{request.eval_companies} filed like real ones, none in the corpus), "
        f"{about['held_out_answers']['synthetic']} answers sampled from every period and question.",
        *([f"- Held out, real filings: {len(about['real_inputs'])} inputs the corpus never saw "
           f"({', '.join(f'`{p}`' for p in about['real_inputs'])}), {about['held_out_answers']['real']} answers "
           "sampled from every period and question."] if "real" in evaluations else []), "",
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
        lines += [f"## Held-out results: {'real filings' if name == 'real' else 'synthetic companies'}", "",
                  *results(name, result)]
    lines += ["## Reproduce", "", "```", " ".join(command), "```", "",
              "Same seeds, same settings, same machine class give the same weights up to floating-point order.", ""]
    return "\n".join(lines)


@flow(name="finetune-narrator", log_prints=True)
def finetune_narrator(request: FinetuneRequest) -> dict[str, Any]:
    """Corpus → model → training (checkpointed, resumable) → held-out evaluation → model card."""
    from generator.graph import flag_labels, load_ontology

    t0 = time.perf_counter()
    quiet()  # the training's own progress (bar or log lines) is what the terminal shows
    if not request.resume:
        shutil.rmtree(_work(request), ignore_errors=True)
    labels = flag_labels(load_ontology()[1])
    examples, jobs, about = build_corpus(request, labels)
    model, tokenizer = prepare(request, examples)
    resumed = resumed_from(request)
    history = fit(request, model, tokenizer, examples, labels)
    evaluations = held_out(request, jobs, labels)
    seconds = time.perf_counter() - t0
    out = Path(request.out)
    (out / "README.md").write_text(card(request, about, history, evaluations, seconds, resumed), encoding="utf-8")
    record = {name: result.record() for name, result in evaluations.items()}
    (out / "evaluation.json").write_text(json.dumps(record | {"corpus": about, "seconds": seconds}, indent=2),
                                         encoding="utf-8")
    return record
