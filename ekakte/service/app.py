"""The application: the API's routes, health and metrics, the error answers, put together."""

from __future__ import annotations

import logging
import traceback
import urllib.parse
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.staticfiles import StaticFiles

from ekakte import __version__, api
from ekakte.errors import EkakteError
from ekakte.service import problems
from ekakte.service.http import Metrics, Requests
from ekakte.service.oidc import Issuer
from ekakte.service.problems import Problem
from ekakte.service.routes import router
from ekakte.service.settings import ServiceSettings, load_service_settings
from ekakte.service.signin import router as signin_router
from ekakte.service.web import pages as web

log = logging.getLogger("ekakte.service")
OPENAPI = "/api/v1/openapi.json"
THREADS = 10


def create_app(settings: api.Settings, service: ServiceSettings, *, archive: Any = None) -> FastAPI:
    """The ASGI application. It opens the archive when it starts (or uses `archive`, which the caller
    then closes) and knows nothing a second process would need: every request's state is in PostgreSQL
    and the object store."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Requests that run the library (in threads) at once per process: more only queue for Python's
        # interpreter lock while holding database connections and the audit chain's turn.
        anyio.to_thread.current_default_thread_limiter().total_tokens = THREADS
        own = archive is None
        app.state.archive = api.Archive.open(settings) if own else archive
        try:
            yield
        finally:
            if own:
                app.state.archive.close()

    app = _Service(
        title="ekakte",
        version=__version__,
        summary="The archive of the E-Akte: cases, documents, search, audit and retention over HTTP",
        openapi_url=OPENAPI,
        docs_url=None,  # Swagger UI and ReDoc load scripts from a CDN: never from a job centre's PCs
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.issuer = Issuer(service.oidc) if service.oidc else None
    app.state.settings = service
    metrics = Metrics()
    app.include_router(router)
    app.include_router(signin_router)
    app.include_router(web.router)
    app.mount("/static", StaticFiles(packages=[("ekakte.service.web", "static")]), name="static")
    _health(app, metrics)
    _errors(app)
    app.add_middleware(Requests, settings=service, metrics=metrics)
    return app


class _Service(FastAPI):
    """FastAPI, but an exception that reached the top has been answered (a 500 problem, or the transfer cut
    short when the answer had begun) and logged by the handler without its text: it goes no further, so
    that the server does not log it again with its message."""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await super().__call__(scope, receive, send)
        except Exception:
            if scope["type"] != "http":
                raise


def _health(app: FastAPI, metrics: Metrics) -> None:
    @app.api_route("/healthz", methods=["GET", "HEAD"], include_in_schema=False)
    def healthz() -> PlainTextResponse:
        """The process is alive (it answers)."""
        return PlainTextResponse("ok\n")

    @app.api_route("/readyz", methods=["GET", "HEAD"], include_in_schema=False)
    def readyz(request: Request) -> Response:
        """Database and object store reachable: this process can answer requests."""
        failed = api.unreachable(request.app.state.archive)
        if failed:
            request_id = request.state.request_id
            return problems.problem_response(
                503, "not-ready", f"not reachable: {', '.join(failed)}", request_id=request_id
            )
        return PlainTextResponse("ready\n")

    @app.get("/metrics", include_in_schema=False)
    def metrics_endpoint(request: Request) -> Response:
        try:
            text = metrics.exposition()
        except (OSError, ValueError):  # the workers' folder went away (a tmp cleaner)
            return problems.problem_response(
                503, "metrics", "The metrics cannot be read.", request_id=request.state.request_id
            )
        return Response(text, media_type="text/plain; version=0.0.4; charset=utf-8")


_NOT_PAGES = ("/api/", "/auth/", "/healthz", "/readyz", "/metrics", "/static/")


def _errors(app: FastAPI) -> None:
    """Errors as problem+json for the API (and sign-in, health, metrics), as pages in the app's design
    for the web app's addresses."""

    def request_id(request: Request) -> str | None:
        return getattr(request.state, "request_id", None)

    def is_page(request: Request) -> bool:
        return not request.url.path.startswith(_NOT_PAGES)

    @app.exception_handler(EkakteError)
    async def ekakte_error(request: Request, exc: EkakteError) -> Response:
        if exc.http_status >= 500:  # ekakte's messages name what failed, never a request's content
            log.error("%s: %s: %s", request_id(request), type(exc).__name__, exc)
        if is_page(request):
            status = 404 if exc.http_status in (403, 404) else exc.http_status
            return web.error_page(request, status, str(exc) if status < 500 else None)
        return problems.from_error(exc, request_id(request))

    @app.exception_handler(Problem)
    async def problem(request: Request, exc: Problem) -> Response:
        return problems.problem_response(
            exc.status, exc.code, exc.detail, request_id=request_id(request), headers=exc.headers
        )

    @app.exception_handler(web.SignInFirst)
    async def sign_in_first(request: Request, exc: web.SignInFirst) -> Response:
        query = {"return_to": exc.return_to, **({"abgelaufen": "1"} if exc.expired else {})}
        return RedirectResponse("/anmelden?" + urllib.parse.urlencode(query), status_code=303)

    @app.exception_handler(web.PageError)
    async def page_error(request: Request, exc: web.PageError) -> Response:
        return web.error_page(request, exc.status, exc.message)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {}
        if is_page(request):
            return web.error_page(request, 400)
        if first.get("type") == "json_invalid":
            return problems.problem_response(
                400, "bad-request", "The body is not valid JSON.", request_id=request_id(request)
            )
        where = [str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path", "header")]
        field = ".".join(where) or None
        message = str(first.get("msg", "invalid request"))
        detail = f"{field}: {message}" if field else message
        return problems.problem_response(
            422, "invalid-input", detail, request_id=request_id(request), field=field
        )

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        if is_page(request) and exc.status_code in (404, 405):
            return web.error_page(request, 404)
        codes = {400: "bad-request", 404: "no-such-route", 405: "method-not-allowed"}
        code = codes.get(exc.status_code, "http")
        detail = {
            404: "There is no such address in this API.",
            405: "This address does not take that method.",
        }
        return problems.problem_response(
            exc.status_code, code, detail.get(exc.status_code, "The request was not understood."),
            request_id=request_id(request), headers=dict(exc.headers or {}),
        )  # fmt: skip

    @app.exception_handler(Exception)
    async def internal(request: Request, exc: Exception) -> Response:
        # The traceback's frames, not the exception's text: a driver's message may quote the statement's
        # parameters (a search text, a name), which have no place in a log.
        frames = "".join(traceback.format_tb(exc.__traceback__))
        log.error("%s: unexpected %s at\n%s", request_id(request), type(exc).__name__, frames)
        if is_page(request):
            return web.error_page(request, 500)
        return problems.internal(request_id(request))


def from_environment() -> FastAPI:
    """The application as `ekakte serve` starts it in each worker process: settings from the environment
    (EKAKTE_SERVE_TLS=1 when the server speaks TLS itself)."""
    import os

    tls = os.environ.get("EKAKTE_SERVE_TLS") == "1"
    return create_app(api.load_settings(), load_service_settings(tls=tls))
