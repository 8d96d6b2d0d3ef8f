"""The PDF report: Jinja2 templates (``generator/templates/``) and SVG charts rendered by WeasyPrint, PDF/A-3u.

Everything that comes from data or the model is escaped (autoescaping), and WeasyPrint fetches nothing
but the project's own template assets and ``data:`` URIs: a company called
``<img src="file:///etc/passwd">`` is printed as text and nothing is read from that file.
"""

from __future__ import annotations

import base64
import io
import json
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import date
from itertools import accumulate
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import polars as pl
from weasyprint import HTML, Attachment
from weasyprint.urls import URLFetcher

from generator import charts, market, present
from generator.metrics import Analysis, definition, label
from generator.narrator import Context, catalogue
from generator.outputs import write_atomic
from generator.pack import Levels, MarketView, Report
from generator.present import period_label


class ProjectAssetsOnly(URLFetcher):
    """``data:`` URIs and files under the package's ``templates/``; every other URL (local files, http, redirects)
    refused."""

    def fetch(self, url: str, headers: Any = None) -> Any:
        """WeasyPrint's fetch of a URL the document names: anything but the project's assets or a ``data:`` URI raises,
        so a report never reads a local file or the network."""
        if url.startswith("data:"):
            return super().fetch(url, headers)
        if url.startswith("file://"):
            path = Path(unquote(url.removeprefix("file://").split("?")[0])).resolve()
            if path.is_relative_to(present.assets().resolve()) and path.is_file():
                return super().fetch(url, headers)
        raise ValueError(f"finreport renders no external resources: {url[:80]}")


_ENV = present.templates()
_ENV.filters["label"] = label
_ENV.globals["period_label"] = period_label


def _data_uri(svg: str) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


def change_text(delta: float, before: float, now: float, unit: str, currency: str) -> str:
    """How a key figure moved: ratios in percentage points; multiples, scores and days by their difference (a
    coverage of -10.57x → -5.72x is +4.85x, not +45.9%); amounts by a percentage of the year-earlier figure, or
    by their difference where that figure is negative or the sign changed (a percentage of a loss says nothing)."""
    if unit == "fraction":
        return f"{round(delta * 100, 1):+.1f} pp"
    if unit in ("multiple", "score", "days") or before < 0 or (now < 0) != (before < 0):
        shown = present.by_unit(abs(delta), unit, currency)
        return ("+" if delta >= 0 else "-") + shown
    return f"{round(delta / abs(before) * 100, 1):+.1f}%"


def kpi_rows(ctx: Context) -> list[dict[str, Any]]:
    """The report's key-figure table: each figure the company has, its change on a year earlier, the direction and
    whether that is good news; a change that rounds to nothing shows neither."""
    rows = []
    for name in present.REPORT_KPIS:
        m = definition(name)
        now, before = ctx.metrics.get(name), ctx.prior.get(name)
        if now is None:
            continue
        change, tone, direction = "", "neutral", ""
        if before is not None and before != 0:
            delta = now - before
            change = change_text(delta, before, now, m.unit, ctx.currency)
            if not any(d in change for d in "123456789"):  # rounds to nothing as shown
                change = change.lstrip("+-")
            else:
                direction = "up" if delta > 0 else "down"
                if m.favourable != "neutral":
                    tone = "good" if (delta > 0) == (m.favourable == "higher") else "bad"
        text = label(name)
        rows.append({"label": present.capitalised(text), "direction": direction, "change": change, "tone": tone,
                     "now": present.by_unit(now, m.unit, ctx.currency),
                     "before": present.by_unit(before, m.unit, ctx.currency)})
    return rows


CHARTS = (
    ("Revenue and net income by quarter", ("revenue", "net_income"), "currency"),
    ("Margins by quarter", ("gross_margin", "operating_margin", "net_margin"), "fraction"),
    ("Liquidity and leverage", ("current_ratio", "debt_to_equity"), "multiple"),
    ("Cash flow by quarter", ("operating_cash_flow", "free_cash_flow"), "currency"),
)


