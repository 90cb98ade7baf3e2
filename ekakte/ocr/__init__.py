"""OCR: page content (pages), tesseract (engine), one page's work (task), the queue of pages (worker)."""
