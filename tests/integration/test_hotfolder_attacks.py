"""The hot folder against whoever may write the inbox: planted links, hard links, swapped names, the
archive's own folders, and root."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from ekakte.actor import Actor
from ekakte.archive import Archive
from ekakte.config import load_settings
from ekakte.db.models import Document
from ekakte.errors import ConfigError, ExitCode, InvalidInput
from ekakte.hotfolder import import_directory
from ekakte.ingest import BatchReport, DocumentMeta, import_document
from ekakte.principals import add_user
from ekakte.setup import initialize
from tests.conftest import ADMIN, CASE, OPERATOR, OTHER_CASE, ekakte_process, embedded_env, organise, scans

DEFAULTS = DocumentMeta(CASE, "Antrag")


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """An initialised, organised embedded archive's home (the attacks are on the file system, not the
    database: one stack is enough)."""
    home = tmp_path / "home"
    initialize(load_settings(embedded_env(home)))
    organise(load_settings(embedded_env(home)))
    return home


@pytest.fixture
def archive(home: Path) -> Iterator[Archive]:
    with Archive.open(load_settings(embedded_env(home))) as opened:
        yield opened


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    path = tmp_path / "inbox"
    path.mkdir()
    return path


@pytest.fixture
def private(tmp_path: Path) -> Path:
    """A folder of files that are the importing account's alone (mode 0700, files 0600)."""
    path = tmp_path / "root-only"
    path.mkdir(mode=0o700)
    return path


def pdf(seed: int) -> bytes:
    return scans.pdf_bytes([[f"Seite {seed}"]], dpi=40, seed=seed)


def write_private(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    path.chmod(0o600)
    return path


def batch(archive: Archive, folder: Path) -> BatchReport:
    return import_directory(archive, OPERATOR, folder, defaults=DEFAULTS, allow_root=True)


def stored_digests(archive: Archive) -> set[str]:
    with archive.reading() as session:
        return set(session.scalars(select(Document.sha256)))


def reasons(inbox: Path) -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in (inbox / "rejected").glob("*.reason.txt")}


def test_a_symlinked_sidecar_is_refused_and_what_it_points_to_is_never_read(
    archive: Archive, inbox: Path, private: Path
) -> None:
    # Metadata the importer could read but the inbox's writer cannot: a case, a type and a title of
    # someone else's; and a JSON file whose keys are themselves secret.
    secret_meta = write_private(
        private / "meta.json",
        json.dumps({"case": OTHER_CASE, "type": "Bescheid", "title": "GEHEIMER TITEL"}).encode(),
    )
    secret_keys = write_private(private / "keys.json", json.dumps({"GEHEIMER-SCHLUESSEL": "x"}).encode())
    (inbox / "a.pdf").write_bytes(pdf(1))
    (inbox / "a.json").symlink_to(secret_meta)
    (inbox / "b.pdf").write_bytes(pdf(2))
    (inbox / "b.pdf.json").symlink_to(secret_keys)

    report = batch(archive, inbox)

    assert report.stored == 0
    assert sorted(r.filename for r in report.rejected) == ["a.pdf", "b.pdf"]
    written = reasons(inbox)
    assert sorted(written) == ["a.pdf.reason.txt", "b.pdf.reason.txt"]
    for text in [*written.values(), *(r.reason for r in report.rejected)]:
        assert "symbolic link" in text and "sidecar" in text, text
        assert "GEHEIM" not in text and OTHER_CASE not in text and "Bescheid" not in text, text
    assert stored_digests(archive) == set()  # neither under the secret's case nor under the defaults'
    # The links were moved aside as links; what they point to is where it was, unchanged.
    assert (inbox / "rejected" / "a.json").is_symlink() and (inbox / "rejected" / "b.pdf.json").is_symlink()
    assert json.loads(secret_meta.read_text())["title"] == "GEHEIMER TITEL"


@pytest.mark.parametrize("planted", ["done", "rejected"])
@pytest.mark.parametrize("as_what", ["link", "file"])
def test_a_done_or_rejected_that_is_not_a_real_folder_refuses_the_batch_before_anything_moves(
    archive: Archive, inbox: Path, tmp_path: Path, planted: str, as_what: str
) -> None:
    elsewhere = tmp_path / "elsewhere"  # any folder the importing account may write
    elsewhere.mkdir()
    if as_what == "link":
        (inbox / planted).symlink_to(elsewhere, target_is_directory=True)
    else:
        (inbox / planted).write_bytes(b"")
    (inbox / "good.pdf").write_bytes(pdf(1))
    (inbox / "bad.pdf").write_bytes(b"not a pdf")

    with pytest.raises(InvalidInput, match=f"{planted} is not a folder") as refused:
        batch(archive, inbox)

    assert "\n" not in str(refused.value)
    assert list(elsewhere.iterdir()) == []
    assert sorted(p.name for p in inbox.iterdir()) == sorted(["bad.pdf", "good.pdf", planted])
    assert stored_digests(archive) == set()


