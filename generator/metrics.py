"""The metric registry: each metric declared once, evaluated with Polars over all entities at once.

Metric names are part of the output contract (DESIGN.md). Ratios are fractions. A metric whose inputs
are missing or whose denominator is zero is absent with its reason, never NaN or inf. Banks, insurers and
REITs (see ``industry``) get their own ratios, which no other company gets a row for, and an industrial
ratio that says nothing about them is absent with that reason.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import polars as pl

from generator import market
from generator.industry import INDUSTRIES, Industry, classify, not_meaningful
from generator.periods import KEYS, derive, pivot, trailing_twelve_months, with_prior
from generator.schema import canonical_items, items

Unit = Literal["fraction", "multiple", "days", "currency", "score", "shares", "currency_per_share"]
Favourable = Literal["higher", "lower", "neutral"]
Frequency = Literal["all", "annual", "quarter"]

METRIC_SCHEMA: dict[str, pl.DataType] = {
    "entity_id": pl.String(),
    "fiscal_year": pl.Int32(),
    "fiscal_period": pl.String(),
    "metric": pl.String(),
    "value": pl.Float64(),
    "reason": pl.String(),
}
"""One row per entity, period and metric: the value, or null and the reason it is absent."""

MISSING_BITS = 24
"""Status codes: bit k set = input k missing; then zero denominators; then a non-finite result; then negative
denominators; then an industry the metric says nothing about."""
NOT_MEANINGFUL_CODE = 1 << (MISSING_BITS + 6)


@dataclass(frozen=True)
class Metric:
    """``frequency``: ``all`` periods, ``annual`` (FY rows; mixes flows with balances), or ``quarter`` only.
    ``ttm``: also computed on quarter rows with trailing-twelve-month flows, as ``<name>_ttm``.
    ``optional``: inputs that count as zero when not reported (a REIT that sold no property tags no gain).
    ``industries``: the only industries the metric is computed for; other companies get no row for it."""

    name: str
    formula: str
    inputs: tuple[str, ...]
    compute: Callable[[], pl.Expr] | None
    """The Polars expression of the value; None for a market metric (:mod:`generator.market` computes those)."""
    unit: Unit
    category: str
    favourable: Favourable
    description: str
    nonzero: tuple[str, ...] = ()
    frequency: Frequency = "all"
    ttm: bool = False
    positive: tuple[str, ...] = ()
    """The metric's domain: inputs (or TERMS) that must not be negative. A ratio over negative equity, years of
    negative EBITDA or cash per unit of a loss says nothing: "not meaningful", as analysts write."""
    optional: tuple[str, ...] = ()
    industries: tuple[Industry, ...] = ()


c = pl.col


def _ratio(name: str, num: str, den: str, unit: Unit, category: str, favourable: Favourable, description: str,
           frequency: Frequency = "all", ttm: bool = True, positive: bool = False,
           industries: tuple[Industry, ...] = ()) -> Metric:
    return Metric(name, f"{num} / {den}", (num, den), lambda: c(num) / c(den), unit, category, favourable,
                  description, (den,), frequency, ttm, (den,) if positive else (), industries=industries)


def _growth(name: str, item: str, prior: Literal["year", "quarter"], description: str) -> Metric:
    before = f"{item}_prior_{prior}"
    return Metric(
        name, f"({item} − {before}) / |{before}|", (item, before), lambda: (c(item) - c(before)) / c(before).abs(),
        "fraction", "growth", "higher", description, (before,),
        "quarter" if prior == "quarter" else "all", prior == "year",
    )


def _altman() -> pl.Expr:
    assets = c("total_assets")
    return (
        6.56 * (c("current_assets") - c("current_liabilities")) / assets
        + 3.26 * c("retained_earnings") / assets
        + 6.72 * c("operating_income") / assets
        + 1.05 * c("total_equity") / c("total_liabilities")
    )


def _piotroski() -> pl.Expr:
    def signal(condition: pl.Expr) -> pl.Expr:
        return condition.cast(pl.Int32)

    roa = c("net_income") / c("total_assets")
    roa_before = c("net_income_prior_year") / c("total_assets_prior_year")
    leverage = c("long_term_debt") / c("total_assets")
    leverage_before = c("long_term_debt_prior_year") / c("total_assets_prior_year")
    current = c("current_assets") / c("current_liabilities")
    current_before = c("current_assets_prior_year") / c("current_liabilities_prior_year")
    margin = c("gross_profit") / c("revenue")
    margin_before = c("gross_profit_prior_year") / c("revenue_prior_year")
    turnover = c("revenue") / c("total_assets")
    turnover_before = c("revenue_prior_year") / c("total_assets_prior_year")
    return (
        signal(roa > 0) + signal(c("operating_cash_flow") > 0) + signal(roa > roa_before)
        + signal(c("operating_cash_flow") > c("net_income")) + signal(leverage < leverage_before)
        + signal(current > current_before) + signal(c("shares_outstanding") <= c("shares_outstanding_prior_year"))
        + signal(margin > margin_before) + signal(turnover > turnover_before)
    ).cast(pl.Float64)


_PIOTROSKI_INPUTS = (
    "net_income", "total_assets", "operating_cash_flow", "net_income_prior_year", "total_assets_prior_year",
    "long_term_debt", "long_term_debt_prior_year", "current_assets", "current_liabilities",
    "current_assets_prior_year", "current_liabilities_prior_year", "shares_outstanding",
    "shares_outstanding_prior_year", "gross_profit", "revenue", "gross_profit_prior_year", "revenue_prior_year",
)


def _combined_ratio() -> pl.Expr:
    costs = c("policyholder_benefits_and_claims") + c("policy_acquisition_costs") + c("other_underwriting_expense")
    return costs / c("premiums_earned")


def _ffo() -> pl.Expr:
    return c("net_income") + c("depreciation_amortization") - c("real_estate_sale_gains").fill_null(0.0)


_BANK: tuple[Industry, ...] = ("bank",)
_INSURER: tuple[Industry, ...] = ("insurer",)
_REIT: tuple[Industry, ...] = ("reit",)
_FFO_INPUTS = ("net_income", "depreciation_amortization", "real_estate_sale_gains")
_FFO_FORMULA = "net_income + depreciation_amortization − real_estate_sale_gains (zero when none is reported)"


def _industry_ratios() -> list[Metric]:
    """The ratios analysts read for banks, insurers and REITs, from the items those companies tag."""
    return [
        _ratio("net_interest_margin_proxy", "net_interest_income", "total_assets", "fraction", "banking", "higher",
               "Net interest income over ending total assets: a proxy for the net interest margin, whose average "
               "earning assets filings do not tag", "annual", industries=_BANK),
        Metric("loans_to_deposits", "(loans + loans_held_for_sale) / deposits",
               ("loans", "loans_held_for_sale", "deposits"),
               lambda: (c("loans") + c("loans_held_for_sale").fill_null(0.0)) / c("deposits"), "fraction", "banking",
               "neutral", "Loans held for investment and, where tagged, for sale per unit of deposits: high means "
               "tight liquidity, low means idle funding", ("deposits",), optional=("loans_held_for_sale",),
               industries=_BANK),
        _ratio("equity_to_assets", "total_equity", "total_assets", "fraction", "capital", "higher",
               "Shareholders' equity over total assets: the capital that absorbs losses before depositors or "
               "policyholders do", ttm=False, industries=("bank", "insurer")),
        Metric("efficiency_ratio", "noninterest_expense / (net_interest_income + noninterest_income)",
               ("noninterest_expense", "net_interest_income", "noninterest_income"),
               lambda: c("noninterest_expense") / (c("net_interest_income") + c("noninterest_income")), "fraction",
               "banking", "lower", "Operating expenses per unit of revenue (net interest plus noninterest income)",
               ttm=True, industries=_BANK),
        _ratio("cost_of_risk", "provision_for_credit_losses", "loans", "fraction", "banking", "lower",
               "Provision for credit losses over ending loans held for investment (the loans that carry an allowance)",
               "annual", industries=_BANK),
        _ratio("loss_ratio", "policyholder_benefits_and_claims", "premiums_earned", "fraction", "insurance", "lower",
               "Benefits, claims and claim adjustment expenses per unit of premiums earned", industries=_INSURER),
        Metric("expense_ratio", "(policy_acquisition_costs + other_underwriting_expense) / premiums_earned",
               ("policy_acquisition_costs", "other_underwriting_expense", "premiums_earned"),
               lambda: (c("policy_acquisition_costs") + c("other_underwriting_expense")) / c("premiums_earned"),
               "fraction", "insurance", "lower", "Underwriting expenses per unit of premiums earned",
               ("premiums_earned",), ttm=True, industries=_INSURER),
        Metric("combined_ratio",
               "(policyholder_benefits_and_claims + policy_acquisition_costs + other_underwriting_expense)"
               " / premiums_earned",
               ("policyholder_benefits_and_claims", "policy_acquisition_costs", "other_underwriting_expense",
                "premiums_earned"),
               _combined_ratio, "fraction", "insurance", "lower",
               "Loss ratio plus expense ratio: below 1 the insurer makes money on underwriting before investment "
               "income", ("premiums_earned",), ttm=True, industries=_INSURER),
        Metric("ffo", _FFO_FORMULA, _FFO_INPUTS, _ffo, "currency", "real_estate", "higher",
               "Funds from operations (proxy): net income with depreciation added back and gains on property sales "
               "taken out", ttm=True, optional=("real_estate_sale_gains",), industries=_REIT),
        Metric("ffo_per_share", f"({_FFO_FORMULA}) / shares_diluted", (*_FFO_INPUTS, "shares_diluted"),
               lambda: _ffo() / c("shares_diluted"), "currency_per_share", "real_estate", "higher",
               "Funds from operations (proxy) per diluted share", ("shares_diluted",),
               optional=("real_estate_sale_gains",), industries=_REIT),
    ]


_MORE_IS_BETTER = {"revenue", "gross_profit", "operating_income", "net_income", "net_income_parent",
                   "operating_cash_flow", "eps_diluted"}


def _line_items() -> list[Metric]:
    """Every canonical item is also reported as itself, so a report reads all its numbers from one place."""
    out = []
    for name in canonical_items():
        item = items()[name]
        additive = item.kind == "flow" and item.unit == "currency"
        out.append(Metric(name, name, (name,), lambda n=name: c(n), item.unit, f"line_item:{item.statement}",
                          "higher" if name in _MORE_IS_BETTER else "neutral", item.description, (), "all", additive))
    return out


REGISTRY: tuple[Metric, ...] = (
    *_line_items(),
    Metric("ebitda", "operating_income + depreciation_amortization", ("operating_income", "depreciation_amortization"),
           lambda: c("operating_income") + c("depreciation_amortization"), "currency", "profitability", "higher",
           "Earnings before interest, taxes, depreciation and amortization", ttm=True),
    Metric("free_cash_flow", "operating_cash_flow − capex", ("operating_cash_flow", "capex"),
           lambda: c("operating_cash_flow") - c("capex"), "currency", "cash_flow", "higher",
           "Cash from operations left after capital expenditure", ttm=True),
    Metric("net_debt", "total_debt − cash", ("total_debt", "cash"), lambda: c("total_debt") - c("cash"), "currency",
           "leverage", "lower", "Debt not covered by cash on hand"),
    Metric("working_capital", "current_assets − current_liabilities", ("current_assets", "current_liabilities"),
           lambda: c("current_assets") - c("current_liabilities"), "currency", "liquidity", "higher",
           "Current assets in excess of current liabilities"),
    _growth("revenue_growth_yoy", "revenue", "year", "Revenue change against the same period a year earlier"),
    _growth("revenue_growth_qoq", "revenue", "quarter", "Revenue change against the previous quarter"),
    _growth("net_income_growth_yoy", "net_income", "year",
            "Net income change against the same period a year earlier (relative to the absolute base)"),
    _ratio("gross_margin", "gross_profit", "revenue", "fraction", "profitability", "higher",
           "Share of revenue left after cost of revenue"),
    _ratio("operating_margin", "operating_income", "revenue", "fraction", "profitability", "higher",
           "Share of revenue left as operating income"),
    _ratio("net_margin", "net_income", "revenue", "fraction", "profitability", "higher",
           "Share of revenue left as net income"),
    Metric("ebitda_margin", "(operating_income + depreciation_amortization) / revenue",
           ("operating_income", "depreciation_amortization", "revenue"),
           lambda: (c("operating_income") + c("depreciation_amortization")) / c("revenue"), "fraction",
           "profitability", "higher", "EBITDA as a share of revenue", ("revenue",), ttm=True),
    _ratio("current_ratio", "current_assets", "current_liabilities", "multiple", "liquidity", "higher",
           "Current assets per unit of current liabilities", ttm=False),
    Metric("quick_ratio", "(cash + short_term_investments + receivables) / current_liabilities",
           ("cash", "short_term_investments", "receivables", "current_liabilities"),
           lambda: (c("cash") + c("short_term_investments") + c("receivables")) / c("current_liabilities"),
           "multiple", "liquidity", "higher", "Liquid assets (excluding inventory) per unit of current liabilities",
           ("current_liabilities",)),
    Metric("cash_ratio", "(cash + short_term_investments) / current_liabilities",
           ("cash", "short_term_investments", "current_liabilities"),
           lambda: (c("cash") + c("short_term_investments")) / c("current_liabilities"), "multiple", "liquidity",
           "higher", "Cash and short-term investments per unit of current liabilities", ("current_liabilities",)),
    _ratio("debt_to_equity", "total_debt", "total_equity", "multiple", "leverage", "lower",
           "Total debt per unit of shareholders' equity", ttm=False, positive=True),
    _ratio("liabilities_to_equity", "total_liabilities", "total_equity", "multiple", "leverage", "lower",
           "Total liabilities per unit of shareholders' equity", ttm=False, positive=True),
    _ratio("debt_to_assets", "total_debt", "total_assets", "fraction", "leverage", "lower",
           "Share of assets financed by debt", ttm=False),
    _ratio("interest_coverage", "operating_income", "interest_expense", "multiple", "leverage", "higher",
           "Operating income per unit of interest expense"),
    Metric("net_debt_to_ebitda", "(total_debt − cash) / (operating_income + depreciation_amortization)",
           ("total_debt", "cash", "operating_income", "depreciation_amortization"),
           lambda: (c("total_debt") - c("cash")) / (c("operating_income") + c("depreciation_amortization")),
           "multiple", "leverage", "lower", "Years of EBITDA needed to repay net debt", ("operating_income",),
           "annual", True, positive=("ebitda",)),
    _ratio("roe", "net_income_parent", "total_equity", "fraction", "returns", "higher",
           "Net income attributable to shareholders over ending equity", "annual", positive=True),
    Metric("roe_avg", "net_income_parent / ((total_equity + total_equity_prior_year) / 2)",
           ("net_income_parent", "total_equity", "total_equity_prior_year"),
           lambda: c("net_income_parent") / ((c("total_equity") + c("total_equity_prior_year")) / 2), "fraction",
           "returns", "higher", "Net income attributable to shareholders over average of opening and ending equity",
           ("total_equity",), "annual", True, ("total_equity", "total_equity_prior_year")),
    _ratio("roa", "net_income", "total_assets", "fraction", "returns", "higher",
           "Net income over ending total assets", "annual"),
    _ratio("asset_turnover", "revenue", "total_assets", "multiple", "efficiency", "higher",
           "Revenue per unit of ending total assets", "annual"),
    Metric("dso", "receivables / revenue × days in period", ("receivables", "revenue"),
           lambda: c("receivables") / c("revenue") * c("__days"), "days", "efficiency", "lower",
           "Days of sales outstanding in receivables", ("revenue",), "all", True),
    _ratio("inventory_turnover", "cost_of_revenue", "inventory", "multiple", "efficiency", "higher",
           "Cost of revenue per unit of ending inventory", "annual"),
    _ratio("fcf_margin", "free_cash_flow", "revenue", "fraction", "cash_flow", "higher",
           "Free cash flow as a share of revenue"),
    _ratio("cash_conversion", "operating_cash_flow", "net_income", "multiple", "cash_flow", "higher",
           "Operating cash flow per unit of net income", positive=True),
    Metric("altman_z_double_prime",
           "6.56·(current_assets − current_liabilities)/total_assets + 3.26·retained_earnings/total_assets"
           " + 6.72·operating_income/total_assets + 1.05·total_equity/total_liabilities",
           ("current_assets", "current_liabilities", "retained_earnings", "operating_income", "total_assets",
            "total_equity", "total_liabilities"),
           _altman, "score", "risk", "higher",
           "Altman Z'' score for non-manufacturers: below 1.1 distress, 1.1 to 2.6 grey zone, above 2.6 safe",
           ("total_assets", "total_liabilities"), "annual", True),
    Metric("piotroski_f_score", "count of nine profitability, leverage and efficiency signals", _PIOTROSKI_INPUTS,
           _piotroski, "score", "risk", "higher",
           "Piotroski F-score (0-9): ROA > 0, CFO > 0, ROA up, CFO > net income, leverage down, current ratio up,"
           " no dilution, gross margin up, asset turnover up",
           ("total_assets", "total_assets_prior_year", "current_liabilities", "current_liabilities_prior_year",
            "revenue", "revenue_prior_year"), "annual", True),
    *_industry_ratios(),
)
"""Every metric of the output contract. ``free_cash_flow`` is a metric and also the input of ``fcf_margin``."""

BY_NAME: dict[str, Metric] = {m.name: m for m in REGISTRY}


def metric_names() -> list[str]:
    """Every metric of the output contract, trailing-twelve-month variants included: the names facts.json, the
    ontology's snapshot properties and the narrators use."""
    return [m.name for m in REGISTRY] + [f"{m.name}_ttm" for m in REGISTRY if m.ttm]


