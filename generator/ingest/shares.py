"""Share counts and per-share figures on one basis: splits applied, share counts tagged in thousands scaled.

A stock split changes every share count and per-share figure by one integer ratio; a later filing restates
the earlier periods it shows, but periods it does not show keep their pre-split figures. Read naively, the
restated ones look like restatements (Celsius's 3-for-1 split: FY2022 diluted EPS "restated from -2.63 to
-0.88") and the others stay on the old basis, so a trend across the split is off by the ratio. Here a split
is found where a later filing moves share counts and per-share figures of the same period by the same
integer ratio (both kinds must agree, so a share count restated for another reason is not taken for one);
every share or per-share figure filed before the first filing that shows the split is put on the post-split
basis, and the split is reported once, as an event.

Share counts are also tagged in thousands by mistake (Ondas's FY2025 10-K: 221,769 diluted shares for a
net loss of $133m and EPS of -$0.62). Net income over EPS gives the share count a filing must mean; a
count off by a factor of 1,000 or 1,000,000 is scaled, with a warning that names the filing.
"""

from __future__ import annotations

import polars as pl

from generator.rounding import unit, within_rounding
from generator.schema import FINDING_SCHEMA, items

c = pl.col
PERIOD = ["entity_id", "fiscal_year", "fiscal_period", "period_end"]
SCALES = (1_000.0, 1_000_000.0)
MAX_SPLITS = 20
"""More splits than any company has had in the years companyfacts covers; a bound, not a rule."""
MIN_EPS = 0.05
"""EPS below five cents is rounded too coarsely to say what share count it implies."""


def _power() -> pl.Expr:
    """How a split of ratio r moves an item's figure: share counts × r, per-share figures × r⁻¹, others not."""
    powers = {n: {"shares": 1.0, "currency_per_share": -1.0}.get(i.unit, 0.0) for n, i in items().items()}
    return c("item").replace_strict(powers, default=0.0, return_dtype=pl.Float64)


