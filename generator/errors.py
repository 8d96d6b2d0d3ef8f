"""The project's own error types: each names what a user must fix, and where."""

from __future__ import annotations

from pathlib import Path


class FinreportError(Exception):
    """Base of every error the project raises on purpose."""


class InputFileError(FinreportError):
    """A whole input file is refused (unreadable, wrong layout, missing columns).

    Row-level problems never raise: those rows go to ``rejected.csv``.
    """

    def __init__(self, file: Path | str, reason: str, line: int | None = None, column: str | None = None) -> None:
        self.file = str(file)
        self.reason = reason
        self.line = line
        self.column = column
        where = self.file + (f":{line}" if line is not None else "")
        col = f" column {column!r}:" if column else ""
        super().__init__(f"{where}:{col} {reason}")


class MissingColumnsError(InputFileError):
    """A file without the columns its format needs, reported on its header line: the missing ones, those it has (a dozen
    at most) and, where the reader can tell, why (a file separated by semicolons, a statement table)."""

    def __init__(self, file: Path | str, missing: list[str], found: list[str], hint: str = "") -> None:
        self.missing = missing
        self.found = found
        super().__init__(
            file,
            f"missing required column(s) {', '.join(missing)}; found {_listed(found) if found else 'no columns'}"
            + (f" ({hint})" if hint else ""),
            line=1,
        )


def _listed(names: list[str], shown: int = 12) -> str:
    """A header as an error line shows it: a dozen names, then how many in all (a refusal once listed 100,000)."""
    head = ", ".join(n if len(n) <= 60 else n[:60] + "…" for n in names[:shown])
    return head + (f", … ({len(names):,} columns in all)" if len(names) > shown else "")


class UsageError(FinreportError):
    """A run cannot start as asked (no such input, nothing readable): the message says what to change."""


def not_utf8(file: Path | str, data: bytes, exc: UnicodeDecodeError) -> InputFileError:
    """Where a file stops being UTF-8: its line, column and byte, and the likely fix (a spreadsheet's
    "CSV" or a Windows export writes Latin-1 or Windows-1252)."""
    before = data[:exc.start]
    line = before.count(b"\n") + 1
    column = len(before[before.rfind(b"\n") + 1:].decode("utf-8", "replace")) + 1
    return InputFileError(file, f"not UTF-8 text: byte {data[exc.start:exc.start + 1]!r} at column {column} (Latin-1 "
                                "or Windows-1252? save the file as UTF-8)", line=line)
