"""A table of a report (TAT-QA's tables) as :class:`~generator.ask.knowledge.Knowledge`, so ``finreport ask`` can
answer questions about it.

TAT-QA gives a table as a list of rows of strings. :func:`table_knowledge` reads it this way:

- **Header and body.** The header is the leading rows with no number in them other than a year (``"2019"``,
  ``"FY19"``, ``"30 June 2019"``); the body starts at the first row with a number. Rows with text in the first
  column only are titles above the header and section headers in the body (``"Transportation Solutions:"``). A
  row of years in the body (tables that stack two periods, each under its own header) starts a new block, read
  under its own header; the same label in two blocks is the same figure.
- **The company.** One: ``entity_id`` is the table's uid, its name "the table". Questions never name it; the caller
  passes it as the default company.
- **Fiscal years.** A column's header is its header cells stacked, a text header spread over the empty cells to
  its right ("Domestic | | International |"), and so is a row of years set out at a regular interval ("2019 | |
  2018 |" over "Amount | % of revenue"). A column whose header names exactly one year is a year column. When two
  year columns name the same year, the rest of their headers, less dates, units and scale notes, tells them apart
  and the figure's name carries it (``discount_rate_international``, ``services_pct_of_total_revenue``); a column
  that nothing tells apart from an earlier one is dropped. A column with no year, or with two (``Change``,
  ``% Change``, ``2019 vs 2018``), gives a figure of its own per row (``revenue_change``), dated the block's latest
  year, since such columns compare or qualify the latest year; two such columns with the same header are both
  dropped. A block with no year column but one year in its header ("December 31, 2019" over "Level 1 | Level 2")
  has all its columns so, dated that year. Years after the as-of date's year are left out: the table says nothing
  of when a fiscal year ends, so ``periods`` has one row per year with null start and end.
- **Figures.** One per body row (and per row and non-year column): the metric name is a slug of the row label,
  prefixed with its section when the label repeats under another section, and numbered when it repeats still
  (``_2``). The label is the row label as written, with the section, column or number in brackets when the name
  needed them. The unit is "fraction" when the cells are percentages (a ``%`` in most cells, or in the row label
  or every column header), "currency" when a cell or the header carries a currency sign or code (unless the label
  counts something: "Number of ...", "... shares"), else "plain".
- **Values.** As printed, in the table's scale: ``$1,234`` → 1234, ``(56)`` → -56, ``12.5%`` → 0.125 (a fraction;
  a row whose label or column says ``%`` is read so too: ``73.2`` → 0.732). An empty or dash cell is absent with
  the reason "empty cell"; a cell that is no number (``3-5``, ``Indefinite``) with "not a number: ..."; two blocks
  that disagree on a cell with "two values in the table". ``sources`` names the cell: row and column numbers count
  from 0 in the table as given.
- **Scale.** The word TAT-QA uses for the table's magnitude ("thousand", "million", "billion", or ""), read from
  its header and row labels ("(in thousands)", "$'000", "$ million", "€m", "USDm"), then its cells, or else from
  the text around the table when the caller passes it ("in thousands" there; not "a $43 million charge"). One word
  for the whole table: a table that prints shares in thousands and dollars in millions gets the one named first.

What it cannot map, and says so by raising :class:`TableError` with a countable ``reason``: tables with no year
columns and no one year in the header ("no year columns": option roll-forwards with "Number of Shares |
Weighted-Average Exercise Price" columns, maturity tables with "Less than 1 year | 1-3 years"), tables whose years
or dates are in the rows ("years are rows", "dated rows": "Balance at December 31, 2018"), tables with only future
years or no body. It reads no text around the table but for the scale, nor the row-wise scales some tables mix
("in millions, except per share amounts"), nor headers that do not line up with their columns.

:func:`tatqa_prediction` turns an answer of ``finreport ask`` into what TAT-QA's scorer reads.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from datetime import date

import polars as pl

from generator.ask.knowledge import PERIODS_SCHEMA, VALUES_SCHEMA, Company, Figure, Knowledge
from generator.errors import FinreportError


class TableError(FinreportError):
    """A table this adapter cannot map to figures by fiscal year; ``reason`` is a short, countable phrase."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


