"""xdomea 3.1.0 disposal messages (Aussonderung): written as a stream, read only after schema validation.

ekakte writes 0501 (Anbieteverzeichnis), 0503 (Aussonderung), 0505 (receipt of an appraisal) and reads
0502 (Bewertungsverzeichnis), 0504 (receipt of an offer), 0506 (import confirmation) and 0507 (receipt of
a hand-over). The standard's schemas ship in `schemas/` (see its README); a message from outside is
validated against them, with external entities and DTDs refused, before anything in it is believed.

Writing is streamed (`XmlOut`): an offer of 100,000 documents or a hand-over of any size never holds its
XML in memory.
"""

from __future__ import annotations

import functools
import io
import re
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any

from ekakte.errors import InvalidInput

NS = "urn:xoev-de:xdomea:schema:3.1.0"
VERSION = "3.1.0"
SCHEMA = Path(__file__).parent / "schemas" / VERSION / "xdomea.xsd"
# The disposal messages by their code (code list Nachrichtentyp 2.0).
KINDS = {
    "0501": "Aussonderung.Anbieteverzeichnis",
    "0502": "Aussonderung.Bewertungsverzeichnis",
    "0503": "Aussonderung.Aussonderung",
    "0504": "Aussonderung.AnbietungEmpfangBestaetigen",
    "0505": "Aussonderung.BewertungEmpfangBestaetigen",
    "0506": "Aussonderung.AussonderungImportBestaetigen",
    "0507": "Aussonderung.AussonderungEmpfangBestaetigen",
}
RECEIVED_KINDS = ("0502", "0504", "0506", "0507")
MAX_MESSAGE_BYTES = 64 * 1024 * 1024  # an answer of the archive: hundreds of thousands of records fit
CODE_LISTS = {
    "Nachrichtentyp": ("urn:xoev-de:xdomea:codeliste:nachrichtentyp", "2.0"),
    "Aussonderungsart": ("urn:xoev-de:xdomea:codeliste:aussonderungsart", "1.0"),
    "Bewertungsvorschlag": ("urn:xoev-de:xdomea:codeliste:bewertungsvorschlag", "1.0"),
    "Medium": ("urn:xoev-de:xdomea:codeliste:medium", "1.0"),
    "Dateiformat": ("urn:xoev-de:xdomea:codeliste:dateiformat", "1.0"),
}
# Dateiformat codes of what ekakte stores (PDF is 018, not 044 "Archival": ekakte does not claim PDF/A).
FILE_FORMATS = {
    "application/pdf": ("018", "pdf"),
    "image/tiff": ("024", "tiff"),
    "image/jpeg": ("010", "jpeg"),
    "image/png": ("019", "png"),
    "text/plain": ("045", "txt"),
}
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def message_name(process_id: str, kind: str) -> str:
    """The message's file name as the standard gives it: `{ProzessID}_{Nachrichtenname}.{code}.xml`."""
    return f"{process_id}_{KINDS[kind]}.{kind}.xml"


def package_name(process_id: str, kind: str) -> str:
    """The zip a message travels in: the message's name with .zip for .xml."""
    return message_name(process_id, kind)[: -len(".xml")] + ".zip"


@dataclass(frozen=True)
class Party:
    """Sender or recipient of a message: an institution, and optionally its organisational unit."""

    name: str
    unit: str = ""


