"""The watchlist expression language (``match`` and ``exclude``).

Grammar (keywords are case-insensitive; tightest first NEAR > NOT > AND > OR, so
``NOT a NEAR/3 b`` is ``NOT (a NEAR/3 b)``)::

    expr    := and (OR and)*
    and     := not (AND not)*
    not     := NOT not | near
    near    := primary (NEAR/n primary)?
    primary := FIELD ':' primary | '(' expr ')' | "phrase" | group

* ``group`` is a name from the watchlist's ``groups``: true when any of its terms occurs.
  A bare word that is not a group is an error (with a "did you mean"); quote it to match the
  word itself: ``title:"recipe"``.
* ``"phrase"`` is an ad-hoc term with the same rules as group terms (``\\"`` and ``\\\\``
  escape inside quotes; ``"=US"`` is case-sensitive, see ``alerts.matcher``).
* ``FIELD`` is ``title``, ``summary`` or ``body``; it scopes the following group, phrase or
  parenthesised sub-expression to that field. Scopes do not nest.
* ``a NEAR/n b``: an occurrence of ``a`` and one of ``b`` in the same field with at most
  ``n`` words between them (a CJK character counts as half a word, so ``NEAR/5`` allows ten
  Chinese characters). Operands are groups, phrases, or ORs of them, optionally field-scoped;
  NEAR does not chain.
* There is no implicit AND: ``taiwan mou`` is an error, so a missing operator is reported
  rather than guessed. ``-term`` is not NOT: write ``NOT term``.
* Limits, each an error at its position: ``MAX_DEPTH`` levels of parentheses and NOT, and
  ``MAX_EXPRESSION_CHARS`` characters. Everything that walks an expression recurses, so the
  depth limit is what keeps any input from ending in a RecursionError.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "FIELDS",
    "MAX_DEPTH",
    "MAX_EXPRESSION_CHARS",
    "And",
    "Expr",
    "Field",
    "FieldName",
    "Group",
    "Near",
    "Not",
    "Or",
    "Phrase",
    "QuerySyntaxError",
    "parse",
    "referenced_groups",
]

FieldName = Literal["title", "summary", "body"]
FIELDS: tuple[FieldName, ...] = ("title", "summary", "body")
_KEYWORDS = {"and", "or", "not", "near"}
MAX_DEPTH = 64
MAX_EXPRESSION_CHARS = 20_000


class QuerySyntaxError(ValueError):
    """A malformed expression; ``position`` is the 0-based offset of the offending token."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(message)
        self.message = message
        self.position = position


@dataclass(frozen=True, slots=True)
class Group:
    """A reference to a term group."""

    name: str

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True, slots=True)
class Phrase:
    """A literal term written in the expression."""

    text: str

    def __str__(self) -> str:
        return '"' + self.text.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass(frozen=True, slots=True)
class Not:
    """Negation."""

    item: Expr

    def __str__(self) -> str:
        return f"NOT {_wrap(self.item)}"


@dataclass(frozen=True, slots=True)
class And:
    """Conjunction of two or more operands."""

    items: tuple[Expr, ...]

    def __str__(self) -> str:
        return " AND ".join(_wrap(item) for item in self.items)


@dataclass(frozen=True, slots=True)
class Or:
    """Disjunction of two or more operands."""

    items: tuple[Expr, ...]

    def __str__(self) -> str:
        return " OR ".join(_wrap(item) for item in self.items)


@dataclass(frozen=True, slots=True)
class Near:
    """Both operands occur in one field within ``distance`` words of each other."""

    left: Expr
    right: Expr
    distance: int

    def __str__(self) -> str:
        return f"{_wrap(self.left)} NEAR/{self.distance} {_wrap(self.right)}"


@dataclass(frozen=True, slots=True)
class Field:
    """An operand restricted to one document field."""

    name: FieldName
    item: Expr

    def __str__(self) -> str:
        return f"{self.name}:{_wrap(self.item)}"


Expr = Group | Phrase | Not | And | Or | Near | Field


def _wrap(expr: Expr) -> str:
    return str(expr) if isinstance(expr, Group | Phrase) else f"({expr})"


def referenced_groups(expr: Expr) -> set[str]:
    """Names of all groups an expression refers to."""
    match expr:
        case Group(name):
            return {name}
        case Phrase():
            return set()
        case Not(item) | Field(_, item):
            return referenced_groups(item)
        case And(items) | Or(items):
            return set().union(*(referenced_groups(i) for i in items))
        case Near(left, right, _):
            return referenced_groups(left) | referenced_groups(right)
    raise TypeError(expr)


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # "(", ")", "and", "or", "not", "near", "field", "phrase", "word", "end"
    text: str
    pos: int
    value: int = 0


