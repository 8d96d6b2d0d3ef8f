"""The PDF report: Jinja2 templates (``generator/templates/``) and SVG charts rendered by WeasyPrint, PDF/A-3u.

Everything that comes from data or the model is escaped (autoescaping), and WeasyPrint fetches nothing
but the project's own template assets and ``data:`` URIs: a company called
``<img src="file:///etc/passwd">`` is printed as text and nothing is read from that file.
"""

from __future__ import annotations

import base64
import io
import json
import math
import multiprocessing
import os
import threading
import time
from collections.abc import Callable
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
from generator.pack import Levels, MarketView, PortfolioReport, Report
from generator.portfolio import CONCENTRATION_TOPS
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


def market_images(view: MarketView, subject: str = "Share price") -> list[dict[str, str | None]]:
    """The market section's two charts as SVG images: the share (or a portfolio's value) against its benchmark,
    rebased to 100, and its drawdown with the one-year maximum drawdown shaded; said in words, under ``subject``,
    where no window ends at the as-of date."""
    share = view.share
    if not share.dates:
        why = next((r["reason"] for r in view.records if r["metric"] == "return_1m"), None)
        absent = f"no window of closes ends at {view.as_of}" + (f" ({why})" if why else "")
        return [{"title": subject, "absent": absent, "src": None}]
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
    attached = {"facts.json": report.facts, **({"market.json": report.market.records} if report.market else {})}
    write_pdf(html(report, images, job.manifest, market_charts), attached, report.context.entity_id, job.target)
    return {"charts_s": t1 - t0, "pdf_s": time.perf_counter() - t1}


def write_pdf(document: str, attached: dict[str, Any], entity: str, target: Path) -> None:
    """Lay out a report's HTML with nothing fetched but the project's assets, and write it atomically as PDF/A-3u
    with each of ``attached`` (file name → rows) as a JSON attachment, so the numbers travel with it."""
    attachments = [Attachment(file_obj=io.BytesIO(json.dumps(rows, ensure_ascii=False, default=str).encode("utf-8")),
                              name=name, relationship="Data", description=f"{name.removesuffix('.json')} of {entity}")
                   for name, rows in attached.items()]
    pdf = HTML(string=document, base_url=str(present.assets()) + "/", url_fetcher=ProjectAssetsOnly()).write_pdf(
        pdf_variant="pdf/a-3u", attachments=attachments)
    write_atomic(target, pdf)


# --- portfolios ----------------------------------------------------------------------------------------------

SUMMARY_QUESTION = "portfolio_holdings"
"""The question whose answer a portfolio report's summary gives: what it holds and where it is concentrated."""
CONTRIBUTION_WINDOW = "1y"
"""The window whose volatility a portfolio report splits by holding: the one its summary and answers quote."""
BASIS = {"quantity": "quantities held, valued at the last close", "weight": "weights as given: no market value"}
"""How a report says what a portfolio is given by (portfolio.json's ``basis``)."""
EXPOSURE_WIDTH = 3.4
"""Inches: an exposure chart shares its row with its table."""


@dataclass(frozen=True)
class PortfolioImages:
    """A portfolio report's charts as SVG images: its weight by sector, currency and country (by dimension; none
    for one the whole portfolio is in a single group of), its value against its benchmark and its drawdown (or why
    they are not drawn), and each holding's contribution to its one-year volatility (None without one)."""

    exposures: dict[str, dict[str, str | None]]
    market: list[dict[str, str | None]]
    contributions: dict[str, str | None] | None


@dataclass(frozen=True)
class PortfolioPrintJob:
    """What one portfolio's report needs to be drawn and printed, picklable, so a printing process can take it."""

    report: PortfolioReport
    manifest: dict[str, Any]
    target: Path


def portfolio_view(report: PortfolioReport) -> MarketView:
    """The portfolio as the market section sees a share: its risk rows against its benchmark and its value series
    with the benchmark's, so that its tables and charts are those of a share."""
    record = report.record
    return MarketView(date.fromisoformat(record["as_of"]), record["benchmark"], record["risk"], report.series,
                      report.index)


def _contributions(record: dict[str, Any]) -> list[dict[str, Any]]:
    """The holdings' contributions to the volatility of :data:`CONTRIBUTION_WINDOW`, the largest first."""
    return sorted((c for c in record["contributions"] if c["window"] == CONTRIBUTION_WINDOW),
                  key=lambda c: (-c["contribution"], c["entity_id"]))


def _names(record: dict[str, Any]) -> dict[str, str]:
    return {h["entity_id"]: h["name"] for h in record["holdings"]}


