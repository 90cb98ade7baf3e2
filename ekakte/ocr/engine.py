"""tesseract, run by ekakte itself: a process per page with an environment of its own, its threads off,
text and word confidences in one run, orientation detection.

Not through pytesseract: it takes the program's path from a module global and hands tesseract this
process's environment, so a worker would have to change both for everyone in the process (a web server
importing ekakte included). Here each run gets the program, `OMP_THREAD_LIMIT=1`, its private `TMPDIR`
and the configured `TESSDATA_PREFIX`, and nothing else of ours (no database URL, no S3 secret).
"""

from __future__ import annotations

import csv
import functools
import os
import re
import shutil
import signal
import stat
import subprocess
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from ekakte.errors import ConfigError
from ekakte.ocr.base import OcrError, Recognized

if TYPE_CHECKING:
    from ekakte.config import Settings

PAGE_TIMEOUT_SECONDS = 600
# --version and --list-langs answer at once; a program that does not is not a working tesseract.
QUERY_TIMEOUT_SECONDS = 60
INSTALL_HINT = (
    "install it with `apt-get install tesseract-ocr tesseract-ocr-deu` (`make services` does, as root)"
)
# Where a program named without a path is looked for: fixed, as sudo's secure_path, never the caller's
# PATH, which whoever starts ekakte sets. Also tesseract's PATH (it starts no programs of its own).
SECURE_PATH = ("/usr/local/bin", "/usr/bin", "/bin")