def on_one_basis(accepted: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(accepted rows with share figures on one basis, the events that moved them as findings)."""
    scaled, scale_events = _scale_thousands(accepted)
    split, split_events = _apply_splits(scaled)
    return split, pl.concat([scale_events, split_events])


def _latest(frame: pl.DataFrame, item: str) -> pl.DataFrame:
    return (frame.filter(c("item") == item).sort("filed", nulls_last=False)
            .group_by(PERIOD).agg(c("value").last().alias(item)))


def _scale_thousands(accepted: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Diluted share counts that net income over diluted EPS says are in thousands (or millions)."""
    implied = _latest(accepted, "eps_diluted").join(
        _latest(accepted, "net_income_parent"), on=PERIOD, how="inner"
    ).filter(c("eps_diluted").abs() >= MIN_EPS).select(
        *PERIOD, __implied=(c("net_income_parent") / c("eps_diluted")).abs())
    rows = accepted.with_row_index("__row").join(implied, on=PERIOD, how="left")
    factor = pl.lit(None, pl.Float64)
    for scale in SCALES:
        ratio = c("__implied") / c("value").abs()
        factor = pl.when((ratio > scale / 2) & (ratio < scale * 2)).then(pl.lit(scale)).otherwise(factor)
    rows = rows.with_columns(__factor=pl.when(c("item") == "shares_diluted").then(factor))
    events = [
        {"entity_id": r["entity_id"], "fiscal_year": r["fiscal_year"], "fiscal_period": r["fiscal_period"],
         "check": "share_count_scale", "severity": "warning",
         "message": f"diluted shares reported as {r['value']:,.0f} ({r['source']}): net income over diluted EPS gives "
                    f"{r['__implied']:,.0f}, so the figure was tagged in thousands; read as "
                    f"{r['value'] * r['__factor']:,.0f}",
         "facts": [{"name": "reported", "value": r["value"]}, {"name": "implied_by_eps", "value": r["__implied"]}]}
        for r in rows.filter(c("__factor").is_not_null()).iter_rows(named=True)
    ]
    fixed = rows.with_columns(
        value=pl.when(c("__factor").is_not_null()).then(c("value") * c("__factor")).otherwise(c("value")),
        source=pl.when(c("__factor").is_not_null())
        .then(c("source") + pl.lit(" × ") + c("__factor").cast(pl.Int64).cast(pl.String)
              + pl.lit(" (tagged in thousands)"))
        .otherwise(c("source")),
    )
    return fixed.sort("__row").select(accepted.columns), pl.DataFrame(events, schema=FINDING_SCHEMA)


def _candidates(accepted: pl.DataFrame) -> pl.DataFrame:
    """Consecutive filings of one period's share or per-share figure whose values differ by an integer ratio:
    entity, ratio (post-split shares per pre-split share, < 1 for a reverse split), first filing that shows it."""
    versions = (accepted.with_columns(__power=_power())
                .filter((c("__power") != 0) & c("filed").is_not_null() & (c("value") != 0))
                .sort("filed").with_columns(__before=c("value").shift(1).over([*PERIOD, "item"])))
    pairs = versions.filter(c("__before").is_not_null() & (c("__before") != c("value")))
    old, new = c("__before"), c("value")
    grown = (new / old).pow(c("__power"))  # the ratio itself: shares grow by it, per-share figures shrink
    whole = pl.when(grown >= 1).then(grown.round(0)).otherwise(-(1 / grown).round(0))
    ratio = pl.when(whole > 0).then(whole).otherwise(-1 / whole)
    moved = c("__ratio").pow(c("__power"))
    return (
        pairs.with_columns(__whole=whole, __ratio=ratio)
        .filter((c("__whole").abs() >= 2) & within_rounding(old * moved, new, unit(old) * moved, unit(new)))
        .select("entity_id", "fiscal_year", "fiscal_period", "period_end", "item", "__power", "__ratio", "filed",
                "source")
    )


def _splits(accepted: pl.DataFrame) -> pl.DataFrame:
    """One row per split: entity, ratio, the first filing that shows it and the period it restated there."""
    found = _candidates(accepted)
    agreed = found.group_by("entity_id", "__ratio").agg(
        c("__power").n_unique().alias("__kinds"), c("filed").min().alias("__first"))
    first = found.join(agreed.filter(c("__kinds") == 2), on=["entity_id", "__ratio"])
    return (first.filter(c("filed") == c("__first")).sort("period_end")
            .group_by("entity_id", "__ratio").agg(c("fiscal_year", "fiscal_period", "source", "__first").last()))


def _apply_splits(accepted: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Splits one at a time, earliest first, each found again on the figures the earlier ones adjusted: a figure
    filed before two splits (NVIDIA's 4-for-1 and 10-for-1) moves by their product when it is next filed, and
    would otherwise read as a third, 40-for-1 split."""
    power = _power()
    frame, notes = accepted, []
    for _ in range(MAX_SPLITS):
        splits = _splits(frame)
        if splits.is_empty():
            break
        for split in splits.sort("__first").group_by("entity_id", maintain_order=True).first().iter_rows(named=True):
            before = (c("entity_id") == split["entity_id"]) & (c("filed") < split["__first"]) & (power != 0)
            text = _ratio_text(split["__ratio"])
            frame = frame.with_columns(
                value=pl.when(before).then(c("value") * pl.lit(split["__ratio"]).pow(power)).otherwise(c("value")),
                source=pl.when(before).then(c("source") + pl.lit(f" (adjusted for the {text} stock split)"))
                .otherwise(c("source")),
            )
            notes.append({
                "entity_id": split["entity_id"], "fiscal_year": split["fiscal_year"],
                "fiscal_period": split["fiscal_period"], "check": "stock_split", "severity": "info",
                "message": f"{text} stock split, first shown in the figures filed {split['__first'].isoformat()} "
                           f"({split['source']}): share counts and per-share figures filed before then are restated "
                           f"on the post-split basis",
                "facts": [{"name": "ratio", "value": split["__ratio"]}],
            })
    return frame, pl.DataFrame(notes, schema=FINDING_SCHEMA)


def _ratio_text(ratio: float) -> str:
    return f"{ratio:.0f}-for-1" if ratio >= 1 else f"1-for-{1 / ratio:.0f} reverse"
