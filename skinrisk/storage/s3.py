"""The landing zone on S3 (AWS, or MinIO and other S3 APIs through an endpoint URL).

Endpoint, region and credentials come from the environment as boto3 reads them
(AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_S3, AWS_DEFAULT_REGION, AWS_ACCESS_KEY_ID, ... or an
instance role); an Airflow task passes its connection's values the same way. Nothing is read
from files in the repository. Retries use botocore's standard mode with backoff.
"""

from __future__ import annotations

import base64
import hashlib
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from skinrisk.batch import READY_MARKER, is_batch_id
from skinrisk.errors import SkinriskError
from skinrisk.storage.landing import UNSAFE_NAME, FileInfo, Received

_T = TypeVar("_T")
CHUNK = 1 << 20
READ_ATTEMPTS = 4
BACKOFF_S = 0.5


class TransferError(SkinriskError):
    """A download that stayed damaged after retries; the batch is left for a later run."""


def _describe(exc: Any) -> str:
    error = exc.response.get("Error", {})
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return f"HTTP {status} {error.get('Code', '')} ({error.get('Message', '')})".strip()


def make_client() -> Any:
    import boto3
    from botocore.config import Config

    config = Config(retries={"mode": "standard", "max_attempts": 6}, connect_timeout=10,
                    read_timeout=60, request_checksum_calculation="when_required",
                    response_checksum_validation="when_supported")
    return boto3.client("s3", config=config)


def split_uri(uri: str) -> tuple[str, str]:
    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    if not bucket:
        raise SkinriskError(f"{uri!r} has no bucket; write s3://bucket/prefix/")
    return bucket, (prefix.rstrip("/") + "/") if prefix.strip("/") else ""


class S3Landing:
    def __init__(self, bucket: str, prefix: str, client: Any) -> None:
        self.bucket, self.prefix, self.client = bucket, prefix, client
        self.uri = f"s3://{bucket}/{prefix}"

    @classmethod
    def from_uri(cls, uri: str, client: Any | None = None) -> S3Landing:
        bucket, prefix = split_uri(uri)
        return cls(bucket, prefix, client or make_client())

    def batch_ids(self) -> list[tuple[str, bool]]:
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self.prefix, Delimiter="/")
        ids = [p["Prefix"][len(self.prefix):].rstrip("/")
               for page in pages for p in page.get("CommonPrefixes", [])]
        # No request is made under a prefix that is not a valid batch id ('..', spaces):
        # the caller reports those entries; they are never read.
        return sorted((i, is_batch_id(i) and self._exists(f"{self.prefix}{i}/{READY_MARKER}"))
                      for i in ids)

    def _exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True

    def open_batch(self, batch_id: str) -> S3Batch:
        return S3Batch(self.client, self.bucket, f"{self.prefix}{batch_id}/", batch_id)


class S3Batch:
    def __init__(self, client: Any, bucket: str, prefix: str, batch_id: str) -> None:
        self.client, self.bucket, self.prefix, self.batch_id = client, bucket, prefix, batch_id

    def files(self) -> dict[str, FileInfo]:
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self.prefix)
        return {obj["Key"][len(self.prefix):]: _info(obj["Key"][len(self.prefix):], obj)
                for page in pages for obj in page.get("Contents", [])
                if not obj["Key"].endswith("/")}

    def digest(self, name: str) -> str:
        return self.read(name).sha256

    def ready_at(self) -> float:
        head = self.client.head_object(Bucket=self.bucket, Key=self.prefix + READY_MARKER)
        return float(head["LastModified"].timestamp())

    def read(self, name: str) -> Received:
        """The object's bytes, checked against the SHA-256 S3 stored for it when there is one."""
        def fetch() -> Received:
            response = self.client.get_object(Bucket=self.bucket, Key=self.prefix + name,
                                              ChecksumMode="ENABLED")
            data = response["Body"].read()
            digest = hashlib.sha256(data)
            _check(response, digest)
            return Received(data, digest.hexdigest())

        return self._retrying(name, fetch)

    def copy_to(self, name: str, target: Path) -> str:
        """Stream the object to ``target`` (a large file kept as quarantine evidence); returns
        its SHA-256, checked like read()'s."""
        target.parent.mkdir(parents=True, exist_ok=True)

        def fetch() -> str:
            response = self.client.get_object(Bucket=self.bucket, Key=self.prefix + name,
                                              ChecksumMode="ENABLED")
            digest = hashlib.sha256()
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
            try:
                with os.fdopen(fd, "wb") as dst:
                    for chunk in iter(lambda: response["Body"].read(CHUNK), b""):
                        digest.update(chunk)
                        dst.write(chunk)
                _check(response, digest)
                os.replace(tmp, target)
            finally:
                Path(tmp).unlink(missing_ok=True)
            return digest.hexdigest()

        return self._retrying(name, fetch)

    def _retrying(self, name: str, fetch: Callable[[], _T]) -> _T:
        """botocore retries a request whose answer is a 5xx, a throttle or a dropped connection,
        but not a body cut off or damaged while it streams: that is retried here, with backoff.
        """
        from botocore.exceptions import (
            ClientError,
            ConnectionClosedError,
            FlexibleChecksumError,
            IncompleteReadError,
            ReadTimeoutError,
            ResponseStreamingError,
        )

        streaming = (ResponseStreamingError, IncompleteReadError, ReadTimeoutError,
                     FlexibleChecksumError, ConnectionClosedError, _Damaged)
        key = self.prefix + name
        why = ""
        for attempt in range(READ_ATTEMPTS):
            if attempt:
                time.sleep(BACKOFF_S * 2 ** (attempt - 1))
            try:
                return fetch()
            except streaming as exc:
                why = str(exc) if isinstance(exc, _Damaged) else f"{type(exc).__name__}: {exc}"
            except ClientError as exc:  # botocore's own retries are spent
                raise TransferError(f"s3://{self.bucket}/{key}: {_describe(exc)} after "
                                    "botocore's retries; nothing was ingested from this batch. "
                                    "Rerun later; if it persists, check the endpoint and the "
                                    "object") from None
        raise TransferError(f"s3://{self.bucket}/{key}: {why}, {READ_ATTEMPTS} times; the "
                            "object or the network is damaged. Nothing was ingested from this "
                            "batch; rerun later or ask the sender to upload the file again")


def _info(name: str, obj: dict[str, Any]) -> FileInfo:
    """A key whose name has empty, '.' or '..' segments is never fetched: some HTTP layers
    normalise such paths, and the request could reach a key outside the batch's prefix."""
    size = int(obj["Size"])
    signature = f"{size}:{obj.get('ETag', '')}:{obj['LastModified'].isoformat()}"
    if any(part in ("", ".", "..") for part in name.split("/")) or "\\" in name:
        return FileInfo(size, kind=UNSAFE_NAME, signature=signature,
                        what="key with '.', '..' or empty path segments")
    return FileInfo(size, signature=signature)


class _Damaged(Exception):
    """Bytes that do not hash to the checksum S3 stored for them."""


def _check(response: dict[str, Any], digest: Any) -> None:
    stored = response.get("ChecksumSHA256")
    # A multipart upload's checksum is a checksum of part checksums ("...-N"): not comparable
    # with the whole object's; botocore checks the parts.
    if stored and "-" not in stored and base64.b64encode(digest.digest()).decode() != stored:
        raise _Damaged("the SHA-256 of the bytes differs from the checksum S3 stored")
