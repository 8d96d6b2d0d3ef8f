"""Reading CSV files into strings with the physical line of every record.

Polars reads fast; the csv module is the reference reading. A file gets exactly one reading: the
fast one only where it provably agrees with the reference.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import re
import zlib
from collections.abc import Collection
from pathlib import Path

import polars as pl

from generator.errors import InputFileError, not_utf8
from generator.ingest.base import RAW_COLUMNS

GZIP_MAGIC = b"\x1f\x8b"
"""The first bytes of a gzip stream: a ``.csv.gz`` file is read as the CSV it holds."""

csv.field_size_limit(2**31 - 1)
"""XBRL fact tables hold whole notes as HTML in one field, far beyond the csv module's 128 KiB default."""


def read_csv_strings(path: Path, categorical: Collection[str] = ()) -> tuple[pl.DataFrame, pl.Series]:
    """Every cell as text (types are checked later, per row), plus each record's physical line.

    Polars reads the file when its quoting is plainly well-formed and every line is one record; the
    csv module, the reference reading, reads everything else (a quote inside an unquoted field, a
    quoted line break, a line with extra fields). Either way a file has one reading. Short or long
    lines become rows whose ``__problem`` says so; blank lines are not records. Columns named in
    ``categorical`` (those that repeat a few values) are read dictionary-encoded.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputFileError(path, f"cannot read file: {exc.strerror or exc}") from exc
    if data.startswith(GZIP_MAGIC):
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:
            raise InputFileError(path, f"cannot decompress it as gzip: {exc}") from exc
    data = data.removeprefix(codecs.BOM_UTF8)
    if b"\x00" in data:
        raise InputFileError(path, _nul_reason(data))
    if not re.search(rb"\S", data):
        raise InputFileError(path, "file is empty")
    if b"\n" not in data:
        data = data.replace(b"\r", b"\n")
    header_line = data[: data.find(b"\n")] if b"\n" in data else data
    names = header_names(path, _header(path, data if b'"' in header_line else header_line))
    frame = _read_fast(data, names, set(categorical)) if _plain(data) else None
    if frame is None or data.count(b"\n") + (not data.endswith(b"\n")) != frame.height + 1:
        return _read_csv_module(path, _text(path, data), names)
    if frame.height == 0:
        return pl.DataFrame(schema={n: pl.String for n in [*names, "__problem"]}), pl.Series([], dtype=pl.Int64)
    lines = pl.int_range(2, frame.height + 2, eager=True, dtype=pl.Int64)
    frame = frame.with_columns(__problem=_short_lines(frame, data, len(names)))
    blank = _blank_rows(frame, names)
    return frame.filter(~blank), lines.filter(~blank)


def _nul_reason(data: bytes) -> str:
    """UTF-16 (what spreadsheet programs write as "Unicode text") has a NUL in every other byte of ASCII text."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or data[1:200:2].count(0) > 40 \
            or data[0:200:2].count(0) > 40:
        return "is UTF-16 text: save it as UTF-8 (CSV UTF-8) and run again"
    if data.startswith(b"PK\x03\x04"):
        return "is a ZIP archive (an Excel workbook is one): export the sheet as CSV UTF-8"
    return "contains NUL bytes: not a text CSV file"


