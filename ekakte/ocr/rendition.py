"""The searchable PDF beside a scanned document: the original's pages with the invisible text layers that
tesseract wrote while it read them (pages.layer) laid on, made once the document's last page is read.

No second OCR pass: each layer is tesseract's text-only PDF of the page image it read (`textonly_pdf`),
the words in invisible text (render mode 3) where they lie on that image. Laid on:
  - a PDF original's own pages (pypdf): the page content, images included, is the original's, byte for
    byte; the layer is drawn over it as a form XObject, scaled to the page's box and turned back by what
    the worker turned the image (and, for a page PDFium rendered, by the page's /Rotate: that image is
    the page as shown);
  - a TIFF, JPEG or PNG original's images, put into PDF pages without re-encoding them (img2pdf: JPEG as
    it is, TIFF G3/G4 as it is, other pixels compressed losslessly).
A page that failed OCR (or whose text was taken from the PDF's own text layer) keeps its page as it is.
A document with no layer at all (every page failed, an encrypted PDF whose pages were skipped, a PDF
with text of its own) gets no rendition.

The order of writes, so that a crash between any two leaves a state a later run finishes:
  1. the layers were recorded with their pages' text (worker, one transaction per page);
  2. the rendition is made and stored under a new key (rendition_key: never overwritten);
  3. one transaction: the document's row locked, still `stored` and its rendition still the one this
     maker started from → the Rendition row written, the layers it used cleared;
  4. on an Object Lock store the rendition gets its original's retain-until date and legal hold;
  5. a rendition it replaced is deleted from the store.
A crash after 2 leaves an unreferenced object (verify names it, gc removes it) and the layers, from which
an OCR worker with no page to read makes it again (finish_renditions); a crash after 3 leaves a rendition
the store was not told to lock (verify names it, the next sync tells it). A maker that finds at 3 that
another was faster (or the sweep took the document) deletes its object: one rendition is recorded,
whatever races.
"""

from __future__ import annotations

import io
import logging
import shutil
import tempfile
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import exists, func, select, update
from sqlalchemy.orm import aliased

from ekakte.archive import Archive
from ekakte.db.models import Document, DocumentState, OcrState, Page, Rendition
from ekakte.derived import SEARCHABLE_PDF
from ekakte.errors import EkakteError
from ekakte.media import PDF
from ekakte.ocr.pages import RENDERED
from ekakte.retention.worm import lock_derived
from ekakte.storage import read_verified
from ekakte.storage.base import file_sha256, rendition_key

log = logging.getLogger(__name__)

KIND = SEARCHABLE_PDF
MEDIA_TYPE = "application/pdf"
# What the rendition is, for its `conformance` column and docs/renditions.md: not PDF/A (the original's
# own PDF content is carried as it is, and no validator was at hand to prove more).
NOT_PDFA = "page images with an invisible text layer; not PDF/A"

# Made, not made yet, or nothing to make: what make_rendition did.
MADE = "made"
NOT_READY = "not ready"  # pages still to be read
NOTHING = "nothing"  # no layer to lay on (or the document is gone or being deleted)
LOST = "lost"  # another maker recorded one first, or the sweep took the document meanwhile


@dataclass(frozen=True)
class _Layer:
    page_id: int
    number: int
    pdf: bytes
    rotation: int  # degrees the worker turned the image (clockwise) before it was read
    rendered: bool  # the image was the page rendered by PDFium (as shown), not its embedded JPEG


@dataclass(frozen=True)
class _Source:
    media_type: str
    key: str
    sha256: str
    size: int
    rendition: str | None  # the key of the rendition made before (retried pages), None for the first


def make_rendition(
    archive: Archive, document_id: uuid.UUID, original: Path | None = None, workdir: Path | None = None
) -> str:
    """Make, store and record the document's searchable PDF from its pages' layers, if all its pages are
    read (MADE, NOT_READY, NOTHING or LOST). `original`: a local, verified copy the worker has at hand
    (else it is fetched, verified). A document that has a rendition already and layers again (pages
    retried after a failure) gets a new one, made from the one before: older layers were cleared."""
    found = _source_and_layers(archive, document_id)
    if isinstance(found, str):
        return found
    source, layers = found
    tmp = Path(tempfile.mkdtemp(prefix="rendition-", dir=workdir))
    key = rendition_key(document_id, KIND)
    try:
        if source.rendition is not None:
            base = _fetch(archive, source.rendition, tmp / "base.pdf")
            media_type = PDF
        elif original is not None:
            base, media_type = original, source.media_type
        else:
            base = _fetch(archive, source.key, tmp / "original", source.sha256, source.size)
            media_type = source.media_type
        out = tmp / "searchable.pdf"
        with out.open("wb") as fh:
            engine, version = compose(base, media_type, layers, fh)
        with out.open("rb") as fh:
            sha256, size = file_sha256(fh)
            fh.seek(0)
            archive.store.put(key, fh, size, sha256, MEDIA_TYPE)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    conformance = f"PDF {version}, {NOT_PDFA}"
    recorded = _record(archive, document_id, source, key, sha256, size, engine, conformance, layers)
    if recorded:  # on an Object Lock store as long as the original; not before: a loser's object must go
        lock_derived(archive, document_id, key)
    old = source.rendition if recorded else key
    if old is not None:
        try:
            refused = archive.store.delete_many([old])
        except EkakteError as exc:
            refused = {old: str(exc)}
        if refused:  # an unreferenced object: verify names it, gc removes it (once the store lets go)
            log.warning("could not delete the rendition object %s: %s", old, refused[old])
    return MADE if recorded else LOST


