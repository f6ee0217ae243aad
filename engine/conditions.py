"""Edge conditions in CEL (Common Expression Language), compiled once, never ``eval``-ed.

Variables are global-context keys; a key that a condition references but the context does not hold is
``null``. Conditions are sandboxed by CEL itself (no I/O, no loops beyond bounded comprehensions), by a
size limit, by a list of the functions they may call, and by a bound on what an evaluation may cost:
each is parsed a second time (engine/cel_parse.py) so that its structure can be checked, and its cost is
estimated from that tree and the values it reads before the binding runs it (engine/cel_cost.py).
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
while the database's write lock is held. Refused when the blueprint is loaded, whatever the lists hold
(the cost bound would refuse most such conditions only when they meet large lists). Counted on the parsed
condition: comments, parentheses and line breaks cannot hide a macro."""

MAX_DEPTH = 150
"""Conditions whose tree is deeper (an operator inside an operator inside a call...; a chain such as
``a.b.c``, ``a[0][1]`` or ``a + b + c`` counts once) are refused: the cost estimate walks the tree
recursively, two Python frames a level. Ordinary conditions are under 20 deep; the binding's own limit is
96 nested parentheses, and a few conditions it takes are refused here (90 parentheses each holding
``||``, ``&&``, ``==``, ``+``, ``*`` and ``-`` are 540 deep)."""

SMALL_TEXT = 256
"""A condition whose cost fits the limit when every value it reads is a number, a boolean, null or a
string of at most this many characters is not estimated again at evaluation when its values are such:
the common case (``amount > 100 && region in ['EU', 'US']``) pays a type check per variable, not an
estimate."""


