"""The reference code (Bezugscode) the benefits software prints on the job centre's letters: SVG or PNG.

The code is a QR code naming the letter's case and its own reference (codes.Reference), drawn square,
`size_mm` wide with its quiet zone, for the software's letter templates to place. SVG is vector squares
(sharp at any printer resolution); PNG is 1 bit per pixel at the printer's `dpi`, its pHYs chunk saying so,
so that it prints at its size. The same input gives the same bytes.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from ekakte.mailroom.codes import MAX_REFERENCE, Reference, encode
from ekakte.mailroom.coversheet import dark_runs, qr_modules

if TYPE_CHECKING:
    from ekakte.config import Settings

# Error correction level Q: a quarter of the code may be lost and it still reads. A letter is folded
# (a crease across the code loses a row or two of modules), punched, stamped on arrival and written on;
# H would recover 30 % instead of 25 %, but make the code a version larger, so each module smaller at the
# same printed size, and a small module is what fails first on a 200 dpi scan.
EC_LEVEL = "Q"
QUIET_ZONE = 4  # modules of white around the code, as the QR standard asks
FORMATS = ("svg", "png")
# The module (one square of the code) is what a scan must resolve: on the test's simulated 200 dpi scans
# (tests/unit/test_reference_code.py), codes of modules of 0.33 mm (2.6 pixels) read every time; of
# 0.25 to 0.3 mm, a larger code now and then did not. An ordinary reference ("Anforderung 2026-11-30")
# makes a code of 37 modules, 45 with its quiet zone: 15 mm is its smallest size; 20 mm (the default)
# takes any reference of 64 ASCII characters. A long reference of other characters (up to four bytes
# each in UTF-8) needs more; a size too small for it is refused, never printed to be misread.
MIN_SIZE_MM, MAX_SIZE_MM = 15.0, 60.0
MIN_MODULE_MM = 0.33
MIN_DPI, MAX_DPI = 300, 1200  # a printer's resolutions; at 300 dpi a module is 4 pixels or more


def valid_reference(reference: str | None) -> str | None:
    """A letter's reference as its code carries it (trimmed; empty is none), or InvalidInput."""
    from ekakte.errors import InvalidInput

    reference = (reference or "").strip() or None
    if reference is not None and (len(reference) > MAX_REFERENCE or not reference.isprintable()):
        raise InvalidInput(
            f"invalid reference: at most {MAX_REFERENCE} characters on one line, no control or direction"
            " characters",
            field="reference",
        )
    return reference


def reference_code(
    settings: Settings,
    case_number: str,
    reference: str | None = None,
    *,
    fmt: str = "svg",
    size_mm: float = 20.0,
    dpi: int = 300,
) -> bytes:
    """The reference code for a letter of a case, as an SVG or PNG image `size_mm` wide and high (quiet
    zone included). InvalidInput for a case number the archive would not take at import, a reference
    that is not one printable line of at most 64 characters, a size outside 15 to 60 mm or too small
    for the reference's code: a code is checked when it is printed, not when its letter comes back."""
    from ekakte.errors import InvalidInput

    if fmt not in FORMATS:
        raise InvalidInput(f"unknown format {fmt!r}: expected one of {', '.join(FORMATS)}", field="format")
    if not MIN_SIZE_MM <= size_mm <= MAX_SIZE_MM:
        raise InvalidInput(
            f"the code's size must be {MIN_SIZE_MM:g} to {MAX_SIZE_MM:g} mm (a smaller one reads unreliably"
            " on a 200 dpi scan)",
            field="size_mm",
        )
    if not MIN_DPI <= dpi <= MAX_DPI:
        raise InvalidInput(f"the resolution must be {MIN_DPI} to {MAX_DPI} dpi", field="dpi")
    code = Reference(settings.case_number(case_number), valid_reference(reference))
    modules = qr_modules(encode(code), EC_LEVEL)
    width = len(modules) + 2 * QUIET_ZONE
    if size_mm / width < MIN_MODULE_MM:
        raise InvalidInput(
            f"the code of this reference needs at least {math.ceil(width * MIN_MODULE_MM)} mm:"
            " a larger size or a shorter reference",
            field="size_mm",
        )
    if fmt == "svg":
        return _svg(modules, size_mm)
    return _png(modules, size_mm, dpi)


def _svg(modules: list[list[bool]], size_mm: float) -> bytes:
    """One white square (the quiet zone), then a black rectangle per run of dark modules, in a viewBox
    of modules: no fonts, no links, nothing to fetch."""
    width = len(modules) + 2 * QUIET_ZONE
    size = f"{size_mm:.3f}".rstrip("0").rstrip(".")
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="{size}mm" height="{size}mm"'
        f' viewBox="0 0 {width} {width}" shape-rendering="crispEdges">',
        f'<rect x="0" y="0" width="{width}" height="{width}" fill="#ffffff"/>',
    ]
    for y, row in enumerate(modules):
        for start, length in dark_runs(row):
            lines.append(
                f'<rect x="{start + QUIET_ZONE}" y="{y + QUIET_ZONE}" width="{length}" height="1"'
                ' fill="#000000"/>'
            )
    lines.append("</svg>")
    return ("\n".join(lines) + "\n").encode("utf-8")


def _png(modules: list[list[bool]], size_mm: float, dpi: int) -> bytes:
    """The code at `dpi`, 1 bit per pixel. Module edges fall on the pixel nearest their place, so the
    image is exactly `size_mm` wide whatever the dpi (a module one pixel wider or narrower than the next
    does not matter to a reader: it samples each module's middle)."""
    import io

    from PIL import Image, ImageDraw

    width = len(modules) + 2 * QUIET_ZONE
    pixels = round(size_mm / 25.4 * dpi)
    edge = [round(i * pixels / width) for i in range(width + 1)]
    image = Image.new("1", (pixels, pixels), 1)
    draw = ImageDraw.Draw(image)
    for y, row in enumerate(modules):
        top, bottom = edge[y + QUIET_ZONE], edge[y + QUIET_ZONE + 1]
        for start, length in dark_runs(row):
            left, right = edge[start + QUIET_ZONE], edge[start + QUIET_ZONE + length]
            draw.rectangle((left, top, right - 1, bottom - 1), fill=0)
    out = io.BytesIO()
    image.save(out, "PNG", dpi=(dpi, dpi))
    return out.getvalue()
