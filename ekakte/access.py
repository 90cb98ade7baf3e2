"""The policy: who may do what. A use case that reveals, changes or deletes anything asks `decided` once."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any, TypeVar, overload

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from ekakte import audit
from ekakte.actor import Actor
from ekakte.archive import Archive
from ekakte.db.models import Principal, PrincipalRole, TeamMember
from ekakte.errors import EkakteError, NotPermitted
from ekakte.roles import Role


class Action(StrEnum):
    IMPORT = "import"
    CASE_SHOW = "case.show"  # a case and its documents' metadata
    DOC_SHOW = "doc.show"  # one document's metadata
    DOC_GET = "doc.get"  # the document's content (export)
    DOC_TEXT = "doc.text"  # the document's OCR text: content, like the original
    SEARCH = "search"  # full-text search; results are limited to what DOC_TEXT would allow
    OCR_WORK = "ocr.work"  # run OCR over pending pages (reads originals, reveals nothing)
    OCR_RETRY = "ocr.retry"  # queue failed pages again (page states only)
    CASE_CLOSE = "case.close"  # close or reopen a case: starts or stops `case_closed` retention clocks
    RETENTION = "retention"  # rules, plans, holds, sweeps: metadata only
    PROTOCOL_READ = "retention.protocol"  # the deletion protocol (records managers and auditors)
    ARCHIVE = "archive"  # the Aussonderung: offers, the archive's answers, their status (metadata)
    ARCHIVE_HAND_OVER = "archive.hand_over"  # the records the archive keeps, content and all, to the archive
    CASE_ASSIGN = "case.assign"
    USER_MANAGE = "user.manage"  # users, roles, teams
    AUDIT_READ = "audit.read"
    AUDIT_ANCHOR = "audit.anchor"  # write the trail's head outside the database
    INTEGRITY = "integrity"  # verify, gc
    TYPE_LIST = "type.list"  # which document types are restricted (the policy; no documents)
    TYPE_POLICY = "type.policy"  # restrict or unrestrict a type: re-marks its stored documents
    POSTKORB = "postkorb"  # the documents no case was found for: list them, assign them to a case
    INBOX = "inbox"  # the cases of the caller's teams with documents no one of the team has opened
    # The documents sent back from the Postkorb to the scanning stations: what the station needs to find
    # the paper (file name, pages, why); the station marks them taken back. No content.
    RETURNS = "postkorb.returns"
    # Replacement scanning (ekakte.scanning): a batch's scan protocol and transfer notes, and which
    # batches' paper may go (no content); the second person's check of a batch, who then sees the
    # sampled documents' pages while the batch waits for the check.
    SCAN_PROTOCOL = "scan.protocol"
    SCAN_CHECK = "scan.check"


# Roles that may see documents' contents, and then only of cases of their own teams.
CONTENT_ROLES = frozenset({Role.CASEWORKER, Role.TEAM_LEAD})


@dataclass(frozen=True)
class Subject:
    """The effective user of a request: whose permissions count."""

    name: str
    roles: frozenset[str]
    team_ids: frozenset[int]
    health_clearance: bool


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str
    subject: Subject | None = None
    # Whether a document's title and file name may be shown with its metadata: not to a records manager
    # without the health clearance when the document is restricted (titles are often health data).
    details: bool = True

    @property
    def outcome(self) -> str:
        return "allowed" if self.allowed else "denied"


@dataclass
class _Row:
    disabled: bool
    health: bool
    roles: set[str]
    teams: set[int]


# Built once: every audited request runs it, and building statements costs more than running them.
_PRINCIPALS = (
    select(
        Principal.name, Principal.disabled, Principal.health_clearance, PrincipalRole.role, TeamMember.team_id
    )
    .outerjoin(PrincipalRole, PrincipalRole.principal_id == Principal.id)
    .outerjoin(TeamMember, TeamMember.principal_id == Principal.id)
    .where(Principal.name.in_(bindparam("names", expanding=True)))
)


def _principals(session: Session, names: list[str]) -> dict[str, _Row]:
    """Principals with their roles and teams, in one query."""
    rows = session.execute(_PRINCIPALS, {"names": names})
    found: dict[str, _Row] = {}
    for name, disabled, health, role, team_id in rows:
        row = found.setdefault(name, _Row(disabled, health, set(), set()))
        if role is not None:
            row.roles.add(role)
        if team_id is not None:
            row.teams.add(team_id)
    return found


# Whom a `service` principal may act for: people who work with case contents. Never admins, auditors,
# records managers or other services: a deputy acting for them would turn the benefits software's
# credentials into every administrative power (users, clearances, holds, the trail).
ACTING_FOR_ROLES = frozenset({Role.CASEWORKER, Role.TEAM_LEAD, Role.SCAN_OPERATOR})
UNKNOWN_USER = "unknown or disabled user"


def resolve(session: Session, actor: Actor) -> tuple[Subject | None, str]:
    """The effective Subject (whose permissions count) or None, and then why: the caller (or whom it acts
    for) is unknown or disabled, or acts for someone without being a `service` principal, or acts for
    someone who holds more than content roles (ACTING_FOR_ROLES)."""
    found = _principals(session, [actor.name] + ([actor.on_behalf_of] if actor.on_behalf_of else []))
    caller = found.get(actor.name)
    if caller is None or caller.disabled:
        return None, UNKNOWN_USER
    name, principal = actor.on_behalf_of or actor.name, caller
    if actor.on_behalf_of is not None:
        target = found.get(actor.on_behalf_of)
        if Role.SERVICE not in caller.roles or target is None or target.disabled:
            return None, UNKNOWN_USER
        if not target.roles or not target.roles <= {str(r) for r in ACTING_FOR_ROLES}:
            return None, "a service may act only for caseworkers, team leads and scan operators"
        principal = target
    return Subject(name, frozenset(principal.roles), frozenset(principal.teams), principal.health), ""


def decide(
    subject: Subject | None,
    action: Action,
    *,
    case_team_id: int | None = None,
    restricted: bool = False,
    target_team_id: int | None = None,
    postkorb: bool = False,
    checking: bool = False,
) -> Decision:
    """Pure policy, deny by default. `case_team_id` None means the case is unassigned or does not exist:
    team-bound roles are then refused, with the same answer either way (no existence oracle). `postkorb`:
    the document waits in the Postkorb (no case yet), where the triage role reads it to assign it."""
    if subject is None:
        return Decision(False, UNKNOWN_USER)
    roles = subject.roles

    def on_own_team() -> Decision:
        if not roles & CONTENT_ROLES:
            return Decision(False, "role may not see case documents")
        if case_team_id is None or case_team_id not in subject.team_ids:
            return Decision(False, "case is not one of the user's teams")
        if restricted and not subject.health_clearance:
            return Decision(False, "restricted document needs the health clearance")
        return Decision(True, "own team")

    if action == Action.IMPORT:
        return _by_role(roles, {Role.SCAN_OPERATOR})
    if postkorb and action in (Action.DOC_SHOW, Action.DOC_GET, Action.DOC_TEXT) and Role.TRIAGE in roles:
        return Decision(True, "triage: a document in the Postkorb")
    checker = roles & {Role.SCAN_OPERATOR, Role.TRIAGE} and (not restricted or subject.health_clearance)
    if checking and action in (Action.DOC_SHOW, Action.DOC_GET) and checker:
        # The second person compares the scan with the paper: the one who took the check on, while it
        # is under way (ekakte.scanning.checks.awaiting_check); else the rules below decide.
        return Decision(True, "checker: a sampled document of a batch whose check they took on")

    if action in (Action.CASE_SHOW, Action.DOC_SHOW):
        if Role.RECORDS_MANAGER in roles:
            if restricted and not subject.health_clearance:
                return Decision(
                    True, "records manager: metadata, title and file name withheld", details=False
                )
            return Decision(True, "records manager: metadata")
        return on_own_team()
    if action in (Action.DOC_GET, Action.DOC_TEXT):
        return on_own_team()
    if action in (Action.SEARCH, Action.INBOX):
        # Allowed to ask at all; which documents answer is decided per document by `searchable`,
        # inside the query, before anything is counted or ranked.
        if not roles & CONTENT_ROLES:
            return Decision(False, "role may not see case documents")
        return Decision(True, "content role: own teams' cases")
    if action in (Action.OCR_WORK, Action.OCR_RETRY):
        return _by_role(roles, {Role.SCAN_OPERATOR, Role.SERVICE})
    if action == Action.CASE_ASSIGN:
        if Role.ADMIN in roles:
            return Decision(True, "admin")
        if Role.TEAM_LEAD not in roles:
            return Decision(False, "only team leads and admins assign cases")
        # Only within the team lead's teams: an unassigned (or unknown) case is the admins' to assign,
        # else any team lead could claim whatever the mail room imported into it, and "created" would
        # tell that a case did not exist.
        if case_team_id is None or case_team_id not in subject.team_ids:
            return Decision(False, "case is not one of the team lead's teams")
        if target_team_id not in subject.team_ids:
            return Decision(False, "target team is not one of the team lead's teams")
        return Decision(True, "team lead")
    if action == Action.CASE_CLOSE:
        if Role.RECORDS_MANAGER in roles:
            return Decision(True, "records manager")
        if Role.TEAM_LEAD in roles and case_team_id is not None and case_team_id in subject.team_ids:
            return Decision(True, "team lead of the case's team")
        return Decision(False, "only records managers and the case's team leads close cases")
    if action == Action.RETENTION:
        return _by_role(roles, {Role.RECORDS_MANAGER})
    if action == Action.PROTOCOL_READ:
        return _by_role(roles, {Role.RECORDS_MANAGER, Role.AUDITOR})
    if action in (Action.ARCHIVE, Action.ARCHIVE_HAND_OVER):
        return _by_role(roles, {Role.RECORDS_MANAGER})
    if action == Action.USER_MANAGE:
        return _by_role(roles, {Role.ADMIN})
    if action == Action.AUDIT_READ:
        return _by_role(roles, {Role.AUDITOR})
    if action == Action.AUDIT_ANCHOR:
        return _by_role(roles, {Role.AUDITOR, Role.ADMIN})
    if action == Action.INTEGRITY:
        return _by_role(roles, {Role.ADMIN, Role.RECORDS_MANAGER})
    if action == Action.TYPE_LIST:
        return _by_role(roles, {Role.ADMIN, Role.RECORDS_MANAGER, Role.AUDITOR})
    if action == Action.TYPE_POLICY:
        return _by_role(roles, {Role.ADMIN})
    if action == Action.POSTKORB:
        return _by_role(roles, {Role.TRIAGE})
    if action == Action.RETURNS:
        return _by_role(roles, {Role.SCAN_OPERATOR, Role.TRIAGE})
    if action == Action.SCAN_PROTOCOL:
        return _by_role(roles, {Role.SCAN_OPERATOR, Role.TRIAGE, Role.RECORDS_MANAGER, Role.AUDITOR})
    if action == Action.SCAN_CHECK:
        # Never the operator who scanned the batch: ekakte.scanning.checks refuses them by name.
        return _by_role(roles, {Role.SCAN_OPERATOR, Role.TRIAGE})
    return Decision(False, f"no rule for {action}")


def sees_restricted(subject: Subject | None) -> bool:
    """Whether the subject may learn that restricted documents exist (their ids, how many): records
    managers see every document's metadata, everyone else only with the health clearance."""
    return subject is not None and (Role.RECORDS_MANAGER in subject.roles or subject.health_clearance)