@dataclass(frozen=True)
class Chart:
    """The data of one chart (the last twelve quarters; absent values stay gaps), drawn where it prints."""

    title: str
    periods: list[str]
    series: dict[str, list[float | None]]
    unit: str
    absent: str | None = None  # why no series has a value in these quarters; the chart is then not drawn


def chart_data(analysis: Analysis, entity: str) -> list[Chart]:
    """One company's charts as data: its last twelve quarters, a gap where a value is absent, and the reason when a
    chart has nothing to draw."""
    base = analysis.base.filter((pl.col("entity_id") == entity) & pl.col("__qidx").is_not_null()).sort("__qidx")
    base = base.tail(12)
    keys = list(zip(base["fiscal_year"].to_list(), base["fiscal_period"].cast(pl.String).to_list(), strict=True))
    wanted = [m for _, metrics, _ in CHARTS for m in metrics]
    rows = analysis.metrics.filter((pl.col("entity_id") == entity) & pl.col("metric").is_in(wanted))
    lookup = {(r["fiscal_year"], r["fiscal_period"], r["metric"]): r for r in rows.iter_rows(named=True)}
    periods = [f"{p} {str(y)[2:]}" for y, p in keys]
    out = []
    for title, metrics, unit in CHARTS:
        series = {label(m): [lookup.get((y, p, m), {}).get("value") for y, p in keys] for m in metrics}
        absent = None
        if not any(v is not None for values in series.values() for v in values):
            why = lookup.get((*keys[-1], metrics[0]), {}).get("reason") if keys else None
            absent = f"no quarter shown has {' or '.join(label(m) for m in metrics)}" + (f" ({why})" if why else "")
        out.append(Chart(title, periods, series, unit, absent))
    return out


def chart_images(charts_: list[Chart], currency: str) -> list[dict[str, str]]:
    """Each chart as an SVG image; one with no value at all is said in words, not drawn as an empty axis."""
    return [{"title": c.title, "absent": c.absent, "src": None if c.absent else
             _data_uri(charts.line_chart(c.title, c.periods, c.series, c.unit, currency))} for c in charts_]


RETURN_ROWS = ("return", "relative_return", "return_ann", "volatility", "max_drawdown", "sharpe", "sortino")
"""The rows of the market section's table by window: how the share did, and how much risk it took for it."""
RISK_ROWS = ("beta", "correlation", "var_95", "cvar_95")
RISK_WINDOWS = ("1y", "3y", "5y")
"""The risk table: beta and correlation need a year or more of daily returns to say anything."""
WINDOW_HEADINGS = {"1m": "1m", "3m": "3m", "ytd": "YTD", "1y": "1y", "3y": "3y", "5y": "5y"}


def _cell(record: dict[str, Any] | None, notes: list[str], currency: str) -> dict[str, Any]:
    """One market figure as a table prints it: the value; n/a and the number of the note that says why it is absent
    (``notes`` gains the reason, once however many cells share it); "–" where it is not taken at all."""
    if record is None:
        return {"text": "–", "note": None}
    if record["value"] is None:
        reason = record["reason"]
        if reason not in notes:
            notes.append(reason)
        return {"text": "n/a", "note": notes.index(reason) + 1}
    return {"text": present.by_unit(record["value"], definition(record["metric"]).unit, currency), "note": None}


def _measure_label(measure: str, benchmark: str | None) -> str:
    """A measure's row name, naming the benchmark where the measure is taken against one ("Correlation with
    SMPLX")."""
    text = market.LABELS[measure]
    return present.capitalised(text.replace("the benchmark", benchmark) if benchmark else text)


