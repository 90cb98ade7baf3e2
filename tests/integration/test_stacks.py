"""Stacks of mail: split at cover and separator sheets, each part stored in its case, never re-encoded."""

from __future__ import annotations

import hashlib
import io
import json
import os
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from ekakte import api
from ekakte.archive import Archive
from ekakte.db.models import POSTKORB_CASE, Document, Stack, StackPart
from ekakte.errors import InvalidInput, NotPermitted, UnsupportedFile
from ekakte.mailroom import stacks as stacks_module
from ekakte.mailroom.codes import COVER, Sheet, checksum
from tests.conftest import ADMIN, CASE, OPERATOR, OTHER_CASE, READER, scans
from tests.integration.test_cli import Cli, cli  # noqa: F401 (a fixture: the CLI as an operator)

DPI = 200


def letter(seed: int, pages: int = 1) -> list[Any]:
    lines = ["Sehr geehrte Damen und Herren,"]
    return [
        scans.scan_page([f"Brief {seed} Seite {n + 1}", *lines], dpi=DPI, seed=seed * 10 + n)
        for n in range(pages)
    ]


def cover(case: str = CASE, doc_type: str = "Antrag", title: str | None = None, **kw: Any) -> Any:
    return scans.sheet_page(case, doc_type, title, dpi=DPI, **kw)


def mail(tmp_path: Path, name: str = "post.pdf") -> tuple[Path, list[Any]]:
    """The day's stack: a cover sheet upside down with its blank back (duplex), a two-page letter, a
    cover sheet skewed by 4° for a health document, a one-page letter, a separator... no: a third cover
    sheet for the other case and a letter whose first page has almost nothing on it."""
    pages = [
        cover(seed=1, upside_down=True, rotate=2),
        scans.blank_page(dpi=DPI, seed=2),
        *letter(1, 2),
        cover(CASE, "Gutachten", "Ärztliches Gutachten Dr. Müller", seed=3, rotate=-4),
        *letter(2),
        cover(OTHER_CASE, "Bescheid", seed=4, rotate=4.5),
        scans.scan_page(["x"], dpi=DPI, seed=5),
        *letter(3),
    ]
    path = tmp_path / name
    scans.write_scan_pdf(path, pages, dpi=DPI)
    return path, pages


def image_streams(data: bytes) -> list[bytes]:
    """The raw (still encoded) data of every page's images, in page order."""
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data))
    raw = []
    for page in reader.pages:
        for obj in page["/Resources"]["/XObject"].values():
            raw.append(obj.get_object()._data)
    return raw


def original(archive: Archive, document_id: Any) -> bytes:
    out = io.BytesIO()
    with api.open_original(archive, READER, document_id) as stream:
        for chunk in stream:
            out.write(chunk)
    return out.getvalue()


