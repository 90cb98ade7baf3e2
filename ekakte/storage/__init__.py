"""Object storage behind one small interface: a local directory or an S3 bucket."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

from ekakte.config import Settings
from ekakte.storage.base import ObjectInfo, ObjectStore, original_key, read_verified

__all__ = ["ObjectInfo", "ObjectStore", "open_store", "original_key", "read_verified"]


def open_store(settings: Settings) -> ObjectStore:
    parsed = urlsplit(settings.storage)
    if parsed.scheme == "file":
        from ekakte.storage.local import LocalStore

        return LocalStore(Path(unquote(parsed.netloc + parsed.path)))
    from ekakte.storage.s3 import S3Store

    return S3Store(
        bucket=parsed.netloc,
        endpoint=str(settings.s3_endpoint),
        access_key=settings.s3_access_key,
        secret_key=settings.s3_secret_key,
        secure=settings.s3_secure,
        region=settings.s3_region,
        lock_mode=settings.s3_lock_mode,
        lock_new_bucket=settings.s3_object_lock,
    )
