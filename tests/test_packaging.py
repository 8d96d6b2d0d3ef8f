"""A built wheel is all a user needs: installed into a fresh virtual environment and run from an empty folder
outside the repository, ``finreport sample`` and ``finreport run`` write the PDFs (templates, ontology and the
narrator checkpoint travel in the package)."""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
@pytest.mark.integration
def test_a_wheel_installed_elsewhere_reports_from_an_empty_folder(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w",
                    str(wheels), str(ROOT)], check=True, cwd=tmp_path)
    (wheel,) = wheels.glob("finreport-*.whl")
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", f"{wheel}[narrator]"], check=True)
    empty = tmp_path / "elsewhere"
    empty.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FINREPORT_", "PREFECT_"))}
    env |= {"PREFECT_HOME": str(tmp_path / "prefect"), "HF_HUB_OFFLINE": "1",
            "PATH": f"{env_dir / 'bin'}:{env['PATH']}"}
    finreport = str(env_dir / "bin" / "finreport")
    sample = subprocess.run([finreport, "sample", "--out", "data"], cwd=empty, env=env, capture_output=True, text=True)
    assert sample.returncode == 0, sample.stderr
    run = subprocess.run([finreport, "run", "--input", "data/long", "--out", "reports"], cwd=empty, env=env,
                         capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr
    assert "reports: 14 PDFs written" in run.stdout
    pdfs = sorted(empty.glob("reports/*/report.pdf"))
    assert len(pdfs) == 14 and all(p.read_bytes().startswith(b"%PDF") for p in pdfs)
    assert "Traceback" not in run.stderr and "ERROR" not in run.stderr
    assert not (empty / "generator").exists()  # nothing of the repository was needed, or written beside it