class ConditionError(ValueError):
    """A condition that cannot be compiled. ``line`` and ``column`` are 1-based, when known."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None) -> None:
        self.line = line
        self.column = column
        where = f" at line {line}, column {column}" if line is not None else ""
        super().__init__(f"condition does not compile{where}: {message}")


@dataclass(frozen=True)
class Condition:
    """A compiled condition. Evaluate it with :meth:`evaluate`.

    ``tree`` is the parsed condition (engine/cel_parse.py); ``reads`` maps each name it reads from the
    context to the fields it reads of it (None: the whole value; see :func:`engine.cel_checks.reads`),
    or is None when it reads every name whole;
    ``fits_small_values`` says that its cost is within the limit whenever the values it reads are small
    (see :data:`SMALL_TEXT`)."""

    source: str
    program: Any = field(repr=False, compare=False)
    variables: tuple[str, ...] = ()
    tree: Any = field(default=None, repr=False, compare=False)
    reads: dict[str, Any] | None = field(default=None, repr=False, compare=False)
    fits_small_values: bool = field(default=False, repr=False, compare=False)

    def evaluate(self, context: dict[str, Any]) -> bool:
        """Return whether the condition holds in ``context``.

        Raises ``ConditionEvaluationError`` when evaluation fails (a type mismatch such as
        ``null > 100``) or gives something other than a boolean.
        """
        if self.reads is None:  # inlined: this is the engine's hot path
            activation = {name: context.get(name) for name in self.variables}
        else:
            activation = self.activation(context)
        if not (self.fits_small_values and _all_small(activation)):
            self._check_cost(activation)
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

    def activation(self, context: dict[str, Any]) -> dict[str, Any]:
        """The values handed to the binding: of the context, only what the condition reads.

        The binding converts every value it is given to its own types (1 to 3 µs a string, a list or a map
        entry), so handing it the whole context cost time in proportion to the context (17 ms for a list of
        2,000 small objects, on every evaluation); and of a value the condition only selects fields of
        (``order.total``), those fields: ``order`` may hold thousands of lines. A name the context lacks is
        null (SPEC §2), and so is a name the condition only binds ('i' in 'l.exists(i, i > 0)'), whatever
        the context holds under it.
        """
        reads = self.reads
        if reads is None:
            return {name: context.get(name) for name in self.variables}
        activation: dict[str, Any] = {}
        for name in self.variables:
            if name not in reads:
                activation[name] = None
            elif (fields := reads[name]) is None:
                activation[name] = context.get(name)
            else:
                activation[name] = _pruned(context.get(name), fields)
        return activation

    def estimated_cost(self, context: dict[str, Any]) -> int:
        """What evaluating the condition in ``context`` is estimated to cost (engine/cel_cost.py), in units
        of about a nanosecond; raise :class:`ConditionEvaluationError` when it is over ``COST_LIMIT``."""
        return self._check_cost(self.activation(context))

    def _check_cost(self, activation: dict[str, Any]) -> int:
        from engine import cel_cost

        limit = cel_cost.COST_LIMIT
        try:
            shapes, conversion = cel_cost.input_shapes(activation, limit - cel_cost.EVALUATION)
            estimate = cel_cost.Estimate(self.source, shapes)
            cost = cel_cost.EVALUATION + conversion + estimate.run(self.tree)
            if cost > limit:
                raise cel_cost.CostExceeded(cost, estimate.reason())
        except cel_cost.CostExceeded as exceeded:
            raise ConditionEvaluationError(f"{self.source!r}: {exceeded}") from None
        except RecursionError:
            raise ConditionEvaluationError(f"{self.source!r}: nested too deeply to estimate its cost") from None
        return cost


def _pruned(value: Any, fields: dict[str, Any]) -> Any:
    """Of ``value``, the ``fields`` a condition selects (recursively); a value that is not a map is whole
    (selecting from it fails as it would have)."""
    if type(value) is not dict:
        return value
    kept = {}
    for name, inner in fields.items():
        if name in value:
            kept[name] = value[name] if inner is None else _pruned(value[name], inner)
    return kept


def _all_small(activation: dict[str, Any]) -> bool:
    for value in activation.values():
        kind = type(value)
        if kind is str:
            if len(value) > SMALL_TEXT:
                return False
        elif kind is not int and kind is not float and kind is not bool and value is not None:
            return False
    return True


class ConditionEvaluationError(ValueError):
    """A condition could not be evaluated against the current context."""


def load_evaluator() -> None:
    """Import the CEL binding and the engine's checks of conditions now rather than on the first compile
    (see :func:`compile_condition`)."""
    import cel  # noqa: F401

    from engine import cel_checks  # noqa: F401


def compile_condition(source: str) -> Condition:
    """Compile ``source``; raise :class:`ConditionError` naming the position of the problem.

    The binding compiles it (and reports syntax errors); the engine parses it too and checks the tree: the
    functions it calls, how deep its comprehensions nest, and that its cost with every variable null (the
    least any evaluation can cost) is within the limit.
    """
    if len(source) > MAX_CONDITION_LENGTH:
        raise ConditionError(f"{len(source)} characters; the limit is {MAX_CONDITION_LENGTH}")
    # Imported here, on the first compile: the package also imports its own REPL (prompt_toolkit, ~0.1 s),
    # which `wfconsole list` or opening the console's first page would otherwise wait for.
    import cel

    from engine import cel_checks, cel_parse

    try:
        program = cel.compile(source)
    except Exception as error:  # ValueError for syntax; be defensive about the binding's other errors
        raise _syntax_error(str(error)) from None
    try:
        tree = cel_parse.parse(source)
    except (cel_parse.ParseError, RecursionError) as error:
        offset = getattr(error, "offset", 0)
        raise ConditionError(f"the engine's checks cannot read it ({error}); please report this condition",
                             *cel_parse.line_and_column(source, offset)) from None
    variables = tuple(program.variables())
    reads, fits = cel_checks.check(source, tree, program.functions(), variables)
    if all(name in reads and reads[name] is None for name in variables):
        reads = None  # every value read whole: the plain activation, the cheapest
    return Condition(source=source, program=program, variables=variables, tree=tree, reads=reads,
                     fits_small_values=fits)


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
