"""What an operator types in the console's forms, and how the console writes times for people."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from console.formatting import ConsoleClock, duration, token_places
from console.values import ValueParseError, parse_object, parse_value


@pytest.mark.parametrize(("typed", "value"), [
    ("42", 42), ("-1.5", -1.5), ("true", True), ("null", None), ('"42"', "42"), ("[1, 2]", [1, 2]),
    ('{"a": 1}', {"a": 1}), ("approved", "approved"), ("  two words ", "two words"), ("P-77", "P-77"),
    ("tru", "tru"),
])
def test_a_value_is_json_and_a_bare_word_is_a_string(typed: str, value: object) -> None:
    assert parse_value(typed) == value


@pytest.mark.parametrize("typed", ["[1, 2", '{"a": }', '"open', "12x", "NaN", "-Infinity", "1e999", "[-1e400]"])
def test_text_that_starts_like_json_but_is_not_is_an_error(typed: str) -> None:
    with pytest.raises(ValueParseError, match="bad JSON"):
        parse_value(typed)


def test_the_raw_editor_takes_an_object_or_nothing() -> None:
    assert parse_object("  ") == {}
    assert parse_object('{"weight": 2.5}') == {"weight": 2.5}
    with pytest.raises(ValueParseError, match="must be a JSON object {...}, not an array"):
        parse_object("[1]")
    with pytest.raises(ValueParseError, match="1e999 is too large for a number"):
        parse_object('{"a": 1e999}')  # Python reads it as infinity, which is not JSON
    with pytest.raises(ValueParseError, match="line 1, column"):
        parse_object('{"weight": 2.5')


def test_times_are_relative_to_the_injected_clock() -> None:
    now = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    clock = ConsoleClock.fixed(now)
    assert clock.ago(now - timedelta(minutes=5)) == "5m00s ago"
    assert clock.age(now - timedelta(hours=3, minutes=7)) == "3h07m"
    assert clock.stamp(now) == "03-02 12:00:00"
    assert [duration(timedelta(seconds=s)) for s in (0, 59, 600, 90_000)] == ["0s", "59s", "10m", "1d01h"]


def test_token_places_count_repeated_nodes() -> None:
    assert token_places(["review", "ship", "ship"]) == "review, ship ×2"
    assert token_places([]) == ""


def test_token_places_mark_tokens_that_wait_failed_or_are_stuck() -> None:
    places = token_places(["charge", "join", "ship"], statuses=["FAILED", "WAITING", "STUCK"])
    assert places == "charge ✖, join ◐, ship ⊘"
    assert token_places(["review"], statuses=["ACTIVE"]) == "review"
