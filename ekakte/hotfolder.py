"""Batch import of a scanning station's folder: sidecars, done/ and rejected/ with reasons."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import stat
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path

from ekakte.actor import Actor
from ekakte.archive import Archive
from ekakte.errors import STOPS_A_BATCH, ConfigError, EkakteError, InvalidInput, shown
from ekakte.ingest import (
    BatchReport,
    DocumentMeta,
    Scan,
    close_batch,
    import_document,
    note_refusal,
    note_result,
    open_checked,
    parse_date,
    start_batch,
    station_id,
)
from ekakte.mailroom.stacks import import_stack, note_stack
from ekakte.private import refuse_archive_folder

DONE = "done"
REJECTED = "rejected"
REASON_SUFFIX = ".reason.txt"
SIDECAR_FIELDS = ("case", "type", "received", "title", "document_date", "stack")
# A sidecar's "stack": whether the file is a stack of mail to split at its sheets (ekakte.mailroom).
_STACK_VALUES = {"yes": True, "true": True, "no": False, "false": False}
MAX_SIDECAR_BYTES = 64 * 1024

Progress = Callable[[Path, int], None]

# Every name in the inbox is opened relative to the inbox's descriptor, never as a path: a folder swapped
# for a link after the batch began cannot redirect what is read or where it is moved.
_FOLDER = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# Reason files: created new (O_EXCL also refuses a planted symbolic link at the name), never through a
# link, readable by the import account alone: they name case numbers.
_NEW_REASON = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_REASON_MODE = 0o600
_FILED_MODE = 0o750


class RunsAsRoot(ConfigError):
    """The hot folder was started by root without being told that this is intended."""

    code = "runs-as-root"


@dataclass
class _Inbox:
    """The batch folder, open as a descriptor for the whole batch, and its done/ and rejected/: checked
    when the batch starts if they exist, made on first use if not (a refused batch leaves no trace)."""

    path: Path
    fd: int
    filed: dict[str, int] = field(default_factory=dict)

    def folder(self, name: str) -> int:
        """done/ or rejected/ as a descriptor (see _open_filed)."""
        if name not in self.filed:
            with contextlib.suppress(FileExistsError):
                os.mkdir(name, _FILED_MODE, dir_fd=self.fd)
            fd = _open_filed(self.fd, self.path, name)
            if fd is None:
                raise InvalidInput(f"cannot open {shown(self.path / name)}: it vanished as it was made")
            self.filed[name] = fd
        return self.filed[name]

    def close(self) -> None:
        for fd in (*self.filed.values(), self.fd):
            os.close(fd)


def read_sidecar(path: Path) -> dict[str, str]:
    """A sidecar's fields, or InvalidInput saying in one line what is wrong with it (see _read_sidecar)."""
    with _folder(path.parent) as dir_fd:
        return _read_sidecar(dir_fd, path.name)


def _read_sidecar(inbox_fd: int, name: str) -> dict[str, str]:
    """Opened and checked like a document (open_checked): a link to someone else's JSON is refused before a
    byte of it is read, so neither its values nor the names of its keys reach the document or the reason
    file."""
    label = f"sidecar {shown(name)}"
    with open_checked(inbox_fd, name, label) as fh:
        try:
            raw = fh.read(MAX_SIDECAR_BYTES + 1)
        except OSError as exc:
            raise InvalidInput(f"{label} cannot be read: {exc.strerror}") from None
    if len(raw) > MAX_SIDECAR_BYTES:
        raise InvalidInput(f"{label} is larger than {MAX_SIDECAR_BYTES // 1024} KiB")
    try:
        data = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError) as exc:  # also UnicodeDecodeError, JSONDecodeError; and a
        # ValueError of its own for integers longer than sys.get_int_max_str_digits()
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InvalidInput(f"{label} is not valid UTF-8 JSON: {reason}") from None
    if not isinstance(data, dict):
        raise InvalidInput(f"{label} must be a JSON object with {', '.join(SIDECAR_FIELDS)}")
    unknown = sorted(set(data) - set(SIDECAR_FIELDS))
    if unknown:
        raise InvalidInput(
            f"{label} has unknown field(s) {', '.join(map(repr, unknown))};"
            f" allowed: {', '.join(SIDECAR_FIELDS)}"
        )
    for key, value in data.items():
        if not isinstance(value, str):
            raise InvalidInput(f"{label}: {key!r} must be a string")
    return data


