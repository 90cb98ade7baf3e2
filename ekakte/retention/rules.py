"""Retention rules: the TOML format, its validation, and the due-date arithmetic (pure, no database)."""

from __future__ import annotations

import calendar
import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from ekakte.errors import InvalidInput
from ekakte.jsonable import AsJson

TRIGGERS = ("case_closed", "received", "document_date")
ROUNDINGS = ("end_of_year", "none")
ANY_TYPE = "*"
_KEEP = re.compile(r"(?:(\d+)y)?(?:(\d+)m)?")
_RULE_KEYS = {"name", "types", "keep", "trigger", "rounding", "note", "disposition", "release", "suggest"}
# What happens to a due document: offered to the archive first (the law's default), or destroyed under
# a release the archive gave in advance for such records (the rule names it in `release`).
DISPOSITIONS = ("offer", "destroy")
# The rule's suggestion to the archive in the offer (xdomea Bewertungsvorschlag): keep A, destroy V.
SUGGESTIONS = ("keep", "destroy")
MAX_YEARS = 200


@dataclass(frozen=True)
class Rule(AsJson):
    json_omit = frozenset({"years", "months"})

    name: str
    types: tuple[str, ...]  # configured document types, or ("*",)
    years: int
    months: int
    trigger: str
    rounding: str
    note: str = ""
    disposition: str = "offer"
    release: str = ""  # the archive's advance release a `destroy` rule acts under
    suggest: str = ""  # keep, destroy, or "" (no suggestion) for offered records

    @property
    def keep(self) -> str:
        return (f"{self.years}y" if self.years else "") + (f"{self.months}m" if self.months else "") or "0m"

    @property
    def is_default(self) -> bool:
        return self.types == (ANY_TYPE,)

    def json_extra(self) -> dict[str, Any]:
        return {"keep": self.keep}


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[Rule, ...]

    def rule_for(self, document_type: str) -> Rule | None:
        """The most specific rule: one naming the type beats the `*` rule; None when neither exists."""
        folded = document_type.casefold()
        default = None
        for rule in self.rules:
            if rule.is_default:
                default = rule
            elif folded in (t.casefold() for t in rule.types):
                return rule
        return default

    def uncovered(self, document_types: Iterable[str]) -> list[str]:
        """Configured types no rule applies to: their documents are never due."""
        return [t for t in document_types if self.rule_for(t) is None]


@dataclass(frozen=True)
class Trigger:
    """The dates a rule may start from, for one document."""

    case_closed: date | None
    received: date | None
    document_date: date | None


def parse_keep(text: str) -> tuple[int, int]:
    """ "10y" → (10, 0), "18m" → (0, 18), "2y6m" → (2, 6). InvalidInput otherwise."""
    match = _KEEP.fullmatch(text.strip().lower()) if isinstance(text, str) else None
    if not match or not (match.group(1) or match.group(2)):
        raise InvalidInput(
            f'keep = {text!r}: expected years "y" and/or months "m", e.g. "10y", "18m", "2y6m"'
        )
    years, months = int(match.group(1) or 0), int(match.group(2) or 0)
    if years + months // 12 > MAX_YEARS:
        raise InvalidInput(f"keep = {text!r}: more than {MAX_YEARS} years")
    return years, months


def add_months(day: date, months: int) -> date:
    """`day` plus whole months; a day that the target month lacks becomes its last day
    (31 Jan + 1 month = 28/29 Feb; 29 Feb 2024 + 12 months = 28 Feb 2025)."""
    index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


def due_date(rule: Rule, trigger: Trigger) -> date | None:
    """The last day the document must be kept; None while the trigger has not happened (e.g. open case).

    The trigger date, rounded (end_of_year: 31 December of its year), plus the period. A sweep as of any
    later day deletes it: closed 2015-03-10, 10y, end_of_year → due 2025-12-31, deleted from 2026-01-01.
    """
    start = getattr(trigger, rule.trigger)
    if start is None:
        return None
    if rule.rounding == "end_of_year":
        start = date(start.year, 12, 31)
    return add_months(start, rule.years * 12 + rule.months)