def _market_definitions() -> dict[str, Metric]:
    """The market and valuation metrics (:mod:`generator.market`) as registry entries, for the readers of a
    definition (narrators, reports): computed by :func:`generator.market.market_table`, not here."""
    units: dict[str, Unit] = {"fraction": "fraction", "ratio": "score", "multiple": "multiple", "currency": "currency"}
    out = {name: Metric(name, m.description, (), None, units[m.unit],
                        "market" if m in market.MEASURES else "valuation", m.favourable, m.description)
           for name, m in market.BY_NAME.items()}
    for ratio in market.RELATIVE:
        m = market.BY_NAME[ratio]
        out[f"{ratio}_vs_sector"] = Metric(
            f"{ratio}_vs_sector", f"{ratio} / the median {ratio} of the sector's companies", (), None, "multiple",
            "valuation", m.favourable, f"{market.LABELS[ratio]} as a multiple of its sector's median")
        out[f"{ratio}_sector_median"] = Metric(
            f"{ratio}_sector_median", f"median {ratio} of the sector's companies with one", (), None,
            units[m.unit], "valuation", "neutral", f"the median {market.LABELS[ratio]} of the company's sector")
    return out


MARKET_DEFINITIONS = _market_definitions()
"""Market metric id → its entry (``volatility_1y``, ``pe_ttm_vs_sector``)."""


