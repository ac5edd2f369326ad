"""MLflow: where runs and the model registry live, and what every training run carries.

The tracking URI comes from configuration: MLFLOW_TRACKING_URI when set (a server in
production), else a SQLite file with local artifacts under SKINRISK_HOME/mlflow. MLflow is
imported inside the functions: the orchestrator environment has only mlflow-skinny and must
be able to import this module.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from skinrisk.layout import StateLayout, project_root

EXPERIMENT = "skinrisk"
MODEL_NAME = "skinrisk-xception"
CHALLENGER, CHAMPION, PREVIOUS = "challenger", "champion", "previous-champion"
DATASET_COLUMNS = ("image_id", "grade", "patient", "source")  # surrogate patient ids only
# A training run's artifacts that audit and external evaluation read back.
IMAGES_ARTIFACT = "data/images.json"  # the image ids fitted on and validated on
PARAMS_ARTIFACT = "params.json"  # the params whole (MLflow's params are flat strings)
URI_VARIABLE = "MLFLOW_TRACKING_URI"
EXPERIMENT_VARIABLE = "SKINRISK_MLFLOW_EXPERIMENT"
AIRFLOW_CONTEXT = {"AIRFLOW_CTX_DAG_ID": "airflow.dag_id",
                   "AIRFLOW_CTX_DAG_RUN_ID": "airflow.run_id",
                   "AIRFLOW_CTX_TASK_ID": "airflow.task_id",
                   "AIRFLOW_CTX_TRY_NUMBER": "airflow.try_number"}


def tracking_uri(layout: StateLayout, environ: Mapping[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    return env.get(URI_VARIABLE) or f"sqlite:///{layout.mlflow / 'mlflow.db'}"


def connect(layout: StateLayout) -> str:
    """Point MLflow (tracking and registry) at the configured store; return the experiment id.

    A local store gets its artifact root beside the database, so the whole state stays under
    SKINRISK_HOME; a server decides its own artifact root (S3 in production).
    """
    import mlflow

    uri = tracking_uri(layout)
    if uri.startswith("sqlite:///"):
        layout.mlflow.mkdir(parents=True, exist_ok=True)
    exported = {k: os.environ.get(k) for k in (URI_VARIABLE, "MLFLOW_REGISTRY_URI")}
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    # MLflow also exports the URI to the environment. Configuration stays where it was: a
    # process that serves two homes (the tests) or starts subprocesses for another (audit
    # reproduce, the embedded Airflow) must not inherit this store by accident.
    for key, value in exported.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    name = os.environ.get(EXPERIMENT_VARIABLE, EXPERIMENT)
    experiment = mlflow.get_experiment_by_name(name)
    if experiment is not None:
        return experiment.experiment_id
    location = (layout.mlflow / "artifacts").as_uri() if uri.startswith("sqlite:") else None
    try:
        return mlflow.create_experiment(name, artifact_location=location)
    except mlflow.exceptions.MlflowException:  # created by a concurrent run meanwhile
        return mlflow.get_experiment_by_name(name).experiment_id


def client(layout: StateLayout | None) -> Any:
    """An MLflow client on this installation's tracking server and registry (connected first;
    None: connect() was called already)."""
    import mlflow

    if layout is not None:
        connect(layout)
    return mlflow.MlflowClient()


def load_keras(model_uri: str) -> Any:
    """The Keras model logged at ``model_uri`` (models:/<name>/<version>, runs:/..., ...)."""
    import mlflow.keras

    return mlflow.keras.load_model(model_uri)


def is_tracking_error(exc: BaseException) -> bool:
    """Whether ``exc`` came from MLflow (a server down, a timeout, a refused request). Its
    errors share no base class beyond Exception, so they are known by the module raising them."""
    return type(exc).__module__.startswith("mlflow.")


def code_version() -> dict[str, str]:
    """The source checkout's commit (and whether it had uncommitted changes)."""
    root = project_root()
    if root is None or not (root / ".git").exists():
        return {"code.commit": "unknown (not a git checkout)"}

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True,
                              check=False).stdout.strip()

    dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    return {"code.commit": git("rev-parse", "HEAD") or "unknown", "code.dirty": str(dirty)}