def test_a_planted_reason_file_link_is_never_written_through(
    archive: Archive, inbox: Path, private: Path
) -> None:
    victim = write_private(private / ".profile", b"# the victim's shell profile\n")
    (inbox / "rejected").mkdir()
    (inbox / "rejected" / "$(id)bad.pdf.reason.txt").symlink_to(victim)
    (inbox / "$(id)bad.pdf").write_bytes(b"not a pdf")

    report = batch(archive, inbox)

    assert [r.filename for r in report.rejected] == ["$(id)bad.pdf"]
    assert victim.read_bytes() == b"# the victim's shell profile\n"
    assert (inbox / "rejected" / "$(id)bad.pdf.reason.txt").is_symlink()  # left as it was
    # The scan and its reason went under a name of their own, side by side.
    reason = inbox / "rejected" / "$(id)bad-1.pdf.reason.txt"
    assert (inbox / "rejected" / "$(id)bad-1.pdf").read_bytes() == b"not a pdf"
    assert not reason.is_symlink() and "not a PDF" in reason.read_text()


@pytest.mark.parametrize("linked", ["document", "sidecar"])
def test_a_hard_linked_document_or_sidecar_is_refused(
    archive: Archive, inbox: Path, private: Path, linked: str
) -> None:
    # A hard link keeps the target's owner and mode: whoever may write the inbox can link a file in
    # that they cannot read themselves (on the same file system), and the importer could.
    if linked == "document":
        secret = write_private(private / "geheim.pdf", pdf(99))
        os.link(secret, inbox / "a.pdf")
    else:
        secret = write_private(private / "meta.json", json.dumps({"case": OTHER_CASE}).encode())
        (inbox / "a.pdf").write_bytes(pdf(1))
        os.link(secret, inbox / "a.json")

    report = batch(archive, inbox)

    assert report.stored == 0 and [r.filename for r in report.rejected] == ["a.pdf"]
    assert "hard link" in report.rejected[0].reason
    assert OTHER_CASE not in reasons(inbox)["a.pdf.reason.txt"]
    assert stored_digests(archive) == set()


def test_reason_files_are_readable_by_the_import_account_only(archive: Archive, inbox: Path) -> None:
    (inbox / "bad.pdf").write_bytes(b"not a pdf")
    (inbox / "bad.json").write_text(json.dumps({"case": CASE, "type": "Antrag"}))
    old = os.umask(0o002)  # a group-writable umask, as scanning stations' shares often have
    try:
        batch(archive, inbox)
    finally:
        os.umask(old)
    reason = inbox / "rejected" / "bad.pdf.reason.txt"
    assert stat.S_IMODE(reason.stat().st_mode) == 0o600


def test_no_scan_is_imported_from_the_archive_home_or_object_folder(
    archive: Archive, home: Path, tmp_path: Path
) -> None:
    first = import_document(archive, OPERATOR, _scan(tmp_path, pdf(7)), DocumentMeta(CASE, "Antrag"))
    objects = home / "objects"
    with archive.reading() as session:
        key = session.scalars(select(Document.storage_key).where(Document.id == first.document_id)).one()
    original = objects / key
    assert original.is_file()
    door = tmp_path / "door"
    door.symlink_to(original.parent, target_is_directory=True)
    (tmp_path / "inbox").mkdir()
    attempts = [
        original,  # the object itself
        door / original.name,  # through a link to its folder
        tmp_path / "inbox" / ".." / "home" / "objects" / key,  # through ..
        home / "ekakte.db",  # the database
    ]
    for path in attempts:
        with pytest.raises(InvalidInput, match="inside the archive's own folder"):
            import_document(archive, OPERATOR, path, DocumentMeta(OTHER_CASE, "Antrag"))
    # A batch over the object's folder: refused before anything is stored or moved out of the store.
    with pytest.raises(InvalidInput, match="inside the archive's own folder"):
        batch(archive, original.parent)
    with pytest.raises(InvalidInput, match="inside the archive's own folder"):
        batch(archive, home)
    assert original.is_file() and not (original.parent / "done").exists()
    assert not (home / "done").exists() and not (home / "rejected").exists()
    with archive.reading() as session:
        assert session.scalars(select(Document.id)).all() == [first.document_id]


