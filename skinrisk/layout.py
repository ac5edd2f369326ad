"""Where local state lives: one setting, SKINRISK_HOME, and a fixed layout below it.

The embedded defaults (landing zone, raw zone, MLflow store, DVC and git remotes, ledger, Airflow's
SQLite database) all sit under one folder, so `make demo` never writes outside it and
`make clean-state` removes all of it. Production replaces these folders with S3, a tracking
server and Postgres through their own settings; this module only knows the local ones, and
the working prefix's URL (SKINRISK_WORK_URL), read here once with SKINRISK_HOME.
Nothing here touches the disk until a command asks for a folder.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from skinrisk.errors import SkinriskError

HOME_VARIABLE = "SKINRISK_HOME"
# The working prefix: an object store (s3://bucket/prefix or a folder) for state that a task
# retried on another machine needs (training checkpoints). Unset: SKINRISK_HOME holds it.
WORK_VARIABLE = "SKINRISK_WORK_URL"
# How a task gets its workspace: `keep` (the embedded default: SKINRISK_HOME's workspace lives
# on between tasks) or `clone` (every task checks out the data version it needs from the git
# and DVC remotes; the local disk is a cache, and may be wiped between any two tasks).
WORKSPACE_VARIABLE = "SKINRISK_WORKSPACE"
WORKSPACE_MODES = ("keep", "clone")
# A folder that outlives the tasks on one worker, outside the folders it empties: downloads and
# derived values that are content-addressed or checked before use (DVC's object cache, quality
# scores by image hash), so a worker need not fetch or decode again what it already has.
# Deleting it changes no result. Unset: SKINRISK_HOME's cache/ (DVC's cache in the workspace).
CACHE_VARIABLE = "SKINRISK_CACHE"


def project_root() -> Path | None:
    """The source checkout skinrisk runs from (editable install), or None for a wheel install."""
    root = Path(__file__).resolve().parents[1]
    return root if (root / "pyproject.toml").is_file() else None


def state_home(environ: Mapping[str, str] | None = None) -> Path:
    """SKINRISK_HOME if set, else the checkout's var/ folder."""
    env = os.environ if environ is None else environ
    if env.get(HOME_VARIABLE):
        return Path(env[HOME_VARIABLE]).expanduser().resolve()
    root = project_root()
    if root is None:
        raise SkinriskError(
            f"{HOME_VARIABLE} is not set and skinrisk is not running from a source checkout; "
            f"set {HOME_VARIABLE} to the folder that should hold local state"
        )
    return root / "var"


@dataclass(frozen=True)
class StateLayout:
    home: Path
    work_url: str | None = None  # WORK_VARIABLE's value
    clones: bool = False  # WORKSPACE_VARIABLE is `clone`
    kept_cache: Path | None = None  # CACHE_VARIABLE's folder

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> StateLayout:
        env = os.environ if environ is None else environ
        mode = env.get(WORKSPACE_VARIABLE) or "keep"
        if mode not in WORKSPACE_MODES:
            raise SkinriskError(f"{WORKSPACE_VARIABLE}: expected "
                                f"{' or '.join(WORKSPACE_MODES)}, got {mode!r}; unset it for the "
                                "embedded default (keep)")
        work_url = env.get(WORK_VARIABLE) or None
        if mode == "clone" and not work_url:
            raise SkinriskError(f"{WORKSPACE_VARIABLE}=clone needs {WORK_VARIABLE}: a task "
                                "whose disk is wiped keeps what the next task needs (training "
                                "checkpoints, run records) on the working prefix; set it to an "
                                "s3://bucket/prefix or a folder every worker can reach")
        kept = Path(env[CACHE_VARIABLE]).expanduser().resolve() if env.get(
            CACHE_VARIABLE) else None
        return cls(state_home(environ), work_url, mode == "clone", kept)

    @property
    def landing(self) -> Path:
        """Embedded landing zone: hospitals' batches, one folder each."""
        return self.home / "landing"

    @property
    def workspace(self) -> Path:
        """The pipeline's own clone of the data repository (git + DVC); never a person's."""
        return self.home / "workspace"

    @property
    def data(self) -> Path:
        """Everything DVC versions: raw zone, curated dataset, splits."""
        return self.workspace / "data"

    @property
    def raw(self) -> Path:
        return self.data / "raw"

    @property
    def quarantine(self) -> Path:
        """Refused files kept as received (not versioned): a private zone, like ``private``."""
        return self.home / "quarantine"

    @property
    def curated(self) -> Path:
        """The curated dataset: accepted images with quality scores, and what left it."""
        return self.data / "curated"

    @property
    def splits(self) -> Path:
        """Train / held-out / cross-ethnic / OOD assignment of the curated images."""
        return self.data / "splits"

    @property
    def models(self) -> Path:
        """The model the last `skinrisk train` produced, and its run record (dvc.yaml outs)."""
        return self.workspace / "models"

    @property
    def metrics(self) -> Path:
        """`skinrisk evaluate`: metrics JSON, predictions, figures (dvc.yaml metrics, plots)."""
        return self.workspace / "metrics"

    @property
    def evaluations(self) -> Path:
        """External evaluations (`skinrisk evaluate --model`): one folder per model and cohort.
        Outside the workspace: they grade no data version and are no dvc.yaml output."""
        return self.home / "evaluations"

    @property
    def checkpoints(self) -> Path:
        """Per-epoch training checkpoints, one folder per (params, data) run key; a rerun of a
        killed training resumes from here. Outside the workspace: DVC clears stage outputs."""
        return self.home / "checkpoints"

    @property
    def decisions(self) -> Path:
        """Promotion decision records (JSON + Markdown), also logged to the challenger's run."""
        return self.home / "decisions"

    @property
    def reports(self) -> Path:
        """Per-DAG-run reports (what ran, what was decided, what failed)."""
        return self.home / "reports"

    @property
    def cache(self) -> Path:
        """Derived values computed once per image (quality scores); safe to delete."""
        return self.kept_cache or self.home / "cache"

    @property
    def dvc_cache(self) -> Path | None:
        """DVC's object cache when it is kept outside the workspace (CACHE_VARIABLE)."""
        return self.kept_cache / "dvc" if self.kept_cache else None

    @property
    def private(self) -> Path:
        """Patient-id mapping: never versioned, logged or reported."""
        return self.home / "private"

    @property
    def private_zones(self) -> tuple[Path, ...]:
        """Folders readable by their owner only (skinrisk.permissions): they can hold patient
        identifiers, as ids, as received file names, or inside files kept as received."""
        return (self.private, self.quarantine)

    @property
    def mlflow(self) -> Path:
        return self.home / "mlflow"

    @property
    def dvc_remote(self) -> Path:
        return self.home / "dvc-remote"

    @property
    def git_remote(self) -> Path:
        return self.home / "git-remote.git"

    @property
    def locks(self) -> Path:
        """Lock files of the stages that write shared state (kept out of versioned folders)."""
        return self.home / "locks"

    @property
    def ledger(self) -> Path:
        return self.home / "ledger"

    @property
    def truth(self) -> Path:
        """Synthetic cohorts' truth sidecars: kept out of the landing zone, for scoring filters."""
        return self.home / "synth-truth"