def _portfolio(name: str, unit: Unit, favourable: Favourable, label: str, formula: str) -> Metric:
    """A portfolio figure's entry: its formula in words, and its label as the description (what reports name it)."""
    return Metric(name, formula, (), None, unit, "portfolio", favourable, label)


PORTFOLIO_DEFINITIONS: dict[str, Metric] = {m.name: m for m in (
    _portfolio("market_value", "currency", "neutral", "market value",
               "the holdings' quantities × their last closes, in the base currency at that day's FX rates"),
    _portfolio("holdings_count", "score", "neutral", "number of holdings", "the companies the portfolio holds"),
    _portfolio("holding_weight", "fraction", "neutral", "a holding's weight", "a holding's share of the value"),
    _portfolio("top_1", "fraction", "lower", "largest holding's weight", "the largest holding's share of the value"),
    _portfolio("top_5", "fraction", "lower", "five largest holdings' weight",
               "the five largest holdings' share of the value"),
    _portfolio("top_10", "fraction", "lower", "ten largest holdings' weight",
               "the ten largest holdings' share of the value"),
    _portfolio("herfindahl", "score", "lower", "Herfindahl index", "the sum of the squared weights"),
    _portfolio("effective_holdings", "score", "higher", "effective number of holdings",
               "1 / the Herfindahl index: how many equal holdings would be as concentrated"),
    _portfolio("largest_sector_weight", "fraction", "lower", "largest sector's weight",
               "the share of the value in the sector that holds the most"),
    _portfolio("weighted_net_margin", "fraction", "higher", "weighted net margin",
               "the holdings' net margins weighted by value, over those with one"),
    _portfolio("weighted_debt_to_equity", "multiple", "lower", "weighted debt to equity",
               "the holdings' debt to equity weighted by value, over those with one"),
    _portfolio("weighted_current_ratio", "multiple", "higher", "weighted current ratio",
               "the holdings' current ratios weighted by value, over those with one"),
    _portfolio("harmonic_pe", "multiple", "lower", "harmonic P/E",
               "1 / the holdings' earnings yields weighted by value: the portfolio's earnings over its value"),
    _portfolio("loss_share", "fraction", "lower", "share in loss-makers",
               "the share of the value (with statements) in holdings whose report period was a loss"),
    _portfolio("top_contributor_share", "fraction", "lower", "largest contribution to volatility",
               "the largest holding contribution's share of the one-year volatility"),
)}
"""A portfolio's own figures (:mod:`generator.portfolio`) as registry entries, for narrators and reports; its risk
measures are the market ones (``volatility_1y``), and the share of its value carrying a company flag is
``<flag>_share`` (``liquidity_concern_share``, :func:`flag_share`)."""


