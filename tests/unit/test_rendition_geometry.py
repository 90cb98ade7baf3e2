"""Where a page's text layer is laid (ekakte.ocr.rendition.layer_matrix): the layer is of the page's image
turned clockwise by the worker (and, for a page PDFium rendered, by the page's /Rotate); its words must
land where they are on the page as it lies."""

from __future__ import annotations

import pytest
from pypdf.generic import RectangleObject

from ekakte.ocr.rendition import layer_matrix

PAGE = RectangleObject([10, 20, 610, 820])  # 600 × 800, not at the origin


def apply(matrix: tuple[float, ...], x: float, y: float) -> tuple[float, float]:
    a, b, c, d, e, f = matrix
    return (round(a * x + c * y + e, 6), round(b * x + d * y + f, 6))


def turned(x: float, y: float, turn: int) -> tuple[float, float]:
    """Where the page's point (x, y) (from the box's lower left) is on the image turned `turn` degrees
    clockwise, the image's lower left at 0, 0 (PDF's y upwards)."""
    w, h = 600.0, 800.0
    return {0: (x, y), 90: (y, w - x), 180: (w - x, h - y), 270: (h - y, x)}[turn]


@pytest.mark.parametrize("turn", [0, 90, 180, 270])
@pytest.mark.parametrize("scale", [1.0, 0.24])  # a layer of the page's size, or of another (its dpi)
def test_a_word_on_the_turned_image_lands_on_the_same_word_of_the_page(turn: int, scale: float) -> None:
    sideways = turn in (90, 270)
    layer = RectangleObject([0, 0, (800 if sideways else 600) * scale, (600 if sideways else 800) * scale])
    matrix = layer_matrix(PAGE, layer, turn)
    for x, y in [(0, 0), (600, 800), (50, 700), (590, 15), (300, 400)]:  # corners, a word top left, …
        on_image = turned(x, y, turn)
        assert apply(matrix, on_image[0] * scale, on_image[1] * scale) == (x + 10, y + 20)
