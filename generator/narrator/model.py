"""The model narrator: a Hugging Face causal language model phrases the answers; the verifier checks each one.

The model is loaded once per run from a local directory (``local_files_only``; optionally with a PEFT LoRA
adapter) and generates greedily, in batches, for every question of every company of the run. Its prompt
gives the question and the question's facts as slot lines (``⟨current_ratio⟩ 0.41x``); it answers with
slots, and :func:`generator.narrator.verify.fill` writes the values. An answer the verifier rejects is
replaced by the reference answer, and ``answers.json`` keeps the model's text, the verdict and the reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from generator.narrator import Answer, Context, Question, ReferenceNarrator, facts_used, relevant_flags
from generator.narrator.verify import Fact, fill, prompt_facts, verify

PROMPT_FORMAT = "finreport-slots-1"
"""Recorded in the manifest: a checkpoint is trained for one prompt format."""


def prompt(question: Question, facts: dict[str, Fact], context: Context) -> str:
    lines = [f"question: {question.question}", f"period: {context.period}"]
    lines += [f"⟨{name}⟩ {fact.display(context.currency)}" for name, fact in facts.items()]
    lines += [f"flag: {f['label']}" for f in relevant_flags(question, context)]
    return "\n".join(lines) + "\nanswer:"


class ModelNarrator:
    """Any local causal LM; CUDA with bf16 when a GPU is present, the CPU in float32 otherwise."""

    def __init__(self, path: Path, flag_labels: Sequence[str], adapter: Path | None = None, batch_size: int = 32,
                 max_new_tokens: int = 160) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.path, self.flag_labels, self.batch_size, self.max_new_tokens = path, flag_labels, batch_size, \
            max_new_tokens
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        self.tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        self.tokenizer.padding_side = "left"  # generation continues each prompt where it ends
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        model = AutoModelForCausalLM.from_pretrained(
            path, local_files_only=True, dtype=torch.bfloat16 if self.device == "cuda" else torch.float32)
        if adapter is not None:
            from peft import PeftModel

            model = PeftModel.from_pretrained(model, adapter)
        self.model = model.to(self.device).eval()

    def generate(self, prompts: Sequence[str]) -> list[str]:
        """Greedy continuations, one line each, in batches of prompts of similar length (less padding)."""
        import torch

        lengths = [len(ids) for ids in self.tokenizer(list(prompts))["input_ids"]]
        order = sorted(range(len(prompts)), key=lambda i: lengths[i])
        out: dict[int, str] = {}
        for start in range(0, len(order), self.batch_size):
            chunk = order[start:start + self.batch_size]
            batch = self.tokenizer([prompts[i] for i in chunk], return_tensors="pt", padding=True).to(self.device)
            with torch.inference_mode():
                ids = self.model.generate(**batch, do_sample=False, max_new_tokens=self.max_new_tokens,
                                          pad_token_id=self.tokenizer.pad_token_id)
            texts = self.tokenizer.batch_decode(ids[:, batch["input_ids"].shape[1]:], skip_special_tokens=True)
            out |= {i: text.strip().split("\n")[0].strip() for i, text in zip(chunk, texts, strict=True)}
        return [out[i] for i in range(len(prompts))]

    def answer_all(self, jobs: Sequence[tuple[Question, Context]]) -> list[Answer]:
        facts = [prompt_facts(q, c) for q, c in jobs]
        texts = self.generate([prompt(q, f, c) for (q, c), f in zip(jobs, facts, strict=True)])
        return [self._checked(q, c, f, t) for (q, c), f, t in zip(jobs, facts, texts, strict=True)]

    def answer(self, question: Question, context: Context) -> Answer:
        return self.answer_all([(question, context)])[0]

    def _checked(self, question: Question, context: Context, facts: dict[str, Fact], text: str) -> Answer:
        verdict = verify(text, question, context, self.flag_labels, facts)
        record: dict[str, Any] = verdict.record() | {"model_text": text}
        if verdict.ok:
            filled = fill(text, facts, context.currency)
            return Answer(question.id, question.question, filled, "model", record, facts_used(question, context))
        reference = ReferenceNarrator().answer(question, context)
        reference.verification = record | {"status": "fallback"}
        return reference


def scratch(path: Path, corpus: Sequence[str], *, vocab_size: int, width: int, layers: int, heads: int,
            seed: int = 0) -> tuple[Any, Any]:
    """A narrator to train from nothing, saved in ``path``: a byte-level BPE tokenizer trained on ``corpus``
    (digits one per token, so numbers never become opaque words) and a GPT-2 of the given size, seeded.
    Returns (model, tokenizer)."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True),
                                                 pre_tokenizers.ByteLevel(add_prefix_space=False)])
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(corpus, trainers.BpeTrainer(vocab_size=vocab_size,
                                                        special_tokens=["<pad>", "<eos>", "<unk>"],
                                                        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<eos>", pad_token="<pad>",
                                        unk_token="<unk>")
    torch.manual_seed(seed)
    model = GPT2LMHeadModel(GPT2Config(vocab_size=len(tokenizer), n_positions=2048, n_embd=width, n_layer=layers,
                                       n_head=heads, bos_token_id=tokenizer.eos_token_id,
                                       eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id))
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return model, tokenizer