def flag_share(flag: str) -> str:
    """The portfolio figure of the share of its value carrying a company flag: LiquidityConcern →
    ``liquidity_concern_share``."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", flag).lower() + "_share"


def _flag_share_definition(name: str) -> Metric:
    words = name.removesuffix("_share").replace("_", " ")
    return _portfolio(name, "fraction", "lower", f"share in {words}",
                      f"the share of the portfolio's value in holdings the reasoner classified {words}")


def definition(name: str) -> Metric:
    """The registry entry of a metric; a ``_ttm`` variant is defined by its base metric; a market metric by its
    measure."""
    if name in BY_NAME:
        return BY_NAME[name]
    if name in PORTFOLIO_DEFINITIONS:
        return PORTFOLIO_DEFINITIONS[name]
    if name.endswith("_share") and name not in MARKET_DEFINITIONS:
        return _flag_share_definition(name)
    return MARKET_DEFINITIONS[name] if name in MARKET_DEFINITIONS else BY_NAME[name.removesuffix("_ttm")]


TERMS: dict[str, Callable[[], pl.Expr]] = {"ebitda": lambda: c("operating_income") + c("depreciation_amortization")}
"""Sums a metric's domain may name besides its inputs."""


def _term(name: str) -> pl.Expr:
    return TERMS[name]() if name in TERMS else pl.col(name)


