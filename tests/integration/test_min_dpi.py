"""min_dpi: a scan with a page below the archive's minimum resolution is refused at import, whole."""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from ekakte import api
from ekakte.archive import Archive
from ekakte.db.models import Document, Stack
from ekakte.errors import InvalidInput
from ekakte.hotfolder import import_directory
from ekakte.ingest import DocumentMeta
from tests.conftest import CASE, OPERATOR, scans
from tests.integration.test_cli import Cli, cli  # noqa: F401 (a fixture: the CLI as an operator)

META = DocumentMeta(CASE, "Antrag")


@pytest.fixture
def strict(archive: Archive) -> Archive:
    """The archive with min_dpi 300."""
    return Archive(dataclasses.replace(archive.settings, min_dpi=300), archive.engine, archive.store)


def scan(tmp_path: Path, name: str, dpi: int, pages: int = 1) -> Path:
    path = tmp_path / name
    path.write_bytes(
        scans.scan_pdf_bytes(
            [scans.scan_page([f"Seite {n}"], dpi=dpi, seed=n) for n in range(pages)], dpi=dpi
        )
    )
    return path


def documents(archive: Archive) -> int:
    with archive.reading() as session:
        return int(session.scalar(select(func.count()).select_from(Document)) or 0)


def test_a_scan_below_the_minimum_is_refused_and_one_at_it_is_stored(strict: Archive, tmp_path: Path) -> None:
    with pytest.raises(
        InvalidInput, match="below the minimum resolution of 300 dpi \\(page 1 at 200 dpi\\)"
    ) as no:
        api.import_document(strict, OPERATOR, scan(tmp_path, "low.pdf", 200), META)
    assert no.value.code == "low-resolution" and documents(strict) == 0
    assert api.import_document(strict, OPERATOR, scan(tmp_path, "ok.pdf", 300), META).status == "stored"
    # A JPEG that states no resolution cannot be judged: it is stored.
    bare = tmp_path / "bare.jpg"
    out = io.BytesIO()
    scans.scan_page(["Foto"], dpi=150).save(out, "JPEG")
    bare.write_bytes(out.getvalue())
    assert api.import_document(strict, OPERATOR, bare, META).status == "stored"


def test_without_a_minimum_nothing_is_judged(archive: Archive, tmp_path: Path) -> None:
    assert archive.settings.min_dpi == 0
    assert api.import_document(archive, OPERATOR, scan(tmp_path, "low.pdf", 100), META).status == "stored"


def test_a_batch_moves_a_low_scan_aside_and_a_stack_is_refused_before_it_is_split(
    strict: Archive, tmp_path: Path
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    scan(inbox, "low.pdf", 200)
    scan(inbox, "ok.pdf", 300)
    report = import_directory(strict, OPERATOR, inbox, defaults=META, allow_root=True)
    assert (report.stored, [r.filename for r in report.rejected]) == (1, ["low.pdf"])
    assert "below the minimum resolution" in (inbox / "rejected" / "low.pdf.reason.txt").read_text()
    stack = tmp_path / "post.pdf"
    pages: list[Any] = [
        scans.sheet_page(CASE, "Antrag", dpi=300, seed=1),
        scans.scan_page(["Brief"], dpi=300),
    ]
    pages.append(scans.scan_page(["Anlage"], dpi=150).resize(pages[1].size))  # one page scanned coarser
    data = scans.scan_pdf_bytes(pages[:2], dpi=300)
    low = scans.scan_pdf_bytes([pages[1]], dpi=150)  # the same pixels on a page twice the size: 150 dpi
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    writer.add_page(PdfReader(io.BytesIO(low)).pages[0])
    with stack.open("wb") as fh:
        writer.write(fh)
    with pytest.raises(InvalidInput, match="page 3 at 150 dpi"):
        api.import_stack(strict, OPERATOR, stack)
    with strict.reading() as session:
        assert session.scalars(select(Stack)).first() is None
    assert documents(strict) == 1


def test_the_command_line_says_it_in_one_line(cli: Cli, tmp_path: Path) -> None:  # noqa: F811
    cli.env = {**cli.env, "EKAKTE_MIN_DPI": "300"}
    code, _, err = cli("import", str(scan(tmp_path, "low.pdf", 200)), "--case", CASE, "--type", "Antrag")
    assert code == 3
    assert (
        err.strip()
        .splitlines()[-1]
        .endswith(
            "scanned below the minimum resolution of 300 dpi (page 1 at 200 dpi): scan it again at that"
            " resolution or more"
        )
    ), err
