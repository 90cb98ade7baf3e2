"""Whether a document is restricted (health data) is archive state, on both stacks: no caller's settings
change it, every read path asks the same flag, and only an admin's audited `type restrict` changes it."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from ekakte.actor import Actor
from ekakte.archive import Archive
from ekakte.config import load_settings
from ekakte.db.models import AuditEntry, OcrState, Page
from ekakte.documents import case_documents, export_original, get_document
from ekakte.errors import ConfigError, ExitCode, NotPermitted
from ekakte.ingest import DocumentMeta, import_document
from ekakte.principals import add_user, grant, revoke
from ekakte.search import search
from tests.conftest import ADMIN, CASE, OPERATOR, READER, TEAM, ekakte_process

MakeScan = Callable[..., Path]
PLAIN = Actor("plain-caseworker")  # caseworker of TEAM without the health clearance
ME = Actor.from_os()  # whom the CLI acts as in the subprocess tests
HEALTH_TITLE = "Gutachten Dr. X: Depression"
HEALTH_FILE = "gutachten-dr-x-depression.pdf"


def stored(
    archive: Archive, scan: Path, doc_type: str, text: str, title: str | None = None, case: str = CASE
) -> uuid.UUID:
    """Import a scan and give its first page `text`, as an OCR worker would record it."""
    meta = DocumentMeta(case, doc_type, date(2026, 2, 1), title)
    document_id = import_document(archive, OPERATOR, scan, meta).document_id
    with archive.transaction() as session:
        session.execute(
            update(Page)
            .where(Page.document_id == document_id, Page.number == 1)
            .values(text=text, ocr_state=OcrState.DONE)
        )
    return document_id


@pytest.fixture
def health_doc(archive: Archive, make_scan: MakeScan) -> dict[str, uuid.UUID]:
    """An Antrag and a Gutachten in CASE (TEAM), both with the word "Befund"; PLAIN is of TEAM."""
    add_user(archive, ADMIN, PLAIN.name, ["caseworker"], [TEAM])
    antrag = stored(archive, make_scan(seed=1), "Antrag", "Antrag mit Befund vom Hausarzt")
    gutachten = stored(
        archive,
        make_scan(HEALTH_FILE, seed=2),
        "Gutachten",
        "Ärztlicher Befund: mittelgradige depressive Episode",
        HEALTH_TITLE,
    )
    return {"antrag": antrag, "gutachten": gutachten}


def visible_to(archive: Archive, who: Actor, query: str = "Befund") -> dict[str, list[str]]:
    """The document types `who` sees in CASE's listing and in a search."""
    return {
        "case": sorted(d.document_type for d in case_documents(archive, who, CASE).documents),
        "search": sorted(h.document_type for h in search(archive, who, query).hits),
    }