def batch_files(directory: Path) -> list[Path]:
    """The document files of a batch folder (see _batch_names)."""
    with _folder(directory) as dir_fd:
        return [directory / name for name in _batch_names(dir_fd)]


def _batch_names(inbox_fd: int) -> list[str]:
    """The document names of a batch folder: visible, not sidecars, sorted. Symbolic links are listed so
    that they are refused and moved aside (see _import_one), not silently left."""
    with os.scandir(inbox_fd) as entries:
        return sorted(
            e.name
            for e in entries
            if (e.is_file(follow_symlinks=False) or e.is_symlink())
            and not e.name.startswith(".")
            and not e.name.lower().endswith(".json")
        )


def _lexists(dir_fd: int, name: str) -> bool:
    try:
        os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return False
    return True


def _is_candidate(dir_fd: int, name: str) -> bool:
    """Anything but a folder at `name` counts as the sidecar: a link too, to be refused, not skipped."""
    try:
        return not stat.S_ISDIR(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode)
    except FileNotFoundError:
        return False


def _sidecar_for(inbox_fd: int, doc: str, stem_counts: Counter[str]) -> str | None:
    exact = doc + ".json"
    if _is_candidate(inbox_fd, exact):
        return exact
    stem = Path(doc).stem
    by_stem = stem + ".json"
    if _is_candidate(inbox_fd, by_stem):
        if stem_counts[stem] > 1:
            raise InvalidInput(
                f"sidecar {shown(by_stem)} fits several files named {shown(stem)}.*: name it {shown(exact)}"
            )
        return by_stem
    return None


def _is_stack(fields: dict[str, str], stacks: bool, doc: str) -> bool:
    """Whether the file is a stack: its sidecar says so ("stack": "yes"/"no"), else the batch's setting."""
    value = fields.get("stack")
    if value is None:
        return stacks
    if value.strip().lower() not in _STACK_VALUES:
        raise InvalidInput(f'sidecar {shown(Path(doc).stem)}.json: "stack" is "yes" or "no"', field="stack")
    return _STACK_VALUES[value.strip().lower()]


def _stack_received(fields: dict[str, str], doc: str, defaults: DocumentMeta | None) -> date | None:
    """The received date of a stack's documents; its sidecar may say nothing else of them."""
    named = sorted(set(fields) & {"case", "type", "title", "document_date"})
    if named:
        raise InvalidInput(
            f"sidecar {shown(Path(doc).stem)}.json names {', '.join(named)} for a stack: a stack's cover"
            ' sheets name each document\'s case and type; its sidecar may give only "received"'
        )
    if fields.get("received"):
        return parse_date(fields["received"], "received date")
    return defaults.received_on if defaults else None


def _meta_for(fields: dict[str, str], doc: str, defaults: DocumentMeta | None) -> DocumentMeta:
    stem = shown(Path(doc).stem)
    case = fields.get("case") or (defaults.case_number if defaults else "")
    doc_type = fields.get("type") or (defaults.document_type if defaults else "")
    if not case:
        raise InvalidInput(
            f'no case number: no sidecar {stem}.json with "case", and no default case', field="case_number"
        )
    if not doc_type:
        raise InvalidInput(
            f'no document type: no sidecar {stem}.json with "type", and no default type',
            field="document_type",
        )
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


def _free_name(dest_fd: int, name: str, *, with_reason: bool = False) -> str:
    """`name`, or scan-1.pdf, scan-2.pdf, … if taken in the folder (with_reason: its reason file's name too).
    Check, then rename: done/ and rejected/ are the import account's own (checked in _open_filed), so
    nobody else can take the name in between."""
    stem, suffix = Path(name).stem, Path(name).suffix
    target, n = name, 0
    while _lexists(dest_fd, target) or (with_reason and _lexists(dest_fd, target + REASON_SUFFIX)):
        n += 1
        target = f"{stem}-{n}{suffix}"
    return target


