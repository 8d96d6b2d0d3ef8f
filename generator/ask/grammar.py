"""Decoding the translator within the query language: at each step the model may only write a token that keeps its
text the beginning of a well-typed program, with no placeholder the question does not have.

Beam search over an unconstrained model spends its beams on texts that are no program ("(count (companies)
net_income Y1 lt 0))": an operation's arguments cut short) or name what the question does not ("(where (sector U1
M1 ..." for a question with no figure named); :func:`generator.ask.choose` throws those away, and the question may be
left with none. Grammar-constrained decoding (as in PICARD, Scholak et al. 2021) keeps every beam a program of the
language, so the beams are spent on the ones it means.

The language is :mod:`generator.ask.program`'s: each operation's arguments in order (:data:`SIGNATURES`), atoms
of their kinds (placeholders of the question, metric names of the registry, the keywords). A :class:`Prefix` reads
the text a character at a time and is a value (hashable), so the tokens allowed after a state are worked out once.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache

from generator.ask.program import COMPARISONS, ORDERS, PERIODS, REFUSALS

NUM, SET, ENTITIES, SERIES, RANGE = "num", "set", "entities", "series", "range"
"""Kinds of nested operations."""
ENT, MET, PER, SEC, FLAG, COUNT, LIMIT, CMP, ORDER, WHY = "E", "M", "P", "S", "F", "N", "N|0", "cmp", "order", "why"
"""Kinds of atoms."""

_RETURNS = {**dict.fromkeys(("value", "add", "subtract", "multiply", "divide", "change", "pct_change", "cagr",
                             "average", "sum", "count"), NUM),
            **dict.fromkeys(("companies", "sector", "where", "flagged"), SET), "entities": ENTITIES,
            "series": SERIES, "range": RANGE, "recent": RANGE, "rank": "ranking", "top": "ranking",
            "compare": "table", "refuse": "refusal"}
"""What each operation returns."""

SIGNATURES: dict[str, tuple[frozenset[str], ...]] = {
    op: tuple(frozenset(k.split()) for k in kinds) for op, kinds in {
        "value": (ENT, MET, PER), **dict.fromkeys(("add", "subtract", "multiply", "divide"), (NUM, NUM)),
        **dict.fromkeys(("change", "pct_change", "cagr"), (ENT, MET, PER, PER)), "series": (ENT, MET, RANGE),
        "range": (PER, PER), "recent": (COUNT,), "companies": (), "sector": (SEC,),
        "where": (SET, MET, PER, CMP, LIMIT),
        "flagged": (SET, FLAG, PER), "rank": (SET, MET, PER, ORDER), "top": (SET, MET, PER, ORDER, COUNT),
        "compare": (ENTITIES, MET, f"{PER} {RANGE}"), "count": (SET,), "refuse": (WHY,),
        "entities": (ENT,), "average": (f"{NUM} {SERIES}", NUM), "sum": (f"{NUM} {SERIES}", NUM),
    }.items()}
"""Each operation's arguments, in order; :func:`_next` says where the last may repeat, stop early or close."""

_TOP = frozenset(op for op, kind in _RETURNS.items() if kind not in (SERIES, RANGE))
"""What a whole program may be."""


def _next(op: str, given: tuple[str, ...]) -> tuple[frozenset[str], bool]:
    """(the kinds the next argument of ``op`` may be, whether it may close now) after the kinds ``given``."""
    signature, n = SIGNATURES[op], len(given)
    if op == "entities":
        return signature[0], n >= 1
    if op in ("average", "sum"):
        if given[:1] == (SERIES,):
            return frozenset(), True
        return (signature[0] if n == 0 else signature[1]), n >= 2
    if op == "top":
        return (signature[n] if n < 5 else frozenset()), n in (4, 5)
    return (signature[n] if n < len(signature) else frozenset()), n == len(signature)


def _satisfies(kinds: frozenset[str], returns: str) -> str | None:
    """The kind of the argument a nested operation returning ``returns`` fills, or None if it fits none."""
    if returns in kinds:
        return returns
    if returns == ENTITIES and SET in kinds:
        return SET
    return None


