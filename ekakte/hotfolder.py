"""Batch import of a scanning station's folder: sidecars, done/ and rejected/ with reasons."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from ekakte.actor import Actor
from ekakte.archive import Archive
from ekakte.errors import STOPS_A_BATCH, EkakteError, InvalidInput, UnsupportedFile, shown
from ekakte.ingest import (
    BatchReport,
    DocumentMeta,
    Rejection,
    close_batch,
    import_document,
    parse_date,
    start_batch,
)

DONE = "done"
REJECTED = "rejected"
SIDECAR_FIELDS = ("case", "type", "received", "title", "document_date")
MAX_SIDECAR_BYTES = 64 * 1024

Progress = Callable[[Path, int], None]


def read_sidecar(path: Path) -> dict[str, str]:
    """A sidecar's fields, or InvalidInput saying in one line what is wrong with it."""
    try:
        with path.open("rb") as fh:
            raw = fh.read(MAX_SIDECAR_BYTES + 1)
    except OSError as exc:
        raise InvalidInput(f"sidecar {shown(path.name)} cannot be read: {exc.strerror}") from None
    if len(raw) > MAX_SIDECAR_BYTES:
        raise InvalidInput(f"sidecar {shown(path.name)} is larger than {MAX_SIDECAR_BYTES // 1024} KiB")
    try:
        data = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError) as exc:  # also UnicodeDecodeError, JSONDecodeError; and a
        # ValueError of its own for integers longer than sys.get_int_max_str_digits()
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InvalidInput(f"sidecar {shown(path.name)} is not valid UTF-8 JSON: {reason}") from None
    if not isinstance(data, dict):
        raise InvalidInput(
            f"sidecar {shown(path.name)} must be a JSON object with {', '.join(SIDECAR_FIELDS)}"
        )
    unknown = sorted(set(data) - set(SIDECAR_FIELDS))
    if unknown:
        raise InvalidInput(
            f"sidecar {shown(path.name)} has unknown field(s) {', '.join(map(repr, unknown))};"
            f" allowed: {', '.join(SIDECAR_FIELDS)}"
        )
    for key, value in data.items():
        if not isinstance(value, str):
            raise InvalidInput(f"sidecar {shown(path.name)}: {key!r} must be a string")
    return data


def batch_files(directory: Path) -> list[Path]:
    """The document files of a batch folder: visible, not sidecars, sorted by name. Symbolic links are
    listed so that they are refused and moved aside (see _import_one), not silently left."""
    return sorted(
        p
        for p in directory.iterdir()
        if (p.is_file() or p.is_symlink())
        and not p.name.startswith(".")
        and not p.name.lower().endswith(".json")
    )


def _sidecar_for(doc: Path, stem_counts: Counter[str]) -> Path | None:
    exact = doc.with_name(doc.name + ".json")
    if exact.is_file():
        return exact
    by_stem = doc.with_name(doc.stem + ".json")
    if by_stem.is_file():
        if stem_counts[doc.stem] > 1:
            raise InvalidInput(
                f"sidecar {by_stem.name} fits several files named {doc.stem}.*: name it {exact.name}"
            )
        return by_stem
    return None


def _meta_for(doc: Path, sidecar: Path | None, defaults: DocumentMeta | None) -> DocumentMeta:
    fields = read_sidecar(sidecar) if sidecar else {}
    case = fields.get("case") or (defaults.case_number if defaults else "")
    doc_type = fields.get("type") or (defaults.document_type if defaults else "")
    if not case:
        raise InvalidInput(f'no case number: no sidecar {doc.stem}.json with "case" and no --case given')
    if not doc_type:
        raise InvalidInput(f'no document type: no sidecar {doc.stem}.json with "type" and no --type given')
    received = parse_date(fields["received"], "received date") if fields.get("received") else None
    dated = parse_date(fields["document_date"], "document date") if fields.get("document_date") else None
    base = defaults or DocumentMeta(case, doc_type)
    return replace(
        base,
        case_number=case,
        document_type=doc_type,
        received_on=received or base.received_on,
        title=fields.get("title") or base.title,
        document_date=dated or base.document_date,
    )


def _move(src: Path, dest_dir: Path) -> Path:
    """Move without replacing anything already there (scan-1.pdf, scan-2.pdf, … on a name clash)."""
    dest_dir.mkdir(exist_ok=True)
    target = dest_dir / src.name
    n = 0
    while target.exists():
        n += 1
        target = dest_dir / f"{src.stem}-{n}{src.suffix}"
    src.rename(target)
    return target


def import_directory(
    archive: Archive,
    actor: Actor,
    directory: Path,
    *,
    defaults: DocumentMeta | None = None,
    station: str | None = None,
    settle_seconds: float = 0.0,
    progress: Progress | None = None,
) -> BatchReport:
    """Import every document file in `directory`.

    Stored (and already stored) files move to done/, with their sidecar; refused ones to rejected/,
    with their sidecar and NAME.reason.txt. When the database or object store fails, the batch stops
    and leaves the current file where it was: a re-run picks it up, and finds the stored ones in done/.
    """
    if not directory.is_dir():
        raise InvalidInput(f"{directory} is not a folder")
    station = station or archive.settings.station
    files = batch_files(directory)
    stem_counts = Counter(p.stem for p in files)
    # Authorises the actor before anything moves: a refused user's files stay where they are.
    report = start_batch(archive, actor, station, str(directory))
    now = time.time()
    try:
        for doc in files:
            if settle_seconds and doc.lstat().st_mtime > now - settle_seconds:
                report.skipped.append(shown(doc.name))
            elif not _import_one(archive, actor, doc, stem_counts, defaults, station, report):
                break
            if progress:
                progress(doc, len(files))
    finally:
        close_batch(archive, report)
    return report


def _import_one(
    archive: Archive,
    actor: Actor,
    doc: Path,
    stem_counts: Counter[str],
    defaults: DocumentMeta | None,
    station: str,
    report: BatchReport,
) -> bool:
    """Import and file away one document; False when the batch must stop."""
    directory = doc.parent
    sidecar: Path | None = None
    try:
        if doc.is_symlink():
            # What a link points to is outside the scanning station's folder: never read it.
            raise UnsupportedFile("not a regular file (a symbolic link): put the scan itself into the folder")
        sidecar = _sidecar_for(doc, stem_counts)
        meta = _meta_for(doc, sidecar, defaults)
        result = import_document(archive, actor, doc, meta, station=station, batch_id=report.batch_id)
    except STOPS_A_BATCH as exc:
        report.aborted = exc
        return False
    except EkakteError as exc:
        moved = _move(doc, directory / REJECTED)
        reason = moved.with_name(moved.name + ".reason.txt")
        reason.write_text(f"{exc}\n", encoding="utf-8", errors="backslashreplace")
        if sidecar is not None and sidecar.exists():
            _move(sidecar, directory / REJECTED)
        report.rejected.append(Rejection(shown(doc.name), str(exc)))
        return True
    # Stored: only now may the file leave the inbox. A crash before this line means a re-run says
    # "already stored" and files it then.
    _move(doc, directory / DONE)
    if sidecar is not None:
        _move(sidecar, directory / DONE)
    report.results.append(result)
    return True