@dataclass(frozen=True)
class Scope:
    """Which documents a search may return: those of cases of `team_ids`, restricted ones (the
    documents' own flag) only with the health clearance. The same rule as `decide(..., DOC_TEXT)`, in a
    form SQL can apply."""

    team_ids: frozenset[int]
    restricted_allowed: bool


def search_scope(subject: Subject | None) -> Scope:
    """The documents a subject's search may return (nothing for roles without content access)."""
    if subject is None or not subject.roles & CONTENT_ROLES:
        return Scope(frozenset(), False)
    return Scope(subject.team_ids, subject.health_clearance)


def _by_role(roles: frozenset[str], allowed: set[Role]) -> Decision:
    held = sorted(roles & {str(r) for r in allowed})
    if held:
        return Decision(True, held[0])
    return Decision(False, f"needs role {' or '.join(sorted(allowed))}")


def check(session: Session, actor: Actor, action: Action, **context: Any) -> Decision:
    """Resolve and decide without writing to the audit trail (the caller audits what it then does)."""
    subject, why_none = resolve(session, actor)
    if subject is None:
        return Decision(False, why_none)
    return replace(decide(subject, action, **context), subject=subject)


def refuse(what: str) -> NotPermitted:
    """The one wording of a refusal: the same whether the thing exists or not."""
    return NotPermitted(f"not permitted: {what}")