@dataclass(frozen=True)
class Words:
    """The atoms a question's program may use, by kind."""

    by_kind: dict[str, frozenset[str]]

    def __hash__(self) -> int:
        return hash(tuple(sorted(self.by_kind.items())))

    @classmethod
    def of(cls, linked: str, metrics: Iterable[str]) -> Words:
        """Those of a linked question: its placeholders (and E1, the report's company a question may leave
        unnamed), the registry's metric names and the keywords."""
        names = set(re.findall(r"\b([EMYSFNU][1-9])\b", linked)) | {"E1"}
        kind = {k: frozenset(n for n in names if n[0] in k) for k in ("EU", "M", "Y", "S", "F", "N")}
        return cls({ENT: kind["EU"], MET: kind["M"] | frozenset(metrics), PER: kind["Y"] | frozenset(PERIODS),
                    SEC: kind["S"], FLAG: kind["F"], COUNT: kind["N"], LIMIT: kind["N"] | {"0"},
                    CMP: frozenset(COMPARISONS), ORDER: frozenset(ORDERS), WHY: frozenset(REFUSALS)})

    def allowed(self, kinds: frozenset[str]) -> frozenset[str]:
        """The atoms of any of these kinds."""
        return frozenset().union(*(self.by_kind.get(k, frozenset()) for k in kinds))


@dataclass(frozen=True)
class Prefix:
    """How far a text has got into a program: the operations open (each with its arguments' kinds so far), what is
    expected next (``start``, an operation's name, a space or the close, an atom), and the word being written."""

    stack: tuple[tuple[str, tuple[str, ...]], ...] = ()
    mode: str = "start"
    word: str = ""

    @property
    def done(self) -> bool:
        """Whether the text is a whole program."""
        return self.mode == "done"

    def feed(self, text: str, words: Words) -> Prefix | None:
        """The prefix after ``text``, or None if no program of the language begins so."""
        state: Prefix | None = self
        for ch in text:
            state = state._char(ch, words)  # type: ignore[union-attr]
            if state is None:
                return None
        return state

    def _expected(self, words: Words) -> tuple[frozenset[str], frozenset[str], frozenset[str], frozenset[str]]:
        """(atoms that may come next, and every beginning of one; operations that may open next, and every
        beginning of one)."""
        return _expected(self.stack[-1] if self.stack else None, words)

    def _char(self, ch: str, words: Words) -> Prefix | None:
        mode, word = self.mode, self.word
        if mode == "done":
            return None
        if mode in ("start", "space"):  # one space at most before the program
            if ch == " ":
                return Prefix(self.stack, "space", "") if mode == "start" else None
            return Prefix(self.stack, "op", "") if ch == "(" else None
        if mode == "op":  # an operation's name after "("
            _, _, ops, op_starts = self._expected(words)
            if ch in " )":
                if word not in ops:
                    return None
                opened = Prefix((*self.stack, (word, ())), "after", "")
                return opened._char(ch, words)
            return Prefix(self.stack, "op", word + ch) if word + ch in op_starts else None
        if mode == "after":  # a space before the next argument, or the close
            if ch == ")":
                return self._close(words)
            return Prefix(self.stack, "arg", "") if ch == " " and self._has_room(words) else None
        # mode "arg": the next argument, a nested operation or an atom being written
        atoms, atom_starts, ops, _ = self._expected(words)
        if ch == "(" and not word:
            return Prefix(self.stack, "op", "") if ops else None
        if ch in " )":
            if word not in atoms:
                return None
            op, given = self.stack[-1]
            kind = next(k for k in sorted(_next(op, given)[0]) if word in words.by_kind.get(k, ()))
            filled = Prefix((*self.stack[:-1], (op, (*given, kind))), "after", "")
            return filled._char(ch, words)
        return Prefix(self.stack, "arg", word + ch) if word + ch in atom_starts else None

    def _has_room(self, words: Words) -> bool:
        atoms, _, ops, _ = self._expected(words)
        return bool(atoms or ops)

    def _close(self, words: Words) -> Prefix | None:
        """The innermost operation closed: as an argument of the one around it, or the whole program."""
        if not self.stack:
            return None
        op, given = self.stack[-1]
        if not _next(op, given)[1]:
            return None
        rest = self.stack[:-1]
        if not rest:
            return Prefix((), "done", "")
        outer, outer_given = rest[-1]
        kind = _satisfies(_next(outer, outer_given)[0], _RETURNS[op])
        if kind is None:
            return None
        return Prefix((*rest[:-1], (outer, (*outer_given, kind))), "after", "")