def test_a_stack_is_split_at_its_sheets_and_every_part_stored_in_its_case_page_for_page(
    archive: Archive, tmp_path: Path
) -> None:
    path, _ = mail(tmp_path)
    report = api.import_stack(archive, OPERATOR, path)

    kinds = [(p.kind, p.first_page, p.last_page, p.case_number, p.document_type) for p in report.parts]
    assert kinds == [
        ("cover", 1, 1, CASE, "Antrag"),
        ("back", 2, 2, None, None),
        ("document", 3, 4, CASE, "Antrag"),
        ("cover", 5, 5, CASE, "Gutachten"),
        ("document", 6, 6, CASE, "Gutachten"),
        ("cover", 7, 7, OTHER_CASE, "Bescheid"),
        # a page with one letter on it, right after a sheet: content, not the sheet's back
        ("document", 8, 9, OTHER_CASE, "Bescheid"),
    ]
    docs = report.documents
    assert [d.status for d in docs] == ["stored"] * 3
    assert [d.page_count for d in docs] == [2, 1, 2]
    assert [d.filename for d in docs] == ["post_p3-4.pdf", "post_p6-6.pdf", "post_p8-9.pdf"]
    stack_bytes = path.read_bytes()
    assert report.sha256 == hashlib.sha256(stack_bytes).hexdigest()

    # Each part's page images are the stack's, byte for byte: nothing was decoded or re-encoded.
    stack_images = image_streams(stack_bytes)
    for doc, (first, last) in zip(docs, [(3, 4), (6, 6), (8, 9)], strict=True):
        data = original(archive, doc.document_id)
        assert hashlib.sha256(data).hexdigest() == doc.sha256
        assert image_streams(data) == stack_images[first - 1 : last]

    info = api.get_document(archive, READER, docs[1].document_id)
    assert (info.document_type, info.title, info.case_number) == (
        "Gutachten",
        "Ärztliches Gutachten Dr. Müller",
        CASE,
    )

    # The record: the stack by its SHA-256, each range and what it became, the sheets' content too.
    with archive.reading() as session:
        stack = session.scalars(select(Stack)).one()
        rows = session.scalars(select(StackPart).order_by(StackPart.first_page)).all()
        assert (stack.sha256, stack.page_count, stack.operator) == (report.sha256, 9, OPERATOR.name)
        assert stack.finished_at is not None
        assert [
            (r.kind, r.first_page, r.last_page, r.document_id, r.sha256) for r in rows if r.kind == "document"
        ] == [
            ("document", 3, 4, docs[0].document_id, docs[0].sha256),
            ("document", 6, 6, docs[1].document_id, docs[1].sha256),
            ("document", 8, 9, docs[2].document_id, docs[2].sha256),
        ]
        assert [(r.kind, r.case_number, r.document_type) for r in rows if r.kind == "cover"] == [
            ("cover", CASE, "Antrag"), ("cover", CASE, "Gutachten"), ("cover", OTHER_CASE, "Bescheid"),
        ]  # fmt: skip
        assert session.scalar(select(func.count()).select_from(Document)) == 3


def test_a_stack_imported_again_is_already_stored_part_by_part(archive: Archive, tmp_path: Path) -> None:
    path, _ = mail(tmp_path)
    first = api.import_stack(archive, OPERATOR, path)
    again = api.import_stack(archive, OPERATOR, path)
    assert [d.status for d in again.documents] == ["already_stored"] * 3
    assert [d.document_id for d in again.documents] == [d.document_id for d in first.documents]
    assert [d.sha256 for d in again.documents] == [d.sha256 for d in first.documents]
    assert again.stack_id == first.stack_id
    with archive.reading() as session:
        assert session.scalar(select(func.count()).select_from(Document)) == 3
        assert session.scalar(select(func.count()).select_from(Stack)) == 1


def dies_after_part(monkeypatch: pytest.MonkeyPatch, n: int) -> None:
    """The process dies right after the `n`th part was stored (its import returned), before anything
    else of the split runs."""
    real = stacks_module._store_part
    calls = []

    def store_then_die(*args: Any, **kwargs: Any) -> Any:
        result = real(*args, **kwargs)
        calls.append(result)
        if len(calls) == n:
            raise KeyboardInterrupt  # as abrupt as it gets in-process: no cleanup of ours runs after it
        return result

    monkeypatch.setattr(stacks_module, "_store_part", store_then_die)


