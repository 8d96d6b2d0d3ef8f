"""Real WeasyPrint PDFs: the reader sees the company's figures, hostile data stays text, nothing is fetched."""

from __future__ import annotations

import csv
import dataclasses
import json
import re
import shutil
import subprocess
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader

from generator import present
from generator.answers import narrate
from generator.manifest import write_run
from generator.metrics import compute_metrics, definition, label
from generator.outputs import folder_names
from generator.pack import Levels, MarketView, portfolio_contexts, write_entity, write_portfolio
from generator.pipeline import answer, build
from generator.render import (
    PortfolioPrintJob,
    ProjectAssetsOnly,
    change_text,
    chart_data,
    chart_images,
    contribution_table,
    drawdowns,
    job,
    kpi_rows,
    market_images,
    portfolio_html,
    portfolio_images,
    print_pdf,
    print_portfolio_pdf,
    printing_pool,
    provenance_rows,
    rebased,
)
from generator.sample import MARKET_INDEX, ROLES

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


def shown_text(pdf: Path) -> str:
    """What a reader of the PDF sees, as pdftotext (poppler) reads it from inside the pages, without whitespace."""
    text = subprocess.run(["pdftotext", "-raw", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    return re.sub(r"\s+", "", text)


def squeezed(text: str) -> str:
    return re.sub(r"\s+", "", text)


@pytest.fixture(scope="module")
def volt_market(sample_run: Any, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any, str]:
    """The loss-maker's report from the shared sample run (prices, measured against the sample's index):
    (PDF, what the report shows, the PDF's text without whitespace)."""
    out = tmp_path_factory.mktemp("volt-market")
    volt = ROLES["loss_maker"]
    run = dataclasses.replace(sample_run, timings=dict(sample_run.timings))
    manifest = write_run(run, out, as_of=str(run.as_of))
    report = write_entity(run, volt, out / volt, manifest["run_id"], str(run.as_of), answer(run, [volt])[volt])
    print_pdf(job(report, run.analysis, manifest, out / volt / "report.pdf"))
    return out / volt / "report.pdf", report, shown_text(out / volt / "report.pdf")


def test_the_market_section_prints_the_share_s_figures_against_its_benchmark(
        volt_market: tuple[Path, Any, str]) -> None:
    pdf, report, shown = volt_market
    by = {r["metric"]: r for r in report.market.records}
    assert squeezed(f"Market At the close of {report.market.as_of} · measured against {MARKET_INDEX}") in shown
    for metric in ("return_1m", "return_1y", "return_5y", "relative_return_ytd", "return_ann_3y", "volatility_5y",
                   "max_drawdown_3y", "sharpe_1y", "beta_1y", "correlation_5y", "var_95_3y", "cvar_95_1y",
                   "market_cap", "pb", "ev_sales", "pb_vs_sector"):
        value = by[metric]["value"]
        assert value is not None and squeezed(present.by_unit(value, definition(metric).unit)) in shown, metric
    assert squeezed(f"Return relative to {MARKET_INDEX}") in shown
    assert squeezed(f"Correlation with {MARKET_INDEX}") in shown
    loss = by["pe_ttm"]
    assert loss["value"] is None and squeezed(loss["reason"]) in shown  # P/E over a loss: n/a, and why
    basis = by["market_cap"]
    assert squeezed(f"Close {present.per_share(basis['price'])} on {basis['price_date']}; statements of "
                    f"{basis['period']}, known by {basis['known']}") in shown
    assert PdfReader(pdf).attachments["market.json"]


def test_the_appendix_gives_the_price_lines_and_filings_of_every_market_figure(
        volt_market: tuple[Path, Any, str]) -> None:
    _, report, shown = volt_market
    by = {r["metric"]: r for r in report.market.records}
    for window in ("1m", "ytd", "5y"):
        own, paired = by[f"return_{window}"], by[f"relative_return_{window}"]
        assert len(own["sources"]) == 2 and len(paired["sources"]) == 4
        for source in paired["sources"]:  # the share's first and last close, and the benchmark's
            assert squeezed(source) in shown, (window, source)
    for metric in ("market_cap", "ev_ebitda", "dividend_yield"):
        assert by[metric]["sources"] and all(squeezed(s) in shown for s in by[metric]["sources"]), metric


def test_the_share_and_its_benchmark_start_at_100_on_their_first_common_close() -> None:
    days = [date(2026, 1, d) for d in (2, 5, 6, 7, 8)]
    share = Levels("S", days[1:], [50.0, 55.0, 45.0, 60.0])
    index = Levels("I", [days[0], days[1], days[3], days[4]], [900.0, 1000.0, 1100.0, 1200.0])
    lines = rebased(share, index)
    assert lines["S"] == (days[1:], [100.0, 110.0, 90.0, 120.0])
    assert lines["I (benchmark)"] == ([days[1], days[3], days[4]], [100.0, 110.0, 120.0])
    assert list(rebased(share, Levels("I", [], []))) == ["S"]
    assert drawdowns([100.0, 120.0, 90.0, 130.0, 117.0]) == pytest.approx([0.0, 0.0, -0.25, 0.0, -0.1])


def test_a_share_whose_closes_end_before_the_as_of_date_is_said_not_drawn() -> None:
    """No window ends at the as-of date (the last close is weeks old): an empty axis would look like a flat share."""
    stale = "the last close is on 2026-10-01, more than 7 days before 2026-11-27"
    view = MarketView(date(2026, 11, 27), "I", [{"metric": "return_1m", "value": None, "reason": stale}],
                      Levels("S", [], []), Levels("I", [], []))
    assert market_images(view) == [{"title": "Share price", "src": None,
                                    "absent": f"no window of closes ends at 2026-11-27 ({stale})"}]


HOSTILE_INDEX = '<img src="file:///etc/passwd">&amp;<b>x</b>'
SHORT = 300
"""Closes left to the grower in the market fixture: a year's window, not three or five."""


@pytest.fixture(scope="module")
def market_reports(sample_dir: Path, sample_as_of: date,
                   tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any, dict[str, str]]:
    """A copy of the sample whose index is called like an HTML injection, whose grower has its last 300 closes only,
    whose cash cow has no prices, and one more share (ZETA, the loss-maker's closes) with no statements: the
    grower's, the cash cow's and ZETA's reports, rendered once: (their folder, the run, each PDF's text without
    whitespace)."""
    root = tmp_path_factory.mktemp("market-render")
    grower, kola, volt = ROLES["grower"], ROLES["cash_cow"], ROLES["loss_maker"]
    with (sample_dir / "prices" / "prices.csv").open(newline="") as handle:
        header, *rows = list(csv.reader(handle))
    short = [r for r in rows if r[0] == grower][-SHORT:]
    kept = [[HOSTILE_INDEX if r[0] == MARKET_INDEX else r[0], *r[1:]] for r in rows if r[0] not in (grower, kola)]
    (root / "prices").mkdir()
    with (root / "prices" / "prices.csv").open("w", newline="") as handle:
        csv.writer(handle, lineterminator="\n").writerows(
            [header, *kept, *short, *(["ZETA", *r[1:]] for r in rows if r[0] == volt)])
    run = build([sample_dir / "long", root / "prices"], benchmark=HOSTILE_INDEX, as_of=sample_as_of)
    manifest = write_run(run, root / "out", as_of=str(run.as_of))
    wanted = [grower, kola, "ZETA"]
    answered = answer(run, wanted)
    folders = folder_names(run.entities)
    for entity in wanted:
        report = write_entity(run, entity, root / "out" / folders[entity], manifest["run_id"], str(run.as_of),
                              answered[entity])
        print_pdf(job(report, run.analysis, manifest, root / "out" / folders[entity] / "report.pdf"))
    return root / "out", run, {e: shown_text(root / "out" / folders[e] / "report.pdf") for e in wanted}


def test_a_window_longer_than_the_history_is_n_a_with_the_reason(
        market_reports: tuple[Path, Any, dict[str, str]]) -> None:
    _, run, shown = market_reports
    grower = ROLES["grower"]
    for size in (756, 1260):
        assert squeezed(f"needs {size} daily returns ({size + 1} closes) up to {run.as_of}; there are {SHORT} "
                        "closes") in shown[grower]
    assert squeezed("Returns and risk by window") in shown[grower] and "n/a" in shown[grower]


def test_a_company_without_prices_has_no_market_section(market_reports: tuple[Path, Any, dict[str, str]]) -> None:
    out, _, shown = market_reports
    kola = ROLES["cash_cow"]
    assert squeezed("Key figures") in shown[kola]
    for words in ("Returns and risk by window", "Market sources", "At the close of"):
        assert squeezed(words) not in shown[kola], words
    assert "market.json" not in PdfReader(out / kola / "report.pdf").attachments


def test_a_hostile_benchmark_name_is_printed_as_text_and_nothing_is_fetched(
        market_reports: tuple[Path, Any, dict[str, str]]) -> None:
    out, _, shown = market_reports
    grower = ROLES["grower"]
    assert squeezed(f"measured against {HOSTILE_INDEX}") in shown[grower]  # escaped: &amp; stays as written
    assert squeezed(f"Correlation with {HOSTILE_INDEX}") in shown[grower]
    assert squeezed(f"{HOSTILE_INDEX} (benchmark)") in shown[grower]  # the chart's legend, text in the SVG
    raw = (out / grower / "report.pdf").read_bytes()
    assert b"root:x:0:0" not in raw and b"/bin/bash" not in raw


def test_a_share_without_statements_gets_its_market_section_and_says_what_is_missing(
        market_reports: tuple[Path, Any, dict[str, str]]) -> None:
    _, _, shown = market_reports
    zeta = shown["ZETA"]
    assert squeezed("No statements for ZETA are in the inputs:") in zeta
    assert squeezed("Returns and risk by window") in zeta and squeezed("Market sources") in zeta
    for words in ("A year earlier", "Revenue and net income by quarter"):
        assert squeezed(words) not in zeta, words
    assert squeezed("Valuation at the last close Not taken: no statements are in the inputs.") in zeta
    assert squeezed("There are no statements to check.") in zeta


HOSTILE_BOOK = '<img src="file:///etc/passwd"><script>x</script>'
"""The name of a portfolio in the portfolio fixture: an HTML injection attempt."""


@pytest.fixture(scope="module")
def books(sample_dir: Path, sample_as_of: date, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The sample's portfolios (DIVERSIFIED, CONVICTION, GLOBAL: a euro book with pound and dollar holdings) and two
    held by weight (WEIGHTS, and EVIL, named like an HTML injection), as a run reports them; GLOBAL's report printed
    once, in a printing process as the flow prints it: its folder, timings and text without whitespace."""
    root = tmp_path_factory.mktemp("portfolio-render")
    shutil.copytree(sample_dir / "portfolios", root / "portfolios")
    with (root / "portfolios" / "weights.csv").open("w", newline="") as handle:
        csv.writer(handle, lineterminator="\n").writerows([
            ("portfolio_id", "portfolio_name", "entity_id", "weight", "base_currency"),
            ("WEIGHTS", "Model weights", "KOLA", 0.6, "USD"), ("WEIGHTS", "Model weights", "ACME", 0.4, "USD"),
            ("EVIL", HOSTILE_BOOK, "KOLA", 0.5, "USD"), ("EVIL", HOSTILE_BOOK, "CHIP", 0.5, "USD")])
    run = build([sample_dir / "long", sample_dir / "prices", root / "portfolios"], as_of=sample_as_of)
    manifest = write_run(run, root / "out", as_of=str(run.as_of))
    answered = narrate(portfolio_contexts(run))
    reports = {p.portfolio_id: write_portfolio(run, p, root / "books" / p.portfolio_id, manifest["run_id"],
                                               str(run.as_of), answered[p.portfolio_id]) for p in run.portfolios}
    folder = root / "books" / "GLOBAL"
    with printing_pool(1) as pool:
        timings = pool.submit(print_portfolio_pdf, PortfolioPrintJob(reports["GLOBAL"], manifest,
                                                                     folder / "report.pdf")).result()
    return {"reports": reports, "manifest": manifest, "folder": folder, "timings": timings,
            "shown": shown_text(folder / "report.pdf")}


def test_a_portfolio_report_is_pdf_a3_with_its_portfolio_and_flags_attached(books: dict[str, Any]) -> None:
    pdf = books["folder"] / "report.pdf"
    assert pdf.read_bytes().startswith(b"%PDF-")
    assert set(books["timings"]) == {"charts_s", "pdf_s"}
    reader = PdfReader(pdf)
    for name in ("portfolio.json", "flags.json"):
        assert json.loads(reader.attachments[name][0]) == json.loads((pdf.parent / name).read_text()), name
    xmp = reader.xmp_metadata
    assert xmp is not None and re.search(rb'pdfaid:part="?>?3', xmp.stream.get_data())
    assert 6 <= len(reader.pages) <= 14


def test_a_portfolio_report_shows_its_holdings_value_risk_flags_and_answers(books: dict[str, Any]) -> None:
    report, shown = books["reports"]["GLOBAL"], books["shown"]
    record = report.record
    assert squeezed(f"{record['name']} Portfolio report · at the last close on {present.day(record['as_of'])}") in shown
    for h in record["holdings"]:
        assert squeezed(f"{h['name']} ({h['entity_id']})") in shown, h["entity_id"]
        assert squeezed(present.money(h["market_value"], "EUR")) in shown, h["entity_id"]
        assert squeezed(h["fx_source"] or "— (in the base currency)") in shown  # the appendix's FX sources
        assert squeezed(h["price_source"]) in shown and squeezed(h["source"]) in shown
    assert {h["currency"] for h in record["holdings"]} == {"EUR", "GBP", "USD"}
    for h in record["holdings"]:  # the FX rate to four significant digits, — in the base currency
        fx = "—" if h["currency"] == "EUR" else f"{h['fx_rate']:.4g}"
        assert squeezed(f"{present.per_share(h['close'], h['currency'])} {fx}") in shown, h["entity_id"]
    assert squeezed(f"Market value {present.money(record['market_value'], 'EUR')}") in shown
    by = {r["metric"]: r["value"] for r in record["risk"]}
    assert squeezed(f"One-year volatility {present.percent(by['volatility_1y'])}") in shown
    assert squeezed(f"One-year total return {present.percent(by['return_1y'])}") in shown
    own = [f for f in report.flags if f["kind"] == "portfolio"]
    held = [f for f in report.flags if f["kind"] == "holdings"]
    assert own and held
    for f in own:
        assert squeezed(present.capitalised(f["label"])) in shown and squeezed(f["explanation"]) in shown
    for f in held:
        assert squeezed(f"{present.capitalised(f['label'])}{f['severity']}{present.percent(f['share'])}") in shown
    for a in report.answers:
        assert squeezed(a.text) in shown, a.question_id
    assert squeezed(record["flags_query"]) in shown
    for words in ("Exposures", "Concentration", "Returns and risk by window", "Fundamentals", "Weight by sector",
                  f"GLOBAL against {record['benchmark']}: total return, rebased to 100", "Holdings' flags by value"):
        assert squeezed(words) in shown, words


def test_the_holdings_contributions_add_up_to_the_one_year_volatility(books: dict[str, Any]) -> None:
    record = books["reports"]["GLOBAL"].record
    volatility = present.percent(next(r["value"] for r in record["risk"] if r["metric"] == "volatility_1y"))
    table = contribution_table(record)
    assert table["total"]["contribution"] == table["volatility"] == volatility
    assert table["total"]["share"] == "100.0%" and table["total"]["weight"] == "100.0%"
    contributions = [float(r["contribution"].rstrip("%")) for r in table["rows"]]
    assert contributions == sorted(contributions, reverse=True)
    assert squeezed(f"Total: the one-year volatility, {volatility} 100.0% {volatility} 100.0%") in books["shown"]


def test_a_hostile_portfolio_name_is_escaped(books: dict[str, Any]) -> None:
    report = books["reports"]["EVIL"]
    assert report.record["name"] == HOSTILE_BOOK
    page = portfolio_html(report, portfolio_images(report), books["manifest"])
    assert "&lt;script&gt;x&lt;/script&gt;" in page
    assert "<script>" not in page and '<img src="file:' not in page


def test_a_portfolio_held_by_weight_has_no_market_value(books: dict[str, Any]) -> None:
    report = books["reports"]["WEIGHTS"]
    assert report.record["basis"] == "weight" and report.record["market_value"] is None
    page = portfolio_html(report, portfolio_images(report), books["manifest"])
    assert "<dt>Market value</dt><dd>held by weight</dd>" in page
    assert "Weight given" in page and "60.0%" in page and "40.0%" in page
    assert "Value (USD)" not in page and not re.search(r"\$\d[\d,.]*(k|m|bn)\b", page)


def test_a_portfolio_without_a_value_series_says_so_instead_of_drawing_an_empty_chart(books: dict[str, Any]) -> None:
    report = books["reports"]["CONVICTION"]
    empty = dataclasses.replace(report, series=Levels("CONVICTION", [], []))
    [chart] = portfolio_images(empty).market
    assert chart["title"] == "Portfolio value" and chart["src"] is None
    assert chart["absent"].startswith(f"no window of closes ends at {report.record['as_of']}")
