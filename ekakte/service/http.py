"""What every request passes through, outermost first (`Requests`, one ASGI middleware): its id, the
client's address, the limits on its body, the response headers every answer carries, its metrics and
its line in the access log.

The log line names the route's template (`/api/v1/cases/{case_number}`), never the path or the query
as sent: a case number, a document id or a search text in a log would be social data in a file that
is neither access-checked nor audited. The metrics' labels are the same templates, the method and the
status, nothing of the request's own.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import re
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import anyio
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from ekakte.service.problems import problem_response
from ekakte.service.settings import IPNetwork, ServiceSettings

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

REQUEST_ID = "x-request-id"
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")  # as ekakte.actor takes it into the trail
UPLOAD_ROUTES = {("POST", "/api/v1/documents")}
log = logging.getLogger("ekakte.access")


class Metrics:
    """Requests, their latency by route, and errors, in Prometheus' text format. With several worker
    processes (PROMETHEUS_MULTIPROC_DIR, set by `ekakte serve --workers`) each writes its own file and
    /metrics sums all of them."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "ekakte_http_requests", "HTTP requests answered", ["method", "route", "status"],
            registry=self.registry,
        )  # fmt: skip
        self.latency = Histogram(
            "ekakte_http_request_duration_seconds", "Time to answer, by route", ["method", "route"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30), registry=self.registry,
        )  # fmt: skip
        self.errors = Counter(
            "ekakte_http_errors", "Answers with a 5xx status, and transfers aborted", ["route", "kind"],
            registry=self.registry,
        )  # fmt: skip

    def count(self, method: str, route: str, status: int, seconds: float) -> None:
        try:
            self.requests.labels(method, route, str(status)).inc()
            self.latency.labels(method, route).observe(seconds)
            if status >= 500:
                self.errors.labels(route, str(status)).inc()
        except OSError:  # the multiprocess folder went away: counting never fails a request
            log.warning("metrics: cannot count in %s", os.environ.get("PROMETHEUS_MULTIPROC_DIR"))

    def error(self, route: str, kind: str) -> None:
        try:
            self.errors.labels(route, kind).inc()
        except OSError:
            log.warning("metrics: cannot count in %s", os.environ.get("PROMETHEUS_MULTIPROC_DIR"))

    def exposition(self) -> bytes:
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            registry = CollectorRegistry()
            MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            return generate_latest(registry)
        return generate_latest(self.registry)


def client_address(peer: str | None, forwarded_for: str | None, trusted: tuple[IPNetwork, ...]) -> str | None:
    """The client: the connection's peer, unless the peer is a trusted proxy; then the nearest address
    in X-Forwarded-For that is not one (read from the right: the left part is whatever the client wrote)."""
    if peer is None:
        return None
    if not trusted or not forwarded_for or not _trusted(peer, trusted):
        return peer
    hops = [h.strip() for h in forwarded_for.split(",") if h.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, trusted):
            return hop if _is_address(hop) else peer
    return hops[0] if hops and _is_address(hops[0]) else peer


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _trusted(address: str, trusted: tuple[IPNetwork, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip in network for network in trusted)


class BodyTooLarge(Exception):
    pass


class Requests:
    """The middleware (see the module's docstring)."""

    def __init__(self, app: ASGIApp, settings: ServiceSettings, metrics: Metrics) -> None:
        self.app, self.settings, self.metrics = app, settings, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        given = headers.get(REQUEST_ID, "")
        request_id = given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
        peer = scope["client"][0] if scope.get("client") else None
        address = client_address(peer, headers.get("x-forwarded-for"), self.settings.trusted_proxies)
        state = scope.setdefault("state", {})
        state["request_id"], state["client_address"] = request_id, address
        method = scope["method"]
        limit = (
            self.settings.max_upload_bytes
            if (method, scope["path"]) in UPLOAD_ROUTES
            else self.settings.max_body_bytes
        )
        extra = [(b"x-request-id", request_id.encode()), *_SECURITY_HEADERS]
        if scope["path"].startswith("/static/"):
            # The web app's stylesheet and script: the same for everyone, no social data; kept an hour.
            extra = [
                (b"cache-control", b"public, max-age=3600") if k == b"cache-control" else (k, v)
                for k, v in extra
            ]
        if self.settings.tls:
            extra.append((b"strict-transport-security", b"max-age=31536000; includeSubDomains"))
        status = 500
        started_response = False

        async def send_with_headers(message: Message) -> None:
            nonlocal status, started_response
            if message["type"] == "http.response.start":
                status, started_response = message["status"], True
                names = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [
                    (k, v) for k, v in extra if k not in names
                ]
            await send(message)

        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            try:
                with anyio.fail_after(self.settings.body_timeout):
                    message = await receive()
            except TimeoutError:
                raise BodyTooLarge("timeout") from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge("size")
            return message

        async def refuse(code_status: int, code: str, detail: str) -> None:
            response = problem_response(code_status, code, detail, request_id=request_id)
            await response(scope, receive, send_with_headers)

        try:
            declared = headers.get("content-length")
            if declared is not None and (not declared.isdigit() or int(declared) > limit):
                await refuse(413, "too-large", f"The request's body is larger than {limit} bytes.")
            else:
                await self.app(scope, limited_receive, send_with_headers)
        except BodyTooLarge as exc:
            if not started_response:
                if str(exc) == "timeout":
                    await refuse(408, "body-timeout", "The request's body stopped arriving.")
                else:
                    await refuse(413, "too-large", f"The request's body is larger than {limit} bytes.")
            else:
                self._count_abort(scope, "body")
        except Exception:
            self._count_abort(scope, "aborted" if started_response else "exception")
            raise
        finally:
            route = _route(scope)
            elapsed = time.perf_counter() - started
            self.metrics.count(method, route, status, elapsed)
            log.info(
                "%s %s %s %d %.1fms %s%s",
                request_id, method, route, status, elapsed * 1000, address or "-",
                f" user={state['user']}" if state.get("user") else "",
            )  # fmt: skip

    def _count_abort(self, scope: Scope, kind: str) -> None:
        self.metrics.error(_route(scope), kind)


def _route(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "(no route)"


_SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
    (b"cache-control", b"no-store"),
]
