"""The query language of ``finreport ask``: small programs over the facts and the reasoned graph.

A program is a tree of operations written as an S-expression (what the translator writes) or as JSON (what
``answers.json`` and ``finreport ask --json`` keep); both parse to the same typed :class:`Node`. Names taken from
the question (a company, a figure, a year, a sector, a flag, a number) are *placeholders* (``E1``, ``M1``, ``Y1``,
``S1``, ``F1``, ``N1``; ``U1`` a company the inputs do not have) that :mod:`generator.ask.link` bound before the
program was written; a figure may also be named by its metric name (``net_income``) when the question says it in
other words ("loss-making"). :func:`check` types a program before it runs.

Operations (``P`` a period: ``Y1``, ``latest`` — each company's latest fiscal year at the as-of date — or
``previous``, the year before it; ``R`` a range: ``(range P P)`` or ``(recent N)``, the last N fiscal years)::

    (value E M P)                  a figure of a company for a fiscal year                 → number
    (add x y) (subtract x y) (multiply x y) (divide x y)                                   → number
    (change E M P P) (pct_change E M P P)   from the earlier period to the later one        → number
    (cagr E M P P)                 compound annual growth between two fiscal years          → number
    (average x...) (sum x...)      of numbers or of a series (series E M R)                 → number
    (companies) (sector S) (entities E...)                                                  → set
    (where SET M P op N)           op: gt ge lt le; N a placeholder or 0                    → set
    (flagged SET F P)              the companies HermiT put in flag F for that period       → set
    (rank SET M P desc|asc) (top SET M P desc|asc [N])   the first N, or the first            → ranking
    (compare (entities E...) M P|R)                                                         → table
    (count SET)                                                                             → number
    (refuse forecast|unsupported)                                                           → refusal
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from generator.errors import FinreportError


class ProgramError(FinreportError):
    """A program that does not parse or does not type: the translator wrote something that is not a program."""


@dataclass(frozen=True)
class Node:
    """One operation and its arguments: nodes, or atoms (placeholders, metric names, keywords, numbers)."""

    op: str
    args: tuple[Node | str, ...] = ()

    def text(self) -> str:
        """The S-expression: ``(change E1 M1 Y1 latest)``."""
        return "(" + " ".join([self.op, *(a.text() if isinstance(a, Node) else a for a in self.args)]) + ")"

    def record(self) -> dict[str, Any]:
        """The JSON form: ``{"op": "change", "args": ["E1", "M1", "Y1", "latest"]}``."""
        return {"op": self.op, "args": [a.record() if isinstance(a, Node) else a for a in self.args]}

    def atoms(self) -> Iterator[str]:
        """Every atom of the tree, depth first."""
        for a in self.args:
            yield from (a.atoms() if isinstance(a, Node) else (a,))


PLACEHOLDER = re.compile(r"^(?P<kind>[EMYSFNU])(?P<n>[1-9])$")
PERIODS = ("latest", "previous")
COMPARISONS = ("gt", "ge", "lt", "le")
ORDERS = ("desc", "asc")
REFUSALS = ("forecast", "unsupported")

SCALAR, SET, RANKING, TABLE, SERIES, REFUSAL = "number", "set", "ranking", "table", "series", "refusal"
_ARITHMETIC = ("add", "subtract", "multiply", "divide")
_OVER_YEARS = ("change", "pct_change", "cagr")
_TOKEN = re.compile(r"\(|\)|[^\s()]+")


def parse(text: str) -> Node:
    """The program of an S-expression; :class:`ProgramError` says where it stops making sense."""
    tokens = _TOKEN.findall(text)
    if not tokens:
        raise ProgramError("an empty program")
    if tokens[0] != "(":
        raise ProgramError(f"a program is an operation in brackets, not {tokens[0]!r}")
    node, end = _read(tokens, 0)
    if end != len(tokens):
        raise ProgramError(f"text after the program: {' '.join(tokens[end:])!r}")
    assert isinstance(node, Node)
    check(node)
    return node


def _read(tokens: list[str], at: int) -> tuple[Node | str, int]:
    if at >= len(tokens):
        raise ProgramError("the program stops before its brackets close")
    token = tokens[at]
    if token == ")":
        raise ProgramError("a closing bracket with nothing open")
    if token != "(":
        return token, at + 1
    if at + 1 >= len(tokens) or tokens[at + 1] in "()":
        raise ProgramError("a bracket without an operation")
    op, at, args = tokens[at + 1], at + 2, []
    while at < len(tokens) and tokens[at] != ")":
        arg, at = _read(tokens, at)
        args.append(arg)
    if at >= len(tokens):
        raise ProgramError("the program stops before its brackets close")
    return Node(op, tuple(args)), at + 1


def from_record(record: dict[str, Any]) -> Node:
    """The program of its JSON form, typed."""
    def build(item: Any) -> Node | str:
        if isinstance(item, dict):
            return Node(str(item["op"]), tuple(build(a) for a in item.get("args", [])))
        return str(item)

    node = build(record)
    if not isinstance(node, Node):
        raise ProgramError("a program is an operation")
    check(node)
    return node


def _kind(atom: Node | str, *kinds: str) -> bool:
    return isinstance(atom, str) and bool(m := PLACEHOLDER.match(atom)) and m.group("kind") in kinds


def _entity(a: Node | str) -> bool:
    return _kind(a, "E", "U")


def _metric(a: Node | str) -> bool:
    return _kind(a, "M") or (isinstance(a, str) and re.fullmatch(r"[a-z][a-z0-9_]*", a) is not None
                              and a not in PERIODS + COMPARISONS + ORDERS + REFUSALS)


def _period(a: Node | str) -> bool:
    return _kind(a, "Y") or a in PERIODS


def _range(a: Node | str) -> bool:
    return isinstance(a, Node) and ((a.op == "range" and len(a.args) == 2 and all(map(_period, a.args)))
                                    or (a.op == "recent" and len(a.args) == 1 and _kind(a.args[0], "N")))


def _number(a: Node | str) -> bool:
    return _kind(a, "N") or a == "0"


def check(node: Node) -> str:
    """The type of what the program returns (:data:`SCALAR`, :data:`SET`, ...); :class:`ProgramError` names the
    first operation whose arguments do not fit."""
    op, args = node.op, node.args

    def need(ok: bool, shape: str) -> None:
        if not ok:
            raise ProgramError(f"{node.text()}: {op} takes {shape}")

    if op == "value":
        need(len(args) == 3 and _entity(args[0]) and _metric(args[1]) and _period(args[2]),
             "a company, a figure and a period")
        return SCALAR
    if op in _ARITHMETIC:
        need(len(args) == 2 and all(isinstance(a, Node) and check(a) == SCALAR for a in args), "two numbers")
        return SCALAR
    if op in _OVER_YEARS:
        need(len(args) == 4 and _entity(args[0]) and _metric(args[1]) and _period(args[2]) and _period(args[3]),
             "a company, a figure and two periods")
        return SCALAR
    if op == "series":
        need(len(args) == 3 and _entity(args[0]) and _metric(args[1]) and _range(args[2]),
             "a company, a figure and a range")
        return SERIES
    if op in ("average", "sum"):
        types = [check(a) if isinstance(a, Node) else None for a in args]
        need(bool(args) and (types == [SERIES] or (len(args) >= 2 and all(t == SCALAR for t in types))),
             "a series or two numbers or more")
        return SCALAR
    if op == "companies":
        need(not args, "nothing")
        return SET
    if op == "sector":
        need(len(args) == 1 and _kind(args[0], "S"), "a sector")
        return SET
    if op == "entities":
        need(len(args) >= 1 and all(map(_entity, args)), "companies")
        return SET
    if op == "where":
        need(len(args) == 5 and _set(args[0]) and _metric(args[1]) and _period(args[2]) and args[3] in COMPARISONS
             and _number(args[4]), "a set, a figure, a period, a comparison and a number")
        return SET
    if op == "flagged":
        need(len(args) == 3 and _set(args[0]) and _kind(args[1], "F") and _period(args[2]),
             "a set, a flag and a period")
        return SET
    if op == "rank":
        need(len(args) == 4 and _set(args[0]) and _metric(args[1]) and _period(args[2]) and args[3] in ORDERS,
             "a set, a figure, a period and an order")
        return RANKING
    if op == "top":
        need(len(args) in (4, 5) and _set(args[0]) and _metric(args[1]) and _period(args[2]) and args[3] in ORDERS
             and (len(args) == 4 or _kind(args[4], "N")), "a set, a figure, a period, an order and maybe a number")
        return RANKING
    if op == "compare":
        need(len(args) == 3 and isinstance(args[0], Node) and args[0].op == "entities" and check(args[0]) == SET
             and _metric(args[1]) and (_period(args[2]) or _range(args[2])), "companies, a figure and a period")
        return TABLE
    if op == "count":
        need(len(args) == 1 and _set(args[0]), "a set")
        return SCALAR
    if op == "refuse":
        need(len(args) == 1 and args[0] in REFUSALS, f"one of {', '.join(REFUSALS)}")
        return REFUSAL
    raise ProgramError(f"{node.text()}: no operation {op!r}")


def _set(a: Node | str) -> bool:
    return isinstance(a, Node) and check(a) == SET


def placeholders(node: Node) -> list[str]:
    """The placeholders a program uses, in order of first use."""
    return list(dict.fromkeys(a for a in node.atoms() if PLACEHOLDER.match(a)))
