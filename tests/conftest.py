"""Settings every test shares (no model hub, I/O retries that do not make the suite wait), and the one sample run
the tests that only read it share.

``sample_dir`` is the deterministic sample (``generator.sample.write_sample``, seed 7, as ``finreport sample``
writes it, prices to the session's first day, ``sample_as_of``) and ``sample_run`` the facts pipeline run on its
long table and its prices, measured against its index (``generator.pipeline.build``: ingest, checks, metrics,
market metrics, HermiT), each made once per session. Their readers must leave them as they found them: after
every test that used one, its files and the run are compared with what they were when made, and a test that
changed them errors. A test that needs to write a run's files (``write_run`` adds its timings to the run) works
on a copy: ``dataclasses.replace(sample_run, timings=dict(sample_run.timings))``.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("FINREPORT_IO_RETRY_DELAYS", "[0.2, 0.2]")
os.environ.setdefault("FINREPORT_MAIL_RETRY_DELAYS", "[0.2]")

SAMPLE_SEED = 7
"""The seed of the shared sample: the default of ``write_sample`` and of ``finreport sample``."""

_made: dict[str, tuple[Any, str]] = {}
"""What each shared fixture made, with its fingerprint when made."""


def _files_digest(root: Path) -> str:
    """Every file under ``root``: its path and its bytes."""
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        digest.update(str(path.relative_to(root)).encode())
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()


def _run_digest(run: Any) -> str:
    """The run's tables, byte for byte, its graph's flags, findings and triples, and its timings."""
    digest = hashlib.sha256()
    ingested, analysis, graph = run.ingested, run.analysis, run.graph
    frames = (ingested.facts, ingested.superseded, ingested.rejected, ingested.events, analysis.base, analysis.ttm,
              analysis.metrics, analysis.industries, run.findings, run.market, ingested.prices)
    for frame in frames:
        digest.update(frame.write_ipc(None).getvalue())
    digest.update(repr([(f.file, f.line, f.reason) for f in ingested.refused]).encode())
    digest.update(repr([vars(f) for f in ingested.files]).encode())
    digest.update(repr([sorted(vars(f).items()) for f in graph.flags]).encode())
    digest.update(repr(graph.findings).encode())
    digest.update(repr(sorted(graph.snapshots)).encode())
    digest.update(repr(sorted(graph.hierarchy)).encode())
    digest.update(repr(graph.world.graph.execute("SELECT COUNT(*) FROM quads").fetchone()).encode())
    digest.update(repr(sorted(run.timings.items())).encode())
    digest.update(repr(sorted(graph.timings.items())).encode())
    return digest.hexdigest()


@pytest.fixture(scope="session")
def sample_as_of() -> date:
    """The day the shared sample's prices run to, and the as-of date of the runs on it: the session's first day, so
    that a suite running past midnight reads the sample as of the day it was written (a later day would show each
    close with its date)."""
    return date.today()


@pytest.fixture(scope="session")
def sample_dir(sample_as_of: date, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample as ``finreport sample`` writes it: ``long/facts.csv`` and one ``wide/<entity>.csv`` per company.
    Read it; write anything of your own elsewhere."""
    from generator.sample import write_sample

    root = tmp_path_factory.mktemp("shared-sample")
    write_sample(root, seed=SAMPLE_SEED, as_of=sample_as_of)
    _made["sample_dir"] = (root, _files_digest(root))
    return root


@pytest.fixture(scope="session")
def sample_run(sample_dir: Path, sample_as_of: date) -> Any:
    """``generator.pipeline.build`` on the sample's long table and prices, against its index, as of the sample's day:
    ingest, checks, metrics, market metrics and HermiT, once."""
    from generator.pipeline import build

    run = build([sample_dir / "long", sample_dir / "prices"], as_of=sample_as_of)
    _made["sample_run"] = (run, _run_digest(run))
    return run


@pytest.fixture(autouse=True)
def _shared_sample_left_as_found(request: pytest.FixtureRequest) -> Iterator[None]:
    """After a test that used the shared sample or run: both as they were made, or the test errors."""
    yield
    for name, digest in (("sample_dir", _files_digest), ("sample_run", _run_digest)):
        if name in request.fixturenames and name in _made:
            made, fingerprint = _made[name]
            if digest(made) != fingerprint:
                _made[name] = (made, digest(made))  # one error per change, not one for every later reader
                pytest.fail(f"{request.node.nodeid} changed the shared {name}: its readers must leave it as made "
                            "(work on a copy)", pytrace=False)