def _move(inbox: _Inbox, name: str, dest: str, *, with_reason: bool = False) -> str:
    """Move `name` from the inbox to done/ or rejected/ without replacing anything already there; the name
    it got. A link is moved as the link, never what it points to."""
    dest_fd = inbox.folder(dest)
    target = _free_name(dest_fd, name, with_reason=with_reason)
    os.rename(name, target, src_dir_fd=inbox.fd, dst_dir_fd=dest_fd)
    return target


def _write_reason(rejected_fd: int, moved: str, reason: str) -> None:
    """rejected/NAME.reason.txt, new, 0600; if the name was taken after all, NAME.reason-1.txt, …"""
    name, n = moved + REASON_SUFFIX, 0
    while True:
        try:
            fd = os.open(name, _NEW_REASON, _REASON_MODE, dir_fd=rejected_fd)
            break
        except FileExistsError:
            n += 1
            name = f"{moved}.reason-{n}.txt"
    with os.fdopen(fd, "w", encoding="utf-8", errors="backslashreplace") as fh:
        fh.write(f"{reason}\n")


def _open_filed(inbox_fd: int, directory: Path, name: str) -> int | None:
    """done/ or rejected/ as a descriptor, None if it is not there; refused (InvalidInput) unless it is a
    real folder of the import account's own that nobody else may write, since files and reason files are
    moved and written into it by name."""
    where = shown(directory / name)
    try:
        fd = os.open(name, _FOLDER, dir_fd=inbox_fd)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            raise InvalidInput(
                f"{where} is not a folder (a symbolic link or a file): the batch moves nothing; remove it"
            ) from None
        raise InvalidInput(f"cannot open {where}: {exc.strerror}") from None
    info = os.fstat(fd)
    problem = ""
    if info.st_uid != os.geteuid():
        problem = f"belongs to another account (uid {info.st_uid}), not to the one importing"
    elif info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        problem = f"may be written by other accounts (mode {stat.S_IMODE(info.st_mode):04o})"
    if problem:
        os.close(fd)
        raise InvalidInput(f"{where} {problem}: it must be the import account's own, mode 0750 or 0700")
    return fd


def _open_folder(directory: Path) -> int:
    try:
        return os.open(directory, _FOLDER)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR, errno.ENOENT):
            raise InvalidInput(
                f"{shown(directory)} is not a folder"
                + (" (a symbolic link: give the folder itself)" if exc.errno == errno.ELOOP else "")
            ) from None
        raise InvalidInput(f"cannot open {shown(directory)}: {exc.strerror}") from None


@contextlib.contextmanager
def _folder(directory: Path) -> Iterator[int]:
    fd = _open_folder(directory)
    try:
        yield fd
    finally:
        os.close(fd)


@contextlib.contextmanager
def _opened_inbox(archive: Archive, directory: Path) -> Iterator[_Inbox]:
    inbox = _Inbox(directory, _open_folder(directory))
    fd = inbox.fd
    try:
        refuse_archive_folder(archive.settings, fd, directory, "imported")
        for name in (DONE, REJECTED):
            filed = _open_filed(fd, directory, name)
            if filed is not None:
                inbox.filed[name] = filed
        yield inbox
    finally:
        inbox.close()


def _refuse_root(allow_root: bool) -> None:
    """RunsAsRoot when root runs the hot folder unasked: root may open and write whatever a planted name
    leads to, so a slip anywhere in the folder's handling would be root's; a dedicated account limits it."""
    if os.geteuid() == 0 and not allow_root:
        raise RunsAsRoot(
            "the hot folder does not run as root: run it as the import account that owns the inbox's"
            " done/ and rejected/"
        )


