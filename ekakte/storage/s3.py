"""The production object store: an S3 bucket (MinIO) through the minio client."""

from __future__ import annotations

import base64
import contextlib
import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, BinaryIO
from urllib.parse import urlsplit

from ekakte.errors import ChecksumMismatch, ConfigError, IntegrityError, StorageError, StoreRefused
from ekakte.storage.base import CHUNK_SIZE, HashingReader, ObjectInfo, ObjectLock, mismatch_on_put

if TYPE_CHECKING:
    from minio import Minio

# Objects up to this size go in one PUT that carries the whole object's SHA-256, so the server itself
# refuses bytes that do not match (and Object Lock buckets get the checksum they insist on). Larger ones
# go in parts of this size, one at a time, so memory stays bounded; each part is signed with its own digest.
PART_SIZE = 16 * 1024 * 1024
META_SHA256 = "sha256"
# What S3 servers answer when the bytes they received do not match the digest sent along.
_CHECKSUM_REFUSALS = {
    "BadDigest",
    "InvalidDigest",
    "XAmzContentChecksumMismatch",
    "XAmzContentSHA256Mismatch",
}


class S3Store:
    def __init__(
        self,
        bucket: str,
        endpoint: str,
        access_key: str | None,
        secret_key: str | None,
        secure: bool = True,
        region: str | None = None,
        lock_mode: str = "COMPLIANCE",
        lock_new_bucket: bool = False,
    ) -> None:
        import urllib3
        from minio import Minio
        from minio.helpers import check_bucket_name

        parsed = urlsplit(endpoint if "://" in endpoint else f"//{endpoint}")
        if parsed.scheme:
            secure = parsed.scheme == "https"
        host = parsed.netloc
        if not host:
            raise ConfigError(f"EKAKTE_S3_ENDPOINT {endpoint!r} names no host")
        try:
            check_bucket_name(bucket)
        except ValueError:
            raise ConfigError(f"EKAKTE_STORAGE: {bucket!r} is not a valid S3 bucket name") from None
        http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=5, read=120),
            retries=urllib3.Retry(total=3, backoff_factor=0.3, status_forcelist=[500, 502, 503, 504]),
            maxsize=10,
        )
        self.bucket = bucket
        self._versioning: bool | None = None
        self._locking: bool | None = None
        self.lock_mode = lock_mode
        self.lock_new_bucket = lock_new_bucket
        self.description = f"s3://{bucket} at {'https' if secure else 'http'}://{host}"
        self.client: Minio = Minio(
            host, access_key=access_key, secret_key=secret_key, secure=secure, region=region, http_client=http
        )

    @contextlib.contextmanager
    def _errors(self, action: str, key: str = "") -> Iterator[None]:
        from minio.error import MinioException, S3Error
        from urllib3.exceptions import HTTPError

        target = f"{key} in {self.description}" if key else self.description
        try:
            yield
        except S3Error as exc:
            if exc.code in _CHECKSUM_REFUSALS:
                raise ChecksumMismatch(
                    f"the object store refused {target}: its bytes do not match their SHA-256 ({exc.code});"
                    " nothing was stored, try again"
                ) from exc
            raise StoreRefused(
                f"object store refused to {action} {target}: {exc.code} {exc.message}"
            ) from exc
        except (HTTPError, MinioException, OSError) as exc:
            raise StorageError(
                f"cannot reach the object store to {action} {target}: {_first_line(exc)}"
            ) from exc

    def prepare(self) -> None:
        with self._errors("create the bucket"):
            if not self.client.bucket_exists(self.bucket):
                self.client.make_bucket(self.bucket, object_lock=self.lock_new_bucket)

    def object_lock(self) -> bool:
        from minio.error import S3Error

        if self._locking is None:
            try:
                with self._errors("inspect the bucket"):
                    self.client.get_object_lock_config(self.bucket)
                self._locking = True
            except StorageError as exc:
                cause = exc.__cause__
                if not (isinstance(cause, S3Error) and cause.code == "ObjectLockConfigurationNotFoundError"):
                    raise  # unreachable, or not allowed to ask: not the same as "no lock"
                self._locking = False
        return self._locking

    def retain(self, key: str, until: datetime) -> None:
        from minio.commonconfig import COMPLIANCE, GOVERNANCE
        from minio.retention import Retention

        mode = COMPLIANCE if self.lock_mode == "COMPLIANCE" else GOVERNANCE
        with self._errors("set the retention of", key):
            self.client.set_object_retention(self.bucket, key, Retention(mode, until))

    def hold(self, key: str, on: bool) -> None:
        with self._errors("set the legal hold of", key):
            if on:
                self.client.enable_object_legal_hold(self.bucket, key)
            else:
                self.client.disable_object_legal_hold(self.bucket, key)

    def put(self, key: str, source: BinaryIO, size: int, sha256: str, content_type: str) -> ObjectInfo:
        reader = HashingReader(source)
        headers: dict[str, Any] = {META_SHA256: sha256}
        if size <= PART_SIZE:
            headers["x-amz-sdk-checksum-algorithm"] = "SHA256"
            headers["x-amz-checksum-sha256"] = base64.b64encode(bytes.fromhex(sha256)).decode()
        with self._errors("store", key):
            result = self.client.put_object(
                self.bucket,
                key,
                reader,  # type: ignore[arg-type]  # duck-typed stream: minio only calls read()
                size,
                content_type=content_type,
                metadata=headers,
                part_size=PART_SIZE,
                num_parallel_uploads=1,
            )
        if reader.hexdigest() != sha256 or reader.size != size:
            # Our own check, for multipart uploads and servers that ignore the checksum header (RadosGW
            # does). Under a bucket's default retention the store refuses to delete what it just took:
            # the upload stays, unreferenced, and `verify` names it until `gc` can remove it.
            mismatch = mismatch_on_put(key, sha256, size, reader.hexdigest(), reader.size)
            refused = self.delete_many([key])
            if refused:
                raise ChecksumMismatch(
                    f"{mismatch}; the store keeps the wrong bytes under its lock ({refused[key]}):"
                    " a gc removes them once the lock has passed"
                ) from mismatch
            raise mismatch
        modified = _parse_http_date(result.http_headers.get("last-modified")) if result.http_headers else None
        return ObjectInfo(key, size, modified or datetime.now().astimezone(), sha256)

    def get(self, key: str) -> Iterator[bytes]:
        from minio.error import S3Error

        try:
            with self._errors("read", key):
                response = self.client.get_object(self.bucket, key)
        except StorageError as exc:
            if isinstance(exc.__cause__, S3Error) and exc.__cause__.code == "NoSuchKey":
                raise IntegrityError(f"object {key} is missing from {self.description}") from None
            raise
        try:
            with self._errors("read", key):
                yield from response.stream(CHUNK_SIZE)
        finally:
            response.close()
            response.release_conn()

    def stat(self, key: str) -> ObjectInfo | None:
        from minio.error import S3Error

        try:
            with self._errors("inspect", key):
                st = self.client.stat_object(self.bucket, key)
        except StorageError as exc:
            if isinstance(exc.__cause__, S3Error) and exc.__cause__.code in ("NoSuchKey", "NoSuchObject"):
                return None
            raise
        meta = {k.lower(): v for k, v in (st.metadata or {}).items()}
        modified = st.last_modified or datetime.now().astimezone()
        lock = _object_lock(meta) if self.object_lock() else None
        return ObjectInfo(key, int(st.size or 0), modified, meta.get(f"x-amz-meta-{META_SHA256}"), lock)

    def delete(self, key: str) -> None:
        refused = self.delete_many([key])  # every version, where the bucket keeps versions
        if refused:
            raise StorageError(f"object store refused to delete {key} in {self.description}: {refused[key]}")

    def delete_many(self, keys: list[str]) -> dict[str, str]:
        from minio.deleteobjects import DeleteObject

        if not keys:
            return {}
        with self._errors("delete objects"):
            targets = [DeleteObject(key, version) for key in keys for version in self._versions(key)]
            refused = {
                str(error.name): f"{error.code} {error.message}"
                for error in self.client.remove_objects(self.bucket, iter(targets))
                if error.code not in ("NoSuchKey", "NoSuchVersion")
            }
        return refused

    def _versions(self, key: str) -> list[str | None]:
        """Every stored version of `key` in a versioned bucket (Object Lock buckets are), else [None]:
        deleting without a version id would only hide the object behind a delete marker."""
        if not self._versioned():
            return [None]
        found = [
            str(obj.version_id) if obj.version_id else None
            for obj in self.client.list_objects(self.bucket, prefix=key, include_version=True)
            if obj.object_name == key
        ]
        return found or [None]

    def _versioned(self) -> bool:
        if self._versioning is None:
            config = self.client.get_bucket_versioning(self.bucket)
            self._versioning = config.status in ("Enabled", "Suspended")
        return self._versioning

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        with self._errors("list"):
            for obj in self.client.list_objects(self.bucket, prefix=prefix, recursive=True):
                modified = obj.last_modified or datetime.now().astimezone()
                yield ObjectInfo(str(obj.object_name), int(obj.size or 0), modified)

    def remove_abandoned_uploads(self, older_than: datetime) -> int:
        # minio-py aborts a failed multipart upload itself; parts left by a killed process are invisible
        # to listings and expire by the bucket's AbortIncompleteMultipartUpload lifecycle rule
        # (docs/configuration.md). Nothing for ekakte to remove here.
        return 0


