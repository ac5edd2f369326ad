"""External evaluation's pure rules: which images count, what is refused, what is recorded."""

from __future__ import annotations

import pytest

from skinrisk.audit.external import external_evaluations
from skinrisk.audit.trace import related_entries
from skinrisk.errors import SkinriskError
from skinrisk.evaluation.external import (
    EXTERNAL,
    _by_set,
    check_unseen,
    headline,
    images_digest,
    pack_settings,
    select_cohort,
    shared_patients,
    trained_images,
)


def row(image_id: str, batch: str, patient: str = "s1", flags: str = "") -> dict:
    return {"image_id": image_id, "batch_id": batch, "patient": patient, "flags": flags,
            "grade": "low-risk"}


CURATED = [row("c", "b2"), row("a", "b2", "s2"), row("x", "b1"),
           row("h", "b2", flags="out-of-distribution")]


def test_the_cohort_is_the_curated_images_of_its_batches_in_id_order() -> None:
    cohort = select_cohort(["b2", "b2"], ["b1", "b2", "b3"], ["b1", "b2"], CURATED)
    assert cohort.batches == ("b2",) and cohort.image_ids == ["a", "c", "h"]
    assert cohort.digest == images_digest(["h", "c", "a"])  # any order, the same digest
    assert {k: [r["image_id"] for r in v] for k, v in _by_set(cohort.rows).items()} == {
        EXTERNAL: ["a", "c"], "ood": ["h"]}


@pytest.mark.parametrize(("batches", "words"), [
    ([], "give --batch ID"),
    (["b2", "b9"], "b9 not in the raw zone"),
    (["b3"], "b3 ingested but not judged by quality yet: run `skinrisk quality`"),
    (["b4"], "b4 have no quality-accepted image"),
])
def test_a_cohort_that_cannot_be_graded_is_refused_saying_why(batches: list[str],
                                                              words: str) -> None:
    with pytest.raises(SkinriskError) as caught:
        select_cohort(batches, ["b1", "b2", "b3", "b4"], ["b1", "b2", "b4"], CURATED)
    assert words in str(caught.value)


def test_images_the_model_trained_on_are_refused_with_their_count_and_batches() -> None:
    cohort = select_cohort(["b1", "b2"], ["b1", "b2"], ["b1", "b2"], CURATED)
    trained = trained_images({"fit": ["x", "a"], "validation": ["zz"]}, "m/1")
    with pytest.raises(SkinriskError) as caught:
        check_unseen(cohort, trained, "m/1")
    assert "refused: 2 of the 4 images" in str(caught.value)
    assert "b1 (1), b2 (1)" in str(caught.value)
    check_unseen(select_cohort(["b2"], ["b2"], ["b2"], [row("n", "b2")]), trained, "m/1")


def test_a_model_without_recorded_image_lists_is_refused() -> None:
    for lists in (None, {}, {"fit": [], "validation": []}):
        with pytest.raises(SkinriskError, match="recorded no fitted/validated image lists"):
            trained_images(lists, "m/1")


def test_shared_patients_are_counted_not_refused() -> None:
    cohort = select_cohort(["b2"], ["b2"], ["b2"], CURATED)
    assert shared_patients(cohort, {"x"}, {"x": "s2", "a": "s2"}) == 1
    assert shared_patients(cohort, {"x"}, {"x": "s9"}) == 0


def test_the_model_is_fed_at_the_size_its_own_run_packed_at() -> None:
    assert pack_settings({"pack": {"image_size": 71, "jpeg_quality": 90}}, 299, 95) == (71, 90)
    assert pack_settings(None, 299, 95) == (299, 95)


def test_headline_keeps_nulls_as_nulls() -> None:
    report = {"sets": {EXTERNAL: {"n": 0, "why": "empty set"}},
              "ood": {"n": 3, "accuracy": 0.5}}
    figures = headline(report)
    assert figures["n"] == 0 and figures["macro_auc"] is None and figures["auc_dangerous"] is None
    assert figures["ood_accuracy"] == 0.5


def test_audit_lists_a_models_external_evaluations_and_checks_their_reports() -> None:
    import hashlib

    def entry(seq: int, model_run: str, run: str, sha: str) -> dict:
        return {"seq": seq, "at": "t", "event": "external_evaluation", "by": "user:x",
                "hash": str(seq), "data": {"run_id": run, "model_run_id": model_run,
                                           "batches": ["b2"], "images": 3,
                                           "images_sha256": "d", "report_sha256": sha,
                                           "figures": {"macro_auc": 0.7}}}

    good = hashlib.sha256(b"report").hexdigest()
    ledger = [entry(1, "train-run", "e1", good), entry(2, "other-run", "e2", good),
              entry(3, "train-run", "e3", good)]
    related = related_entries(ledger, "train-run", "1", "data-v1", set())
    assert [e["seq"] for e in related] == [1, 3]  # another model's are not listed
    found, checks = external_evaluations(related, {"e1": b"report", "e3": b"edited"}.get)
    assert [f["run_id"] for f in found] == ["e1", "e3"]
    assert found[0]["figures"]["macro_auc"] == 0.7
    assert [c.ok for c in checks] == [True, False]
