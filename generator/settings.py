"""One settings object for every entry point (CLI, flows, tests), read from FINREPORT_* variables."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FINREPORT_", env_file=".env", extra="ignore")

    output_dir: Path = Field(Path("output"), description="Where runs write their files")
    inputs: list[Path] = Field([Path("data/sample/long")], description="What scheduled runs read (JSON list)")
    timezone: str = Field("UTC", description="Time zone of the as-of date when a run does not give one")
    io_retry_delays: list[float] = Field([2.0, 10.0], description="Seconds before each retry of a failed write")
    sample_dir: Path = Field(Path("data/sample"), description="Where `finreport sample` writes by default")
    sample_seed: int = Field(7, description="Seed of the deterministic sample data set")


def get_settings() -> Settings:
    return Settings()
