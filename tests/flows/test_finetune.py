"""The fine-tuning flow end to end on a real temporary Prefect server: it trains, resumes from its checkpoint,
evaluates on held-out synthetic companies and real filings apart, and writes the model card."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from prefect.testing.utilities import prefect_test_harness

from generator.narrator.model import PROMPT_FORMAT, ModelNarrator


@pytest.mark.slow
@pytest.mark.integration
def test_the_flow_trains_resumes_evaluates_and_writes_a_model_card(tmp_path: Path) -> None:
    from flows.finetune import finetune_narrator
    from generator.finetune import FinetuneRequest

    real = Path(__file__).resolve().parents[1] / "fixtures" / "sec-companyfacts" / "snow_facts.json"
    settings = {"out": str(tmp_path / "narrator"), "seeds": [5], "companies": 3, "real_like": 3, "eval_companies": 2,
                "eval_answers": 16, "width": 64, "layers": 2, "heads": 2, "vocab_size": 500, "save_steps": 5,
                "batch_size": 8, "real_inputs": [str(real)]}
    with prefect_test_harness(server_startup_timeout=180):
        first = finetune_narrator(FinetuneRequest(**settings, steps=5, resume=False))
        resumed = finetune_narrator(FinetuneRequest(**settings, steps=10, resume=True))
    state = json.loads((tmp_path / "narrator.work" / "checkpoints" / "checkpoint-10" / "trainer_state.json")
                       .read_text())
    assert next(h["step"] for h in state["log_history"] if "loss" in h) == 1  # the first run's log carried over
    assert (tmp_path / "narrator.work" / "checkpoints" / "checkpoint-5").is_dir()
    card = (tmp_path / "narrator" / "README.md").read_text()
    for heading in ("## Data", "## Model and training", "## Held-out results: synthetic companies",
                    "## Held-out results: real filings", "## Reproduce"):
        assert heading in card
    assert "verified rate" in card and "tokens/s" in card and PROMPT_FORMAT in card and str(real) in card
    saved = json.loads((tmp_path / "narrator" / "evaluation.json").read_text())
    for held_out in ("synthetic", "real"):  # the real filings are evaluated and reported apart
        assert saved[held_out]["answers"] == 16 == first[held_out]["answers"] == resumed[held_out]["answers"]
        result = resumed[held_out]
        assert 0 <= result["greedy_verified_rate"] <= result["verified_rate"] <= 1 and result["tokens_per_s"] > 0
    assert saved["corpus"]["real_inputs"] == [str(real)]
    ModelNarrator(tmp_path / "narrator", [])  # the checkpoint loads as the report flow loads it


@pytest.mark.slow
@pytest.mark.integration
def test_the_translator_flow_trains_evaluates_and_writes_a_model_card(tmp_path: Path) -> None:
    from flows.finetune import finetune_translator
    from generator.ask.training import TranslatorRequest
    from generator.ask.translate import PROMPT_FORMAT as ASK_FORMAT
    from generator.ask.translate import ModelTranslator

    real = Path(__file__).resolve().parents[1] / "fixtures" / "sec-companyfacts" / "snow_facts.json"
    request = TranslatorRequest(out=str(tmp_path / "translator"), seeds=[5], companies=3, real_like=3,
                                per_phrasing=1, eval_per_phrasing=1, real_inputs=[str(real)], width=32, layers=1,
                                heads=2, vocab_size=400, steps=4, batch_size=8, save_steps=2, beams=2, resume=False)
    with prefect_test_harness(server_startup_timeout=180):
        result = finetune_translator(request)
    assert set(result) == {"held-out phrasings", "validation phrasings", "trained phrasings", "real filings"}
    for figures in result.values():
        assert figures["questions"] > 0 and 0 <= figures["execution"] <= 1 and 0 <= figures["refusal_recall"] <= 1
    card = (tmp_path / "translator" / "README.md").read_text()
    for heading in ("## Data", "## Model and training", "## Held-out results: held-out phrasings over held-out "
                    "companies", "## Held-out results: validation phrasings over held-out companies",
                    "## Held-out results: held-out phrasings over real filings", "## Reproduce"):
        assert heading in card
    assert ASK_FORMAT in card and "execution accuracy" in card
    assert (tmp_path / "translator.work" / "checkpoints" / "checkpoint-4").is_dir()
    assert len(ModelTranslator(tmp_path / "translator", beams=2).programs(["What was E1's M1 in Y1?"])[0]) == 2