def parse_rules(text: str, document_types: tuple[str, ...]) -> RuleSet:
    """A rules file's content, validated against the configured document types. InvalidInput naming the
    rule and the problem, for the first problem found."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput(f"rules file is not valid TOML: {exc}") from None
    unknown = sorted(set(data) - {"rule"})
    if unknown:
        raise InvalidInput(
            f"rules file: unknown top-level key(s) {', '.join(unknown)}; rules are [[rule]] tables"
        )
    raw_rules = data.get("rule")
    if not isinstance(raw_rules, list) or not raw_rules:
        raise InvalidInput("rules file has no [[rule]] tables")
    configured = {t.casefold(): t for t in document_types}
    rules: list[Rule] = []
    claimed: dict[str, str] = {}
    for index, raw in enumerate(raw_rules, 1):
        rule = _rule(index, raw, configured)
        if any(r.name == rule.name for r in rules):
            raise InvalidInput(f"rule {rule.name!r}: the name is used twice")
        for doc_type in rule.types:
            if doc_type in claimed:
                raise InvalidInput(
                    f"rule {rule.name!r}: {doc_type} is already covered by rule {claimed[doc_type]!r};"
                    " each type may have one specific rule (and `*` one default)"
                )
            claimed[doc_type] = rule.name
        rules.append(rule)
    return RuleSet(tuple(rules))


def _rule(index: int, raw: Any, configured: dict[str, str]) -> Rule:
    where = f"rule {index}"
    if not isinstance(raw, dict):
        raise InvalidInput(f"{where}: must be a table")
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 100:
        raise InvalidInput(f"{where}: name must be a text of 1 to 100 characters")
    where = f"rule {name!r}"
    unknown = sorted(set(raw) - _RULE_KEYS)
    if unknown:
        raise InvalidInput(
            f"{where}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(_RULE_KEYS))}"
        )
    for key in ("types", "keep", "trigger", "rounding"):
        if key not in raw:
            raise InvalidInput(f"{where}: {key} is missing")
    types = raw["types"]
    if not isinstance(types, list) or not types or not all(isinstance(t, str) for t in types):
        raise InvalidInput(f'{where}: types must be a list of document types, or ["*"]')
    if ANY_TYPE in types:
        if types != [ANY_TYPE]:
            raise InvalidInput(f'{where}: "*" stands alone in types')
        normalized: tuple[str, ...] = (ANY_TYPE,)
    else:
        missing = [t for t in types if t.strip().casefold() not in configured]
        if missing:
            known = ", ".join(configured.values())
            raise InvalidInput(f"{where}: unknown document type(s) {', '.join(missing)}; configured: {known}")
        normalized = tuple(dict.fromkeys(configured[t.strip().casefold()] for t in types))
    if raw["trigger"] not in TRIGGERS:
        raise InvalidInput(f"{where}: trigger must be one of {', '.join(TRIGGERS)}, not {raw['trigger']!r}")
    if raw["rounding"] not in ROUNDINGS:
        raise InvalidInput(
            f"{where}: rounding must be one of {', '.join(ROUNDINGS)}, not {raw['rounding']!r}"
        )
    years, months = parse_keep(raw["keep"]) if isinstance(raw["keep"], str) else parse_keep(repr(raw["keep"]))
    note = raw.get("note", "")
    if not isinstance(note, str):
        raise InvalidInput(f"{where}: note must be a text")
    disposition, release, suggest = _disposal(where, raw)
    return Rule(
        name.strip(), normalized, years, months, raw["trigger"], raw["rounding"], note,
        disposition, release, suggest,
    )  # fmt: skip


def _disposal(where: str, raw: dict[str, Any]) -> tuple[str, str, str]:
    """disposition (offer/destroy), release (required for destroy, and only there), suggest (offer only)."""
    disposition = raw.get("disposition", "offer")
    if disposition not in DISPOSITIONS:
        raise InvalidInput(
            f"{where}: disposition must be one of {', '.join(DISPOSITIONS)}, not {disposition!r}"
        )
    release = raw.get("release", "")
    if not isinstance(release, str) or len(release) > 300:
        raise InvalidInput(f"{where}: release must be a text of at most 300 characters")
    release = release.strip()
    if disposition == "destroy" and not release:
        raise InvalidInput(
            f'{where}: disposition = "destroy" needs the archive\'s release it acts under, e.g.'
            ' release = "Kreisarchiv, Bewertungsentscheidung 2025/17"; without one, records are offered'
        )
    if disposition == "offer" and release:
        raise InvalidInput(f'{where}: release is for disposition = "destroy" only')
    suggest = raw.get("suggest", "")
    if suggest and disposition != "offer":
        raise InvalidInput(f'{where}: suggest is for disposition = "offer" only')
    if suggest not in ("", *SUGGESTIONS):
        raise InvalidInput(f"{where}: suggest must be one of {', '.join(SUGGESTIONS)}, not {suggest!r}")
    return disposition, release, suggest


def dispositions(content: str) -> dict[str, tuple[str, str, str, tuple[int, int]]]:
    """Each rule's (disposition, release, suggest, (years, months) kept) by name from a stored rules file,
    without checking its types against today's configuration (an old version may name types configured
    then, not now)."""
    try:
        data = tomllib.loads(content)
    except tomllib.TOMLDecodeError:
        return {}
    found: dict[str, tuple[str, str, str, tuple[int, int]]] = {}
    for raw in data.get("rule", []) if isinstance(data.get("rule"), list) else []:
        if isinstance(raw, dict) and isinstance(raw.get("name"), str):
            try:
                found[raw["name"].strip()] = (*_disposal("rule", raw), parse_keep(str(raw.get("keep", ""))))
            except InvalidInput:
                continue  # cannot have been loaded: parse_rules checks the same
    return found
