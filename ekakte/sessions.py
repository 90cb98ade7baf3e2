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
import ipaddress
import re
import secrets
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import CursorResult, delete, select, update
from sqlalchemy.orm import Session

from ekakte import audit, passwords
from ekakte.actor import Actor
from ekakte.archive import Archive
from ekakte.db.dialect import insert_or_ignore
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
    channel, client address and request id for the audit entry.

    The attempt is counted before the password is checked (a short transaction on rows created first and
    locked, so that parallel guesses are counted one after another), the password is checked outside any
    transaction (argon2id takes 64 MiB and a good part of a second; at most HASHING_AT_ONCE at once per
    process), and a second short transaction records the outcome: a right password takes its count back."""
    now = _now()
    keys = throttle_keys(actor.name, actor.client_address)
    recorded = actor
    with archive.transaction() as session:
        session.execute(
            delete(LoginThrottle).where(
                LoginThrottle.first_failure_at < now - WINDOW,
                (LoginThrottle.locked_until.is_(None)) | (LoginThrottle.locked_until < now),
            )
        )
        for key in keys:
            session.execute(
                insert_or_ignore(session, LoginThrottle, ["key"]).values(
                    key=key, failures=0, first_failure_at=now
                )
            )
        # In one order, so that concurrent sign-ins of one user or address wait for each other.
        rows = [session.get(LoginThrottle, key, with_for_update=True, populate_existing=True) for key in keys]
        principal = session.scalar(select(Principal).where(Principal.name == actor.name))
        if principal is None:
            recorded = Actor("(unknown)", None, actor.channel, actor.client_address, actor.request_id)
        locked_now: list[str] | None = None
        stored: str | None = None
        if any(row is not None and row.locked_until and _aware(row.locked_until) > now for row in rows):
            audit.append(session, recorded, SIGN_IN, "denied", reason="password: locked out for a while")
        else:
            locked_now = _count_attempt(rows, now)
            stored = principal.password_hash if principal is not None and not principal.disabled else None
    if locked_now is None:
        raise NotAuthenticated(REFUSED)
    with _HASHING:
        right = passwords.matches(stored, password)
        new_hash = passwords.hashed(password) if right and stored and passwords.needs_rehash(stored) else None
    with archive.transaction() as session:
        if right:
            _take_back(session, keys, now)
            if new_hash is not None:
                session.execute(
                    update(Principal).where(Principal.name == actor.name).values(password_hash=new_hash)
                )
            signed_in = _start(session, actor.name, "password", actor.client_address, now, lifetime)
            audit.append(session, recorded, SIGN_IN, "allowed", reason="password")
            return signed_in
        outcome = "locked" if locked_now else "denied"
        why = f"password: wrong; {' and '.join(locked_now)} locked out" if locked_now else "password: wrong"
        audit.append(session, recorded, SIGN_IN, outcome, reason=why)
    raise NotAuthenticated(REFUSED)


HASHING_AT_ONCE = 4
_HASHING = threading.BoundedSemaphore(HASHING_AT_ONCE)


def throttle_keys(name: str, address: str | None) -> list[str]:
    """The throttle's keys of a sign-in, sorted: the name's SHA-256 (people type passwords into the name
    field: the table keeps no typed text), and the client's address, an IPv6 one by its /64 (one
    network's machines are one client: a /64 holds more addresses than anyone could try)."""
    keys = ["user:" + hashlib.sha256(name.encode()).hexdigest()[:40]]
    if address:
        ip = ipaddress.ip_address(address)
        if isinstance(ip, ipaddress.IPv6Address):
            address = str(ipaddress.ip_network(f"{ip}/64", strict=False))
        keys.append(f"address:{address}")
    return sorted(keys)


def _count_attempt(rows: list[LoginThrottle | None], now: datetime) -> list[str]:
    """Count an attempt against each key (taken back if the password is right); the kinds of key
    ("user", "address") this attempt locks out."""
    locked = []
    for row in rows:
        if row is None:  # made just before, in the same transaction
            continue
        if _aware(row.first_failure_at) < now - WINDOW:
            row.failures, row.first_failure_at, row.locked_until = 0, now, None
        row.failures += 1
        if row.failures >= FAILURES:
            row.locked_until = now + LOCKOUT
            row.failures, row.first_failure_at = 0, now
            locked.append(row.key.split(":", 1)[0])
    return locked


def _take_back(session: Session, keys: list[str], now: datetime) -> None:
    """A right password: the user's count starts again; the address's attempt was no failure (and a lock
    this very attempt set on it is lifted)."""
    for key in keys:
        row = session.get(LoginThrottle, key, with_for_update=True)
        if row is None:
            continue
        if key.startswith("user:"):
            session.delete(row)
        elif row.failures > 0:
            row.failures -= 1
        elif row.locked_until is not None and _aware(row.locked_until) >= now + LOCKOUT - timedelta(
            seconds=5
        ):
            row.locked_until = None


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
    # Sessions past their end go here, search words and addresses with them (an abandoned browser's too).
    session.execute(delete(WebSession).where(WebSession.expires_at < now))
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


def is_local_path(path: str) -> bool:
    """Whether `path` is a path of this service that no browser reads as another host: the only pages a
    sign-in may send a browser back to."""
    return bool(_RETURN_TO.fullmatch(path)) and not path.startswith("//")


@dataclass(frozen=True)
class LoginFlowStart:
    state: str
    nonce: str
    code_verifier: str


def begin_provider_sign_in(archive: Archive, return_to: str) -> LoginFlowStart:
    """A sign-in at the identity provider, begun: its state, nonce and PKCE verifier, remembered for
    FLOW_LIFETIME by the state's SHA-256 (older ones are dropped on the way)."""
    if not is_local_path(return_to):
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