def run(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    process = ekakte_process(env, *args)
    out, err = process.communicate(timeout=120)
    return process.returncode, out, err


@pytest.mark.parametrize("override", ["EKAKTE_RESTRICTED_TYPES", "EKAKTE_DOCUMENT_TYPES", "EKAKTE_CONFIG"])
def test_a_callers_environment_does_not_make_health_documents_visible(
    stack_env: dict[str, str],
    archive: Archive,
    health_doc: dict[str, uuid.UUID],
    tmp_path: Path,
    override: str,
) -> None:
    """A caseworker without the clearance, running the CLI with settings of their own that leave out
    Gutachten, still gets no Gutachten from case show, doc show, doc get or search."""
    add_user(archive, ADMIN, ME.name, ["caseworker"], [TEAM])
    own_config = tmp_path / "mine.toml"
    own_config.write_text('restricted_types = []\ndocument_types = ["Antrag"]\n')
    value = {"EKAKTE_RESTRICTED_TYPES": ",", "EKAKTE_DOCUMENT_TYPES": "Antrag,Bescheid"}
    env = {**stack_env, override: value.get(override, str(own_config))}
    gutachten = str(health_doc["gutachten"])

    code, out, _ = run(env, "case", "show", CASE, "--json")
    assert code == 0 and [d["document_type"] for d in json.loads(out)["documents"]] == ["Antrag"]
    assert "Depression" not in out and gutachten not in out
    code, out, err = run(env, "doc", "show", gutachten, "--json")
    assert (code, out) == (ExitCode.NOT_PERMITTED, "")
    assert err.splitlines()[-1] == f"ekakte: not permitted: document {gutachten}"
    target = tmp_path / "copy.pdf"
    code, _, _ = run(env, "doc", "get", gutachten, "-o", str(target))
    assert code == ExitCode.NOT_PERMITTED and not target.exists()
    code, out, _ = run(env, "search", "Befund", "--json")
    assert code == 0 and [r["document_type"] for r in json.loads(out)["results"]] == ["Antrag"]
    assert "depressive" not in out
    with archive.reading() as session:
        entries = session.execute(
            select(AuditEntry.action, AuditEntry.outcome, AuditEntry.reason)
            .where(AuditEntry.actor == ME.name, AuditEntry.document_id == gutachten)
            .order_by(AuditEntry.id)
        ).all()
    assert [(a, o) for a, o, _r in entries] == [("doc.show", "denied"), ("doc.get", "denied")]
    assert all("health clearance" in str(r) for _a, _o, r in entries)


def test_a_type_configured_in_lower_case_is_restricted_on_every_path(
    stack_env: dict[str, str], archive: Archive, health_doc: dict[str, uuid.UUID], make_scan: MakeScan
) -> None:
    """`gutachten` configured in lower case is stored in lower case; the policy folds the name once, at
    import, so the search (SQL) hides it exactly as the listing does, before and after the configuration
    is corrected."""
    lower = load_settings({**stack_env, "EKAKTE_DOCUMENT_TYPES": "Antrag,gutachten"})
    with Archive.open(lower) as archive_lower:
        stored(archive_lower, make_scan(seed=3), "GUTACHTEN", "Befund der Amtsärztin", "Gutachten Amtsarzt")
        assert visible_to(archive_lower, PLAIN) == {"case": ["Antrag"], "search": ["Antrag"]}
    # Corrected configuration (the default types): the stored spelling stays lower case, still hidden.
    assert visible_to(archive, PLAIN) == {"case": ["Antrag"], "search": ["Antrag"]}
    cleared = visible_to(archive, READER)
    assert cleared == {"case": ["Antrag", "Gutachten", "gutachten"], "search": cleared["case"]}


def test_removing_gutachten_from_document_types_leaves_stored_gutachten_restricted(
    stack_env: dict[str, str], health_doc: dict[str, uuid.UUID], tmp_path: Path
) -> None:
    settings = load_settings({**stack_env, "EKAKTE_DOCUMENT_TYPES": "Antrag,Bescheid"})
    with Archive.open(settings) as archive:
        assert visible_to(archive, PLAIN) == {"case": ["Antrag"], "search": ["Antrag"]}
        for read in (get_document, lambda *a: export_original(*a, tmp_path / "out.pdf")):
            with pytest.raises(NotPermitted):
                read(archive, PLAIN, health_doc["gutachten"])
        assert get_document(archive, READER, health_doc["gutachten"]).title == HEALTH_TITLE


def last_entry(archive: Archive) -> AuditEntry:
    with archive.reading() as session:
        entry = session.scalar(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(1))
    assert entry is not None
    return entry


def test_type_restrict_and_unrestrict_re_mark_stored_documents_and_are_audited(
    archive: Archive, health_doc: dict[str, uuid.UUID], make_scan: MakeScan
) -> None:
    from ekakte.policy import list_types, restrict_type, unrestrict_type

    konto = stored(archive, make_scan(seed=4), "Kontoauszug", "Kontoauszug mit Befund der Krankenkasse")
    assert visible_to(archive, PLAIN)["search"] == ["Antrag", "Kontoauszug"]

    change = restrict_type(archive, ADMIN, " KONTOAUSZUG ")
    assert (change.document_type, change.restricted, change.changed, change.documents) == (
        "kontoauszug", True, True, 1,
    )  # fmt: skip
    entry = last_entry(archive)
    assert (entry.actor, entry.action, entry.outcome) == (ADMIN.name, "type.policy", "allowed")
    assert entry.reason is not None and "restrict type kontoauszug: 1 stored document(s)" in entry.reason
    assert visible_to(archive, PLAIN) == {"case": ["Antrag"], "search": ["Antrag"]}
    with pytest.raises(NotPermitted):
        get_document(archive, PLAIN, konto)
    later = stored(archive, make_scan(seed=5), "Kontoauszug", "Befund im Verwendungszweck")
    assert get_document(archive, READER, later).restricted
    assert {(t.document_type, t.documents) for t in list_types(archive, ADMIN)} == {
        ("gutachten", 1),
        ("kontoauszug", 2),
    }

    # Refused for everyone but admins, audited, and nothing changes.
    add_user(archive, ADMIN, "records", ["records_manager"], health_clearance=True)
    for who in (READER, Actor("records"), OPERATOR):
        with pytest.raises(NotPermitted, match="not permitted: type unrestrict"):
            unrestrict_type(archive, who, "Kontoauszug")
        entry = last_entry(archive)
        assert (entry.actor, entry.action, entry.outcome) == (who.name, "type.policy", "denied")
    assert visible_to(archive, PLAIN)["search"] == ["Antrag"]

    change = unrestrict_type(archive, ADMIN, "kontoauszug")
    assert (change.restricted, change.documents) == (False, 2)
    assert visible_to(archive, PLAIN)["search"] == ["Antrag", "Kontoauszug", "Kontoauszug"]
    assert unrestrict_type(archive, ADMIN, "Gutachten").documents == 1
    assert "Gutachten" in visible_to(archive, PLAIN)["case"]


def test_type_commands_from_the_command_line(stack_env: dict[str, str], archive: Archive) -> None:
    add_user(archive, ADMIN, ME.name, ["admin"])
    code, out, _ = run(stack_env, "type", "restrict", "Arztbrief", "--json")
    assert code == 0 and json.loads(out)["configured"] is False
    code, out, _ = run(stack_env, "type", "list")
    assert code == 0 and "arztbrief" in out and "gutachten" in out
    revoke(archive, ADMIN, ME.name, ["admin"])
    grant(archive, ADMIN, ME.name, ["records_manager"])
    code, _, err = run(stack_env, "type", "unrestrict", "Arztbrief")
    assert (code, err) == (ExitCode.NOT_PERMITTED, "ekakte: not permitted: type unrestrict\n")
    code, out, _ = run(stack_env, "type", "list", "--json")  # records managers may look
    assert code == 0 and [t["document_type"] for t in json.loads(out)] == ["arztbrief", "gutachten"]


def test_a_records_manager_without_the_clearance_sees_no_title_or_file_name_of_a_restricted_document(
    stack_env: dict[str, str], archive: Archive, health_doc: dict[str, uuid.UUID]
) -> None:
    add_user(archive, ADMIN, ME.name, ["records_manager"])
    gutachten = health_doc["gutachten"]
    listed = {d.document_type: d for d in case_documents(archive, ME, CASE).documents}
    shown = get_document(archive, ME, gutachten)
    for doc in (listed["Gutachten"], shown):
        assert (doc.title, doc.original_filename) == (None, None)
        assert doc.restricted and doc.withheld
        assert doc.received_on == date(2026, 2, 1) and doc.document_type == "Gutachten"
    assert listed["Antrag"].original_filename is not None and not listed["Antrag"].withheld
    assert "withheld" in str(last_entry(archive).reason)

    outputs = [
        run(stack_env, "case", "show", CASE),
        run(stack_env, "case", "show", CASE, "--json"),
        run(stack_env, "doc", "show", str(gutachten)),
        run(stack_env, "doc", "show", str(gutachten), "--json"),
    ]
    for code, out, _err in outputs:
        assert code == 0 and str(gutachten) in out and "Gutachten" in out
        assert "Depression" not in out and HEALTH_FILE not in out
    assert "(restricted: withheld)" in outputs[0][1]
    assert json.loads(outputs[3][1])["title"] is None

    add_user(archive, ADMIN, "records-health", ["records_manager"], health_clearance=True)
    seen = get_document(archive, Actor("records-health"), gutachten)
    assert (seen.title, seen.original_filename, seen.withheld) == (HEALTH_TITLE, HEALTH_FILE, False)


# --- which program reads the pages ------------------------------------------------------------------


@pytest.fixture
def wrapper(tmp_path: Path) -> Path:
    """A tesseract in a folder of its own: answers like the real one (it may copy the pages meanwhile)."""
    folder = tmp_path / "bin"
    folder.mkdir(mode=0o755)
    os.chmod(folder, 0o755)
    program = folder / "tesseract"
    program.write_text('#!/bin/sh\nexec /usr/bin/tesseract "$@"\n')
    os.chmod(program, 0o755)
    return program


def ready(program: Path | str, tmp_path: Path) -> Any:
    from ekakte.ocr.worker import check_ready

    settings = replace(load_settings({"EKAKTE_HOME": str(tmp_path / "home")}), tesseract=str(program))
    return check_ready(settings)


def test_a_tesseract_that_someone_else_could_change_is_refused(wrapper: Path, tmp_path: Path) -> None:
    if not Path("/usr/bin/tesseract").exists():
        pytest.skip("tesseract is not installed")
    if os.geteuid() != 0:
        pytest.skip("making a file another user's needs root")
    ready(wrapper, tmp_path)  # root's, writable by root only: accepted

    refusals = [
        (lambda: os.chmod(wrapper, 0o775), "writable by group or others"),
        (lambda: os.chmod(wrapper, 0o757), "writable by group or others"),
        (lambda: os.chown(wrapper, 65534, -1), "belongs to uid 65534"),
        (lambda: os.chmod(wrapper.parent, 0o777), f"{wrapper.parent} is writable by group or others"),
        (lambda: os.chown(wrapper.parent, 65534, -1), f"{wrapper.parent} belongs to uid 65534"),
    ]
    for make_untrusted, reason in refusals:
        make_untrusted()
        with pytest.raises(ConfigError) as refused:
            ready(wrapper, tmp_path)
        message = str(refused.value)
        assert reason in message and "\n" not in message
        os.chmod(wrapper, 0o755)
        os.chmod(wrapper.parent, 0o755)
        os.chown(wrapper, 0, -1)
        os.chown(wrapper.parent, 0, -1)

    # A link from a trusted place to an untrusted program: what runs is what it points to.
    os.chown(wrapper, 65534, -1)
    safe = tmp_path / "safe"
    safe.mkdir(mode=0o755)
    (safe / "tesseract").symlink_to(wrapper)
    with pytest.raises(ConfigError, match="belongs to uid 65534"):
        ready(safe / "tesseract", tmp_path)


def test_a_tesseract_named_without_a_path_is_not_looked_up_on_the_callers_path(
    wrapper: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ekakte.ocr import engine

    if not Path("/usr/bin/tesseract").exists():
        pytest.skip("tesseract is not installed")
    monkeypatch.setenv("PATH", f"{wrapper.parent}:{os.environ.get('PATH', '')}")
    assert engine.trusted_program("tesseract") in ("/usr/bin/tesseract", "/usr/local/bin/tesseract")
    with pytest.raises(ConfigError, match="absolute path"):
        engine.trusted_program("bin/tesseract")