def _is_word_char(ch: str) -> bool:
    return ch.isalnum() or ch in "_-"


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch in "()":
            tokens.append(_Token(ch, ch, i))
            i += 1
        elif ch == '"':
            i = _read_phrase(text, i, tokens)
        elif _is_word_char(ch):
            j = i
            while j < n and _is_word_char(text[j]):
                j += 1
            i = _classify_word(text, i, j, tokens)
        else:
            hint = {"&": " (use AND)", "|": " (use OR)", "!": " (use NOT)"}.get(ch, "")
            raise QuerySyntaxError(f"unexpected character {ch!r}{hint}", i)
    tokens.append(_Token("end", "", n))
    return tokens


def _read_phrase(text: str, start: int, tokens: list[_Token]) -> int:
    chars: list[str] = []
    i = start + 1
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            chars.append(text[i + 1])
            i += 2
        elif ch == '"':
            phrase = "".join(chars)
            if not phrase.strip():
                raise QuerySyntaxError("empty phrase", start)
            tokens.append(_Token("phrase", phrase, start))
            return i + 1
        else:
            chars.append(ch)
            i += 1
    raise QuerySyntaxError('unterminated phrase (missing closing ")', start)


def _classify_word(text: str, i: int, j: int, tokens: list[_Token]) -> int:
    word = text[i:j]
    lower = word.casefold()
    if j < len(text) and text[j] == ":":
        if lower not in FIELDS:
            raise QuerySyntaxError(f"unknown field {word!r} (fields are: {', '.join(FIELDS)})", i)
        tokens.append(_Token("field", lower, i))
        return j + 1
    if lower == "near":
        k = j + 1
        while k < len(text) and text[k].isdigit() and text[k].isascii():
            k += 1
        if j >= len(text) or text[j] != "/" or k == j + 1:
            raise QuerySyntaxError("NEAR needs a distance in words, e.g. NEAR/5", i)
        tokens.append(_Token("near", text[i:k], i, int(text[j + 1 : k])))
        return k
    if lower in _KEYWORDS:
        tokens.append(_Token(lower, word, i))
    else:
        tokens.append(_Token("word", word, i))
    return j


_OPERAND_START = {"(", "field", "phrase", "word", "not"}


