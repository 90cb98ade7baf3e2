"""The web app's routes: each page calls the use cases the API calls, as the session's user, with the
channel `web`; refused and nonexistent show the same page (404). Forms that change something carry the
session's CSRF token; sign-in's form carries one of its own (a cookie and a field that must match)."""

from __future__ import annotations

import hmac
import re
import secrets
import urllib.parse
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

import jinja2
from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from markupsafe import Markup, escape
from starlette.background import BackgroundTask

from ekakte import api
from ekakte.errors import ConfigError, EkakteError, InvalidInput, NotFound, NotPermitted
from ekakte.service.identity import (
    check_csrf,
    clear_session_cookie,
    cookie_name,
    end_session,
    session,
    set_session_cookie,
)
from ekakte.service.web.texts import message, text

router = APIRouter(include_in_schema=False)
_LOGIN_CSRF = "ekakte-login"
_ZOOMS = ((800, "doc.zoom.small"), (1200, "doc.zoom.medium"), (1800, "doc.zoom.large"))
_PAGE_SIZE = 50

_templates = jinja2.Environment(
    loader=jinja2.PackageLoader("ekakte.service.web", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)


class SignInFirst(Exception):
    """No live session: the browser goes to the sign-in page, and back here after it."""

    def __init__(self, return_to: str, expired: bool) -> None:
        super().__init__(return_to)
        self.return_to, self.expired = return_to, expired


class PageError(Exception):
    """A page that answers with an error page of its status (403, 404, 400)."""

    def __init__(self, status: int, message: str | None = None) -> None:
        super().__init__(status)
        self.status, self.message = status, message


def csp(request: Request) -> str:
    """The pages' Content-Security-Policy: everything from the service itself, no inline script or style;
    a form may lead to the identity provider (sign-out ends the session there)."""
    issuer = request.app.state.issuer
    provider = ""
    if issuer is not None:
        parts = urllib.parse.urlsplit(issuer.settings.issuer)
        provider = f" {parts.scheme}://{parts.netloc}"
    return (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self';"
        f" form-action 'self'{provider}; frame-ancestors 'none'; base-uri 'none'"
    )


def render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    found = getattr(request.state, "web_session", None)
    values = {
        "t": text,
        "message": message,
        "day": _day,
        "moment": _moment,
        "user": found.principal if found else None,
        "roles": found.roles if found else (),
        "csrf_token": found.csrf_token if found else "",
        **context,
    }
    html = _templates.get_template(template).render(**values)
    return HTMLResponse(html, status_code=status, headers={"Content-Security-Policy": csp(request)})


def error_page(request: Request, status: int, message: str | None = None) -> HTMLResponse:
    """The error page of `status` in the app's design; a 500 names the request id and nothing else."""
    kind = status if status in (400, 403, 404, 500, 503) else 500
    request_id = getattr(request.state, "request_id", "-")
    words = (
        text(f"error.{kind}.text", request_id=request_id) if kind in (500, 503) or not message else message
    )
    return render(request, "error.html", status=status, kind=kind, message=words)


def _day(value: date | None) -> str:
    return value.strftime("%d.%m.%Y") if value else ""


def _moment(value: datetime | None) -> str:
    """A time as the users read it: German order, local time of the server (the archive stores UTC)."""
    if value is None:
        return ""
    stamp = value if value.tzinfo else value.replace(tzinfo=UTC)
    return stamp.astimezone().strftime("%d.%m.%Y %H:%M")


def _signed_in(request: Request) -> api.SessionInfo:
    found = session(request)
    if found is None:
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise SignInFirst(path, expired=cookie_name(request) in request.cookies)
    request.state.web_session = found
    request.state.user = found.principal
    return found


def _actor(request: Request, found: api.SessionInfo) -> api.Actor:
    return api.Actor(
        found.principal, channel="web", client_address=request.state.client_address,
        request_id=request.state.request_id,
    )  # fmt: skip


def _check_csrf(found: api.SessionInfo, sent: str) -> None:
    if not check_csrf(found, sent):
        raise PageError(403, text("csrf.failed"))


def _archive(request: Request) -> Any:
    return request.app.state.archive


# Signing in and out -------------------------------------------------------------------------------------


@router.get("/anmelden", response_class=HTMLResponse)
def login_page(
    request: Request,
    return_to: Annotated[str, Query(max_length=500)] = "/",
    abgemeldet: str | None = None,
    abgelaufen: str | None = None,
) -> Response:
    if session(request) is not None:
        return RedirectResponse("/", status_code=303)
    notice = text("login.logged_out") if abgemeldet else text("login.expired") if abgelaufen else None
    token = secrets.token_urlsafe(24)
    response = render(
        request, "login.html", sso=request.app.state.issuer is not None, return_to=_safe_return(return_to),
        notice=notice, failed=False, login_token=token,
    )  # fmt: skip
    _set_login_token(request, response, token)
    return response


def _set_login_token(request: Request, response: Response, token: str) -> None:
    secure = request.app.state.settings.secure_cookies
    response.set_cookie(
        _LOGIN_CSRF, token, max_age=3600, path="/anmelden", secure=secure, httponly=True, samesite="strict"
    )


def _safe_return(path: str) -> str:
    return path if api.is_local_path(path) else "/"


@router.post("/anmelden", response_class=HTMLResponse)
def login(
    request: Request,
    username: Annotated[str, Form(max_length=100)],
    password: Annotated[str, Form(max_length=1024)],
    login_token: Annotated[str, Form(max_length=100)] = "",
    return_to: Annotated[str, Form(max_length=500)] = "/",
) -> Response:
    """The local password form. Its token (cookie and field) keeps other sites from signing a browser in
    to an account of theirs."""
    if not login_token or not hmac.compare_digest(
        login_token.encode(), request.cookies.get(_LOGIN_CSRF, "").encode()
    ):
        raise PageError(403, text("csrf.failed"))
    actor = api.Actor(
        username,
        channel="web",
        client_address=request.state.client_address,
        request_id=request.state.request_id,
    )
    lifetime = timedelta(seconds=request.app.state.settings.session_lifetime_seconds)
    try:
        signed_in = api.sign_in_with_password(_archive(request), actor, password, lifetime=lifetime)
    except EkakteError as exc:
        if exc.http_status != 401:
            raise
        token = secrets.token_urlsafe(24)
        again = render(
            request, "login.html", status=401, sso=request.app.state.issuer is not None,
            return_to=_safe_return(return_to), notice=None, failed=True, login_token=token,
        )  # fmt: skip
        _set_login_token(request, again, token)
        return again
    response = set_session_cookie(
        RedirectResponse(_safe_return(return_to), status_code=303), request, signed_in
    )
    response.delete_cookie(_LOGIN_CSRF, path="/anmelden")
    return response


@router.post("/abmelden")
def logout(request: Request, csrf_token: Annotated[str, Form(max_length=100)] = "") -> Response:
    found = session(request)
    if found is None:
        return clear_session_cookie(RedirectResponse("/anmelden?abgemeldet=1", status_code=303), request)
    _check_csrf(found, csrf_token)
    return end_session(request, found, then="/anmelden?abgemeldet=1")


# Start, case, document ----------------------------------------------------------------------------------


@router.get("/", response_class=HTMLResponse)
def start(request: Request) -> Response:
    _signed_in(request)
    return _start(request)


def _start(request: Request, number: str | None = None, invalid: bool = False) -> HTMLResponse:
    settings = _archive(request).settings
    return render(
        request, "start.html", status=422 if invalid else 200, number=number, invalid=invalid,
        pattern=settings.case_number_pattern, example=_example(settings.case_number_pattern),
    )  # fmt: skip


def _example(pattern: str) -> str:
    return "12345BG0001234" if pattern == r"\d{5}BG\d{7}" else pattern


@router.get("/akte", response_class=HTMLResponse)
def open_case(request: Request, nummer: Annotated[str, Query(max_length=64)] = "") -> Response:
    _signed_in(request)
    try:
        number = _archive(request).settings.case_number(nummer)
    except InvalidInput:
        return _start(request, nummer, invalid=True)
    return RedirectResponse(f"/akte/{urllib.parse.quote(number)}", status_code=303)


@router.get("/akte/{case_number}", response_class=HTMLResponse)
def case_page(
    request: Request,
    case_number: str,
    typ: Annotated[str, Query(max_length=100)] = "",
    von: Annotated[str, Query(max_length=10)] = "",
    bis: Annotated[str, Query(max_length=10)] = "",
    nach: Annotated[str | None, Query(max_length=1000)] = None,
) -> Response:
    found = _signed_in(request)
    received_from, received_to = _iso_day(von), _iso_day(bis)
    try:
        view = api.case_documents(
            _archive(request), _actor(request, found), case_number, typ or None, limit=_PAGE_SIZE, after=nach,
            received_from=received_from, received_to=received_to,
        )  # fmt: skip
    except (NotPermitted, NotFound):
        return error_page(request, 404)
    except InvalidInput as exc:
        return error_page(request, 400, str(exc))
    filters = {k: v for k, v in {"typ": typ, "von": von, "bis": bis}.items() if v}
    base = f"/akte/{urllib.parse.quote(view.case.case_number)}"
    return render(
        request, "case.html", view=view, types=_archive(request).settings.document_types, chosen_type=typ,
        received_from=von, received_to=bis, after=nach,
        ocr_states={d.id: d.ocr_state or "pending" for d in view.documents},
        first_link=base + (f"?{urllib.parse.urlencode(filters)}" if filters else ""),
        next_link=base + "?" + urllib.parse.urlencode({**filters, "nach": view.next or ""}),
    )  # fmt: skip


def _iso_day(value: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise PageError(400, text("error.400.title")) from None


@router.get("/dokument/{document_id}", response_class=HTMLResponse)
def document_page(
    request: Request,
    document_id: str,
    seite: Annotated[int, Query(ge=1, le=100_000)] = 1,
    breite: Annotated[int, Query(ge=64, le=4000)] = 1200,
) -> Response:
    found = _signed_in(request)
    try:
        doc_id = api.parse_document_id(document_id)
        info, pages = api.document_text(_archive(request), _actor(request, found), doc_id)
    except (NotPermitted, NotFound, InvalidInput):
        return error_page(request, 404)
    try:  # the transfer note of a scanned document (none for one stored without)
        note = api.transfer_note(_archive(request), _actor(request, found), doc_id)
    except (NotPermitted, NotFound):
        note = None
    count = info.page_count or len(pages) or 1
    page = min(seite, count)
    this = next((p for p in pages if p.number == page), None)
    words = _words(found.search_words)
    return render(
        request, "document.html", info=info, page=page, pages=count, width=breite, zooms=_ZOOMS,
        postkorb_case=api.POSTKORB_CASE,
        link=lambda p, w: f"/dokument/{info.id}?" + urllib.parse.urlencode({"seite": p, "breite": w}),
        page_text=_highlighted(this.text, words) if this and this.text else None,
        page_state=this.state if this else "pending", words=words, size=_size(info.size_bytes), note=note,
        searchable_size=_size(info.searchable_pdf_bytes) if info.searchable_pdf_bytes else None,
    )  # fmt: skip


def _size(size: int) -> str:
    return f"{size / 1024:.0f} KB" if size < 1024 * 1024 else f"{size / 1024 / 1024:.1f} MB".replace(".", ",")


def _words(query: str | None) -> list[str]:
    if not query:
        return []
    phrases = re.findall(r'"([^"]+)"|(\S+)', query)
    return [p or w for p, w in phrases if len(p or w) >= 2][:20]


def _highlighted(page_text: str, words: list[str]) -> Markup:
    """The page's text, escaped, with the search's words and phrases marked (case-insensitively)."""
    if not words:
        return escape(page_text)
    pattern = re.compile("|".join(re.escape(w) for w in sorted(words, key=len, reverse=True)), re.IGNORECASE)
    out, last = [], 0
    for match in pattern.finditer(page_text):
        out.append(escape(page_text[last : match.start()]))
        out.append(Markup("<mark>") + escape(match.group(0)) + Markup("</mark>"))
        last = match.end()
    out.append(escape(page_text[last:]))
    return Markup("").join(out)


@router.get("/dokument/{document_id}/seite/{page}")
def page_image(
    request: Request,
    document_id: str,
    page: Annotated[int, Path(ge=1, le=100_000)],
    breite: Annotated[int, Query(ge=64, le=4000)] = 1200,
) -> Response:
    found = _signed_in(request)
    try:
        image = api.render_page(
            _archive(request), _actor(request, found), api.parse_document_id(document_id), page, breite
        )
    except (NotPermitted, NotFound, InvalidInput):
        return Response(status_code=404, headers={"Cache-Control": "no-store"})
    return Response(image.data, media_type=image.media_type, headers={"Cache-Control": "no-store"})


@router.get("/dokument/{document_id}/original")
def original(request: Request, document_id: str) -> Response:
    found = _signed_in(request)
    try:
        opened = api.open_original(
            _archive(request), _actor(request, found), api.parse_document_id(document_id),
            detail="original in the web app",
        )  # fmt: skip
    except (NotPermitted, NotFound, InvalidInput):
        return error_page(request, 404)
    return _download(opened)


@router.get("/dokument/{document_id}/durchsuchbar")
def searchable(request: Request, document_id: str) -> Response:
    found = _signed_in(request)
    try:
        opened = api.open_searchable(
            _archive(request), _actor(request, found), api.parse_document_id(document_id),
            detail="searchable PDF in the web app",
        )  # fmt: skip
    except (NotPermitted, NotFound, InvalidInput):
        return error_page(request, 404)
    return _download(opened)


def _download(opened: api.Original) -> Response:
    """A document's object (its original, or its searchable PDF) as a download, verified on the way."""
    obj = opened.obj

    def chunks() -> Iterator[bytes]:
        with opened:
            yield from opened

    fallback = "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else "_" for c in obj.filename)
    return StreamingResponse(
        chunks(), media_type=obj.media_type, background=BackgroundTask(opened.close),
        headers={
            "Content-Length": str(obj.size_bytes), "Cache-Control": "no-store", "ETag": f'"{obj.sha256}"',
            "Content-Disposition": f"attachment; filename=\"{fallback}\"; filename*=UTF-8''"
            + urllib.parse.quote(obj.filename, safe=""),
        },
    )  # fmt: skip


# Search -------------------------------------------------------------------------------------------------


@router.get("/suche", response_class=HTMLResponse)
def search_page(request: Request, akte: Annotated[str, Query(max_length=64)] = "") -> Response:
    _signed_in(request)
    return render(request, "search.html", query=None, case_number=akte or None, result=None)


@router.post("/suche", response_class=HTMLResponse)
def search(
    request: Request,
    q: Annotated[str, Form(max_length=1000)],
    csrf_token: Annotated[str, Form(max_length=100)] = "",
    akte: Annotated[str, Form(max_length=64)] = "",
    weiter: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """The query comes in the form's body (never in a URL, where proxies and the browser's history would
    keep it); its words are kept with the session to highlight them in the documents opened from here."""
    found = _signed_in(request)
    _check_csrf(found, csrf_token)
    try:
        result = api.search(
            _archive(request),
            _actor(request, found),
            q,
            case_number=akte or None,
            limit=20,
            after=weiter or None,
        )
    except NotPermitted:
        return error_page(request, 403)
    except InvalidInput as exc:
        return render(
            request, "search.html", status=422, query=q, case_number=akte, result=None, error=str(exc)
        )
    api.remember_search(_archive(request), request.cookies.get(cookie_name(request), ""), q)
    return render(request, "search.html", query=q, case_number=akte or None, result=result, snippet=_snippet)


def _snippet(raw: str) -> Markup:
    """A snippet with its matches marked: the search marks them with two private characters."""
    start, end = api.SNIPPET_START, api.SNIPPET_END
    parts = re.split(f"({re.escape(start)}|{re.escape(end)})", raw)
    out, inside = [], False
    for part in parts:
        if part == start:
            out.append(Markup("<mark>"))
            inside = True
        elif part == end:
            if inside:
                out.append(Markup("</mark>"))
            inside = False
        else:
            out.append(escape(part))
    if inside:
        out.append(Markup("</mark>"))
    return Markup("").join(out)


# Accessibility statement ----------------------------------------------------------------------------------


@router.get("/barrierefreiheit", response_class=HTMLResponse)
def accessibility(request: Request) -> Response:
    found = session(request)
    request.state.web_session = found
    return render(request, "accessibility.html", contact=request.app.state.settings.accessibility_contact)


# Caseworkers: new mail ------------------------------------------------------------------------------------


@router.get("/eingang", response_class=HTMLResponse)
def inbox_page(request: Request) -> Response:
    """The cases of the user's teams with documents no one of the team has opened yet."""
    found = _signed_in(request)
    try:
        cases = api.team_inbox(_archive(request), _actor(request, found))
    except NotPermitted:
        return error_page(request, 403)
    return render(request, "inbox.html", cases=cases)


# The Posteingangsstelle: the Postkorb -------------------------------------------------------------------


@router.get("/postkorb", response_class=HTMLResponse)
def postkorb_page(request: Request, nach: Annotated[str | None, Query(max_length=1000)] = None) -> Response:
    """What came without a case, oldest first, a page at a time (`nach`: the cursor of the page before),
    each with a form to assign it and one to send it back to the station (triage role)."""
    found = _signed_in(request)
    try:
        page = api.postkorb(_archive(request), _actor(request, found), limit=_POSTKORB_SHOWN, after=nach)
    except NotPermitted:
        return error_page(request, 403)
    except InvalidInput:
        return error_page(request, 400)
    types = _archive(request).settings.document_types
    return render(request, "postkorb.html", entries=page.items, next=page.next, types=types)


_POSTKORB_SHOWN = 100


@router.post("/postkorb/{document_id}/zuordnen")
def assign_from_postkorb(
    request: Request,
    document_id: str,
    csrf_token: Annotated[str, Form(max_length=100)],
    akte: Annotated[str, Form(max_length=64)],
    art: Annotated[str, Form(max_length=100)],
    titel: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    found = _signed_in(request)
    _check_csrf(found, csrf_token)
    try:
        api.assign_from_postkorb(
            _archive(request), _actor(request, found), api.parse_document_id(document_id), akte, art,
            title=titel or None,
        )  # fmt: skip
    except (NotPermitted, NotFound):
        return error_page(request, 404)
    except InvalidInput as exc:
        return error_page(request, 400, str(exc))
    return RedirectResponse("/postkorb", status_code=303)


@router.post("/postkorb/{document_id}/zurueck")
def return_to_station(
    request: Request,
    document_id: str,
    csrf_token: Annotated[str, Form(max_length=100)],
    grund: Annotated[str, Form(max_length=500)],
) -> Response:
    found = _signed_in(request)
    _check_csrf(found, csrf_token)
    try:
        api.return_to_station(
            _archive(request), _actor(request, found), api.parse_document_id(document_id), grund
        )
    except (NotPermitted, NotFound):
        return error_page(request, 404)
    except InvalidInput as exc:
        return error_page(request, 400, str(exc))
    return RedirectResponse("/postkorb", status_code=303)


# The scanning station: the second person's check ---------------------------------------------------------


@router.get("/scanpruefung", response_class=HTMLResponse)
def scan_batches_page(request: Request) -> Response:
    """The scanned batches, newest 200: whether each was checked, and whether its paper may go."""
    found = _signed_in(request)
    try:
        batches = api.paper_status(_archive(request), _actor(request, found))
    except NotPermitted:
        return error_page(request, 403)
    return render(request, "scans.html", batches=list(reversed(batches)))


@router.get("/scanpruefung/{batch_id}", response_class=HTMLResponse)
def scan_batch_page(request: Request, batch_id: str) -> Response:
    """A batch's protocol beside its sampled documents' transfer notes; to whoever may check it, the
    button that takes the check on, and to whoever has, the sample's pages and the form for the result."""
    found = _signed_in(request)
    who = _actor(request, found)
    try:
        batch = api.parse_batch_id(batch_id)
        protocol = api.scan_protocol(_archive(request), who, batch)
        sample = api.check_sample(_archive(request), who, batch)
    except (NotPermitted, NotFound, InvalidInput):
        return error_page(request, 404)
    notes = {n.document_id: n for n in protocol.documents}
    sampled = [notes[i] for i in sample.sample if i in notes]
    return render(request, "scan_batch.html", protocol=protocol, sampled=sampled, sample=sample)


@router.post("/scanpruefung/{batch_id}/beginnen")
def start_check(
    request: Request, batch_id: str, csrf_token: Annotated[str, Form(max_length=100)]
) -> Response:
    found = _signed_in(request)
    _check_csrf(found, csrf_token)
    try:
        batch = api.parse_batch_id(batch_id)
        api.start_check(_archive(request), _actor(request, found), batch)
    except (NotPermitted, NotFound):
        return error_page(request, 404)
    except InvalidInput as exc:
        return error_page(request, 400, str(exc))
    return RedirectResponse(f"/scanpruefung/{batch}", status_code=303)


@router.post("/scanpruefung/{batch_id}/pruefen")
def check_batch(
    request: Request,
    batch_id: str,
    csrf_token: Annotated[str, Form(max_length=100)],
    ergebnis: Annotated[str, Form(max_length=20)],
    vermerk: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    found = _signed_in(request)
    _check_csrf(found, csrf_token)
    if ergebnis not in ("bestanden", "mangelhaft"):
        return error_page(request, 400)
    try:
        batch = api.parse_batch_id(batch_id)
        api.check_batch(
            _archive(request), _actor(request, found), batch, passed=ergebnis == "bestanden",
            note=vermerk or None,
        )  # fmt: skip
    except (NotPermitted, NotFound):
        return error_page(request, 404)
    except (InvalidInput, ConfigError) as exc:
        return error_page(request, 400, str(exc))
    return RedirectResponse(f"/scanpruefung/{batch}", status_code=303)


# Auditors ------------------------------------------------------------------------------------------------


@router.get("/protokoll", response_class=HTMLResponse)
def audit_page(
    request: Request,
    akte: Annotated[str, Query(max_length=64)] = "",
    benutzer: Annotated[str, Query(max_length=100)] = "",
    seit: Annotated[str, Query(max_length=10)] = "",
    nach: Annotated[str | None, Query(max_length=1000)] = None,
) -> Response:
    """Who read a file, and what a user did since a day (auditors)."""
    found = _signed_in(request)
    entries, caption, next_link = None, "", None
    if akte or benutzer:
        try:
            page = api.audit_entries(
                _archive(request), _actor(request, found), case_number=akte or None, user=benutzer or None,
                since=_iso_day(seit), after=nach, limit=100,
            )  # fmt: skip
        except NotPermitted:
            return error_page(request, 403)
        except InvalidInput as exc:
            return error_page(request, 400, str(exc))
        entries = page.items
        caption = text("audit.case") if akte else text("audit.user")
        if page.next:
            filters = {k: v for k, v in {"akte": akte, "benutzer": benutzer, "seit": seit}.items() if v}
            next_link = "/protokoll?" + urllib.parse.urlencode({**filters, "nach": page.next})
    return render(
        request, "audit.html", entries=entries, caption=caption, next_link=next_link, case_number=akte,
        user_name=benutzer, since=seit,
    )  # fmt: skip


# Records managers ----------------------------------------------------------------------------------------

_PLAN_SHOWN = 200


@router.get("/aufbewahrung", response_class=HTMLResponse)
def retention_page(request: Request) -> Response:
    """What tonight's sweep would delete and why, and the holds, with adding and releasing (records
    managers)."""
    found = _signed_in(request)
    actor = _actor(request, found)
    try:
        plan: list[Any] = []
        count = 0
        for item in api.plan(_archive(request), actor):
            count += 1
            if len(plan) < _PLAN_SHOWN:
                plan.append(item)
        holds = api.list_holds(_archive(request), actor, limit=1000).items
    except NotPermitted:
        return error_page(request, 403)
    return render(request, "retention.html", plan=plan, plan_count=count, holds=holds)


@router.post("/aufbewahrung/sperren")
def add_hold(
    request: Request,
    csrf_token: Annotated[str, Form(max_length=100)],
    akte: Annotated[str, Form(max_length=64)],
    grund: Annotated[str, Form(max_length=500)],
    bis: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    found = _signed_in(request)
    _check_csrf(found, csrf_token)
    try:
        api.add_hold(
            _archive(request), _actor(request, found), reason=grund, case_number=akte, until=_iso_day(bis)
        )
    except NotPermitted:
        return error_page(request, 403)
    except InvalidInput as exc:
        return error_page(request, 400, str(exc))
    return RedirectResponse("/aufbewahrung", status_code=303)


@router.post("/aufbewahrung/sperren/{hold_id}/aufheben")
def release_hold(
    request: Request,
    hold_id: Annotated[int, Path(ge=1, le=2**62)],
    csrf_token: Annotated[str, Form(max_length=100)],
) -> Response:
    found = _signed_in(request)
    _check_csrf(found, csrf_token)
    try:
        api.release_hold(_archive(request), _actor(request, found), hold_id)
    except (NotPermitted, NotFound):
        return error_page(request, 404)
    except InvalidInput as exc:
        return error_page(request, 400, str(exc))
    return RedirectResponse("/aufbewahrung", status_code=303)
