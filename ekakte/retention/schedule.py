"""When each document is due: the rule sets in the database, due dates kept current, case close/reopen.

Every document row carries its due date (`documents.due_on`, indexed) and the rule and rule-set version
that gave it. They are recomputed whenever something they depend on changes: a new rule set (all
documents), a case closed or reopened (that case's documents), a document imported (that document).
"""

from __future__ import annotations

import functools
import hashlib
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, ClassVar

from sqlalchemy import and_, bindparam, func, select, update
from sqlalchemy.orm import Session

from ekakte.access import About, Action, Decision, decided, sees_restricted
from ekakte.actor import Actor
from ekakte.archive import Archive
from ekakte.db.chunks import in_chunks
from ekakte.db.models import POSTKORB_CASE, Case, Document, DocumentState, RetentionRuleSet, table_of
from ekakte.errors import InvalidInput, NotFound
from ekakte.jsonable import AsJson
from ekakte.progress import Progress, ShouldStop, never
from ekakte.retention.rules import Rule, RuleSet, Trigger, due_date, parse_rules
from ekakte.retention.worm import LockOutcome, sync_object_locks

MAX_RULES_BYTES = 256 * 1024
_CHUNK = 2000


@dataclass(frozen=True)
class LoadedRules(AsJson):
    json_omit = frozenset({"content", "rules"})  # the file itself: `rules show --source`

    version: int
    loaded_at: datetime
    loaded_by: str
    source: str
    sha256: str
    content: str
    rules: RuleSet

    def json_extra(self) -> dict[str, Any]:
        return {"rules": [r.as_json() for r in self.rules.rules]}


@dataclass(frozen=True)
class Rescheduled(AsJson):
    """What a rules load, case close or case reopen changed: due dates, and (Object Lock stores) the
    retain-until dates and legal holds the store took, refused, or could not be told."""

    json_names: ClassVar[Mapping[str, str]] = {"changed": "due_dates_changed"}
    json_omit = frozenset({"changed_restricted"})

    changed: int
    objects: LockOutcome
    changed_restricted: int = 0  # of `changed`, documents whose type needs the health clearance
    stopped: bool = False  # asked to stop: later documents keep their earlier due dates

    def without_restricted(self) -> Rescheduled:
        """What a caller may be told who may not learn that restricted documents exist."""
        return Rescheduled(
            self.changed - self.changed_restricted, self.objects.without_restricted(), stopped=self.stopped
        )


@functools.lru_cache(maxsize=8)
def _parsed(content: str, document_types: tuple[str, ...]) -> RuleSet:
    return parse_rules(content, document_types)


