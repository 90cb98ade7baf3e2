"""What the CLI prints for a terminal: stored and supplied text can hold anything, the terminal gets none
of it raw (no escape sequence, C1 control, bidi override or line break of its own); --json stays exact."""

from __future__ import annotations

import json
import unicodedata
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import update

from ekakte.actor import Actor
from ekakte.archive import Archive
from ekakte.config import load_settings
from ekakte.db.models import Document, LegalHold, Page, Principal, Team
from ekakte.errors import ExitCode
from ekakte.principals import add_user
from ekakte.setup import initialize
from tests.conftest import ADMIN, CASE, TEAM, ekakte_process, embedded_env, organise, scans

# What an attacker puts into a file name, a sidecar, a title, a station id or, with database access, any
# row: clear the screen (CSI), set the window title (OSC, ended by BEL), turn the rest of the line around
# (RLO), a C1 CSI, and a line break followed by text that reads like a row of the table.
EVIL = "\x1b[2J\x1b]0;x\x07\u202e\x9b\n12 2026-01-01 fake row"
# The same as the terminal shows it after escaping: visible, on one line.
EVIL_SHOWN = r"\x1b[2J\x1b]0;x\x07\u202e\x9b\n12 2026-01-01 fake row"
# A title that the CLI's input checks refuse (control and direction characters), stored by SQL below.
EVIL_TITLE = "Titel \u202e\x9b Müller"
NAME = f"scan{EVIL}.pdf"
INVISIBLE = {"Cc", "Cf", "Cs", "Zl", "Zp"}


def assert_inert(output: str, lines: int) -> None:
    """`output` is `lines` lines, and none of them holds a character a terminal acts on or reorders by."""
    assert output.endswith("\n") or lines == 0, output
    body = output.removesuffix("\n")
    found = sorted({f"U+{ord(c):04X}" for c in body if c != "\n" and unicodedata.category(c) in INVISIBLE})
    assert not found, (found, output)
    assert (len(body.split("\n")) if body else 0) == lines, output