_DASHES = "-–—−"
_EMPTY = re.compile(rf"^[\s$€£¥*]*(?:[{_DASHES}]\s*)*%?\s*$|^(?:n/?a|nm|none|nil)$", re.IGNORECASE)
_NUMBER = re.compile(
    rf"""^(?P<neg1>[{_DASHES}])?\s*(?:[A-Z]{{0,3}}[$€£¥]|[$€£¥]|RMB|USD|EUR|GBP)?\s*(?P<open>\()?\s*
    (?P<neg2>[{_DASHES}])?\s*(?:[A-Z]{{0,3}}[$€£¥]|[$€£¥])?\s*
    (?P<num>\d{{1,3}}(?:,\d{{3}})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)\s*(?P<pct1>%)?\s*(?P<close>\))?\s*(?P<pct2>%)?$""",
    re.VERBOSE,
)
_FOOTNOTE = re.compile(r"(?:\s*\((?:\d|[a-z])\)|\*+)+$")
_YEAR = re.compile(r"(?<![\d.,])(19[5-9]\d|20[0-4]\d)(?![\d,])")
_SHORT_YEAR = re.compile(r"\b(?:FY|F|Fiscal\s+)'?(\d{2})\b", re.IGNORECASE)
_SPACED_YEAR = re.compile(r"\b([12]) ([09]) (\d) (\d)\b")
_CURRENCY = re.compile(r"[$€£¥]|\b(?:USD|EUR|GBP|RMB|SGD|HKD|AUD|dollars?|euros?|pounds?)\b", re.IGNORECASE)
_COUNTED = re.compile(r"\b(?:number|shares|employees|headcount|units|days|weeks|months|years|hours|customers|"
                      r"subscribers|stores|restaurants|ratio|times)\b", re.IGNORECASE)
"""Row labels of counts, not amounts, in a table of amounts."""
_PERCENT = re.compile(r"%|\bper ?cent(?:age)?\b", re.IGNORECASE)
_SCALES = (
    ("thousand", re.compile(r"thousands?\b|[$€£¥A-Z]?\s?[’'‘`]\s?000\b|\$000s?\b|\(000s?\)|\b000s\b", re.IGNORECASE)),
    ("million", re.compile(r"millions?\b|(?<![a-z])(?:[$€£¥]|US\$|S\$|A\$|HK\$|USD|EUR|GBP|RMB)\s?mn?\b|\bmln\b",
                           re.IGNORECASE)),
    ("billion", re.compile(r"billions?\b|(?<![a-z])(?:[$€£¥]|US\$|S\$|A\$|HK\$)\s?bn?\b|(?<![a-z])bn\b",
                           re.IGNORECASE)),
)
_STATED_SCALES = (
    ("thousand", re.compile(r"\bin thousands\b|[$€£¥]\s?[’'‘`]\s?000\b|\$000s?\b", re.IGNORECASE)),
    ("million", re.compile(r"\bin millions\b", re.IGNORECASE)),
    ("billion", re.compile(r"\bin billions\b", re.IGNORECASE)),
)
"""What prose around a table says of the table's magnitude ("in thousands"); "a $43 million benefit" is not it."""
_DATE_WORDS = re.compile(
    r"\b(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|"
    r"oct(?:ober)?|nov(?:ember)?|dec(?:ember)?|years?|fiscal|ended|ending|end|as of|as at|at|for|the|to|and|"
    r"\d{1,2}(?:st|nd|rd|th)?|weeks?|months?|fy)\b|[$€£¥’'‘`,.:()]|\b000\b|\b(?:in )?(?:thousands?|millions?|"
    r"billions?)\b|\b(?:amounts?|m|bn|usd|eur|gbp|rmb)\b",
    re.IGNORECASE,
)
_NOTE = re.compile(r"\([^()]*\b(?:thousands?|millions?|billions?|except)\b[^()]*\)", re.IGNORECASE)
"""A note on the table's units in a column header: "(In thousands, except percentages)"."""
_BPS = re.compile(r"\s*bps?$", re.IGNORECASE)
_RESERVED = {"latest", "previous", "gt", "ge", "lt", "le", "desc", "asc", "forecast", "unsupported", "range",
             "recent"}


@dataclass(frozen=True)
class Cell:
    """A cell read: its value (a percentage as a fraction), or None with the reason; whether it had a ``%``
    and a currency sign."""

    value: float | None
    reason: str | None
    percent: bool = False
    currency: bool = False


