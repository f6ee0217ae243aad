"""What ``matches(pattern)`` costs the CEL binding, estimated from the pattern's text.

The binding compiles the pattern with Rust's ``regex`` crate at every evaluation, and that crate compiles
Unicode classes to large automata: ``\\w`` costs about 0.4 ms each time it occurs, so ``'\\w{100}'``
takes 40 ms before a single character is read (and ``'\\w{300}'`` 150 ms, to fail at the crate's size
limit). Matching then runs in time proportional to the string's length times, at worst, the pattern's
states. Each piece of a pattern weighs its kind, times the ``{n,m}`` repetitions enclosing it; an
unbounded one (``*``, ``+``) counts once, the automaton looping over it. bench/conditions.py times
patterns of each kind at the largest sizes the limit admits.
"""

from __future__ import annotations

import re
from functools import lru_cache

# Compiling, per piece, in the units of engine/cel_cost.py (about a nanosecond).
LITERAL = 300  # compiling grows faster than the pattern: a{30000} takes 3 ms, a{100000} 25 ms
SMALL_CLASS = 400  # [a-z], [[:alpha:]]
DOT = 5_000
NEGATED_CLASS = 10_000  # [^a]
SPACE = 8_000  # \s
DIGIT = 50_000  # \d (Unicode digits)
UNICODE_CLASS = 800_000  # \w, \W, \p{L}, \P{L}, \D, \S
ASSERTION = 3_000  # \b, ^, $
GROUP = 1_000  # a group, besides what it holds
CASE_FACTOR = 8  # (?i) makes each letter a class of its cases
# Matching, per character of the string: a pass, and each state of the automaton at worst.
MATCH_CHAR = 2
MATCH_STATE = 3

_CLASS_ESCAPES = {"d": DIGIT, "s": SPACE, "w": UNICODE_CLASS, "D": UNICODE_CLASS, "S": UNICODE_CLASS,
                  "W": UNICODE_CLASS, "p": UNICODE_CLASS, "P": UNICODE_CLASS, "b": ASSERTION, "B": ASSERTION}
_FLAGS = re.compile(r"\(\?[a-zA-Z-]*\)")  # '(?i)': flags for what follows, not a group
_GROUP_PREFIX = re.compile(r"\((\?(P?<[^>]*>|[a-zA-Z-]*:))?")
_CASE_INSENSITIVE = re.compile(r"\(\?[a-zA-Z-]*i")


def match_cost(pattern: str, chars: int) -> int:
    """Compiling ``pattern`` and running it over ``chars`` characters."""
    compiling, states = weigh(pattern)
    return compiling + chars * (MATCH_CHAR + MATCH_STATE * states)


@lru_cache(maxsize=512)
def weigh(pattern: str) -> tuple[int, int]:
    """The cost of compiling ``pattern`` and its states (pieces, repetitions expanded). An upper bound
    for what the pattern holds; a pattern the crate refuses costs what reading it would have."""
    stack: list[list[int]] = [[0, 0, 0, 0]]  # per open group: weight and states of closed alternatives, current
    last = (0, 0)  # the last piece, which a repetition multiplies
    i, end = 0, len(pattern)
    while i < end:
        char = pattern[i]
        if char == "(":
            flags = _FLAGS.match(pattern, i)
            if flags:
                i = flags.end()
                continue
            stack.append([0, 0, 0, 0])
            prefix = _GROUP_PREFIX.match(pattern, i)
            i = prefix.end() if prefix else i + 1
            continue
        if char == "|":
            top = stack[-1]
            top[0], top[1], top[2], top[3] = top[0] + top[2], top[1] + top[3], 0, 0
            i += 1
            continue
        if char in "*+?":
            i += 1  # the piece once: the automaton loops
            continue
        if char == "{":
            times, after = _repetition(pattern, i)
            if times is not None:
                stack[-1][2] += last[0] * (times - 1)
                stack[-1][3] += last[1] * (times - 1)
                last = (last[0] * times, last[1] * times)
                i = after
                continue
        if char == ")" and len(stack) > 1:
            closed = stack.pop()
            piece = (closed[0] + closed[2] + GROUP, closed[1] + closed[3] + 1)
            i += 1
        else:
            weight, i = _piece(pattern, i)
            piece = (weight, 1)
        stack[-1][2] += piece[0]
        stack[-1][3] += piece[1]
        last = piece
    compiling = sum(top[0] + top[2] for top in stack)
    states = sum(top[1] + top[3] for top in stack)
    if _CASE_INSENSITIVE.search(pattern):
        compiling *= CASE_FACTOR
    return max(compiling, LITERAL), states


def _piece(pattern: str, i: int) -> tuple[int, int]:
    """The weight of the piece at ``i`` (an escape, a class, '.', an anchor, a character) and its end."""
    char = pattern[i]
    if char == "\\":
        escape = pattern[i + 1:i + 2]
        weight = _CLASS_ESCAPES.get(escape, LITERAL)
        i += 2
        if escape in ("p", "P", "x", "u", "U") and pattern[i:i + 1] == "{":
            close = pattern.find("}", i)
            i = len(pattern) if close < 0 else close + 1
        elif escape in ("p", "P"):
            i += 1  # \pL
        return weight, i
    if char == "[":
        return _class(pattern, i)
    if char == ".":
        return DOT, i + 1
    if char in "^$":
        return ASSERTION, i + 1
    return LITERAL, i + 1


def _class(pattern: str, start: int) -> tuple[int, int]:
    """The weight of the class ``[...]`` at ``start`` (nested classes included) and its end."""
    i = start + 1
    negated = pattern[i:i + 1] == "^"
    i += negated
    weight = SMALL_CLASS
    if pattern[i:i + 1] == "]":
        i += 1  # a ']' first is a character of the class
    depth = 1
    while i < len(pattern) and depth:
        char = pattern[i]
        if char == "\\":
            weight = max(weight, _CLASS_ESCAPES.get(pattern[i + 1:i + 2], SMALL_CLASS))
            i += 2
            continue
        if pattern.startswith("[:", i):
            close = pattern.find(":]", i)
            i = len(pattern) if close < 0 else close + 2
            continue
        depth += char == "["
        depth -= char == "]"
        i += 1
    if negated:
        weight = max(weight * 2, NEGATED_CLASS)
    return weight, i


def _repetition(pattern: str, start: int) -> tuple[int | None, int]:
    """``{n}``, ``{n,}``, ``{n,m}`` at ``start``: how many times at most (n+1 for ``{n,}``), and its end."""
    close = pattern.find("}", start)
    if close < 0:
        return None, start + 1
    low, comma, high = pattern[start + 1:close].partition(",")
    low, high = low.strip(), high.strip()
    if not low.isdigit() or (high and not high.isdigit()):
        return None, start + 1
    times = int(high) if high else int(low) + (1 if comma else 0)
    end = close + 1
    if pattern[end:end + 1] == "?":  # lazy
        end += 1
    return max(times, 1), end
