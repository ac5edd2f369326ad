"""The object store on S3 (AWS, MinIO, moto): the contract of skinrisk.storage.objects, with
the server doing the conditional parts (If-None-Match, If-Match) atomically."""

from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import Callable
from typing import Any, BinaryIO

from skinrisk.errors import SkinriskError
from skinrisk.storage.objects import (
    BUSY_ATTEMPTS,
    BUSY_BACKOFF_S,
    Keys,
    ObjectMissing,
    check_key,
    check_replacement,
    conflict_error,
    evidence_key,
    hash_stream,
    prefix_folder,
)

# S3's answers to an IfNoneMatch="*" put whose key exists (412), or that races another
# conditional put of the same key (409).
_TAKEN = ("PreconditionFailed", "ConditionalRequestConflict")
_MISSING = ("NoSuchKey", "404", "NotFound")


class S3Store:
    def __init__(self, bucket: str, prefix: str, client: Any) -> None:
        self.bucket, self.prefix, self.client = bucket, prefix, client
        self.location = f"s3://{bucket}/{prefix}"

    @classmethod
    def from_uri(cls, uri: str, client: Any | None = None) -> S3Store:
        from skinrisk.storage.s3 import make_client, split_uri

        bucket, prefix = split_uri(uri)
        return cls(bucket, prefix, client or make_client())

    def list(self, prefix: str = "") -> Keys:
        prefix_folder(prefix)  # the same prefixes as the folder store, for one contract
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self.prefix + prefix)
        return sorted(o["Key"][len(self.prefix):] for page in self._answer("", lambda: list(pages))
                      for o in page.get("Contents", []) if not o["Key"].endswith("/"))

    def get(self, key: str) -> bytes:
        from botocore.exceptions import BotoCoreError

        with self.open(key) as body:
            try:
                return bytes(body.read())
            except BotoCoreError as exc:
                raise self._no_answer(key, exc) from None

    def open(self, key: str) -> BinaryIO:
        return self._get_object(key)["Body"]  # botocore streams it as it is read

    def _get_object(self, key: str) -> dict[str, Any]:
        # ChecksumMode makes botocore check the bytes against the checksum stored at the put.
        return self._answer(check_key(key), lambda: self.client.get_object(
            Bucket=self.bucket, Key=self.prefix + key, ChecksumMode="ENABLED"))

    def replace_corrupt(self, key: str, data: bytes, expected_md5: str) -> str | None:
        check_replacement(self.location, key, data, expected_md5)
        for attempt in range(BUSY_ATTEMPTS):
            response = self._get_object(key)
            with response["Body"] as body:
                md5, sha256 = hash_stream(body)
            if md5 == expected_md5:
                return None
            # Both writes are conditional on the ETag read with those bytes: if the object
            # changed since, nothing is copied or written and it is read again.
            evidence = evidence_key(key, sha256)
            if self._keep(key, evidence, response["ETag"]) and \
                    self._put(key, data, _sha256_b64(data), if_match=response["ETag"]) == "":
                return evidence
            time.sleep(BUSY_BACKOFF_S * 2 ** attempt)
        raise SkinriskError(f"{self.location}{key} kept changing while being repaired; find the "
                            "other writer, then rerun")

    def _keep(self, key: str, evidence: str, etag: str) -> bool:
        """Copy the damaged object to its evidence key inside S3 (no bytes through this
        process); False when it changed since it was read."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self._answer(evidence, lambda: self.client.head_object(
                Bucket=self.bucket, Key=self.prefix + evidence))
            return True  # kept by an earlier repair: the name is the bytes' SHA-256
        except ObjectMissing:
            pass
        try:
            self.client.copy_object(
                Bucket=self.bucket, Key=self.prefix + evidence, CopySourceIfMatch=etag,
                CopySource={"Bucket": self.bucket, "Key": self.prefix + key},
                ChecksumAlgorithm="SHA256")
        except ClientError as exc:
            if _code(exc) in (*_TAKEN, *_MISSING):
                return False
            raise self._failed(evidence, exc) from None
        except BotoCoreError as exc:
            raise self._no_answer(evidence, exc) from None
        return True

    def put_if_absent(self, key: str, data: bytes) -> bool:
        checksum = _sha256_b64(data)
        for attempt in range(BUSY_ATTEMPTS):
            answer = self._put(check_key(key), data, checksum)
            if answer == "":
                return True
            if answer == "PreconditionFailed":
                if self.get(key) != data:
                    raise conflict_error(self.location, key)
                return False
            # 409: another conditional put of this key is in flight; S3 asks for a retry.
            time.sleep(BUSY_BACKOFF_S * 2 ** attempt)
        raise SkinriskError(f"{self.location}{key}: S3 answered 'conditional request conflict' "
                            f"{BUSY_ATTEMPTS} times; another writer holds the key, rerun later")

    def _put(self, key: str, data: bytes, checksum: str, if_match: str | None = None) -> str:
        """'' when written, else S3's code for a key that is taken, being taken or (with
        ``if_match``) no longer the object read."""
        from botocore.exceptions import BotoCoreError, ClientError

        # The checksum makes S3 refuse a body damaged in transit; IfNoneMatch makes S3 refuse
        # the put when the key exists, atomically, so a second writer never replaces the first;
        # IfMatch lets a repair replace only the very object it found damaged.
        condition = {"IfMatch": if_match} if if_match else {"IfNoneMatch": "*"}
        try:
            self.client.put_object(Bucket=self.bucket, Key=self.prefix + key, Body=data,
                                   ChecksumAlgorithm="SHA256", ChecksumSHA256=checksum,
                                   **condition)
        except ClientError as exc:
            if _code(exc) not in (*_TAKEN, *(_MISSING if if_match else ())):
                raise self._failed(key, exc) from None
            return _code(exc)
        except BotoCoreError as exc:
            raise self._no_answer(key, exc) from None
        return ""

    def _answer(self, key: str, call: Callable[[], Any]) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return call()
        except ClientError as exc:
            if key and _code(exc) in _MISSING:
                raise ObjectMissing(f"{self.location}{key}: no such object") from None
            raise self._failed(key, exc) from None
        except BotoCoreError as exc:
            raise self._no_answer(key, exc) from None

    def _no_answer(self, key: str, exc: Exception) -> SkinriskError:
        """No S3 answer at all (endpoint down, DNS, TLS, credentials), or a body cut or
        damaged on the way (botocore checks the stored checksum while it reads)."""
        return SkinriskError(f"{self.location}{key}: no (whole) answer from S3 after botocore's "
                             f"retries ({type(exc).__name__}); check the endpoint "
                             "(AWS_ENDPOINT_URL_S3), the network and the credentials, then rerun")

    def _failed(self, key: str, exc: Any) -> SkinriskError:
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return SkinriskError(f"{self.location}{key}: HTTP {status} {_code(exc)} after botocore's "
                             "retries; check the endpoint, the credentials and the bucket, then "
                             "rerun")


def _sha256_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def _code(exc: Any) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))