def run(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    proc = ekakte_process(env, *args, encoding="utf-8")
    out, err = proc.communicate(timeout=300)
    return proc.returncode, out, err


@dataclass
class Archived:
    env: dict[str, str]
    document_id: str
    single_import: tuple[int, str, str]
    batch_import: tuple[int, str, str]


@pytest.fixture(scope="module")
def archived(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Archived]:
    """An embedded archive whose documents, team, users, holds and audit trail carry EVIL: through the CLI
    where it lets the text in, through SQL where it refuses it (old rows or another writer can hold it)."""
    tmp = tmp_path_factory.mktemp("terminal")
    env = embedded_env(tmp / "home")
    settings = load_settings(env)
    initialize(settings)
    organise(settings)
    me = Actor.from_os().name
    with Archive.open(settings) as archive:
        roles = ["scan_operator", "caseworker", "admin", "records_manager", "auditor"]
        add_user(archive, ADMIN, me, roles, [TEAM], health_clearance=True)
        add_user(archive, ADMIN, "mallory", ["caseworker"], [TEAM])

    scan = tmp / NAME
    scan.write_bytes(scans.pdf_bytes([["Seite 1", "Muster"]], dpi=50, seed=1))
    single = run(
        env, "import", str(scan), "--case", CASE, "--type", "Antrag", "--received", "01.01.2020",
        "--title", "Titel Müller", "--station", "scan-1",
    )  # fmt: skip
    assert single[0] == 0, single

    inbox = tmp / "inbox"
    inbox.mkdir()
    (inbox / f"batch{EVIL}.pdf").write_bytes(scans.pdf_bytes([["Seite 1", "Stapel"]], dpi=50, seed=2))
    sidecar = {"case": CASE, "type": "Bescheid", "title": "Titel Müller"}
    (inbox / f"batch{EVIL}.pdf.json").write_text(json.dumps(sidecar), encoding="utf-8")
    (inbox / f"kaputt{EVIL}.pdf").write_bytes(b"%PDF-1.4 not really")
    batch = run(env, "import", "--batch", str(inbox), "--allow-root", "--case", CASE, "--type", "Antrag")
    assert batch[0] == ExitCode.PARTIAL, batch

    code, out, err = run(env, "import", str(scan), "--case", CASE, "--type", "Antrag", "--json")
    assert code == 0, err
    document_id = json.loads(out)["documents"][0]["document_id"]

    rules = tmp / f"regeln{EVIL}.toml"
    rules.write_text(
        '[[rule]]\nname = "fristen\\u001b[2J\\u202e"\ntypes = ["*"]\nkeep = "1y"\n'
        'trigger = "received"\nrounding = "none"\n',
        encoding="utf-8",
    )
    code, _out, err = run(env, "retention", "rules", "load", str(rules))
    assert code == 0, err
    code, _out, err = run(env, "hold", "add", "--case", CASE, "--reason", "Az 12 O 345/26")
    assert code == 0, err
    code, _out, err = run(env, "--as", EVIL, "case", "show", CASE)  # refused, and audited with the name
    assert code == ExitCode.NOT_PERMITTED, err

    # Rows as another writer (or an older ekakte) may have left them: SQL, past every input check.
    doc_id = uuid.UUID(document_id)
    with Archive.open(settings) as archive, archive.transaction() as session:
        session.execute(update(Document).where(Document.id == doc_id).values(title=EVIL, station=EVIL))
        session.execute(update(Document).where(Document.id != doc_id).values(title=EVIL_TITLE))
        session.execute(
            update(Page)
            .where(Page.document_id == doc_id)
            .values(text=f"Seite 1\n{EVIL}", engine=EVIL, ocr_state="done")
        )
        session.execute(update(LegalHold).values(reason=EVIL))
        session.execute(update(Team).where(Team.name == TEAM).values(name=f"team{EVIL}"))
        session.execute(update(Principal).where(Principal.name == "mallory").values(name=f"mallory{EVIL}"))
    yield Archived(env, document_id, single, batch)


def test_import_prints_file_names_and_stations_escaped_on_one_line(archived: Archived) -> None:
    _code, out, err = archived.single_import
    assert_inert(out, 1)
    assert EVIL_SHOWN in out
    assert_inert(err, 0)
    _code, out, err = archived.batch_import
    assert_inert(out, 1)  # the summary
    assert_inert(err, 2)  # the rejected file, and the batch's id

    assert f"kaputt{EVIL_SHOWN}.pdf" in err

    code, out, _err = run(archived.env, "import", str(Path(archived.env["EKAKTE_HOME"]).parent / NAME),
                          "--case", CASE, "--type", "Antrag", "--json")  # fmt: skip
    assert code == 0 and json.loads(out)["documents"][0]["file"] == NAME


def test_titles_and_station_ids_with_control_or_direction_characters_are_refused(
    archived: Archived, tmp_path: Path
) -> None:
    scan = tmp_path / "plain.pdf"
    scan.write_bytes(scans.pdf_bytes([["Seite 1", "Neu"]], dpi=50, seed=3))
    for option, value in (("--title", EVIL_TITLE), ("--station", EVIL), ("--station", "scan\u202e1")):
        code, out, err = run(
            archived.env, "import", str(scan), "--case", CASE, "--type", "Antrag", option, value
        )
        assert code == ExitCode.INVALID_INPUT, (option, out, err)
        assert_inert(err, 1)


def test_case_show_keeps_one_line_per_document_whatever_titles_and_team_names_hold(
    archived: Archived,
) -> None:
    code, out, err = run(archived.env, "case", "show", CASE)
    assert code == 0, err
    assert_inert(out, 3 + 2)  # case, count, header, the two stored documents
    assert f"team: team{EVIL_SHOWN}" in out and EVIL_SHOWN in out and "\\u202e\\x9b Müller" in out

    code, out, _err = run(archived.env, "case", "show", CASE, "--json")
    view = json.loads(out)
    assert code == 0 and view["case"]["team"] == f"team{EVIL}"
    assert {d["title"] for d in view["documents"]} == {EVIL, EVIL_TITLE}


def test_doc_show_escapes_every_field_and_the_text_layer_line_by_line(archived: Archived) -> None:
    code, out, err = run(archived.env, "doc", "show", archived.document_id, "--json")
    info = json.loads(out)
    assert code == 0, err
    assert (info["title"], info["station"], info["original_filename"]) == (EVIL, EVIL, NAME)

    code, out, err = run(archived.env, "doc", "show", archived.document_id)
    assert code == 0, err
    assert_inert(out, len(info))  # one line per field
    widest = max(len(key) for key in info)  # the keys are padded to the longest
    assert f"station{' ' * (widest - len('station'))}  {EVIL_SHOWN}" in out

    code, out, err = run(archived.env, "doc", "show", archived.document_id, "--text")
    assert code == 0, err
    assert_inert(out, 1 + 3)  # the page's heading, then its three lines of text
    code, out, _err = run(archived.env, "doc", "show", archived.document_id, "--text", "--json")
    assert json.loads(out)["pages"][0]["text"] == f"Seite 1\n{EVIL}"


def test_hold_list_and_retention_plan_show_a_hold_reason_escaped(archived: Archived) -> None:
    code, out, err = run(archived.env, "hold", "list")
    assert code == 0, err
    assert_inert(out, 2)  # the hold, the count
    assert EVIL_SHOWN in out
    code, out, _err = run(archived.env, "hold", "list", "--json")
    assert [h["reason"] for h in json.loads(out)] == [EVIL]

    code, out, err = run(archived.env, "retention", "plan", "--as-of", "2026-01-01")
    assert code == 0, err
    assert_inert(out, 1 + 1)  # the document received in 2020, due and held; the totals
    assert r"rule 'fristen\x1b[2J\u202e'" in out and f"({EVIL_SHOWN})" in out


def test_a_hold_reason_with_control_characters_is_refused(archived: Archived) -> None:
    for reason in ("Az 12\x1b[2J", "Az \u202e12", "Az\x9b12"):
        code, out, err = run(archived.env, "hold", "add", "--case", CASE, "--reason", reason)
        assert code == ExitCode.INVALID_INPUT, (reason, out, err)
        assert_inert(err, 1)
        assert "control or direction-changing characters" in err


def test_audit_show_gives_each_entry_one_line_whatever_names_and_reasons_hold(archived: Archived) -> None:
    code, out, err = run(archived.env, "audit", "show")
    assert code == 0, err
    code, listed, _err = run(archived.env, "audit", "show", "--json")
    entries = json.loads(listed)
    assert code == 0 and any(e["on_behalf_of"] == EVIL for e in entries)
    assert any(f"rules load regeln{EVIL}.toml" in (e["reason"] or "") for e in entries)
    assert_inert(out, len(entries) - 1)  # the --json run added its own audit.read
    assert f"for {EVIL_SHOWN}" in out and f"regeln{EVIL_SHOWN}.toml" in out


def test_user_list_shows_user_and_team_names_escaped(archived: Archived) -> None:
    code, out, err = run(archived.env, "user", "list")
    assert code == 0, err
    code, listed, _err = run(archived.env, "user", "list", "--json")
    users = json.loads(listed)
    assert_inert(out, len(users))
    assert f"mallory{EVIL}" in {u["name"] for u in users}
    assert f"mallory{EVIL_SHOWN}" in out and f"team{EVIL_SHOWN}" in out


def test_error_messages_escape_names_they_quote(archived: Archived, tmp_path: Path) -> None:
    # doc get into a folder suggests a file name: the stored original file name.
    code, _out, err = run(archived.env, "doc", "get", archived.document_id, "-o", str(tmp_path))
    assert code == ExitCode.INVALID_INPUT, err
    assert_inert(err, 1)
    assert NAME.replace(EVIL, EVIL_SHOWN) in err
    # A rules file may spell any character as a TOML escape; the refusal quotes the unknown type.
    rules = tmp_path / "rules.toml"
    rules.write_text(
        '[[rule]]\nname = "x"\ntypes = ["Antrag\\u001b]0;x\\u0007\\u000a12 fake"]\nkeep = "1y"\n'
        'trigger = "received"\nrounding = "none"\n',
        encoding="utf-8",
    )
    code, _out, err = run(archived.env, "retention", "rules", "load", str(rules))
    assert code == ExitCode.INVALID_INPUT, err
    assert_inert(err, 1)
    assert r"Antrag\x1b]0;x\x07\n12 fake" in err


def test_scan_protocol_and_transfer_note_print_hostile_names_escaped(archived: Archived) -> None:
    from sqlalchemy import select

    from ekakte.db.models import ImportBatch

    with Archive.open(load_settings(archived.env)) as archive, archive.reading() as session:
        batches = [str(b) for b in session.scalars(select(ImportBatch.id))]
    shown = ""
    for batch_id in batches:
        code, out, err = run(archived.env, "scan", "protocol", batch_id)
        assert code == 0, err
        assert_inert(out, len(out.splitlines()))
        assert not any(line.startswith("12 2026-01-01 fake row") for line in out.splitlines())
        shown += out
    assert EVIL_SHOWN in shown  # the file names of the imports' batches

    code, out, err = run(archived.env, "scan", "note", archived.document_id)
    assert code == 0, err
    assert_inert(out, len(out.splitlines()))
    assert not any(line.startswith("12 2026-01-01 fake row") for line in out.splitlines())
