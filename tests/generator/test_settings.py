"""One settings object for every entry point: FINREPORT_* variables, then a .env file, then the defaults."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from generator.settings import SHIPPED_NARRATOR, Settings, get_settings


@pytest.fixture
def bare(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No FINREPORT_* variable, and a working folder without a .env file."""
    for name in [n for n in __import__("os").environ if n.startswith("FINREPORT_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_the_defaults_read_the_sample_and_use_the_shipped_narrator(bare: Path) -> None:
    settings = get_settings()
    assert settings.inputs == [Path("data/sample/long"), Path("data/sample/prices"), Path("data/sample/portfolios")]
    assert settings.output_dir == Path("output")
    assert settings.model_dir == SHIPPED_NARRATOR and (SHIPPED_NARRATOR / "config.json").is_file()
    assert (settings.smtp_security, settings.smtp_port, settings.sample_seed) == ("starttls", None, 7)


def test_variables_win_over_the_env_file_and_lists_are_json(bare: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (bare / ".env").write_text("FINREPORT_TIMEZONE=Europe/Paris\nFINREPORT_SMTP_HOST=mail.example.com\n")
    monkeypatch.setenv("FINREPORT_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("FINREPORT_INPUTS", '["a.csv", "in/b"]')
    monkeypatch.setenv("FINREPORT_IO_RETRY_DELAYS", "[0.5, 1]")
    settings = Settings()
    assert (settings.timezone, settings.smtp_host) == ("Europe/Paris", "127.0.0.1")
    assert settings.inputs == [Path("a.csv"), Path("in/b")] and settings.io_retry_delays == [0.5, 1.0]


def test_the_smtp_password_is_never_shown(bare: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FINREPORT_SMTP_PASSWORD", "s3cret-Pa55word")
    settings = Settings()
    assert settings.smtp_password is not None and settings.smtp_password.get_secret_value() == "s3cret-Pa55word"
    assert "s3cret" not in repr(settings) and "s3cret" not in str(settings.model_dump())


def test_a_wrong_value_is_refused_naming_the_setting(bare: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FINREPORT_SMTP_SECURITY", "tls-please")
    with pytest.raises(ValidationError, match="smtp_security"):
        Settings()


def test_the_task_runner_is_threads_unless_set_and_dask_takes_a_scheduler_address(
        bare: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert (get_settings().task_runner, get_settings().dask_address) == ("threads", None)
    monkeypatch.setenv("FINREPORT_TASK_RUNNER", "dask")
    monkeypatch.setenv("FINREPORT_DASK_ADDRESS", "tcp://10.0.0.5:8786")
    assert (get_settings().task_runner, get_settings().dask_address) == ("dask", "tcp://10.0.0.5:8786")
    monkeypatch.setenv("FINREPORT_TASK_RUNNER", "processes")
    assert get_settings().task_runner == "processes"
    monkeypatch.setenv("FINREPORT_TASK_RUNNER", "ray")
    with pytest.raises(ValidationError, match="task_runner"):
        Settings()
