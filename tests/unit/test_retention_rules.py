"""Retention rule arithmetic with fixed dates: rounding, months at month ends and leap days, precedence."""

from __future__ import annotations

from datetime import date

import pytest

from ekakte.config import DEFAULT_DOCUMENT_TYPES
from ekakte.errors import InvalidInput
from ekakte.retention.rules import Rule, Trigger, add_months, due_date, parse_keep, parse_rules

TYPES = DEFAULT_DOCUMENT_TYPES


def rule(keep: str, trigger: str = "case_closed", rounding: str = "end_of_year") -> Rule:
    years, months = parse_keep(keep)
    return Rule("r", ("*",), years, months, trigger, rounding)


def closed(day: date | None) -> Trigger:
    return Trigger(case_closed=day, received=date(2010, 5, 5), document_date=None)


def test_the_issue_example_case_closed_2015_03_10_ten_years_end_of_year() -> None:
    assert due_date(rule("10y"), closed(date(2015, 3, 10))) == date(2025, 12, 31)


def test_end_of_year_rounding_counts_from_31_december_even_for_a_case_closed_on_it() -> None:
    assert due_date(rule("5y"), closed(date(2015, 12, 31))) == date(2020, 12, 31)
    assert due_date(rule("5y"), closed(date(2015, 1, 1))) == date(2020, 12, 31)


def test_without_rounding_the_period_counts_from_the_day() -> None:
    assert due_date(rule("2y6m", rounding="none"), closed(date(2015, 3, 10))) == date(2017, 9, 10)


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (date(2015, 1, 31), 1, date(2015, 2, 28)),
        (date(2016, 1, 31), 1, date(2016, 2, 29)),  # leap year
        (date(2024, 2, 29), 12, date(2025, 2, 28)),  # a leap day plus a year
        (date(2024, 2, 29), 48, date(2028, 2, 29)),
        (date(2015, 8, 31), 18, date(2017, 2, 28)),
        (date(2015, 12, 31), 18, date(2017, 6, 30)),  # end of year plus 18 months
        (date(2015, 11, 30), 3, date(2016, 2, 29)),
        (date(2015, 3, 10), 0, date(2015, 3, 10)),
    ],
)
def test_month_arithmetic_at_month_ends_and_leap_days(start: date, months: int, expected: date) -> None:
    assert add_months(start, months) == expected


def test_received_and_document_date_triggers() -> None:
    trigger = Trigger(case_closed=None, received=date(2019, 7, 1), document_date=date(2018, 6, 30))
    assert due_date(rule("18m", "received", "none"), trigger) == date(2021, 1, 1)
    assert due_date(rule("1y", "document_date"), trigger) == date(2019, 12, 31)


def test_nothing_is_due_while_the_trigger_has_not_happened() -> None:
    assert due_date(rule("10y"), closed(None)) is None  # an open case
    assert due_date(rule("1y", "document_date"), closed(None)) is None  # no document date


@pytest.mark.parametrize(
    ("text", "expected"), [("10y", (10, 0)), ("18m", (0, 18)), ("2y6m", (2, 6)), ("0y3m", (0, 3))]
)
def test_keep_periods(text: str, expected: tuple[int, int]) -> None:
    assert parse_keep(text) == expected


@pytest.mark.parametrize("text", ["", "10", "y", "10d", "6m2y", "-1y", "1.5y", "999y"])
def test_bad_keep_periods_are_refused(text: str) -> None:
    with pytest.raises(InvalidInput):
        parse_keep(text)


RULES = """
[[rule]]
name = "default"
types = ["*"]
keep = "10y"
trigger = "case_closed"
rounding = "end_of_year"

[[rule]]
name = "bank statements"
types = ["kontoauszug"]
keep = "5y"
trigger = "case_closed"
rounding = "end_of_year"
"""


def test_the_specific_rule_beats_the_default_and_types_match_case_insensitively() -> None:
    rules = parse_rules(RULES, TYPES)
    assert rules.rule_for("Kontoauszug").name == "bank statements"  # type: ignore[union-attr]
    assert rules.rules[1].types == ("Kontoauszug",)  # stored as configured
    assert rules.rule_for("Antrag").name == "default"  # type: ignore[union-attr]


def test_without_a_default_rule_uncovered_types_are_never_due() -> None:
    rules = parse_rules(RULES.split("[[rule]]", 2)[0] + "[[rule]]" + RULES.split("[[rule]]", 2)[2], TYPES)
    assert rules.rule_for("Antrag") is None
    assert "Antrag" in rules.uncovered(TYPES) and "Kontoauszug" not in rules.uncovered(TYPES)


def one(**fields: str) -> str:
    """A rules file with one rule: defaults overridden by `fields` (TOML values as text; "" drops a key)."""
    values = {"name": '"a"', "types": '["*"]', "keep": '"1y"', "trigger": '"received"', "rounding": '"none"'}
    values.update(fields)
    return "[[rule]]\n" + "".join(f"{k} = {v}\n" for k, v in values.items() if v)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not toml [", "not valid TOML"),
        ("", "has no"),
        (one(trigger='"closed"'), "trigger"),
        (one(rounding='"eoy"'), "rounding"),
        (one(types='["Urkunde"]'), "Urkunde"),
        (one(types='["*", "Antrag"]'), "alone"),
        (one(keepp="1"), "unknown key"),
        (one(keep=""), "keep is missing"),
        (one(name='"x"', types='["Kontoauszug"]') + one(name='"y"', types='["kontoauszug"]'), "covered"),
        (RULES + one(name='"default"', types='["Antrag"]'), "twice"),
    ],
)
def test_invalid_rules_are_refused_naming_the_rule_and_the_problem(text: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        parse_rules(text, TYPES)