def parse_cell(text: str) -> Cell:
    """The number a cell prints: ``"$ 1,234.5"`` → 1234.5, ``"(56)"`` → -56, ``"12.5%"`` → 0.125 (a fraction),
    ``"$(1.3)"`` → -1.3, ``"(55) bps"`` → -0.0055; ``""``, ``"—"``, ``"$ -"`` and ``"n/a"`` are empty; a footnote
    mark after the number (``"$130,000 (1)"``) is dropped."""
    raw = " ".join(text.split())
    if _EMPTY.match(raw):
        return Cell(None, "empty cell")
    points = bool(_BPS.search(raw))
    raw = _BPS.sub("", raw)
    m = _NUMBER.match(raw) or _NUMBER.match(_FOOTNOTE.sub("", raw))
    if not m or (points and (m["pct1"] or m["pct2"])):
        return Cell(None, f"not a number: {raw!r}")
    value = float(m["num"].replace(",", ""))
    if bool(m["open"]) != bool(m["close"]):
        return Cell(None, f"not a number: {raw!r}")
    if m["open"] or m["neg1"] or m["neg2"]:
        value = -value
    percent = bool(m["pct1"] or m["pct2"]) or points
    if percent:
        value = round(value / (10000 if points else 100), 12)
    return Cell(value, None, percent, bool(_CURRENCY.search(raw)))


def year_of(text: str) -> int | None:
    """The one fiscal year a header names (``"2019"``, ``"30 June 2019"``, ``"FY19"``, ``"2 0 1 8"``); None when
    it names none, or two (``"2019 vs 2018"``)."""
    text = _SPACED_YEAR.sub(r"\1\2\3\4", text)
    years = {int(y) for y in _YEAR.findall(text)} | {2000 + int(y) for y in _SHORT_YEAR.findall(text)}
    return years.pop() if len(years) == 1 else None


def table_scale(texts: list[str], stated: bool = False) -> str:
    """TAT-QA's word for the magnitude these texts state ("thousand", "million", "billion"), the one named first,
    or "" when none is. ``stated``: only the phrases prose uses to state a table's scale ("in thousands")."""
    firsts: dict[str, tuple[int, int]] = {}
    for i, text in enumerate(texts):
        for word, rx in _STATED_SCALES if stated else _SCALES:
            if (m := rx.search(text)) is not None and word not in firsts:
                firsts[word] = (i, m.start())
    return min(firsts, key=lambda w: firsts[w]) if firsts else ""


def slug(text: str) -> str:
    """A metric name of a label: lower case, words joined by ``_``, footnote marks dropped, starting with a
    letter and not a keyword of the program language."""
    text = _FOOTNOTE.sub("", text.strip())
    s = re.sub(r"[^a-z0-9]+", "_", text.lower().replace("%", " pct ").replace("&", " and ")).strip("_")[:60]
    s = s.strip("_")
    if not s:
        return ""
    if not s[0].isalpha():
        s = "n_" + s
    return s + "_row" if s in _RESERVED else s


def _is_number_cell(text: str) -> bool:
    """A body number: a cell that parses, and is not a bare year (a header's)."""
    text = _FOOTNOTE.sub("", text.strip())
    if year_of(text) is not None and not re.search(r"[$€£¥%(]|\d,\d", text):
        return False
    return parse_cell(text).value is not None


def _header_end(rows: list[list[str]]) -> int:
    """How many leading rows are header: those with no number but years outside the first column, less the
    title-only rows just above the body (those are the body's first section)."""
    end = 0
    while end < len(rows) and not any(_is_number_cell(c) for c in rows[end][1:]):
        end += 1
    while end > 0 and not any(c.strip() for c in rows[end - 1][1:]):
        end -= 1
    return end


def _spread(row: list[str]) -> list[str]:
    """A text header row with each header spread over the empty cells to its right (spanning headers)."""
    out, last = [row[0]], ""
    for c in row[1:]:
        last = c or last
        out.append(last)
    return out


def _residual(text: str) -> str:
    """What a column header says besides its year and dates, units and scale: "Domestic September 30, 2019" →
    "Domestic"."""
    text = _NOTE.sub(" ", _SPACED_YEAR.sub(r"\1\2\3\4", text))
    text = _SHORT_YEAR.sub(" ", _YEAR.sub(" ", text))
    return " ".join(_DATE_WORDS.sub(" ", text).split())


