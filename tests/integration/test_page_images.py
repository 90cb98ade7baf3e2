"""Page images for a viewer (page_images.render_page / export_page, `ekakte doc page`), on both stacks."""

from __future__ import annotations

import io
import json
import random
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image, ImageDraw
from sqlalchemy import select

from ekakte.actor import Actor
from ekakte.archive import Archive
from ekakte.db.models import AuditEntry, Document
from ekakte.errors import ChecksumMismatch, ExitCode, InvalidInput, NotFound, NotPermitted, UnsupportedFile
from ekakte.ingest import DocumentMeta, import_document
from ekakte.page_images import MAX_WIDTH, MIN_WIDTH, render_page
from ekakte.principals import add_user
from tests.conftest import ADMIN, CASE, OPERATOR, OTHER_TEAM, READER, TEAM
from tests.integration.test_archive import overwrite_object
from tests.integration.test_cli import Cli

MakeScan = Callable[..., Path]
PNG_MAGIC, JPEG_MAGIC = b"\x89PNG", b"\xff\xd8\xff"


# Pages told apart by their shape (height / width) and chosen format: a clean letter on white paper
# (PNG), a greyscale scan with the paper's grain (JPEG), a colour photo (JPEG), a bitonal fax (PNG).
def letter(width: int = 600, height: int = 848) -> Image.Image:
    page = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(page)
    for y in range(80, height - 80, 24):
        draw.text((60, y), "Sehr geehrte Frau Musterfrau, hiermit bewillige ich", fill=0)
    return page