def window_table(view: MarketView, measures: tuple[str, ...], windows: tuple[str, ...],
                 currency: str) -> dict[str, Any]:
    """A table of measures by window: the first close of each window, a row per measure, and the notes that say why
    a figure is absent ("needs 1260 daily returns ...; there are 300 closes")."""
    by = {r["metric"]: r for r in view.records}
    notes: list[str] = []
    starts = [by.get(f"return_{w}", {}).get("start") for w in windows]
    rows = [{"label": _measure_label(m, view.benchmark),
             "cells": [_cell(by.get(f"{m}_{w}"), notes, currency) for w in windows]} for m in measures]
    return {"windows": [WINDOW_HEADINGS[w] for w in windows],
            "starts": [str(d) if d else "–" for d in starts], "rows": rows, "notes": notes}


def valuation_table(view: MarketView, currency: str) -> dict[str, Any] | None:
    """Each valuation figure at the last close, its sector's median and the ratio of the two, the notes that say
    why one is absent, and what they rest on: the close and its date, the statements' period and when they were
    known, the shares and any split since. Without statements known at the last close, only why no valuation is
    taken ("no statement is known by 2022-12-28 …"); None for a company the market table does not value."""
    by = {r["metric"]: r for r in view.records}
    valued = [by[m.name] for m in market.VALUATION if m.name in by]
    if not valued:
        return None
    if valued[0].get("price") is None:
        return {"unvalued": valued[0]["reason"]}
    notes: list[str] = []
    rows = []
    for r in valued:
        versus = by.get(f"{r['metric']}_vs_sector")
        median = versus["sector_median"] if versus else None
        rows.append({"label": present.capitalised(market.LABELS[r["metric"]]), "value": _cell(r, notes, currency),
                     "median": "–" if median is None else f"{present.by_unit(median, r['unit'], currency)} "
                                                          f"({versus['sector_companies']})",
                     "relative": _cell(versus, notes, currency)})
    basis = valued[0]
    split = basis["split_factor"]
    return {"rows": rows, "notes": notes, "price": present.per_share(basis["price"], currency),
            "price_date": str(basis["price_date"]), "period": basis["period"], "known": str(basis["known"]),
            "shares": present.shares(basis["shares"]) if basis["shares"] is not None else "not reported",
            "split": None if split in (None, 1.0) else present.score(split)}


def rebased(share: Levels, index: Levels | None) -> dict[str, tuple[list[date], list[float]]]:
    """The share's and its benchmark's series over 100 from the first date both have a close (the share alone where
    the benchmark shares no date with it), each from then on: what 100 invested in each became."""
    lines = {share.entity_id: share}
    if index and set(index.dates) & set(share.dates):
        lines[f"{index.entity_id} (benchmark)"] = index
    first = min(set.intersection(*(set(s.dates) for s in lines.values())))
    out = {}
    for name, s in lines.items():
        k = s.dates.index(first)
        out[name] = (s.dates[k:], [100 * v / s.levels[k] for v in s.levels[k:]])
    return out


def drawdowns(levels: list[float]) -> list[float]:
    """The fall from the running peak at each close (a negative fraction; the first close is the first peak)."""
    return [v / peak - 1 for v, peak in zip(levels, accumulate(levels, max), strict=True)]


def market_images(view: MarketView) -> list[dict[str, str | None]]:
    """The market section's two charts as SVG images: the share against its benchmark, rebased to 100, and its
    drawdown with the one-year maximum drawdown shaded; said in words where no window ends at the as-of date."""
    share = view.share
    if not share.dates:
        why = next((r["reason"] for r in view.records if r["metric"] == "return_1m"), None)
        absent = f"no window of closes ends at {view.as_of}" + (f" ({why})" if why else "")
        return [{"title": "Share price", "absent": absent, "src": None}]
    lines = rebased(share, view.index)
    first = lines[share.entity_id][0][0]
    against = f" against {view.index.entity_id}" if len(lines) > 1 and view.index else ""
    worst = next((r for r in view.records if r["metric"] == "max_drawdown_1y" and r["value"] is not None
                  and r["peak_date"] and r["trough_date"]), None)
    marked = (worst["peak_date"], worst["trough_date"],
              f"one-year maximum drawdown {present.percent(worst['value'])}: peak {worst['peak_date']}, trough "
              f"{worst['trough_date']}") if worst else None
    titles = (f"{share.entity_id}{against}: total return, rebased to 100 on {first}",
              f"{share.entity_id}: fall from its running peak since {share.dates[0]}")
    return [{"title": titles[0], "absent": None, "src": _data_uri(charts.performance_chart(titles[0], lines))},
            {"title": titles[1], "absent": None, "src": _data_uri(charts.drawdown_chart(
                titles[1], share.dates, drawdowns(share.levels), marked))}]