def _text(value: object) -> str:
    text = value.isoformat() if isinstance(value, date | datetime) else str(value)
    text = _NOT_XML.sub("\ufffd", text)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class XmlOut:
    """A streaming writer of xdomea elements (prefix `xdomea`) into a binary sink."""

    def __init__(self, sink: IO[bytes]) -> None:
        self._sink = sink
        self._open: list[str] = []

    def _write(self, text: str) -> None:
        self._sink.write(text.encode("utf-8"))

    def start_document(self, root: str) -> None:
        self._write(f'<?xml version="1.0" encoding="UTF-8"?>\n<xdomea:{root} xmlns:xdomea="{NS}">')
        self._open.append(root)

    def open(self, tag: str) -> None:
        self._write(f"<xdomea:{tag}>")
        self._open.append(tag)

    def close(self, count: int = 1) -> None:
        for _ in range(count):
            self._write(f"</xdomea:{self._open.pop()}>")

    def end_document(self) -> None:
        while self._open:
            self.close()
        self._write("\n")

    def empty(self, tag: str) -> None:
        """An element the schema requires that may be empty."""
        self._write(f"<xdomea:{tag}></xdomea:{tag}>")

    def leaf(self, tag: str, value: object) -> None:
        """An element with text; nothing for None or an empty text (every optional element)."""
        if value is None or value == "":
            return
        self._write(f"<xdomea:{tag}>{_text(value)}</xdomea:{tag}>")

    def code(self, tag: str, list_name: str, code: str, *, wrap: str | None = None) -> None:
        """A coded value of one of CODE_LISTS (inside `wrap` where the schema nests it)."""
        uri, version = CODE_LISTS[list_name]
        if wrap:
            self.open(wrap)
        self._write(f'<xdomea:{tag} listURI="{uri}" listVersionID="{version}">')
        self._write(f"<code>{_text(code)}</code></xdomea:{tag}>")
        if wrap:
            self.close()

    def head(
        self, process_id: str, kind: str, created: datetime, sender: Party, recipient: Party, *, receipt: bool
    ) -> None:
        """The Kopf: process, message type, time, sender, recipient, the sending system, and whether a
        receipt is asked for (0501, 0503)."""
        self.open("Kopf")
        self.leaf("ProzessID", process_id)
        uri, version = CODE_LISTS["Nachrichtentyp"]
        self._write(
            f'<xdomea:Nachrichtentyp listURI="{uri}" listVersionID="{version}"><code>{kind}</code>'
            f"<name>{KINDS[kind]}</name></xdomea:Nachrichtentyp>"
        )
        self.leaf("Erstellungszeitpunkt", created.isoformat(timespec="seconds"))
        for tag, party in (("Absender", sender), ("Empfaenger", recipient)):
            self.open(tag)
            self.open("Institution")
            self.leaf("Name", party.name)
            self.close()
            if party.unit:
                self.open("Organisationseinheit")
                self.leaf("Name", party.unit)
                self.close()
            self.close()
        self.open("SendendesSystem")
        self.leaf("Produktname", "ekakte")
        self.leaf("Version", _ekakte_version())
        self.close()
        if kind == "0503":
            self.leaf("Importbestaetigung", "1")
            self.leaf("RueckmeldungArchivkennung", "1")
        if receipt:
            self.leaf("Empfangsbestaetigung", "1")
        self.close()


@functools.cache
def _ekakte_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("ekakte")
    except PackageNotFoundError:  # pragma: no cover - run from a source tree without installing
        return "0"


def receipt(process_id: str, kind: str, created: datetime, sender: Party, recipient: Party) -> bytes:
    """A receipt message (0505; the archive's 0504/0507 look the same): the header alone."""
    sink = io.BytesIO()
    out = XmlOut(sink)
    out.start_document(f"{KINDS[kind]}.{kind}")
    out.head(process_id, kind, created, sender, recipient, receipt=False)
    out.end_document()
    return sink.getvalue()


# --- reading ---------------------------------------------------------------------------------------------


@functools.cache
def schema() -> Any:
    """The xdomea 3.1.0 schema, loaded once per process (about half a second)."""
    import xmlschema

    return xmlschema.XMLSchema(str(SCHEMA))


@dataclass(frozen=True)
class Appraisal:
    """One BewertetesObjekt of a 0502: an Akte's or a document's id and the archive's A/B/V."""

    object_id: uuid.UUID
    decision: str  # A, B, V


@dataclass(frozen=True)
class ImportResult:
    """One AusgesondertesSGO of a 0506: whether the archive imported the object, and its reference."""

    object_id: uuid.UUID
    success: bool
    reference: str = ""
    error: str = ""


@dataclass(frozen=True)
class Message:
    kind: str
    process_id: str
    created: str
    sender: str
    recipient: str
    appraisals: tuple[Appraisal, ...] = field(default=())
    results: tuple[ImportResult, ...] = field(default=())


def unpack(data: bytes, name: str) -> bytes:
    """The message of a file as it arrived: the XML itself, or a zip holding exactly one .xml file."""
    if not data.startswith(b"PK"):
        return data
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as package:
            members = [m for m in package.infolist() if not m.is_dir()]
            xml = [m for m in members if m.filename.lower().endswith(".xml")]
            if len(xml) != 1:
                raise InvalidInput(f"{name}: a message's zip holds one .xml file; this one holds {len(xml)}")
            if xml[0].file_size > MAX_MESSAGE_BYTES:
                raise InvalidInput(f"{name}: the message is larger than {MAX_MESSAGE_BYTES // 2**20} MiB")
            with package.open(xml[0]) as member:
                body = member.read(MAX_MESSAGE_BYTES + 1)
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        OSError,
        EOFError,
        NotImplementedError,
        ValueError,
    ) as exc:
        raise InvalidInput(f"{name}: not a readable zip: {_one_line(exc)}") from None
    except RuntimeError as exc:  # an encrypted member ("password required"), an unknown compression
        raise InvalidInput(f"{name}: not a readable zip: {_one_line(exc)}") from None
    if len(body) > MAX_MESSAGE_BYTES:
        raise InvalidInput(f"{name}: the message is larger than {MAX_MESSAGE_BYTES // 2**20} MiB")
    return body


