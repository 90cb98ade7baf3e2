"""The archive's secret key files under its home folder (the protocol key, the seal key): made once by
`init`, readable by the archive's own account only, read with one-line errors."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from ekakte.errors import ConfigError


def make_key_file(path: Path) -> None:
    """A new random key (64 hex digits) at `path`, mode 0600, unless one is there already."""
    if path.exists():
        return
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(secrets.token_hex(32) + "\n")


def read_key_file(path: Path, what: str, missing: str, *, code: str) -> str:
    """The key in `path`, stripped; ConfigError `missing` (with `code`) when there is no such file."""
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        raise ConfigError(missing, code=code) from None
    except OSError as exc:
        raise ConfigError(f"cannot read the {what} {path}: {exc.strerror}") from None
