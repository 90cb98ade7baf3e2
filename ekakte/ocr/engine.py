"""tesseract, through pytesseract: one process per page, its own threads off, text and confidence at once."""

from __future__ import annotations

import csv
import functools
import os
import re
import shutil
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ekakte.errors import ConfigError

# tesseract's OpenMP threads make it slower, not faster, when every core already runs one tesseract.
os.environ["OMP_THREAD_LIMIT"] = "1"

# Below this mean word confidence a page may be upside down or sideways: ask tesseract's orientation
# detection, and read it again turned. Upright pages (nearly all) pay nothing for the check.
LOW_CONFIDENCE = 60.0
PAGE_TIMEOUT_SECONDS = 600
INSTALL_HINT = (
    "install it with `apt-get install tesseract-ocr tesseract-ocr-deu` (`make services` does, as root)"
)


@dataclass(frozen=True)
class Recognized:
    text: str
    confidence: float  # mean of tesseract's word confidences, 0-100; 0 when it found no words
    words: int
    rotation: int = 0  # degrees (clockwise) the page was turned before it was read


class OcrError(Exception):
    """tesseract failed on one page; the page is tried again (a bounded number of times)."""


# Where a program named without a path is looked for: fixed, as sudo's secure_path, never the caller's
# PATH, which whoever starts ekakte sets.
SECURE_PATH = ("/usr/local/bin", "/usr/bin", "/bin")


def use(program: str) -> None:
    """Run `program` as tesseract from now on in this process (the `tesseract` setting), if it is
    trusted (see trusted_program); ConfigError otherwise. Checked on every call: a worker runs for
    hours, and the check costs a few stat() calls against tesseract's second per page."""
    import pytesseract

    path = trusted_program(program)
    if pytesseract.pytesseract.tesseract_cmd != path:
        pytesseract.pytesseract.tesseract_cmd = path
        version.cache_clear()


def trusted_program(program: str) -> str:
    """The real path of `program`, if only root (or the account ekakte runs as) can change what runs.

    tesseract is handed every page image of every team's documents, health data included: a program that
    someone else may write (or place) would copy them. So the file and each directory above it (after
    symbolic links are resolved; the resolved path is what runs) must belong to root or to this process's
    effective user and be writable by their owner only, as sudo and sshd require of what they trust. A
    sticky directory of root's (/tmp) is allowed above them: there, nobody but an entry's owner may
    rename or replace it. ConfigError, one line, otherwise."""
    if "/" not in program:
        found = next(
            (os.path.join(d, program) for d in SECURE_PATH if os.path.isfile(os.path.join(d, program))), None
        )
        if found is None:
            raise ConfigError(f"{program} is not installed in {', '.join(SECURE_PATH)}: {INSTALL_HINT}")
        candidate = found
    elif not os.path.isabs(program):
        raise ConfigError(f"tesseract must be a program name or an absolute path, not {program!r}")
    else:
        candidate = program
    resolved = os.path.realpath(candidate)
    try:
        info = os.stat(resolved)
    except OSError as exc:
        raise ConfigError(f"tesseract {program} cannot be used: {exc.strerror}: {INSTALL_HINT}") from None
    if not stat.S_ISREG(info.st_mode):
        raise ConfigError(f"tesseract {program} is not a regular file")
    _trusted(program, resolved, info)
    directory = os.path.dirname(resolved)
    while True:
        _trusted(program, directory, os.stat(directory))
        if directory == "/":
            return resolved
        directory = os.path.dirname(directory)


def _trusted(program: str, path: str, info: os.stat_result) -> None:
    if info.st_uid not in (0, os.geteuid()):
        raise ConfigError(
            f"tesseract {program} refused: {path} belongs to uid {info.st_uid}, not to root"
            " or the account ekakte runs as"
        )
    sticky_root_dir = stat.S_ISDIR(info.st_mode) and info.st_mode & stat.S_ISVTX and info.st_uid == 0
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH) and not sticky_root_dir:
        raise ConfigError(
            f"tesseract {program} refused: {path} is writable by group or others"
            f" (mode {stat.S_IMODE(info.st_mode):04o})"
        )


@functools.cache
def version() -> str:
    """'tesseract 5.3.0'; ConfigError when tesseract is missing."""
    import pytesseract

    try:
        return f"tesseract {pytesseract.get_tesseract_version()}"
    except pytesseract.TesseractNotFoundError:
        raise ConfigError(f"tesseract is not installed: {INSTALL_HINT}") from None