def read_message(data: bytes, name: str) -> Message:
    """A message of the archive (0502, 0504, 0506, 0507), validated against the schema first.

    InvalidInput with one line for anything else: not XML, a DTD or entity (refused, never expanded),
    invalid against the schema (the first error, with its line), another message type. Only what the
    schema guarantees is read afterwards.
    """
    if len(data) > MAX_MESSAGE_BYTES:
        raise InvalidInput(f"{name}: the message is larger than {MAX_MESSAGE_BYTES // 2**20} MiB")
    root, lines = _parse_xml(data, name)
    kind = _kind(root.tag)
    if kind not in RECEIVED_KINDS:
        shown = root.tag.rsplit("}", 1)[-1]
        raise InvalidInput(
            f"{name}: {shown} is not a message ekakte receives (0502, 0504, 0506, 0507 of xdomea {VERSION})"
        )
    error = next(iter(schema().iter_errors(root)), None)
    if error is not None:
        line = lines.get(id(getattr(error, "elem", None)))
        raise InvalidInput(f"{name}: not valid against xdomea {VERSION}: {_validation_error(error, line)}")
    return _parse(root, kind)


class _Refused(Exception):
    pass


def _parse_xml(data: bytes, name: str) -> tuple[Any, dict[int, int]]:
    """The element tree of `data` and each element's line (by id), parsed by expat with every DTD,
    entity declaration and external reference refused (what defusedxml refuses), never expanded."""
    import xml.parsers.expat as expat
    from xml.etree.ElementTree import TreeBuilder

    parser = expat.ParserCreate(namespace_separator="}")
    builder = TreeBuilder()
    lines: dict[int, int] = {}

    def qualified(tag: str) -> str:
        return "{" + tag if "}" in tag else tag

    def start(tag: str, attributes: dict[str, str]) -> None:
        element = builder.start(qualified(tag), {qualified(k): v for k, v in attributes.items()})
        lines[id(element)] = parser.CurrentLineNumber

    def refuse(*_args: object) -> int:
        raise _Refused("a DTD or entity declaration (refused: messages carry none)")

    parser.StartElementHandler = start
    parser.EndElementHandler = lambda tag: builder.end(qualified(tag))
    parser.CharacterDataHandler = builder.data
    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    parser.UnparsedEntityDeclHandler = refuse
    parser.ExternalEntityRefHandler = refuse
    parser.buffer_text = True
    try:
        parser.Parse(data, True)
        root = builder.close()
    except _Refused as exc:
        raise InvalidInput(f"{name}: line {parser.CurrentLineNumber}: {exc}") from None
    except expat.ExpatError as exc:
        raise InvalidInput(
            f"{name}: not an XML message: {expat.ErrorString(exc.code)} at line {exc.lineno}"
        ) from None
    except AssertionError:  # TreeBuilder: no root element
        raise InvalidInput(f"{name}: not an XML message: no element") from None
    return root, lines


def _kind(tag: str) -> str:
    namespace, _, local = tag[1:].partition("}") if tag.startswith("{") else ("", "", tag)
    if namespace != NS:
        return ""
    code = local.rsplit(".", 1)[-1]
    return code if KINDS.get(code) and local == f"{KINDS[code]}.{code}" else ""


def _one_line(exc: object) -> str:
    return " ".join(str(exc).split())[:300]


def _validation_error(error: Any, line: int | None) -> str:
    where = f"line {line}: " if line else ""
    path = str(getattr(error, "path", "") or "").replace(f"{{{NS}}}", "xdomea:")
    reason = getattr(error, "reason", None) or str(error)
    return _one_line(f"{where}{reason}" + (f" (at {path})" if path else ""))


def _q(*tags: str) -> str:
    return "/".join(f"{{{NS}}}{t}" for t in tags)