def current_rules(session: Session, document_types: tuple[str, ...]) -> tuple[int, RuleSet] | None:
    """The newest rule set and its version, or None when no rules were ever loaded (nothing is due)."""
    row = session.execute(
        select(RetentionRuleSet.version, RetentionRuleSet.content)
        .order_by(RetentionRuleSet.version.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    return row[0], _parsed(row[1], document_types)


def load_rules(
    archive: Archive,
    actor: Actor,
    path: Path,
    *,
    progress: Progress | None = None,
    should_stop: ShouldStop = never,
) -> tuple[LoadedRules, Rescheduled]:
    """Validate a rules file, store it as the next version, recompute every document's due date.
    Returns the loaded set and what changed. `progress(n)` after each chunk with the documents looked
    at so far; `should_stop()` is asked between chunks: a stopped load has its rules in force and leaves
    the documents not yet looked at with their earlier due date (loading the same file again finishes)."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror}") from None
    if len(raw) > MAX_RULES_BYTES:
        raise InvalidInput(f"{path} is larger than {MAX_RULES_BYTES // 1024} KiB: not a rules file")
    try:
        content = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput(f"{path} is not UTF-8 text") from None
    rules = parse_rules(content, archive.settings.document_types)  # refuse before anything is written
    digest = hashlib.sha256(raw).hexdigest()
    now = datetime.now(UTC)

    def store(session: Session, _decision: Decision) -> int:
        version = (session.scalar(select(func.max(RetentionRuleSet.version))) or 0) + 1
        session.add(
            RetentionRuleSet(
                version=version, loaded_at=now, loaded_by=actor.effective, source=str(path)[:1000],
                sha256=digest, content=content,
            )
        )  # fmt: skip
        return version

    about = About(detail=f"rules load {path.name}")
    version = decided(archive, actor, Action.RETENTION, "retention rules load", store, about=about)
    changed = recompute(archive, progress=progress, should_stop=should_stop)
    return LoadedRules(version, now, actor.effective, str(path), digest, content, rules), changed


def show_rules(archive: Archive, actor: Actor, version: int | None = None) -> LoadedRules:
    decided(archive, actor, Action.RETENTION, "rules show", about=About(detail="rules show"))
    with archive.reading() as session:
        stmt = select(RetentionRuleSet)
        stmt = (
            stmt.where(RetentionRuleSet.version == version)
            if version is not None
            else stmt.order_by(RetentionRuleSet.version.desc()).limit(1)
        )
        row = session.scalar(stmt)
    if row is None:
        raise NotFound(
            f"no rule set version {version}" if version is not None else "no retention rules loaded yet"
        )
    rules = _parsed(row.content, archive.settings.document_types)
    return LoadedRules(row.version, row.loaded_at, row.loaded_by, row.source, row.sha256, row.content, rules)


# --- due dates ----------------------------------------------------------------------------------------

_DOCS = table_of(Document)
_SET_DUE = (
    _DOCS.update()
    .where(_DOCS.c.id == bindparam("doc_id"))
    .values(due_on=bindparam("due"), retention_rule=bindparam("rule"), retention_version=bindparam("version"))
)


def _rows(archive: Archive, where: Any) -> Iterator[Sequence[Any]]:
    """Documents with what their due date depends on, in chunks, each from its own short read."""
    stmt = (
        select(
            Document.id, Document.document_type, Document.received_on, Document.document_date,
            Case.closed_on, Document.due_on, Document.retention_rule, Document.retention_version,
            Document.restricted,
        )
        .join(Case, Case.id == Document.case_id)
        .where(where)
    )  # fmt: skip
    return in_chunks(archive.reading, stmt, [Document.id], _CHUNK)


def schedule(
    rule: Rule | None, received: date, document_date: date | None, closed: date | None
) -> date | None:
    if rule is None:
        return None
    return due_date(rule, Trigger(case_closed=closed, received=received, document_date=document_date))


def recompute(
    archive: Archive,
    *,
    case_id: int | None = None,
    document_id: uuid.UUID | None = None,
    progress: Progress | None = None,
    should_stop: ShouldStop = never,
) -> Rescheduled:
    """Bring stored due dates in line with the current rules (all documents, one case's, or one), and
    the store's locks with them. Safe to run any time; a crash half-way is finished by the next run."""
    with archive.reading() as session:
        current = current_rules(session, archive.settings.document_types)
    version, rules = current if current else (None, RuleSet(()))
    # Only stored documents: one the sweep has begun deleting keeps the due date it is being deleted
    # under (its protocol entry records it); reopening its case comes too late for it.
    # Not in the Postkorb: a document there has no type yet, and no due date until it is assigned.
    where: Any = and_(Document.state == DocumentState.STORED, Case.case_number != POSTKORB_CASE)
    if case_id is not None:
        where = and_(where, Document.case_id == case_id)
    if document_id is not None:
        where = and_(where, Document.id == document_id)
    changed = changed_restricted = seen = 0
    for rows in _rows(archive, where):
        if should_stop():
            return Rescheduled(changed, LockOutcome(), changed_restricted, stopped=True)
        updates = []
        for doc_id, doc_type, received, doc_date, closed, old_due, old_rule, old_version, restricted in rows:
            rule = rules.rule_for(doc_type)
            due = schedule(rule, received, doc_date, closed)
            name = rule.name if rule else None
            if (due, name, version if rule else None) != (old_due, old_rule, old_version):
                updates.append(
                    {"doc_id": doc_id, "due": due, "rule": name, "version": version if rule else None}
                )
                changed_restricted += restricted
        if updates:
            with archive.transaction() as session:
                session.execute(_SET_DUE, updates)
            changed += len(updates)
        seen += len(rows)
        if progress is not None:
            progress(seen)
    objects = sync_object_locks(archive, [document_id] if document_id is not None else None, case_id=case_id)
    return Rescheduled(changed, objects, changed_restricted)


# --- case clocks --------------------------------------------------------------------------------------


def _set_closed(archive: Archive, actor: Actor, case_number: str, closed_on: date | None) -> tuple[int, bool]:
    """Set or clear a case's closing day in the transaction that audits the decision; the case's id,
    and whether the caller may learn of its restricted documents."""
    number = archive.settings.case_number(case_number)
    verb = "case close" if closed_on else "case reopen"
    case: Any = None

    def about(session: Session) -> About:
        nonlocal case
        case = session.execute(select(Case.id, Case.team_id).where(Case.case_number == number)).first()
        what = f"{verb} on {closed_on.isoformat()}" if closed_on else verb
        return About(case_number=number, case_team_id=case[1] if case else None, detail=what)

    def set_day(session: Session, decision: Decision) -> tuple[int, bool] | None:
        if case is None:
            return None
        session.execute(update(Case).where(Case.id == case[0]).values(closed_on=closed_on))
        return int(case[0]), sees_restricted(decision.subject)

    done = decided(archive, actor, Action.CASE_CLOSE, f"{verb} {number}", set_day, about=about)
    if done is None:
        raise NotFound(f"no case {number} in the archive")
    return done


def _recompute_case(archive: Archive, case: tuple[int, bool]) -> Rescheduled:
    case_id, sees = case
    done = recompute(archive, case_id=case_id)
    # A team lead without the health clearance closes a case of restricted documents too, but must not
    # learn, even as a count, that it has any.
    return done if sees else done.without_restricted()


def close_case(archive: Archive, actor: Actor, case_number: str, closed_on: date) -> Rescheduled:
    """Mark a case closed on `closed_on`: its `case_closed` clocks start."""
    return _recompute_case(archive, _set_closed(archive, actor, case_number, closed_on))


def reopen_case(archive: Archive, actor: Actor, case_number: str) -> Rescheduled:
    """The case is open again: documents under `case_closed` rules are no longer due."""
    return _recompute_case(archive, _set_closed(archive, actor, case_number, None))