@cache
def _expected(top: tuple[str, tuple[str, ...]] | None, words: Words
              ) -> tuple[frozenset[str], frozenset[str], frozenset[str], frozenset[str]]:
    can = _completable(words)
    if top is None:
        atoms, ops = frozenset[str](), _TOP & can
    else:
        kinds = _next(*top)[0]
        atoms = words.allowed(kinds)
        ops = frozenset(o for o, r in _RETURNS.items() if o in can and _satisfies(kinds, r))
    return atoms, _beginnings(atoms), ops, _beginnings(ops)


@cache
def _completable(words: Words) -> frozenset[str]:
    """The operations a question's words can complete: an operation opens only if each argument it needs can be
    written (no ``(flagged`` for a question that names no flag, no ``(sector`` for one that names no sector)."""
    done: set[str] = set()
    grew = True
    while grew:
        grew = False
        for op, signature in SIGNATURES.items():
            needed = signature[:4] if op == "top" else signature
            if op not in done and all(words.allowed(kinds) or any(_satisfies(kinds, _RETURNS[o]) for o in done)
                                      for kinds in needed):
                done.add(op)
                grew = True
    return frozenset(done)


def _beginnings(names: frozenset[str]) -> frozenset[str]:
    return frozenset(n[:i] for n in names for i in range(1, len(n) + 1))


class Constraint:
    """The tokens a model may write next, per question of a batch: for ``prefix_allowed_tokens_fn`` of
    ``generate``. ``pieces`` is each token's text; ``end`` the end-of-sequence token, allowed once a program is
    whole."""

    def __init__(self, pieces: Sequence[str], end: int, metrics: Iterable[str]) -> None:
        self.pieces = [(i, p) for i, p in enumerate(pieces) if p and re.fullmatch(r"[ ()A-Za-z0-9_]+", p)]
        self.trie = _Trie()
        for i, piece in self.pieces:
            self.trie.add(piece, i)
        self.end = end
        self.metrics = tuple(metrics)
        self._states: dict[tuple[Words, tuple[int, ...]], Prefix | None] = {}
        self._allowed: dict[tuple[Words, Prefix], list[int]] = {}
        self.text = dict(self.pieces)

    def for_batch(self, linked: Sequence[str], prompt_length: int) -> Callable[[int, object], list[int]]:
        """The function ``generate`` calls with a question's index in the batch and the tokens so far."""
        words = [_words(text, self.metrics) for text in linked]

        def allowed(batch_id: int, ids: object) -> list[int]:
            tail = ids[prompt_length:]  # type: ignore[index]
            generated = tuple(tail.tolist() if hasattr(tail, "tolist") else tail)
            state = self.state(words[batch_id], generated)
            if state is None:  # cannot happen for a constrained beam; end it rather than fail
                return [self.end]
            return self.allowed(words[batch_id], state)

        return allowed

    def state(self, words: Words, ids: tuple[int, ...]) -> Prefix | None:
        """The prefix the tokens ``ids`` write (from their parent's, kept), or None if it is none."""
        key = (words, ids)
        if key not in self._states:
            if not ids:
                self._states[key] = Prefix()
            else:
                before = self.state(words, ids[:-1])
                piece = self.text.get(ids[-1])
                self._states[key] = before.feed(piece, words) if before is not None and piece is not None else None
        return self._states[key]

    def allowed(self, words: Words, state: Prefix) -> list[int]:
        """The tokens that may follow a state (the end alone once the program is whole)."""
        key = (words, state)
        if key not in self._allowed:
            self._allowed[key] = [self.end] if state.done else sorted(self.trie.viable(state, words)) or [self.end]
        return self._allowed[key]


class _Trie:
    """The tokens' texts, character by character: the tokens allowed after a state are found by walking only the
    branches whose characters keep it a program's beginning."""

    def __init__(self) -> None:
        self.children: dict[str, _Trie] = {}
        self.ends: list[int] = []

    def add(self, text: str, token: int) -> None:
        node = self
        for ch in text:
            node = node.children.setdefault(ch, _Trie())
        node.ends.append(token)

    def viable(self, state: Prefix, words: Words) -> Iterator[int]:
        for ch, child in self.children.items():
            after = state._char(ch, words)
            if after is not None:
                yield from child.ends
                yield from child.viable(after, words)


@cache
def _words(linked: str, metrics: tuple[str, ...]) -> Words:
    return Words.of(linked, metrics)