@dataclass(frozen=True)
class _Column:
    index: int
    header: str
    year: int | None
    qualifier: str


def _columns(header: list[list[str]], width: int) -> list[_Column]:
    spread_rows = [_spread(r) if _spanning(r) else r for r in header]
    heads = [" ".join(r[c] for r in spread_rows if r[c]) for c in range(width)]
    return [_Column(c, heads[c], year_of(heads[c]), _residual(heads[c])) for c in range(1, width)]


def _spanning(row: list[str]) -> bool:
    """Whether a header row's cells span the empty cells to their right: a row of text ("Domestic | | International
    |"), or of years set out at a regular interval ("2019 | | 2018 | ", over "Amount | % of revenue" each); not
    "F19 | F18 | | CHANGE", whose blank is a column of its own."""
    if not any(year_of(c) for c in row[1:]):
        return True
    at = [i for i, c in enumerate(row) if i > 0 and c]
    gaps = {b - a for a, b in zip(at, [*at[1:], len(row)], strict=True)}
    return len(gaps) == 1 and gaps.pop() > 1


def _text_row(row: list[str]) -> bool:
    """A row with text but no number outside the first column: a header's."""
    return any(c.strip() for c in row[1:]) and not any(_is_number_cell(c) for c in row[1:])


def _blocks(rows: list[list[str]], end: int) -> list[tuple[int, int, int]]:
    """The table's blocks as (header start, body start, body end): the first block's header is the leading rows;
    a row of years in the body (tables that stack two periods, each under its own header) starts another, with the
    text rows around it, when its first cell is blank, a scale, or as in the first header ("Maturity date |
    30/7/2021" is a row of the body)."""
    firsts = {r[0] for r in rows[:end]}
    starts = []
    r = end
    while r < len(rows):
        if _text_row(rows[r]) and any(year_of(c) and not re.search(r"\d[/:-]\d", c) for c in rows[r][1:]) and (
                rows[r][0] in firsts or table_scale([rows[r][0]])):
            first = r
            while first - 1 >= end and _text_row(rows[first - 1]) and (not starts or first - 1 >= starts[-1][1]):
                first -= 1
            last = r + 1
            while last < len(rows) and _text_row(rows[last]):
                last += 1
            starts.append((first, last))
            r = last
        else:
            r += 1
    blocks, header_start, body_start = [], 0, end
    for first, last in starts:
        blocks.append((header_start, body_start, first))
        header_start, body_start = first, last
    blocks.append((header_start, body_start, len(rows)))
    return [b for b in blocks if b[2] > b[1]]


def _one_year(header: list[list[str]], body: list[list[str]]) -> int:
    """The one year a block with no year columns states in its header ("December 31, 2019" over "Level 1 |
    Level 2"); :class:`TableError` says why there is none."""
    stated = {int(y) for r in header for c in r for y in _YEAR.findall(_SPACED_YEAR.sub(r"\1\2\3\4", c))}
    if len(stated) == 1:
        return stated.pop()
    labels = [r[0].strip() for r in body if r[0].strip()]
    dated = {year_of(label) for label in labels} - {None}
    if len(dated) >= 2 and sum(bool(_YEAR.fullmatch(label)) for label in labels) >= 2:
        raise TableError("years are rows", ", ".join(labels[:4]))
    if len(dated) >= 2:
        raise TableError("dated rows", ", ".join(label for label in labels if year_of(label))[:120])
    raise TableError("no year columns", " | ".join(" ".join(r[1:]).strip() for r in header)[:120])


def _names(body: list[tuple[int, str, str, int]]) -> dict[int, tuple[str, str]]:
    """Each body row's metric name and label: a slug of its label, prefixed with its section when the label
    repeats within its block under another section, numbered when it repeats still. The same label in two blocks
    is the same figure."""
    out: dict[int, tuple[str, str]] = {}
    for block in sorted({b for *_, b in body}):
        rows = [(r, label, section) for r, label, section, b in body if b == block]
        base = [slug(label) or f"row_{r}" for r, label, _ in rows]
        repeated = {b for b, n in Counter(base).items() if n > 1}
        taken: Counter[str] = Counter()
        for (r, label, section), b in zip(rows, base, strict=True):
            name, shown = b, label or f"(row {r})"
            if b in repeated and slug(section):
                name, shown = f"{slug(section)}_{b}", f"{shown} ({section})"
            taken[name] += 1
            if taken[name] > 1:
                name, shown = f"{name}_{taken[name]}", f"{shown} ({taken[name]})"
            out[r] = (name, shown)
    return out