def _source_and_layers(archive: Archive, document_id: uuid.UUID) -> tuple[_Source, list[_Layer]] | str:
    with archive.reading() as session:
        doc = session.execute(
            select(
                Document.state, Document.media_type, Document.storage_key, Document.sha256,
                Document.size_bytes,
            ).where(Document.id == document_id)
        ).first()  # fmt: skip
        if doc is None or doc.state != DocumentState.STORED:
            return NOTHING
        pending = session.scalar(
            select(func.count())
            .select_from(Page)
            .where(Page.document_id == document_id, Page.ocr_state == OcrState.PENDING)
        )
        if pending:
            return NOT_READY
        rows = session.execute(
            select(Page.id, Page.number, Page.layer, Page.rotation, Page.engine)
            .where(Page.document_id == document_id, Page.layer.is_not(None))
            .order_by(Page.number)
        ).all()
        if not rows:
            return NOTHING
        before = session.scalar(
            select(Rendition.storage_key).where(Rendition.document_id == document_id, Rendition.kind == KIND)
        )
    layers = [
        _Layer(r.id, r.number, r.layer, (r.rotation or 0) % 360, (r.engine or "").endswith(f"({RENDERED})"))
        for r in rows
    ]
    return _Source(doc.media_type, doc.storage_key, doc.sha256, doc.size_bytes, before), layers


def _fetch(
    archive: Archive, key: str, path: Path, sha256: str | None = None, size: int | None = None
) -> Path:
    if sha256 is None or size is None:
        with archive.reading() as session:
            row = session.execute(
                select(Rendition.sha256, Rendition.size_bytes).where(Rendition.storage_key == key)
            ).one()
        sha256, size = row[0], row[1]
    with path.open("wb") as out:
        for chunk in read_verified(archive.store, key, sha256, size):
            out.write(chunk)
    return path


def _record(
    archive: Archive,
    document_id: uuid.UUID,
    source: _Source,
    key: str,
    sha256: str,
    size: int,
    engine: str,
    conformance: str,
    layers: list[_Layer],
) -> bool:
    """Step 3: True when this maker's rendition is the document's now."""
    with archive.transaction() as session:
        state = session.scalar(
            select(Document.state).where(Document.id == document_id).with_for_update()
        )  # the sweep's mark and a second maker wait here, or this one waits for them
        if state != DocumentState.STORED:
            return False
        current = session.execute(
            select(Rendition).where(Rendition.document_id == document_id, Rendition.kind == KIND)
        ).scalar_one_or_none()
        if (current.storage_key if current is not None else None) != source.rendition:
            return False
        values = {
            "storage_key": key, "sha256": sha256, "size_bytes": size, "made_at": datetime.now(UTC),
            "engine": engine[:60], "conformance": conformance[:100],
        }  # fmt: skip
        if current is None:
            session.add(Rendition(document_id=document_id, kind=KIND, **values))
        else:
            for name, value in values.items():
                setattr(current, name, value)
        session.execute(
            update(Page)
            .where(Page.id.in_([layer.page_id for layer in layers]))
            .values(layer=None)
            .execution_options(synchronize_session=False)
        )
    return True


def compose(base: Path, media_type: str, layers: Iterable[_Layer], out: BinaryIO) -> tuple[str, str]:
    """Write the searchable PDF: `base` (a PDF, or an image file made into one) with each layer laid on
    its page. Returns what made it (for the `engine` column) and the PDF version written."""
    import pypdf
    from pypdf import PdfReader, PdfWriter

    logging.getLogger("pypdf").setLevel(logging.ERROR)
    engine = f"pypdf {pypdf.__version__}"
    if media_type == PDF:
        reader = PdfReader(base)
    else:
        import img2pdf

        engine += f", img2pdf {img2pdf.__version__}"
        reader = PdfReader(io.BytesIO(img2pdf.convert(str(base))))
    writer = PdfWriter(clone_from=reader)
    for layer in layers:
        if layer.number <= len(writer.pages):
            _lay_on(writer, writer.pages[layer.number - 1], layer)
    version = _version(reader)
    writer.pdf_header = f"%PDF-{version}"
    writer.write(out)
    return engine, version


