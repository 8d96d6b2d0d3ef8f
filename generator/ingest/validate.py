"""Row-level validation of an adapter's raw frame: parse, check, scale, map aliases; name every failure.

Apart from the amounts, input columns repeat a few distinct values (a handful of entities, periods,
dates and labels over millions of rows), so each column is dictionary-encoded and parsed once per
distinct value; rows only gather the results. Reason texts are built for the rejected rows alone.
"""

from __future__ import annotations

from collections.abc import Callable

import polars as pl

from generator.ingest.base import REJECTED_SCHEMA, TEXT_COLUMNS
from generator.schema import (
    CANONICAL_SCHEMA,
    FISCAL_PERIODS,
    LABEL_NOISE,
    STATEMENTS,
    alias_table,
    currencies,
    item_statements,
)

SCALES: dict[str, float] = {
    "1": 1.0, "units": 1.0, "unit": 1.0, "ones": 1.0,
    "thousands": 1e3, "thousand": 1e3, "000": 1e3, "1000": 1e3,
    "millions": 1e6, "million": 1e6, "1000000": 1e6,
    "billions": 1e9, "billion": 1e9, "1000000000": 1e9,
}

REQUIRED_VALUES: tuple[str, ...] = (
    "entity_id", "entity_name", "fiscal_year", "fiscal_period", "period_end", "item", "value", "currency",
)

ACCEPTED_SCHEMA: dict[str, pl.DataType] = {
    **CANONICAL_SCHEMA, "sector": pl.String(), "_file": pl.String(), "_line": pl.Int64(), "_raw": pl.String(),
}

_STRICT_NUMBER = r"^-?\$?(\d+|\d{1,3}(,\d{3})+)(\.\d+)?$"


class Dictionary:
    """A column as positions into its distinct values; ``map`` applies a function to the distinct values only."""

    def __init__(self, column: pl.Series) -> None:
        categorical = column if column.dtype == pl.Categorical else column.cast(pl.Categorical)
        codes = categorical.to_physical()
        used = codes.drop_nulls().unique()
        self.values = categorical.dtype.categories.to_series().gather(used)  # type: ignore[attr-defined]
        size = int(used.max() or 0) + 1 if used.len() else 0
        slots = pl.repeat(used.len(), size + 1, dtype=pl.UInt32, eager=True)
        if size:
            slots = slots.scatter(used, pl.int_range(used.len(), dtype=pl.UInt32, eager=True))
        self.position = slots.gather(codes.fill_null(size))
        """Row → index into ``values``; an absent cell points one past the end."""

    def map(self, fn: Callable[[pl.Series], pl.Series]) -> pl.Series:
        """``fn`` over the distinct values (and over null, for absent cells), gathered back to every row."""
        return self.lookup(fn(self.values), fn(pl.Series([None], dtype=pl.String)))

    def lookup(self, per_value: pl.Series, for_absent: pl.Series) -> pl.Series:
        """Results computed once per distinct value, gathered back to every row: ``per_value`` in the order of
        ``values``, ``for_absent`` for absent cells."""
        return per_value.append(for_absent.cast(per_value.dtype)).gather(self.position)


def _clean(values: pl.Series) -> pl.Series:
    stripped = values.str.strip_chars()
    return pl.select(pl.when(stripped != "").then(stripped)).to_series()


_INVISIBLE = "\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff"
"""Zero-width and bidirectional marks: text that reads as something else ("Trojan Source")."""


def _printable(values: pl.Series) -> pl.Series:
    """A name as one line of what it shows: control characters (a quoted CR LF in a CSV cell) become spaces, and
    invisible marks go. A name with a line break broke the graph's Turtle export and would break an e-mail header;
    one with a right-to-left override prints reversed."""
    return _clean(values.str.replace_all(r"[\x00-\x1f\x7f]+", " ").str.replace_all(f"[{_INVISIBLE}]+", "")
                  .str.replace_all(r" {2,}", " "))


def _date(values: pl.Series) -> pl.Series:
    return _clean(values).str.to_date("%Y-%m-%d", strict=False)


def _year(values: pl.Series) -> pl.Series:
    """``2024`` or ``2024.0`` (spreadsheets write years as floats), never ``2024.5``; 1900–2200."""
    number = _clean(values).cast(pl.Float64, strict=False)
    ok = number.is_finite() & (number == number.floor()) & number.is_between(1900, 2200)
    return pl.select(pl.when(ok).then(number.cast(pl.Int32, strict=False))).to_series()


def _scale(values: pl.Series) -> pl.Series:
    cleaned = _clean(values)
    scale = cleaned.str.to_lowercase().replace_strict(SCALES, default=None, return_dtype=pl.Float64)
    return pl.select(pl.when(cleaned.is_null()).then(1.0).otherwise(scale)).to_series()


