"""Simple FEEL conditions, as Camunda 8 modelers write them (``=amount > 100``, ``= status = "ok"``), in CEL.

Only what reads the same in both is translated: comparisons (``=`` ``!=`` ``<`` ``<=`` ``>`` ``>=``) of
variables, field paths (``order.total``), numbers, strings, ``true``, ``false`` and ``null``, joined by
``and`` / ``or``, negated by ``not(...)``, grouped by parentheses. Anything else (functions, ranges, ``in``,
lists, arithmetic, ``if``, quantifiers, temporal literals) is a :class:`FeelError` with its column: a condition
is never guessed at.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<number>\d+(?:\.\d+)?)
  | (?P<string>"(?:[^"\\]|\\.)*")
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op><=|>=|!=|=|<|>)
  | (?P<punct>[().\-])
""", re.VERBOSE)
_COMPARISONS = {"=": "==", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_LITERALS = {"true", "false", "null"}
_KEYWORDS = {"and", "or", "not", *_LITERALS}
# Words CEL reserves: a FEEL variable so named has no CEL spelling.
_CEL_RESERVED = {"in", "as", "break", "const", "continue", "else", "for", "function", "if", "import", "let", "loop",
                 "package", "namespace", "return", "var", "void", "while"}
_STRING_ESCAPES = set('nrt"\\\'u')


class FeelError(ValueError):
    """A FEEL expression that is not one of the simple comparisons translated to CEL; ``column`` (1-based) is
    where reading stopped."""

    def __init__(self, message: str, column: int) -> None:
        super().__init__(f"{message} (column {column})")
        self.column = column


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str
    column: int


def feel_to_cel(expression: str) -> str:
    """The CEL text of a simple FEEL ``expression`` (with or without Zeebe's leading ``=``); raises
    :class:`FeelError` for anything else."""
    text = expression.strip()
    offset = len(expression) - len(expression.lstrip())
    if text.startswith("="):
        text, offset = text[1:], offset + 1
    parser = _Parser(_tokens(text, offset))
    if not parser.tokens:
        raise FeelError("an empty condition", offset + 1)
    try:
        cel = parser.disjunction()
    except RecursionError:
        raise FeelError("nested too deeply", offset + 1) from None
    parser.expect_end()
    return cel


def _tokens(text: str, offset: int) -> list[_Token]:
    found: list[_Token] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise FeelError(f"{text[position]!r} is not part of the simple FEEL wfconsole translates",
                            offset + position + 1)
        kind = match.lastgroup or ""
        if kind != "space":
            found.append(_Token(kind, match.group(), offset + position + 1))
        position = match.end()
    return found


class _Parser:
    """Recursive descent over the tokens; each rule returns CEL text. Nesting deeper than Python's stack is a
    :class:`FeelError`; CEL's own depth check runs on the result."""

    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens, self.position = tokens, 0

    def peek(self) -> _Token | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self) -> _Token:
        token = self.peek()
        if token is None:
            end = self.tokens[-1].column + len(self.tokens[-1].text) if self.tokens else 1
            raise FeelError("the condition ends too soon", end)
        self.position += 1
        return token

    def expect(self, text: str) -> None:
        token = self.take()
        if token.text != text:
            raise FeelError(f"expected {text!r}, found {token.text!r}", token.column)

    def expect_end(self) -> None:
        token = self.peek()
        if token is not None:
            raise FeelError(f"unexpected {token.text!r}: only comparisons joined by and / or are translated",
                            token.column)

    def disjunction(self) -> str:
        parts = [self.conjunction()]
        while self._next_is("or"):
            self.take()
            parts.append(self.conjunction())
        return " || ".join(parts)

    def conjunction(self) -> str:
        parts = [self.comparison()]
        while self._next_is("and"):
            self.take()
            parts.append(self.comparison())
        return " && ".join(parts)

    def comparison(self) -> str:
        left = self.unary()
        token = self.peek()
        if token is None or token.kind != "op":
            return left
        self.take()
        return f"{left} {_COMPARISONS[token.text]} {self.unary()}"

    def unary(self) -> str:
        token = self.peek()
        if token is not None and token.text == "not":
            self.take()
            self.expect("(")
            inner = self.disjunction()
            self.expect(")")
            return f"!({inner})"
        return self.primary()

    def primary(self) -> str:
        token = self.take()
        if token.text == "(":
            inner = self.disjunction()
            self.expect(")")
            return f"({inner})"
        if token.text == "-":
            number = self.take()
            if number.kind != "number":
                raise FeelError("a '-' is only translated before a number", token.column)
            return f"-{number.text}"
        if token.kind == "number" or token.text in _LITERALS:
            return token.text
        if token.kind == "string":
            return _cel_string(token)
        if token.kind == "name" and token.text not in _KEYWORDS:
            return self._path(token)
        raise FeelError(f"unexpected {token.text!r}", token.column)

    def _path(self, first: _Token) -> str:
        names = [self._variable(first)]
        while self._next_is("."):
            self.take()
            names.append(self._variable(self.take()))
        following = self.peek()
        if following is not None and following.text == "(":
            raise FeelError(f"a function call ({'.'.join(names)}(...)) is not translated", following.column)
        return ".".join(names)

    def _variable(self, token: _Token) -> str:
        if token.kind != "name" or token.text in _KEYWORDS:
            raise FeelError(f"expected a name, found {token.text!r}", token.column)
        if token.text in _CEL_RESERVED:
            raise FeelError(f"{token.text!r} is not translated (CEL reserves the word: a variable so named has no "
                            "CEL spelling)", token.column)
        return token.text

    def _next_is(self, text: str) -> bool:
        token = self.peek()
        return token is not None and token.text == text


def _cel_string(token: _Token) -> str:
    """A FEEL string literal as a CEL one: both are double-quoted with backslash escapes; only the escapes
    both read alike pass."""
    body = token.text[1:-1]
    index = body.find("\\")
    while index != -1:
        escaped = body[index + 1:index + 2]
        if escaped not in _STRING_ESCAPES:
            raise FeelError(f"the escape \\{escaped} is not translated", token.column + index + 1)
        index = body.find("\\", index + 2)
    return f'"{body}"'