def table_knowledge(table: dict, as_of: date, context: str = "") -> tuple[Knowledge, str]:
    """The knowledge of one TAT-QA table (``{"uid": ..., "table": [[...], ...]}``) and its scale word ("thousand",
    "million", "billion" or ""); ``context`` (the text around the table) is read for the scale only when the table
    names none. :class:`TableError` when it cannot be read as figures by fiscal year."""
    uid = table["uid"]
    width = max(len(r) for r in table["table"])
    rows = [[" ".join(str(c).split()) for c in r] + [""] * (width - len(r)) for r in table["table"]]
    end = _header_end(rows)
    if end == len(rows):
        raise TableError("no body", "no row has a number")
    blocks = _blocks(rows, end)
    headers = {r for h, b, _ in blocks for r in range(h, b)}
    header_text = [" ".join(rows[r]) for r in sorted(headers)] + \
        [rows[r][0] for r in range(end, len(rows)) if r not in headers]
    scale = table_scale(header_text) or table_scale([" ".join(" ".join(r) for r in rows[end:])]) or \
        table_scale([context], stated=True)
    currency_table = any(_CURRENCY.search(" ".join(rows[r])) for r in headers) or any(
        _CURRENCY.search(c) and parse_cell(c).value is not None for r in rows[end:] for c in r[1:])

    body: list[tuple[int, str, str, int]] = []  # row, label as written, section, block
    section = ""
    for i, (_, start, stop) in enumerate(blocks):
        for r in range(start, stop):
            if not any(rows[r][1:]):
                section = rows[r][0].rstrip(":")
            else:
                body.append((r, rows[r][0], section, i))
    if not body:
        raise TableError("no body", "no row has cells")
    names = _names(body)

    cells: dict[tuple[str, int], tuple[float | None, str | None, int, int, str]] = {}
    figures: dict[str, Figure] = {}

    def add(metric: str, label: str, row: int, cols: list[tuple[_Column, int]], percent_hint: bool) -> None:
        read = [(c, y, parse_cell(rows[row][c.index])) for c, y in cols]
        numbers = [x for _, _, x in read if x.value is not None]
        if not numbers and all(x.reason == "empty cell" for _, _, x in read):
            return
        percent = percent_hint or (bool(numbers) and sum(x.percent for x in numbers) * 2 > len(numbers))
        if percent:
            unit = "fraction"
        elif any(x.currency for x in numbers) or (currency_table and not _COUNTED.search(rows[row][0])):
            unit = "currency"
        else:
            unit = "plain"
        figures.setdefault(metric, Figure(metric, label, unit, ()))
        for c, y, x in read:
            value, reason = x.value, x.reason
            if value is not None and percent and not x.percent:
                value = round(value / 100, 12)
            elif value is not None and not percent and x.percent:
                value, reason = None, "a percentage among amounts"
            if (metric, y) in cells:
                before = cells[(metric, y)][0]
                if value is None or before == value:
                    continue
                if before is not None:
                    value, reason = None, f"two values in the table: {before:g} and {value:g}"
            cells[(metric, y)] = (value, reason, row, c.index, c.header)

    problems: list[TableError] = []
    for i, (h, start, stop) in enumerate(blocks):
        header = rows[h:start]
        columns = _columns(header, width)
        try:
            single = None if any(c.year is not None for c in columns) else _one_year(header, rows[start:stop])
        except TableError as e:
            problems.append(e)
            continue
        if (single or 0) > as_of.year or (single is None and all(c.year is None or c.year > as_of.year
                                                                  for c in columns)):
            problems.append(TableError("only future years", ", ".join(str(c.year) for c in columns if c.year)))
            continue
        latest = single if single is not None else max(c.year for c in columns if c.year and c.year <= as_of.year)
        kept, note = _year_columns(columns, as_of)
        others = _other_columns([c for c in columns if c.year is None
                                 and any(rows[r][c.index] for r in range(start, stop))], latest)
        for r, label, _, b in body:
            if b != i:
                continue
            name, shown = names[r]
            row_pct = bool(_PERCENT.search(label))
            plain = [(c, y) for c, y, q in kept if not q]
            if plain:
                add(name, f"{shown} ({note})" if note else shown, r, plain,
                    row_pct or all(_PERCENT.search(c.header) for c, _ in plain))
            for q in sorted({q for _, _, q in kept if q}):
                cols = [(c, y) for c, y, qq in kept if qq == q]
                head = cols[0][0].qualifier
                add(f"{name}_{q}", f"{shown} ({head})", r, cols,
                    row_pct or all(_PERCENT.search(c.header) for c, _ in cols))
            for c, y, q in others:
                add(f"{name}_{q}", f"{shown} ({c.qualifier or c.header})", r, [(c, y)],
                    row_pct or bool(_PERCENT.search(c.header)))
    if not cells:
        raise problems[0] if problems else TableError("no body", "no cell in a year column")

    values = [(uid, y, m, v, why) for (m, y), (v, why, *_) in cells.items()]
    frame = pl.DataFrame(values, schema=VALUES_SCHEMA, orient="row").sort("metric", "fiscal_year")
    present = sorted(set(frame["fiscal_year"].to_list()))
    periods = pl.DataFrame([(uid, y, None, None) for y in present], schema=PERIODS_SCHEMA, orient="row")
    labels = {r: label for r, label, _, _ in body}

    def sources(entity_id: str, metric: str, year: int) -> list[str]:
        if entity_id != uid or (metric, year) not in cells:
            return []
        *_, r, c, header = cells[(metric, year)]
        return [f"table {uid} row {r} {labels[r]!r}, column {c} {header!r}"]

    knowledge = Knowledge({uid: Company(uid, "the table")}, frame, periods, figures, as_of, sources, what="tables")
    return knowledge, scale


