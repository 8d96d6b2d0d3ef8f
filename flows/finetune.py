"""The fine-tuning flow: corpus, model, training (checkpointed, resumable), held-out evaluation, model card; each
task one call into :mod:`generator.finetune`.

``finreport finetune`` runs it; so does a Prefect deployment of ``flows/finetune.py:finetune_narrator``. The
translator of ``finreport ask`` is trained the same way by ``finetune_translator`` (``finreport finetune-ask``), each
task one call into :mod:`generator.ask.training`.
"""

from __future__ import annotations

import os
import random
import shutil
import time
from typing import Any

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")  # offline machines: no call home
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")  # a busy machine starts slowly

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from generator import finetune
from generator.ask import training as ask_training
from generator.ask.training import TranslatorCorpus, TranslatorRequest
from generator.corpus import Corpus
from generator.finetune import FinetuneRequest
from generator.graph import flag_labels, load_ontology
from generator.narrator.model import quiet
from generator.narrator.training import Evaluation, Example


@task(cache_policy=NO_CACHE)
def corpus(request: FinetuneRequest, labels: list[str]) -> Corpus:
    """The corpus as a task run of its own; its notes (each seed, each refused correction) go to the flow run's log."""
    return finetune.corpus(request, labels, get_run_logger())


@task(cache_policy=NO_CACHE)
def model(request: FinetuneRequest, examples: list[Example]) -> tuple[Any, Any]:
    """The model to train as a task run of its own: the UI shows how long making or loading it took."""
    return finetune.model(request, examples)


@task(cache_policy=NO_CACHE)
def fit(request: FinetuneRequest, model: Any, tokenizer: Any, examples: list[Example], labels: list[str]
        ) -> list[dict[str, Any]]:
    """Training as a task run of its own, with its state and time in the UI; a run that fails is continued by running
    the flow again, from the last checkpoint."""
    return finetune.fit(request, model, tokenizer, examples, labels)


@task(cache_policy=NO_CACHE)
def held_out(request: FinetuneRequest, jobs: dict[str, list[tuple[Any, Any]]], labels: list[str]
             ) -> dict[str, Evaluation]:
    """The held-out evaluation as a task run of its own, after training: its figures and time apart from training's."""
    return finetune.held_out(request, jobs, labels)


@flow(name="finetune-narrator", log_prints=True)
def finetune_narrator(request: FinetuneRequest) -> dict[str, Any]:
    """Corpus → model → training (checkpointed, resumable) → held-out evaluation → model card."""
    t0 = time.perf_counter()
    quiet()  # the training's own progress (bar or log lines) is what the terminal shows
    if not request.resume:
        shutil.rmtree(finetune.work(request), ignore_errors=True)
    labels = flag_labels(load_ontology()[1])
    made = corpus(request, labels)
    trained, tokenizer = model(request, made.examples)
    resumed = finetune.resumed_from(request)
    history = fit(request, trained, tokenizer, made.examples, labels)
    evaluations = held_out(request, made.held_out, labels)
    return finetune.write_card(request, made.about, history, evaluations, time.perf_counter() - t0, resumed)


@task(cache_policy=NO_CACHE)
def translator_corpus(request: TranslatorRequest) -> TranslatorCorpus:
    """The translator's training pairs and held-out sets, as a task run of its own."""
    return ask_training.translator_corpus(request, get_run_logger())


@task(cache_policy=NO_CACHE)
def translator_model(request: TranslatorRequest, examples: list[Example]) -> tuple[Any, Any]:
    """The translator to train, made or loaded, as a task run of its own."""
    return ask_training.translator_model(request, examples)


@task(cache_policy=NO_CACHE)
def translator_fit(request: TranslatorRequest, model: Any, tokenizer: Any, examples: list[Example]
                   ) -> list[dict[str, Any]]:
    """Training as a task run of its own; a failed run continues from its last checkpoint when run again."""
    return ask_training.fit(request, model, tokenizer, examples)


@task(cache_policy=NO_CACHE)
def translator_held_out(request: TranslatorRequest, made: TranslatorCorpus) -> dict[str, Any]:
    """The held-out evaluation as a task run of its own."""
    return ask_training.held_out_results(request, made)


@flow(name="finetune-translator", log_prints=True)
def finetune_translator(request: TranslatorRequest) -> dict[str, Any]:
    """The translator of ``finreport ask``: corpus → model → training → held-out evaluation → model card."""
    t0 = time.perf_counter()
    quiet()
    if not request.resume:
        shutil.rmtree(finetune.work(request), ignore_errors=True)
    made = translator_corpus(request)
    examples = ask_training.examples(made.train, random.Random(request.seed))
    trained, tokenizer = translator_model(request, examples)
    history = translator_fit(request, trained, tokenizer, examples)
    evaluations = translator_held_out(request, made)
    return ask_training.write_card(request, made, history, evaluations, time.perf_counter() - t0)
