"""params.yaml, validated once into frozen typed objects.

The stage commands read params.yaml and call ``parse_params``; the library only ever sees the
objects below. An unknown key is an error (a typo must not silently fall back to a default), and
every message names the key, the value and what is allowed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from skinrisk.defects import Defect
from skinrisk.errors import SkinriskError
from skinrisk.feature_names import FEATURES
from skinrisk.taxonomy import OOD_TYPES, TUMOR_TYPES
from skinrisk.vocabulary import ETHNICITY_GROUPS, vocabulary_key

_TYPE_KEYS = tuple(t.key for t in TUMOR_TYPES + OOD_TYPES)
# What the quality stage does with an image a check flags (QualityParams.actions).
Action = Literal["reject", "flag", "inpaint"]
# The checks whose action params may choose; every other quality reason (privacy, resolution,
# modality, undecodable, near-duplicate) always rejects. Only ink can be painted out.
ACTIONABLE = ("blur", "underexposed", "overexposed", "background_dominant", "dye", "hair",
              "exudate")
DEFAULT_ACTIONS: dict[str, Action] = {
    "blur": "reject", "underexposed": "reject", "overexposed": "reject",
    "background_dominant": "flag", "dye": "inpaint", "hair": "flag", "exudate": "flag"}
# What kind of image a source sends: camera/smartphone photos, dermatoscope images, or else.
Modality = Literal["clinical", "dermoscopy", "other"]
MODALITIES = ("clinical", "dermoscopy", "other")


class _Params(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class SynthParams(_Params):
    """The synthetic cohort generator (`skinrisk synth`): tests and the demo."""

    images: int = Field(120, ge=1, le=1_000_000)
    width: int = Field(160, ge=32, le=8192)
    height: int = Field(120, ge=32, le=8192)
    seed: int = 0
    sources: tuple[str, ...] = ("hospital-a",)
    # 0: each type has its own look; 1: types differ only in shape detail and per-photo noise.
    difficulty: float = Field(0.3, ge=0.0, le=1.0)
    lesions_per_patient: tuple[int, int] = (1, 2)
    images_per_lesion: tuple[int, int] = (1, 3)
    fitzpatrick_weights: tuple[float, float, float, float, float, float] = (
        0.1, 0.2, 0.25, 0.2, 0.15, 0.1)
    missing_fitzpatrick_rate: float = Field(0.0, ge=0.0, le=1.0)
    tumor_types: tuple[str, ...] = tuple(t.key for t in TUMOR_TYPES)
    defect_rates: dict[Defect, float] = Field(default_factory=dict)
    image_format: Literal["jpeg", "png"] = "jpeg"

    @field_validator("sources")
    @classmethod
    def _sources(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value or any(not s.strip() for s in value):
            raise ValueError("list at least one non-empty source name")
        return value

    @field_validator("tumor_types")
    @classmethod
    def _tumor_types(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [t for t in value if t not in _TYPE_KEYS]
        if unknown or not value:
            raise ValueError(f"unknown tumor type(s) {unknown}; choose from {list(_TYPE_KEYS)}")
        return value

    @field_validator("defect_rates")
    @classmethod
    def _rates(cls, value: dict[Defect, float]) -> dict[Defect, float]:
        bad = {k.value: v for k, v in value.items() if not 0.0 <= v <= 1.0}
        if bad:
            raise ValueError(f"rates must be between 0 and 1, got {bad}")
        return value

    @model_validator(mode="after")
    def _ranges(self) -> SynthParams:
        for name in ("lesions_per_patient", "images_per_lesion"):
            low, high = getattr(self, name)
            if not 1 <= low <= high:
                raise ValueError(f"{name} must be [min, max] with 1 <= min <= max, "
                                 f"got [{low}, {high}]")
        if sum(self.fitzpatrick_weights) <= 0 or min(self.fitzpatrick_weights) < 0:
            raise ValueError("fitzpatrick_weights must be six non-negative weights, not all 0")
        return self


class ImportPadParams(_Params):
    """`skinrisk import-pad`: the PAD-UFES-20 sample as a hospital batch."""

    limit: int | None = Field(None, ge=1)  # first N images (sorted by file name); None: all


class IngestParams(_Params):
    """`skinrisk ingest`: caps checked before any image is decoded, and the re-encode quality."""

    max_file_mb: float = Field(50.0, gt=0, le=2048)
    max_megapixels: float = Field(64.0, gt=0, le=1000)
    # Used only where pixels must change (grayscale/CMYK JPEG, or an orientation jpegtran
    # cannot apply losslessly); most photos are stored with their image data untouched.
    jpeg_quality: int = Field(95, ge=75, le=100)
    # A batch whose ready marker is there but whose upload is not complete (count, manifest
    # hash or files disagree) waits this long after the marker, then is refused.
    ready_grace_minutes: float = Field(60.0, ge=0, le=60 * 24 * 30)
    # The closed vocabulary of the manifest's ethnicity column for this deployment: anything
    # else is quarantined (a free-text field is where names and record numbers hide).
    ethnicity_groups: tuple[str, ...] = ETHNICITY_GROUPS

    @field_validator("ethnicity_groups")
    @classmethod
    def _groups(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [g for g in value if vocabulary_key(g) != g or not g]
        if bad:
            raise ValueError(f"{bad}: write groups as lowercase codes with '_' between words, "
                             "e.g. south_asian")
        return value


class QualityParams(_Params):
    """`skinrisk quality`: thresholds for every check (calibration: docs/stages.md, "Quality")."""

    min_side_px: int = Field(100, ge=1)
    min_sharpness: float = Field(4.5, ge=0)  # 90th-percentile tile Laplacian variance
    max_dark_fraction: float = Field(0.5, gt=0, le=1)
    max_bright_fraction: float = Field(0.5, gt=0, le=1)
    min_skin_fraction: float = Field(0.2, ge=0, le=1)
    max_dye_fraction: float = Field(0.0025, ge=0, le=1)
    max_hair_fraction: float = Field(0.002, ge=0, le=1)
    max_wet_fraction: float = Field(0.0002, ge=0, le=1)
    # Modality (not_clinical_photo): a dermatoscope's round lens and immersion-fluid bubbles
    # (skinrisk/quality/modality.py). Checked on images of sources declared clinical only.
    max_vignette: float = Field(0.5, ge=0, le=1)  # least-dark corner's dark share
    max_bubbles: int = Field(2, ge=0)
    block_faces: bool = True  # a recognisable face is a privacy block, not a quality grade
    # Hamming distance between 63-bit perceptual hashes at or below which photos are
    # near-duplicates (kept together by the split; later copies quarantined).
    near_duplicate_distance: int = Field(6, ge=0, le=20)
    # A reviewer's decisions, standing over the filter's (docs/stages.md, "Review"): a .csv or .yaml
    # file relative to the repository; none by default.
    overrides_path: str | None = None
    # Per check: reject (leaves the curated set), flag (kept; named in the manifest's
    # `quality_flags` and on the review pages), or, for dye, inpaint (kept; pack paints the ink
    # out of the training copy). Defaults and why: docs/quality-calibration.md, "Actions".
    actions: dict[str, Action] = Field(default_factory=lambda: dict(DEFAULT_ACTIONS))

    @field_validator("actions")
    @classmethod
    def _actions(cls, value: dict[str, Action]) -> dict[str, Action]:
        unknown = sorted(set(value) - set(ACTIONABLE))
        if unknown:
            raise ValueError(f"{', '.join(unknown)}: only {', '.join(ACTIONABLE)} take an "
                             "action; every other quality reason always rejects")
        if any(action == "inpaint" for check, action in value.items() if check != "dye"):
            raise ValueError("inpaint applies to dye only (ink lines can be painted out; "
                             "other defects cannot); use reject or flag")
        return {**DEFAULT_ACTIONS, **value}

    @field_validator("overrides_path")
    @classmethod
    def _overrides(cls, value: str | None) -> str | None:
        if value is not None and not value.endswith((".csv", ".yaml", ".yml")):
            raise ValueError("name a .csv, .yaml or .yml file, relative to the repository, "
                             "or leave it null")
        return value


class DriftThreshold(_Params):
    """One drift comparator (TFDV): Jensen-Shannon divergence or L-infinity distance."""

    jensen_shannon: float | None = Field(None, gt=0, le=1)
    infinity_norm: float | None = Field(None, gt=0, le=1)

    @model_validator(mode="after")
    def _one(self) -> DriftThreshold:
        if (self.jensen_shannon is None) == (self.infinity_norm is None):
            raise ValueError("give exactly one of jensen_shannon or infinity_norm")
        return self


# Image drift thresholds (Jensen-Shannon), set where PAD-UFES-20 subsets of 60 stay below and
# a 0.8x exposure, a 1 px blur, a colour cast or a 4x upsampling go above (docs/stages.md,
# "Validate").
IMAGE_DRIFT = {"sharpness": 0.25, "brightness": 0.2, "saturation": 0.15, "redness": 0.2,
               "resolution": 0.2, "glare": 0.1}


class ValidateParams(_Params):
    """`skinrisk validate`: TFDV schema and drift gates per new batch."""

    schema_path: str = "schema/schema.pbtxt"  # curated by hand, relative to the repository
    on_anomaly: Literal["fail", "warn"] = "fail"  # schema anomalies (domains, ranges, presence)
    on_drift: Literal["fail", "warn"] = "warn"  # drift against the dataset validated so far
    drift: dict[str, DriftThreshold] = Field(default_factory=lambda: {
        "tumor_type": DriftThreshold(jensen_shannon=0.3),
        "grade": DriftThreshold(jensen_shannon=0.2),
        "fitzpatrick_group": DriftThreshold(jensen_shannon=0.3),
        "source": DriftThreshold(infinity_norm=1.0),
        **{name: DriftThreshold(jensen_shannon=value) for name, value in IMAGE_DRIFT.items()},
    })
    slice_by: tuple[str, ...] = ("source", "fitzpatrick_group")
    # Beam pipeline options, e.g. ["--runner=FlinkRunner", "--flink_master=host:8081"];
    # empty: Beam's DirectRunner on this machine.
    beam_args: tuple[str, ...] = ()

    @field_validator("drift")
    @classmethod
    def _features(cls, value: dict[str, DriftThreshold]) -> dict[str, DriftThreshold]:
        unknown = sorted(set(value) - set(FEATURES))
        if unknown:
            raise ValueError(f"no such feature(s) {unknown}; choose from {list(FEATURES)}")
        return value


class SplitParams(_Params):
    """`skinrisk split`: the frozen patient-level rule, and the sets never trained on."""

    test_fraction: float = Field(0.25, gt=0, lt=1)  # the paper: 1/4
    # Changing the salt or the fraction re-draws every patient: a new split, not a new version.
    salt: str = Field("skinrisk-split-v1", min_length=1)
    # Sources from other populations (e.g. Atlas Derm, DermIS, Derm101 in the paper), with
    # skin-type labels: the cross-ethnic test set. Never used for training.
    cross_ethnic_sources: tuple[str, ...] = ()
    # The kind of image each source sends; a source not listed sends clinical photos. Images of
    # a modality outside train_modalities are in no set (split "other_modality"): a clinical
    # model neither trains nor is tested on dermoscopy. Quality holds only clinical sources'
    # images to looking clinical (not_clinical_photo).
    source_modality: dict[str, Modality] = Field(default_factory=dict)
    train_modalities: tuple[Modality, ...] = ("clinical",)

    @field_validator("train_modalities")
    @classmethod
    def _modalities(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError(f"list at least one modality the model trains on, from "
                             f"{list(MODALITIES)} (the paper's model: [clinical])")
        return value

    def modality(self, source: str) -> str:
        return self.source_modality.get(source, "clinical")


class PackParams(_Params):
    """`skinrisk pack`: the training-ready image store."""

    image_size: int = Field(299, ge=32, le=1024)  # the paper's Xception input; small-run knob
    jpeg_quality: int = Field(95, ge=75, le=100)


class TrainParams(_Params):
    """`skinrisk train`: the paper's recipe (RMSprop 0.001, rho 0.9, batch 25, 100 epochs, 299
    px, ImageNet weights) plus switchable practice, and the GPU-worker switches."""

    weights: str = Field("imagenet", min_length=1)  # imagenet | none | path to a .h5 file
    image_size: int = Field(299, ge=71, le=1024)  # small-run knob (shards are resized)
    batch_size: int = Field(25, ge=1, le=4096)  # global batch (split across GPUs)
    epochs: int = Field(100, ge=1, le=10_000)
    optimizer: Literal["rmsprop", "adam", "sgd"] = "rmsprop"
    learning_rate: float = Field(0.001, gt=0, le=1)
    rho: float = Field(0.9, gt=0, lt=1)  # RMSprop's decay; ignored by the others
    momentum: float = Field(0.0, ge=0, lt=1)
    dropout: float = Field(0.0, ge=0, lt=1)
    # BatchNormalization momentum of the base; null keeps Keras's 0.99 (long runs). Few-epoch
    # runs from scratch need ~0.9 so evaluation does not use barely-moved statistics.
    bn_momentum: float | None = Field(None, gt=0, lt=1)
    # Base frozen for the first N epochs (head only), then everything at fine_tune_learning_rate.
    warmup_epochs: int = Field(0, ge=0)
    fine_tune_learning_rate: float = Field(0.0001, gt=0, le=1)
    lr_schedule: Literal["constant", "cosine", "plateau"] = "constant"
    plateau_patience: int = Field(3, ge=1)  # plateau: epochs without a better val AUC
    plateau_factor: float = Field(0.5, gt=0, lt=1)
    augment: bool = True  # flips, 90-degree turns, brightness/contrast (stateless, seeded)
    class_weights: Literal["none", "balanced"] = "balanced"
    # Early stopping and the best checkpoint on validation macro AUC; 0 turns stopping off.
    early_stopping_patience: int = Field(10, ge=0)
    validation_fraction: float = Field(0.1, gt=0, lt=0.5)  # of train patients
    max_images: int | None = Field(None, ge=10)  # small-run knob: cap on training images
    seed: int = 0
    mixed_precision: Literal["auto", "off", "float16", "bfloat16"] = "auto"  # auto: GPU only
    xla: bool = False
    distribute: Literal["auto", "off"] = "auto"  # auto: MirroredStrategy over 2+ GPUs

    @model_validator(mode="after")
    def _phases(self) -> TrainParams:
        if self.warmup_epochs >= self.epochs:
            raise ValueError(f"warmup_epochs ({self.warmup_epochs}) must be below epochs "
                             f"({self.epochs})")
        return self


class EvaluateParams(_Params):
    """`skinrisk evaluate`: the paper's figures and what they left out."""

    bootstrap_resamples: int = Field(2000, ge=100, le=100_000)
    confidence: float = Field(0.95, gt=0.5, lt=1)
    # skin_type groups Fitzpatrick I-II / III-IV / V-VI / unknown (the paper's weak spot is V-VI)
    slices: tuple[Literal["skin_type", "source", "body_site"], ...] = (
        "skin_type", "source", "body_site")
    seed: int = 0


