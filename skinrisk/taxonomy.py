"""The paper's taxonomy: 10 tumor types in 3 risk grades, and the codes real sources use for them.

Zhao et al., J Med Syst 43:283 (2019). The model predicts the grade; the tumor type is kept for
reporting and slicing. Codes from other vocabularies resolve to a type (or only to a grade where the
code is broader than one type) and carry flags when the mapping involves a judgement, so that a
conservative choice is visible in every report instead of hidden in a lookup table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from skinrisk.errors import SkinriskError


class RiskGrade(StrEnum):
    """The three grades, in order of urgency (the model's class index is the order here)."""

    LOW_RISK = "low-risk"
    HIGH_RISK = "high-risk"
    DANGEROUS = "dangerous"

    @property
    def index(self) -> int:
        return list(RiskGrade).index(self)

    @property
    def advice(self) -> str:
        return ADVICE[self]


ADVICE: dict[RiskGrade, str] = {
    RiskGrade.LOW_RISK: "Keep monitoring the lesion and reduce sun exposure.",
    RiskGrade.HIGH_RISK: "Visit a nearby hospital.",
    RiskGrade.DANGEROUS: "Have a pathological examination at a major hospital, urgently.",
}

GRADE_DESCRIPTION: dict[RiskGrade, str] = {
    RiskGrade.LOW_RISK: "benign",
    RiskGrade.HIGH_RISK: "low-degree malignant",
    RiskGrade.DANGEROUS: "high-degree malignant",
}


class Flag(StrEnum):
    """Why a resolved diagnosis deserves a second look."""

    TYPE_NOT_GIVEN = "type-not-given"  # e.g. "nevus": junctional or intradermal is not said
    GRADED_CONSERVATIVELY = "graded-conservatively"  # code spans grades; the most urgent is used
    BROADER_THAN_TYPE = "broader-than-type"  # code spans several types of the same grade
    OUT_OF_DISTRIBUTION = "out-of-distribution"  # not a training class; expected grade only


@dataclass(frozen=True)
class TumorType:
    key: str
    name: str
    grade: RiskGrade
    in_taxonomy: bool = True  # False for the out-of-distribution benign types


@dataclass(frozen=True)
class Diagnosis:
    """A source code resolved against the taxonomy."""

    code: str
    grade: RiskGrade
    tumor_type: TumorType | None  # None where the code names a group, not one type
    flags: tuple[Flag, ...] = ()
    note: str = ""

    @property
    def trainable(self) -> bool:
        """Out-of-distribution types are for OOD testing only, never for training."""
        return Flag.OUT_OF_DISTRIBUTION not in self.flags


_L, _H, _D = RiskGrade.LOW_RISK, RiskGrade.HIGH_RISK, RiskGrade.DANGEROUS

TUMOR_TYPES: tuple[TumorType, ...] = (
    TumorType("junctional_nevus", "junctional nevus", _L),
    TumorType("intradermal_nevus", "intradermal nevus", _L),
    TumorType("dermatofibroma", "dermatofibroma", _L),
    TumorType("lipoma", "lipoma", _L),
    TumorType("seborrheic_keratosis", "seborrheic keratosis", _L),
    TumorType("basal_cell_carcinoma", "basal cell carcinoma", _H),
    TumorType("bowens_disease", "Bowen's disease", _H),
    TumorType("actinic_keratosis", "actinic keratosis", _H),
    TumorType("squamous_cell_carcinoma", "squamous cell carcinoma", _D),
    TumorType("malignant_melanoma", "malignant melanoma", _D),
)

# Benign types outside the training taxonomy, used as the out-of-distribution test (paper: 540
# photos of hemangioma and syringoma, expected to be graded low-risk).
OOD_TYPES: tuple[TumorType, ...] = (
    TumorType("hemangioma", "hemangioma", _L, in_taxonomy=False),
    TumorType("syringoma", "syringoma", _L, in_taxonomy=False),
)

_TYPES = {t.key: t for t in TUMOR_TYPES + OOD_TYPES}


@dataclass(frozen=True)
class _Code:
    """One entry of the code table: either a type key or a bare grade, plus flags and a note."""

    type_key: str | None
    grade: RiskGrade | None = None
    flags: tuple[Flag, ...] = ()
    note: str = ""
    vocabulary: str = "common"


_NEVUS_NOTE = "Nevus without its type; both nevus types in the taxonomy are low-risk."
_SCC_PAD_NOTE = (
    "PAD-UFES-20's SCC also includes Bowen's disease (high-risk); graded dangerous, the more "
    "urgent of the two."
)

# Keys are normalised (see normalise_code). A vocabulary prefix ("PAD:", "ICD10:", "ICDO:",
# "ISIC:") is part of the code where the same letters mean different things in different sources.
_CODES: dict[str, _Code] = {
    # abbreviations in clinical use and in PAD-UFES-20 (ACK, SEK, MEL, BCC, NEV, SCC)
    "JN": _Code("junctional_nevus"),
    "IDN": _Code("intradermal_nevus"),
    "DF": _Code("dermatofibroma"),
    "SK": _Code("seborrheic_keratosis"),
    "SEK": _Code("seborrheic_keratosis", vocabulary="pad-ufes-20"),
    "BCC": _Code("basal_cell_carcinoma"),
    "BD": _Code("bowens_disease"),
    "AK": _Code("actinic_keratosis"),
    "ACK": _Code("actinic_keratosis", vocabulary="pad-ufes-20"),
    "SCC": _Code("squamous_cell_carcinoma"),
    "MM": _Code("malignant_melanoma"),
    "MEL": _Code("malignant_melanoma", vocabulary="pad-ufes-20"),
    "NEV": _Code(None, _L, (Flag.TYPE_NOT_GIVEN,), _NEVUS_NOTE, "pad-ufes-20"),
    "NEVUS": _Code(None, _L, (Flag.TYPE_NOT_GIVEN,), _NEVUS_NOTE),
    "PAD:ACK": _Code("actinic_keratosis", vocabulary="pad-ufes-20"),
    "PAD:BCC": _Code("basal_cell_carcinoma", vocabulary="pad-ufes-20"),
    "PAD:MEL": _Code("malignant_melanoma", vocabulary="pad-ufes-20"),
    "PAD:NEV": _Code(None, _L, (Flag.TYPE_NOT_GIVEN,), _NEVUS_NOTE, "pad-ufes-20"),
    "PAD:SCC": _Code(None, _D, (Flag.GRADED_CONSERVATIVELY,), _SCC_PAD_NOTE, "pad-ufes-20"),
    "PAD:SEK": _Code("seborrheic_keratosis", vocabulary="pad-ufes-20"),
    # ISIC / HAM10000 labels
    "ISIC:NV": _Code(None, _L, (Flag.TYPE_NOT_GIVEN,), _NEVUS_NOTE, "isic"),
    "ISIC:MEL": _Code("malignant_melanoma", vocabulary="isic"),
    "ISIC:BCC": _Code("basal_cell_carcinoma", vocabulary="isic"),
    "ISIC:DF": _Code("dermatofibroma", vocabulary="isic"),
    "ISIC:AKIEC": _Code(
        None, _H, (Flag.BROADER_THAN_TYPE,),
        "Actinic keratosis or intraepithelial carcinoma (Bowen's disease): both high-risk.", "isic",
    ),
    # ICD-10 categories, only where the category is one type of the taxonomy (C44 is not: it
    # mixes basal and squamous cell carcinoma of different grades).
    "ICD10:L82": _Code("seborrheic_keratosis", vocabulary="icd-10"),
    "ICD10:L57.0": _Code("actinic_keratosis", vocabulary="icd-10"),
    "ICD10:C43": _Code("malignant_melanoma", vocabulary="icd-10"),
    "ICD10:D17": _Code("lipoma", vocabulary="icd-10"),
    "ICD10:D22": _Code(None, _L, (Flag.TYPE_NOT_GIVEN,), _NEVUS_NOTE, "icd-10"),
    "ICD10:D18.0": _Code("hemangioma", vocabulary="icd-10"),
    # ICD-O-3 morphology codes
    "ICDO:8740/0": _Code("junctional_nevus", vocabulary="icd-o-3"),
    "ICDO:8750/0": _Code("intradermal_nevus", vocabulary="icd-o-3"),
    "ICDO:8832/0": _Code("dermatofibroma", vocabulary="icd-o-3"),
    "ICDO:8850/0": _Code("lipoma", vocabulary="icd-o-3"),
    "ICDO:8090/3": _Code("basal_cell_carcinoma", vocabulary="icd-o-3"),
    "ICDO:8081/2": _Code("bowens_disease", vocabulary="icd-o-3"),
    "ICDO:8070/3": _Code("squamous_cell_carcinoma", vocabulary="icd-o-3"),
    "ICDO:8720/3": _Code("malignant_melanoma", vocabulary="icd-o-3"),
    "ICDO:9120/0": _Code("hemangioma", vocabulary="icd-o-3"),
    "ICDO:8407/0": _Code("syringoma", vocabulary="icd-o-3"),
}


class UnknownDiagnosisError(SkinriskError):
    """A diagnosis code that the taxonomy cannot resolve."""

    def __init__(self, code: str) -> None:
        self.code = code
        super().__init__(
            f"unknown diagnosis code {code!r}. Known codes: {', '.join(known_codes())}. "
            "Use one of them (a type key such as 'malignant_melanoma' also works), or add the "
            "source's code to skinrisk/taxonomy.py with the grade it maps to."
        )


def normalise_code(code: str) -> str:
    """Case, surrounding space and separators do not distinguish codes ("Mel", " mel ", "MEL")."""
    return re.sub(r"[\s\-]+", "_", code.strip()).upper()


def known_codes() -> list[str]:
    return sorted(set(_CODES) | {key.upper() for key in _TYPES})


def resolve_diagnosis(code: str) -> Diagnosis:
    """Resolve a source code (abbreviation, type key, or prefixed vocabulary code) to a grade."""
    key = normalise_code(code)
    if key.lower() in _TYPES:
        return _diagnosis_of_type(code, _TYPES[key.lower()])
    entry = _CODES.get(key)
    if entry is None:
        raise UnknownDiagnosisError(code)
    if entry.type_key is not None:
        return _diagnosis_of_type(code, _TYPES[entry.type_key], entry.note)
    assert entry.grade is not None  # table invariant: a code names a type or a grade
    return Diagnosis(code=code, grade=entry.grade, tumor_type=None, flags=entry.flags,
                     note=entry.note)


def grade_diagnosis(code: str) -> RiskGrade:
    return resolve_diagnosis(code).grade


def _diagnosis_of_type(code: str, tumor_type: TumorType, note: str = "") -> Diagnosis:
    flags = () if tumor_type.in_taxonomy else (Flag.OUT_OF_DISTRIBUTION,)
    if not tumor_type.in_taxonomy and not note:
        note = "Benign type outside the training taxonomy: out-of-distribution test only."
    return Diagnosis(code=code, grade=tumor_type.grade, tumor_type=tumor_type, flags=flags,
                     note=note)


def describe_taxonomy() -> dict[str, object]:
    """The whole mapping as plain data (what `skinrisk taxonomy --json` prints)."""
    return {
        "source": "Zhao et al., J Med Syst 43:283 (2019)",
        "grades": [
            {"grade": g.value, "index": g.index, "description": GRADE_DESCRIPTION[g],
             "advice": g.advice,
             "tumor_types": [t.key for t in TUMOR_TYPES if t.grade is g]}
            for g in RiskGrade
        ],
        "tumor_types": [_type_record(t) for t in TUMOR_TYPES],
        "out_of_distribution_types": [_type_record(t) for t in OOD_TYPES],
        "codes": [_code_record(code) for code in sorted(_CODES)],
    }


def _type_record(t: TumorType) -> dict[str, object]:
    return {"key": t.key, "name": t.name, "grade": t.grade.value, "in_taxonomy": t.in_taxonomy}


def _code_record(code: str) -> dict[str, object]:
    entry = _CODES[code]
    resolved = resolve_diagnosis(code)
    return {
        "code": code,
        "vocabulary": entry.vocabulary,
        "tumor_type": resolved.tumor_type.key if resolved.tumor_type else None,
        "grade": resolved.grade.value,
        "flags": [f.value for f in resolved.flags],
        "note": resolved.note,
    }
