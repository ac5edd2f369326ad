"""Source patient and lesion ids -> random surrogates, through a mapping kept apart from the data.

The mapping lives in the private store (SQLite under SKINRISK_HOME/private, access-controlled,
never versioned, logged or reported). The same source id always gets the same surrogate, across
batches and reruns; ids are normalised first so that "MRN 0012345" and "mrn12345" are one patient.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from typing import Any, Self

_DIGITS = re.compile(r"\d+")


def normalise_source_id(raw: str) -> str:
    """Case-folded, without whitespace, with leading zeros dropped from every run of digits."""
    text = unicodedata.normalize("NFKC", raw).casefold()
    text = "".join(text.split())
    return _DIGITS.sub(lambda m: m.group().lstrip("0") or "0", text)


class SurrogateMap:
    """What both stores of the mapping (SQLite embedded, PostgreSQL in production) do alike: ids
    normalised, then looked up or made by the store's ``_surrogate``; device tokens keyed by its
    ``_secret``. A store is a context manager closing its connection ``_db``."""

    _db: Any

    def _surrogate(self, table: str, prefix: str, key: dict[str, str]) -> str:
        raise NotImplementedError

    def _secret(self, name: str) -> bytes:
        raise NotImplementedError

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def surrogate_patient(self, source: str, raw_id: str) -> str:
        key = normalise_source_id(raw_id)
        return self._surrogate("patients", "P", {"source": source, "source_key": key})

    def surrogate_lesion(self, source: str, raw_patient: str, raw_lesion: str) -> str:
        return self._surrogate("lesions", "L", {
            "source": source, "patient_key": normalise_source_id(raw_patient),
            "lesion_key": normalise_source_id(raw_lesion)})

    def device_token(self, device: str) -> str:
        """A keyed hash of a device as sent: the same device gets the same token in every
        batch, and no one without this store's key can tell what text it came from (a device
        field can hold a person's name; a plain hash of a short text is easily reversed)."""
        key = normalise_source_id(device).encode()
        return "dev-" + hmac.new(self._secret("device"), key, hashlib.sha256).hexdigest()[:16]