def _parse(root: Any, kind: str) -> Message:
    head = root.find(_q("Kopf"))
    code = head.findtext(_q("Nachrichtentyp") + "/code")
    if code != kind:
        raise InvalidInput(f"message {kind}: its header says message type {code!r}")
    process_id = (head.findtext(_q("ProzessID")) or "").strip()
    sender = (head.findtext(_q("Absender", "Institution", "Name")) or "").strip()
    recipient = (head.findtext(_q("Empfaenger", "Institution", "Name")) or "").strip()
    created = (head.findtext(_q("Erstellungszeitpunkt")) or "").strip()
    appraisals: list[Appraisal] = []
    results: list[ImportResult] = []
    if kind == "0502":
        for item in root.iterfind(_q("BewertetesObjekt")):
            decision = (item.findtext(_q("Aussonderungsart", "Aussonderungsart") + "/code") or "").strip()
            appraisals.append(Appraisal(_object_id(item.findtext(_q("ID"))), decision))
    if kind == "0506":
        for item in root.iterfind(_q("AusgesondertesSGO")):
            success = (item.findtext(_q("Erfolgreich")) or "").strip() in ("1", "true")
            results.append(
                ImportResult(
                    _object_id(item.findtext(_q("IDSGO"))),
                    success,
                    (item.findtext(_q("Archivkennung")) or "").strip()[:500],
                    " ".join((item.findtext(_q("Fehlermeldung")) or "").split())[:1000],
                )
            )
    return Message(kind, process_id, created, sender, recipient, tuple(appraisals), tuple(results))


def _object_id(text: str | None) -> uuid.UUID:
    try:
        return uuid.UUID((text or "").strip())
    except ValueError:
        raise InvalidInput(f"object id {text!r} is not a UUID") from None


# --- the structure of 0501/0503-shaped messages, for whoever reads them (the archive's side) -------------


@dataclass(frozen=True)
class FileRef:
    """A primary file a 0503 names: its name in the package, its format code, and its SHA-256 where the
    message records one (ekakte writes it into an AnwendungsspezifischeErweiterung)."""

    name: str
    format_code: str
    sha256: str = ""


@dataclass(frozen=True)
class RecordRef:
    """An Akte or Dokument of a 0501/0503, with its parent Akte's id and its primary files."""

    kind: str  # Akte, Vorgang, Dokument
    object_id: str
    parent: str
    reference: str  # Kennzeichen (Aktenzeichen) of an Akte, Betreff of a document
    files: tuple[FileRef, ...] = ()


def records_of(root: Any) -> Iterator[RecordRef]:
    """Every Akte, Vorgang and Dokument of a 0501/0503-shaped message, of xdomea 3.0.0 or 3.1.0 (the
    structure is the same; matched by local names), depth first, with its parent's id."""

    def local(element: Any) -> str:
        return str(element.tag).rsplit("}", 1)[-1]

    def child(element: Any, name: str) -> Any:
        return next((c for c in element if local(c) == name), None)

    def text_of(element: Any, *path: str) -> str:
        for name in path:
            element = child(element, name) if element is not None else None
        return (element.text or "").strip() if element is not None and element.text else ""

    def walk(element: Any, parent: str) -> Iterator[RecordRef]:
        for item in element:
            kind = local(item)
            if kind in ("Akte", "Vorgang", "Dokument"):
                object_id = text_of(item, "Identifikation", "ID")
                if kind == "Dokument":
                    yield RecordRef(kind, object_id, parent, text_of(item, "AllgemeineMetadaten", "Betreff"),
                                    tuple(_files(item, local)))  # fmt: skip
                else:
                    yield RecordRef(
                        kind, object_id, parent, text_of(item, "AllgemeineMetadaten", "Kennzeichen")
                    )
                yield from walk(item, object_id)
            elif kind in ("Schriftgutobjekt", "Akteninhalt", "Teilakte"):
                yield from walk(item, parent)

    yield from walk(root, "")


def _files(document: Any, local: Any) -> Iterator[FileRef]:
    hashes: dict[str, str] = {}
    for extension in (c for c in document if local(c) == "AnwendungsspezifischeErweiterung"):
        for item in (c for c in extension if local(c) == "Feld"):
            label = next((c.text or "" for c in item if local(c) == "Name"), "")
            value = next((c.text or "" for c in item if local(c) == "Wert"), "")
            if label.startswith("SHA-256 "):
                hashes[label[len("SHA-256 ") :]] = value.strip()
    for version in (c for c in document if local(c) == "Version"):
        for fmt in (c for c in version if local(c) == "Format"):
            name_element = next((c for c in fmt if local(c) == "Name"), None)
            code = ""
            if name_element is not None:
                code = next(((c.text or "").strip() for c in name_element if local(c) == "code"), "")
            for primary in (c for c in fmt if local(c) == "Primaerdokument"):
                file_name = next(((c.text or "").strip() for c in primary if local(c) == "Dateiname"), "")
                yield FileRef(file_name, code, hashes.get(file_name, ""))