def portfolio_images(report: PortfolioReport) -> PortfolioImages:
    """Every chart of a portfolio's report, drawn: a bar per sector, currency and country (none where the whole
    portfolio is in one: its table says so), the value series against the benchmark and its drawdown (as a
    share's), and a bar per holding's contribution to the volatility."""
    record = report.record
    exposures = {}
    for key, groups in record["exposures"].items():
        if len(groups) < 2:
            continue
        title = f"Weight by {key}"
        svg = charts.bar_chart(title, [g["name"] for g in groups], [g["weight"] for g in groups], "fraction",
                               width=EXPOSURE_WIDTH)
        exposures[key] = {"title": title, "absent": None, "src": _data_uri(svg)}
    parts, names = _contributions(record), _names(record)
    title = f"Contribution to the {market.WINDOW_LABELS[CONTRIBUTION_WINDOW]} volatility"
    contributions = {"title": title, "absent": None, "src": _data_uri(charts.bar_chart(
        title, [names[c["entity_id"]] for c in parts], [c["contribution"] for c in parts], "fraction"))} \
        if parts else None
    return PortfolioImages(exposures, market_images(portfolio_view(report), "Portfolio value"), contributions)


def holding_table(record: dict[str, Any]) -> dict[str, Any]:
    """The holdings table as text: each close in its own currency (and its date where it is not the as-of date's),
    the FX rate into the base currency to four significant digits ("—" for a holding in the base currency), the
    value in the base currency, the weight given and the weight; and the total of the values and of the weights."""
    base = record["base_currency"]
    rows = [{"name": h["name"], "id": h["entity_id"], "sector": h["sector"], "country": h["country"],
             "currency": h["currency"], "quantity": None if h["quantity"] is None else present.amount(h["quantity"]),
             "close": present.per_share(h["close"], h["currency"]),
             "price_date": None if str(h["price_date"]) == record["as_of"] else str(h["price_date"]),
             "fx": "—" if h["currency"] == base else f"{h['fx_rate']:.4g}",
             "value": None if h["market_value"] is None else present.money(h["market_value"], base),
             "given": None if h["weight_given"] is None else present.percent(h["weight_given"]),
             "weight": present.percent(h["weight"])} for h in record["holdings"]]
    value = record["market_value"]
    return {"rows": rows, "value": None if value is None else present.money(value, base),
            "weight": present.percent(math.fsum(h["weight"] for h in record["holdings"]))}


def exposure_tables(record: dict[str, Any]) -> dict[str, list[dict[str, str]]]:
    """The weight in each sector, currency and country, largest first, with the holdings in it."""
    return {key: [{"name": g["name"], "weight": present.percent(g["weight"]), "holdings": ", ".join(g["holdings"])}
                  for g in groups] for key, groups in record["exposures"].items()}


def _concentration_figures(record: dict[str, Any]) -> list[str]:
    """The concentration figures a report shows: the weight of the five and ten largest holdings only where there
    are more than that many (of four holdings, the five largest are all of them)."""
    count = record["concentration"]["holdings"]
    return ["holdings_count", *(f"top_{k}" for k in CONCENTRATION_TOPS if k == 1 or count > k), "herfindahl",
            "effective_holdings"]


def concentration_rows(record: dict[str, Any]) -> list[dict[str, str]]:
    """How concentrated the portfolio is: its number of holdings, the weight of its largest (named), five and ten
    largest, its Herfindahl index and its effective number of holdings."""
    c = record["concentration"]
    figures = {"holdings_count": float(c["holdings"]), **c}
    largest = f" ({_names(record)[c['largest']]})"
    return [{"label": present.capitalised(label(name)) + (largest if name == "top_1" else ""),
             "value": present.by_unit(figures[name], definition(name).unit)} for name in _concentration_figures(record)]


def contribution_table(record: dict[str, Any]) -> dict[str, Any]:
    """Each holding's weight, its contribution to the one-year volatility and its share of it, the largest first,
    and the totals (the contributions add up to the volatility); or why there is no one-year volatility."""
    volatility = next((r for r in record["risk"] if r["metric"] == f"volatility_{CONTRIBUTION_WINDOW}"), None)
    if volatility is None or volatility["value"] is None:
        return {"absent": volatility["reason"] if volatility else "the portfolio has no value series", "rows": []}
    parts, names = _contributions(record), _names(record)
    rows = [{"name": names[c["entity_id"]], "id": c["entity_id"], "weight": present.percent(c["weight"]),
             "contribution": present.percent(c["contribution"]), "share": present.percent(c["share"])}
            for c in parts]
    total = {key: present.percent(math.fsum(c[key] for c in parts)) for key in ("weight", "contribution", "share")}
    return {"absent": None, "rows": rows, "total": total, "volatility": present.percent(volatility["value"])}


def fundamental_table(record: dict[str, Any]) -> dict[str, Any]:
    """Each holding-weighted fundamental: its value (n/a with the numbered note that says why), the share of the
    value whose holdings have the figure, how it is combined and the holdings' report periods."""
    notes: list[str] = []
    rows = [{"label": present.capitalised(label(f["metric"])), "value": _cell(f, notes, record["base_currency"]),
             "coverage": present.percent(f["coverage"]), "method": f["method"],
             "periods": ", ".join(sorted(set(f["periods"].values()))) or "–"} for f in record["fundamentals"]]
    return {"rows": rows, "notes": notes}


