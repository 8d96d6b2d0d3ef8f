"""Numbers for people: 25.3%, 0.88x, $394.3bn, 41 days; never more precision than the data has."""

from __future__ import annotations

import math

CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "CHF": "CHF ", "CAD": "C$", "AUD": "A$"}
_SCALES = ((1e12, "tn"), (1e9, "bn"), (1e6, "m"), (1e3, "k"))


def money(value: float, currency: str = "USD") -> str:
    """$394.3bn, -€12.4m, ¥1,234: one decimal at a scale, whole units below a thousand."""
    symbol = CURRENCY_SYMBOLS.get(currency, f"{currency} ")
    sign = "-" if value < 0 else ""
    amount = abs(value)
    for threshold, suffix in _SCALES:
        if amount >= threshold:
            return f"{sign}{symbol}{amount / threshold:,.1f}{suffix}"
    return f"{sign}{symbol}{amount:,.0f}"


def percent(value: float, decimals: int = 1) -> str:
    """A fraction as a percentage: 0.253 → 25.3%."""
    return f"{value * 100:.{decimals}f}%"


def times(value: float) -> str:
    """A multiple: 0.8794 → 0.88x."""
    return f"{value:.2f}x"


def days(value: float) -> str:
    return f"{value:.0f} days"


def score(value: float) -> str:
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.2f}"


def shares(value: float) -> str:
    for threshold, suffix in _SCALES[:3]:
        if abs(value) >= threshold:
            return f"{value / threshold:,.1f}{suffix} shares"
    return f"{value:,.0f} shares"


def per_share(value: float, currency: str = "USD") -> str:
    return f"{'-' if value < 0 else ''}{CURRENCY_SYMBOLS.get(currency, currency + ' ')}{abs(value):,.2f}"


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
