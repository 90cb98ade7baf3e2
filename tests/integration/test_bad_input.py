"""Bad input at the scanning station, all in one batch folder, through the real CLI process on both stacks:
each refused file gets a one-line reason in rejected/, nothing of it is stored, no traceback is printed,
the exit code says some were refused, and the good files of the same batch are stored all the same."""

from __future__ import annotations

import io
import json
import os
import struct
import zlib
from pathlib import Path

from sqlalchemy import func, select

from ekakte.actor import Actor
from ekakte.archive import Archive
from ekakte.config import load_settings
from ekakte.db.models import Document, Page
from ekakte.errors import ExitCode
from ekakte.integrity import verify
from ekakte.principals import add_user
from tests.conftest import ADMIN, CASE, ekakte_process, scans

GOOD_SIDECAR = {"case": CASE, "type": "Antrag"}


def pdf(pages: int = 1, seed: int = 0) -> bytes:
    return scans.pdf_bytes([[f"Seite {i + 1}", f"Muster {seed}"] for i in range(pages)], dpi=50, seed=seed)


def blank_pdf(pages: int) -> bytes:
    from pypdf import PdfWriter

    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(595, 842)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def encrypted_pdf() -> bytes:
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(595, 842)
    writer.encrypt(user_password="geheim", owner_password="geheim")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def broken_xref_pdf() -> bytes:
    """A readable PDF whose cross-reference table points at the wrong offsets (readers rebuild it)."""
    data = pdf(seed=41)
    start = data.rindex(b"xref")
    table = data[start:].replace(b" 00000 n", b" 00000 n").split(b"\n")
    broken = [
        (
            b"%010d 00000 n" % (int(line[:10]) + 7)
            if line.endswith(b" 00000 n") and line[:10].isdigit()
            else line
        )
        for line in table
    ]
    return data[:start] + b"\n".join(broken)