def check_languages(languages: str) -> None:
    """ConfigError unless tesseract has every language model of `languages` (e.g. deu+eng)."""
    import pytesseract

    version()
    have = set(pytesseract.get_languages(config=""))
    missing = [lang for lang in languages.split("+") if lang not in have]
    if missing:
        packages = " ".join(f"tesseract-ocr-{m.lower().replace('_', '-')}" for m in missing)
        raise ConfigError(
            f"tesseract has no language model for {', '.join(missing)}: apt-get install {packages}"
        )


def recognize(image: Path, languages: str, dpi: int | None = None) -> Recognized:
    """Read one page image (any format leptonica reads: JPEG, PNG, TIFF, PNM) as it lies."""
    import pytesseract
    from pytesseract.pytesseract import run_tesseract

    config = "-c tessedit_create_tsv=1"
    if dpi:
        config = f"--dpi {int(dpi)} {config}"
    # Beside the image, i.e. in the worker's own folder: tesseract's output is the page's text, and what a
    # killed worker leaves there goes with its folder (ocr/worker.py, remove_leftover_workdirs).
    with tempfile.TemporaryDirectory(prefix="tess-", dir=image.parent) as tmp:
        base = os.path.join(tmp, "out")
        try:
            run_tesseract(str(image), base, "txt", languages, config, 0, PAGE_TIMEOUT_SECONDS)
        except pytesseract.TesseractError as exc:
            raise OcrError(f"tesseract failed: {_one_line(exc.message)}") from None
        except RuntimeError as exc:  # pytesseract's timeout
            raise OcrError(f"tesseract: {exc}") from None
        text = Path(base + ".txt").read_text(encoding="utf-8", errors="replace")
        confidence, words = _mean_confidence(Path(base + ".tsv"))
    return Recognized(_tidy(text), confidence, words)


def recognize_any_orientation(image: Path, languages: str, dpi: int | None = None) -> Recognized:
    """Read a page; if it reads badly, find its orientation and read it turned upright."""
    first = recognize(image, languages, dpi)
    if first.confidence >= LOW_CONFIDENCE and first.words >= 3:
        return first
    rotation = detect_rotation(image, dpi)
    if not rotation:
        return first
    from PIL import Image

    with tempfile.TemporaryDirectory(prefix="rot-", dir=image.parent) as tmp:  # as in recognize()
        turned = Path(tmp) / "turned.png"
        with Image.open(image) as img:
            # tesseract's "Rotate: R" is clockwise; PIL's rotate() turns counter-clockwise.
            img.rotate(-rotation, expand=True).save(turned)
        second = recognize(turned, languages, dpi)
    if second.confidence > first.confidence:
        return Recognized(second.text, second.confidence, second.words, rotation)
    return first


def detect_rotation(image: Path, dpi: int | None = None) -> int:
    """Degrees to turn the page clockwise to make it upright (0, 90, 180, 270); 0 when unsure."""
    import pytesseract

    config = "--psm 0" + (f" --dpi {int(dpi)}" if dpi else "")
    try:
        osd = pytesseract.image_to_osd(str(image), config=config, timeout=PAGE_TIMEOUT_SECONDS)
    except (pytesseract.TesseractError, RuntimeError):
        return 0  # e.g. "Too few characters": nothing to turn
    rotate = re.search(r"Rotate:\s*(\d+)", osd)
    confidence = re.search(r"Orientation confidence:\s*([\d.]+)", osd)
    if not rotate or (confidence and float(confidence.group(1)) < 1.0):
        return 0
    return int(rotate.group(1)) % 360


def _mean_confidence(tsv: Path) -> tuple[float, int]:
    confidences = []
    with tsv.open(encoding="utf-8", errors="replace", newline="") as fh:
        for row in csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE):
            try:
                conf = float(row.get("conf") or -1)
            except ValueError:
                continue
            if conf >= 0 and (row.get("text") or "").strip():
                confidences.append(conf)
    if not confidences:
        return 0.0, 0
    return round(sum(confidences) / len(confidences), 1), len(confidences)


def _tidy(text: str) -> str:
    """tesseract's page text without its trailing form feed and blank-line runs."""
    lines = [line.rstrip() for line in text.replace("\f", "").splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _one_line(message: object) -> str:
    text = str(message).strip()
    return (text.splitlines()[-1] if text else "no message")[:300]


def available(program: str = "tesseract") -> bool:
    return shutil.which(program) is not None
