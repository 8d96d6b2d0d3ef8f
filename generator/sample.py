"""Deterministic sample inputs: fourteen made-up companies whose statements behave like real filings.

Every later stage (metrics, graph flags, narrator, reports, benchmarks) needs data with known
answers: a cash cow, a loss-maker in distress, a January fiscal year, a missing quarter, a restated
figure, foreign currencies. The figures are simulated quarter by quarter in whole thousands, so the
accounting identities (balance sheet, cash-flow reconciliation, equity roll-forward) hold exactly,
and are written twice: as the canonical long CSV and as wide per-company files in thousands, so the
two ingest adapters can be checked against each other.
"""

from __future__ import annotations

import csv
import math
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from itertools import pairwise
from math import prod
from pathlib import Path
from typing import Any

import polars as pl

from generator.ingest.base import RAW_COLUMNS
from generator.ingest.wide import ID_COLUMNS
from generator.schema import items

FISCAL_YEARS: tuple[int, ...] = (2023, 2024, 2025)
QUARTERS: tuple[str, ...] = ("Q1", "Q2", "Q3", "Q4")
LONG_COLUMNS: tuple[str, ...] = tuple(c for c in RAW_COLUMNS if c != "scale")
"""The canonical long format as the sample writes it (amounts already in units, so no scale)."""
WIDE_ID_COLUMNS = ID_COLUMNS
WIDE_SCALE = "thousands"

LABELS: dict[str, str] = {
    "revenue": "Net sales",
    "cost_of_revenue": "Cost of sales",
    "gross_profit": "Gross profit",
    "sga_expense": "Selling, general and administrative",
    "rnd_expense": "Research and development",
    "operating_income": "Operating income",
    "interest_expense": "Interest expense",
    "pretax_income": "Income before income taxes",
    "income_tax": "Provision for income taxes",
    "net_income": "Net income",
    "net_income_parent": "Net income attributable to parent",
    "depreciation_amortization": "Depreciation and amortization",
    "shares_diluted": "Weighted average diluted shares",
    "eps_diluted": "Diluted EPS",
    "cash": "Cash and cash equivalents",
    "short_term_investments": "Short-term investments",
    "receivables": "Accounts receivable",
    "inventory": "Inventories",
    "current_assets": "Total current assets",
    "ppe_net": "Property, plant and equipment, net",
    "goodwill": "Goodwill",
    "total_assets": "Total assets",
    "payables": "Accounts payable",
    "short_term_debt": "Short-term debt",
    "current_liabilities": "Total current liabilities",
    "long_term_debt": "Long-term debt",
    "total_liabilities": "Total liabilities",
    "total_equity": "Total shareholders' equity",
    "noncontrolling_interest": "Noncontrolling interest",
    "retained_earnings": "Retained earnings",
    "shares_outstanding": "Shares outstanding",
    "operating_cash_flow": "Net cash provided by operating activities",
    "capex": "Capital expenditures",
    "investing_cash_flow": "Net cash used in investing activities",
    "financing_cash_flow": "Net cash from financing activities",
    "dividends_paid": "Dividends paid",
    "share_repurchases": "Share repurchases",
    "net_change_in_cash": "Net change in cash",
}
"""Wide-file column header per reported item, in report order.

``total_debt`` is left out on purpose so the ingest has to derive it. Wide cells hold canonical
signs (outflows such as capex positive): the files are data, not printed statements.
"""

_DAYS_PER_QUARTER = 91.25


@dataclass(frozen=True, kw_only=True)
class Profile:
    """One company's economics; money in thousands of ``currency``, shares in thousands.

    ``revenue`` is the average quarter of fiscal 2023; ``growth`` is year over year for fiscal
    2023, 2024 and 2025 (the first only sets the trend within 2023, since 2022 is not reported).
    Cost and cash rates are shares of the quarter's revenue; ``depreciation`` is the quarterly
    share of opening PP&E. Working capital follows days of revenue (receivables) or of next
    quarter's cost of sales (inventory, payables), so a seasonal retailer stocks up before its
    peak. ``min_cash`` is where the company draws short-term debt rather than run cash lower.
    ``missing_quarter`` is a (fiscal year, period) whose filing is absent; ``restated`` is
    (fiscal year, period, item, factor): that figure was first published multiplied by factor.
    """

    entity_id: str
    entity_name: str
    sector: str
    description: str
    currency: str = "USD"
    fy_end_month: int = 12
    roles: tuple[str, ...] = ()
    revenue: float
    growth: tuple[float, float, float]
    season: tuple[float, float, float, float] = (1.0, 1.0, 1.0, 1.0)
    noise: float = 0.02
    gross_margin: float
    sga: float
    rnd: float
    tax_rate: float = 0.21
    interest_rate: float = 0.05
    nci_share: float = 0.0
    dso: float
    dio: float
    dpo: float
    capex: float
    depreciation: float
    payout: float = 0.0
    buyback: float = 0.0
    cash: float
    sti: float
    sti_drift: float = 0.0
    ppe: float
    goodwill: float
    other_ca: float
    other_nca: float
    other_cl: float
    other_ncl: float
    std: float
    ltd: float
    ltd_drift: float = 0.0
    nci: float = 0.0
    retained: float
    shares: float
    price: float
    min_cash: float
    missing_quarter: tuple[int, str] | None = None
    restated: tuple[int, str, str, float] | None = None
    size: float = 1.0


