"""OCR: page content (pages), the engine protocol (base) and tesseract (engine), one page's work (task),
the queue of pages (worker)."""

from ekakte.ocr.base import OcrEngine, OcrError, Recognized
from ekakte.ocr.engine import TesseractEngine

__all__ = ["OcrEngine", "OcrError", "Recognized", "TesseractEngine"]