def _text(path: Path, data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise not_utf8(path, data, exc) from exc


def _header(path: Path, data: bytes) -> list[str]:
    try:
        return next(csv.reader(io.StringIO(_text(path, data), newline="")), [])
    except csv.Error as exc:
        raise InputFileError(path, f"malformed CSV header: {exc}", line=1) from exc


def _plain(data: bytes) -> bool:
    """No bare CR, and every quoted field opens at a field start, stays on its line, doubles its inner
    quotes and closes at a field end: then Polars and the csv module read the same records."""
    if b"\r" in data and data.count(b"\r") != data.count(b"\r\n"):
        return False
    position = 0
    while (opening := data.find(b'"', position)) != -1:
        if opening and data[opening - 1] not in b",\n":
            return False
        closing = opening + 1
        while (closing := data.find(b'"', closing)) != -1 and data[closing + 1:closing + 2] == b'"':
            closing += 2
        if closing == -1 or data[closing + 1:closing + 2] not in (b",", b"\r", b"\n", b""):
            return False
        if data.find(b"\n", opening, closing) != -1:
            return False
        position = closing + 1
    return True


def _read_fast(data: bytes, names: list[str], categorical: set[str]) -> pl.DataFrame | None:
    """Polars' reader, or None when the file is not UTF-8 or a line has more fields than the header."""
    try:
        return pl.read_csv(io.BytesIO(data), has_header=False, skip_rows=1, new_columns=names, infer_schema=False,
                           schema_overrides={n: pl.Categorical for n in names if n in categorical},
                           encoding="utf8", raise_if_empty=False)
    except (pl.exceptions.ComputeError, pl.exceptions.ShapeError, pl.exceptions.SchemaError):
        return None


def _short_lines(frame: pl.DataFrame, data: bytes, width: int) -> pl.Series:
    """Polars pads a short line with nulls; only rows whose last field is empty can be short, so only
    those lines are counted."""
    problem = pl.Series("__problem", [None] * frame.height, dtype=pl.String)
    candidates = frame.select(pl.arg_where(pl.col(frame.columns[-1]).is_null())).to_series().to_list()
    if not candidates:
        return problem
    lines = data.split(b"\n")
    found = {i: len(next(csv.reader([lines[i + 1].decode("utf-8")]), [])) for i in candidates if lines[i + 1].strip()}
    short = {i: f"expected {width} fields, found {n}" for i, n in found.items() if n != width}
    if short:
        problem = problem.scatter(list(short), list(short.values()))
    return problem


def _blank_rows(frame: pl.DataFrame, names: list[str]) -> pl.Series:
    first = pl.col(names[0]).cast(pl.String).str.strip_chars().fill_null("") == ""
    candidates = frame.select(first).to_series()
    if not candidates.any():
        return candidates
    every = pl.all_horizontal([pl.col(n).cast(pl.String).str.strip_chars().fill_null("") == "" for n in names])
    return frame.select(first & every).to_series()


def header_names(path: Path, header: list[str]) -> list[str]:
    """Column names as the adapters use them: known names in lower case, item labels as written.

    Two headers that mean the same column refuse the file rather than silently keeping one.
    """
    if len(header) > MAX_COLUMNS:
        raise InputFileError(path, f"the header has {len(header):,} columns; an input has at most {MAX_COLUMNS:,}",
                             line=1)
    known = set(RAW_COLUMNS)
    seen: dict[str, int] = {}
    for position, raw in enumerate(header, start=1):
        name = raw.strip()
        name = name.lower() if name.lower() in known else name or f"column {position}"
        if name in seen:
            raise InputFileError(path, f"column {_short(name)!r} appears twice (columns {seen[name]} and "
                                       f"{position})", line=1, column=_short(name))
        seen[name] = position
    return list(seen)


MAX_COLUMNS = 10_000
"""More columns than any statement table has periods or a fact table fields: a header of 100,000 names is no
input, and reading it as one took minutes."""


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def _read_csv_module(path: Path, text: str, names: list[str]) -> tuple[pl.DataFrame, pl.Series]:
    """The reference reading, for files with quotes or ragged lines."""
    width = len(names)
    records: list[list[str | None]] = []
    starts: list[int] = []
    problems: list[str | None] = []
    lines = text.splitlines(keepends=True)
    first = 2  # the physical line the text still to read starts at (line 1 is the header)
    while first <= len(lines):
        read, unclosed = _records(path, "".join(lines[first - 1:]), first)
        for start, record in read:
            starts.append(start)
            problems.append(None if len(record) == width else f"expected {width} fields, found {len(record)}")
            records.append([f if f != "" else None for f in (record + [""] * width)[:width]])
        if unclosed is None:
            break
        # A quote opened and never closed made the rest of the file one field: that line is rejected as it
        # stands, and reading goes on from the next one (561 rows of a 570-row file had vanished).
        starts.append(unclosed)
        problems.append("a quote opened in this line is never closed (the rest of the file was one field)")
        fields = next(csv.reader([lines[unclosed - 1].rstrip("\r\n")], quoting=csv.QUOTE_NONE), [])
        records.append([f or None for f in (fields + [""] * width)[:width]])
        first = unclosed + 1
    frame = pl.DataFrame(
        {name: [r[i] for r in records] for i, name in enumerate(names)} | {"__problem": problems},
        schema={name: pl.String for name in [*names, "__problem"]},
    )
    return frame, pl.Series(starts, dtype=pl.Int64)


def _records(path: Path, text: str, first: int) -> tuple[list[tuple[int, list[str]]], int | None]:
    """(physical line, fields) of each non-blank record of ``text`` (which starts at line ``first``), and the line
    of a record whose quote is never closed (read up to it, not into it)."""
    out: list[tuple[int, list[str]]] = []
    reader = csv.reader(io.StringIO(text, newline=""))
    previous_end = 0
    try:
        for record in reader:
            start = previous_end + 1
            previous_end = reader.line_num
            if all(not f.strip() for f in record):
                continue
            out.append((first + start - 1, record))
    except csv.Error as exc:
        raise InputFileError(path, f"malformed CSV: {exc}", line=first + previous_end) from exc
    if out and previous_end > out[-1][0] - first + 1 and _unclosed(text, out[-1][0] - first):
        return out[:-1], out[-1][0]
    return out, None


def _unclosed(text: str, skip: int) -> bool:
    """Whether the record starting after ``skip`` lines of ``text`` opens a quote it never closes."""
    rest = "".join(text.splitlines(keepends=True)[skip:])
    try:
        for _ in csv.reader(io.StringIO(rest, newline=""), strict=True):
            pass
    except csv.Error as exc:
        return "unexpected end of data" in str(exc)
    return False
