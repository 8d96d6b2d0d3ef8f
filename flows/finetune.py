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

from generator.narrator import catalogue
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
    companies: int = Field(56, description="Companies per seed")
    eval_seed: int = Field(9001, description="Seed of the held-out companies (never in the training corpus)")
    eval_companies: int = Field(14, description="Held-out companies")
    eval_answers: int = Field(600, description="Held-out answers generated for the evaluation (a seeded sample)")
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


@task(name="corpus")
def build_corpus(request: FinetuneRequest, labels: list[str]) -> tuple[list[Example], list[tuple[Any, Any]],
                                                                          dict[str, Any]]:
    """Training examples from the seeds' companies (every period), the analysts' accepted corrections, and the
    held-out questions of the evaluation seed's companies."""
    logger = get_run_logger()
    rng = random.Random(request.seed)
    stats: Counter[str] = Counter()
    examples: list[Example] = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in request.seeds:
            run = generated_run(seed, request.companies, Path(tmp) / f"seed{seed}")
            examples += examples_for(company_periods(run), labels, rng, stats)
            logger.info("seed %s: %s companies, %s examples so far", seed, request.companies, len(examples))
        refused: list[str] = []
        if request.corrections:
            from generator.facts import build

            run = build([Path(p) for p in request.inputs])
            contexts = {(c.entity_id, c.period): c for c in company_periods(run)}
            accepted, refused = corrections(Path(request.corrections), contexts, labels)
            examples += accepted * 4  # an analyst's edit outweighs one generated phrasing
            stats["corrections accepted"] = len(accepted)
            for line in refused:
                logger.warning(line)
        held_out = company_periods(generated_run(request.eval_seed, request.eval_companies, Path(tmp) / "eval"))
    jobs = [(q, c) for c in held_out for q in catalogue()]
    jobs = random.Random(request.eval_seed).sample(jobs, min(request.eval_answers, len(jobs)))
    about = {"examples": len(examples), "by_source": {k: v for k, v in stats.items() if not k.startswith("refused")},
             "refused_targets": sum(v for k, v in stats.items() if k.startswith("refused")),
             "refused_corrections": refused, "held_out_answers": len(jobs)}
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
def held_out(request: FinetuneRequest, jobs: list[tuple[Any, Any]], labels: list[str]) -> Evaluation:
    return evaluate(ModelNarrator(Path(request.out), labels), jobs, labels)


def card(request: FinetuneRequest, about: dict[str, Any], history: list[dict[str, Any]], result: Evaluation,
         seconds: float) -> str:
    import torch

    out = Path(request.out)
    size = sum(f.stat().st_size for f in out.glob("*.safetensors"))
    curve = loss_curve(history)
    settings = request.model_dump(exclude={"progress", "resume"})
    command = ["finreport finetune", f"--out {request.out}", f"--steps {request.steps}",
               f"--checked-weight {request.checked_weight:g}",
               *(f"--seed-company {s}" for s in request.seeds)]
    lines = [
        "---", "library_name: transformers", "pipeline_tag: text-generation", "tags: [finreport, data-to-text, slots]",
        "---", "", f"# finreport narrator ({request.mode}, {request.family if request.mode == 'scratch' else 'LoRA'})",
        "",
        "Writes the answers of finreport's analyst questions in slots (`⟨revenue⟩`), which the report fills from "
        "the facts; every answer is verified before it reaches a PDF. An answer whose greedy text fails is drawn "
        f"again by beam search ({result.beams} beams) and the best-scored beam that passes is used; the reference "
        f"answer replaces any that still fails. Prompt format `{PROMPT_FORMAT}`.", "",
        "## Data", "",
        f"- Training: the sample generator's companies for seeds {request.seeds}, {request.companies} companies "
        f"each, every period (fiscal years and quarters); {about['examples']} examples, one per company-period and "
        "question, the target drawn from the phrasings of `generator/narrator/phrasings.toml` (at least five per "
        "question) and the reference answer turned into slots.",
        f"- Targets by source: {json.dumps(about['by_source'])}; refused by the verifier before training: "
        f"{about['refused_targets']}.",
        f"- Analysts' corrections: {about['by_source'].get('corrections accepted', 0)} accepted, "
        f"{len(about['refused_corrections'])} refused.",
        f"- Held out: seed {request.eval_seed} ({request.eval_companies} companies the corpus never saw), "
        f"{about['held_out_answers']} answers sampled from every period and question.", "",
        "## Model and training", "",
        f"- Settings: `{json.dumps(settings)}`",
        f"- Parameters: {result.parameters:,}; weights "
        f"{size / 1e6:.1f} MB.",
        f"- Trained {curve[-1][0] if curve else 0} steps; corpus, training and evaluation took {seconds / 60:.1f} min "
        "on "
        f"{'CUDA' if torch.cuda.is_available() else f'CPU ({torch.get_num_threads()} threads)'}, torch "
        f"{torch.__version__}, Python {platform.python_version()}.",
        "- Training loss: " + " → ".join(f"{loss:.3f} (step {step})"
                                         for step, loss in [*curve[:: max(1, len(curve) // 6)], *curve[-1:]]), "",
        "## Held-out results", "",
        "| measure | value |", "|---|---|",
        f"| verified rate, greedy (the first answer passes the verifier) | {result.greedy_verified_rate:.1%} |",
        f"| verified rate (an answer passes, greedy or a beam drawn again; no fallback) | {result.verified_rate:.1%} |",
        f"| number accuracy (figures written that are facts of the prompt) | {result.number_accuracy:.1%} |",
        f"| flag accuracy (answers naming exactly the flags they should) | {result.flag_accuracy:.1%} |",
        f"| generation, redraws included | {result.tokens_per_s:.0f} tokens/s, {result.answers_per_s:.1f} answers/s |",
        "",
        "Verified rate by question: " + ", ".join(f"{q} {v:.0%}" for q, v in sorted(result.by_question.items())),
        "", "Most common reasons for a fallback: " + ("; ".join(f"{r} ({n})" for r, n in result.reasons.items())
                                                      or "none"), "",
        "## Reproduce", "", "```", " ".join(command), "```", "",
        "Same seeds, same settings, same machine class give the same weights up to floating-point order.", "",
    ]
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
    history = fit(request, model, tokenizer, examples, labels)
    result = held_out(request, jobs, labels)
    seconds = time.perf_counter() - t0
    out = Path(request.out)
    (out / "README.md").write_text(card(request, about, history, result, seconds), encoding="utf-8")
    (out / "evaluation.json").write_text(json.dumps(result.record() | {"corpus": about, "seconds": seconds},
                                                    indent=2), encoding="utf-8")
    return result.record()