def _not_meaningful(metric: Metric) -> pl.Expr:
    """The status code of a company whose industry the metric says nothing about; null for the others."""
    codes = {i: NOT_MEANINGFUL_CODE + INDUSTRIES.index(i) for i in not_meaningful(metric.name)}
    return pl.col("industry").replace_strict(codes, default=None, return_dtype=pl.Int64)


def _status(metric: Metric) -> pl.Expr:
    """0 when the value stands, else a code naming why it is absent (decoded once per distinct code)."""
    missing = pl.sum_horizontal([pl.col(i).is_null().cast(pl.Int64) * (1 << k) for k, i in enumerate(metric.inputs)
                                 if i not in metric.optional])
    irrelevant = _not_meaningful(metric)
    status = pl.when(irrelevant.is_not_null()).then(irrelevant).when(missing > 0).then(missing)
    for k, den in enumerate(metric.nonzero):
        status = status.when(pl.col(den) == 0).then(pl.lit((1 << MISSING_BITS) + k, pl.Int64))
    for k, den in enumerate(metric.positive):
        status = status.when(_term(den) < 0).then(pl.lit((1 << (MISSING_BITS + 5)) + k, pl.Int64))
    value = metric.compute()
    return status.when(value.is_nan() | value.is_infinite()).then(pl.lit(1 << (MISSING_BITS + 4), pl.Int64)) \
        .otherwise(pl.lit(0, pl.Int64))