def import_directory(
    archive: Archive,
    actor: Actor,
    directory: Path,
    *,
    defaults: DocumentMeta | None = None,
    station: str | None = None,
    settle_seconds: float = 0.0,
    progress: Progress | None = None,
    allow_root: bool = False,
    stacks: bool = False,
) -> BatchReport:
    """Import every document file in `directory`. With `stacks`, every file is a stack of mail, split at
    its cover and separator sheets (ekakte.mailroom.stacks); a sidecar's "stack" says so per file.

    Stored (and already stored) files move to done/, with their sidecar; refused ones to rejected/,
    with their sidecar and NAME.reason.txt. When the database or object store fails, the batch stops
    and leaves the current file where it was: a re-run picks it up, and finds the stored ones in done/.
    Refused before anything moves: root (unless `allow_root`), a folder inside the archive's own, and
    a done/ or rejected/ that is not a folder of the importing account's own.
    """
    _refuse_root(allow_root)
    station = station_id(archive, station)
    with _opened_inbox(archive, directory) as inbox:
        files = _batch_names(inbox.fd)
        stem_counts = Counter(Path(name).stem for name in files)
        # Authorises the actor before anything moves: a refused user's files stay where they are.
        report = start_batch(archive, actor, station, str(directory))
        now = time.time()
        try:
            for name in files:
                if settle_seconds and _changed_since(inbox.fd, name, now - settle_seconds):
                    report.skipped.append(shown(name))
                elif not _import_one(
                    archive, actor, inbox, name, stem_counts, defaults, station, report, stacks=stacks
                ):
                    break
                if progress:
                    progress(directory / name, len(files))
        finally:
            close_batch(archive, report)
    return report


def _changed_since(inbox_fd: int, name: str, since: float) -> bool:
    try:
        return os.stat(name, dir_fd=inbox_fd, follow_symlinks=False).st_mtime > since
    except FileNotFoundError:
        return False


def _import_one(
    archive: Archive,
    actor: Actor,
    inbox: _Inbox,
    name: str,
    stem_counts: Counter[str],
    defaults: DocumentMeta | None,
    station: str,
    report: BatchReport,
    *,
    stacks: bool,
) -> bool:
    """Import and file away one document (or stack); False when the batch must stop."""
    sidecar: str | None = None
    try:
        # Opened first, and only this descriptor is read: the name may be swapped for a link a moment
        # later, but what is stored is what was checked (a regular file with one name, in the inbox).
        with Scan(inbox.path / name, open_checked(inbox.fd, name, shown(name))) as scan:
            sidecar = _sidecar_for(inbox.fd, name, stem_counts)
            fields = _read_sidecar(inbox.fd, sidecar) if sidecar else {}
            if _is_stack(fields, stacks, name):
                received = _stack_received(fields, name, defaults)
                stack = import_stack(
                    archive, actor, scan, received_on=received, station=station, batch_id=report.batch_id
                )
                results = stack.documents
            else:
                stack = None
                meta = _meta_for(fields, name, defaults)
                results = [
                    import_document(archive, actor, scan, meta, station=station, batch_id=report.batch_id)
                ]
    except STOPS_A_BATCH as exc:
        report.aborted = exc
        return False
    except EkakteError as exc:
        with contextlib.suppress(FileNotFoundError):  # gone meanwhile: nothing to move, the reason stays
            name_there = _move(inbox, name, REJECTED, with_reason=True)
            _write_reason(inbox.folder(REJECTED), name_there, str(exc))
        if sidecar is not None and _lexists(inbox.fd, sidecar):
            _move(inbox, sidecar, REJECTED)
        return note_refusal(archive, report, shown(name), str(exc))
    # Stored, and its line in the scan protocol written: only now may the file leave the inbox. A crash
    # before the move means a re-run says "already stored" (with a line in its own batch) and files it.
    report.results.extend(results)
    if stack is not None:
        report.stacks.append(stack)
        noted = note_stack(archive, report, stack)
    else:
        noted = all(note_result(archive, report, result) for result in results)
    if not noted:
        return False  # the database failed: the file stays where it was, the re-run finds it stored
    with contextlib.suppress(FileNotFoundError):
        _move(inbox, name, DONE)
    if sidecar is not None and _lexists(inbox.fd, sidecar):
        _move(inbox, sidecar, DONE)
    return True
