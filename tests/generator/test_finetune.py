"""Training the narrator apart from its flow: the request's defaults, the work folder beside the output, which
checkpoint a run continues from, the held-out real filings it reads, and the model card's tables."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from generator.corpus import real_inputs
from generator.finetune import FinetuneRequest, model, results, resumed_from, work
from generator.narrator.training import Evaluation
from generator.settings import SHIPPED_NARRATOR

ROOT = Path(__file__).resolve().parents[2]


def test_the_default_request_trains_the_shipped_narrator_from_scratch() -> None:
    request = FinetuneRequest()
    assert (Path(request.out), request.mode, request.resume) == (SHIPPED_NARRATOR, "scratch", True)
    assert work(request) == SHIPPED_NARRATOR.with_name("checkpoint.work")
    with pytest.raises(ValidationError, match="mode"):
        FinetuneRequest(mode="qlora")


def test_the_default_held_out_real_filings_are_the_test_fixtures(monkeypatch: pytest.MonkeyPatch) -> None:
    """The defaults name the fixtures by their paths from the repository root: moving them would silently leave
    the model card without its real-filings results."""
    monkeypatch.chdir(ROOT)
    found = real_inputs(FinetuneRequest().real_inputs)
    assert Path("tests/fixtures/apple") in found
    assert {p.parent.name for p in found} >= {"real-filings", "sec-companyfacts", "xbrl-facts"}
    assert len(found) >= 10 and all(p.exists() for p in found)


def test_a_run_continues_from_its_latest_checkpoint_only_when_asked(tmp_path: Path) -> None:
    request = FinetuneRequest(out=str(tmp_path / "narrator"))
    assert work(request) == tmp_path / "narrator.work"
    assert resumed_from(request) is None
    for step in (5, 10, 40):
        (work(request) / "checkpoints" / f"checkpoint-{step}").mkdir(parents=True)
    (work(request) / "checkpoints" / "checkpoint-99.tmp").write_text("not a checkpoint folder")
    assert resumed_from(request) == 40
    assert resumed_from(request.model_copy(update={"resume": False})) is None


def test_lora_needs_a_base_checkpoint(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="LoRA mode needs a base checkpoint"):
        model(FinetuneRequest(out=str(tmp_path), mode="lora"), [])


def test_a_held_out_set_s_table_reports_its_rates() -> None:
    evaluation = Evaluation(answers=200, greedy_verified_rate=0.9, verified_rate=0.95, number_accuracy=0.99,
                            flag_accuracy=0.875, tokens_per_s=1234.4, answers_per_s=3.25, beams=8, parameters=1,
                            seconds=60.0,
                            by_question={"liquidity": 1.0, "leverage": 0.9}, reasons={"x is not a figure": 3})
    table = results("synthetic", evaluation)
    assert "| answers | 200 |" in table
    assert "| verified rate (an answer passes, greedy or a beam drawn again; no fallback) | 95.0% |" in table
    assert "| flag accuracy (answers naming exactly the flags they should) | 87.5% |" in table
    assert "| generation, redraws included | 1234 tokens/s, 3.2 answers/s |" in table
    assert "Verified rate by question (synthetic): leverage 90%, liquidity 100%" in table
    assert "Most common reasons for a fallback: x is not a figure (3)" in table