def _numbers(raw: pl.Series) -> pl.Series:
    """Plain numbers cast directly; only the few that fail try statement style: ``1,234``, ``$12.5``, ``(1,234)``."""
    text = raw.str.strip_chars()
    number = text.cast(pl.Float64, strict=False)
    retry = number.is_null() & text.is_not_null()
    if not retry.any():
        return number
    where = retry.arg_true()
    odd = text.gather(where)
    paren = odd.str.starts_with("(") & odd.str.ends_with(")")
    inner = pl.select(pl.when(paren).then(pl.lit("-") + odd.str.slice(1, odd.str.len_chars() - 2)).otherwise(odd)
                      ).to_series().str.replace(r"^-\$|^\$-", "-$")
    cleaned = pl.select(pl.when(inner.str.contains(_STRICT_NUMBER))
                        .then(inner.str.replace_all(r"[,$]", "").cast(pl.Float64, strict=False))).to_series()
    return number.scatter(where, cleaned)


def _item_table(labels: pl.Series) -> pl.DataFrame:
    """Per distinct label: canonical item, printed sign, its statement, where else it may be printed, unit."""
    keys = _clean(labels).str.to_lowercase().str.replace_all(LABEL_NOISE, "")
    frame = pl.DataFrame({"key": keys}).with_row_index("__order")
    frame = frame.join(alias_table(), on="key", how="left").join(item_statements(), on="item", how="left")
    return frame.sort("__order")


def _as_category(values: pl.Series) -> pl.Series:
    return values.cast(pl.Categorical)


def parse(raw: pl.DataFrame) -> pl.DataFrame:
    """What the checks and the accepted rows need, parsed once per distinct value and gathered to the rows.

    Text comes out dictionary-encoded (categorical); reason texts are built later, for rejected rows only.
    """
    d = {c: Dictionary(raw.get_column(c)) for c in TEXT_COLUMNS}
    items_found, no_item = _item_table(d["item"].values), _item_table(pl.Series([None], dtype=pl.String))

    def text(column: str, fn: Callable[[pl.Series], pl.Series] = _clean) -> pl.Series:
        return d[column].map(lambda v: _as_category(fn(v)))

    def item(name: str) -> pl.Series:
        found, absent = items_found[name], no_item[name]
        if found.dtype == pl.String:
            found, absent = _as_category(found), _as_category(absent)
        return d["item"].lookup(found, absent)

    pairs = pl.DataFrame({"item": d["item"].position, "statement": d["statement"].position})
    value = raw.get_column("value").str.strip_chars()
    return pl.DataFrame({
        "entity_id": text("entity_id"),
        "entity_name": text("entity_name", _printable),
        "sector": text("sector", _printable),
        "fiscal_period": text("fiscal_period", lambda v: _clean(v).str.to_uppercase()),
        "currency": text("currency", lambda v: _clean(v).str.to_uppercase()),
        "__year_given": d["fiscal_year"].map(lambda v: _clean(v).is_not_null()),
        "__year": d["fiscal_year"].map(_year),
        "__period_ok": d["fiscal_period"].map(lambda v: _clean(v).str.to_uppercase().is_in(FISCAL_PERIODS)),
        "__end_given": d["period_end"].map(lambda v: _clean(v).is_not_null()),
        "__end": d["period_end"].map(_date),
        "__start_given": d["period_start"].map(lambda v: _clean(v).is_not_null()),
        "__start": d["period_start"].map(_date),
        "__filed_given": d["filed"].map(lambda v: _clean(v).is_not_null()),
        "__filed": d["filed"].map(_date),
        "__statement_given": d["statement"].map(lambda v: _clean(v).is_not_null()),
        "__statement_known": d["statement"].map(lambda v: _clean(v).str.to_lowercase().is_in(STATEMENTS)),
        "__statement_fits": _statement_fits(pairs, d["statement"].values, items_found),
        "__currency_ok": d["currency"].map(lambda v: _clean(v).str.to_uppercase().is_in(sorted(currencies()))),
        "__scale": d["scale"].map(_scale),
        "__label_given": d["item"].map(lambda v: _clean(v).is_not_null()),
        "__item": item("item"),
        "printed_sign": item("printed_sign"),
        "item_statement": item("item_statement"),
        "item_unit": item("item_unit"),
        "__number": _numbers(raw.get_column("value")),
        "__value_given": value.is_not_null() & (value != ""),
        "_file": raw.get_column("_file"),
        "_line": raw.get_column("_line"),
        "_column": raw.get_column("_column"),
        "_printed": raw.get_column("_printed"),
        "_source": raw.get_column("_source"),
        "__problem": raw.get_column("__problem"),
        "__problem_at": raw.get_column("__problem_at"),
    })