PROFILES: tuple[Profile, ...] = (
    Profile(
        entity_id="NOVA", entity_name="Nova Cloud Systems Inc.", sector="Technology", roles=("grower",),
        description="High-growth profitable grower: revenue +30-38% a year, 18% operating margin, no payout.",
        revenue=450_000, growth=(0.38, 0.34, 0.30), season=(0.97, 0.99, 1.0, 1.04),
        gross_margin=0.76, sga=0.34, rnd=0.24, interest_rate=0.01, dso=55, dio=0, dpo=30, capex=0.06,
        depreciation=0.06, cash=1_400_000, sti=900_000, sti_drift=0.03, ppe=350_000, goodwill=250_000,
        other_ca=120_000, other_nca=180_000, other_cl=420_000, other_ncl=90_000, std=0, ltd=600_000,
        retained=150_000, shares=110_000, price=180, min_cash=300_000,
    ),
    Profile(
        entity_id="ACME", entity_name="Acme Robotics Inc.", sector="Industrials",
        description="Industrial grower: revenue +22-25% a year, inventory-heavy, moderate debt.",
        revenue=320_000, growth=(0.22, 0.25, 0.24), season=(0.95, 1.0, 0.98, 1.07),
        gross_margin=0.41, sga=0.17, rnd=0.09, tax_rate=0.23, interest_rate=0.055, dso=62, dio=95, dpo=48,
        capex=0.07, depreciation=0.035, cash=260_000, sti=40_000, ppe=480_000, goodwill=120_000,
        other_ca=45_000, other_nca=60_000, other_cl=140_000, other_ncl=70_000, std=50_000, ltd=400_000,
        retained=420_000, shares=85_000, price=95, min_cash=100_000,
    ),
    Profile(
        entity_id="KOLA", entity_name="Kola Beverages Co.", sector="Consumer", roles=("cash_cow",),
        description="Mature cash cow: flat revenue, 30% operating margin, dividends and buybacks, low leverage.",
        revenue=2_500_000, growth=(0.01, 0.0, 0.01), season=(0.93, 1.06, 1.03, 0.98),
        gross_margin=0.61, sga=0.30, rnd=0.0, interest_rate=0.035, dso=32, dio=50, dpo=65, capex=0.04,
        depreciation=0.025, payout=0.6, buyback=0.25, cash=3_200_000, sti=1_100_000, sti_drift=0.005,
        ppe=4_000_000, goodwill=5_500_000, other_ca=400_000, other_nca=2_500_000, other_cl=1_300_000,
        other_ncl=1_800_000, std=250_000, ltd=3_500_000, retained=14_000_000, shares=1_050_000, price=62,
        min_cash=1_000_000,
    ),
    Profile(
        entity_id="VOLT", entity_name="Voltaris Motors Inc.", sector="Industrials", roles=("loss_maker",),
        description="Loss-maker burning cash: sells its investments, then borrows short-term to fund the burn.",
        revenue=150_000, growth=(0.12, 0.08, 0.05), gross_margin=0.04, sga=0.28, rnd=0.30,
        interest_rate=0.08, dso=40, dio=120, dpo=45, capex=0.15, depreciation=0.02, cash=350_000,
        sti=200_000, sti_drift=-0.3, ppe=900_000, goodwill=0, other_ca=30_000, other_nca=450_000,
        other_cl=60_000, other_ncl=40_000, std=20_000, ltd=300_000, retained=-800_000, shares=400_000,
        price=6, min_cash=60_000,
    ),
    Profile(
        entity_id="HRBR", entity_name="Harbor Lane Stores Inc.", sector="Consumer", fy_end_month=1,
        roles=("non_calendar", "seasonal"),
        description="Seasonal retailer, fiscal year ending 31 January: holiday Q4, stocks up (and may borrow) in Q3.",
        revenue=1_600_000, growth=(0.03, 0.04, 0.05), season=(0.88, 0.93, 0.90, 1.29),
        gross_margin=0.37, sga=0.30, rnd=0.0, tax_rate=0.24, dso=5, dio=85, dpo=50, capex=0.03,
        depreciation=0.03, payout=0.35, buyback=0.6, cash=300_000, sti=0, ppe=2_400_000, goodwill=300_000,
        other_ca=150_000, other_nca=900_000, other_cl=700_000, other_ncl=1_400_000, std=0, ltd=900_000,
        retained=1_900_000, shares=120_000, price=48, min_cash=250_000,
    ),
    Profile(
        entity_id="FRSH", entity_name="FreshCart Grocers Inc.", sector="Consumer", roles=("missing_quarter",),
        description="Thin-margin grocer whose Q2 FY2024 filing is missing from the inputs.",
        revenue=2_100_000, growth=(0.05, 0.06, 0.04), season=(1.0, 0.99, 0.98, 1.03),
        gross_margin=0.27, sga=0.235, rnd=0.0, tax_rate=0.24, dso=4, dio=24, dpo=26, capex=0.025,
        depreciation=0.035, payout=0.3, cash=380_000, sti=0, ppe=2_900_000, goodwill=450_000,
        other_ca=90_000, other_nca=600_000, other_cl=600_000, other_ncl=900_000, std=100_000,
        ltd=1_500_000, retained=1_300_000, shares=210_000, price=34, min_cash=200_000,
        missing_quarter=(2024, "Q2"),
    ),
    Profile(
        entity_id="PTRL", entity_name="Petrolia Energy Corp.", sector="Energy",
        description="Oil producer: falling prices, heavy capex, amortising debt, dividends and buybacks.",
        revenue=2_800_000, growth=(-0.08, -0.04, 0.02), season=(1.02, 0.98, 1.0, 1.0), noise=0.05,
        gross_margin=0.38, sga=0.05, rnd=0.005, tax_rate=0.24, interest_rate=0.055, dso=40, dio=20, dpo=55,
        capex=0.20, depreciation=0.028, payout=0.4, buyback=0.2, cash=1_800_000, sti=200_000,
        ppe=22_000_000, goodwill=900_000, other_ca=500_000, other_nca=2_500_000, other_cl=1_900_000,
        other_ncl=5_500_000, std=400_000, ltd=6_500_000, ltd_drift=-0.012, retained=9_500_000,
        shares=600_000, price=70, min_cash=800_000,
    ),
    Profile(
        entity_id="GRDN", entity_name="Gridline Utilities Corp.", sector="Energy",
        description="Regulated utility: steady revenue, high leverage, capex above depreciation, 70% payout.",
        revenue=1_400_000, growth=(0.03, 0.04, 0.03), season=(1.08, 0.90, 1.10, 0.92),
        gross_margin=0.52, sga=0.18, rnd=0.0, interest_rate=0.045, dso=45, dio=30, dpo=60, capex=0.35,
        depreciation=0.011, payout=0.7, cash=150_000, sti=0, ppe=32_000_000, goodwill=1_200_000,
        other_ca=300_000, other_nca=3_000_000, other_cl=1_100_000, other_ncl=6_000_000, std=600_000,
        ltd=15_000_000, ltd_drift=0.01, retained=4_500_000, shares=520_000, price=58, min_cash=100_000,
    ),
    Profile(
        entity_id="SOLR", entity_name="Solara Renewables SE", sector="Energy", currency="EUR", roles=("non_usd",),
        description="Euro-reporting renewables developer: fast growth funded by debt, summer-heavy output.",
        revenue=520_000, growth=(0.20, 0.18, 0.15), season=(0.90, 1.10, 1.10, 0.90),
        gross_margin=0.45, sga=0.12, rnd=0.03, tax_rate=0.25, interest_rate=0.04, dso=50, dio=15, dpo=60,
        capex=0.5, depreciation=0.012, payout=0.3, cash=600_000, sti=100_000, ppe=7_500_000, goodwill=200_000,
        other_ca=150_000, other_nca=600_000, other_cl=350_000, other_ncl=800_000, std=300_000, ltd=4_200_000,
        ltd_drift=0.02, retained=900_000, shares=250_000, price=28, min_cash=250_000,
    ),
    Profile(
        entity_id="MEDX", entity_name="Medexa Therapeutics Inc.", sector="Healthcare", roles=("restated",),
        description="Specialty pharma whose Q1 FY2024 revenue was first reported 4% too high, then corrected.",
        revenue=600_000, growth=(0.14, 0.12, 0.11), gross_margin=0.83, sga=0.36, rnd=0.24,
        interest_rate=0.045, dso=58, dio=160, dpo=55, capex=0.04, depreciation=0.03, buyback=0.3,
        cash=900_000, sti=700_000, sti_drift=0.01, ppe=500_000, goodwill=1_400_000, other_ca=120_000,
        other_nca=800_000, other_cl=380_000, other_ncl=300_000, std=0, ltd=1_200_000, retained=1_100_000,
        shares=160_000, price=120, min_cash=300_000, restated=(2024, "Q1", "revenue", 1.04),
    ),
    Profile(
        entity_id="CARE", entity_name="Carewell Health Systems Inc.", sector="Healthcare", roles=("nci",),
        description="Hospital operator with partly owned subsidiaries: 15% of net income goes to minorities.",
        revenue=3_200_000, growth=(0.06, 0.07, 0.05), gross_margin=0.36, sga=0.24, rnd=0.0, tax_rate=0.23,
        interest_rate=0.055, nci_share=0.15, dso=50, dio=8, dpo=30, capex=0.06, depreciation=0.025,
        payout=0.15, buyback=0.35, cash=700_000, sti=0, ppe=9_000_000, goodwill=6_000_000, other_ca=900_000,
        other_nca=2_000_000, other_cl=2_600_000, other_ncl=3_500_000, std=200_000, ltd=9_000_000,
        nci=900_000, retained=4_000_000, shares=270_000, price=150, min_cash=300_000,
    ),
    Profile(
        entity_id="BRIT", entity_name="Britwell Pharma plc", sector="Healthcare", currency="GBP",
        description="Sterling-reporting pharma: high gross margin, heavy R&D, steady dividend.",
        revenue=1_900_000, growth=(0.04, 0.05, 0.06), gross_margin=0.72, sga=0.31, rnd=0.19, tax_rate=0.25,
        interest_rate=0.04, dso=70, dio=200, dpo=90, capex=0.05, depreciation=0.03, payout=0.5, buyback=0.1,
        cash=1_500_000, sti=300_000, ppe=3_500_000, goodwill=4_000_000, other_ca=500_000, other_nca=6_000_000,
        other_cl=2_200_000, other_ncl=2_500_000, std=900_000, ltd=6_000_000, retained=3_000_000,
        shares=1_600_000, price=14, min_cash=500_000,
    ),
    Profile(
        entity_id="KAIZ", entity_name="Kaizen Precision K.K.", sector="Industrials", currency="JPY",
        fy_end_month=3,
        description="Yen-reporting machinery maker with a March fiscal year end (large yen amounts, thin margins).",
        revenue=180_000_000, growth=(0.02, 0.04, 0.03), season=(0.95, 0.98, 1.0, 1.07),
        gross_margin=0.29, sga=0.15, rnd=0.055, tax_rate=0.25, interest_rate=0.01, dso=80, dio=110, dpo=60,
        capex=0.05, depreciation=0.03, payout=0.3, buyback=0.05, cash=120_000_000, sti=30_000_000,
        ppe=260_000_000, goodwill=20_000_000, other_ca=25_000_000, other_nca=90_000_000,
        other_cl=70_000_000, other_ncl=50_000_000, std=40_000_000, ltd=110_000_000, retained=300_000_000,
        shares=380_000, price=3_200, min_cash=50_000_000,
    ),
    Profile(
        entity_id="CHIP", entity_name="Chipforge Semiconductor Corp.", sector="Technology", roles=("cyclical",),
        description="Cyclical chipmaker: revenue -18% in FY2023, then a recovery of +12% and +36%.",
        revenue=900_000, growth=(-0.18, 0.12, 0.36), noise=0.03, gross_margin=0.52, sga=0.11, rnd=0.21,
        interest_rate=0.045, dso=48, dio=120, dpo=50, capex=0.18, depreciation=0.04, payout=0.1, buyback=0.2,
        cash=1_100_000, sti=1_300_000, ppe=2_600_000, goodwill=700_000, other_ca=250_000, other_nca=500_000,
        other_cl=600_000, other_ncl=400_000, std=0, ltd=1_800_000, retained=2_800_000, shares=290_000,
        price=85, min_cash=400_000,
    ),
)
"""The sample's companies; ``n_companies`` beyond these are resized peers of them."""

