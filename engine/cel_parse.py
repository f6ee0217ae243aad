"""A parser for CEL conditions (https://github.com/google/cel-spec/blob/master/doc/langdef.md).

The CEL binding compiles and evaluates conditions but shows nothing of their structure, and the checks
made before a condition runs need it: how deep comprehensions nest, what an evaluation will cost. So
conditions are parsed a second time here, into a small tree. The grammar is the one the binding's parser
is generated from (cel-rust's ``CEL.g4``): its lexical rules (comments, whitespace, raw, triple-quoted and
bytes literals, escapes), its precedence, its macros (``has``, ``all``, ``exists``, ``exists_one`` and its
alias ``existsOne``, ``map`` with two or three arguments, ``filter``), its reserved words and its limit of
96 nested expressions. Tests fuzz the two parsers against each other (tests/engine/test_cel_parse.py):
what one accepts the other accepts.

The parser does not recurse along chains (``a + b + c`` and ``!!!x`` are one node each, ``a.b.c`` and
``a[0][0]`` are read in a loop), so a 4096-character condition cannot make it recurse a thousand deep;
code that walks the tree follows chains of selections in a loop too (see :func:`children`).
"""

from __future__ import annotations

from typing import Any, NamedTuple

MAX_EXPRESSION_DEPTH = 96
"""Expressions nested deeper (parentheses, arguments, indexes, list and map entries, ``:`` branches)
are refused, as the binding's parser refuses them ("Recursion limit of 96 exceeded")."""

RESERVED = frozenset(
    "as break const continue else for function if import let loop package namespace return var void while".split()
)
"""Names CEL keeps for its host languages: refused as variables and functions (fields may use them)."""

COMPREHENSIONS = {"all": 2, "exists": 2, "exists_one": 2, "existsOne": 2, "map": 3, "filter": 2}
"""Receiver-style macros and their largest number of arguments (``map`` also takes a filter)."""


class ParseError(ValueError):
    """Text that is not a CEL expression. ``offset`` is where the problem was found (0-based)."""

    def __init__(self, message: str, offset: int) -> None:
        self.offset = offset
        super().__init__(message)


# -- the tree ----------------------------------------------------------------------------------------
# ``at`` is the offset of the token that names a node (the operator, the macro's name, the literal).


class Literal(NamedTuple):
    """``kind`` is int, uint, double, string, bytes, bool or null; ``value`` the decoded value."""

    kind: str
    value: Any
    at: int


class Name(NamedTuple):
    """A variable (or a type name such as ``int``); ``.a`` keeps its leading dot."""

    name: str
    at: int


class Select(NamedTuple):
    """``operand.field``; ``test`` for ``has(operand.field)``."""

    operand: Node
    field: str
    at: int
    test: bool = False


class Index(NamedTuple):
    operand: Node
    key: Node
    at: int


class Call(NamedTuple):
    """A function call: ``function(args)``, or ``target.function(args)`` when ``target`` is set."""

    function: str
    target: Node | None
    args: tuple[Node, ...]
    at: int


class Comprehension(NamedTuple):
    """``range.macro(variable, args...)``: ``args`` is (predicate,) or, for ``map``, (transform,) or
    (filter, transform)."""

    macro: str
    range: Node
    variable: str
    args: tuple[Node, ...]
    at: int


class Unary(NamedTuple):
    """``op`` (``!`` or ``-``) applied ``times`` times."""

    op: str
    times: int
    operand: Node
    at: int


class Chain(NamedTuple):
    """``first op1 rest1 op2 rest2 ...`` evaluated left to right, all operators of one precedence
    (``||``; ``&&``; relations; ``+ -``; ``* / %``). ``at`` holds each operator's offset."""

    first: Node
    ops: tuple[str, ...]
    rest: tuple[Node, ...]
    at: tuple[int, ...]


class Conditional(NamedTuple):
    condition: Node
    then: Node
    otherwise: Node
    at: int


class ListLiteral(NamedTuple):
    items: tuple[Node, ...]
    at: int


class MapLiteral(NamedTuple):
    entries: tuple[tuple[Node, Node], ...]
    at: int


class Message(NamedTuple):
    """``type_name{field: value, ...}`` (a protocol buffer message; conditions cannot name one that exists)."""

    type_name: str
    fields: tuple[tuple[str, Node], ...]
    at: int


Node = (Literal | Name | Select | Index | Call | Comprehension | Unary | Chain | Conditional | ListLiteral | MapLiteral
        | Message)