def _reason(metric: Metric, status: int) -> str:
    if status >= NOT_MEANINGFUL_CODE:
        return not_meaningful(metric.name)[INDUSTRIES[status - NOT_MEANINGFUL_CODE]]
    if status >= 1 << (MISSING_BITS + 5):
        return f"{metric.positive[status - (1 << (MISSING_BITS + 5))]} is negative: not meaningful"
    if status >= 1 << (MISSING_BITS + 4):
        return "not a finite result"
    if status >= 1 << MISSING_BITS:
        return f"{metric.nonzero[status - (1 << MISSING_BITS)]} is zero"
    return "missing input: " + ", ".join(i for k, i in enumerate(metric.inputs) if status >> k & 1)


def _evaluate(metrics: list[tuple[str, Metric]], frame: pl.DataFrame) -> pl.DataFrame:
    """Values and status codes of several metrics over one frame, as long rows."""
    if frame.is_empty() or not metrics:
        return pl.DataFrame(schema={**{k: METRIC_SCHEMA[k] for k in KEYS}, "metric": pl.String, "value": pl.Float64,
                                    "__status": pl.Int64})
    wide = frame.select(
        pl.col("entity_id").cast(pl.String), "fiscal_year", pl.col("fiscal_period").cast(pl.String),
        *[pl.struct(value=m.compute(), status=_status(m)).alias(name) for name, m in metrics],
    )
    long = wide.unpivot(index=KEYS, variable_name="metric", value_name="__v").unnest("__v")
    return long.select(*KEYS, "metric", value=pl.when(pl.col("status") == 0).then(pl.col("value")),
                       __status=pl.col("status"))


