"""What the OCR worker asks of an OCR engine (the small protocol), and what an engine answers."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class Recognized:
    text: str
    confidence: float  # mean of the engine's word confidences, 0-100; 0 when it found no words
    words: int
    language: str  # the language models it read with, e.g. "deu+eng"
    rotation: int = 0  # degrees (clockwise) the page was turned before it was read
    # The engine's text-only PDF of the page as it was read (turned by `rotation`): the invisible words
    # where they lie on the image, for the searchable rendition (ekakte.ocr.rendition); None unless asked.
    layer: bytes | None = None


class OcrError(Exception):
    """The engine failed on one page; the page is tried again (a bounded number of times)."""


class OcrEngine(Protocol):
    """Reads page images for the worker's reading threads, several pages at once.

    Files an engine writes go beside the image it was given: that is the worker's private folder, which
    is removed with whatever a killed worker left in it (ocr/worker.py, remove_leftover_workdirs).
    """

    def check(self, languages: str) -> None:
        """ConfigError unless the engine can read `languages` (e.g. deu+eng); asked once when a worker
        starts, before it claims a page."""

    def name(self) -> str:
        """What read a page, for its `engine` column: e.g. "tesseract 5.3.0"."""

    def recognize(self, image: Path, languages: str, dpi: int | None, layer: bool = False) -> Recognized:
        """The text of one page image as it lies; OcrError when the engine fails on it. With `layer`, in
        the same run also the page's text-only PDF (Recognized.layer), the page the size of the image."""

    def detect_rotation(self, image: Path, dpi: int | None) -> int:
        """Degrees to turn the page clockwise to make it upright (0, 90, 180, 270); 0 when unsure."""