def _statement_fits(pairs: pl.DataFrame, statements: pl.Series, items_found: pl.DataFrame) -> pl.Series:
    """Whether a row's declared statement may print its item, judged once per distinct (item, statement)."""
    distinct = pairs.unique()
    allowed = items_found["allowed_statements"].append(pl.Series([None], dtype=pl.List(pl.String)))
    named = statements.str.strip_chars().str.to_lowercase().append(pl.Series([None], dtype=pl.String))
    judged = distinct.with_columns(
        __fits=pl.Series(named.gather(distinct["statement"])).is_null()
        | pl.Series(allowed.gather(distinct["item"])).list.contains(named.gather(distinct["statement"]))
        .fill_null(True)
    )
    return pairs.join(judged, on=["item", "statement"], how="left", maintain_order="left")["__fits"]


def _checks() -> list[tuple[str, pl.Expr, Callable[[pl.DataFrame], pl.Expr]]]:
    """(column, failed, reason) in the order a row is judged; the first failure names the row.

    A reason is an expression over the rejected rows' own text (see ``_texts``).
    """
    def quoted(text: str) -> pl.Expr:
        return pl.lit("'") + pl.col(text) + pl.lit("'")

    c = pl.col
    given = {"entity_id": c("entity_id").is_not_null(), "entity_name": c("entity_name").is_not_null(),
             "fiscal_year": c("__year_given"), "fiscal_period": c("fiscal_period").is_not_null(),
             "period_end": c("__end_given"), "item": c("__label_given"), "value": c("__value_given"),
             "currency": c("currency").is_not_null()}
    empty = pl.lit("required value is empty")
    checks: list[tuple[str, pl.Expr, pl.Expr]] = [("", c("__problem").is_not_null(), c("__problem"))]
    checks += [(col, ~given[col], empty) for col in REQUIRED_VALUES]
    checks += [
        ("entity_id", c("entity_id").cast(pl.String).str.contains(f"[\\x00-\\x1f\\x7f{_INVISIBLE}]"),
         pl.lit("entity_id contains a control or invisible character (a line break, tab, zero-width or "
                "right-to-left mark): an id is one line of visible text")),
        ("fiscal_year", c("__year").is_null(), pl.lit("not a fiscal year: ") + quoted("fiscal_year")),
        ("fiscal_period", ~c("__period_ok"),
         pl.lit("unknown fiscal period ") + quoted("fiscal_period") + pl.lit(" (expected FY, Q1, Q2, Q3 or Q4)")),
        ("period_end", c("__end").is_null(),
         pl.lit("unparseable date ") + quoted("period_end") + pl.lit(" (expected YYYY-MM-DD)")),
        ("period_start", c("__start_given") & c("__start").is_null(),
         pl.lit("unparseable date ") + quoted("period_start") + pl.lit(" (expected YYYY-MM-DD)")),
        ("filed", c("__filed_given") & c("__filed").is_null(),
         pl.lit("unparseable date ") + quoted("filed") + pl.lit(" (expected YYYY-MM-DD)")),
        ("period_start", c("__start") > c("__end"),
         pl.lit("period_start ") + c("period_start") + pl.lit(" is after period_end ") + c("period_end")),
        ("value", c("__number").is_null(), pl.lit("unparseable number ") + quoted("value")),
        ("value", c("__number").is_infinite() | c("__number").is_nan(),
         pl.lit("not a finite number: ") + quoted("value")),
        ("currency", ~c("__currency_ok"),
         pl.lit("unknown currency ") + quoted("currency") + pl.lit(" (not an ISO 4217 code)")),
        ("scale", c("__scale").is_null(),
         pl.lit("unknown scale ") + quoted("scale") + pl.lit(" (expected units, thousands, millions or billions)")),
        ("value", (c("__number") * _applied_scale()).is_infinite(),
         pl.lit("out of range: ") + quoted("value") + pl.lit(" × ") + quoted("scale") + pl.lit(" is no finite number")),
        ("item", c("__item").is_null(), pl.lit("unmapped item ") + quoted("item")),
        ("statement", c("__statement_given") & ~c("__statement_known"),
         pl.lit("unknown statement ") + quoted("statement") + pl.lit(" (expected income, balance or cashflow)")),
        ("statement", ~c("__statement_fits"),
         pl.lit("statement ") + quoted("statement") + pl.lit(" does not match item '") + c("__item")
         + pl.lit("', which belongs to the ") + c("item_statement") + pl.lit(" statement")),
    ]
    return checks  # type: ignore[return-value]


def _applied_scale() -> pl.Expr:
    """Per-share amounts are never scaled, as statements print them ("in thousands, except per-share amounts")."""
    return pl.when(pl.col("item_unit") == "currency_per_share").then(1.0).otherwise(pl.col("__scale"))


