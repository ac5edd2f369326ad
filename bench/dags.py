"""DAG parse time per file, in the orchestrator environment (a fresh interpreter each)."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = """
import json, sys, time
sys.path.insert(0, sys.argv[1])
from airflow.dag_processing.dagbag import DagBag
start = time.perf_counter()  # Airflow's own modules imported; the DAG file and its imports not
bag = DagBag(dag_folder=sys.argv[2])
print(json.dumps({"seconds": time.perf_counter() - start, "errors": len(bag.import_errors)}))
"""


def run() -> list[tuple[str, float, str]]:
    python = ROOT / ".venvs" / "airflow" / "bin" / "python"
    out = []
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "AIRFLOW_HOME": home, "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}
        for dag_file in sorted((ROOT / "dags").glob("skinrisk_*.py")):
            if dag_file.name == "skinrisk_common.py":
                continue
            result = subprocess.run([str(python), "-c", SCRIPT, str(ROOT / "dags"),
                                     str(dag_file)], env=env, capture_output=True, text=True,
                                    check=True, timeout=300)
            measured = json.loads(result.stdout.strip().splitlines()[-1])
            out.append((f"DAG parse, first load in a fresh interpreter: {dag_file.name}",
                        measured["seconds"], "s"))
    return out