def _scan(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "scans" / f"{hashlib.sha256(data).hexdigest()[:8]}.pdf"
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(data)
    return path


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root (CI runs as root)")
def test_the_hot_folder_refuses_root_unless_told(archive: Archive, home: Path, inbox: Path) -> None:
    (inbox / "a.pdf").write_bytes(pdf(1))
    with pytest.raises(ConfigError, match="does not run as root"):
        import_directory(archive, OPERATOR, inbox, defaults=DEFAULTS)
    assert sorted(p.name for p in inbox.iterdir()) == ["a.pdf"]

    # The CLI: one line naming the flag, exit 6, nothing moved; with the flag it runs.
    with Archive.open(load_settings(embedded_env(home))) as opened:
        add_user(opened, ADMIN, Actor.from_os().name, ["scan_operator"])
    args = ("import", "--batch", str(inbox), "--case", CASE, "--type", "Antrag")
    proc = ekakte_process(embedded_env(home), *args)
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == ExitCode.CONFIG, err
    assert len(err.splitlines()) == 1 and "--allow-root" in err and "root" in err, err
    assert sorted(p.name for p in inbox.iterdir()) == ["a.pdf"]
    proc = ekakte_process(embedded_env(home), *args, "--allow-root")
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == ExitCode.OK, err
    assert sorted(p.name for p in (inbox / "done").iterdir()) == ["a.pdf"]


FLIPPER = """
import os, sys, time
inbox, secret, stage, harmless, names = sys.argv[1:6]
seconds = float(sys.argv[6])
with open(harmless, "rb") as fh:
    data = fh.read()
end = time.monotonic() + seconds
n = 0
while time.monotonic() < end:
    for name in range(int(names)):
        n += 1
        target = os.path.join(inbox, f"a{name}.pdf")
        regular, link = os.path.join(stage, f"r{n}"), os.path.join(stage, f"l{n}")
        with open(regular, "wb") as fh:
            fh.write(data)
        os.replace(regular, target)
        os.symlink(secret, link)
        os.replace(link, target)
"""
NAMES = 8  # names flipped at once: each batch run is eight tries


def test_a_name_flipped_between_a_file_and_a_link_never_stores_what_the_link_points_to(
    archive: Archive, inbox: Path, private: Path, tmp_path: Path
) -> None:
    """The attack of a check (is it a link?) separate from the open: another process swaps the name
    between a harmless scan and a link to a secret one while batches run, again and again."""
    secret = write_private(private / "geheim.pdf", pdf(666))
    secret_sha = hashlib.sha256(secret.read_bytes()).hexdigest()
    harmless = tmp_path / "harmlos.pdf"
    harmless.write_bytes(pdf(1))
    stage = tmp_path / "stage"  # same file system as the inbox, so os.replace is one atomic rename
    stage.mkdir()
    flipper = subprocess.Popen(
        [sys.executable, "-c", FLIPPER, str(inbox), str(secret), str(stage), str(harmless), str(NAMES), "30"]
    )
    try:
        while len(list(inbox.glob("a*.pdf"))) < NAMES and flipper.poll() is None:
            time.sleep(0.001)
        runs, links_seen, files_seen, deadline = 0, 0, 0, time.monotonic() + 20
        while runs < 60 and time.monotonic() < deadline:
            report = batch(archive, inbox)
            runs += 1
            links_seen += sum("symbolic link" in r.reason for r in report.rejected)
            files_seen += len(report.results)
            assert secret_sha not in stored_digests(archive), f"the secret was stored in run {runs}"
    finally:
        flipper.kill()
        flipper.wait()
    assert secret_sha not in stored_digests(archive)
    assert links_seen and files_seen, (runs, links_seen, files_seen)  # both sides of the race were met
    assert secret.read_bytes() == pdf(666)


@pytest.mark.parametrize("linked", ["symbolic", "hard"])
def test_a_single_file_import_opens_no_link_either(
    archive: Archive, private: Path, tmp_path: Path, linked: str
) -> None:
    # `ekakte import FILE` (a service acting for someone, a script) opens and checks the file the way the
    # hot folder does: a link as the file itself is refused, whatever its folder.
    secret = write_private(private / "geheim.pdf", pdf(99))
    link = tmp_path / "scan.pdf"
    if linked == "symbolic":
        link.symlink_to(secret)
    else:
        os.link(secret, link)
    with pytest.raises(InvalidInput, match=f"{linked} link"):
        import_document(archive, OPERATOR, link, DEFAULTS)
    assert stored_digests(archive) == set()


def test_a_stack_planted_as_a_symbolic_link_is_refused_and_never_split(
    archive: Archive, inbox: Path, private: Path
) -> None:
    """A stack of mail the inbox's writer may not read (the importer may), linked into a folder of stacks,
    or named a stack by a sidecar: refused as a link, nothing of it split, read or stored."""
    from ekakte.db.models import Stack

    secret = private / "post.pdf"
    scans.write_scan_pdf(
        secret,
        [scans.sheet_page(CASE, "Antrag", dpi=100, seed=1), scans.scan_page(["GEHEIM"], dpi=100)],
        dpi=100,
    )
    secret.chmod(0o600)
    (inbox / "a.pdf").symlink_to(secret)
    report = import_directory(archive, OPERATOR, inbox, allow_root=True, stacks=True)
    (inbox / "b.pdf").symlink_to(secret)
    (inbox / "b.pdf.json").write_text(json.dumps({"stack": "yes"}))
    second = import_directory(archive, OPERATOR, inbox, allow_root=True)

    assert report.stored == second.stored == 0
    assert [r.filename for r in [*report.rejected, *second.rejected]] == ["a.pdf", "b.pdf"]
    for text in reasons(inbox).values():
        assert "symbolic link" in text and "GEHEIM" not in text, text
    assert stored_digests(archive) == set()
    with archive.reading() as session:
        assert session.scalars(select(Stack)).first() is None  # never looked at as a stack
    assert (inbox / "rejected" / "a.pdf").is_symlink() and (inbox / "rejected" / "b.pdf").is_symlink()
