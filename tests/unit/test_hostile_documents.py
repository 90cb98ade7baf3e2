"""Files built to flood the OCR queue: a few KB claiming tens of thousands of pages, page-tree loops, scans
over the page limit. Each is refused with one line before anything is stored (embedded archive)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from PIL import Image
from pypdf import PdfReader, PdfWriter
from pypdf.generic import (
    ArrayObject,
    DictionaryObject,
    IndirectObject,
    NameObject,
    NumberObject,
    RectangleObject,
)
from sqlalchemy import func, select

from ekakte.archive import Archive
from ekakte.config import load_settings
from ekakte.db.models import Document, Page
from ekakte.errors import ConfigError, ExitCode, UnsupportedFile
from ekakte.ingest import DocumentMeta, import_document
from ekakte.principals import add_user
from ekakte.setup import initialize
from tests.conftest import ADMIN, CASE, OPERATOR, ekakte_process, embedded_env, organise, scans

META = DocumentMeta(CASE, "Antrag", date(2026, 3, 1))


def _embedded(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {**embedded_env(tmp_path / "home"), **extra}
    initialize(load_settings(env))
    organise(load_settings(env))
    return env


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return _embedded(tmp_path)


@pytest.fixture
def archive(env: dict[str, str]) -> Iterator[Archive]:
    with Archive.open(load_settings(env)) as opened:
        yield opened


def _page_tree_pdf(build: object) -> bytes:
    """A PDF whose catalog's /Pages is what `build(writer, page)` returns (pypdf's low-level objects)."""
    writer = PdfWriter()
    page = writer._add_object(  # pypdf's public API writes honest page trees only
        DictionaryObject(
            {
                NameObject("/Type"): NameObject("/Page"),
                NameObject("/MediaBox"): RectangleObject([0, 0, 595, 842]),
            }
        )
    )
    writer.root_object[NameObject("/Pages")] = build(writer, page)  # type: ignore[operator]
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _node(writer: PdfWriter, kids: list[IndirectObject]) -> IndirectObject:
    return writer._add_object(
        DictionaryObject(
            {
                NameObject("/Type"): NameObject("/Pages"),
                NameObject("/Kids"): ArrayObject(kids),
                NameObject("/Count"): NumberObject(len(kids)),
            }
        )
    )


def repeated_branches_pdf() -> bytes:
    """One page, listed 100 times by a node that is listed 30 times by a node listed 30 times: 90,000."""

    def build(writer: PdfWriter, page: IndirectObject) -> IndirectObject:
        node = page
        for fanout in (100, 30, 30):
            node = _node(writer, [node] * fanout)
        return node

    return _page_tree_pdf(build)


def looping_pdf() -> bytes:
    """A page tree whose second node lists the first again: A -> [page, B], B -> [A]."""

    def build(writer: PdfWriter, page: IndirectObject) -> IndirectObject:
        first = _node(writer, [page])
        second = _node(writer, [first])
        first.get_object()[NameObject("/Kids")].append(second)  # type: ignore[index]
        return first

    return _page_tree_pdf(build)


def _stored(archive: Archive) -> tuple[int, int, list[str]]:
    with archive.reading() as session:
        documents = session.scalar(select(func.count()).select_from(Document)) or 0
        pages = session.scalar(select(func.count()).select_from(Page)) or 0
    objects = [str(p) for p in (archive.settings.home / "objects").rglob("*") if p.is_file()]
    return documents, pages, objects


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_a_4_kb_pdf_listing_one_page_90000_times_is_refused_before_anything_is_stored(
    archive: Archive, tmp_path: Path
) -> None:
    data = repeated_branches_pdf()
    assert len(data) < 4096
    assert len(PdfReader(io.BytesIO(data)).pages) == 90_000  # what a reader makes of it
    with pytest.raises(UnsupportedFile, match="the page tree refers to the same page 100 times"):
        import_document(archive, OPERATOR, _write(tmp_path, "flood.pdf", data), META)
    assert _stored(archive) == (0, 0, [])


def test_a_page_tree_with_a_loop_is_refused(archive: Archive, tmp_path: Path) -> None:
    with pytest.raises(UnsupportedFile, match="the page tree has a loop"):
        import_document(archive, OPERATOR, _write(tmp_path, "loop.pdf", looping_pdf()), META)
    assert _stored(archive) == (0, 0, [])


def test_a_branch_listed_by_two_nodes_is_refused(archive: Archive, tmp_path: Path) -> None:
    def build(writer: PdfWriter, page: IndirectObject) -> IndirectObject:
        branch = _node(writer, [page])
        return _node(writer, [branch, branch])

    path = _write(tmp_path, "twice.pdf", _page_tree_pdf(build))
    with pytest.raises(UnsupportedFile, match="refers to the same branch of pages 2 times"):
        import_document(archive, OPERATOR, path, META)


def _tiff(pages: int) -> bytes:
    frames = [Image.new("1", (64, 64), 1) for _ in range(pages)]
    out = io.BytesIO()
    frames[0].save(out, "TIFF", save_all=True, append_images=frames[1:])
    return out.getvalue()


@pytest.mark.parametrize("kind", ["pdf", "tiff"])
def test_a_scan_over_the_page_limit_is_refused_and_one_at_the_limit_is_stored(
    tmp_path: Path, kind: str
) -> None:
    env = _embedded(tmp_path, EKAKTE_MAX_PAGES="5")
    make = (lambda n: scans.born_digital_pdf_bytes([["Seite"]] * n)) if kind == "pdf" else _tiff
    with Archive.open(load_settings(env)) as archive:
        with pytest.raises(UnsupportedFile, match=r"too many pages: (more than 5|6), at most 5 per document"):
            import_document(archive, OPERATOR, _write(tmp_path, f"six.{kind}", make(6)), META)
        assert _stored(archive) == (0, 0, [])
        assert (
            import_document(archive, OPERATOR, _write(tmp_path, f"five.{kind}", make(5)), META).page_count
            == 5
        )


def test_the_page_limit_defaults_to_2000_and_must_be_positive() -> None:
    assert load_settings({}).max_pages == 2000
    assert load_settings({"EKAKTE_MAX_PAGES": "3000"}).max_pages == 3000
    with pytest.raises(ConfigError, match="max_pages must be at least 1"):
        load_settings({"EKAKTE_MAX_PAGES": "0"})


def test_the_cli_refuses_the_flood_pdf_with_one_line_and_exit_code_3(
    env: dict[str, str], tmp_path: Path
) -> None:
    from ekakte.actor import Actor

    with Archive.open(load_settings(env)) as archive:
        add_user(archive, ADMIN, Actor.from_os().name, ["scan_operator"])
    path = _write(tmp_path, "flood.pdf", repeated_branches_pdf())
    proc = ekakte_process(env, "import", str(path), "--case", CASE, "--type", "Antrag")
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == ExitCode.INVALID_INPUT
    assert err.strip() == (
        "rejected  flood.pdf: damaged PDF: the page tree refers to the same page 100 times"
        " (a PDF lists each once)"
    )