def key_figures(record: dict[str, Any]) -> list[tuple[str, str]]:
    """The summary's figures: the market value (or that the portfolio is held by weight), the number of holdings,
    and the one-year return and volatility."""
    by = {r["metric"]: r["value"] for r in record["risk"]}
    value = present.money(record["market_value"], record["base_currency"]) if record["market_value"] is not None \
        else "held by weight"
    return [(present.capitalised(label("market_value")), value),
            (present.capitalised(label("holdings_count")), str(record["concentration"]["holdings"])),
            *((present.capitalised(label(m)), present.by_unit(by.get(m), definition(m).unit))
              for m in (f"return_{CONTRIBUTION_WINDOW}", f"volatility_{CONTRIBUTION_WINDOW}"))]


def holding_flag_rows(flags: list[dict[str, Any]]) -> list[dict[str, str]]:
    """The company flags the holdings carry, the largest share of the value first: its label, severity, that share
    and the holdings that carry it."""
    return [{"label": present.capitalised(f["label"]), "flag": f["flag"], "severity": f["severity"],
             "share": present.percent(f["share"]), "holdings": ", ".join(f["holdings"])}
            for f in flags if f["kind"] == "holdings"]


def portfolio_sources(record: dict[str, Any]) -> list[dict[str, str]]:
    """Where each holding comes from: its holdings-file line, the price-file line of its close and the FX rates
    that converted it."""
    return [{"name": h["name"], "id": h["entity_id"], "holding": h["source"],
             "price": f"{h['price_source']} ({h['price_date']})",
             "fx": h["fx_source"] or "— (in the base currency)"} for h in record["holdings"]]


def portfolio_definitions(record: dict[str, Any]) -> list[tuple[str, str]]:
    """What each portfolio figure the report shows means, then each market measure."""
    shown = ["market_value"] if record["market_value"] is not None else []
    shown += ["holding_weight", *_concentration_figures(record), *(f["metric"] for f in record["fundamentals"])]
    return [(present.capitalised(label(n)), definition(n).formula) for n in shown] + \
        [(present.capitalised(market.LABELS[m.name]), m.description) for m in market.MEASURES]


def portfolio_html(report: PortfolioReport, images: PortfolioImages, manifest: dict[str, Any]) -> str:
    """A portfolio's report as HTML for WeasyPrint: the summary (key figures, its own flags, what it holds), the
    holdings, exposures and concentration, risk by window with its charts and each holding's contribution,
    fundamentals, flags, the other answers, findings, and the sources and definitions of every figure shown."""
    record = report.record
    view = portfolio_view(report)
    currency = record["base_currency"]
    summary = next((a for a in report.answers if a.question_id == SUMMARY_QUESTION), None)
    return _ENV.get_template("portfolio.html.j2").render(
        report=report, record=record, basis=BASIS[record["basis"]], as_of=present.day(record["as_of"]),
        summary=summary, figures=key_figures(record), holdings=holding_table(record),
        exposures=exposure_tables(record), concentration=concentration_rows(record), images=images,
        returns=window_table(view, RETURN_ROWS, tuple(market.WINDOWS), currency),
        risk=window_table(view, RISK_ROWS, RISK_WINDOWS, currency), contributions=contribution_table(record),
        fundamentals=fundamental_table(record), flags=[f for f in report.flags if f["kind"] == "portfolio"],
        held_flags=holding_flag_rows(report.flags), answers=[a for a in report.answers if a is not summary],
        sources=portfolio_sources(record), definitions=portfolio_definitions(record), manifest=manifest,
    )


def print_portfolio_pdf(job: PortfolioPrintJob) -> dict[str, float]:
    """Draw a portfolio's charts, lay out its report and write it atomically as PDF/A-3u with portfolio.json and
    flags.json attached. Returns the seconds each step took."""
    t0 = time.perf_counter()
    report = job.report
    images = portfolio_images(report)
    t1 = time.perf_counter()
    attached = {"portfolio.json": report.record, "flags.json": report.flags}
    write_pdf(portfolio_html(report, images, job.manifest), attached, report.record["portfolio_id"], job.target)
    return {"charts_s": t1 - t0, "pdf_s": time.perf_counter() - t1}


def printing_pool(workers: int | None = None) -> ProcessPoolExecutor:
    """WeasyPrint lays out one document on one core, and matplotlib's pyplot is not thread-safe: reports
    are drawn and printed in separate processes, one per core."""
    return ProcessPoolExecutor(max_workers=max(1, workers or os.cpu_count() or 1),
                               mp_context=multiprocessing.get_context("spawn"))


_HERE = threading.Lock()
"""pyplot and WeasyPrint take one thread of a process at a time."""


def print_here(print_: Callable[[Any], dict[str, float]], job: PrintJob | PortfolioPrintJob) -> dict[str, float]:
    """Print a report in this process rather than in a printing pool (a task on a Dask worker, or in a process of
    the processes task runner, is that process already): one at a time, should the process run several tasks at
    once (a worker with several threads)."""
    with _HERE:
        return print_(job)


def warm_up(pool: ProcessPoolExecutor) -> None:
    """Start every printing process now, so their imports overlap other work instead of the first reports."""
    for _ in range(pool._max_workers):
        pool.submit(os.getpid)
