"""The archive's use cases: all that the CLI, the HTTP service and the web pages may call, and nothing else.

Each use case takes the acting user (`Actor`) explicitly, is decided under one access action (the
`action` below; `None` for setting an archive up, which whoever holds the database's credentials may
do) and leaves exactly one audit entry per call, a refusal included (tests/integration/
test_use_case_matrix.py walks this list for every role). Beside them: the values and parsers the
callers need to call them.

Names load on first use: importing this module imports none of them, so a command pays only for
the modules of what it calls (PEP 562). Type checkers see the real imports below.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ekakte.access import Action

if TYPE_CHECKING:
    from ekakte.access import Decision
    from ekakte.actor import Actor
    from ekakte.archive import Archive
    from ekakte.audit import AuditRecord
    from ekakte.config import Settings, load_settings
    from ekakte.dates import parse_day
    from ekakte.db.grants import grant as grant_database_role
    from ekakte.db.models import POSTKORB_CASE
    from ekakte.documents import (
        CaseInfo,
        CaseView,
        DocumentInfo,
        Original,
        PageState,
        PageText,
        case_documents,
        document_pages,
        document_text,
        export_original,
        export_searchable,
        get_document,
        open_original,
        open_searchable,
        parse_document_id,
        write_export,
    )
    from ekakte.hotfolder import import_directory
    from ekakte.inbox import InboxCase, team_inbox
    from ekakte.ingest import (
        BatchReport,
        DocumentMeta,
        ImportResult,
        Scan,
        import_document,
        import_files,
        parse_date,
    )
    from ekakte.integrity import gc, verify
    from ekakte.mailroom.coversheet import cover_sheets
    from ekakte.mailroom.postkorb import (
        Assignment,
        PostkorbEntry,
        Sorted,
        assign_from_postkorb,
        postkorb,
        sort_postkorb_document,
    )
    from ekakte.mailroom.refcode import reference_code
    from ekakte.mailroom.returns import Returned, return_to_station, returned_documents, take_back
    from ekakte.mailroom.stacks import StackReport, import_stack, import_stacks
    from ekakte.ocr.worker import OcrReport, check_ready, retry_failed, run_ocr
    from ekakte.page_images import PageImage, export_page, render_page
    from ekakte.paging import MAX_LIMIT, Page
    from ekakte.policy import PolicyChange, list_types, restrict_type, unrestrict_type
    from ekakte.principals import (
        UserInfo,
        add_team,
        add_user,
        assign_case,
        disable_user,
        grant,
        list_teams,
        list_users,
        revoke,
        set_password,
    )
    from ekakte.retention.disposal import HandOverReport, OfferReport, ProcessStatus, ReceiveReport
    from ekakte.retention.disposal import hand_over as hand_over_to_archive
    from ekakte.retention.disposal import offer as offer_to_archive
    from ekakte.retention.disposal import receive as receive_from_archive
    from ekakte.retention.disposal import status as archive_status
    from ekakte.retention.holds import HoldInfo, add_hold, list_holds, release_hold
    from ekakte.retention.protocol import protocol
    from ekakte.retention.schedule import close_case, load_rules, reopen_case, show_rules
    from ekakte.retention.sweep import PlanItem, plan, sweep
    from ekakte.retention.worm import LockOutcome
    from ekakte.roles import Role
    from ekakte.scanning.checks import (
        CheckResult,
        Sample,
        check_batch,
        check_sample,
        close_stopped_batch,
        start_check,
    )
    from ekakte.scanning.paper import PaperStatus, paper_status
    from ekakte.scanning.protocol import (
        ScanProtocol,
        TransferNote,
        parse_batch_id,
        scan_protocol,
        transfer_note,
    )
    from ekakte.scanning.seals import public_key as seal_public_key
    from ekakte.scanning.seals import public_key_pem as seal_public_key_pem
    from ekakte.search import MAX_LIMIT as MAX_SEARCH_RESULTS
    from ekakte.search import RANK_WINDOW, SNIPPET_END, SNIPPET_START, SearchHit, SearchResult, search
    from ekakte.sessions import (
        LoginFlowStart,
        LoginFlowState,
        SessionInfo,
        SignedIn,
        begin_provider_sign_in,
        finish_provider_sign_in,
        is_local_path,
        remember_search,
        session_of,
        sign_in_with_password,
        sign_in_with_provider,
        sign_out,
    )
    from ekakte.setup import database_status, initialize, unreachable, upgrade_database
    from ekakte.trail import anchor_audit_trail, audit_entries, verify_audit_trail
    from ekakte.xdomea import MAX_MESSAGE_BYTES


@dataclass(frozen=True)
class UseCase:
    name: str
    module: str
    action: Action | None  # None: setting up, decided by who holds the database's credentials
    attribute: str = ""  # the function's name in `module`, when it differs from `name`

    @property
    def function(self) -> Any:
        return getattr(importlib.import_module(self.module), self.attribute or self.name)


USE_CASES: tuple[UseCase, ...] = (
    # Import (scanning stations, the mail room)
    UseCase("import_document", "ekakte.ingest", Action.IMPORT),
    UseCase("import_files", "ekakte.ingest", Action.IMPORT),
    UseCase("import_directory", "ekakte.hotfolder", Action.IMPORT),
    UseCase("import_stack", "ekakte.mailroom.stacks", Action.IMPORT),
    UseCase("import_stacks", "ekakte.mailroom.stacks", Action.IMPORT),
    # The Postkorb (the triage role: documents that came without a case)
    UseCase("postkorb", "ekakte.mailroom.postkorb", Action.POSTKORB),
    UseCase("assign_from_postkorb", "ekakte.mailroom.postkorb", Action.POSTKORB),
    UseCase("sort_postkorb_document", "ekakte.mailroom.postkorb", Action.POSTKORB),
    UseCase("return_to_station", "ekakte.mailroom.returns", Action.POSTKORB),
    UseCase("returned_documents", "ekakte.mailroom.returns", Action.RETURNS),
    UseCase("take_back", "ekakte.mailroom.returns", Action.RETURNS),
    # Replacement scanning (TR-RESISCAN): the scan protocol, transfer notes, the second person's check
    UseCase("scan_protocol", "ekakte.scanning.protocol", Action.SCAN_PROTOCOL),
    UseCase("transfer_note", "ekakte.scanning.protocol", Action.DOC_SHOW),
    UseCase("check_sample", "ekakte.scanning.checks", Action.SCAN_PROTOCOL),
    UseCase("start_check", "ekakte.scanning.checks", Action.SCAN_CHECK),
    UseCase("check_batch", "ekakte.scanning.checks", Action.SCAN_CHECK),
    UseCase("paper_status", "ekakte.scanning.paper", Action.SCAN_PROTOCOL),
    UseCase("close_stopped_batch", "ekakte.scanning.checks", Action.IMPORT),
    # Reading (caseworkers; records managers see metadata)
    UseCase("case_documents", "ekakte.documents", Action.CASE_SHOW),
    UseCase("get_document", "ekakte.documents", Action.DOC_SHOW),
    UseCase("document_pages", "ekakte.documents", Action.DOC_SHOW),
    UseCase("document_text", "ekakte.documents", Action.DOC_TEXT),
    UseCase("export_original", "ekakte.documents", Action.DOC_GET),
    UseCase("open_original", "ekakte.documents", Action.DOC_GET),
    UseCase("export_searchable", "ekakte.documents", Action.DOC_GET),
    UseCase("open_searchable", "ekakte.documents", Action.DOC_GET),
    UseCase("render_page", "ekakte.page_images", Action.DOC_GET),
    UseCase("export_page", "ekakte.page_images", Action.DOC_GET),
    UseCase("search", "ekakte.search", Action.SEARCH),
    UseCase("team_inbox", "ekakte.inbox", Action.INBOX),
    # OCR
    UseCase("run_ocr", "ekakte.ocr.worker", Action.OCR_WORK),
    UseCase("retry_failed", "ekakte.ocr.worker", Action.OCR_RETRY),
    # Users, teams, cases
    UseCase("add_team", "ekakte.principals", Action.USER_MANAGE),
    UseCase("list_teams", "ekakte.principals", Action.USER_MANAGE),
    UseCase("add_user", "ekakte.principals", Action.USER_MANAGE),
    UseCase("grant", "ekakte.principals", Action.USER_MANAGE),
    UseCase("revoke", "ekakte.principals", Action.USER_MANAGE),
    UseCase("disable_user", "ekakte.principals", Action.USER_MANAGE),
    UseCase("list_users", "ekakte.principals", Action.USER_MANAGE),
    UseCase("set_password", "ekakte.principals", Action.USER_MANAGE),
    UseCase("assign_case", "ekakte.principals", Action.CASE_ASSIGN),
    UseCase("close_case", "ekakte.retention.schedule", Action.CASE_CLOSE),
    UseCase("reopen_case", "ekakte.retention.schedule", Action.CASE_CLOSE),
    # Retention (records managers)
    UseCase("load_rules", "ekakte.retention.schedule", Action.RETENTION),
    UseCase("show_rules", "ekakte.retention.schedule", Action.RETENTION),
    UseCase("plan", "ekakte.retention.sweep", Action.RETENTION),
    UseCase("sweep", "ekakte.retention.sweep", Action.RETENTION),
    UseCase("protocol", "ekakte.retention.protocol", Action.PROTOCOL_READ),
    UseCase("add_hold", "ekakte.retention.holds", Action.RETENTION),
    UseCase("release_hold", "ekakte.retention.holds", Action.RETENTION),
    UseCase("list_holds", "ekakte.retention.holds", Action.RETENTION),
    # The Aussonderung (xdomea)
    UseCase("offer_to_archive", "ekakte.retention.disposal", Action.ARCHIVE, "offer"),
    UseCase("receive_from_archive", "ekakte.retention.disposal", Action.ARCHIVE, "receive"),
    UseCase("hand_over_to_archive", "ekakte.retention.disposal", Action.ARCHIVE_HAND_OVER, "hand_over"),
    UseCase("archive_status", "ekakte.retention.disposal", Action.ARCHIVE, "status"),
    # Integrity and audit
    UseCase("verify", "ekakte.integrity", Action.INTEGRITY),
    UseCase("gc", "ekakte.integrity", Action.INTEGRITY),
    UseCase("audit_entries", "ekakte.trail", Action.AUDIT_READ),
    UseCase("verify_audit_trail", "ekakte.trail", Action.AUDIT_READ),
    UseCase("anchor_audit_trail", "ekakte.trail", Action.AUDIT_ANCHOR),
    # The restricted types
    UseCase("list_types", "ekakte.policy", Action.TYPE_LIST),
    UseCase("restrict_type", "ekakte.policy", Action.TYPE_POLICY),
    UseCase("unrestrict_type", "ekakte.policy", Action.TYPE_POLICY),
    # Signing in to the service: decided by the password or the identity provider, not by a role;
    # audited as auth.sign-in / auth.sign-out
    UseCase("sign_in_with_password", "ekakte.sessions", None),
    UseCase("sign_in_with_provider", "ekakte.sessions", None),
    UseCase("begin_provider_sign_in", "ekakte.sessions", None),
    UseCase("finish_provider_sign_in", "ekakte.sessions", None),
    UseCase("session_of", "ekakte.sessions", None),
    UseCase("remember_search", "ekakte.sessions", None),
    UseCase("sign_out", "ekakte.sessions", None),
    # Setting up
    UseCase("initialize", "ekakte.setup", None),
    UseCase("upgrade_database", "ekakte.setup", None),
    UseCase("database_status", "ekakte.setup", None),
    UseCase("grant_database_role", "ekakte.db.grants", None, attribute="grant"),
)

# What callers need beside the use cases: the handle and the acting user, values, parsers, result types
# ("module:attribute" where the name here differs).
_SUPPORT = {
    "Action": "ekakte.access",
    "Decision": "ekakte.access",
    "Actor": "ekakte.actor",
    "Archive": "ekakte.archive",
    "AuditRecord": "ekakte.audit",
    "Settings": "ekakte.config",
    "load_settings": "ekakte.config",
    "parse_day": "ekakte.dates",
    "parse_document_id": "ekakte.documents",
    "write_export": "ekakte.documents",
    "CaseView": "ekakte.documents",
    "Original": "ekakte.documents",
    "PageState": "ekakte.documents",
    "PageText": "ekakte.documents",
    "DocumentInfo": "ekakte.documents",
    "CaseInfo": "ekakte.documents",
    "HoldInfo": "ekakte.retention.holds",
    "PlanItem": "ekakte.retention.sweep",
    "OfferReport": "ekakte.retention.disposal",
    "ReceiveReport": "ekakte.retention.disposal",
    "HandOverReport": "ekakte.retention.disposal",
    "ProcessStatus": "ekakte.retention.disposal",
    "MAX_MESSAGE_BYTES": "ekakte.xdomea",
    "SearchHit": "ekakte.search",
    "SNIPPET_START": "ekakte.search",
    "SNIPPET_END": "ekakte.search",
    "PageImage": "ekakte.page_images",
    "DocumentMeta": "ekakte.ingest",
    "ImportResult": "ekakte.ingest",
    "Scan": "ekakte.ingest",
    "BatchReport": "ekakte.ingest",
    "StackReport": "ekakte.mailroom.stacks",
    "InboxCase": "ekakte.inbox",
    "PostkorbEntry": "ekakte.mailroom.postkorb",
    "Assignment": "ekakte.mailroom.postkorb",
    "Sorted": "ekakte.mailroom.postkorb",
    "Returned": "ekakte.mailroom.returns",
    "ScanProtocol": "ekakte.scanning.protocol",
    "TransferNote": "ekakte.scanning.protocol",
    "parse_batch_id": "ekakte.scanning.protocol",
    "CheckResult": "ekakte.scanning.checks",
    "PaperStatus": "ekakte.scanning.paper",
    "Sample": "ekakte.scanning.checks",
    "POSTKORB_CASE": "ekakte.db.models",
    "cover_sheets": "ekakte.mailroom.coversheet",
    "reference_code": "ekakte.mailroom.refcode",
    "seal_public_key": "ekakte.scanning.seals:public_key",
    "seal_public_key_pem": "ekakte.scanning.seals:public_key_pem",
    "parse_date": "ekakte.ingest",
    "OcrReport": "ekakte.ocr.worker",
    "check_ready": "ekakte.ocr.worker",
    "MAX_LIMIT": "ekakte.paging",
    "Page": "ekakte.paging",
    "PolicyChange": "ekakte.policy",
    "UserInfo": "ekakte.principals",
    "LockOutcome": "ekakte.retention.worm",
    "Role": "ekakte.roles",
    "RANK_WINDOW": "ekakte.search",
    "MAX_SEARCH_RESULTS": "ekakte.search:MAX_LIMIT",
    "SearchResult": "ekakte.search",
    "unreachable": "ekakte.setup",
    "SignedIn": "ekakte.sessions",
    "SessionInfo": "ekakte.sessions",
    "LoginFlowStart": "ekakte.sessions",
    "LoginFlowState": "ekakte.sessions",
    "is_local_path": "ekakte.sessions",
}
_BY_NAME = {u.name: u for u in USE_CASES}

__all__ = [
    "MAX_LIMIT",
    "MAX_MESSAGE_BYTES",
    "MAX_SEARCH_RESULTS",
    "POSTKORB_CASE",
    "RANK_WINDOW",
    "SNIPPET_END",
    "SNIPPET_START",
    "USE_CASES",
    "Action",
    "Actor",
    "Archive",
    "Assignment",
    "AuditRecord",
    "BatchReport",
    "CaseInfo",
    "CaseView",
    "CheckResult",
    "Decision",
    "DocumentInfo",
    "DocumentMeta",
    "HandOverReport",
    "HoldInfo",
    "ImportResult",
    "InboxCase",
    "LockOutcome",
    "LoginFlowStart",
    "LoginFlowState",
    "OcrReport",
    "OfferReport",
    "Original",
    "Page",
    "PageImage",
    "PageState",
    "PageText",
    "PaperStatus",
    "PlanItem",
    "PolicyChange",
    "PostkorbEntry",
    "ProcessStatus",
    "ReceiveReport",
    "Returned",
    "Role",
    "Sample",
    "Scan",
    "ScanProtocol",
    "SearchHit",
    "SearchResult",
    "SessionInfo",
    "Settings",
    "SignedIn",
    "Sorted",
    "StackReport",
    "TransferNote",
    "UseCase",
    "UserInfo",
    "add_hold",
    "add_team",
    "add_user",
    "anchor_audit_trail",
    "archive_status",
    "assign_case",
    "assign_from_postkorb",
    "audit_entries",
    "begin_provider_sign_in",
    "case_documents",
    "check_batch",
    "check_ready",
    "check_sample",
    "close_case",
    "close_stopped_batch",
    "cover_sheets",
    "database_status",
    "disable_user",
    "document_pages",
    "document_text",
    "export_original",
    "export_page",
    "export_searchable",
    "finish_provider_sign_in",
    "gc",
    "get_document",
    "grant",
    "grant_database_role",
    "hand_over_to_archive",
    "import_directory",
    "import_document",
    "import_files",
    "import_stack",
    "import_stacks",
    "initialize",
    "is_local_path",
    "list_holds",
    "list_teams",
    "list_types",
    "list_users",
    "load_rules",
    "load_settings",
    "offer_to_archive",
    "open_original",
    "open_searchable",
    "paper_status",
    "parse_batch_id",
    "parse_date",
    "parse_day",
    "parse_document_id",
    "plan",
    "postkorb",
    "protocol",
    "receive_from_archive",
    "reference_code",
    "release_hold",
    "remember_search",
    "render_page",
    "reopen_case",
    "restrict_type",
    "retry_failed",
    "return_to_station",
    "returned_documents",
    "revoke",
    "run_ocr",
    "scan_protocol",
    "seal_public_key",
    "seal_public_key_pem",
    "search",
    "session_of",
    "set_password",
    "show_rules",
    "sign_in_with_password",
    "sign_in_with_provider",
    "sign_out",
    "sort_postkorb_document",
    "start_check",
    "sweep",
    "take_back",
    "team_inbox",
    "transfer_note",
    "unreachable",
    "unrestrict_type",
    "upgrade_database",
    "verify",
    "verify_audit_trail",
    "write_export",
]


def __getattr__(name: str) -> Any:
    if name in _BY_NAME:
        value = _BY_NAME[name].function
    elif name in _SUPPORT:
        module, _, attribute = _SUPPORT[name].partition(":")
        value = getattr(importlib.import_module(module), attribute or name)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value  # found once, then an ordinary attribute
    return value