def market_sources(view: MarketView, currency: str) -> dict[str, list[dict[str, Any]]]:
    """Where every market figure comes from: the price-file lines of each window's first and last close, the share's
    and the benchmark's, and the close and the filing lines behind each valuation."""
    by = {r["metric"]: r for r in view.records}
    windows = []
    for w in market.WINDOWS:
        own = by.get(f"return_{w}")
        if own is None or own["start"] is None:
            continue
        paired = by.get(f"relative_return_{w}") or by.get(f"beta_{w}") or {"sources": []}
        windows.append({"window": WINDOW_HEADINGS[w], "span": f"{own['start']} to {own['end']}",
                        "returns": own["observations"], "share": own["sources"],
                        "benchmark": [s for s in paired["sources"] if s not in own["sources"]]})
    valuations = [{"figure": present.capitalised(market.LABELS[m.name]),
                   "value": present.by_unit(by[m.name]["value"], m.unit, currency), "sources": by[m.name]["sources"]}
                  for m in market.VALUATION if m.name in by and by[m.name]["sources"]]
    return {"windows": windows, "valuations": valuations}


def market_section(view: MarketView | None, currency: str) -> dict[str, Any] | None:
    """Everything the report's market section and its appendix print, as text (None without prices: no section)."""
    if view is None:
        return None
    valuation = valuation_table(view, currency)
    return {"as_of": str(view.as_of), "benchmark": view.benchmark,
            "returns": window_table(view, RETURN_ROWS, tuple(market.WINDOWS), currency),
            "risk": window_table(view, RISK_ROWS, RISK_WINDOWS, currency),
            "valuation": valuation, "sources": market_sources(view, currency),
            "measures": [(present.capitalised(market.LABELS[m.name]), m.description)
                         for m in (*market.MEASURES, *(market.VALUATION if valuation else ()))]}


def provenance_rows(report: Report) -> list[dict[str, Any]]:
    """Every figure the report prints, with the source lines behind it: the key figures and the facts of every
    answer, for the report period and a year earlier (the changes are made of those two), and the figures
    that fired each flag, in their own period."""
    ctx = report.context
    periods = [(ctx.fiscal_year, ctx.fiscal_period), (ctx.fiscal_year - 1, ctx.fiscal_period)]
    metrics = list(dict.fromkeys([*present.REPORT_KPIS, *(f["metric"] for a in report.answers for f in a.facts_used)]))
    wanted = {(m, *p): (rank, k) for rank, p in enumerate(periods) for k, m in enumerate(metrics)}
    for flag in ctx.flags:
        for c in flag.get("conditions", []):
            if (period := _period_of(c["period"])) is not None:
                wanted.setdefault((c["metric"] + ("_ttm" if c["ttm"] else ""), *period), (len(periods), len(wanted)))
    rows = sorted((r for r in report.facts if r["value"] is not None
                   and (r["metric"], r["fiscal_year"], r["fiscal_period"]) in wanted),
                  key=lambda r: wanted[(r["metric"], r["fiscal_year"], r["fiscal_period"])])
    return [{"figure": label(r["metric"]), "period": period_label(r["fiscal_year"], r["fiscal_period"]),
             "value": present.by_unit(r["value"], r["unit"], ctx.currency), "sources": r["sources"]} for r in rows]


