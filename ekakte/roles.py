"""The roles a principal can hold (see docs/security.md). No imports: the CLI reads it at start-up."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    SCAN_OPERATOR = "scan_operator"
    TRIAGE = "triage"  # the Posteingangsstelle: the Postkorb's documents, nothing else of the archive
    CASEWORKER = "caseworker"
    TEAM_LEAD = "team_lead"
    RECORDS_MANAGER = "records_manager"
    AUDITOR = "auditor"
    ADMIN = "admin"
    SERVICE = "service"