# -- tokens ------------------------------------------------------------------------------------------

_TWO_CHAR = frozenset({"==", "!=", "<=", ">=", "&&", "||"})
_ONE_CHAR = frozenset("<>[]{}().,-!?:+*/%")
_KEYWORDS = frozenset({"true", "false", "null", "in"})
_WHITESPACE = frozenset("\t\n\f\r ")
_IDENT_START = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_")
_IDENT_CHAR = _IDENT_START | frozenset("0123456789")
_DIGITS = frozenset("0123456789")
_HEX = frozenset("0123456789abcdefABCDEF")
_OCTAL = frozenset("01234567")
_SIMPLE_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v",
                   '"': '"', "'": "'", "\\": "\\", "?": "?", "`": "`"}


class Token(NamedTuple):
    """``kind`` is the punctuation itself, a keyword, IDENT, INT, UINT, DOUBLE, STRING, BYTES or EOF."""

    kind: str
    text: str
    at: int
    value: Any = None


def tokenize(source: str) -> list[Token]:
    """Split ``source`` into tokens, dropping whitespace and ``//`` comments; raise :class:`ParseError`."""
    tokens: list[Token] = []
    i, end = 0, len(source)
    while i < end:
        char = source[i]
        if char in _WHITESPACE:
            i += 1
        elif source.startswith("//", i):
            newline = source.find("\n", i)
            i = end if newline < 0 else newline
        elif char in _IDENT_START:
            i = _word(source, i, tokens)
        elif char in _DIGITS or (char == "." and i + 1 < end and source[i + 1] in _DIGITS):
            i = _number(source, i, tokens)
        elif char in "'\"":
            i = _quoted(source, i, i, raw=False, as_bytes=False, tokens=tokens)
        elif source[i:i + 2] in _TWO_CHAR:
            tokens.append(Token(source[i:i + 2], source[i:i + 2], i))
            i += 2
        elif char in _ONE_CHAR:
            tokens.append(Token(char, char, i))
            i += 1
        else:
            raise ParseError(f"unexpected character {char!r}", i)
    tokens.append(Token("EOF", "", end))
    return tokens


def _word(source: str, start: int, tokens: list[Token]) -> int:
    """An identifier or keyword, or a string literal with a prefix (r, b, br, in either case)."""
    first = source[start]
    second = source[start + 1:start + 2]
    if first in "rR" and second in ("'", '"'):
        return _quoted(source, start, start + 1, raw=True, as_bytes=False, tokens=tokens)
    if first in "bB":
        if second in ("'", '"'):
            return _quoted(source, start, start + 1, raw=False, as_bytes=True, tokens=tokens)
        if second in ("r", "R") and source[start + 2:start + 3] in ("'", '"'):
            return _quoted(source, start, start + 2, raw=True, as_bytes=True, tokens=tokens)
    i = start + 1
    while i < len(source) and source[i] in _IDENT_CHAR:
        i += 1
    word = source[start:i]
    tokens.append(Token(word if word in _KEYWORDS else "IDENT", word, start))
    return i


def _number(source: str, start: int, tokens: list[Token]) -> int:
    """INT (decimal or 0x), UINT (with u/U) or DOUBLE, each the longest match, as ANTLR's lexer takes it."""
    end = len(source)

    def digits(i: int, allowed: frozenset[str] = _DIGITS) -> int:
        while i < end and source[i] in allowed:
            i += 1
        return i

    def exponent(i: int) -> int:  # the end of an exponent starting at i, or i when there is none
        if i < end and source[i] in "eE":
            j = i + 1 + (source[i + 1:i + 2] in ("+", "-"))
            k = digits(j)
            if k > j:
                return k
        return i

    if source.startswith("0x", start) and source[start + 2:start + 3] in _HEX and start + 2 < end:
        i = digits(start + 2, _HEX)
        kind = "INT"
    elif source[start] == ".":
        i, kind = exponent(digits(start + 1)), "DOUBLE"
    else:
        i, kind = digits(start), "INT"
        if source[i:i + 1] == "." and source[i + 1:i + 2] in _DIGITS and i + 1 < end:
            i, kind = exponent(digits(i + 1)), "DOUBLE"
        elif exponent(i) > i:
            i, kind = exponent(i), "DOUBLE"
    if kind == "INT" and source[i:i + 1] in ("u", "U") and i < end:
        i, kind = i + 1, "UINT"
    tokens.append(Token(kind, source[start:i], start))
    return i