def test_a_crash_after_any_part_leaves_what_a_rerun_finishes(
    archive: Archive, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The process dies after the second part is stored: the part's range names its document already
    (recorded in the transaction that stored it), and the re-run stores only the third."""
    path, _ = mail(tmp_path)
    dies_after_part(monkeypatch, 2)
    with pytest.raises(KeyboardInterrupt):
        api.import_stack(archive, OPERATOR, path)
    monkeypatch.undo()
    recorded = select(func.count()).select_from(StackPart).where(StackPart.document_id.is_not(None))
    with archive.reading() as session:
        assert session.scalar(select(func.count()).select_from(Document)) == 2
        assert session.scalar(recorded) == 2
        assert session.scalar(select(Stack.finished_at)) is None

    report = api.import_stack(archive, OPERATOR, path)
    assert [d.status for d in report.documents] == ["already_stored", "already_stored", "stored"]
    with archive.reading() as session:
        assert session.scalar(select(func.count()).select_from(Document)) == 3
        assert session.scalar(recorded) == 3
        assert session.scalar(select(Stack.finished_at)) is not None


def test_a_postkorb_part_sent_back_before_the_rerun_of_a_crashed_stack_is_not_stored_again(
    archive: Archive, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The letter before the first cover sheet went to the Postkorb, the import died, and the triage role
    sent the letter back before the re-run: the re-run knows it from its range, and stores it no more."""
    triage = api.Actor("posteingang")
    api.add_user(archive, ADMIN, triage.name, ["triage"])
    path = tmp_path / "post.pdf"
    scans.write_scan_pdf(path, [*letter(1), cover(CASE, "Antrag", seed=2), *letter(2)], dpi=DPI)
    dies_after_part(monkeypatch, 1)
    with pytest.raises(KeyboardInterrupt):
        api.import_stack(archive, OPERATOR, path)
    monkeypatch.undo()
    [waiting] = [e.document_id for e in api.postkorb(archive, triage)]
    api.return_to_station(archive, triage, waiting, "Werbung")
    report = api.import_stack(archive, OPERATOR, path)
    assert [(d.status, d.document_id == waiting) for d in report.documents] == [
        ("already_stored", True), ("stored", False),
    ]  # fmt: skip
    assert list(api.postkorb(archive, triage)) == []


def test_a_bitonal_tiff_stack_becomes_g4_tiff_parts_with_the_strips_unchanged(
    archive: Archive, tmp_path: Path
) -> None:
    from PIL import Image

    pages = [cover(seed=1, rotate=-3), *letter(1, 2), scans.sheet_page(dpi=DPI, seed=9, rotate=5), *letter(2)]
    pages[3] = cover(CASE, "Bescheid", seed=9, rotate=5, upside_down=True)
    path = tmp_path / "post.tif"
    scans.write_g4_tiff(path, pages, dpi=DPI)
    report = api.import_stack(archive, OPERATOR, path)
    docs = report.documents
    assert [(d.media_type, d.page_count, d.document_type) for d in docs] == [
        ("image/tiff", 2, "Antrag"), ("image/tiff", 1, "Bescheid"),
    ]  # fmt: skip

    def strips(data: bytes) -> list[tuple[int, bytes]]:
        """(compression, every strip's raw bytes) per page."""
        from ekakte.mailroom.tiff import TiffFile

        tiff = TiffFile(io.BytesIO(data), max_pages=100)
        out = []
        for page in tiff.pages:
            compression = next(e for e in page.entries if e.tag == 259).value
            out.append((compression, b"".join(tiff.segment(s, n) for s, n in page.segments)))
        return out

    stack_strips = strips(path.read_bytes())
    assert strips(original(archive, docs[0].document_id)) == stack_strips[1:3]
    assert strips(original(archive, docs[1].document_id)) == stack_strips[4:5]
    with Image.open(io.BytesIO(original(archive, docs[0].document_id))) as image:
        assert (image.n_frames, image.info["compression"], image.mode) == (2, "group4", "1")
        assert round(image.info["dpi"][0]) == DPI


def test_a_bitonal_pdf_stack_keeps_its_ccitt_images(archive: Archive, tmp_path: Path) -> None:
    pages = [cover(seed=1), *letter(1), cover(OTHER_CASE, "Antrag", seed=2, rotate=-5), *letter(2, 2)]
    path = tmp_path / "bw.pdf"
    scans.write_bitonal_pdf(path, pages, dpi=DPI)
    docs = api.import_stack(archive, OPERATOR, path).documents
    assert [(d.page_count, d.case_number) for d in docs] == [(1, CASE), (2, OTHER_CASE)]
    stack_images = image_streams(path.read_bytes())
    assert image_streams(original(archive, docs[1].document_id)) == stack_images[3:5]


def forged_sheet(dpi: int = DPI) -> Any:
    """A page with a QR code that claims to be ekakte's cover sheet but whose checksum is wrong."""
    import zxingcpp
    from PIL import Image

    lines = [COVER, CASE, "Antrag", ""]
    text = "\n".join([*lines, "0" * 8 if checksum(lines) != "0" * 8 else "1" * 8])
    code = zxingcpp.create_barcode(text, zxingcpp.BarcodeFormat.QRCode).to_image(scale=10)
    page = Image.new("L", (1654, 2339), 240)
    page.paste(Image.frombytes("L", (code.shape[1], code.shape[0]), bytes(memoryview(code))), (400, 300))
    return page


@pytest.mark.parametrize(
    ("pages", "message"),
    [
        (
            lambda: [cover(seed=1), *letter(1), forged_sheet(), *letter(2)],
            "page 3: an ekakte sheet's code that does not check out: its checksum does not match its content",
        ),
        (lambda: [cover(seed=1), cover(seed=2)], "the stack holds sheets but no document"),
    ],
    ids=["forged", "no-document"],
)
def test_a_stack_that_cannot_be_split_with_certainty_is_refused_whole(
    archive: Archive, tmp_path: Path, pages: Any, message: str
) -> None:
    path = tmp_path / "post.pdf"
    scans.write_scan_pdf(path, pages(), dpi=DPI)
    with pytest.raises(UnsupportedFile if "check out" in message else InvalidInput) as exc:
        api.import_stack(archive, OPERATOR, path)
    assert message in str(exc.value)
    with archive.reading() as session:
        assert session.scalar(select(func.count()).select_from(Document)) == 0
        assert session.scalar(select(func.count()).select_from(Stack)) == 0


def test_a_single_image_or_an_unknown_user_is_refused(
    archive: Archive, tmp_path: Path, make_scan: Any
) -> None:
    with pytest.raises(UnsupportedFile, match="a stack is a PDF or a multi-page TIFF"):
        api.import_stack(archive, OPERATOR, make_scan(kind="jpg"))
    path, _ = mail(tmp_path)
    with pytest.raises(NotPermitted):
        api.import_stack(archive, READER, path)


def test_import_stack_on_the_command_line_and_in_a_batch_folder(
    cli: Cli,  # noqa: F811
    tmp_path: Path,
) -> None:
    path, _ = mail(tmp_path)
    code, out, err = cli("import", "--stack", str(path))
    assert code == 0, err
    assert "p. 1         cover sheet" in out
    assert "p. 2         blank back of a sheet" in out
    assert "p. 3-4       stored" in out
    assert "3 stored, 0 already stored, 0 rejected" in out

    code, _, err = cli("import", "--stack", "--case", CASE, str(path))
    assert code == 2 and "no --case, --type, --title" in err

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    scans.write_scan_pdf(inbox / "a.pdf", [cover(OTHER_CASE, "Antrag", seed=7), *letter(7)], dpi=DPI)
    scans.write_scan_pdf(inbox / "b.pdf", [cover(seed=8), cover(seed=9)], dpi=DPI)
    (inbox / "c.pdf").write_bytes(scans.pdf_bytes([["Einzelbrief"]], dpi=50))
    (inbox / "c.pdf.json").write_text(json.dumps({"case": CASE, "type": "Antrag", "stack": "no"}))
    (inbox / "d.pdf").write_bytes(scans.pdf_bytes([["Noch einer"]], dpi=50))
    (inbox / "d.json").write_text(json.dumps({"case": CASE, "stack": "yes"}))
    scans.write_scan_pdf(inbox / "e.pdf", [*letter(8), cover(seed=8), *letter(9)], dpi=DPI)
    code, out, err = cli("import", "--batch", str(inbox), "--stacks", "--json", "--allow-root")
    assert code == 12, err
    report = json.loads(out)
    assert (report["stored"], report["already_stored"]) == (4, 0)
    assert sorted(os.listdir(inbox / "done")) == ["a.pdf", "c.pdf", "c.pdf.json", "e.pdf"]
    reasons = {r["file"]: r["reason"] for r in report["rejected"]}
    assert reasons["b.pdf"] == "the stack holds sheets but no document"
    assert "names case for a stack" in reasons["d.pdf"]
    assert "sheets but no document" in (inbox / "rejected" / "b.pdf.reason.txt").read_text()
    assert [p["kind"] for p in report["stacks"][0]["parts"]] == ["cover", "document"]
    e_parts = report["stacks"][1]["parts"]
    assert [(p["kind"], p.get("postkorb")) for p in e_parts] == [
        ("document", "no cover sheet before it in the stack"), ("cover", None), ("document", None),
    ]  # fmt: skip


def test_cover_sheets_are_printed_checked_and_read_back(
    cli: Cli,  # noqa: F811
    tmp_path: Path,
) -> None:
    import pypdfium2

    from ekakte.mailroom.detect import find_sheet

    out = tmp_path / "deckblatt.pdf"
    code, _, err = cli("coversheet", "--case", CASE.lower(), "--type", "gutachten", "--title", "Befund",
                       "--count", "2", "-o", str(out))  # fmt: skip
    assert code == 0, err
    assert "2 cover sheets" in err
    pdf = pypdfium2.PdfDocument(out.read_bytes())
    assert len(pdf) == 2
    image = pdf[0].render(scale=100 / 72, grayscale=True).to_pil().convert("L")
    assert find_sheet(image) == Sheet(CASE, "Gutachten", "Befund")  # the stored spellings
    text = pdf[0].get_textpage().get_text_range()
    assert CASE in text and "Gutachten" in text and "wird nicht archiviert" in text
    pdf.close()

    code, _, err = cli("coversheet", "--separator", "-o", str(out))
    assert code != 0 and "exists" in err
    code, _, err = cli("coversheet", "--separator", "--count", "3", "-o", str(out), "--force")
    assert code == 0 and "3 separator sheets" in err
    code, _, err = cli("coversheet", "--case", "123", "--type", "Antrag", "-o", str(tmp_path / "x.pdf"))
    assert code == 3 and "invalid case number '123'" in err
    assert not (tmp_path / "x.pdf").exists()


def test_reference_codes_are_written_checked_and_read_back(
    cli: Cli,  # noqa: F811
    tmp_path: Path,
) -> None:
    import xml.etree.ElementTree as ET

    import zxingcpp
    from PIL import Image

    from ekakte.mailroom.codes import Reference, decode_bytes

    qr = zxingcpp.barcode_formats_from_str("QRCode")
    out = tmp_path / "bezug.png"  # the format from the name
    code, _, err = cli("reference-code", "--case", CASE.lower(), "--reference", "Anforderung 2026-11-30",
                       "--size-mm", "25", "-o", str(out))  # fmt: skip
    assert code == 0, err
    assert "wrote" in err and "PNG, 25 mm" in err
    assert oct(out.stat().st_mode & 0o777) == "0o600"
    image = Image.open(out)
    assert image.mode == "1" and image.size == (295, 295) and round(image.info["dpi"][0]) == 300
    read = zxingcpp.read_barcodes(image.convert("L"), formats=qr)
    assert [decode_bytes(bytes(c.bytes)) for c in read] == [Reference(CASE, "Anforderung 2026-11-30")]

    code, _, err = cli("reference-code", "--case", CASE, "-o", str(out))
    assert code == 11 and "exists" in err and "--force" in err
    code, _, err = cli("reference-code", "--case", CASE, "--format", "svg", "-o", str(out), "--force")
    assert code == 0 and "SVG, 20 mm" in err
    assert ET.fromstring(out.read_bytes()).attrib["width"] == "20mm"
    code, _, err = cli("reference-code", "--case", "123", "-o", str(tmp_path / "x.svg"))
    assert code == 3 and "invalid case number '123'" in err
    code, _, err = cli("reference-code", "--case", CASE, "--size-mm", "10", "-o", str(tmp_path / "x.svg"))
    assert code == 3 and "15 to 60 mm" in err
    code, _, err = cli(
        "reference-code", "--case", CASE, "--reference", "x" * 65, "-o", str(tmp_path / "x.svg")
    )
    assert code == 3 and "at most 64 characters" in err
    assert not (tmp_path / "x.svg").exists()


def jbig2_page_pdf(path: Path) -> tuple[bytes, bytes]:
    """A one-page PDF whose page is a JBIG2 image with a globals stream, as production scanners write
    them; the streams' bytes are made up (no JBIG2 encoder is installable here): what is tested is that
    a split carries both streams over byte for byte, not how they decode. Returns (image, globals)."""
    from pypdf import PdfWriter
    from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject, NumberObject

    writer = PdfWriter()
    page = writer.add_blank_page(width=595, height=842)
    image_data, globals_data = (
        b"\x00\x00\x00\x01JBIG2-page-segments" * 40,
        b"\x00\x00\x00\x00JBIG2-globals" * 20,
    )
    shared = DecodedStreamObject()
    shared.set_data(globals_data)
    image = DecodedStreamObject()
    image.set_data(image_data)
    image.update({
        NameObject("/Type"): NameObject("/XObject"), NameObject("/Subtype"): NameObject("/Image"),
        NameObject("/Width"): NumberObject(1654), NameObject("/Height"): NumberObject(2339),
        NameObject("/ColorSpace"): NameObject("/DeviceGray"),
        NameObject("/BitsPerComponent"): NumberObject(1),
        NameObject("/Filter"): NameObject("/JBIG2Decode"),
        NameObject("/DecodeParms"): DictionaryObject(
            {NameObject("/JBIG2Globals"): writer._add_object(shared)}
        ),
    })  # fmt: skip
    page[NameObject("/Resources")] = DictionaryObject(
        {NameObject("/XObject"): DictionaryObject({NameObject("/Im0"): writer._add_object(image)})}
    )
    content = DecodedStreamObject()
    content.set_data(b"q 595 0 0 842 0 0 cm /Im0 Do Q")
    page[NameObject("/Contents")] = writer._add_object(content)
    with path.open("wb") as fh:
        writer.write(fh)
    return image_data, globals_data


def test_a_jbig2_page_keeps_its_image_and_its_globals_stream(archive: Archive, tmp_path: Path) -> None:
    from pypdf import PdfReader, PdfWriter

    jbig2 = tmp_path / "jbig2.pdf"
    image_data, globals_data = jbig2_page_pdf(jbig2)
    head = tmp_path / "head.pdf"
    scans.write_scan_pdf(head, [cover(seed=1), *letter(1)], dpi=DPI)
    stack = tmp_path / "post.pdf"
    writer = PdfWriter()
    writer.append(PdfReader(head))
    writer.append(PdfReader(jbig2))
    with stack.open("wb") as fh:
        writer.write(fh)
    (doc,) = api.import_stack(archive, OPERATOR, stack).documents
    assert doc.page_count == 2
    part = PdfReader(io.BytesIO(original(archive, doc.document_id)))
    image = part.pages[1]["/Resources"]["/XObject"]["/Im0"].get_object()
    assert image["/Filter"] == "/JBIG2Decode"
    assert image._data == image_data
    assert image["/DecodeParms"]["/JBIG2Globals"].get_object()._data == globals_data


def test_pages_after_a_sheet_whose_code_cannot_be_read_go_to_the_postkorb(
    archive: Archive, tmp_path: Path
) -> None:
    """Precision first: a stained cover sheet for another household must not put its letters into the
    case of the cover sheet before it."""
    from tests.unit.test_sheets import stapled_sheet

    path = tmp_path / "post.pdf"
    scans.write_scan_pdf(path, [cover(seed=1), *letter(1), stapled_sheet(OTHER_CASE), *letter(2)], dpi=DPI)
    report = api.import_stack(archive, OPERATOR, path)
    assert [(p.kind, p.first_page, p.last_page, p.case_number) for p in report.parts] == [
        ("cover", 1, 1, CASE), ("document", 2, 2, CASE), ("document", 3, 4, POSTKORB_CASE),
    ]  # fmt: skip
    assert (
        report.parts[2].postkorb == "page 3 carries a QR code that could not be read: it may be a cover sheet"
    )


def test_a_cover_sheet_naming_a_long_unknown_type_sends_its_letter_to_the_postkorb(
    archive: Archive, tmp_path: Path
) -> None:
    """What the sheet said is recorded cut to the columns (PostgreSQL enforces their widths)."""
    long_type = "Einkommensbescheinigung des Arbeitgebers nach § 58 SGB II für den Monat Oktober 2026"
    path = tmp_path / "post.pdf"
    scans.write_scan_pdf(path, [cover(CASE, long_type, seed=1), *letter(1)], dpi=DPI)
    report = api.import_stack(archive, OPERATOR, path)
    assert report.documents[0].case_number == POSTKORB_CASE
    with archive.reading() as session:
        recorded = session.scalar(select(StackPart.document_type).where(StackPart.kind == "cover"))
    assert recorded == long_type[:64]
