"""Source patient and lesion ids -> random surrogates, through a mapping kept apart from the data.

The mapping lives in the private store (SQLite under SKINRISK_HOME/private, access-controlled,
never versioned, logged or reported). The same source id always gets the same surrogate, across
batches and reruns; ids are normalised first so that "MRN 0012345" and "mrn12345" are one patient.
"""

from __future__ import annotations

import re
import unicodedata

_DIGITS = re.compile(r"\d+")


def normalise_source_id(raw: str) -> str:
    """Case-folded, without whitespace, with leading zeros dropped from every run of digits."""
    text = unicodedata.normalize("NFKC", raw).casefold()
    text = "".join(text.split())
    return _DIGITS.sub(lambda m: m.group().lstrip("0") or "0", text)