@dataclass
class Analysis:
    """``base``: one row per entity and period (derived items, prior periods and the company's ``industry``
    attached); ``ttm``: quarter rows with trailing-twelve-month flows; ``metrics``: the long table of values
    and reasons; ``industries``: each company's industry and what decided it."""

    base: pl.DataFrame
    ttm: pl.DataFrame
    metrics: pl.DataFrame
    industries: pl.DataFrame


def prior_columns() -> list[str]:
    """Items some metric reads a year or a quarter back."""
    wanted = {i.rsplit("_prior_", 1)[0] for m in REGISTRY for i in m.inputs if "_prior_" in i}
    return sorted(wanted)


def _scoped(metrics: list[tuple[str, Metric]], frame: pl.DataFrame) -> list[pl.DataFrame]:
    """Each metric over the rows of the companies it is computed for (every company, or its industries')."""
    scopes = dict.fromkeys(m.industries for _, m in metrics)
    return [_evaluate([(n, m) for n, m in metrics if m.industries == scope],
                      frame.filter(pl.col("industry").is_in(scope)) if scope else frame) for scope in scopes]


def compute_metrics(facts: pl.DataFrame, reported: pl.DataFrame | None = None,
                    sectors: pl.DataFrame | None = None) -> Analysis:
    """All metrics for all entities and periods: one long table with value or reason per row.

    ``reported`` is ``pivot(facts)`` when the caller already has it (the accounting checks need it too);
    ``sectors`` is what a sectors file declared (``ingest.sectors``), whose SIC codes may fix industries.
    """
    base = derive(pivot(facts) if reported is None else reported)
    industries = classify(base, sectors)
    base = base.join(industries.select("entity_id", "industry"), on="entity_id", how="left", maintain_order="left")
    free_cash = BY_NAME["free_cash_flow"].compute().alias("free_cash_flow")
    lagged = prior_columns()
    ttm = with_prior(trailing_twelve_months(base).with_columns(free_cash), lagged)
    base = with_prior(base.with_columns(free_cash), lagged)
    rows = {"all": base, "annual": base.filter(pl.col("fiscal_period") == "FY"),
            "quarter": base.filter(pl.col("fiscal_period") != "FY")}
    parts = [part for f, frame in rows.items()
             for part in _scoped([(m.name, m) for m in REGISTRY if m.frequency == f], frame)]
    parts += _scoped([(f"{m.name}_ttm", m) for m in REGISTRY if m.ttm], ttm)
    long = pl.concat(parts)
    codes = long.filter(pl.col("__status") > 0).select("metric", "__status").unique()
    reasons = codes.with_columns(
        reason=pl.struct("metric", "__status").map_elements(
            lambda r: _reason(definition(r["metric"]), r["__status"]), return_dtype=pl.String)
    )
    metrics = long.join(reasons, on=["metric", "__status"], how="left").select(list(METRIC_SCHEMA))
    return Analysis(base, ttm, metrics, industries)