class _Parser:
    def __init__(self, text: str, groups: Collection[str]) -> None:
        self.tokens = _tokenize(text)
        self.groups = groups
        self.index = 0
        self.depth = 0

    @property
    def tok(self) -> _Token:
        return self.tokens[self.index]

    def advance(self) -> _Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def parse(self) -> Expr:
        if self.tok.kind == "end":
            raise QuerySyntaxError("empty expression", 0)
        expr = self.parse_or()
        token = self.tok
        if token.kind == ")":
            raise QuerySyntaxError("unmatched ')'", token.pos)
        if token.kind in _OPERAND_START:
            raise QuerySyntaxError(
                f"expected AND, OR or NEAR/n before {token.text!r} "
                "(adjacent terms are not implicitly ANDed)",
                token.pos,
            )
        if token.kind != "end":  # pragma: no cover - every other token is consumed above
            raise QuerySyntaxError(f"unexpected {token.text!r}", token.pos)
        return expr

    def parse_or(self) -> Expr:
        items = [self.parse_and()]
        while self.tok.kind == "or":
            self.operator_needs_operand()
            items.append(self.parse_and())
        return items[0] if len(items) == 1 else Or(tuple(items))

    def parse_and(self) -> Expr:
        items = [self.parse_not()]
        while self.tok.kind == "and":
            self.operator_needs_operand()
            items.append(self.parse_not())
        return items[0] if len(items) == 1 else And(tuple(items))

    def parse_not(self) -> Expr:
        if self.tok.kind == "not":
            self.enter(self.tok)
            self.operator_needs_operand()
            expr = Not(self.parse_not())
            self.depth -= 1
            return expr
        return self.parse_near()

    def enter(self, token: _Token) -> None:
        """One level deeper (a '(' or a NOT); an error past ``MAX_DEPTH``."""
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise QuerySyntaxError(
                f"expression nested too deeply (more than {MAX_DEPTH} levels of "
                "parentheses and NOT)",
                token.pos,
            )

    def parse_near(self) -> Expr:
        start = self.tok.pos
        left = self.parse_primary(scoped=False)
        if self.tok.kind != "near":
            return left
        near = self.tok
        self.operator_needs_operand()
        right_pos = self.tok.pos
        right = self.parse_primary(scoped=False)
        for operand, pos in ((left, start), (right, right_pos)):
            if not _positional(operand):
                raise QuerySyntaxError("NEAR operands must be groups, phrases or ORs of them", pos)
        if self.tok.kind == "near":
            raise QuerySyntaxError("NEAR cannot be chained; combine with AND", self.tok.pos)
        return Near(left, right, near.value)

    def operator_needs_operand(self) -> None:
        op = self.advance()
        if self.tok.kind not in _OPERAND_START:
            raise QuerySyntaxError(f"{op.text.upper()!r} needs an operand after it", op.pos)

    def parse_primary(self, scoped: bool) -> Expr:
        token = self.tok
        if token.kind == "field":
            if scoped:
                raise QuerySyntaxError("field scopes cannot be nested", token.pos)
            self.advance()
            if self.tok.kind == "field":
                raise QuerySyntaxError("field scopes cannot be nested", self.tok.pos)
            if self.tok.kind not in {"(", "phrase", "word"}:
                raise QuerySyntaxError(
                    f"'{token.text}:' needs a group, phrase or (...) after it", token.pos
                )
            name: FieldName = token.text  # type: ignore[assignment]
            return Field(name, self.parse_primary(scoped=True))
        if token.kind == "(":
            self.enter(token)
            self.advance()
            if self.tok.kind == ")":
                raise QuerySyntaxError("empty parentheses", token.pos)
            inner = self.parse_or_scoped(scoped)
            self.depth -= 1
            if self.tok.kind != ")":
                if self.tok.kind == "end":
                    raise QuerySyntaxError("unclosed '('", token.pos)
                raise QuerySyntaxError(
                    f"expected AND, OR or ')' before {self.tok.text!r}", self.tok.pos
                )
            self.advance()
            return inner
        if token.kind == "phrase":
            self.advance()
            return Phrase(token.text)
        if token.kind == "word":
            self.advance()
            return Group(self.resolve_group(token))
        if token.kind in {"and", "or", "near"}:
            raise QuerySyntaxError(f"{token.text.upper()!r} needs an operand before it", token.pos)
        if token.kind == ")":
            raise QuerySyntaxError("unmatched ')'", token.pos)
        if token.kind == "not":
            raise QuerySyntaxError(
                "NEAR operands must be groups, phrases or ORs of them", token.pos
            )
        raise QuerySyntaxError("expression ends where an operand was expected", token.pos)

    def parse_or_scoped(self, scoped: bool) -> Expr:
        if not scoped:
            return self.parse_or()
        start = self.index
        expr = self.parse_or()
        for token in self.tokens[start : self.index]:
            if token.kind == "field":
                raise QuerySyntaxError("field scopes cannot be nested", token.pos)
        return expr

    def resolve_group(self, token: _Token) -> str:
        if token.text in self.groups:
            return token.text
        folded = {g.casefold(): g for g in self.groups}
        if token.text.casefold() in folded:
            return folded[token.text.casefold()]
        if token.text.startswith("-"):
            raise QuerySyntaxError(
                f"'-' is not an operator: write NOT {token.text[1:] or '<group>'}", token.pos
            )
        close = difflib.get_close_matches(token.text, list(self.groups), n=1, cutoff=0.6)
        if close:
            raise QuerySyntaxError(
                f"unknown group {token.text!r} (did you mean {close[0]!r}?)", token.pos
            )
        known = ", ".join(sorted(self.groups)[:10]) or "none defined"
        raise QuerySyntaxError(
            f"unknown group {token.text!r} (groups: {known}); "
            f'to match the word itself, quote it: "{token.text}"',
            token.pos,
        )


def _positional(expr: Expr) -> bool:
    match expr:
        case Group() | Phrase():
            return True
        case Field(_, item):
            return _positional(item)
        case Or(items):
            return all(_positional(i) for i in items)
    return False


def parse(text: str, groups: Collection[str]) -> Expr:
    """Parse a ``match``/``exclude`` expression whose bare words must name ``groups``.

    Raises :class:`QuerySyntaxError` with the offending token's position.
    """
    if len(text) > MAX_EXPRESSION_CHARS:
        raise QuerySyntaxError(
            f"expression too long ({len(text)} characters; at most {MAX_EXPRESSION_CHARS})", 0
        )
    return _Parser(text, groups).parse()
