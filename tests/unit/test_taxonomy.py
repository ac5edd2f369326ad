import json

import pytest

from pipelines.cli import main
from skinrisk.taxonomy import (
    OOD_TYPES,
    TUMOR_TYPES,
    Flag,
    RiskGrade,
    UnknownDiagnosisError,
    describe_taxonomy,
    grade_diagnosis,
    known_codes,
    resolve_diagnosis,
)

# The paper's table (Zhao et al. 2019), written out independently of the module's own table.
PAPER = {
    "junctional_nevus": "low-risk", "intradermal_nevus": "low-risk", "dermatofibroma": "low-risk",
    "lipoma": "low-risk", "seborrheic_keratosis": "low-risk",
    "basal_cell_carcinoma": "high-risk", "bowens_disease": "high-risk",
    "actinic_keratosis": "high-risk",
    "squamous_cell_carcinoma": "dangerous", "malignant_melanoma": "dangerous",
}


@pytest.mark.parametrize(("key", "grade"), sorted(PAPER.items()))
def test_every_paper_type_has_the_papers_grade(key: str, grade: str) -> None:
    diagnosis = resolve_diagnosis(key)
    assert diagnosis.grade.value == grade
    assert diagnosis.tumor_type is not None and diagnosis.tumor_type.key == key
    assert diagnosis.flags == () and diagnosis.trainable


def test_taxonomy_is_exactly_the_papers_ten_types_in_three_grades() -> None:
    assert {t.key: t.grade.value for t in TUMOR_TYPES} == PAPER
    assert [g.value for g in RiskGrade] == ["low-risk", "high-risk", "dangerous"]
    assert [g.index for g in RiskGrade] == [0, 1, 2]


def test_advice_follows_the_grade() -> None:
    assert "monitor" in RiskGrade.LOW_RISK.advice and "sun" in RiskGrade.LOW_RISK.advice
    assert "nearby hospital" in RiskGrade.HIGH_RISK.advice
    assert "pathological" in RiskGrade.DANGEROUS.advice
    assert "urgent" in RiskGrade.DANGEROUS.advice


@pytest.mark.parametrize(("code", "grade"), [
    ("MEL", "dangerous"), ("BCC", "high-risk"), ("ACK", "high-risk"), ("SEK", "low-risk"),
    ("SCC", "dangerous"), ("NEV", "low-risk"), ("PAD:SCC", "dangerous"), ("AK", "high-risk"),
    ("ISIC:akiec", "high-risk"), ("ICD10:C43", "dangerous"), ("ICD10:L82", "low-risk"),
    ("ICDO:8090/3", "high-risk"), ("ICDO:8081/2", "high-risk"), ("ICDO:8850/0", "low-risk"),
])
def test_source_codes_grade_as_their_tumor_types(code: str, grade: str) -> None:
    assert grade_diagnosis(code) == RiskGrade(grade)


@pytest.mark.parametrize("code", known_codes())
def test_every_known_code_resolves(code: str) -> None:
    assert resolve_diagnosis(code).grade in RiskGrade


def test_codes_ignore_case_and_surrounding_space() -> None:
    assert resolve_diagnosis(" mel ").grade is RiskGrade.DANGEROUS
    assert resolve_diagnosis("Malignant Melanoma").tumor_type.key == "malignant_melanoma"


def test_pad_scc_includes_bowens_so_it_grades_dangerous_and_is_flagged() -> None:
    pad = resolve_diagnosis("PAD:SCC")
    assert pad.grade is RiskGrade.DANGEROUS
    assert Flag.GRADED_CONSERVATIVELY in pad.flags
    assert pad.tumor_type is None and "Bowen" in pad.note
    # A plain SCC from a source that means squamous cell carcinoma is not a judgement call.
    assert resolve_diagnosis("SCC").flags == ()


def test_nevus_without_type_grades_low_risk_and_is_flagged() -> None:
    for code in ("NEV", "PAD:NEV", "ISIC:nv", "ICD10:D22"):
        nevus = resolve_diagnosis(code)
        assert nevus.grade is RiskGrade.LOW_RISK
        assert nevus.flags == (Flag.TYPE_NOT_GIVEN,)


@pytest.mark.parametrize("code", ["hemangioma", "syringoma", "ICDO:9120/0", "ICDO:8407/0"])
def test_out_of_distribution_types_expect_low_risk_and_never_train(code: str) -> None:
    ood = resolve_diagnosis(code)
    assert ood.grade is RiskGrade.LOW_RISK
    assert Flag.OUT_OF_DISTRIBUTION in ood.flags
    assert not ood.trainable
    assert ood.tumor_type in OOD_TYPES


def test_unknown_code_names_the_code_and_lists_the_known_ones() -> None:
    with pytest.raises(UnknownDiagnosisError) as raised:
        resolve_diagnosis("ICD10:C44")  # mixes BCC and SCC: deliberately not mapped
    message = str(raised.value)
    assert "'ICD10:C44'" in message
    assert "MEL" in message and "PAD:SCC" in message


def test_taxonomy_json_command_prints_the_whole_mapping(capsys: pytest.CaptureFixture) -> None:
    assert main(["taxonomy", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == describe_taxonomy()
    assert len(printed["tumor_types"]) == 10
    assert {c["code"] for c in printed["codes"]} >= {"PAD:SCC", "ICD10:C43", "ISIC:AKIEC"}


def test_the_table_shows_every_code_and_type_key_whole_at_80_columns(
        capsys: pytest.CaptureFixture) -> None:
    # A code is typed into a manifest as shown: a cut one ("basal_cell_carcin…") is a trap.
    from pipelines.common import out

    width = out.width
    out.width = 80
    try:
        assert main(["taxonomy"]) == 0
    finally:
        out.width = width
    text = capsys.readouterr().out
    mapping = describe_taxonomy()
    names = {c["code"] for c in mapping["codes"]} | {
        c["tumor_type"] for c in mapping["codes"] if c["tumor_type"]}
    assert not sorted(n for n in names if n not in text) and "…" not in text