_LABELS = {"roe": "ROE", "roe_avg": "ROE on average equity", "roa": "ROA", "dso": "DSO", "ebitda": "EBITDA",
           "ebitda_margin": "EBITDA margin", "net_debt_to_ebitda": "net debt to EBITDA", "sga_expense": "SG&A expense",
           "rnd_expense": "R&D expense", "eps_diluted": "diluted EPS", "shares_diluted": "diluted shares",
           "ppe_net": "net PP&E", "depreciation_amortization": "depreciation and amortisation",
           "net_income_parent": "net income attributable to the parent",
           "fcf_margin": "FCF margin", "altman_z_double_prime": "Altman Z''", "piotroski_f_score": "Piotroski F-score",
           "ffo": "FFO", "ffo_per_share": "FFO per share",
           "net_interest_margin_proxy": "net interest margin (proxy on total assets)",
           "revenue_growth_yoy": "revenue growth on a year earlier", "revenue_growth_qoq": "revenue growth on the "
           "previous quarter", "net_income_growth_yoy": "net income growth on a year earlier"}


def label(name: str) -> str:
    """How a report names a metric: "current ratio", "ROE", "Altman Z''", "… (TTM)", "one-year volatility"."""
    if name in MARKET_DEFINITIONS:
        return market.label(name)
    if name in PORTFOLIO_DEFINITIONS or (name.endswith("_share") and name not in BY_NAME):
        return definition(name).description  # a portfolio figure's entry holds its label
    base = name.removesuffix("_ttm")
    return _LABELS.get(base, base.replace("_", " ")) + (" (TTM)" if base != name else "")
