"""Signing in to the service and its sessions: local passwords (throttled), the identity provider's
sign-ins under way, and the sessions both lead to. Everything lives in the database, so that any server
process can take any request.

Throttling: FAILURES failed sign-ins of one user, or from one client address, within WINDOW lock that user
(or address) out for LOCKOUT; while locked, a sign-in is refused without its password being checked. The
answer to a failed sign-in is the same whatever the cause (unknown user, wrong password, locked out,
disabled): NotAuthenticated. Every sign-in is audited (`auth.sign-in`, outcome `allowed`, `denied` or
`locked` when it locks someone out), as is every sign-out; an unknown name is recorded as "(unknown)",
never as typed (people type their password into the name field).

Sessions: a random cookie value, of which only the SHA-256 is stored; it ends after IDLE of no use, at
its absolute end (set when it starts), at sign-out, or when its user is disabled.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import CursorResult, delete, select
from sqlalchemy.orm import Session

from ekakte import audit, passwords
from ekakte.actor import Actor
from ekakte.archive import Archive
from ekakte.db.models import LoginFlow, LoginThrottle, Principal, PrincipalRole, WebSession
from ekakte.errors import InvalidInput, NotAuthenticated

FAILURES = 5
WINDOW = timedelta(minutes=15)
LOCKOUT = timedelta(minutes=15)
FLOW_LIFETIME = timedelta(minutes=10)
SEEN_EVERY = timedelta(seconds=60)  # last_seen_at is written at most this often
SIGN_IN = "auth.sign-in"
SIGN_OUT = "auth.sign-out"
REFUSED = "the name or the password is wrong, or the account is locked for a while"


@dataclass(frozen=True)
class SignedIn:
    """A new session: `cookie` goes to the browser (and nowhere else), `csrf_token` into its forms."""

    cookie: str
    csrf_token: str
    principal: str
    expires_at: datetime


@dataclass(frozen=True)
class SessionInfo:
    principal: str
    method: str
    csrf_token: str
    expires_at: datetime
    search_words: str | None = None  # the session's last search, for highlighting
    roles: tuple[str, ...] = ()  # what the user holds now (the pages show what it may use; use cases decide)


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def sign_in_with_password(archive: Archive, actor: Actor, password: str, *, lifetime: timedelta) -> SignedIn:
    """A session for `actor.name` if the password is theirs and neither they nor the client's address are
    locked out; NotAuthenticated otherwise (the same whatever the reason). `actor` carries the request's
    channel, client address and request id for the audit entry."""
    now = _now()
    keys = [f"user:{actor.name}"] + ([f"address:{actor.client_address}"] if actor.client_address else [])
    with archive.transaction() as session:
        # Locked rows first, in one order, so that concurrent sign-ins of one user wait for each other.
        throttles = {key: session.get(LoginThrottle, key, with_for_update=True) for key in sorted(keys)}
        principal = session.scalar(select(Principal).where(Principal.name == actor.name))
        known = principal is not None
        recorded = (
            actor
            if known
            else Actor("(unknown)", None, actor.channel, actor.client_address, actor.request_id)
        )
        if any(t is not None and t.locked_until and _aware(t.locked_until) > now for t in throttles.values()):
            audit.append(session, recorded, SIGN_IN, "denied", reason="password: locked out for a while")
        else:
            stored = principal.password_hash if principal is not None and not principal.disabled else None
            if passwords.matches(stored, password):
                assert principal is not None and stored is not None
                if passwords.needs_rehash(stored):
                    principal.password_hash = passwords.hashed(password)
                session.execute(delete(LoginThrottle).where(LoginThrottle.key == f"user:{actor.name}"))
                signed_in = _start(session, actor.name, "password", actor.client_address, now, lifetime)
                audit.append(session, recorded, SIGN_IN, "allowed", reason="password")
                return signed_in
            locked_now = _count_failure(session, throttles, now)
            outcome = "locked" if locked_now else "denied"
            why = (
                f"password: wrong; {' and '.join(locked_now)} locked out" if locked_now else "password: wrong"
            )
            audit.append(session, recorded, SIGN_IN, outcome, reason=why)
    raise NotAuthenticated(REFUSED)


def _count_failure(session: Session, throttles: dict[str, LoginThrottle | None], now: datetime) -> list[str]:
    """Count a failure against each key; the keys this failure locks out."""
    locked = []
    for key, row in throttles.items():
        if row is None or _aware(row.first_failure_at) < now - WINDOW:
            if row is None:
                row = LoginThrottle(key=key, failures=0, first_failure_at=now)
                session.add(row)
            row.failures, row.first_failure_at, row.locked_until = 0, now, None
        row.failures += 1
        if row.failures >= FAILURES:
            row.locked_until = now + LOCKOUT
            row.failures, row.first_failure_at = 0, now
            locked.append(key.split(":", 1)[0])
    return locked


def sign_in_with_provider(archive: Archive, actor: Actor, *, lifetime: timedelta) -> SignedIn:
    """A session for the user the identity provider vouched for (the service checked its ID token),
    if ekakte knows them and they are not disabled; NotAuthenticated otherwise."""
    now = _now()
    with archive.transaction() as session:
        principal = session.scalar(select(Principal).where(Principal.name == actor.name))
        if principal is None or principal.disabled:
            recorded = (
                actor
                if principal is not None
                else Actor("(unknown)", None, actor.channel, actor.client_address, actor.request_id)
            )
            audit.append(session, recorded, SIGN_IN, "denied", reason="identity provider: not an ekakte user")
            failed = True
        else:
            signed_in = _start(session, actor.name, "oidc", actor.client_address, now, lifetime)
            audit.append(session, actor, SIGN_IN, "allowed", reason="identity provider")
            failed = False
    if failed:
        raise NotAuthenticated("this account is not an archive user; ask the archive's administrators")
    return signed_in


def _start(
    session: Session, name: str, method: str, address: str | None, now: datetime, lifetime: timedelta
) -> SignedIn:
    cookie, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    expires = now + lifetime
    session.add(
        WebSession(
            id=_digest(cookie), principal=name, method=method, created_at=now, last_seen_at=now,
            expires_at=expires, csrf_token=csrf, client_address=address,
        )
    )  # fmt: skip
    return SignedIn(cookie, csrf, name, expires)


def session_of(archive: Archive, cookie: str, *, idle: timedelta) -> SessionInfo | None:
    """The live session of a cookie, or None (unknown, idle too long, past its end, or of a user who is
    disabled since); an ended one is removed."""
    if not cookie or len(cookie) > 200:
        return None
    now = _now()
    key = _digest(cookie)
    with archive.reading() as session:
        row = session.execute(
            select(WebSession, Principal.disabled)
            .outerjoin(Principal, Principal.name == WebSession.principal)
            .where(WebSession.id == key)
        ).first()
    if row is None:
        return None
    found, disabled = row
    ended = (
        _aware(found.expires_at) <= now or _aware(found.last_seen_at) + idle <= now or disabled is not False
    )
    if ended:
        with archive.transaction() as session:
            session.execute(delete(WebSession).where(WebSession.id == key))
        return None
    if now - _aware(found.last_seen_at) >= SEEN_EVERY:
        with archive.transaction() as session:
            stored = session.get(WebSession, key)
            if stored is not None:
                stored.last_seen_at = now
    with archive.reading() as session:
        roles = tuple(
            sorted(
                session.scalars(
                    select(PrincipalRole.role)
                    .join(Principal, Principal.id == PrincipalRole.principal_id)
                    .where(Principal.name == found.principal)
                )
            )
        )
    return SessionInfo(
        found.principal, found.method, found.csrf_token, _aware(found.expires_at), found.search_words, roles
    )


def remember_search(archive: Archive, cookie: str, words: str | None) -> None:
    """Keep the words of the session's last search (at most 1,000 characters) to highlight them in the
    documents opened from it; they go with the session."""
    with archive.transaction() as session:
        stored = session.get(WebSession, _digest(cookie))
        if stored is not None:
            stored.search_words = words[:1000] if words else None


def sign_out(archive: Archive, actor: Actor, cookie: str) -> None:
    """End the session of `cookie` (if it is live), audited."""
    with archive.transaction() as session:
        result: CursorResult[Any] = session.execute(  # type: ignore[assignment]
            delete(WebSession).where(WebSession.id == _digest(cookie))
        )
        if result.rowcount:
            audit.append(session, actor, SIGN_OUT, "allowed")


# A path of this service and nothing a browser could read as another host ("//host", "/\\host"): the
# characters of an URL's path and query, no backslash, no control character.
_RETURN_TO = re.compile(r"/[A-Za-z0-9._~!$&'()*+,;=:@%/?-]{0,499}")


@dataclass(frozen=True)
class LoginFlowStart:
    state: str
    nonce: str
    code_verifier: str


def begin_provider_sign_in(archive: Archive, return_to: str) -> LoginFlowStart:
    """A sign-in at the identity provider, begun: its state, nonce and PKCE verifier, remembered for
    FLOW_LIFETIME by the state's SHA-256 (older ones are dropped on the way)."""
    if not _RETURN_TO.fullmatch(return_to) or return_to.startswith("//"):
        raise InvalidInput("the page to return to must be a path of this service", field="return_to")
    now = _now()
    start = LoginFlowStart(secrets.token_urlsafe(32), secrets.token_urlsafe(32), secrets.token_urlsafe(64))
    with archive.transaction() as session:
        session.execute(delete(LoginFlow).where(LoginFlow.created_at < now - FLOW_LIFETIME))
        session.add(
            LoginFlow(
                id=_digest(start.state), nonce=start.nonce, code_verifier=start.code_verifier,
                return_to=return_to, created_at=now,
            )
        )  # fmt: skip
    return start


@dataclass(frozen=True)
class LoginFlowState:
    nonce: str
    code_verifier: str
    return_to: str


def finish_provider_sign_in(archive: Archive, state: str) -> LoginFlowState:
    """The sign-in begun with `state`, taken (it can be finished once); NotAuthenticated if there is none
    or it is older than FLOW_LIFETIME."""
    now = _now()
    with archive.transaction() as session:
        flow = session.get(LoginFlow, _digest(state or "-"), with_for_update=True)
        if flow is None:
            raise NotAuthenticated("this sign-in is unknown or was finished already; sign in again")
        session.delete(flow)
        taken = LoginFlowState(flow.nonce, flow.code_verifier, flow.return_to)
        fresh = _aware(flow.created_at) > now - FLOW_LIFETIME
    if not fresh:
        raise NotAuthenticated("this sign-in took too long; sign in again")
    return taken