class RetrainParams(_Params):
    """`skinrisk retrain-check`: when a new dataset version is worth a training run."""

    # Training images added since the champion's dataset version (no champion: always train).
    min_new_images: int = Field(100, ge=0)


class Floors(_Params):
    """Absolute AUC floors every champion must meet on every test set, comparison or not."""

    macro: float = Field(0.85, ge=0, le=1)
    low_risk: float = Field(0.85, ge=0, le=1, alias="low-risk")
    high_risk: float = Field(0.80, ge=0, le=1, alias="high-risk")
    dangerous: float = Field(0.85, ge=0, le=1)

    def of(self, figure: str) -> float:
        return {"macro": self.macro, "low-risk": self.low_risk, "high-risk": self.high_risk,
                "dangerous": self.dangerous}[figure]


class Evidence(_Params):
    """The least evidence a comparison is judged on, counted in patients (images of one patient
    are correlated: 24 images from 2 patients are 2 observations, not 24)."""

    patients: int = Field(ge=1)
    positives: int = Field(ge=1)  # patients with an image of the grade, and as many without


class MinEvidence(_Params):
    slice: Evidence = Evidence(patients=30, positives=10)
    whole_set: Evidence = Evidence(patients=100, positives=20)


class Spending(_Params):
    """Repeated decisions on the same test sets (docs/promotion-gate.md, "Repeated decisions").

    Decision i (1, 2, ...) of a test-set generation runs its superiority test at alpha/2**i
    (geometric) or alpha/max_decisions (pocock): over a generation the chance of promoting any
    challenger that is not better stays below alpha. A generation ends when every test set has
    grown by refresh_growth since its first decision; after max_decisions the gate rejects until
    then."""

    rule: Literal["geometric", "pocock"] = "geometric"
    max_decisions: int = Field(4, ge=1, le=20)
    refresh_growth: float = Field(0.5, gt=0, le=10)

    def alpha(self, alpha: float, decision: int) -> float:
        """The superiority level of the ``decision``-th (1-based) decision of a generation."""
        return alpha / 2**decision if self.rule == "geometric" else alpha / self.max_decisions


