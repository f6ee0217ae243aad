"""engine.text: what a terminal would act on is made visible; everything else is left as it is."""

from __future__ import annotations

import json

import pytest

from engine.text import UNSAFE_CHARACTERS, unsafe_character, visible, visible_json

EVERY_UNSAFE = [chr(c) for c in (*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0), 0x061C, 0x200E, 0x200F,
                                 *range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x2028, 0x2029)]


def test_terminal_sequences_are_shown_as_escapes() -> None:
    assert visible("a\x1b]0;title\x07b") == "a\\x1b]0;title\\x07b"
    assert visible("\x1b]52;c;ZXZpbA==\x07") == "\\x1b]52;c;ZXZpbA==\\x07"
    assert visible("\x1b[2J\x9b2J") == "\\x1b[2J\\x9b2J"
    assert visible("invoice\u202efdp.exe") == "invoice\\u202efdp.exe"
    assert visible("tab\there\r\nnext\x7f") == "tab\\there\\r\\nnext\\x7f"


@pytest.mark.parametrize("char", EVERY_UNSAFE, ids=lambda c: f"U+{ord(c):04X}")
def test_every_unsafe_character_is_escaped_into_printable_ascii(char: str) -> None:
    shown = visible(f"x{char}y")
    assert shown.startswith("x\\") and shown.endswith("y")
    assert shown.isascii() and shown.isprintable()
    assert unsafe_character(f"ab{char}") is not None and unsafe_character(f"ab{char}")[2] == 3


def test_a_multiline_view_keeps_newlines_but_nothing_else() -> None:
    assert visible("Traceback:\n  line\x1b[2J\r\n", multiline=True) == "Traceback:\n  line\\x1b[2J\\r\n"
    assert visible("a\nb") == "a\\nb"


@pytest.mark.parametrize("text", ["", "plain ascii", "naïve façade 日本語 ✓ ━▶", "emoji 👩‍💻 (a ZWJ sequence)",
                                  "no\u00a0break", "C:\\path\\x1b", "[bold]x[/] [a-z] ["])
def test_text_without_unsafe_characters_is_returned_unchanged(text: str) -> None:
    assert visible(text) is text or visible(text) == text
    assert unsafe_character(text) is None


def test_the_kind_of_unsafe_character_is_named() -> None:
    assert unsafe_character("a\x1b") == ("control character", "\x1b", 2)
    assert unsafe_character("\u202e") == ("bidi control character", "\u202e", 1)
    assert unsafe_character("ab\u2028") == ("line separator", "\u2028", 3)


def test_json_keeps_its_value_and_shows_no_raw_c1_or_bidi_character() -> None:
    value = {"k\u202e": ["\x85next\x9b2J", "\u2066\x7f", "\x1b]0;t\x07", "日本 ✓"]}
    shown = visible_json(json.dumps(value, ensure_ascii=False, indent=2))
    assert json.loads(shown) == value
    assert not UNSAFE_CHARACTERS.search(shown.replace("\n", ""))
    assert "\\u0085" in shown and "\\u202e" in shown and "日本 ✓" in shown


def test_json_of_ascii_text_shows_a_raw_delete_as_an_escape_too() -> None:
    shown = visible_json(json.dumps({"k": "a\x7fb"}, ensure_ascii=False))
    assert shown == '{"k": "a\\u007fb"}' and json.loads(shown) == {"k": "a\x7fb"}
    assert visible_json('{"k": "plain"}') == '{"k": "plain"}'
