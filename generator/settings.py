"""One settings object for every entry point (CLI, flows, tests), read from FINREPORT_* variables."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FINREPORT_", env_file=".env", extra="ignore")

    output_dir: Path = Field(Path("output"), description="Where runs write their files")
    sample_dir: Path = Field(Path("data/sample"), description="Where `finreport sample` writes by default")
    sample_seed: int = Field(7, description="Seed of the deterministic sample data set")


def get_settings() -> Settings:
    return Settings()
