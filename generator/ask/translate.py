"""The translator: a small transformers causal LM that turns a linked question ("What was E1's M1 in Y1?") into a
program (``(value E1 M1 Y1)``).

It is loaded once from a local directory (``local_files_only``; never a hub) and decodes by beam search constrained to
the query language (:mod:`generator.ask.grammar`), in batches, returning every beam: :func:`generator.ask.choose`
runs the one that best uses the question's names.
The shipped checkpoint (``generator/ask/checkpoint``) is trained by ``finreport finetune-ask``
(:mod:`generator.ask.training`); its card beside it gives its held-out figures.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

import snowballstemmer

from generator.ask.grammar import Constraint
from generator.errors import UsageError
from generator.metrics import metric_names
from generator.settings import SHIPPED_TRANSLATOR as SHIPPED

PROMPT_FORMAT = "finreport-ask-3"
"""Recorded in the card: a checkpoint is trained for one prompt format."""

BEAMS = 8
"""Candidate programs per question: :func:`generator.ask.choose` runs the one that best uses the question's names,
so more beams are more chances of the right one (on the validation phrasings, the first model trained on stemmed
prompts, unconstrained: 4 beams 93.5%, 8 beams 95.2%)."""

_PLACEHOLDER = re.compile(r"[emysfnu][1-9]")
_STEMMER = snowballstemmer.stemmer("english")


@cache
def _word(token: str) -> str:
    """A token of the question as the model reads it: a placeholder as written (``E1``), a word by its stem (the
    Snowball English stemmer: "trails", "trailed" and "trailing" are one word, "trail"), anything else as it is."""
    if _PLACEHOLDER.fullmatch(token):
        return token.upper()
    return _STEMMER.stemWord(token) if token.isalpha() else token


def prompt(linked: str) -> str:
    """What the model reads: the linked question in lower case, its words stemmed, its placeholders as they are
    ("Changed" and "change" are one word to a model trained from nothing, which cannot learn every form of every
    word from its examples), then where its program starts."""
    tokens = re.split(r"(\W+)", " ".join(linked.lower().split()))
    return f"question: {''.join(_word(t) for t in tokens)}\nprogram:"


class ModelTranslator:
    """A local checkpoint writing programs; ``beams`` candidates per question, the likeliest first; ``constrained``:
    each beam kept a program of the language with the question's placeholders (:mod:`generator.ask.grammar`)."""

    def __init__(self, path: Path = SHIPPED, beams: int = BEAMS, batch_size: int = 32, max_new_tokens: int = 64,
                 constrained: bool = True) -> None:
        if not (path / "config.json").is_file():
            raise UsageError(f"no translator checkpoint in {path} (a Hugging Face model folder with config.json); "
                             "train one with `finreport finetune-ask`")
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from generator.narrator.model import quiet

        quiet()
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        self.tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        self.tokenizer.padding_side = "left"
        self.model = AutoModelForCausalLM.from_pretrained(path, local_files_only=True).to(self.device).eval()
        self.beams, self.batch_size, self.max_new_tokens = beams, batch_size, max_new_tokens
        self.path = path
        self.constraint = Constraint([self.tokenizer.decode([i]) for i in range(len(self.tokenizer))],
                                     self.tokenizer.eos_token_id,
                                     [m for m in metric_names() if not m.endswith("_ttm")]) if constrained else None

    def programs(self, texts: Sequence[str]) -> list[list[str]]:
        """The candidate programs of each linked question, the likeliest first."""
        out: list[list[str]] = []
        for start in range(0, len(texts), self.batch_size):
            out += self._batch(texts[start:start + self.batch_size])
        return out

    def _batch(self, texts: Sequence[str]) -> list[list[str]]:
        import torch

        encoded = self.tokenizer([prompt(t) for t in texts], return_tensors="pt", padding=True,
                                 add_special_tokens=False).to(self.device)
        allowed = self.constraint.for_batch(texts, encoded["input_ids"].shape[1]) if self.constraint else None
        with torch.inference_mode():
            generated: Any = self.model.generate(
                **encoded, max_new_tokens=self.max_new_tokens, num_beams=self.beams, num_return_sequences=self.beams,
                do_sample=False, early_stopping=True, pad_token_id=self.tokenizer.pad_token_id,
                eos_token_id=self.tokenizer.eos_token_id, prefix_allowed_tokens_fn=allowed)
        texts = self.tokenizer.batch_decode(generated[:, encoded["input_ids"].shape[1]:], skip_special_tokens=True)
        return [[t.strip() for t in texts[i:i + self.beams]] for i in range(0, len(texts), self.beams)]


def load(path: Path | None = None) -> ModelTranslator:
    """The translator of a checkpoint folder (the configured one, ``FINREPORT_TRANSLATOR_DIR``, by default)."""
    from generator.settings import get_settings

    return ModelTranslator(path or get_settings().translator_dir)
