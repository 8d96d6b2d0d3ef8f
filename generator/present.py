"""How finreport shows things to people, in one place: figures (25.3%, 0.88x, $394.3bn, 41 days; never more
precision than the data has), period names (FY2025, Q3 FY2024), the key figures each output shows, sentences
that start with a capital, and the Jinja environments of the report, the e-mails and the answer templates.

Nothing here computes a figure or reads data: every stage that writes for a reader imports this module, and it
imports nothing of finreport's.
"""

from __future__ import annotations

import math
from importlib import resources
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from jinja2.sandbox import SandboxedEnvironment

# --- figures -----------------------------------------------------------------------------------------------

CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "CHF": "CHF ", "CAD": "C$", "AUD": "A$"}
_SCALES = ((1e12, "tn"), (1e9, "bn"), (1e6, "m"), (1e3, "k"))


def money(value: float, currency: str = "USD") -> str:
    """$394.3bn, -€12.4m, ¥1,234: one decimal at a scale, whole units below a thousand."""
    symbol = CURRENCY_SYMBOLS.get(currency, f"{currency} ")
    sign = "-" if value < 0 else ""
    amount = abs(value)
    for threshold, suffix in _SCALES:
        if amount >= threshold * 0.99995:  # $999,973 is $1.0m, not $1,000.0k
            return f"{sign}{symbol}{amount / threshold:,.1f}{suffix}"
    return f"{sign}{symbol}{amount:,.0f}"


def percent(value: float, decimals: int = 1) -> str:
    """A fraction as a percentage: 0.253 → 25.3%."""
    return f"{value * 100:.{decimals}f}%"


def times(value: float) -> str:
    """A multiple: 0.8794 → 0.88x."""
    return f"{value:.2f}x"


def days(value: float) -> str:
    """A period in whole days: 41.3 → 41 days."""
    return f"{value:.0f} days"


def score(value: float) -> str:
    """A score: whole (a Piotroski F-score of 7) or to two decimals (an Altman Z'' of 1.23)."""
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.2f}"


def shares(value: float) -> str:
    """A share count at a scale: 15.4bn shares."""
    for threshold, suffix in _SCALES[:3]:
        if abs(value) >= threshold:
            return f"{value / threshold:,.1f}{suffix} shares"
    return f"{value:,.0f} shares"


def per_share(value: float, currency: str = "USD") -> str:
    """An amount per share, to the cent: $6.13."""
    return f"{'-' if value < 0 else ''}{CURRENCY_SYMBOLS.get(currency, currency + ' ')}{abs(value):,.2f}"


def amount(value: float) -> str:
    """An amount as filed, in whole units with thousands separators (cents only where it has them):
    9,927,000,000 or 12.50. What a finding quotes, so that it can be found in the filing."""
    return f"{value:,.0f}" if value == int(value) else f"{value:,.2f}"


def by_unit(value: float | None, unit: str, currency: str = "USD") -> str:
    """The display form of a metric value given its registry unit; n/a for an absent value."""
    if value is None or not math.isfinite(value):
        return "n/a"
    return {
        "fraction": lambda: percent(value),
        "multiple": lambda: times(value),
        "days": lambda: days(value),
        "currency": lambda: money(value, currency),
        "score": lambda: score(value),
        "shares": lambda: shares(value),
        "currency_per_share": lambda: per_share(value, currency),
    }[unit]()


# --- words -------------------------------------------------------------------------------------------------

MARKET = "market"
"""The fiscal period of a company's market snapshot: its share at the as-of date, not a reporting period."""


MARKET_LABEL = "at the last close"
"""How every output names the market snapshot's period."""


PORTFOLIO = "portfolio"
"""The fiscal period of a portfolio's context and flags: its holdings at the as-of date, valued at the last close."""


def period_label(year: int, period: str) -> str:
    """How every output names a period: FY2025, Q3 FY2024; a market snapshot is "at the last close"."""
    if period in (MARKET, PORTFOLIO):
        return MARKET_LABEL
    return f"FY{year}" if period == "FY" else f"{period} FY{year}"


def day(iso: str | None) -> str:
    """A date as people write it: 2026-11-27 → 27 November 2026."""
    if not iso:
        return "n/a"
    year, month, dom = (int(x) for x in iso[:10].split("-"))
    return f"{dom} {_MONTHS[month - 1]} {year}"


_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December")


def capitalised(text: str) -> str:
    """The text with its first letter upper-case and the rest as it is (``"return on equity"`` → ``"Return on
    equity"``; ``"eBay's margin"`` would lose nothing but its first letter's case)."""
    return text[:1].upper() + text[1:]


# --- key figures -------------------------------------------------------------------------------------------

REPORT_KPIS = ("revenue", "net_income", "gross_margin", "operating_margin", "net_margin", "current_ratio",
               "quick_ratio", "debt_to_equity", "interest_coverage", "free_cash_flow", "roe", "altman_z_double_prime",
               "piotroski_f_score", "net_interest_margin_proxy", "loans_to_deposits", "equity_to_assets",
               "efficiency_ratio", "cost_of_risk", "loss_ratio", "expense_ratio", "combined_ratio", "ffo",
               "ffo_per_share")
"""The key figures a report shows where the company has them: a bank's, insurer's or REIT's own ratios are last
(other companies have no values for them, and theirs are absent with the reason the industrial ones do not fit)."""

MAIL_KPIS = ("revenue", "net_margin", "current_ratio", "debt_to_equity", "free_cash_flow")
"""The figures an e-mail gives beside its report."""

MAIL_MARKET_KPIS = ("return_1y", "volatility_1y")
"""The share's figures an e-mail adds for a company with prices."""

OVERVIEW_KPIS = ("revenue", "net_margin", "current_ratio", "debt_to_equity", "interest_coverage")
"""The figures of a run's overview table (one line per company, in the Prefect UI)."""


# --- templates ---------------------------------------------------------------------------------------------

def assets() -> Path:
    """The folder of the report's and e-mails' templates, stylesheet and fonts, installed with the package."""
    return Path(str(resources.files("generator") / "templates"))


def templates(*, html_only: bool = False) -> Environment:
    """The environment of the files in :func:`assets`: strict (a missing value is an error, not a blank) and
    autoescaped, everything (the report) or only ``*.html.j2`` (an e-mail's text part is plain text)."""
    return Environment(loader=FileSystemLoader(assets()), undefined=StrictUndefined, trim_blocks=True,
                       lstrip_blocks=True, autoescape=select_autoescape(["html.j2"]) if html_only else True)


def sandbox() -> SandboxedEnvironment:
    """The environment of templates kept as data (the answer templates of the question catalogue, the training
    phrasings): sandboxed, so a template reaches nothing beyond the values it is given; strict; plain text."""
    return SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)