class TesseractEngine:
    """The OCR engine (ekakte.ocr.base.OcrEngine) of the `tesseract` and `tessdata` settings.

    The program and the models folder are checked on every run (trusted_program, trusted_tessdata): a
    worker runs for hours, and the check costs a few stat() calls against tesseract's second per page.
    """

    def __init__(
        self,
        program: str = "tesseract",
        tessdata: Path | None = None,
        timeout: float = PAGE_TIMEOUT_SECONDS,
    ) -> None:
        self.program = program
        self.tessdata = tessdata
        self.timeout = timeout

    @classmethod
    def from_settings(cls, settings: Settings) -> TesseractEngine:
        return cls(settings.tesseract, settings.tessdata)

    def check(self, languages: str) -> None:
        program = trusted_program(self.program)
        _version(program)
        have = self._languages(program)
        missing = [lang for lang in languages.split("+") if lang not in have]
        if missing:
            packages = " ".join(f"tesseract-ocr-{m.lower().replace('_', '-')}" for m in missing)
            where = f" in {self.tessdata}" if self.tessdata is not None else ""
            raise ConfigError(
                f"tesseract has no language model{where} for {', '.join(missing)}: apt-get install {packages}"
            )

    def name(self) -> str:
        return _version(trusted_program(self.program))

    def recognize(self, image: Path, languages: str, dpi: int | None, layer: bool = False) -> Recognized:
        """Read one page image (any format leptonica reads: JPEG, PNG, TIFF, PNM) as it lies."""
        program = trusted_program(self.program)
        with tempfile.TemporaryDirectory(prefix="tess-", dir=image.parent) as tmp:
            base = os.path.join(tmp, "out")
            # The `txt` config with the TSV switched on: the text and each word's confidence in one run;
            # with the `pdf` config and `textonly_pdf` also the page's invisible text as a PDF without
            # the image (the searchable rendition lays it on the original's own page image).
            outputs = ["-c", "tessedit_create_tsv=1", "txt"]
            if layer:
                outputs = ["-c", "tessedit_create_tsv=1", "-c", "textonly_pdf=1", "txt", "pdf"]
            result = self._run([program, str(image), base, "-l", languages, *_dpi(dpi), *outputs], tmp)
            if result.returncode != 0:
                raise OcrError(f"tesseract failed: {_failure(result)}")
            text = Path(base + ".txt").read_text(encoding="utf-8", errors="replace")
            confidence, words = _mean_confidence(Path(base + ".tsv"))
            pdf = Path(base + ".pdf").read_bytes() if layer else None
        return Recognized(_tidy(text), confidence, words, languages, layer=pdf)

    def detect_rotation(self, image: Path, dpi: int | None) -> int:
        program = trusted_program(self.program)
        with tempfile.TemporaryDirectory(prefix="osd-", dir=image.parent) as tmp:
            base = os.path.join(tmp, "out")
            try:
                result = self._run([program, str(image), base, "-l", "osd", "--psm", "0", *_dpi(dpi)], tmp)
            except OcrError:
                return 0  # took too long: read as it lies
            osd_file = Path(base + ".osd")
            if result.returncode != 0 or not osd_file.exists():
                return 0  # e.g. "Too few characters": nothing to turn
            osd = osd_file.read_text(encoding="utf-8", errors="replace")
        rotate = re.search(r"Rotate:\s*(\d+)", osd)
        confidence = re.search(r"Orientation confidence:\s*([\d.]+)", osd)
        if not rotate or (confidence and float(confidence.group(1)) < 1.0):
            return 0
        return int(rotate.group(1)) % 360

    def _run(self, args: list[str], tmp: str) -> subprocess.CompletedProcess[bytes]:
        """One tesseract run in the folder `tmp`, killed after the timeout (tesseract starts no
        processes of its own: killing it ends the run). It stays in the worker's process group, so a
        stop sent to the group (Ctrl-C, `kill -TERM -PGID`) reaches it too."""
        try:
            return subprocess.run(
                args,
                env=self._environment(tmp),
                cwd=tmp,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=self.timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise OcrError(f"tesseract took longer than {self.timeout:g} s and was stopped") from None
        except OSError as exc:
            raise OcrError(f"tesseract could not be started: {exc.strerror}") from None

    def _environment(self, tmp: str | None = None) -> dict[str, str]:
        # tesseract's OpenMP threads make it slower, not faster, when every core already runs one tesseract.
        env = {"PATH": os.pathsep.join(SECURE_PATH), "OMP_THREAD_LIMIT": "1"}
        if tmp is not None:
            env["TMPDIR"] = tmp
        if self.tessdata is not None:
            env["TESSDATA_PREFIX"] = trusted_tessdata(self.tessdata)
        return env

    def _languages(self, program: str) -> set[str]:
        listed = _query([program, "--list-langs"], self._environment())
        # The first line says where the models are ("List of available languages in …"); a name a line.
        return {line.strip() for line in listed.splitlines()[1:] if re.fullmatch(r"\w+", line.strip())}


@functools.cache
def _version(program: str) -> str:
    """'tesseract 5.3.0' for the real path of a trusted program; ConfigError when it does not run."""
    first = _query([program, "--version"], {"PATH": os.pathsep.join(SECURE_PATH)}).partition("\n")[0]
    found = re.search(r"\d+(?:\.\d+)+", first)
    if found is None:
        raise ConfigError(f"{program} does not tell its version as tesseract does: {INSTALL_HINT}")
    return f"tesseract {found.group()}"


def _query(args: list[str], env: dict[str, str]) -> str:
    """What tesseract prints for a question (--version, --list-langs); ConfigError when it cannot say."""
    try:
        result = subprocess.run(
            args, env=env, stdin=subprocess.DEVNULL, capture_output=True, timeout=QUERY_TIMEOUT_SECONDS
        )
    except OSError as exc:
        raise ConfigError(f"tesseract {args[0]} cannot be run: {exc.strerror}: {INSTALL_HINT}") from None
    except subprocess.TimeoutExpired:
        raise ConfigError(f"tesseract {args[0]} did not answer {args[1]} within a minute") from None
    if result.returncode != 0:
        raise ConfigError(f"tesseract {args[0]} {args[1]} failed: {_failure(result)}")
    # Older tesseracts answer on stderr.
    return (result.stdout or result.stderr).decode("utf-8", errors="replace")


def _dpi(dpi: int | None) -> list[str]:
    return ["--dpi", str(int(dpi))] if dpi else []


def _failure(result: subprocess.CompletedProcess[bytes]) -> str:
    """tesseract's complaint in one line, or how it ended."""
    if result.returncode < 0:
        try:
            return f"stopped by {signal.Signals(-result.returncode).name}"
        except ValueError:
            return f"stopped by signal {-result.returncode}"
    lines = result.stderr.decode("utf-8", errors="replace").split("\n")
    message = " ".join(line.strip() for line in lines if line.strip())
    return message[:300] if message else f"exit code {result.returncode}"


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
    _trusted_up_to_root(f"tesseract {program}", resolved, info)
    return resolved


def trusted_tessdata(folder: Path) -> str:
    """The real path of the `tessdata` folder, under the same rule as the program (trusted_program): the
    models and configs tesseract reads from it decide what it does with every page. ConfigError, one
    line, otherwise."""
    if not folder.is_absolute():
        raise ConfigError(f"tessdata must be an absolute path, not {str(folder)!r}")
    resolved = os.path.realpath(folder)
    try:
        info = os.stat(resolved)
    except OSError as exc:
        raise ConfigError(f"tessdata {folder} cannot be used: {exc.strerror}") from None
    if not stat.S_ISDIR(info.st_mode):
        raise ConfigError(f"tessdata {folder} is not a folder")
    _trusted_up_to_root(f"tessdata {folder}", resolved, info)
    return resolved


def _trusted_up_to_root(what: str, resolved: str, info: os.stat_result) -> None:
    _trusted(what, resolved, info)
    directory = resolved
    while directory != "/":
        directory = os.path.dirname(directory)
        _trusted(what, directory, os.stat(directory))


def _trusted(what: str, path: str, info: os.stat_result) -> None:
    if info.st_uid not in (0, os.geteuid()):
        raise ConfigError(
            f"{what} refused: {path} belongs to uid {info.st_uid}, not to root or the account ekakte runs as"
        )
    sticky_root_dir = stat.S_ISDIR(info.st_mode) and info.st_mode & stat.S_ISVTX and info.st_uid == 0
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH) and not sticky_root_dir:
        raise ConfigError(
            f"{what} refused: {path} is writable by group or others (mode {stat.S_IMODE(info.st_mode):04o})"
        )


def available(program: str = "tesseract") -> bool:
    return shutil.which(program) is not None
