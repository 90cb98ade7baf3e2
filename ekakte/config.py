"""Settings from EKAKTE_* environment variables and an optional TOML file, validated once."""

from __future__ import annotations

import os
import re
import socket
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ekakte.errors import ConfigError, InvalidInput

DEFAULT_CASE_NUMBER_PATTERN = r"\d{5}BG\d{7}"
# Pages one document may have: two full binders scanned on both sides (a Leitz binder holds ~500
# sheets). More is not a scan but a mistake or an attack on the OCR queue (docs/configuration.md).
DEFAULT_MAX_PAGES = 2000
DEFAULT_DOCUMENT_TYPES = (
    "Antrag",
    "Bescheid",
    "Nachweis",
    "Mietvertrag",
    "Kontoauszug",
    "Gutachten",
    "Schriftverkehr",
    "Sonstiges",
)

# key in the config file -> environment variable. The file uses the same names, lower case, without prefix.
# None: the file only. Which program reads the archive's content, and with which models, is not for a
# caller's environment to say (and the file's program and models folder must belong to root besides:
# ekakte.ocr.engine.trusted_program, trusted_tessdata).
_KEYS: dict[str, str | None] = {
    "home": "EKAKTE_HOME",
    "database_url": "EKAKTE_DATABASE_URL",
    "storage": "EKAKTE_STORAGE",
    "s3_endpoint": "EKAKTE_S3_ENDPOINT",
    "s3_access_key": "EKAKTE_S3_ACCESS_KEY",
    "s3_secret_key": "EKAKTE_S3_SECRET_KEY",
    "s3_secure": "EKAKTE_S3_SECURE",
    "s3_region": "EKAKTE_S3_REGION",
    "s3_object_lock": "EKAKTE_S3_OBJECT_LOCK",
    "s3_lock_mode": "EKAKTE_S3_LOCK_MODE",
    "case_number_pattern": "EKAKTE_CASE_NUMBER_PATTERN",
    "document_types": "EKAKTE_DOCUMENT_TYPES",
    "station": "EKAKTE_STATION",
    "gc_grace_hours": "EKAKTE_GC_GRACE_HOURS",
    "ocr_languages": "EKAKTE_OCR_LANGUAGES",
    "ocr_workers": "EKAKTE_OCR_WORKERS",
    "ocr_lease_seconds": "EKAKTE_OCR_LEASE_SECONDS",
    "ocr_max_attempts": "EKAKTE_OCR_MAX_ATTEMPTS",
    "searchable_pdf": "EKAKTE_SEARCHABLE_PDF",
    "max_pages": "EKAKTE_MAX_PAGES",
    "tesseract": None,
    "tessdata": None,
    "protocol_key": "EKAKTE_PROTOCOL_KEY",
    "audit_anchors": "EKAKTE_AUDIT_ANCHORS",
    "archive_sender": "EKAKTE_ARCHIVE_SENDER",
    "archive_sender_unit": "EKAKTE_ARCHIVE_SENDER_UNIT",
    "archive_recipient": "EKAKTE_ARCHIVE_RECIPIENT",
    "archive_answer_months": "EKAKTE_ARCHIVE_ANSWER_MONTHS",
    "archive_transfer_dir": "EKAKTE_ARCHIVE_TRANSFER_DIR",
    "scan_warn_dpi": "EKAKTE_SCAN_WARN_DPI",
    "check_sample": "EKAKTE_CHECK_SAMPLE",
    "drop_blank_pages": "EKAKTE_DROP_BLANK_PAGES",
    "paper_waiting_days": "EKAKTE_PAPER_WAITING_DAYS",
    "seal_key": "EKAKTE_SEAL_KEY",
    "seal_trusted_keys": "EKAKTE_SEAL_TRUSTED_KEYS",
    "mail_document_type": "EKAKTE_MAIL_DOCUMENT_TYPE",
    "min_dpi": "EKAKTE_MIN_DPI",
}
_SECRET_KEYS = {"s3_secret_key", "protocol_key", "seal_key"}
# Settings that no longer exist because they decided who sees what or what reads the content, and a
# caller's own environment or config file could set them: ignored, with a notice (Settings.notices).
_KEPT_IN_THE_ARCHIVE = (
    "the archive keeps which types are restricted (`ekakte type list`, `ekakte type restrict`)"
)
_RETIRED_KEYS = {
    "restricted_types": f"restricted_types in the config file is ignored: {_KEPT_IN_THE_ARCHIVE}"
}
_RETIRED_VARIABLES = {
    "EKAKTE_RESTRICTED_TYPES": f"EKAKTE_RESTRICTED_TYPES is ignored: {_KEPT_IN_THE_ARCHIVE}",
    "EKAKTE_TESSERACT": "EKAKTE_TESSERACT is ignored: the tesseract program is set in the config file only"
    ' (`tesseract = "/usr/bin/tesseract"`)',
    "TESSDATA_PREFIX": "TESSDATA_PREFIX is ignored: tesseract's language models folder is set in the config"
    ' file only (`tessdata = "/usr/share/tesseract-ocr/5/tessdata"`)',
}