def _period_of(text: str) -> tuple[int, str] | None:
    """(fiscal year, period) of "FY2025" or "Q3 FY2024", as flags name their periods; None for a market figure's
    ("at the last close"), whose sources the market section gives."""
    quarter, _, year = text.rpartition("FY")
    return (int(year), quarter.strip() or "FY") if year.isdigit() else None


def html(report: Report, charts_: list[dict[str, str]], manifest: dict[str, Any],
         market_charts: list[dict[str, str | None]]) -> str:
    """The report as HTML for WeasyPrint: the summary above the other answers, key figures, charts, flags, findings,
    the market section, the definitions of the figures shown and the sources of every figure printed. A company with
    prices alone has no statements: the report says so, and shows no key figures or statement charts."""
    ctx = report.context
    summaries = {q.id for q in catalogue() if q.summary}
    summary = next((a for a in report.answers if a.question_id in summaries), None)
    definitions = sorted({r["metric"].removesuffix("_ttm") for r in report.facts if r["metric"] in present.REPORT_KPIS})
    return _ENV.get_template("report.html.j2").render(
        ctx=ctx, report=report, summary=summary, kpis=kpi_rows(ctx), charts=charts_,
        answers=[a for a in report.answers if a is not summary], flags=ctx.flags, findings=report.findings,
        definitions=[definition(d) for d in definitions], provenance=provenance_rows(report), manifest=manifest,
        statements=ctx.fiscal_period != present.MARKET, market=market_section(report.market, ctx.currency),
        market_charts=market_charts,
    )


@dataclass(frozen=True)
class PrintJob:
    """What one report needs to be drawn and printed, picklable, so a printing process can take it."""

    report: Report
    charts: list[Chart]
    manifest: dict[str, Any]
    target: Path


def job(report: Report, analysis: Analysis, manifest: dict[str, Any], target: Path) -> PrintJob:
    """What printing one report needs, gathered here: the printing process gets data, not the run."""
    return PrintJob(report, chart_data(analysis, report.context.entity_id), manifest, target)


def print_pdf(job: PrintJob) -> dict[str, float]:
    """Draw the charts, lay out the report and write it atomically as PDF/A-3u with facts.json (and market.json)
    attached, so the numbers travel with it. Returns the seconds each step took."""
    t0 = time.perf_counter()
    report = job.report
    images = chart_images(job.charts, report.context.currency)
    market_charts = market_images(report.market) if report.market else []
    t1 = time.perf_counter()
    document = HTML(string=html(report, images, job.manifest, market_charts), base_url=str(present.assets()) + "/",
                    url_fetcher=ProjectAssetsOnly())
    attached = {"facts.json": report.facts, **({"market.json": report.market.records} if report.market else {})}
    attachments = [Attachment(file_obj=io.BytesIO(json.dumps(rows, ensure_ascii=False, default=str).encode("utf-8")),
                              name=name, relationship="Data",
                              description=f"{name.removesuffix('.json')} of {report.context.entity_id}")
                   for name, rows in attached.items()]
    pdf = document.write_pdf(pdf_variant="pdf/a-3u", attachments=attachments)
    write_atomic(job.target, pdf)
    return {"charts_s": t1 - t0, "pdf_s": time.perf_counter() - t1}


def printing_pool(workers: int | None = None) -> ProcessPoolExecutor:
    """WeasyPrint lays out one document on one core, and matplotlib's pyplot is not thread-safe: reports
    are drawn and printed in separate processes, one per core."""
    return ProcessPoolExecutor(max_workers=max(1, workers or os.cpu_count() or 1),
                               mp_context=multiprocessing.get_context("spawn"))


def warm_up(pool: ProcessPoolExecutor) -> None:
    """Start every printing process now, so their imports overlap other work instead of the first reports."""
    for _ in range(pool._max_workers):
        pool.submit(os.getpid)
