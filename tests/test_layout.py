"""The layout shows the data flow: no module of ``generator`` imports one further down the flow, and ``generator``
never imports ``flows``. Every import counts, those inside functions too (read from the source, not run)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

FLOW = """
errors settings outputs rounding schema present lifecycle
ingest.base ingest.fiscal ingest.csvread ingest.validate ingest.shares ingest.xbrl ingest.long ingest.wide
ingest.statement ingest.companyfacts ingest.xbrl_csv industry ingest.sectors ingest.prices ingest.holdings ingest.fx
ingest
sample periods checks market metrics provenance graph graph_queries
narrator narrator.slots narrator.parts narrator.verify narrator.model narrator.training answers portfolio
pipeline changes incremental
ask.program ask.grammar ask.knowledge ask.link ask.execute ask.write ask ask.translate ask.tables
pack manifest charts render deliver reports corpus finetune ask.training
""".split()  # noqa: SIM905 - a paragraph, in the order of the flow
"""Every module of ``generator``, in the order data flows through them: each may import those before it."""


def _module(path: Path) -> str:
    parts = path.relative_to(ROOT / "generator").with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> list[str]:
    """The finreport modules a file imports (``generator.x`` as ``x``, ``flows...`` as it is)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "generator":
                found += [alias.name for alias in node.names if alias.name != "__version__"]
            elif node.module.startswith(("generator.", "flows")):
                found.append(node.module.removeprefix("generator."))
        elif isinstance(node, ast.Import):
            found += [alias.name.removeprefix("generator.") for alias in node.names
                      if alias.name.startswith(("generator.", "flows"))]
    return found


SOURCES = sorted(p for p in (ROOT / "generator").rglob("*.py") if p.parent.name != "data")
"""Every module but ``generator.data``, which holds the mapping tables and no code."""


def test_every_module_has_its_place_in_the_flow() -> None:
    assert sorted(m for m in map(_module, SOURCES) if m) == sorted(FLOW)


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_import_runs_back_up_the_flow(path: Path) -> None:
    module = _module(path)
    place = FLOW.index(module) if module else len(FLOW)
    backwards = [name for name in _imports(path) if name.startswith("flows") or FLOW.index(name) > place]
    assert backwards == [], f"{module or 'generator'} imports {backwards}, further down the flow"


def test_the_checker_sees_an_import_inside_a_function(tmp_path: Path) -> None:
    path = tmp_path / "x.py"
    path.write_text("def f():\n    from generator.render import job\n    import flows.reports\n", "utf-8")
    assert _imports(path) == ["render", "flows.reports"]