@dataclass(frozen=True)
class Settings:
    home: Path
    database_url: str
    storage: str
    s3_endpoint: str | None = None
    s3_access_key: str | None = None
    s3_secret_key: str | None = field(default=None, repr=False)
    s3_secure: bool = True
    s3_region: str | None = None
    # `ekakte init` creates the bucket with S3 Object Lock (WORM); an existing bucket is used as it is.
    s3_object_lock: bool = False
    # Retention mode of the objects' retain-until dates: COMPLIANCE (nobody can shorten it) or GOVERNANCE.
    s3_lock_mode: str = "COMPLIANCE"
    case_number_pattern: str = DEFAULT_CASE_NUMBER_PATTERN
    # The types an import accepts. Which of them are health data is the archive's policy (ekakte.policy),
    # recorded on each document: taking a type out of this list changes nothing about stored documents.
    document_types: tuple[str, ...] = DEFAULT_DOCUMENT_TYPES
    station: str = ""
    gc_grace_hours: float = 24.0
    # tesseract's language models, joined with "+"; the first is the main one (German first).
    ocr_languages: str = "deu+eng"
    # tesseract processes run at once by one OCR worker; 0 means one per core.
    ocr_workers: int = 0
    # How long a worker holds a page before another may take it over (it renews the lease while alive).
    ocr_lease_seconds: float = 600.0
    # Tries per page before it is left `failed` with its reason.
    ocr_max_attempts: int = 3
    # A searchable PDF beside every scanned document (ekakte.ocr.rendition): tesseract writes each page's
    # invisible text layer in the same run as the text, and the document's last page lays them on.
    searchable_pdf: bool = True
    # Pages a document may have; a longer one is refused at import, before anything is stored.
    max_pages: int = DEFAULT_MAX_PAGES
    # The tesseract program (config file only): a name, looked up in /usr/local/bin, /usr/bin, /bin (not
    # the caller's PATH), or a full path; either way a file owned by root (or by the account ekakte runs
    # as) that nobody else may change (ekakte.ocr.engine.trusted_program).
    tesseract: str = "tesseract"
    # The folder of tesseract's language models (config file only; tesseract gets it as TESSDATA_PREFIX);
    # None: the folder tesseract was built with. Under the same rule as the program.
    tessdata: Path | None = None
    # Key of the deletion protocol's case-number hash; else <home>/protocol.key (made by `ekakte init`).
    protocol_key: str | None = field(default=None, repr=False)
    # The append-only file `ekakte audit anchor` writes the trail's head to when the objects are not in
    # S3 (with S3 the anchors are objects in the bucket); default <home>/audit-anchors.log.
    audit_anchors: Path | None = None
    # The Aussonderung (xdomea): the job centre as the messages' sender (and its unit), the archive as
    # their recipient; months after an offer without the archive's answer after which a record counts as
    # released (0: never, the records wait); the folder the service writes messages to.
    archive_sender: str = ""
    archive_sender_unit: str = ""
    archive_recipient: str = ""
    archive_answer_months: int = 0
    archive_transfer_dir: Path | None = None
    # Replacement scanning (ekakte.scanning): pages scanned below `scan_warn_dpi` are an anomaly of the
    # scan protocol and the transfer note (0: no warning); the second person's check looks at
    # `check_sample` documents of each batch ("all", a number, or a share such as "10%"); the paper of a
    # checked batch may be destroyed `paper_waiting_days` days after the check passed.
    scan_warn_dpi: int = 200
    # Blank pages are removed from a scan at import (ekakte.scanning.blank), each listed in its record;
    # off: stored as scanned, the OCR worker flags them.
    drop_blank_pages: bool = False
    check_sample: str = "all"
    paper_waiting_days: int = 28
    # The Ed25519 key that seals the batches' manifests (64 hex digits, its seed); else <home>/seal.key
    # (made by `ekakte init`). `seal_trusted_keys`: the public keys (hex) of earlier seal keys, whose
    # seals `verify` still accepts after the key was changed.
    seal_key: str | None = field(default=None, repr=False)
    seal_trusted_keys: tuple[str, ...] = ()
    # The type a document gets when the Postkorb's sort files it by the case number in its text (one of
    # document_types); empty: the sort files nothing, the triage role assigns every document.
    mail_document_type: str = ""
    # The least resolution a scanned page may have (dpi, read from its image: ekakte.scanning.pages); a
    # scan with a page below it is refused at import. 0: no minimum.
    min_dpi: int = 0
    config_file: Path | None = None
    # What the loading ignored and the user should know (retired settings); the CLI prints them.
    notices: tuple[str, ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        try:
            re.compile(self.case_number_pattern)
        except re.error as exc:
            raise ConfigError(f"case_number_pattern is not a valid regular expression: {exc}") from None
        if not self.document_types:
            raise ConfigError("document_types is empty: configure at least one document type")
        folded = [t.casefold() for t in self.document_types]
        if len(set(folded)) != len(folded):
            raise ConfigError("document_types lists a type twice (types are compared case-insensitively)")
        if self.gc_grace_hours < 1:
            raise ConfigError("gc_grace_hours must be at least 1 (a running import needs that long)")
        if not re.fullmatch(r"[A-Za-z_]+(\+[A-Za-z_]+)*", self.ocr_languages):
            raise ConfigError(f"ocr_languages must look like deu+eng, not {self.ocr_languages!r}")
        if self.s3_lock_mode not in ("COMPLIANCE", "GOVERNANCE"):
            raise ConfigError(f"s3_lock_mode must be COMPLIANCE or GOVERNANCE, not {self.s3_lock_mode!r}")
        if self.protocol_key is not None and len(self.protocol_key) < 32:
            raise ConfigError("protocol_key must be at least 32 characters (e.g. 64 hex digits)")
        if not 0 <= self.archive_answer_months <= 120:
            raise ConfigError("archive_answer_months must be 0 (off) to 120")
        if self.mail_document_type and self.mail_document_type.casefold() not in folded:
            raise ConfigError(f"mail_document_type {self.mail_document_type!r} is not one of document_types")
        if self.ocr_workers < 0:
            raise ConfigError("ocr_workers must be 0 (one per core) or more")
        if self.ocr_lease_seconds < 1:
            raise ConfigError("ocr_lease_seconds must be at least 1")
        if self.ocr_max_attempts < 1:
            raise ConfigError("ocr_max_attempts must be at least 1")
        if self.max_pages < 1:
            raise ConfigError("max_pages must be at least 1")
        if not 0 <= self.scan_warn_dpi <= 2400:
            raise ConfigError("scan_warn_dpi must be 0 (no warning) to 2400")
        if not re.fullmatch(r"all|[1-9][0-9]{0,5}|[1-9][0-9]?%|100%", self.check_sample):
            raise ConfigError(
                "check_sample must be all, a number of documents or a share like 10%,"
                f" not {self.check_sample!r}"
            )
        if not 0 <= self.paper_waiting_days <= 3650:
            raise ConfigError("paper_waiting_days must be 0 to 3650")
        if self.seal_key is not None and not re.fullmatch(r"[0-9a-fA-F]{64}", self.seal_key):
            raise ConfigError("seal_key must be 64 hex digits (an Ed25519 key's seed)")
        for key in self.seal_trusted_keys:
            if not re.fullmatch(r"[0-9a-f]{64}", key):
                raise ConfigError(f"seal_trusted_keys: {key!r} is not a public key of 64 hex digits")
        if not 0 <= self.min_dpi <= 2400:
            raise ConfigError("min_dpi must be 0 (no minimum) to 2400")
        scheme = urlsplit(self.storage).scheme
        if scheme not in ("file", "s3"):
            raise ConfigError(f"EKAKTE_STORAGE must start with file:// or s3://, not {self.storage!r}")
        if scheme == "s3" and not self.s3_endpoint:
            raise ConfigError("EKAKTE_STORAGE is s3://… but EKAKTE_S3_ENDPOINT is not set")

    @property
    def is_embedded(self) -> bool:
        return self.database_url.startswith("sqlite") and self.storage.startswith("file://")

    def case_number(self, value: str) -> str:
        """The case number in its stored form (trimmed, upper case), or InvalidInput. The pattern is
        matched with re.ASCII: \\d is 0-9 only, so "１２３４５BG…" in fullwidth digits is refused, not
        stored as a second spelling of the same case."""
        normalized = value.strip().upper()
        if not normalized.isascii() or not re.fullmatch(self.case_number_pattern, normalized, re.ASCII):
            example = (
                " (e.g. 12345BG0001234)" if self.case_number_pattern == DEFAULT_CASE_NUMBER_PATTERN else ""
            )
            raise InvalidInput(
                f"invalid case number {value!r}: expected the pattern {self.case_number_pattern}{example}"
            )
        return normalized

    def document_type(self, value: str) -> str:
        """The configured spelling of a document type, matched case-insensitively, or InvalidInput."""
        wanted = value.strip().casefold()
        for configured in self.document_types:
            if configured.casefold() == wanted:
                return configured
        raise InvalidInput(
            f"unknown document type {value!r}: expected one of {', '.join(self.document_types)}"
        )

    def display(self) -> dict[str, str]:
        """The effective settings as text, secrets masked."""
        shown: dict[str, str] = {}
        for key in _KEYS:
            value: Any = getattr(self, key)
            if value is None:
                text = ""
            elif key in _SECRET_KEYS:
                text = "********"
            elif key == "database_url":
                text = _mask_url_password(value)
            elif isinstance(value, tuple):
                text = ", ".join(value)
            else:
                text = str(value)
            shown[key] = text
        shown["config_file"] = str(self.config_file) if self.config_file else "(none)"
        return shown


def _mask_url_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":********@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def _read_file(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} (EKAKTE_CONFIG) does not exist") from None
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"config file {path} cannot be read: {exc}") from None
    unknown = sorted(set(data) - set(_KEYS) - set(_RETIRED_KEYS))
    if unknown:
        raise ConfigError(f"config file {path}: unknown setting(s) {', '.join(unknown)}")
    return data