def _quoted(source: str, start: int, quote_at: int, *, raw: bool, as_bytes: bool, tokens: list[Token]) -> int:
    """A string or bytes literal whose first quote is at ``quote_at``; its value decoded as CEL does."""
    quote = source[quote_at]
    triple = source.startswith(quote * 3, quote_at)
    closing = quote * 3 if triple else quote
    i = quote_at + len(closing)
    parts: list[str | int] = []  # characters, and the octets of \x and octal escapes in bytes
    while True:
        if i >= len(source):
            raise ParseError("unterminated string", start)
        if source.startswith(closing, i):
            break
        char = source[i]
        if not triple and char in "\r\n":
            raise ParseError("newline in a string (use ''' or \"\"\" for text on several lines)", i)
        if char == "\\" and not raw:
            decoded, i = _escape(source, i, as_bytes)
            parts.append(decoded)
            continue
        parts.append(char)
        i += 1
    i += len(closing)
    text = source[start:i]
    if as_bytes:
        value = b"".join(bytes([p]) if isinstance(p, int) else p.encode() for p in parts)
        tokens.append(Token("BYTES", text, start, value))
    else:
        tokens.append(Token("STRING", text, start, "".join(p if isinstance(p, str) else chr(p) for p in parts)))
    return i


def _escape(source: str, at: int, as_bytes: bool) -> tuple[str | int, int]:
    """The escape sequence at ``at`` (its backslash): its character (or octet in bytes) and where it ends."""
    kind = source[at + 1:at + 2]
    if kind in _SIMPLE_ESCAPES:
        return _SIMPLE_ESCAPES[kind], at + 2
    if kind in ("0", "1", "2", "3") and _all_in(source[at + 2:at + 4], _OCTAL, 2):
        code = int(source[at + 1:at + 4], 8)
        return (code if as_bytes else chr(code)), at + 4
    width = {"x": 2, "X": 2, "u": 4, "U": 8}.get(kind)
    if width is None or not _all_in(source[at + 2:at + 2 + width], _HEX, width):
        raise ParseError(f"invalid escape sequence {source[at:at + 2]!r}", at)
    code = int(source[at + 2:at + 2 + width], 16)
    if width == 2:
        return (code if as_bytes else chr(code)), at + 2 + width
    if as_bytes:
        raise ParseError(f"\\{kind} escapes are for strings, not bytes", at)
    if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        raise ParseError(f"invalid code point {source[at:at + 2 + width]!r}", at)
    return chr(code), at + 2 + width


def _all_in(text: str, allowed: frozenset[str], length: int) -> bool:
    return len(text) == length and all(c in allowed for c in text)


# -- the parser ------------------------------------------------------------------------------------

_RELATIONS = frozenset({"<", "<=", ">=", ">", "==", "!=", "in"})
# Binary operators by precedence, lowest first; each level is left-associative.
_LEVELS = (frozenset({"||"}), frozenset({"&&"}), _RELATIONS, frozenset({"+", "-"}), frozenset({"*", "/", "%"}))
_BINARY = frozenset().union(*_LEVELS)
_NUMBERS = frozenset({"INT", "DOUBLE"})  # what a '-' makes negative literals of (not UINT: '-1u' negates)
_LITERAL_KINDS = {"INT": "int", "UINT": "uint", "DOUBLE": "double", "STRING": "string", "BYTES": "bytes"}
_INT_MIN, _INT_MAX, _UINT_MAX = -(2**63), 2**63 - 1, 2**64 - 1


