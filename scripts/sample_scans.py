"""Synthetic scans with known German text, written as a scanner would (PDF, multi-page TIFF, JPEG, PNG).

Usage: python scripts/sample_scans.py OUTDIR [--case 12345BG0001234]
Writes a handful of scans plus NAME.json sidecars into OUTDIR, ready for `ekakte import --batch OUTDIR`.
The functions are also used by the tests and benchmarks.
"""

from __future__ import annotations

import argparse
import io
import json
import random
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

A4_MM = (210, 297)

LETTERS = {
    "Antrag": [
        "Antrag auf Leistungen zur Sicherung des Lebensunterhalts",
        "nach dem Zweiten Buch Sozialgesetzbuch (SGB II)",
        "Hiermit beantrage ich Bürgergeld für meine Bedarfsgemeinschaft.",
        "Unterschrift: Erika Musterfrau, Köln",
    ],
    "Mietvertrag": [
        "Mietvertrag über Wohnraum",
        "Die Wohnung in der Straße Am Grünen Weg 12 wird vermietet.",
        "Die monatliche Grundmiete beträgt 450,00 Euro zuzüglich Nebenkosten.",
        "Die Kaution beträgt drei Monatsmieten.",
    ],
    "Kontoauszug": [
        "Kontoauszug Nr. 3 / März",
        "Kontostand alt 1.234,56 Euro",
        "Gutschrift Jobcenter 563,00 Euro",
        "Lastschrift Stadtwerke Abschlag 87,00 Euro",
    ],
    "Bescheid": [
        "Bewilligungsbescheid",
        "Ihnen werden Leistungen für die Zeit vom 01.01. bis 30.06. bewilligt.",
        "Gegen diesen Bescheid kann innerhalb eines Monats Widerspruch erhoben werden.",
    ],
}


def page_image(lines: list[str], dpi: int = 150, seed: int = 0) -> Image.Image:
    """One A4 page in greyscale with the given lines of text, as a flatbed scanner would see it."""
    rng = random.Random(seed)
    width, height = (round(mm / 25.4 * dpi) for mm in A4_MM)
    img = Image.new("L", (width, height), 250)
    draw = ImageDraw.Draw(img)
    font = ImageFont.load_default(size=max(12, dpi // 6))
    y = dpi
    for line in lines:
        draw.text((dpi, y), line, fill=rng.randint(10, 40), font=font)
        y += dpi // 3
    return img


def pdf_bytes(pages: list[list[str]], dpi: int = 150, quality: int = 75, seed: int = 0) -> bytes:
    """A scanner-style PDF: one JPEG image per page, no text layer."""
    images = [page_image(lines, dpi, seed + i) for i, lines in enumerate(pages)]
    out = io.BytesIO()
    images[0].save(out, "PDF", resolution=dpi, save_all=True, append_images=images[1:], quality=quality)
    return out.getvalue()


def tiff_bytes(pages: list[list[str]], dpi: int = 150) -> bytes:
    images = [page_image(lines, dpi, i) for i, lines in enumerate(pages)]
    out = io.BytesIO()
    images[0].save(
        out, "TIFF", save_all=True, append_images=images[1:], compression="tiff_lzw", dpi=(dpi, dpi)
    )
    return out.getvalue()


def image_bytes(lines: list[str], fmt: str, dpi: int = 150) -> bytes:
    out = io.BytesIO()
    page_image(lines, dpi).save(out, fmt, dpi=(dpi, dpi))
    return out.getvalue()


def write_demo_batch(outdir: Path, case_number: str) -> list[Path]:
    """A small scanning-station batch for one case: four formats, sidecars, one file without sidecar."""
    outdir.mkdir(parents=True, exist_ok=True)
    files = {
        "scan-0001.pdf": (
            pdf_bytes([LETTERS["Antrag"], ["Seite 2 des Antrags", "Anlagen: Mietvertrag"]]),
            {"type": "Antrag", "received": "2026-11-02", "title": "Antrag auf Bürgergeld"},
        ),
        "scan-0002.tif": (
            tiff_bytes([LETTERS["Mietvertrag"], ["Seite 2", "Unterschriften der Parteien"]]),
            {"type": "Mietvertrag", "received": "2026-11-03"},
        ),
        "scan-0003.jpg": (
            image_bytes(LETTERS["Kontoauszug"], "JPEG"),
            {"type": "kontoauszug", "received": "05.11.2026", "title": "Kontoauszug März"},
        ),
        "scan-0004.png": (
            image_bytes(LETTERS["Bescheid"], "PNG"),
            {"type": "Bescheid", "received": "2026-11-10"},
        ),
        # A file that is not a scan: the batch must refuse it and go on.
        "scan-0005.pdf": (b"Dies ist kein PDF, nur Text mit der Endung .pdf\n", {"type": "Antrag"}),
    }
    written = []
    for name, (data, sidecar) in files.items():
        path = outdir / name
        path.write_bytes(data)
        (outdir / (Path(name).stem + ".json")).write_text(
            json.dumps({"case": case_number, **sidecar}, ensure_ascii=False), encoding="utf-8"
        )
        written.append(path)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--case", default="12345BG0001234")
    args = parser.parse_args()
    for path in write_demo_batch(args.outdir, args.case):
        print(path)


if __name__ == "__main__":
    main()