def _texts(raw: pl.DataFrame, parsed: pl.DataFrame) -> pl.DataFrame:
    """The rejected rows' input text, cleaned as the checks saw it, for their reasons."""
    cleaned = [pl.col(c).cast(pl.String).str.strip_chars().alias(c) for c in TEXT_COLUMNS]
    upper = [pl.col(c).str.to_uppercase() for c in ("fiscal_period", "currency")]
    return raw.select(*cleaned, pl.col("value").str.strip_chars()).with_columns(
        *upper, pl.col("statement").str.to_lowercase()
    ).with_columns(
        [pl.when(pl.col(c) != "").then(pl.col(c)).alias(c) for c in (*TEXT_COLUMNS, "value")]
    ).with_columns(
        __item=parsed.get_column("__item").cast(pl.String),
        item_statement=parsed.get_column("item_statement").cast(pl.String),
        __problem=parsed.get_column("__problem"),
        __problem_at=parsed.get_column("__problem_at"),
        _file=parsed.get_column("_file").cast(pl.String),
        _line=parsed.get_column("_line"),
        _column=parsed.get_column("_column").cast(pl.String),
    )


def _where(column: str) -> pl.Expr:
    """The input column to point at: in layouts with one column per item, the cell's own header; for a
    problem the adapter found, the column or JSON path it named."""
    if not column:
        return pl.col("__problem_at")
    if column in ("value", "item"):
        return pl.col("_column").fill_null(column)
    return pl.lit(column)


def validate(raw: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Row-level checks on an adapter's frame → (typed accepted rows, rejected rows).

    The first failing check names the row's reason; a row either passes every check or is rejected.
    Balance-sheet items are instants, so their ``period_start`` is dropped; per-share amounts are never
    scaled, as statements print them ("in thousands, except per-share amounts").
    """
    parsed = parse(raw)
    checks = _checks()
    verdict = parsed.select(
        pl.coalesce([pl.when(bad.fill_null(False)).then(pl.lit(i, pl.Int8)) for i, (_, bad, _) in enumerate(checks)])
    ).to_series()
    failed = verdict.is_not_null()
    texts = _texts(raw.filter(failed), parsed.filter(failed)).with_columns(__check=verdict.filter(failed))
    rejected = texts.select(
        file=pl.col("_file"),
        line=pl.col("_line"),
        column=pl.coalesce([pl.when(pl.col("__check") == i).then(_where(col)) for i, (col, _, _) in enumerate(checks)]),
        entity_id=pl.col("entity_id"),
        item=pl.col("item"),
        value=pl.col("value"),
        reason=pl.coalesce([pl.when(pl.col("__check") == i).then(r) for i, (_, _, r) in enumerate(checks)]),
    )
    good = parsed.filter(~failed)
    sign = pl.when(pl.col("_printed").fill_null(False)).then(pl.col("printed_sign")).otherwise(1).cast(pl.Float64)
    scale = _applied_scale()
    accepted = good.select(
        entity_id=pl.col("entity_id"),
        entity_name=pl.col("entity_name"),
        fiscal_year=pl.col("__year"),
        fiscal_period=pl.col("fiscal_period"),
        period_start=pl.when(pl.col("item_statement") != "balance").then(pl.col("__start")),
        period_end=pl.col("__end"),
        statement=pl.col("item_statement"),
        item=pl.col("__item"),
        value=pl.when(pl.col("__number") == 0).then(0.0).otherwise(pl.col("__number") * scale * sign),  # no -0.0
        currency=pl.col("currency"),
        filed=pl.col("__filed"),
        source=pl.coalesce(
            pl.col("_source"),
            pl.concat_str(pl.col("_file").cast(pl.String), pl.lit(":"), pl.col("_line").cast(pl.String),
                          (pl.lit(" [") + pl.col("_column").cast(pl.String) + pl.lit("]")).fill_null("")),
        ),
        sector=pl.col("sector"),
        _file=pl.col("_file"),
        _line=pl.col("_line"),
        _raw=raw.get_column("value").filter(~failed).str.strip_chars(),
    )
    return accepted.cast(ACCEPTED_SCHEMA), rejected.cast(REJECTED_SCHEMA)  # type: ignore[arg-type]


def empty_accepted() -> pl.DataFrame:
    """Accepted rows, none yet: where ingest starts, so that a run with every file refused still has every column."""
    return pl.DataFrame(schema=ACCEPTED_SCHEMA)


def empty_rejected() -> pl.DataFrame:
    """Rejected rows, none yet: where ingest starts, so that ``rejected.csv`` has its header even when it is empty."""
    return pl.DataFrame(schema=REJECTED_SCHEMA)