def context_tags(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Who ran this: Airflow's dag, run, task and try when a task runs it, else the user."""
    env = os.environ if environ is None else environ
    tags = {tag: env[var] for var, tag in AIRFLOW_CONTEXT.items() if env.get(var)}
    if not tags:
        tags["triggered_by"] = f"user:{env.get('USER', 'unknown')}"
    return tags


def flatten(params: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested params -> {'train.learning_rate': '0.001'} (MLflow params are flat strings)."""
    out: dict[str, str] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, f"{name}."))
        else:
            out[name] = str(value)[:6000]
    return out


def dvc_source(git_remote: str, rev: str, path: str) -> dict[str, str]:
    """Where an auditor gets the exact files: `dvc get <git_remote> <path> --rev <rev>`."""
    return {"git_remote": git_remote, "rev": rev, "path": path}


def log_dataset(name: str, rows: list[dict[str, Any]], digest: str, source: dict[str, str],
                context: str) -> None:
    """Register a dataset input whose digest is the DVC hash (MLflow's own digest hashes only
    the first rows of a frame; the DVC hash identifies the exact files)."""
    import mlflow
    import pandas as pd

    frame = pd.DataFrame(rows, columns=list(DATASET_COLUMNS))
    dataset = mlflow.data.from_pandas(frame, source=_dvc_source_class()(source),
                                      targets="grade", name=name, digest=digest[:36])
    mlflow.log_input(dataset, context=context, tags={"dvc_md5": digest})


def _dvc_source_class() -> type:
    """A DatasetSource naming a DVC-tracked path at a git revision (defined lazily: MLflow is
    imported only when used)."""
    from mlflow.data.dataset_source import DatasetSource

    class DvcDatasetSource(DatasetSource):
        def __init__(self, spec: dict[str, str]) -> None:
            self.spec = dict(spec)

        @staticmethod
        def _get_source_type() -> str:
            return "dvc"

        def load(self, **kwargs: Any) -> str:
            raise NotImplementedError("fetch with `dvc get` (see the source's fields)")

        @staticmethod
        def _can_resolve(raw_source: Any) -> bool:
            return False

        @classmethod
        def _resolve(cls, raw_source: Any) -> DatasetSource:
            raise NotImplementedError

        def to_dict(self) -> dict[str, Any]:
            return self.spec

        @classmethod
        def from_dict(cls, source_dict: dict[Any, Any]) -> DatasetSource:
            return cls(source_dict)

    return DvcDatasetSource


def register_once(run_id: str, model_uri: str, tags: dict[str, str], alias: str) -> str:
    """The registered version of ``run_id``'s model, given ``alias``: registered now (tagged)
    unless a version of that run exists already (a rerun), which then gets the alias again."""
    import mlflow

    registry = mlflow.MlflowClient()
    existing = registry.search_model_versions(f"name='{MODEL_NAME}' and run_id='{run_id}'")
    if not existing:
        return register(model_uri, tags, alias)
    number = str(existing[0].version)
    registry.set_registered_model_alias(MODEL_NAME, alias, number)
    return number


def register(model_uri: str, tags: dict[str, str], alias: str) -> str:
    """A new version of MODEL_NAME from a logged model, tagged, with ``alias``."""
    import mlflow

    client = mlflow.MlflowClient()
    version = mlflow.register_model(model_uri, MODEL_NAME, tags=tags)
    client.set_registered_model_alias(MODEL_NAME, alias, version.version)
    return str(version.version)



def log_evaluation_run(experiment_id: str, name: str, tags: dict[str, str],
                       metrics: dict[str, float], folder: Path) -> str:
    """A run of its own holding an evaluation (figures, report, plots); returns its id. It
    logs no model and touches no registry: an external evaluation must never move an alias."""
    import mlflow

    with mlflow.start_run(experiment_id=experiment_id, run_name=name, tags=tags) as run:
        mlflow.log_metrics(metrics)
        mlflow.log_artifacts(str(folder), "evaluation")
    return run.info.run_id