@dataclass(frozen=True)
class About:
    """What a decision is about: what the policy needs (the case's team, the document's restriction, the
    team a case goes to) and what the audit entry names."""

    case_number: str | None = None
    document_id: str | None = None
    case_team_id: int | None = None
    restricted: bool = False
    target_team_id: int | None = None
    detail: str | None = None
    postkorb: bool = False  # the document waits in the Postkorb
    # The document is in the sample of a batch that waits for its second person's check, and the caller
    # did not scan the batch (ekakte.scanning.checks.awaiting_check)
    checking: bool = False


T = TypeVar("T")
NOTHING = About()


@overload
def decided(
    archive: Archive,
    actor: Actor,
    action: Action,
    refusal: str,
    work: Callable[[Session, Decision], T],
    *,
    about: About | Callable[[Session], About] = NOTHING,
    audit_allowed: bool = True,
    detail_after: Callable[[T], str] | None = None,
    reads_only: bool = False,
) -> T: ...


@overload
def decided(
    archive: Archive,
    actor: Actor,
    action: Action,
    refusal: str,
    work: None = None,
    *,
    about: About | Callable[[Session], About] = NOTHING,
    audit_allowed: bool = True,
    detail_after: None = None,
    reads_only: bool = False,
) -> Decision: ...


def decided(
    archive: Archive,
    actor: Actor,
    action: Action,
    refusal: str,
    work: Callable[[Session, Decision], T] | None = None,
    *,
    about: About | Callable[[Session], About] = NOTHING,
    audit_allowed: bool = True,
    detail_after: Callable[[T], str] | None = None,
    reads_only: bool = False,
) -> T | Decision:
    """The one way a use case asks: in one transaction, read what the decision is about (`about`, a
    value or a function of the session, run first), decide, write the audit entry, and, if allowed,
    do `work`; commit; then raise NotPermitted with `refusal` if it was refused. A refusal is thus
    always recorded; what `work` did is committed with the entry that allowed it. When the work fails
    with an ekakte error (a user that does not exist, a hold released already), what it wrote is rolled
    back and the entry is kept, then the error is raised: every call leaves exactly one entry. Returns
    what `work` returned, or the Decision when there is no work.

    `audit_allowed=False`: only a refusal is recorded here (an import records each stored document in
    the transaction that writes its row). `detail_after`: the entry's detail is made from what the work
    returned, so the entry is written after the work (the work must take the audit chain's lock first
    itself, in `about`, to keep the order of locks every writer keeps). `reads_only=True`: the work
    writes nothing: it runs in a read-only transaction and its entry (like that of a decision without
    work) is appended by group commit with the other requests' (`_decided_read`, audit.Appender).
    """
    if detail_after is None and audit_allowed and (reads_only or work is None):
        return _decided_read(archive, actor, action, refusal, work, about, reads_only)
    with archive.transaction() as session:
        request = about(session) if callable(about) else about
        decision = check(
            session,
            actor,
            action,
            case_team_id=request.case_team_id,
            restricted=request.restricted,
            target_team_id=request.target_team_id,
            postkorb=request.postkorb,
            checking=request.checking,
        )

        def record(detail: str | None) -> None:
            audit.append(
                session, actor, str(action), decision.outcome, case_number=request.case_number,
                document_id=request.document_id,
                reason=f"{detail}: {decision.reason}" if detail else decision.reason,
            )  # fmt: skip

        if detail_after is None and (audit_allowed or not decision.allowed):
            record(request.detail)
        result, failed = None, None
        if work is not None and decision.allowed:
            try:
                if reads_only:
                    result = work(session, decision)
                else:
                    with session.begin_nested():  # what the work wrote goes if it fails; the entry stays
                        result = work(session, decision)
            except EkakteError as exc:
                failed = exc
        if detail_after is not None:
            done = failed is None and decision.allowed
            record(detail_after(result) if done else request.detail)  # type: ignore[arg-type]
    if failed is not None:
        raise failed
    if not decision.allowed:
        raise refuse(refusal)
    return decision if work is None else result  # type: ignore[return-value]