def _other_columns(columns: list[_Column], year: int) -> list[tuple[_Column, int, str]]:
    """The columns with no year of their own, each dated ``year`` and named by its header less dates and units
    ("Change (%)" → ``change_pct``), or by its whole header where that leaves two alike ("Level 1", "Level 2");
    columns still alike are dropped."""
    names = [slug(c.qualifier) for c in columns]
    counts = Counter(names)
    names = [n if counts[n] == 1 else slug(_NOTE.sub(" ", c.header)) for n, c in zip(names, columns, strict=True)]
    counts = Counter(names)
    return [(c, year, n or f"column_{c.index}") for n, c in zip(names, columns, strict=True) if counts[n] == 1]


def _year_columns(columns: list[_Column], as_of: date) -> tuple[list[tuple[_Column, int, str]], str]:
    """The year columns kept, each with its year and qualifier ("" for the plain figure), and what the plain
    figure's columns say besides their year when a year has several columns. Where a year has several, the one
    headed like the table's first year column is the plain figure (else the first); the others are qualified by the
    rest of their headers, and a column that nothing tells apart from one before it is dropped."""
    by_year: dict[int, list[_Column]] = {}
    for c in columns:
        if c.year is not None and c.year <= as_of.year:
            by_year.setdefault(c.year, []).append(c)
    main = next((c.qualifier for c in columns if c.year is not None), "")
    kept, note = [], ""
    for year, cols in by_year.items():
        plain = next((c for c in cols if c.qualifier == main), cols[0])
        kept.append((plain, year, ""))
        if len(cols) == 1:
            continue
        note = note or plain.qualifier
        seen = {"", slug(plain.qualifier)}
        for c in cols:
            if c is not plain and (q := slug(c.qualifier)) not in seen:
                seen.add(q)
                kept.append((c, year, q))
    return kept, note


def tatqa_prediction(value: float | None, unit: str | None, table_scale: str) -> tuple[str, str]:
    """What TAT-QA's scorer reads for an answer: (the number as text, its scale). A fraction is written as a
    percentage with the scale "percent" (0.1214 → "12.14", "percent"); a currency or plain amount is in the table's
    units, so it takes the table's scale; a number with no unit (a count, a year) has none. No value (a refusal, or
    an answer that is no number) is an empty prediction, which the scorer marks wrong. Written without an exponent,
    which the scorer's number reader would misread."""
    if value is None:
        return "", ""
    if unit == "fraction":
        return _text(value * 100), "percent"
    if unit in ("currency", "plain"):
        return _text(value), table_scale
    return _text(value), ""


def _text(value: float) -> str:
    out = f"{value:.6f}".rstrip("0").rstrip(".")
    return "0" if out in ("-0", "") else out