def parse(source: str) -> Node:
    """Parse ``source`` into its tree; raise :class:`ParseError` where it is not CEL."""
    return _Parser(tokenize(source)).parse()


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.i = 0
        self.depth = 0

    # - helpers -

    @property
    def token(self) -> Token:
        return self.tokens[self.i]

    def peek(self, ahead: int = 1) -> Token:
        return self.tokens[min(self.i + ahead, len(self.tokens) - 1)]

    def take(self, kind: str | None = None) -> Token:
        token = self.token
        if kind is not None and token.kind != kind:
            found = "the end" if token.kind == "EOF" else repr(token.text)
            raise ParseError(f"expected {kind!r}, found {found}", token.at)
        self.i += 1
        return token

    def accept(self, kind: str) -> bool:
        if self.token.kind == kind:
            self.i += 1
            return True
        return False

    # - grammar -

    def parse(self) -> Node:
        node = self.expr()
        if self.token.kind != "EOF":
            raise ParseError(f"unexpected {self.token.text!r}", self.token.at)
        return node

    def expr(self) -> Node:
        self.depth += 1
        if self.depth > MAX_EXPRESSION_DEPTH:
            raise ParseError(f"expressions nested more than {MAX_EXPRESSION_DEPTH} deep", self.token.at)
        condition = self.binary()
        if self.token.kind == "?":
            at = self.take().at
            then = self.binary()
            self.take(":")
            condition = Conditional(condition, then, self.expr(), at)
        self.depth -= 1
        return condition

    def binary(self) -> Node:
        """Operands and binary operators read in one loop, then grouped by precedence: the parser's own
        recursion stays a few frames per nested expression, whatever the length of a chain."""
        operands = [self.operand()]
        ops: list[Token] = []
        while self.token.kind in _BINARY:
            ops.append(self.take())
            operands.append(self.operand())
        return _group(operands, ops, 0) if ops else operands[0]

    def operand(self) -> Node:
        """Unary operators, then a primary expression and its selections, calls and indexes."""
        token = self.token
        unary = token.kind in ("!", "-") and not (token.kind == "-" and self.peek().kind in _NUMBERS)
        count = 0
        if unary:  # '-1' (and '- 1') is a negative literal, not a negation
            while self.token.kind == token.kind:
                count += 1
                self.take()
            # '!-1' negates the literal -1; '!-a', '-!a' do not parse.
            if self.token.kind in ("!", "-") and not (token.kind == "!" and self.peek().kind in _NUMBERS):
                raise ParseError(f"{self.token.text!r} cannot follow {token.kind!r}", self.token.at)
        node = self.primary()
        while self.token.kind in (".", "["):
            opening = self.take()
            if self.token.kind == "?":
                raise ParseError(f"optional syntax ('{opening.kind}?') is not supported", self.token.at)
            if opening.kind == "[":
                node = Index(node, self.expr(), opening.at)
                self.take("]")
                continue
            name = self.take("IDENT")
            if self.token.kind == "(":
                node = self.call(name.text, node, name.at)
            else:
                node = Select(node, name.text, opening.at)
        return Unary(token.kind, count, node, token.at) if unary else node

    def primary(self) -> Node:
        token = self.token
        kind = token.kind
        if kind == "IDENT" or (kind == "." and self.peek().kind == "IDENT"):
            return self.name_call_or_message()
        if kind == "(":
            self.take()
            node = self.expr()
            self.take(")")
            return node
        if kind == "[":
            self.take()
            return ListLiteral(tuple(self.entries("]", None)), token.at)
        if kind == "{":
            self.take()
            return MapLiteral(tuple(self.entries("}", ":")), token.at)
        return self.literal()

    def name_call_or_message(self) -> Node:
        start = self.token
        dot = "." if self.accept(".") else ""
        # A dotted name followed by '{' creates a message: 'a.b.C{f: 1}'.
        ahead = 1
        while self.peek(ahead).kind == "." and self.peek(ahead + 1).kind == "IDENT":
            ahead += 2
        if self.peek(ahead).kind == "{":
            parts = [self.take("IDENT").text]
            while self.accept("."):
                parts.append(self.take("IDENT").text)
            self.take("{")
            fields = self.entries("}", ":", names=True)
            return Message(dot + ".".join(parts), tuple(fields), start.at)
        name = self.take("IDENT")
        if name.text in RESERVED:
            raise ParseError(f"reserved identifier: {dot}{name.text}", name.at)
        if self.token.kind == "(":
            return self.call(dot + name.text, None, name.at)
        return Name(dot + name.text, name.at)

    def call(self, function: str, target: Node | None, at: int) -> Node:
        self.take("(")
        args: list[Node] = []
        if self.token.kind != ")":
            args.append(self.expr())
            while self.accept(","):
                args.append(self.expr())
        self.take(")")
        return _macro(function, target, tuple(args), at)

    def entries(self, closing: str, pairs: str | None, names: bool = False) -> list:
        """Entries separated by ',' up to ``closing`` (a trailing ',' is allowed, even alone: '[,]'):
        expressions, or with ``pairs`` ``key: value`` pairs, whose keys are field names when ``names``."""
        items: list = []
        if self.token.kind not in (closing, ","):
            while True:
                if self.token.kind == "?":
                    raise ParseError("optional entries ('?') are not supported", self.token.at)
                key = self.take("IDENT").text if names else self.expr()
                if pairs:
                    self.take(":")
                    key = (key, self.expr())
                items.append(key)
                if self.token.kind != "," or self.peek().kind == closing:
                    break
                self.take()
        self.accept(",")
        self.take(closing)
        return items

    def literal(self) -> Node:
        token = self.take()
        if token.kind in ("true", "false"):
            return Literal("bool", token.kind == "true", token.at)
        if token.kind == "null":
            return Literal("null", None, token.at)
        if token.kind in ("STRING", "BYTES"):
            return Literal(_LITERAL_KINDS[token.kind], token.value, token.at)
        sign = ""
        if token.kind == "-":
            sign, token = "-", self.take()
        if token.kind in ("INT", "UINT", "DOUBLE"):
            return Literal(_LITERAL_KINDS[token.kind], _number_value(sign, token), token.at)
        found = "the end" if token.kind == "EOF" else repr(token.text)
        raise ParseError(f"expected an expression, found {found}", token.at)


