"""Text from the database or from outside, made safe to write to a terminal: :func:`visible`.

A context value, a failure reason, a worker's exception message, a condition or a file name may hold
characters a terminal acts on rather than shows: ESC starts an escape sequence (``ESC ] 0 ;`` sets the
window title, ``ESC ] 52 ;`` writes the clipboard, ``ESC [ 2 J`` clears the screen), C1 controls such as
U+009B are the same sequences in one character, and bidi controls (U+202E RIGHT-TO-LEFT OVERRIDE...) make
the text that follow them read in another order than it is stored (``evil.exe`` shown as ``exe.live``).

Every place that writes such text to a terminal — the command line's tables, errors and graphs, and every
widget of the console — passes it through :func:`visible`, which replaces each of these characters with
an escape a person can read (``\\x1b``, ``\\x9b``, ``\\u202e``), so the text is shown, never obeyed.
Backslashes are left as they are: ``\\x1b`` typed as four characters looks the same as an escaped ESC,
which is harmless, and Windows paths and regular expressions stay readable.

Ids, names and actors refuse these characters outright (:data:`UNSAFE_CHARACTERS`, checked by
``engine.validate`` and ``engine.manager``): an id must be typed back by the person who reads it.
"""

from __future__ import annotations

import re

C0_CONTROLS = "\x00-\x1f"
"""U+0000–U+001F: NUL to US, with ESC (U+001B) that starts every terminal escape sequence."""
DELETE = "\x7f"
C1_CONTROLS = "\x80-\x9f"
"""U+0080–U+009F: among them CSI (U+009B) and OSC (U+009D), whole escape sequences in one character."""
BIDI_CONTROLS = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
"""The Unicode bidirectional formatting characters: ALM, LRM, RLM, LRE, RLE, PDF, LRO, RLO, LRI, RLI, FSI,
PDI. They reorder what follows them on screen (the "Trojan Source" trick)."""
LINE_SEPARATORS = "\u2028\u2029"
"""LINE SEPARATOR and PARAGRAPH SEPARATOR: a line break to some renderers, invisible to others."""

CONTROL_CHARACTERS = re.compile(f"[{C0_CONTROLS}{DELETE}{C1_CONTROLS}]")
"""C0, DEL and C1: never written raw to a terminal."""
BIDI_CHARACTERS = re.compile(f"[{BIDI_CONTROLS}]")
UNSAFE_CHARACTERS = re.compile(f"[{C0_CONTROLS}{DELETE}{C1_CONTROLS}{BIDI_CONTROLS}{LINE_SEPARATORS}]")
"""Every character :func:`visible` escapes; refused in blueprint ids and names and in actors."""
_UNSAFE_BUT_NEWLINE = re.compile(f"[\x00-\x09\x0b-\x1f{DELETE}{C1_CONTROLS}{BIDI_CONTROLS}{LINE_SEPARATORS}]")

_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    named = _NAMED.get(char)
    if named is not None:
        return named
    code = ord(char)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def visible(text: str, *, multiline: bool = False) -> str:
    """``text`` with every control, bidi and line-separator character replaced by a readable escape.

    ``ESC ] 0 ; t BEL`` becomes ``\\x1b]0;t\\x07``, U+202E becomes ``\\u202e``, a tab ``\\t``. With
    ``multiline`` a newline (``\\n``) is kept as a line break: for views that show text on several lines
    (an error's traceback, indented JSON); every other view shows it as ``\\n``, so that one stored value
    cannot draw lines that look like other rows. A carriage return is always escaped: it would move the
    cursor back over what was written.

    Text without such characters (nearly all of it) is returned as it is, after one C-speed check
    (``str.isprintable``, about twice as fast as a search with the precompiled pattern: ``bench/text.py``).
    """
    if text.isprintable():  # the common case: no control, format (bidi) or separator character at all
        return text
    pattern = _UNSAFE_BUT_NEWLINE if multiline else UNSAFE_CHARACTERS
    return pattern.sub(_escape, text)


def unsafe_character(text: str) -> tuple[str, str, int] | None:
    """The first character of ``text`` that :func:`visible` would escape, as ``(kind, character,
    1-based position)``, kind being ``"control character"``, ``"bidi control character"`` or
    ``"line separator"``; ``None`` when there is none. For refusals that name what and where."""
    found = UNSAFE_CHARACTERS.search(text)
    if found is None:
        return None
    char = found.group()
    kind = ("bidi control character" if BIDI_CHARACTERS.match(char)
            else "line separator" if char in LINE_SEPARATORS else "control character")
    return kind, char, found.start() + 1


_RAW_IN_JSON = re.compile(f"[{DELETE}{C1_CONTROLS}{BIDI_CONTROLS}{LINE_SEPARATORS}]")


def _json_escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def visible_json(document: str) -> str:
    """JSON text from ``json.dumps(..., ensure_ascii=False)`` with DEL, C1, bidi and line-separator
    characters written as ``\\u0085``-style escapes: still valid JSON that parses to the same value, but
    nothing a terminal acts on (``json.dumps`` escapes C0 controls itself, and these characters can only
    stand inside its strings)."""
    if document.isascii() and DELETE not in document:  # nearly every document: a flag, then one find
        return document
    return _RAW_IN_JSON.sub(_json_escape, document)
