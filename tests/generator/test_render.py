"""Real WeasyPrint PDFs: the reader sees the company's figures, hostile data stays text, nothing is fetched."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader

from generator import present
from generator.manifest import write_run
from generator.metrics import compute_metrics, definition, label
from generator.outputs import folder_names
from generator.pack import write_entity
from generator.pipeline import answer, build
from generator.render import (
    ProjectAssetsOnly,
    change_text,
    chart_data,
    chart_images,
    job,
    kpi_rows,
    print_pdf,
    provenance_rows,
)
from generator.sample import ROLES

from builders import facts_frame

HOSTILE = '<img src="file:///etc/passwd"><script>x</script>'


@pytest.fixture(scope="module")
def reports(sample_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """The sample plus one company whose name is an HTML injection attempt, rendered once."""
    root = tmp_path_factory.mktemp("render")
    lines = (sample_dir / "wide" / "KOLA.csv").read_text().splitlines()
    hostile = [lines[0]] + [line.replace("Kola Beverages Co.", f'"{HOSTILE.replace(chr(34), chr(34) * 2)}"')
                            .replace("KOLA,", "EVIL,", 1) for line in lines[1:]]
    (root / "hostile.csv").write_text("\n".join(hostile) + "\n")
    inputs = [sample_dir / "wide" / f"{ROLES['loss_maker']}.csv", sample_dir / "wide" / "KOLA.csv",
              root / "hostile.csv"]
    run = build(inputs)
    manifest = write_run(run, root / "out", as_of="2026-11-28")
    answered = answer(run, run.entities)
    for entity, folder in folder_names(run.entities).items():
        report = write_entity(run, entity, root / "out" / folder, manifest["run_id"], "2026-11-28",
                              answered[entity])
        print_pdf(job(report, run.analysis, manifest, root / "out" / folder / "report.pdf"))
    return root / "out", manifest


def text_of(pdf: Path) -> str:
    return "\n".join(page.extract_text() or "" for page in PdfReader(pdf).pages)


def test_every_company_gets_a_pdf(reports: tuple[Path, dict[str, Any]]) -> None:
    out, manifest = reports
    assert manifest["failures"] == []
    pdfs = sorted(out.glob("*/report.pdf"))
    assert len(pdfs) == 3
    for path in pdfs:
        assert path.read_bytes().startswith(b"%PDF-")


def test_pdf_shows_the_kpis_as_the_facts_say(reports: tuple[Path, dict[str, Any]]) -> None:
    out, _ = reports
    volt = ROLES["loss_maker"]
    text = text_of(out / volt / "report.pdf")
    facts = {(r["fiscal_year"], r["fiscal_period"], r["metric"]): r for r in
             json.loads((out / volt / "facts.json").read_text())}
    for metric, unit in (("revenue", "currency"), ("current_ratio", "multiple"), ("net_margin", "fraction")):
        value = facts[(2025, "FY", metric)]["value"]
        assert present.by_unit(value, unit) in text, metric
    answers = json.loads((out / volt / "answers.json").read_text())
    liquidity = next(a for a in answers if a["question_id"] == "liquidity")["text"]
    assert liquidity.split(",")[0] in " ".join(text.split())
    assert "Voltaris Motors Inc." in text and "page 1 of" in text
    assert "severe liquidity concern" in text


def test_pdf_is_pdf_a3_with_facts_attached(reports: tuple[Path, dict[str, Any]]) -> None:
    out, _ = reports
    pdf = out / ROLES["loss_maker"] / "report.pdf"
    reader = PdfReader(pdf)
    attached = reader.attachments
    assert "facts.json" in attached
    assert json.loads(attached["facts.json"][0]) == json.loads((pdf.parent / "facts.json").read_text())
    xmp = reader.xmp_metadata
    assert xmp is not None
    assert re.search(rb'pdfaid:part="?>?3', xmp.stream.get_data()) and b"pdfaid:conformance" in xmp.stream.get_data()
    assert 6 <= len(reader.pages) <= 20


def test_hostile_name_is_printed_as_text_and_nothing_is_fetched(reports: tuple[Path, dict[str, Any]]) -> None:
    out, manifest = reports
    folder = manifest["entity_folders"].get("EVIL", "EVIL")
    pdf = out / folder / "report.pdf"
    text = " ".join(text_of(pdf).split())
    assert '<img src="file:///etc/passwd"><script>x</script>' in text
    raw = pdf.read_bytes()
    assert b"root:x:0:0" not in raw and b"/bin/bash" not in raw
    assert len(PdfReader(pdf).pages) >= 6


@pytest.mark.parametrize("url", ["file:///etc/passwd", "http://example.com/x.png", "https://example.com/a.css",
                                 f"file://{Path(__file__).resolve()}"])
def test_fetcher_refuses_everything_but_project_assets(url: str) -> None:
    with pytest.raises(ValueError, match="renders no external resources"):
        ProjectAssetsOnly().fetch(url)


def test_fetcher_serves_the_stylesheet_and_data_uris() -> None:
    css = present.assets() / "report.css"
    assert ProjectAssetsOnly().fetch(css.as_uri())
    assert ProjectAssetsOnly().fetch("data:text/plain;base64,aGk=")


def test_pages_render_to_images(reports: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    """Every page of one report rasterises (pdftoppm, as a reader's viewer would) and the count is sane."""
    import shutil
    import subprocess

    pdftoppm = shutil.which("pdftoppm")
    assert pdftoppm, "pdftoppm (Debian: poppler-utils) is needed to check the pages render"
    out, _ = reports
    subprocess.run([pdftoppm, "-png", "-r", "30", str(out / "KOLA" / "report.pdf"), str(tmp_path / "p")], check=True)
    pages = sorted(tmp_path.glob("p-*.png"))
    assert 6 <= len(pages) <= 20
    assert all(p.stat().st_size > 1000 for p in pages)
    assert re.search(r"page \d+ of \d+", text_of(out / "KOLA" / "report.pdf"))


def test_a_chart_without_any_value_is_said_not_drawn() -> None:
    """A 10-Q fact table has year-to-date cash flows only: no quarter has one, and an empty axis labelled $0 to
    -$0 would look like data. The chart is replaced by a line saying what is missing and why."""
    quarters = {("Q", 2024, f"Q{q}"): {"revenue": 100.0 + q, "gross_profit": 40.0, "operating_income": 20.0,
                                       "net_income": 10.0} for q in range(1, 5)}
    charts = chart_data(compute_metrics(facts_frame(quarters)), "Q")
    by_title = {c.title: c for c in charts}
    assert by_title["Cash flow by quarter"].absent == ("no quarter shown has operating cash flow or free cash flow "
                                                      "(missing input: operating_cash_flow)")
    assert by_title["Margins by quarter"].absent is None
    images = {i["title"]: i for i in chart_images(charts, "USD")}
    assert images["Cash flow by quarter"]["src"] is None
    assert images["Margins by quarter"]["src"].startswith("data:image/svg+xml")


@pytest.mark.parametrize(("unit", "before", "now", "shown"), [
    ("fraction", 0.253, 0.231, "-2.2 pp"),
    ("multiple", -10.57, -5.72, "+4.85x"),        # interest coverage: +45.9% said the opposite of the move
    ("score", -3.25, -6.50, "-3.25"),             # Altman Z'': -100.0% before
    ("currency", 2.0e9, 2.5e9, "+25.0%"),
    ("currency", -40e6, 25e6, "+$65.0m"),         # from a loss to a profit: no percentage of a loss
    ("currency", -40e6, -60e6, "-$20.0m"),
])
def test_key_figure_changes_read_right_for_negative_and_sign_changing_figures(unit: str, before: float, now: float,
                                                                               shown: str) -> None:
    assert change_text(now - before, before, now, unit, "USD") == shown


@pytest.fixture(scope="module")
def celsius(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any, str]:
    """Celsius's report as a reader gets it: (folder, what the report shows, pdftotext's text without spaces)."""
    out = tmp_path_factory.mktemp("celsius")
    run = build([Path(__file__).resolve().parents[1] / "fixtures" / "real-filings" / "celh_companyfacts.json"])
    manifest = write_run(run, out, as_of="2026-11-30")
    entity = run.entities[0]
    report = write_entity(run, entity, out / entity, manifest["run_id"], "2026-11-30",
                          answer(run, [entity])[entity])
    print_pdf(job(report, run.analysis, manifest, out / entity / "report.pdf"))
    text = subprocess.run(["pdftotext", "-raw", str(out / entity / "report.pdf"), "-"], capture_output=True,
                          text=True, check=True).stdout
    return out / entity, report, re.sub(r"\s+", "", text)


def test_a_real_filer_s_longest_findings_and_sources_stay_on_the_page(celsius: tuple[Path, Any, str]) -> None:
    """Celsius's findings and provenance hold long unbroken tokens (accession/tag sources): the data-quality
    table ran off the right edge and 49 of its 60 findings were cut. Every character must be on a page, which
    pdftotext (poppler) reads only where it is inside the page."""
    folder, report, shown = celsius
    findings = json.loads((folder / "findings.json").read_text())
    assert len(findings) > 40
    lost = [f["message"] for f in findings if re.sub(r"\s+", "", f["message"]) not in shown]
    assert not lost, lost[:3]
    sources = {s for r in json.loads((folder / "facts.json").read_text()) for s in r["sources"]
               if r["fiscal_year"] == report.context.fiscal_year and r["fiscal_period"] == report.context.fiscal_period
               and r["metric"] in ("revenue", "net_income", "roe")}
    assert sources and all(re.sub(r"\s+", "", s) in shown for s in sources)


def test_every_figure_the_report_prints_has_its_source_in_the_pdf(celsius: tuple[Path, Any, str]) -> None:
    """The appendix cited the key figures of the current period only (9 of 42 printed figures of a real filer):
    now each key figure and each answer's facts, this period and a year earlier, and each flag's figures."""
    _, report, shown = celsius
    rows = {(p["figure"], p["period"], p["value"]): p for p in provenance_rows(report)}
    ctx = report.context
    now, then = f"FY{ctx.fiscal_year}", f"FY{ctx.fiscal_year - 1}"
    printed = {(label(f["metric"]), now, f["display"]) for a in report.answers for f in a.facts_used}
    printed |= {(r["label"], now, r["now"]) for r in kpi_rows(ctx)} | \
        {(r["label"], then, r["before"]) for r in kpi_rows(ctx) if r["before"] != "n/a"}
    printed |= {(label(c["metric"]), now if c["period"] == now else c["period"],
                 present.by_unit(c["value"], definition(c["metric"]).unit, ctx.currency))
                for f in ctx.flags for c in f["conditions"] if not c["ttm"]}
    assert len(printed) > 30
    lowered = {(figure.lower(), period, value): p for (figure, period, value), p in rows.items()}
    missing = [p for p in printed if (p[0].lower(), p[1], p[2]) not in lowered]
    assert not missing, missing[:5]
    for figure, period, value in printed:
        row = lowered[(figure.lower(), period, value)]
        assert row["sources"]
        assert re.sub(r"\s+", "", f"{row['figure']}{period}{value}") in shown, (figure, period, value)