def _lay_on(writer: Any, page: Any, layer: _Layer) -> None:
    """Draw the layer's page as a form XObject over `page`, as OCRmyPDF does: the page's own content
    streams stay as they are (bracketed by q … Q), none is parsed or rewritten; the layer's content is
    copied as it is, its font (tesseract's GlyphLessFont, embedded) with it."""
    from pypdf import PdfReader
    from pypdf.generic import ArrayObject, DecodedStreamObject, DictionaryObject, NameObject

    text = PdfReader(io.BytesIO(layer.pdf)).pages[0]
    form = DecodedStreamObject()
    drawn = text.get_contents()  # its operators are not parsed unless asked for
    form.set_data(drawn.get_data() if drawn is not None else b"")
    form.update(
        {
            NameObject("/Type"): NameObject("/XObject"),
            NameObject("/Subtype"): NameObject("/Form"),
            NameObject("/BBox"): text.mediabox,
            NameObject("/Resources"): text["/Resources"].clone(writer),
        }
    )
    name = NameObject(f"/ekakteOCR{layer.number}")
    # A copy of the page's resources (they may be shared with other pages), with the layer added.
    resources = (
        DictionaryObject(page["/Resources"].get_object()) if "/Resources" in page else DictionaryObject()
    )
    xobjects = resources.get("/XObject")
    xobjects = DictionaryObject(xobjects.get_object()) if xobjects is not None else DictionaryObject()
    xobjects[name] = writer._add_object(form.flate_encode())
    resources[NameObject("/XObject")] = xobjects
    page[NameObject("/Resources")] = resources
    # A rendered image is the page as shown (its /Rotate applied), within its crop box; an embedded JPEG
    # and an image original are the page unturned, filling its media box.
    box = page.cropbox if layer.rendered else page.mediabox
    shown = (int(page.rotation or 0) if layer.rendered else 0) % 360
    matrix = layer_matrix(box, text.mediabox, (shown + layer.rotation) % 360)
    before, after = DecodedStreamObject(), DecodedStreamObject()
    before.set_data(b"q\n")
    after.set_data(
        b"\nQ\nq " + " ".join(f"{v:.6f}" for v in matrix).encode() + b" cm " + name.encode() + b" Do Q\n"
    )
    own: list[Any] = []
    if "/Contents" in page:
        contents = page.raw_get("/Contents")
        resolved = contents.get_object()
        own = list(resolved) if isinstance(resolved, ArrayObject) else [contents]
    page[NameObject("/Contents")] = ArrayObject([writer._add_object(before), *own, writer._add_object(after)])


def layer_matrix(box: Any, layer_box: Any, turn: int) -> tuple[float, float, float, float, float, float]:
    """The matrix that lays a layer onto a page's `box`, where the layer is of the page's image turned
    `turn` degrees clockwise: scaled to the box, and turned back (PDF's a b c d e f: x = a·x' + c·y' + e,
    y = b·x' + d·y' + f)."""
    x0, y0 = float(box.left), float(box.bottom)
    w, h = float(box.width), float(box.height)
    lw, lh = float(layer_box.width), float(layer_box.height)
    if turn == 90:  # the layer is h wide, w tall; its left edge is the page's top
        return (0.0, h / lw, -w / lh, 0.0, x0 + w, y0)
    if turn == 180:
        return (-w / lw, 0.0, 0.0, -h / lh, x0 + w, y0 + h)
    if turn == 270:
        return (0.0, -h / lw, w / lh, 0.0, x0, y0 + h)
    return (w / lw, 0.0, 0.0, h / lh, x0, y0)


def _version(reader: Any) -> str:
    """The original's PDF version, at least 1.5 (tesseract's layers are 1.5: object streams)."""
    header = str(getattr(reader, "pdf_header", "") or "")
    try:
        found = float(header.removeprefix("%PDF-")[:3])
    except ValueError:
        found = 1.5
    return f"{max(found, 1.5):.1f}"


def finish_renditions(
    archive: Archive, *, document_ids: Iterable[uuid.UUID] | None = None, settled: timedelta | None = None
) -> int:
    """Make the renditions a crashed maker left: documents still `stored` with every page read, layers
    kept and no page recorded within `settled` (by default the OCR lease: a maker that is alive has
    finished by then). Returns how many were made; a document that fails is logged and left for the
    next run."""
    settled = settled if settled is not None else timedelta(seconds=archive.settings.ocr_lease_seconds)
    before = datetime.now(UTC) - settled
    pending = aliased(Page)
    stmt = (
        select(Page.document_id)
        .join(Document, Document.id == Page.document_id)
        .where(Document.state == DocumentState.STORED, Page.layer.is_not(None))
        .where(~exists().where(pending.document_id == Document.id, pending.ocr_state == OcrState.PENDING))
        .group_by(Page.document_id)
    )
    if document_ids is not None:
        stmt = stmt.where(Page.document_id.in_(list(document_ids)))
    with archive.reading() as session:
        candidates = list(session.scalars(stmt))
        recent = set(
            session.scalars(
                select(Page.document_id)
                .where(Page.document_id.in_(candidates), Page.ocr_at > before)
                .group_by(Page.document_id)
            )
        ) if candidates else set()  # fmt: skip
    made = 0
    for document_id in candidates:
        if document_id in recent:
            continue
        try:
            made += make_rendition(archive, document_id) == MADE
        except Exception as exc:  # one document's trouble is not the queue's
            log.warning("could not make the searchable PDF of document %s: %s", document_id, exc)
    return made
