"""Both environments exist with their pinned versions, and the core imports in each of them."""

import json

import pytest

from tests.conftest import ENVIRONMENTS, run_in_env

IMPORT_CORE = r"""
import importlib, json, pkgutil, sys
import skinrisk, pipelines
# pipelines.celery_worker is the Celery workers' settings: Airflow loads it, in its environment
# (tests/unit/test_stateless.py imports it there), and it extends Airflow's settings.
names = [m.name for pkg in (skinrisk, pipelines)
         for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + ".")
         if m.name != "pipelines.celery_worker"]
for name in names:
    importlib.import_module(name)
heavy = sorted(n for n in ("tensorflow", "tensorflow_data_validation", "keras", "airflow", "dvc",
                           "mlflow", "cv2", "apache_beam") if n in sys.modules)
print(json.dumps({"modules": names, "heavy": heavy}))
"""


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_core_and_command_module_imports_without_heavy_libraries(env: str) -> None:
    result = run_in_env(env, ["python", "-c", IMPORT_CORE])
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert "skinrisk.taxonomy" in report["modules"] and "pipelines.cli" in report["modules"]
    assert report["heavy"] == []


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_skinrisk_command_runs_in_both_environments(env: str) -> None:
    result = run_in_env(env, ["skinrisk", "taxonomy", "--json"])
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)["tumor_types"]) == 10


VERSIONS = r"""
import json
from importlib.metadata import version
print(json.dumps({p: version(p) for p in %r}))
"""

PINS = {
    "ml": {"tensorflow": "2.16.", "tensorflow-data-validation": "1.16.1", "mlflow": "3.",
           "pandas": "1.5.", "pyarrow": "10.", "opencv-python-headless": "4.",
           "scikit-learn": "1.", "dill": "0.", "pillow": ""},
    "airflow": {"apache-airflow": "3.3.", "dvc": "3.", "dvc-s3": "3.", "boto3": "1.",
                "mlflow-skinny": "3.", "pandas": ""},
}


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_each_environment_has_its_pinned_stack(env: str) -> None:
    result = run_in_env(env, ["python", "-c", VERSIONS % (list(PINS[env]),)])
    assert result.returncode == 0, result.stderr
    installed = json.loads(result.stdout)
    for package, prefix in PINS[env].items():
        assert installed[package].startswith(prefix), (package, installed[package])


@pytest.mark.slow
def test_the_ml_stack_really_imports_and_works_together() -> None:
    code = ("import tensorflow as tf, tensorflow_data_validation as tfdv, pandas as pd, cv2, "
            "mlflow, sklearn\n"
            "stats = tfdv.generate_statistics_from_dataframe(pd.DataFrame({'x': [1, 2, 3]}))\n"
            "schema = tfdv.infer_schema(stats)\n"
            "print(len(schema.feature), float(tf.reduce_sum(tf.constant([1.0, 2.0]))))")
    result = run_in_env("ml", ["python", "-c", code], env={"TF_CPP_MIN_LOG_LEVEL": "3"})
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split()[-2:] == ["1", "3.0"]


@pytest.mark.slow
def test_the_orchestrator_stack_really_imports() -> None:
    code = ("import airflow, dvc.api, boto3, mlflow\n"
            "from airflow.sdk import dag, task\n"
            "print(airflow.__version__)")
    result = run_in_env("airflow", ["python", "-c", code])
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().startswith("3.3.")
