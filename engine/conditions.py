"""Edge conditions in CEL (Common Expression Language), compiled once, never ``eval``-ed.

Variables are global-context keys; a key that a condition references but the context does not hold is
``null``. Conditions are sandboxed by CEL itself (no I/O, no loops beyond bounded comprehensions), by a
size limit, and by a list of the functions they may call.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

MAX_CONDITION_LENGTH = 4096
"""Longer conditions are refused: a condition reads like ``amount > 100 && region in ['EU']``."""

# Named functions of the CEL standard library that the bundled evaluator implements. Anything else would
# only fail when a token reaches the split, so it is refused when the blueprint is loaded.
KNOWN_FUNCTIONS = frozenset(
    {
        "size", "matches", "contains", "startsWith", "endsWith",
        "int", "uint", "double", "string", "bytes", "timestamp", "duration", "type", "dyn",
        "getFullYear", "getMonth", "getDate", "getDayOfMonth", "getDayOfWeek", "getDayOfYear",
        "getHours", "getMinutes", "getSeconds", "getMilliseconds",
    }
)  # fmt: skip

_POSITION = re.compile(r"<input>:(\d+):(\d+):\s*(.*)")

MAX_COMPREHENSION_NESTING = 1
"""A comprehension (``all``, ``exists``, ``exists_one``, ``map``, ``filter``) inside another costs the product
of the list sizes: ten nested over ten elements is 10**10 steps in a 400-character condition, evaluated
while the database's write lock is held. Refused, so that evaluation stays linear in the size of the
condition and of the context."""

_MACRO_CALL = re.compile(r"\.\s*(?:all|exists_one|exists|map|filter)\s*$")


class ConditionError(ValueError):
    """A condition that cannot be compiled. ``line`` and ``column`` are 1-based, when known."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None) -> None:
        self.line = line
        self.column = column
        where = f" at line {line}, column {column}" if line is not None else ""
        super().__init__(f"condition does not compile{where}: {message}")


@dataclass(frozen=True)
class Condition:
    """A compiled condition. Evaluate it with :meth:`evaluate`."""

    source: str
    program: Any = field(repr=False, compare=False)
    variables: tuple[str, ...] = ()

    def evaluate(self, context: dict[str, Any]) -> bool:
        """Return whether the condition holds in ``context``.

        Raises ``ConditionEvaluationError`` when evaluation fails (a type mismatch such as
        ``null > 100``) or gives something other than a boolean.
        """
        # Only the variables the condition names: the evaluator converts every value it is given to its own
        # types, so handing it the whole context cost time in proportion to the context (17 ms for a list
        # of 2,000 small objects, on every evaluation). A name the context lacks is null (SPEC §2).
        # ``variables`` also holds comprehension variables ('i' in 'l.exists(i, i > 0)'): given as null
        # when the context lacks them, they are shadowed inside their comprehension as before.
        activation = {name: context.get(name) for name in self.variables}
        try:
            result = self.program.execute(activation)
        except Exception as error:  # the evaluator raises TypeError/RuntimeError/ValueError
            reason = _first_line(str(error)).split(". ")[0]
            raise ConditionEvaluationError(f"{self.source!r}: {reason}") from None
        if not isinstance(result, bool):
            raise ConditionEvaluationError(
                f"{self.source!r} gave {type(result).__name__} {result!r}, not a boolean"
            )
        return result


class ConditionEvaluationError(ValueError):
    """A condition could not be evaluated against the current context."""


def load_evaluator() -> None:
    """Import the CEL binding now rather than on the first compile (see :func:`compile_condition`)."""
    import cel  # noqa: F401


def compile_condition(source: str) -> Condition:
    """Compile ``source``; raise :class:`ConditionError` naming the position of the problem."""
    if len(source) > MAX_CONDITION_LENGTH:
        raise ConditionError(f"{len(source)} characters; the limit is {MAX_CONDITION_LENGTH}")
    # Imported here, on the first compile: the package also imports its own REPL (prompt_toolkit, ~0.1 s),
    # which `wfconsole list` or opening the console's first page would otherwise wait for.
    import cel

    try:
        program = cel.compile(source)
    except Exception as error:  # ValueError for syntax; be defensive about the binding's other errors
        raise _syntax_error(str(error)) from None
    unknown = sorted(
        # Operators are named like '_>_' or '@in'; anything spelled like an identifier ('__import__' too)
        # is a function call and must be known.
        name for name in program.functions() if name.isidentifier() and name not in KNOWN_FUNCTIONS
    )
    if unknown:
        raise ConditionError(f"unknown function {', '.join(repr(n) for n in unknown)}")
    nesting, offset = _comprehension_nesting(source)
    if nesting > MAX_COMPREHENSION_NESTING:
        line = source.count("\n", 0, offset) + 1
        raise ConditionError(f"comprehensions nested {nesting} deep; the limit is {MAX_COMPREHENSION_NESTING} "
                             "(a comprehension inside another costs the product of the list sizes)",
                             line=line, column=offset - (source.rfind("\n", 0, offset) + 1) + 1)
    return Condition(source=source, program=program, variables=tuple(program.variables()))


def _comprehension_nesting(source: str) -> tuple[int, int]:
    """How deep comprehension macros nest in ``source`` (which compiles), and the offset of the deepest."""
    depth = deepest = where = 0
    opened: list[bool] = []  # per open parenthesis: does it open a comprehension?
    code: list[str] = []  # the source read so far, string literals blanked
    i = 0
    while i < len(source):
        char = source[i]
        if char in "'\"":
            quote = source[i:i + 3] if source[i:i + 3] in ("'''", '"""') else char
            prefix = "".join(code[-2:]).lower()
            raw = "r" in prefix[-1:] or prefix in ("rb", "br")
            i += len(quote)
            while i < len(source) and not source.startswith(quote, i):
                i += 2 if source[i] == "\\" and not raw else 1
            i += len(quote)
            code.append(" ")
            continue
        if char == "(":
            macro = bool(_MACRO_CALL.search("".join(code[-40:])))
            opened.append(macro)
            if macro:
                depth += 1
                if depth > deepest:
                    deepest, where = depth, i
        elif char == ")" and opened and opened.pop():
            depth -= 1
        code.append(char)
        i += 1
    return deepest, where


def _syntax_error(text: str) -> ConditionError:
    match = _POSITION.search(text)
    if not match:
        return ConditionError(_first_line(text))
    line, column, message = int(match.group(1)), int(match.group(2)), match.group(3)
    # The parser lists every token it expected; the first clause says enough for a person.
    message = message.split(" expecting ")[0].strip()
    return ConditionError(message, line=line, column=column)


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else "unknown error"