_APPENDER_MADE = threading.Lock()


def appender(archive: Archive) -> audit.Appender:
    """The process's appender of audit entries for `archive` (group commit: audit.Appender)."""
    if archive.audit_appender is None:
        with _APPENDER_MADE:
            if archive.audit_appender is None:
                archive.audit_appender = audit.Appender(archive.transaction)
    return archive.audit_appender  # type: ignore[no-any-return]


def _decided_read(
    archive: Archive,
    actor: Actor,
    action: Action,
    refusal: str,
    work: Callable[[Session, Decision], T] | None,
    about: About | Callable[[Session], About],
    reads_only: bool,
) -> T | Decision:
    """`decided` for what changes nothing but the trail (a read, a decision alone): read, decide and do the
    work in a read-only transaction, then append the entry with the other requests' waiting entries
    (audit.Appender) and return only once it is committed. The chain's lock is then taken once for many
    requests, and never while a read runs."""
    assert reads_only or work is None
    with archive.reading() as session:
        request = about(session) if callable(about) else about
        decision = check(
            session, actor, action, case_team_id=request.case_team_id, restricted=request.restricted,
            target_team_id=request.target_team_id, postkorb=request.postkorb, checking=request.checking,
        )  # fmt: skip
        result, failed = None, None
        if work is not None and decision.allowed:
            try:
                result = work(session, decision)
            except EkakteError as exc:
                failed = exc
    detail = request.detail
    appender(archive).append(
        actor, str(action), decision.outcome, case_number=request.case_number,
        document_id=request.document_id, reason=f"{detail}: {decision.reason}" if detail else decision.reason,
    )  # fmt: skip
    if failed is not None:
        raise failed
    if not decision.allowed:
        raise refuse(refusal)
    return decision if work is None else result  # type: ignore[return-value]