def grainy(width: int = 848, height: int = 600) -> Image.Image:
    grain = Image.frombytes("L", (width, height), random.Random(1).randbytes(width * height))
    return Image.blend(letter(width, height), grain.point(lambda v: 200 + v // 5), 0.5)


def photo(width: int = 700, height: int = 700) -> Image.Image:
    noise = random.Random(2).randbytes(width * height * 3)
    img = Image.frombytes("RGB", (width, height), noise)
    ImageDraw.Draw(img).rectangle((100, 100, 500, 400), fill=(200, 30, 40))
    return img


def fax(width: int = 500, height: int = 900) -> Image.Image:
    return letter(width, height).point(lambda v: 255 if v > 128 else 0).convert("1")


PAGES = [  # (page image, its aspect height/width, the format a viewer gets)
    (letter, 848 / 600, "image/png"),
    (grainy, 600 / 848, "image/jpeg"),
    (photo, 1.0, "image/jpeg"),
    (fax, 900 / 500, "image/png"),
]


def encoded(fmt: str, frames: list[Image.Image], **options: object) -> bytes:
    out = io.BytesIO()
    frames[0].save(out, fmt, save_all=len(frames) > 1, append_images=frames[1:], **options)
    return out.getvalue()


def store(archive: Archive, tmp_path: Path, name: str, data: bytes, doc_type: str = "Nachweis") -> uuid.UUID:
    path = tmp_path / name
    path.write_bytes(data)
    return import_document(archive, OPERATOR, path, DocumentMeta(CASE, doc_type)).document_id


def audit_of(archive: Archive, document_id: uuid.UUID) -> list[AuditEntry]:
    with archive.reading() as session:
        return list(
            session.scalars(
                select(AuditEntry).where(AuditEntry.document_id == str(document_id)).order_by(AuditEntry.id)
            )
        )


def check(image_data: bytes, media_type: str, width: int, aspect: float) -> None:
    assert image_data.startswith(PNG_MAGIC if media_type == "image/png" else JPEG_MAGIC)
    with Image.open(io.BytesIO(image_data)) as shown:
        assert shown.width == width and abs(shown.height - width * aspect) <= 1


@pytest.mark.parametrize(
    ("kind", "data"),
    [
        ("pdf", lambda: encoded("PDF", [p().convert("RGB") for p, _a, _f in PAGES], resolution=100)),
        ("tif", lambda: encoded("TIFF", [p() for p, _a, _f in PAGES], compression="tiff_lzw")),
    ],
)
def test_every_page_of_a_multi_page_pdf_or_tiff_at_the_width_asked_for(
    archive: Archive, tmp_path: Path, kind: str, data: Callable[[], bytes]
) -> None:
    doc_id = store(archive, tmp_path, f"stack.{kind}", data())
    for number, (_page, aspect, media_type) in enumerate(PAGES, start=1):
        for width in (MIN_WIDTH, 517, 1200):
            image = render_page(archive, READER, doc_id, number, width)
            assert (image.page, image.page_count, image.width) == (number, len(PAGES), width)
            assert image.media_type == media_type, (number, width)
            check(image.data, image.media_type, width, aspect)
            assert image.height == Image.open(io.BytesIO(image.data)).height


@pytest.mark.parametrize(
    ("fmt", "page", "aspect", "media_type"),
    [("JPEG", photo, 1.0, "image/jpeg"), ("PNG", letter, 848 / 600, "image/png")],
)
def test_a_jpeg_or_png_is_one_page(
    archive: Archive,
    tmp_path: Path,
    fmt: str,
    page: Callable[[], Image.Image],
    aspect: float,
    media_type: str,
) -> None:
    doc_id = store(archive, tmp_path, f"one.{fmt.lower()}", encoded(fmt, [page()]))
    image = render_page(archive, READER, doc_id, 1, 900)
    assert (image.page_count, image.media_type) == (1, media_type)
    check(image.data, media_type, 900, aspect)
    with pytest.raises(NotFound, match=f"^document {doc_id} has 1 page, no page 2$"):
        render_page(archive, READER, doc_id, 2, 900)


def test_the_sample_scans_of_every_format_render(archive: Archive, make_scan: MakeScan) -> None:
    """The scanner's own kinds of file (scripts/sample_scans.py): PDF of JPEGs, LZW TIFF, JPEG, PNG."""
    for kind, pages in [("pdf", 3), ("tif", 2), ("jpg", 1), ("png", 1)]:
        path = make_scan(kind=kind, pages=pages)
        doc_id = import_document(archive, OPERATOR, path, DocumentMeta(CASE, "Antrag")).document_id
        image = render_page(archive, READER, doc_id, pages, 640)
        assert (image.width, image.page_count) == (640, pages)
        check(image.data, image.media_type, 640, 585 / 413)  # A4 at 50 dpi: 413 x 585 pixels


def test_a_jpeg_is_shown_the_way_up_its_exif_says(archive: Archive, tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # stored lying on its side: turn 90° clockwise to view
    doc_id = store(archive, tmp_path, "phone.jpg", encoded("JPEG", [photo(800, 400)], exif=exif))
    image = render_page(archive, READER, doc_id, 1, 400)
    assert (image.width, image.height) == (400, 800)


def test_a_very_tall_page_comes_narrower_within_the_pixel_budget(archive: Archive, tmp_path: Path) -> None:
    from ekakte.page_images import MAX_PIXELS

    receipt = Image.new("L", (100, 4000), 255)  # a till receipt: 40 times as tall as wide
    doc_id = store(archive, tmp_path, "receipt.png", encoded("PNG", [receipt]))
    image = render_page(archive, READER, doc_id, 1, MAX_WIDTH)
    assert image.width * image.height <= MAX_PIXELS and image.width < MAX_WIDTH
    assert abs(image.height - image.width * 40) <= 1


@pytest.mark.parametrize(("page", "width"), [(1, MIN_WIDTH - 1), (1, MAX_WIDTH + 1), (0, 800), (-3, 800)])
def test_a_width_or_page_number_out_of_range_is_refused_before_anything_is_read(
    archive: Archive, make_scan: MakeScan, page: int, width: int
) -> None:
    doc_id = import_document(archive, OPERATOR, make_scan(), DocumentMeta(CASE, "Antrag")).document_id
    before = len(audit_of(archive, doc_id))
    with pytest.raises(InvalidInput, match=r"pixels wide|counted from 1"):
        render_page(archive, READER, doc_id, page, width)
    assert len(audit_of(archive, doc_id)) == before


def test_a_page_the_document_lacks_is_not_found_and_audited_as_failed(
    archive: Archive, make_scan: MakeScan
) -> None:
    doc_id = import_document(archive, OPERATOR, make_scan(pages=2), DocumentMeta(CASE, "Antrag")).document_id
    with pytest.raises(NotFound, match=r"has 2 pages, no page 3$"):
        render_page(archive, READER, doc_id, 3, 800)
    entries = audit_of(archive, doc_id)[-2:]
    assert [(e.action, e.outcome) for e in entries] == [("doc.get", "allowed"), ("doc.get", "failed")]
    assert "no page image was made" in str(entries[1].reason)


def test_reading_a_page_is_audited_once_with_page_and_width(archive: Archive, make_scan: MakeScan) -> None:
    doc_id = import_document(archive, OPERATOR, make_scan(pages=2), DocumentMeta(CASE, "Antrag")).document_id
    before = len(audit_of(archive, doc_id))
    render_page(archive, READER, doc_id, 2, 800)
    new = audit_of(archive, doc_id)[before:]
    assert [(e.action, e.outcome, e.actor, e.case_number) for e in new] == [
        ("doc.get", "allowed", READER.name, CASE)
    ]
    assert str(new[0].reason).startswith("page 2, 800 px: ")


def test_page_images_are_refused_alike_for_another_team_restricted_without_clearance_and_none(
    archive: Archive, make_scan: MakeScan
) -> None:
    add_user(archive, ADMIN, "other", ["caseworker"], [OTHER_TEAM])
    add_user(archive, ADMIN, "plain", ["caseworker"], [TEAM])
    add_user(archive, ADMIN, "records", ["records_manager"], health_clearance=True)
    antrag = import_document(archive, OPERATOR, make_scan(), DocumentMeta(CASE, "Antrag")).document_id
    health = import_document(
        archive, OPERATOR, make_scan(seed=1), DocumentMeta(CASE, "Gutachten")
    ).document_id
    nowhere = uuid.uuid4()
    refusals = [
        ("other", antrag), ("plain", health), ("records", antrag), ("other", nowhere), ("plain", nowhere),
    ]  # fmt: skip
    for who, doc_id in refusals:
        with pytest.raises(NotPermitted) as refused:
            render_page(archive, Actor(who), doc_id, 1, 800)
        assert str(refused.value) == f"not permitted: document {doc_id}"
        last = audit_of(archive, doc_id)[-1]
        assert (last.action, last.outcome, last.actor) == ("doc.get", "denied", who)
        # A page number the document lacks makes no difference to a refusal.
        with pytest.raises(NotPermitted, match=f"^not permitted: document {doc_id}$"):
            render_page(archive, Actor(who), doc_id, 99, 800)
    assert render_page(archive, READER, health, 1, 800).page_count == 1  # with the clearance


def test_an_encrypted_pdf_has_no_pages_to_show(archive: Archive, tmp_path: Path, make_scan: MakeScan) -> None:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(make_scan()))
    writer.encrypt("geheim")
    out = io.BytesIO()
    writer.write(out)
    doc_id = store(archive, tmp_path, "locked.pdf", out.getvalue())
    with pytest.raises(UnsupportedFile, match="encrypted PDF"):
        render_page(archive, READER, doc_id, 1, 800)


def test_a_corrupt_original_gives_no_image_and_leaves_no_copy_behind(
    archive: Archive, make_scan: MakeScan, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    private_tmp = tmp_path / "tmp"
    private_tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(private_tmp))
    path = make_scan(kind="tif", pages=2)
    doc_id = import_document(archive, OPERATOR, path, DocumentMeta(CASE, "Antrag")).document_id
    render_page(archive, READER, doc_id, 2, 800)
    assert list(private_tmp.iterdir()) == []  # the private copy is gone after a page was made
    data = path.read_bytes()
    with archive.reading() as session:
        storage_key = session.scalar(select(Document.storage_key).where(Document.id == doc_id))
    assert storage_key is not None
    overwrite_object(archive, storage_key, data[:-1] + bytes([data[-1] ^ 1]))
    with pytest.raises(ChecksumMismatch):
        render_page(archive, READER, doc_id, 1, 800)
    assert list(private_tmp.iterdir()) == []


# --- `ekakte doc page` --------------------------------------------------------------------------------


def run(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str
) -> tuple[int, str, str]:
    return Cli(env, monkeypatch, capsys)(*args)


def test_doc_page_writes_the_image_and_refuses_to_overwrite_without_force(
    stack_env: dict[str, str],
    archive: Archive,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    add_user(archive, ADMIN, Actor.from_os().name, ["caseworker"], [TEAM])
    doc_id = str(store(archive, tmp_path, "stack.tif", encoded("TIFF", [p() for p, _a, _f in PAGES])))
    target = tmp_path / "page.jpg"
    args = ["doc", "page", doc_id, "--page", "2", "--width", "424", "-o", str(target)]
    code, _out, err = run(stack_env, monkeypatch, capsys, *args)
    assert (
        code == 0
        and err.strip()
        == f"wrote {target} (page 2 of 4, image/jpeg, 424x300 px, {target.stat().st_size} bytes)"
    )
    assert target.stat().st_mode & 0o777 == 0o600
    check(target.read_bytes(), "image/jpeg", 424, 600 / 848)
    code, _out, err = run(stack_env, monkeypatch, capsys, *args)
    assert (
        code == ExitCode.OUTPUT_EXISTS
        and err.strip() == f"ekakte: {target} exists: use --force to overwrite it"
    )
    code, out, _err = run(stack_env, monkeypatch, capsys, *args[:-2], "-o", str(target), "--force", "--json")
    assert code == 0 and json.loads(out) == {
        "document_id": doc_id, "page": 2, "page_count": 4, "media_type": "image/jpeg", "width": 424,
        "height": 300, "size_bytes": target.stat().st_size, "file": str(target),
    }  # fmt: skip
    code, _out, err = run(stack_env, monkeypatch, capsys, "doc", "page", doc_id, "--page", "5", "-o", "x.png")
    assert code == ExitCode.NOT_FOUND and "has 4 pages, no page 5" in err
    code, _out, err = run(
        stack_env, monkeypatch, capsys, "doc", "page", doc_id, "--width", "9", "-o", "x.png"
    )
    assert code == ExitCode.INVALID_INPUT and "64 to 4000 pixels wide, not 9" in err
    code, _out, err = run(
        stack_env, monkeypatch, capsys, "doc", "page", str(uuid.uuid4()), "-o", str(tmp_path / "n.png")
    )
    assert code == ExitCode.NOT_PERMITTED and not (tmp_path / "n.png").exists()