def _as_bool(key: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{key} must be true or false, not {value!r}")


def _as_keys(value: Any) -> tuple[str, ...]:
    """Public keys as a list (config file) or comma-separated (environment), in lower case."""
    items = value.split(",") if isinstance(value, str) else list(value)
    return tuple(str(item).strip().lower() for item in items if str(item).strip())


def _as_number(raw: dict[str, Any], key: str, default: float, kind: type[int] | type[float]) -> float:
    value = raw.get(key, default)
    try:
        return kind(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{key} must be a number, not {value!r}") from None


def _as_types(key: str, value: Any) -> tuple[str, ...]:
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not all(isinstance(i, str) for i in items):
        raise ConfigError(f"{key} must be a list of names")
    return tuple(i.strip() for i in items if i.strip())


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Defaults, overridden by the config file (EKAKTE_CONFIG), overridden by the environment."""
    env = os.environ if env is None else env
    config_file = Path(env["EKAKTE_CONFIG"]).expanduser() if env.get("EKAKTE_CONFIG") else None
    raw: dict[str, Any] = _read_file(config_file) if config_file else {}
    notices = [text for key, text in _RETIRED_KEYS.items() if raw.pop(key, None) is not None]
    notices += [text for var, text in _RETIRED_VARIABLES.items() if var in env]
    for key, var in _KEYS.items():
        if var is not None and env.get(var, "") != "":
            raw[key] = env[var]

    home = Path(str(raw.get("home", "./ekakte-data"))).expanduser().resolve()
    grace = _as_number(raw, "gc_grace_hours", 24.0, float)
    return Settings(
        home=home,
        database_url=normalize_database_url(
            str(raw.get("database_url") or f"sqlite:///{home / 'ekakte.db'}")
        ),
        storage=str(raw.get("storage") or f"file://{home / 'objects'}"),
        s3_endpoint=raw.get("s3_endpoint"),
        s3_access_key=raw.get("s3_access_key"),
        s3_secret_key=raw.get("s3_secret_key"),
        s3_secure=_as_bool("s3_secure", raw.get("s3_secure", True)),
        s3_region=raw.get("s3_region"),
        s3_object_lock=_as_bool("s3_object_lock", raw.get("s3_object_lock", False)),
        s3_lock_mode=str(raw.get("s3_lock_mode", "COMPLIANCE")).upper(),
        case_number_pattern=str(raw.get("case_number_pattern", DEFAULT_CASE_NUMBER_PATTERN)),
        document_types=_as_types("document_types", raw.get("document_types", DEFAULT_DOCUMENT_TYPES)),
        station=str(raw.get("station") or socket.gethostname()),
        gc_grace_hours=grace,
        ocr_languages=str(raw.get("ocr_languages", "deu+eng")),
        ocr_workers=int(_as_number(raw, "ocr_workers", 0, int)),
        ocr_lease_seconds=_as_number(raw, "ocr_lease_seconds", 600.0, float),
        ocr_max_attempts=int(_as_number(raw, "ocr_max_attempts", 3, int)),
        searchable_pdf=_as_bool("searchable_pdf", raw.get("searchable_pdf", True)),
        max_pages=int(_as_number(raw, "max_pages", DEFAULT_MAX_PAGES, int)),
        tesseract=str(raw.get("tesseract") or "tesseract"),
        tessdata=Path(str(raw["tessdata"])).expanduser() if raw.get("tessdata") else None,
        protocol_key=raw.get("protocol_key"),
        audit_anchors=Path(str(raw.get("audit_anchors") or home / "audit-anchors.log")).expanduser(),
        archive_sender=str(raw.get("archive_sender", "")).strip(),
        archive_sender_unit=str(raw.get("archive_sender_unit", "")).strip(),
        archive_recipient=str(raw.get("archive_recipient", "")).strip(),
        archive_answer_months=int(_as_number(raw, "archive_answer_months", 0, int)),
        archive_transfer_dir=Path(str(raw.get("archive_transfer_dir") or home / "transfer")).expanduser(),
        scan_warn_dpi=int(_as_number(raw, "scan_warn_dpi", 200, int)),
        check_sample=str(raw.get("check_sample", "all")).strip().lower(),
        drop_blank_pages=_as_bool("drop_blank_pages", raw.get("drop_blank_pages", False)),
        paper_waiting_days=int(_as_number(raw, "paper_waiting_days", 28, int)),
        seal_key=raw.get("seal_key"),
        seal_trusted_keys=_as_keys(raw.get("seal_trusted_keys", ())),
        mail_document_type=str(raw.get("mail_document_type", "")).strip(),
        min_dpi=int(_as_number(raw, "min_dpi", 0, int)),
        config_file=config_file,
        notices=tuple(notices),
    )


def normalize_database_url(url: str) -> str:
    """PostgreSQL URLs without a driver get psycopg 3, the one driver we ship."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    if not (url.startswith("sqlite") or url.startswith("postgresql+psycopg")):
        raise ConfigError(
            f"EKAKTE_DATABASE_URL must be a sqlite:/// or postgresql:// URL, not {_mask_url_password(url)!r}"
        )
    return url