ROLES: dict[str, str] = {role: p.entity_id for p in PROFILES for role in p.roles}
"""Which company plays which part, so tests and docs need not hard-code ids."""


@dataclass(frozen=True)
class SampleSummary:
    """What ``finreport sample`` wrote: the companies, the long file and its row count, the wide files, and the
    daily prices (the companies' and the market index's) with their row count."""

    entities: list[str]
    long_csv: Path
    wide_files: list[Path]
    rows: int
    prices_csv: Path | None = None
    price_rows: int = 0
    holdings_csv: Path | None = None
    portfolios: int = 0


@dataclass(frozen=True)
class Filing:
    """One filed set of figures for one period: a wide-file row, many long rows.

    Values are integers: thousands for money and shares, cents for per-share amounts.
    """

    fiscal_year: int
    fiscal_period: str
    start: date
    end: date
    filed: date
    values: dict[str, int]


@dataclass(frozen=True)
class Company:
    """One sample company: its profile and every report it filed, first publications of restated figures included."""

    profile: Profile
    reports: list[Filing]


def _add_months(first_of_month: date, months: int) -> date:
    m = first_of_month.month - 1 + months
    return date(first_of_month.year + m // 12, m % 12 + 1, 1)


def _quarter_dates(fiscal_year: int, fy_end_month: int, quarter: int) -> tuple[date, date]:
    """A fiscal year carries the calendar year in which it ends (FY2025 of a January year ends 2025-01-31)."""
    start = _add_months(date(fiscal_year, fy_end_month, 1), 3 * quarter - 11)
    return start, _add_months(start, 3) - timedelta(days=1)


def _per_share_cents(amount: int, shares: int) -> int:
    """Integer rounding, half away from zero, so EPS is the same on every platform."""
    cents = (abs(amount) * 200 + shares) // (2 * shares)
    return cents if amount >= 0 else -cents


def _simulate(p: Profile, rng: random.Random) -> list[dict[str, int]]:
    """Twelve quarters of statements built from one opening balance sheet.

    Every balance moves only through a flow that is also reported, and unreported balances
    (other assets and liabilities) stay constant, so the balance sheet keeps balancing and cash
    reconciles with the cash-flow statement without any plug.
    """
    k = p.size
    n = len(FISCAL_YEARS) * 4
    revenue: list[int] = []
    margins: list[float] = []
    for t in range(n + 1):
        year = min(t // 4, len(p.growth) - 1)
        annual = p.revenue * k * prod(1 + g for g in p.growth[1: year + 1])
        level = annual * (1 + p.growth[year]) ** ((t - 4 * year - 1.5) / 4)
        revenue.append(round(level * p.season[t % 4] * (1 + rng.uniform(-p.noise, p.noise))))
        margins.append(p.gross_margin + rng.uniform(-0.01, 0.01))
    cogs = [round(r * (1 - m)) for r, m in zip(revenue, margins, strict=True)]

    cash, sti, ppe = round(p.cash * k), round(p.sti * k), round(p.ppe * k)
    ar = round(revenue[0] * p.dso / _DAYS_PER_QUARTER)
    inv = round(cogs[0] * p.dio / _DAYS_PER_QUARTER)
    ap = round(cogs[0] * p.dpo / _DAYS_PER_QUARTER)
    std_base = std = round(p.std * k)
    ltd, nci, retained = round(p.ltd * k), round(p.nci * k), round(p.retained * k)
    goodwill, other_ca, other_nca = round(p.goodwill * k), round(p.other_ca * k), round(p.other_nca * k)
    other_cl, other_ncl, min_cash = round(p.other_cl * k), round(p.other_ncl * k), round(p.min_cash * k)
    shares, price = round(p.shares * k), p.price
    assets = cash + sti + ar + inv + other_ca + ppe + goodwill + other_nca
    equity = assets - (ap + std + other_cl + ltd + other_ncl) - nci
    expected_margin = (p.gross_margin - p.sga - p.rnd) * (1 - p.tax_rate) * (1 - p.nci_share)
    dividend = round(max(p.revenue * k * expected_margin, 0) * p.payout)

    quarters: list[dict[str, int]] = []
    for t in range(n):
        if t and t % 4 == 0:
            dividend = round(max(sum(q["net_income_parent"] for q in quarters[-4:]) / 4, 0) * p.payout)
        rev = revenue[t]
        gross = rev - cogs[t]
        sga, rnd = round(rev * p.sga), round(rev * p.rnd)
        operating = gross - sga - rnd
        interest = round((std + ltd) * p.interest_rate / 4)
        pretax = operating - interest
        tax = round(pretax * p.tax_rate) if pretax > 0 else 0
        net = pretax - tax
        minority = round(net * p.nci_share)
        parent = net - minority
        da = round(ppe * p.depreciation)
        capex = round(rev * p.capex)
        buyback = round(max(parent, 0) * p.buyback)

        new_ar = round(rev * p.dso / _DAYS_PER_QUARTER)
        new_inv = round(cogs[t + 1] * p.dio / _DAYS_PER_QUARTER)
        new_ap = round(cogs[t + 1] * p.dpo / _DAYS_PER_QUARTER)
        new_sti = round(sti * (1 + p.sti_drift))
        new_ltd = max(round(ltd * (1 + p.ltd_drift)), 0)
        ocf = net + da - (new_ar - ar) - (new_inv - inv) + (new_ap - ap)
        icf = -capex - (new_sti - sti)
        before_borrowing = cash + ocf + icf + (new_ltd - ltd) - dividend - buyback
        if before_borrowing < min_cash:
            new_std = std + min_cash - before_borrowing
        else:
            new_std = std - min(std - std_base, before_borrowing - min_cash) if std > std_base else std
        fcf = (new_ltd - ltd) + (new_std - std) - dividend - buyback
        change = ocf + icf + fcf

        cash += change
        ar, inv, ap, sti, ltd, std = new_ar, new_inv, new_ap, new_sti, new_ltd, new_std
        ppe += capex - da
        equity += parent - dividend - buyback
        retained += parent - dividend
        nci += minority
        shares -= round(buyback / price)
        price *= 1.02
        current_assets = cash + sti + ar + inv + other_ca
        current_liabilities = ap + std + other_cl
        total_liabilities = current_liabilities + ltd + other_ncl
        diluted = round(shares * 1.01)
        quarters.append({
            "revenue": rev, "cost_of_revenue": cogs[t], "gross_profit": gross, "sga_expense": sga,
            "rnd_expense": rnd, "operating_income": operating, "interest_expense": interest,
            "pretax_income": pretax, "income_tax": tax, "net_income": net, "net_income_parent": parent,
            "depreciation_amortization": da, "shares_diluted": diluted,
            "eps_diluted": _per_share_cents(parent, diluted),
            "cash": cash, "short_term_investments": sti, "receivables": ar, "inventory": inv,
            "current_assets": current_assets, "ppe_net": ppe, "goodwill": goodwill,
            "total_assets": current_assets + ppe + goodwill + other_nca, "payables": ap,
            "short_term_debt": std, "current_liabilities": current_liabilities, "long_term_debt": ltd,
            "total_liabilities": total_liabilities, "total_equity": equity, "noncontrolling_interest": nci,
            "retained_earnings": retained, "shares_outstanding": shares,
            "operating_cash_flow": ocf, "capex": capex, "investing_cash_flow": icf, "financing_cash_flow": fcf,
            "dividends_paid": dividend, "share_repurchases": buyback, "net_change_in_cash": change,
        })
    return quarters


def _fiscal_year(quarters: list[dict[str, int]]) -> dict[str, int]:
    """Flows add up over the year, balances are the year-end ones, shares are the year's average."""
    year = dict(quarters[-1])
    for item in LABELS:
        meta = items()[item]
        if meta.kind == "flow" and meta.unit == "currency":
            year[item] = sum(q[item] for q in quarters)
    year["shares_diluted"] = (sum(q["shares_diluted"] for q in quarters) + 2) // 4
    year["eps_diluted"] = _per_share_cents(year["net_income_parent"], year["shares_diluted"])
    return year


def simulate(p: Profile, rng: random.Random) -> Company:
    """Quarter and year reports with filing dates, minus the missing quarter, plus the restated original."""
    quarters = _simulate(p, rng)
    reports: list[Filing] = []
    for y, fiscal_year in enumerate(FISCAL_YEARS):
        year_quarters = quarters[4 * y: 4 * y + 4]
        for q, (period, values) in enumerate(zip(QUARTERS, year_quarters, strict=True)):
            start, end = _quarter_dates(fiscal_year, p.fy_end_month, q)
            filed = end + timedelta(days=40 + rng.randint(-3, 3))
            if p.missing_quarter == (fiscal_year, period):
                continue
            if p.restated and p.restated[:2] == (fiscal_year, period):
                item, factor = p.restated[2], p.restated[3]
                original = {item: round(values[item] * factor)}
                reports.append(Filing(fiscal_year, period, start, end, filed - timedelta(days=16), original))
            reports.append(Filing(fiscal_year, period, start, end, filed, values))
        start = _quarter_dates(fiscal_year, p.fy_end_month, 0)[0]
        end = _quarter_dates(fiscal_year, p.fy_end_month, 3)[1]
        reports.append(Filing(fiscal_year, "FY", start, end, end + timedelta(days=60 + rng.randint(-3, 3)),
                               _fiscal_year(year_quarters)))
    return Company(p, reports)


def _profiles(n_companies: int, rng: random.Random) -> list[Profile]:
    """The base companies first, then resized peers with their own ids, so any count is reproducible."""
    if n_companies < 1:
        raise ValueError(f"n_companies must be at least 1, got {n_companies}")
    out = list(PROFILES[:n_companies])
    for i in range(len(PROFILES), n_companies):
        base = PROFILES[i % len(PROFILES)]
        peer = i // len(PROFILES)
        out.append(replace(base, entity_id=f"{base.entity_id}{peer}", entity_name=f"{base.entity_name} (peer {peer})",
                           roles=(), size=rng.uniform(0.3, 3.0)))
    return out


def _companies(seed: int, n_companies: int) -> list[Company]:
    """Each company draws from its own stream, so adding companies never changes the earlier ones."""
    profiles = _profiles(n_companies, random.Random(f"{seed}/profiles"))
    return [simulate(p, random.Random(f"{seed}/{i}")) for i, p in enumerate(profiles)]


def _is_per_share(item: str) -> bool:
    return items()[item].unit == "currency_per_share"


def _text(value: int, per_share: bool, thousands: bool) -> str:
    """Exact decimal text: money and shares as integers, per-share amounts with two decimals."""
    if per_share:
        return f"{value / 100:.2f}"
    return str(value if thousands else value * 1000)


def _facts(companies: list[Company]) -> Iterator[tuple[Profile, Filing, str, int]]:
    for company in companies:
        for report in company.reports:
            for item in LABELS:
                if item in report.values:
                    yield company.profile, report, item, report.values[item]


def generate(seed: int = 7, n_companies: int = 14) -> list[dict[str, Any]]:
    """The long table's rows as typed values (dates as ``date``, values in currency units), without files."""
    statements = {item: items()[item].statement for item in LABELS}
    per_share = {item: _is_per_share(item) for item in LABELS}
    return [
        {
            "entity_id": p.entity_id,
            "entity_name": p.entity_name,
            "sector": p.sector,
            "fiscal_year": r.fiscal_year,
            "fiscal_period": r.fiscal_period,
            "period_start": None if statements[item] == "balance" else r.start,
            "period_end": r.end,
            "statement": statements[item],
            "item": item,
            "value": value / 100 if per_share[item] else value * 1000.0,
            "currency": p.currency,
            "filed": r.filed,
        }
        for p, r, item, value in _facts(_companies(seed, n_companies))
    ]


def write_long(companies: Sequence[Company], path: Path) -> int:
    """The companies' reports as the canonical long CSV (amounts in units); returns the rows written."""
    statements = {item: items()[item].statement for item in LABELS}
    per_share = {item: _is_per_share(item) for item in LABELS}
    rows = 0
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(LONG_COLUMNS)
        for company in companies:
            p = company.profile
            for r in company.reports:
                head = (p.entity_id, p.entity_name, p.sector, r.fiscal_year, r.fiscal_period)
                start, end, filed = r.start.isoformat(), r.end.isoformat(), r.filed.isoformat()
                lines = [
                    (*head, "" if statements[item] == "balance" else start, end, statements[item], item,
                     _text(r.values[item], per_share[item], thousands=False), p.currency, filed)
                    for item in LABELS
                    if item in r.values
                ]
                writer.writerows(lines)
                rows += len(lines)
    return rows


def write_sample(out: Path, seed: int = 7, n_companies: int = 14, as_of: date | None = None) -> SampleSummary:
    """Write ``long/facts.csv``, ``wide/<entity_id>.csv``, ``prices/prices.csv`` (daily, to ``as_of``, today
    by default; :func:`write_prices`), ``prices/benchmarks.csv`` (each share against the index, and its country),
    and ``portfolios/holdings.csv`` with ``portfolios/fx_rates.csv`` (:func:`write_portfolios`) under ``out``.

    Wide files left over from an earlier, larger sample are removed: both formats must hold the
    same facts, and an ingest of ``out`` would otherwise pick up companies the long file lacks.
    """
    companies = _companies(seed, n_companies)
    long_dir, wide_dir = out / "long", out / "wide"
    long_dir.mkdir(parents=True, exist_ok=True)
    wide_dir.mkdir(parents=True, exist_ok=True)

    per_share = {item: _is_per_share(item) for item in LABELS}
    long_csv = long_dir / "facts.csv"
    rows = write_long(companies, long_csv)

    wide_files = []
    for company in companies:
        p = company.profile
        path = wide_dir / f"{p.entity_id}.csv"
        with path.open("w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f, lineterminator="\n")
            writer.writerow((*WIDE_ID_COLUMNS, *LABELS.values()))
            for r in sorted(company.reports, key=lambda r: (r.end, r.fiscal_period == "FY", r.filed)):
                writer.writerow((
                    p.entity_id, p.entity_name, p.sector, r.fiscal_year, r.fiscal_period, r.start.isoformat(),
                    r.end.isoformat(), p.currency, r.filed.isoformat(), WIDE_SCALE,
                    *(_text(r.values[item], per_share[item], thousands=True) if item in r.values else ""
                      for item in LABELS),
                ))
        wide_files.append(path)
    for stale in set(wide_dir.glob("*.csv")) - set(wide_files):
        stale.unlink()
    prices_csv = out / "prices" / "prices.csv"
    price_rows = write_prices(companies, prices_csv, seed, as_of or date.today())
    write_benchmarks(companies, out / "prices" / "benchmarks.csv")
    holdings_csv = out / "portfolios" / "holdings.csv"
    portfolios = write_portfolios(companies, prices_csv, holdings_csv, seed)
    return SampleSummary([c.profile.entity_id for c in companies], long_csv, wide_files, rows, prices_csv,
                         price_rows, holdings_csv, portfolios)


MARKET_INDEX = "SMPLX"
"""The sample's market index: a benchmark like any other entity, in the prices file beside the companies."""
PRICE_START = date(2020, 1, 2)
"""The first trading day of the sample's prices: five years and more before its last statements."""
_HOLIDAYS = {(1, 1), (7, 4), (12, 25)}
_CLOSED = (date(2024, 12, 24), date(2024, 12, 26))
"""The market's holiday closure: with the weekend before, no close from 2024-12-20 to 2024-12-27 (a gap of a
week, not more: the prices' reader says nothing of it)."""
_HALT_DAYS = 10
"""Trading days the loss-maker's shares are halted in March 2025: a gap of more than a week, said as a finding."""
_SPLIT = date(2026, 6, 15)
"""The grower splits 2-for-1 on the first trading day from here, after its last balance sheet: the split is in
the prices (declared), and a valuation puts its shares on the new basis."""
_MULTIPLE = {"Technology": 30.0, "Healthcare": 22.0, "Consumer": 20.0, "Industrials": 17.0, "Energy": 11.0}
"""The price-earnings multiple a profitable company of each sector trades at, around which its price moves."""
_BETA = {"grower": 1.4, "loss_maker": 1.8, "cash_cow": 0.6, "cyclical": 1.5}


def trading_days(first: date, last: date) -> list[date]:
    """Weekdays from ``first`` to ``last`` but the sample market's holidays and its Christmas 2024 closure."""
    days, day = [], first
    while day <= last:
        if day.weekday() < 5 and (day.month, day.day) not in _HOLIDAYS and not _CLOSED[0] <= day <= _CLOSED[1]:
            days.append(day)
        day += timedelta(days=1)
    return days


def _quarters(company: Company) -> list[Filing]:
    """The company's quarters in order, each as last filed (a restated figure: its restatement)."""
    latest = {(r.fiscal_year, r.fiscal_period): r for r in sorted(company.reports, key=lambda r: r.filed)}
    return sorted((r for r in latest.values() if r.fiscal_period != "FY"), key=lambda r: r.end)


def _fair_prices(company: Company) -> list[tuple[date, float]]:
    """(filed date, price) at each quarter's filing: the sector's P/E over the last four quarters' net income,
    or, over a loss, 1.2 times book value (0.6 times sales where equity is negative too), per share."""
    quarters = _quarters(company)
    multiple = _MULTIPLE.get(company.profile.sector, 18.0) * (1.5 if "grower" in company.profile.roles else 1.0)
    out = []
    for i in range(3, len(quarters)):
        last = quarters[i - 3: i + 1]
        earnings = sum(q.values.get("net_income", 0) for q in last)
        sales = sum(q.values.get("revenue", 0) for q in last)
        equity, shares = quarters[i].values.get("total_equity", 0), quarters[i].values.get("shares_outstanding", 0)
        if shares <= 0:
            continue
        cap = multiple * earnings if earnings > 0 else 1.2 * equity if equity > 0 else 0.6 * sales
        out.append((quarters[i].filed, cap / shares))
    return out


def _dividends(company: Company, days: Sequence[date]) -> dict[date, float]:
    """Each quarter's dividends paid per share, going ex 45 days after the quarter ends (the next trading day); after
    the last quarter filed, the last dividend goes on every quarter, as a company that pays one keeps paying."""
    out: dict[date, float] = {}
    quarters = _quarters(company)
    for r in quarters:
        paid, shares = abs(r.values.get("dividends_paid", 0)), r.values.get("shares_outstanding", 0)
        if not paid or not shares:
            continue
        when = r.end
        while (ex := next((d for d in days if d >= when + timedelta(days=45)), None)) is not None:
            out[ex] = round(paid / shares, 4)
            if r is not quarters[-1]:
                break
            when = _add_months(date(when.year, when.month, 1), 4) - timedelta(days=1)  # the next quarter's end
    return out


COUNTRIES = {"USD": "United States", "EUR": "Germany", "GBP": "United Kingdom", "JPY": "Japan"}
"""The country each sample company is listed in, by the currency it reports in."""


def write_benchmarks(companies: Sequence[Company], path: Path) -> None:
    """A sectors file beside the prices that measures every company's share against :data:`MARKET_INDEX` (its
    ``benchmark`` column) and gives its country, so that the prices folder is all a run needs to add for the
    market analytics and the portfolios' country exposure."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(("entity_id", "sector", "benchmark", "country"))
        writer.writerows((c.profile.entity_id, c.profile.sector, MARKET_INDEX, COUNTRIES[c.profile.currency])
                         for c in companies)


PORTFOLIOS: tuple[tuple[str, str, str, dict[str, float]], ...] = (
    ("DIVERSIFIED", "Diversified US equity", "USD", {e: 100_000.0 for e in (
        "ACME", "CARE", "CHIP", "FRSH", "GRDN", "HRBR", "KOLA", "MEDX", "NOVA", "PTRL", "VOLT")}),
    ("CONVICTION", "High-conviction growth", "USD", {"ACME": 400_000.0, "VOLT": 250_000.0, "CHIP": 200_000.0,
                                                     "NOVA": 150_000.0}),
    ("GLOBAL", "Global income (EUR)", "EUR", {"SOLR": 300_000.0, "BRIT": 300_000.0, "KOLA": 200_000.0,
                                              "GRDN": 200_000.0}),
)
"""The sample's portfolios: id, name, base currency, and the value of each holding in the base currency at the
last close (whole shares are bought, so the weights come out near these). Eleven US companies a little under a
tenth each; four growth names, a quarter in the loss-maker with a liquidity concern; a euro book holding shares
priced in euros, pounds and dollars."""
FX_START = {"EUR": 1.10, "GBP": 1.27, "JPY": 0.0070}
"""What one unit of each currency is worth in dollars on the first day of the sample's rates."""


def write_portfolios(companies: Sequence[Company], prices_csv: Path, holdings_csv: Path, seed: int) -> int:
    """``holdings.csv`` (:data:`PORTFOLIOS` by quantity, bought at the prices' last closes; undated: the books as
    they stand, at any as-of date) and ``fx_rates.csv`` beside it
    (each currency in dollars on every trading day of the prices: a random walk of 0.4% a day); returns how many
    portfolios were written (one that holds fewer than two of the sample's companies is left out)."""
    closes = pl.read_csv(prices_csv, schema_overrides={"date": pl.Date}).group_by("entity_id").agg(
        pl.col("date").last(), pl.col("close").last())
    last = dict(closes.select("entity_id", "close").iter_rows())
    day = closes["date"].max()
    currency = {c.profile.entity_id: c.profile.currency for c in companies}
    rng = random.Random(f"{seed}/fx")
    days = trading_days(PRICE_START, day)
    walks = {}
    for code, start in FX_START.items():
        rate, walk = start, []
        for _ in days:
            walk.append(rate)
            rate *= math.exp(rng.gauss(0.0, 0.004))
        walks[code] = walk
    usd = {code: walk[-1] for code, walk in walks.items()} | {"USD": 1.0}
    rows = []
    for portfolio_id, name, base, targets in PORTFOLIOS:
        held = {e: v for e, v in targets.items() if e in last}
        if len(held) < 2:
            continue
        for entity, value in held.items():
            quantity = round(value * usd[base] / usd[currency[entity]] / last[entity])
            rows.append((portfolio_id, name, entity, quantity, currency[entity], base))
    holdings_csv.parent.mkdir(parents=True, exist_ok=True)
    with holdings_csv.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(("portfolio_id", "portfolio_name", "entity_id", "quantity", "currency", "base_currency"))
        writer.writerows(rows)
    with (holdings_csv.parent / "fx_rates.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(("date", "currency", "rate_to_usd"))
        writer.writerows((d.isoformat(), code, f"{walk[k]:.6g}") for k, d in enumerate(days)
                         for code, walk in walks.items())
    return len({r[0] for r in rows})


def write_prices(companies: Sequence[Company], path: Path, seed: int, as_of: date) -> int:
    """Daily closes from :data:`PRICE_START` to ``as_of`` for each company and :data:`MARKET_INDEX`, in a long
    table (``entity_id, date, close, dividend, split_ratio, currency``); returns its rows. Each company moves with
    the market by its beta and on its own, and its price meets a plausible valuation at every quarter's filing
    (:func:`_fair_prices`), so P/E and P/B read as they should. Dividends go ex quarterly; the grower splits
    2-for-1 (declared); the loss-maker is halted for two weeks; the market closes over Christmas 2024."""
    days = trading_days(PRICE_START, as_of)
    rng = random.Random(f"{seed}/prices")
    market = [rng.gauss(0.0003, 0.011) for _ in days]
    rows: list[tuple[Any, ...]] = []
    level = 1000.0
    for day, move in zip(days, market, strict=True):
        level *= 1 + move
        rows.append((MARKET_INDEX, day, f"{level:.2f}", "", "", "USD"))
    for i, company in enumerate(companies):
        p, own = company.profile, random.Random(f"{seed}/prices/{i}")
        beta = next((b for role, b in _BETA.items() if role in p.roles), own.uniform(0.8, 1.2))
        spread = 0.03 if "loss_maker" in p.roles else own.uniform(0.01, 0.02)
        walk = [0.0]
        for move in market[1:]:
            walk.append(walk[-1] + beta * move + own.gauss(0.0, spread))
        fair = [(next((k for k, d in enumerate(days) if d >= when), None), price)
                for when, price in _fair_prices(company)]
        gaps = [(k, math.log(price) - walk[k]) for k, price in fair if k is not None and price > 0]  # walk to value
        closes = []
        for k, x in enumerate(walk):
            if not gaps:
                shift = math.log(50.0)
            elif k <= gaps[0][0]:
                shift = gaps[0][1]
            elif k >= gaps[-1][0]:
                shift = gaps[-1][1]
            else:
                (a, ga), (b, gb) = next(((g0, g1) for g0, g1 in pairwise(gaps) if g0[0] <= k <= g1[0]))
                shift = ga + (gb - ga) * (k - a) / (b - a)
            closes.append(math.exp(x + shift))
        dividends = _dividends(company, days)
        split = next((d for d in days if d >= _SPLIT), None) if "grower" in p.roles else None
        halted = set(days[next(k for k, d in enumerate(days) if d >= date(2025, 3, 10)):][:_HALT_DAYS]) \
            if "loss_maker" in p.roles and days[-1] >= date(2025, 3, 10) else set()
        for day, close in zip(days, closes, strict=True):
            if day in halted:
                continue
            ratio = 2.0 if split is not None and day >= split else 1.0
            rows.append((p.entity_id, day, f"{close / ratio:.2f}", f"{dividends[day] / ratio:.4f}"
                         if day in dividends else "", "2" if day == split else "", p.currency))
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(("entity_id", "date", "close", "dividend", "split_ratio", "currency"))
        writer.writerows((e, d.isoformat(), *rest) for e, d, *rest in rows)
    return len(rows)
