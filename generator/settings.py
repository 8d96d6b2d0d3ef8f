"""One settings object for every entry point (CLI, flows, tests), read from FINREPORT_* variables."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

QUARTER_LAG_DAYS = 60
"""A quarter's figures with no filing date count as known this many days after the quarter ends (the SEC's 10-Q
deadline is 40 to 45 days; the rest is margin)."""
ANNUAL_LAG_DAYS = 90
"""A year's figures with no filing date count as known this many days after the year ends (10-K: 60 to 90 days)."""

SHIPPED_NARRATOR = Path(__file__).resolve().parent / "narrator" / "checkpoint"
SHIPPED_TRANSLATOR = Path(__file__).resolve().parent / "ask" / "checkpoint"
"""The narrator checkpoint installed with the package (trained by ``finreport finetune``; its card is its README)."""


class Settings(BaseSettings):
    """What a deployment may change, from FINREPORT_* variables or ``.env``: where runs read and write, the narrator
    checkpoint, the retries, and the e-mail server. Variables it does not know are ignored."""

    model_config = SettingsConfigDict(env_prefix="FINREPORT_", env_file=".env", extra="ignore")

    output_dir: Path = Field(Path("output"), description="Where runs write their files")
    inputs: list[Path] = Field([Path("data/sample/long"), Path("data/sample/prices"), Path("data/sample/portfolios")],
                               description="What scheduled runs read (JSON list)")
    benchmark: str | None = Field(None, description="Entity id of the benchmark every company's share is measured "
                                                    "against (a sectors file's benchmark column wins for its rows)")
    base_currency: str = Field("USD", description="Currency a portfolio is valued in when its holdings file names "
                                                  "no base_currency")
    risk_free_rate: float = Field(0.0, description="Annual risk-free rate of the Sharpe and Sortino ratios (0.04: 4%)")
    quarter_filing_lag_days: int = Field(QUARTER_LAG_DAYS, description="Days after a quarter's end its figures "
                                         "count as known when the input gives no filing date")
    annual_filing_lag_days: int = Field(ANNUAL_LAG_DAYS, description="Days after a year's end its figures count as "
                                        "known when the input gives no filing date")
    timezone: str = Field("UTC", description="Time zone of the as-of date when a run does not give one")
    full_run: bool = Field(False, description="Make every report again, even those whose inputs, peers, prices, "
                           "questions, model and code are what they were at the last run (default: reuse those)")
    change_threshold: float = Field(0.10, gt=0, description="Relative move from which a figure counts as changed "
                                    "since the last run (0.10: 10%)")
    io_retry_delays: list[float] = Field([2.0, 10.0], description="Seconds before each retry of a failed write")
    model_dir: Path = Field(SHIPPED_NARRATOR, description="The narrator checkpoint a model run loads "
                                                           "(default: the one shipped with the package)")
    translator_dir: Path = Field(SHIPPED_TRANSLATOR, description="The translator checkpoint `finreport ask` and a "
                                 "run's custom questions load (Hugging Face format)")
    subscriptions: Path = Field(Path("config/subscriptions.toml"), description="Who receives which reports (TOML)")
    outbox_dir: Path = Field(Path("output/outbox"), description="E-mails waiting, sent and rejected")
    mail_retry_delays: list[float] = Field([30.0, 120.0, 600.0],
                                           description="Seconds before each retry while the SMTP server is away")
    smtp_block: str | None = Field(None, description="prefect-email EmailServerCredentials block to use instead "
                                                     "of the smtp_* settings")
    smtp_host: str = Field("localhost", description="SMTP server")
    smtp_port: int | None = Field(None, description="SMTP port (default: 587 starttls, 465 ssl, 25 insecure)")
    smtp_security: Literal["starttls", "ssl", "insecure"] = Field(
        "starttls", description="STARTTLS or implicit TLS; insecure (plain SMTP) only when set explicitly")
    smtp_username: str | None = Field(None, description="SMTP login, if the server wants one")
    smtp_password: SecretStr | None = Field(None, description="SMTP password (never logged)")
    smtp_verify: bool = Field(True, description="Verify the server's TLS certificate")
    task_runner: Literal["threads", "processes", "dask"] = Field(
        "threads", description="Where a run's per-company tasks run: threads of the flow's process (printing in a "
        "pool of processes), a pool of processes, or Dask workers (FINREPORT_DASK_ADDRESS, else a local cluster)")
    dask_address: str | None = Field(None, description="Address of a running Dask scheduler (tcp://host:8786) the "
                                     "dask task runner sends tasks to; none: a distributed.LocalCluster per run")
    sample_dir: Path = Field(Path("data/sample"), description="Where `finreport sample` writes by default")
    sample_seed: int = Field(7, description="Seed of the deterministic sample data set")


def get_settings() -> Settings:
    """The settings as the environment holds them now: read afresh on every call, nothing cached, so a changed variable
    is heard at the next call."""
    return Settings()