def _group(operands: list[Node], ops: list[Token], level: int) -> Node:
    """Group ``operands[0] ops[0] operands[1] ...`` at precedence ``level`` and above, left to right."""
    if level == len(_LEVELS):
        return operands[0]
    operators = _LEVELS[level]
    groups: list[Node] = []
    split: list[Token] = []
    start = 0
    for k, op in enumerate(ops):
        if op.kind in operators:
            groups.append(_group(operands[start:k + 1], ops[start:k], level + 1))
            split.append(op)
            start = k + 1
    groups.append(_group(operands[start:], ops[start:], level + 1))
    if not split:
        return groups[0]
    return Chain(groups[0], tuple(t.kind for t in split), tuple(groups[1:]), tuple(t.at for t in split))


def _number_value(sign: str, token: Token) -> int | float:
    text = token.text.rstrip("uU")
    if token.kind == "DOUBLE":
        value = float(sign + text)
        if value in (float("inf"), float("-inf")):
            raise ParseError(f"invalid double literal {sign}{token.text}", token.at)
        return value
    number = int(text[2:], 16) if text.startswith("0x") else int(text)
    number = -number if sign else number
    low, high = (0, _UINT_MAX) if token.kind == "UINT" else (_INT_MIN, _INT_MAX)
    if not low <= number <= high:
        raise ParseError(f"invalid {token.kind.lower()} literal {sign}{token.text}", token.at)
    return number


def _macro(function: str, target: Node | None, args: tuple[Node, ...], at: int) -> Node:
    """A call, or the macro it spells: ``has(a.b)`` and the comprehensions."""
    if target is None:
        if function == "has" and len(args) == 1:
            if not isinstance(args[0], Select):  # has(has(a.b)) passes, as in the binding
                raise ParseError("invalid argument to has() macro", at)
            return Select(args[0].operand, args[0].field, args[0].at, test=True)
        return Call(function, None, args, at)
    largest = COMPREHENSIONS.get(function)
    if largest is None or not 2 <= len(args) <= largest:
        return Call(function, target, args, at)
    variable = args[0]
    if not isinstance(variable, Name):
        raise ParseError("argument must be a simple name", at)
    return Comprehension(function, target, variable.name, args[1:], at)


def children(node: Node) -> tuple[Node | None, ...]:
    """The nodes directly below ``node`` (``None`` for a global call's missing target)."""
    kind = type(node)
    if kind is Select or kind is Unary:
        return (node.operand,)
    if kind is Index:
        return (node.operand, node.key)
    if kind is Call:
        return (node.target, *node.args)
    if kind is Comprehension:
        return (node.range, *node.args)
    if kind is Chain:
        return (node.first, *node.rest)
    if kind is Conditional:
        return (node.condition, node.then, node.otherwise)
    if kind is ListLiteral:
        return node.items
    if kind is MapLiteral:
        return tuple(part for entry in node.entries for part in entry)
    if kind is Message:
        return tuple(value for _, value in node.fields)
    return ()


def operand(node: Node) -> Node | None:
    """What a selection, index, method call or comprehension applies to (the start of ``a.b.c``), or None."""
    kind = type(node)
    if kind is Select or kind is Index:
        return node.operand
    if kind is Call:
        return node.target
    if kind is Comprehension:
        return node.range
    return None


def line_and_column(source: str, offset: int) -> tuple[int, int]:
    """The 1-based line and column of ``offset`` in ``source``."""
    line = source.count("\n", 0, offset) + 1
    return line, offset - (source.rfind("\n", 0, offset) + 1) + 1
