"""The archive's seal key (Ed25519) and what it signs: the manifests of checked batches.

The private key is the configured `seal_key` (64 hex digits, its seed) or the key file <home>/seal.key
that `ekakte init` makes (readable by the archive's account only); never in the database, so that
someone who can change the database cannot seal what they changed. `verify` trusts the current key's
public key and those listed in `seal_trusted_keys` (earlier keys), never a key the database names.
"""

from __future__ import annotations

import contextlib
import hashlib
from typing import TYPE_CHECKING

from ekakte.config import Settings
from ekakte.errors import ConfigError
from ekakte.keyfiles import make_key_file, read_key_file

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

SEAL_KEY_FILE = "seal.key"


def ensure_seal_key(settings: Settings) -> None:
    """At `ekakte init`: make the key file under the home folder unless a key is configured."""
    if settings.seal_key:
        return
    make_key_file(settings.home / SEAL_KEY_FILE)


def private_key(settings: Settings) -> Ed25519PrivateKey:
    """EKAKTE_SEAL_KEY, else the key file; ConfigError when there is neither or it is damaged."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    seed = settings.seal_key
    if not seed:
        path = settings.home / SEAL_KEY_FILE
        missing = f"no seal key: set EKAKTE_SEAL_KEY (the same on every host), or the key file {path}"
        seed = read_key_file(path, "seal key", missing, code="no-seal-key")
        if len(seed) != 64:
            raise ConfigError(f"the seal key in {path} is not 64 hex digits: damaged?")
    try:
        return Ed25519PrivateKey.from_private_bytes(bytes.fromhex(seed))
    except ValueError:
        raise ConfigError("the seal key is not 64 hex digits") from None


def public_key(settings: Settings) -> str:
    """The public key of the archive's seal key, as 64 hex digits (what `ekakte scan key` prints)."""
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    raw = private_key(settings).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return raw.hex()


def public_key_pem(settings: Settings) -> str:
    """The same key as a PEM SubjectPublicKeyInfo block, for tools outside ekakte (openssl)."""
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    pem = private_key(settings).public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    return pem.decode()


def trusted_keys(settings: Settings) -> set[str]:
    """The public keys whose seals `verify` accepts: the current one (if one is set up) and earlier ones."""
    keys = set(settings.seal_trusted_keys)
    with contextlib.suppress(ConfigError):  # no key set up: only the earlier ones
        keys.add(public_key(settings))
    return keys


def sign(settings: Settings, data: bytes) -> tuple[str, str]:
    """The detached Ed25519 signature of `data` (hex) and the public key it verifies with (hex)."""
    key = private_key(settings)
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()
    return key.sign(data).hex(), public


def signature_holds(public_hex: str, signature_hex: str, data: bytes) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_hex)).verify(
            bytes.fromhex(signature_hex), data
        )
    except (InvalidSignature, ValueError):
        return False
    return True


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
