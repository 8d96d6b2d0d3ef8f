"""SEC EDGAR companyfacts JSON: every XBRL fact a company ever filed, as the EDGAR API serves it.

``facts → taxonomy → concept → units → unit → [{start?, end, val, accn, fy, fp, form, filed}]``. The
``fy``/``fp`` of an entry describe the filing it came from, not the fact, so only the dates are read
(see ``xbrl``). Every value keeps its accession number and concept as its source; a problem names the
entry by its JSON path (the API serves the file on one line, so line numbers say nothing).
"""

from __future__ import annotations

import json
import math
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from generator.errors import InputFileError, not_utf8
from generator.ingest.base import Adapter, Probe
from generator.ingest.xbrl import Fact, Problem, Unusable, mapped_concepts, parse_date, to_raw, unmapped

NOT_COMPANYFACTS = "not an SEC companyfacts file (expected a JSON object with cik, entityName and facts)"

CIK_DIGITS = 10

FINANCIAL_REPORTS = frozenset({"10-K", "10-Q", "20-F", "40-F", "6-K", "8-K", "10-KT", "10-QT"})
"""Forms whose facts are the company's financial statements (amendments included). A proxy statement's
pay-versus-performance table tags net income too, often in thousands where the 10-K has dollars, and would
otherwise win as the latest filing (SoundHound's FY2025 net loss read as −$14,006)."""


def _accepts(probe: Probe) -> bool:
    return probe.suffix == ".json"


def _load(path: Path) -> dict[str, Any]:
    try:
        raw = path.read_bytes()
        data = json.loads(raw.decode("utf-8-sig"))
    except FileNotFoundError as exc:
        raise InputFileError(path, "no such file") from exc
    except UnicodeDecodeError as exc:
        raise not_utf8(path, raw, exc) from exc
    except OSError as exc:
        raise InputFileError(path, f"cannot read file: {exc.strerror or exc}") from exc
    except json.JSONDecodeError as exc:
        raise InputFileError(path, f"not valid JSON: {exc.msg} (column {exc.colno})", line=exc.lineno) from exc
    except ValueError as exc:  # an integer of thousands of digits: Python will not read it
        raise InputFileError(path, "not valid JSON for this reader: a number has thousands of digits") from exc
    except RecursionError as exc:
        raise InputFileError(path, "not valid JSON: nested too deeply") from exc
    if not isinstance(data, dict) or not isinstance(data.get("facts"), dict):
        raise InputFileError(path, NOT_COMPANYFACTS)
    return data


def _entity(path: Path, data: dict[str, Any]) -> tuple[str, str]:
    cik, name = data.get("cik"), data.get("entityName")
    digits = str(cik).strip() if isinstance(cik, (int, str)) and not isinstance(cik, bool) else ""
    if not digits.isdigit() or len(digits) > CIK_DIGITS:
        shown = repr(cik) if len(repr(cik)) <= 40 else repr(cik)[:40] + "…"
        raise InputFileError(path, f"cik {shown} is not a CIK number (at most {CIK_DIGITS} digits)", column="cik")
    if not isinstance(name, str) or not name.strip():
        raise InputFileError(path, "entityName is missing or empty", column="entityName")
    return f"CIK{int(cik):010d}", name.strip()


def _date(entry: dict[str, Any], key: str, where: str) -> date | None:
    return None if entry.get(key) is None else parse_date(entry[key], f"{where}.{key}")


def _float(val: int | float) -> float:
    try:
        return float(val)
    except OverflowError:  # an integer beyond any float
        return math.inf


def _fact(concept: str, unit: str, entry: object, where: str) -> Fact:
    """One entry of a unit's list; raises ``Unusable`` naming the field at fault."""
    if not isinstance(entry, dict):
        raise Unusable(where, "expected an object with end, val, accn and filed")
    val, accn = entry.get("val"), entry.get("accn")
    number = not isinstance(val, bool) and isinstance(val, (int, float))
    if not number or not math.isfinite(_float(val)):
        text = json.dumps(val)
        raise Unusable(f"{where}.val", f"not a {'finite ' if number else ''}number: "
                                       f"{text if len(text) <= 40 else text[:40] + '…'}")
    if not isinstance(accn, str) or not accn.strip():
        raise Unusable(f"{where}.accn", "no accession number")
    form = entry.get("form")
    if isinstance(form, str) and form.strip().upper().removesuffix("/A") not in FINANCIAL_REPORTS:
        raise Unusable(f"{where}.form", f"reported in a {form.strip()} filing, not in a financial report")
    start, end, filed = (_date(entry, key, where) for key in ("start", "end", "filed"))
    if end is None:
        raise Unusable(f"{where}.end", "no end date")
    if start is not None and start > end:
        raise Unusable(f"{where}.start", f"start {start} is after end {end}")
    return Fact(concept, float(val), json.dumps(val), unit, start, end, filed, f"{accn.strip()}/{concept}", None,
                f"{where}.val", (where, f"{where}.start", f"{where}.end"), accn.strip())


def _unmapped(concept: str, units: object, where: str) -> list[Problem]:
    """Every fact of a concept the tag map does not name, so the run lists what it did not read."""
    if not isinstance(units, dict):
        return [Problem(concept, "", None, where, unmapped(concept))]
    return [Problem(concept, json.dumps(entry.get("val")) if isinstance(entry, dict) else "", None,
                    f"{where}.{unit}[{i}].val", unmapped(concept))
            for unit, entries in units.items() if isinstance(entries, list) for i, entry in enumerate(entries)]


def read_companyfacts(path: Path) -> pl.DataFrame:
    """An SEC companyfacts file as raw rows: every fact of a mapped concept, cited by accession number and tag; facts of
    concepts the tag map does not name, and entries that cannot be used, rejected with their JSON paths."""
    data = _load(path)
    entity_id, entity_name = _entity(path, data)
    facts: list[Fact] = []
    problems: list[Problem] = []
    for taxonomy, concepts in data["facts"].items():
        if not isinstance(concepts, dict):
            raise InputFileError(path, "expected an object of concepts", column=f"facts.{taxonomy}")
        for name, body in concepts.items():
            concept = f"{taxonomy}:{name}"
            units = body.get("units") if isinstance(body, dict) else None
            where = f"facts.{taxonomy}.{name}.units"
            if concept not in mapped_concepts():
                problems += _unmapped(concept, units, where)
                continue
            if not isinstance(units, dict):
                problems.append(Problem(concept, "", None, where, "expected an object of units"))
                continue
            for unit, entries in units.items():
                if not isinstance(entries, list):
                    problems.append(Problem(concept, "", None, f"{where}.{unit}", "expected a list of values"))
                    continue
                for i, entry in enumerate(entries):
                    try:
                        facts.append(_fact(concept, unit, entry, f"{where}.{unit}[{i}]"))
                    except Unusable as bad:
                        text = json.dumps(entry.get("val") if isinstance(entry, dict) else entry)
                        problems.append(Problem(concept, text, None, bad.column, bad.reason))
    return to_raw(path, entity_id, entity_name, facts, problems)


ADAPTER = Adapter(name="companyfacts", accepts=_accepts, read=read_companyfacts)