class PromoteParams(_Params):
    """`skinrisk promote`: the gate's criteria, fixed before any model is compared."""

    primary_metric: Literal["macro_auc"] = "macro_auc"
    test_sets: tuple[Literal["heldout", "cross_ethnic"], ...] = ("heldout", "cross_ethnic")
    min_delta: float = Field(0.0, ge=0, le=0.5)  # challenger must beat champion by more
    alpha: float = Field(0.05, gt=0, lt=0.5)  # one-sided, per test set, before spending
    bootstrap_resamples: int = Field(2000, ge=200, le=100_000)
    # One-sided level of every non-inferiority lower bound (0.025: the lower end of a 95% CI).
    non_inferiority_alpha: float = Field(0.025, gt=0, lt=0.5)
    non_inferiority_margin: float = Field(0.03, ge=0, le=0.5)  # per grade and per slice (macro)
    slice_grades: tuple[Literal["low-risk", "high-risk", "dangerous"], ...] = ("dangerous",)
    slice_grade_margin: float = Field(0.075, ge=0, le=0.5)  # a slice_grades AUC inside a slice
    # The dangerous grade's sensitivity at the champion's Youden threshold, on the whole set
    # and inside each slice (a slice holds a third of the positives: a wider margin, or every
    # good challenger fails on noise; docs/promotion-gate.md).
    sensitivity_margin: float = Field(0.05, ge=0, le=1)
    slice_sensitivity_margin: float = Field(0.15, ge=0, le=1)
    slices: tuple[Literal["skin_type", "source", "body_site"], ...] = ("skin_type",)
    min_n: MinEvidence = MinEvidence()
    insufficient_evidence: Literal["reject", "allow"] = "reject"
    # A slice whose value is "unknown" (e.g. no Fitzpatrick type recorded) is not a population:
    # report shows its figures without letting them block; gate judges it like any slice.
    unknown_slice: Literal["report", "gate"] = "report"
    spending: Spending = Spending()
    floors: Floors = Floors()
    seed: int = 0

    @field_validator("test_sets")
    @classmethod
    def _sets(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if "heldout" not in value:
            raise ValueError("the held-out set must be one of the test sets")
        return value

    @model_validator(mode="after")
    def _resolvable(self) -> PromoteParams:
        # The smallest bootstrap p-value is 1/(resamples+1): a spent alpha below it can never pass.
        smallest = self.spending.alpha(self.alpha, self.spending.max_decisions)
        if smallest * (self.bootstrap_resamples + 1) < 1:
            raise ValueError(
                f"spending.max_decisions {self.spending.max_decisions} spends alpha down to "
                f"{smallest:.2g}, below the smallest p-value {self.bootstrap_resamples} "
                "bootstrap_resamples can show: raise bootstrap_resamples or lower max_decisions")
        return self


class Params(_Params):
    synth: SynthParams = SynthParams()
    import_pad: ImportPadParams = ImportPadParams()
    ingest: IngestParams = IngestParams()
    quality: QualityParams = QualityParams()
    split: SplitParams = SplitParams()
    pack: PackParams = PackParams()
    train: TrainParams = TrainParams()
    evaluate: EvaluateParams = EvaluateParams()
    promote: PromoteParams = PromoteParams()
    retrain: RetrainParams = RetrainParams()
    # "validate" is the stage's name everywhere; pydantic models own a `validate` method.
    validation: ValidateParams = Field(ValidateParams(), alias="validate")


class ParamsError(SkinriskError):
    """params.yaml (or an override) does not validate."""


def parse_params(data: Mapping[str, Any] | None, where: str = "params.yaml",
                 command_line: Mapping[str, str] | None = None) -> Params:
    """Validate the parsed YAML mapping; a missing section takes its defaults.
    ``command_line``: dotted keys whose value came from a command-line option, and the option
    (``{"synth.images": "--images"}``): an error there names the option, not the file."""
    if data is not None and not isinstance(data, Mapping):
        raise ParamsError(f"{where}: the top level must be a mapping of sections, "
                          f"got {type(data).__name__}")
    try:
        return Params.model_validate(dict(data or {}))
    except ValidationError as exc:
        raise ParamsError(_explain(exc, where, command_line or {})) from None


def _explain(exc: ValidationError, where: str, command_line: Mapping[str, str]) -> str:
    lines, options = [], 0
    for err in exc.errors():
        key = ".".join(str(part) for part in err["loc"]) or "(top level)"
        option = next((o for k, o in command_line.items()
                       if key == k or key.startswith(f"{k}.")), None)
        options += option is not None
        if err["type"] == "extra_forbidden":
            lines.append(f"  - {key}: unknown key; check its spelling against params.yaml in "
                         "the repository (docs/configuration.md)")
            continue
        value = err.get("input")
        shown = f" (got {value!r})" if not isinstance(value, Mapping) else ""
        label = f"{option} (sets {key})" if option else key
        lines.append(f"  - {label}: {err['msg'].removeprefix('Value error, ')}{shown}")
    if options == len(lines):
        header = "the command line is not valid; fix these options:"
    elif options:
        header = f"{where} and the command line are not valid; fix these keys and options:"
    else:
        header = f"{where} is not valid; fix these keys:"
    return "\n".join([header, *lines])