def _object_lock(headers: Mapping[str, str]) -> ObjectLock:
    """The lock from a HEAD answer's headers (lower-cased names). An S3 server sends them to a caller who
    may read retention and legal holds; without them the object counts as unlocked."""
    text = headers.get("x-amz-object-lock-retain-until-date")
    until = unreadable = None
    if text:
        try:
            until = parse_lock_date(text)
        except StorageError:  # that one object's answer; never a reason to stop a whole run
            unreadable = text
    return ObjectLock(
        mode=headers.get("x-amz-object-lock-mode"),
        retain_until=until,
        legal_hold=headers.get("x-amz-object-lock-legal-hold", "OFF").upper() == "ON",
        unreadable=unreadable,
    )


_ISO_UTC = re.compile(r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]00:?00)?")


def parse_lock_date(text: str) -> datetime:
    """An Object Lock retain-until date as S3 servers write it: MinIO and AWS with milliseconds,
    RadosGW with nine fractional digits (which minio-py's own parser refuses), some with none."""
    match = _ISO_UTC.fullmatch(text.strip())
    if not match:
        raise StorageError(f"the object store sent a retain-until date ekakte cannot read: {text!r}")
    whole, fraction, _zone = match.groups()
    micros = int((fraction or "0")[:6].ljust(6, "0"))
    return datetime.fromisoformat(whole).replace(microsecond=micros, tzinfo=UTC)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _parse_http_date(value: str | None) -> datetime | None:
    from email.utils import parsedate_to_datetime

    if not value:
        return None
    with contextlib.suppress(TypeError, ValueError):
        return parsedate_to_datetime(value)
    return None
