"""What a manifest's free-text columns may hold, and how to speak of a value without echoing it.

A hospital's manifest is typed by people: a "device" can read "Dr. Oolong's iPhone", an
"ethnicity" can hold a name and a record number. So every column that leaves ingest is either a
closed vocabulary (body site here; ethnicity groups configured per deployment), a strict pattern
(source ids), or is replaced by a keyed hash inside ingest (device, see skinrisk.surrogates). A
value that does not fit is quarantined, and messages describe it only by its length and
character classes (``describe_value``), never by its content.
"""

from __future__ import annotations

import re
import unicodedata

# Anatomical sites, coarse enough that every hospital system maps onto them. Aliases fold the
# common spellings; anything else is quarantined (bad_value) rather than carried as free text.
BODY_SITES: tuple[str, ...] = (
    "scalp", "face", "forehead", "eyelid", "ear", "nose", "cheek", "lip", "chin", "neck",
    "shoulder", "chest", "breast", "abdomen", "back", "trunk", "flank", "buttock", "genital",
    "arm", "elbow", "forearm", "wrist", "hand", "palm", "finger", "nail",
    "hip", "thigh", "knee", "leg", "ankle", "foot", "sole", "toe", "mucosa", "other",
)
BODY_SITE_ALIASES: dict[str, str] = {
    "upper_arm": "arm", "lower_arm": "forearm", "lower_leg": "leg", "shin": "leg", "calf": "leg",
    "upper_leg": "thigh", "fingertip": "finger", "finger_tip": "finger", "fingers": "finger",
    "toes": "toe", "genitals": "genital", "head": "scalp", "upper_back": "back",
    "lower_back": "back", "belly": "abdomen", "plantar": "sole", "palmar": "palm",
}
# The default ethnicity groups; a deployment lists its own in params.yaml (ingest.ethnicity_groups).
ETHNICITY_GROUPS: tuple[str, ...] = (
    "african", "asian", "caucasian", "east_asian", "hispanic", "indigenous", "middle_eastern",
    "mixed", "pacific_islander", "south_asian", "other",
)
SOURCE_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
SOURCE_RULE = "1-64 lowercase letters, digits, '.', '_' or '-', starting with a letter or digit"
MAX_ID_CHARS = 128  # patient and lesion ids
MAX_DEVICE_CHARS = 100


def vocabulary_key(value: str) -> str:
    """Case-folded, NFKC, with runs of spaces, hyphens and underscores as one '_'."""
    text = unicodedata.normalize("NFKC", value).casefold().strip()
    return re.sub(r"[\s_-]+", "_", text)


def body_site_code(value: str) -> str | None:
    """The vocabulary code of a body site as a hospital wrote it, or None if it has none."""
    key = vocabulary_key(value)
    key = BODY_SITE_ALIASES.get(key, key)
    return key if key in BODY_SITES else None


def group_code(value: str, groups: tuple[str, ...]) -> str | None:
    key = vocabulary_key(value)
    return key if key in groups else None


def has_unsafe_characters(value: str) -> bool:
    """Line breaks, NUL and other control characters, bidirectional overrides, zero-width and
    other invisible characters, unassigned or private-use code points, surrogates.

    Such characters split a row in a later CSV reader, make one value look like another on a
    screen, or end a string early in C code; a value carrying one is never a real label.
    """
    return any(unicodedata.category(c)[0] == "C" or unicodedata.category(c) in ("Zl", "Zp")
               for c in value)


def describe_value(value: str) -> str:
    """A value's shape, safe to print: its length and the kinds of character it holds."""
    kinds = []
    for kind, test in (("letters", str.isalpha), ("digits", str.isdigit),
                       ("spaces", str.isspace)):
        if any(test(c) for c in value):
            kinds.append(kind)
    if has_unsafe_characters(value):
        kinds.append("control or invisible characters")
    if any(not (c.isalnum() or c.isspace()) and not has_unsafe_characters(c) for c in value):
        kinds.append("punctuation or symbols")
    return f"a value of {len(value)} character(s) ({', '.join(kinds) or 'none'})"