def nested_pdf(depth: int = 50_000) -> bytes:
    """A one-page PDF whose page carries an array nested `depth` deep."""
    nest = b"[" * depth + b"]" * depth
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Deep " + nest + b" >>",
    ]
    out = bytearray(b"%PDF-1.7\n")
    offsets = []
    for n, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % n + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def png_bomb(side: int = 40_000) -> bytes:
    """A tiny PNG that claims side x side pixels (1.6 gigapixels): a decompression bomb."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    row = b"\x00" + b"\x00" * (side // 8)
    compressor = zlib.compressobj(9)
    data = b"".join(compressor.compress(row) for _ in range(64)) + compressor.flush()
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")


def bogus_tiff() -> bytes:
    """A TIFF whose strip offsets and byte counts point far past its end."""
    good = scans.tiff_bytes([["Seite 1", "Muster"]], dpi=50)
    from PIL import Image, TiffImagePlugin

    img = Image.open(io.BytesIO(good))
    info = TiffImagePlugin.ImageFileDirectory_v2()
    info[256] = img.width
    info[257] = img.height
    out = io.BytesIO()
    img.save(out, "TIFF", tiffinfo=info)
    data = bytearray(out.getvalue())
    ifd = struct.unpack("<I", data[4:8])[0]
    for n in range(struct.unpack("<H", data[ifd : ifd + 2])[0]):
        entry = ifd + 2 + 12 * n
        tag, _kind, _count = struct.unpack("<HHI", data[entry : entry + 8])
        if tag in (273, 279):  # StripOffsets, StripByteCounts
            data[entry + 8 : entry + 12] = struct.pack("<I", 0x7FFF_FFF0)
    return bytes(data)


# name -> (bytes of the file, sidecar or None (the batch's --case/--type apply), expected reason or None).
def bad_inputs() -> dict[str, tuple[bytes, object, str | None]]:
    good = pdf(seed=1)
    return {
        "leer.pdf": (b"", None, "empty file"),
        "abgeschnitten.pdf": (pdf(seed=2)[:600], None, "truncated PDF"),
        "kein-pdf.pdf": (("Sehr geehrte Damen und Herren,\n" * 20).encode(), None, "not a PDF, TIFF"),
        "html.pdf": (b"<html><body>%PDF-1.4 hidden</body></html>", None, "truncated PDF"),
        "bombe.png": (png_bomb(), None, "image too large"),
        "verschachtelt.pdf": (nested_pdf(), None, "damaged PDF"),
        "tiff-kaputt.tif": (bogus_tiff(), None, "damaged TIFF"),
        "abgeschnitten.jpg": (scans.image_bytes(["Seite"], "JPEG", dpi=50)[:900], None, "damaged JPEG"),
        "sidecar-kein-json.pdf": (pdf(seed=3), "{case: 12345BG0001234", "not valid UTF-8 JSON"),
        "sidecar-liste.pdf": (pdf(seed=4), [CASE, "Antrag"], "must be a JSON object"),
        "sidecar-typ.pdf": (pdf(seed=5), {"case": 12345, "type": "Antrag"}, "must be a string"),
        "sidecar-riesig.pdf": (pdf(seed=6), {**GOOD_SIDECAR, "title": "x" * 100_000}, "larger than 64 KiB"),
        "sidecar-feld.pdf": (pdf(seed=7), {**GOOD_SIDECAR, "path": "../../etc/passwd"}, "unknown field"),
        "sidecar-pfad.pdf": (
            pdf(seed=8),
            {"case": "../../etc/passwd", "type": "Antrag"},
            "invalid case number",
        ),
        "sidecar-typ-pfad.pdf": (pdf(seed=9), {"case": CASE, "type": "../Antrag"}, "document type"),
        "aktenzeichen.pdf": (
            pdf(seed=10),
            {"case": "12345BG000123", "type": "Antrag"},
            "invalid case number",
        ),
        "datum.pdf": (pdf(seed=11), {**GOOD_SIDECAR, "received": "31.02.2026"}, "invalid received date"),
        "zukunft.pdf": (pdf(seed=12), {**GOOD_SIDECAR, "received": "2999-01-01"}, "in the future"),
        "sidecar-bytes.pdf": (pdf(seed=13), b"\xff\xfe{\x00", "not valid UTF-8 JSON"),
        # Stored: unusual but good.
        "verschlüsselt.pdf": (encrypted_pdf(), None, None),
        "xref-kaputt.pdf": (broken_xref_pdf(), None, None),
        "Bescheid_Müller_Straße_ß_日本_🙂.pdf": (good, None, None),
        "Bescheid_Mu\u0308ller_nfd.pdf": (pdf(seed=14), None, None),
        "zweitausend.pdf": (blank_pdf(2000), None, None),
        "\u202ereversed-fdp.pdf": (pdf(seed=15), None, None),
    }


def run_cli(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    proc = ekakte_process(env, *args)
    out, err = proc.communicate(timeout=600)
    return proc.returncode, out, err


def test_a_batch_of_bad_input_rejects_each_with_its_reason_and_stores_the_rest(
    stack_env: dict[str, str], tmp_path: Path
) -> None:
    with Archive.open(load_settings(stack_env)) as archive:
        add_user(archive, ADMIN, Actor.from_os().name, ["scan_operator"])
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    inputs = bad_inputs()
    for name, (data, sidecar, _reason) in inputs.items():
        (inbox / name).write_bytes(data)
        if isinstance(sidecar, bytes):
            (inbox / f"{name}.json").write_bytes(sidecar)
        elif isinstance(sidecar, str):
            (inbox / f"{name}.json").write_text(sidecar, encoding="utf-8")
        elif sidecar is not None:
            (inbox / f"{name}.json").write_text(json.dumps(sidecar), encoding="utf-8")
    # A file name that is not UTF-8 at all (Linux allows any bytes but / and NUL), and a symbolic
    # link pointing out of the inbox: neither may be read.
    raw_name = os.fsencode(inbox) + b"/scan-\xff\xfe.pdf"
    with open(raw_name, "wb") as fh:
        fh.write(pdf(seed=16))
    secret = tmp_path / "geheim.pdf"
    secret.write_bytes(pdf(seed=17))
    (inbox / "link.pdf").symlink_to(secret)
    (inbox / "tot.pdf").symlink_to(tmp_path / "gibt-es-nicht.pdf")  # dangling

    code, _out, stderr = run_cli(
        stack_env,
        "import",
        "--allow-root",
        "--batch",
        str(inbox),
        "--case",
        CASE,
        "--type",
        "Antrag",
        "--settle",
        "0.01",
    )

    assert "Traceback" not in stderr and "Warning" not in stderr, stderr
    assert code == ExitCode.PARTIAL, stderr
    rejected = inbox / "rejected"
    expected_rejections = {n: r for n, (_d, _s, r) in inputs.items() if r is not None}
    reasons = {
        p.name.removesuffix(".reason.txt"): p.read_text(encoding="utf-8")
        for p in rejected.glob("*.reason.txt")
    }
    for name, reason in expected_rejections.items():
        assert name in reasons, f"{name} was not rejected; stderr: {stderr}"
        assert reason in reasons[name], (name, reasons[name])
    assert all(r.endswith("\n") and "\n" not in r[:-1] for r in reasons.values()), reasons
    for link in ("link.pdf", "tot.pdf"):
        assert "not a regular file (a symbolic link)" in reasons[link]
    assert secret.exists()  # the link was moved aside, not what it points to
    undecodable = [n for n in reasons if n.startswith("scan-")]
    assert undecodable and "file name" in reasons[undecodable[0]]
    for line in stderr.splitlines():  # one line per refusal, naming the file
        assert line.isprintable(), repr(line)

    stored_names = {n for n, (_d, _s, r) in inputs.items() if r is None}
    assert {p.name for p in (inbox / "done").iterdir()} == stored_names
    assert [p.name for p in inbox.iterdir() if p.is_file()] == []  # nothing left behind
    with Archive.open(load_settings(stack_env)) as archive:
        with archive.reading() as session:
            names = set(session.scalars(select(Document.original_filename)))
            pages = dict(
                session.execute(
                    select(Document.original_filename, func.count(Page.id))
                    .join(Page, Page.document_id == Document.id)
                    .group_by(Document.original_filename)
                ).all()
            )
        assert names == stored_names
        assert pages["zweitausend.pdf"] == 2000
        with archive.reading() as session:
            (locked,) = session.execute(
                select(Page.ocr_state, Page.reason)
                .join(Document, Document.id == Page.document_id)
                .where(Document.original_filename == "verschlüsselt.pdf")
            ).all()
        assert locked.ocr_state == "skipped" and locked.reason.startswith("encrypted PDF")
        report = verify(archive, ADMIN)
        assert report.problems == []  # nothing half-stored: no object without its row, none missing
