"""infra/: the production deployment files, checked without a container engine or a cluster.

Static checks: the compose topology (and `docker compose config` where a compose client is
installed), the Helm values against the official chart's keys (and `helm template` where helm
and the chart are present), the images' installs against the committed locks, every environment
variable the code reads against docs/environment.md and both deployments, the DAGs' pools and
queue against compose and the chart, and no credentials in the repository. Both environments.
"""

from __future__ import annotations

import ast
import functools
import importlib.metadata
import importlib.util
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO

INFRA = REPO / "infra"
COMPOSE = INFRA / "compose" / "compose.yaml"
ENV_EXAMPLE = INFRA / "compose" / ".env.example"
VALUES = INFRA / "k8s" / "values.yaml"
POOLS_FILE = INFRA / "airflow" / "pools.json"
ENV_DOC = REPO / "docs" / "environment.md"
DOCKERFILES = {"airflow": INFRA / "images" / "airflow.Dockerfile",
               "trainer": INFRA / "images" / "trainer.Dockerfile"}
CODE_DIRS = ("skinrisk", "pipelines", "dags", "infra/topology")
INIT_SERVICES = {"airflow-init", "minio-init", "skinrisk-db-setup"}
WORKERS = ("airflow-worker-cpu", "airflow-worker-gpu")
# Set on every worker, to a value of its own: each worker holds its own database login and S3
# key, and only the CPU worker's may read the identity map and the quarantine (docs/environment.md).
PER_WORKER = {"SKINRISK_DATABASE_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}
IMAGE_REPO = "/opt/skinrisk"  # where the images put the checkout

# How code reads the environment; a new form of access needs a pattern here.
_NAME = r"([A-Z][A-Z0-9_]*)"
_READS = [re.compile(p, re.MULTILINE) for p in (
    rf"environ\.(?:get|setdefault|pop)\(\s*[\"']{_NAME}[\"']",
    rf"environ\[\s*[\"']{_NAME}[\"']\s*\]",
    rf"getenv\(\s*[\"']{_NAME}[\"']",
    rf"\benv\.get\(\s*[\"']{_NAME}[\"']",
    rf"\benv\[\s*[\"']{_NAME}[\"']\s*\]",
    rf"envvar\s*=\s*[\"']{_NAME}[\"']",
    rf"^\s*[A-Z][A-Z0-9_]*_VARIABLE\s*=\s*[\"']{_NAME}[\"']",
    r"[\"']((?:SKINRISK|AIRFLOW_CTX|MLFLOW|AWS)_[A-Z0-9_]+)[\"']",
)]


def variables_read(source: str) -> set[str]:
    return {m for pattern in _READS for m in pattern.findall(source)}


@functools.cache
def code_variables() -> dict[str, list[str]]:
    """Every environment variable the code reads -> the files that read it."""
    found: dict[str, list[str]] = {}
    for folder in CODE_DIRS:
        for path in sorted((REPO / folder).rglob("*.py")):
            for name in variables_read(path.read_text(encoding="utf-8")):
                found.setdefault(name, []).append(str(path.relative_to(REPO)))
    return found


def _cells(line: str) -> list[str]:
    return [c.strip() for c in re.split(r"(?<!\\)\|", line.strip().strip("|"))]


@functools.cache
def documented() -> dict[str, str]:
    """docs/environment.md's variable table: variable -> its production value."""
    rows: dict[str, str] = {}
    lines = ENV_DOC.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| variable | read by |"))
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        cells = _cells(line)
        for name in re.findall(r"`([A-Z][A-Z0-9_]+)`", cells[0]):
            assert name not in rows, f"{name} has two rows in docs/environment.md"
            rows[name] = cells[3]
    return rows


def production_variables() -> set[str]:
    return {name for name, value in documented().items() if not value.startswith("—")}


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


@functools.cache
def compose() -> dict[str, Any]:
    return load_yaml(COMPOSE)


def service(name: str) -> dict[str, Any]:
    return compose()["services"][name]


@functools.cache
def env_example() -> dict[str, str]:
    pairs = (line.split("=", 1) for line in ENV_EXAMPLE.read_text().splitlines()
             if line.strip() and not line.startswith("#"))
    return {key.strip(): value.strip() for key, value in pairs}


def interpolate(value: str) -> str:
    """Compose's ${VAR}, ${VAR:-default}, ${VAR:?error} with .env.example's values."""
    def one(match: re.Match[str]) -> str:
        name, op, arg = match.group(1), match.group(2) or "", match.group(3) or ""
        return env_example().get(name) or (arg if op == ":-" else f"<{name}>")
    return re.sub(r"\$\{([A-Z0-9_]+)(:-|:\?)?([^}]*)\}", one, value)


@functools.cache
def values() -> dict[str, Any]:
    return load_yaml(VALUES)


def values_env() -> dict[str, str]:
    return {item["name"]: item["value"] for item in values()["env"]}


def values_secret_env() -> dict[str, tuple[str, str]]:
    return {s["envName"]: (s["secretName"], s["secretKey"]) for s in values()["secret"]}


def lock_version(env: str, package: str) -> str:
    match = re.search(rf"^{re.escape(package)}==(\S+)", (REPO / f"requirements/{env}.lock")
                      .read_text(), re.MULTILINE)
    assert match, f"{package} is not pinned in requirements/{env}.lock"
    return match.group(1)


def module_ast(relative: str) -> ast.Module:
    return ast.parse((REPO / relative).read_text(encoding="utf-8"))


def dag_pools() -> dict[str, int]:
    """dags/skinrisk_common.py's POOLS (name -> slots), read without importing Airflow."""
    tree = module_ast("dags/skinrisk_common.py")
    constants = {t.id: n.value.value for n in tree.body if isinstance(n, ast.Assign)
                 for t in n.targets if isinstance(t, ast.Name)
                 and isinstance(n.value, ast.Constant)}
    pools = next(n.value for n in tree.body if isinstance(n, ast.Assign)
                 and any(isinstance(t, ast.Name) and t.id == "POOLS" for t in n.targets))
    return {constants[k.id]: v.elts[0].value for k, v in zip(pools.keys, pools.values, strict=True)}


def dag_source() -> str:
    return (REPO / "dags" / "skinrisk_common.py").read_text(encoding="utf-8")


# --- environment variables ----------------------------------------------------------------


def test_the_scanner_finds_every_form_of_access() -> None:
    source = '''
HOME_VARIABLE = "A_ONE"
x = os.environ.get("A_TWO") or os.environ["A_THREE"] or os.getenv("A_FOUR")
y = env.get("A_FIVE"); z = env["A_SIX"]; os.environ.setdefault("A_SEVEN", "1")
OPTION = typer.Option(None, envvar="A_EIGHT")
TAGS = {"AIRFLOW_CTX_SOMETHING": "tag"}
'''
    assert variables_read(source) == {"A_ONE", "A_TWO", "A_THREE", "A_FOUR", "A_FIVE", "A_SIX",
                                      "A_SEVEN", "A_EIGHT", "AIRFLOW_CTX_SOMETHING"}
    assert {"SKINRISK_HOME", "SKINRISK_ML_BIN", "SKINRISK_PARAMS", "MLFLOW_TRACKING_URI",
            "AIRFLOW_CTX_DAG_ID"} <= set(code_variables())


def test_every_variable_the_code_reads_is_documented() -> None:
    missing = {name: files for name, files in code_variables().items()
               if name not in documented()}
    assert not missing, f"add these to the table in docs/environment.md: {missing}"


def test_every_documented_skinrisk_variable_is_read_by_the_code() -> None:
    stale = {n for n in documented() if n.startswith("SKINRISK_")} - set(code_variables())
    assert not stale, f"docs/environment.md documents variables no code reads: {stale}"


def test_both_compose_workers_set_every_production_variable_alike() -> None:
    for name in sorted(production_variables()):
        settings = {w: service(w)["environment"].get(name) for w in WORKERS}
        assert None not in settings.values(), f"{name} is not set on {settings}"
        if name in PER_WORKER:
            assert len(set(settings.values())) == len(WORKERS), f"{name}: one login per worker"
        else:
            assert len(set(settings.values())) == 1, f"{name} differs between workers: {settings}"


def test_compose_sets_no_skinrisk_variable_that_no_code_reads() -> None:
    names = {n for s in compose()["services"].values() for n in s.get("environment") or {}}
    unknown = {n for n in names if n.startswith("SKINRISK_")} - set(code_variables())
    assert not unknown, f"compose sets variables no code reads (typo?): {unknown}"


def test_helm_values_set_every_production_variable() -> None:
    names = set(values_env()) | set(values_secret_env())
    assert production_variables() <= names, production_variables() - names
    unknown = {n for n in names if n.startswith("SKINRISK_")} - set(code_variables())
    assert not unknown, f"values.yaml sets variables no code reads (typo?): {unknown}"


def test_the_ops_pod_has_the_task_pods_environment() -> None:
    pod = load_yaml(INFRA / "k8s" / "ops-pod.yaml")
    env = {e["name"]: e for e in pod["spec"]["containers"][0]["env"]}
    for name, value in values_env().items():
        assert env[name]["value"] == value, name
    for name, (secret, key) in values_secret_env().items():
        if not name.startswith("AIRFLOW_CONN_"):
            assert env[name]["valueFrom"]["secretKeyRef"] == {"name": secret, "key": key}, name


def test_every_deployment_setting_is_documented() -> None:
    text = ENV_DOC.read_text(encoding="utf-8")
    missing = [name for name in env_example() if f"`{name}`" not in text]
    assert not missing, f"document these .env settings in docs/environment.md: {missing}"


# --- compose -----------------------------------------------------------------------------------


def test_compose_has_the_production_topology() -> None:
    assert {"postgres", "redis", "minio", "minio-init", "mlflow", "airflow-init",
            "skinrisk-db-setup", "airflow-apiserver", "airflow-scheduler", "airflow-dag-processor",
            "airflow-triggerer", *WORKERS} <= set(compose()["services"])
    commands = {name: service(name)["command"] for name in (
        "airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer")}
    assert commands == {"airflow-apiserver": ["api-server"], "airflow-scheduler": ["scheduler"],
                        "airflow-dag-processor": ["dag-processor"],
                        "airflow-triggerer": ["triggerer"]}
    env = service("airflow-scheduler")["environment"]
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"].startswith("http://airflow-apiserver:")


def test_every_long_running_service_has_a_health_check() -> None:
    for name, spec in compose()["services"].items():
        if name in INIT_SERVICES:
            assert spec.get("restart") == "no", f"{name} is a one-shot job"
        else:
            assert spec.get("healthcheck", {}).get("test"), f"{name} has no health check"
            assert spec.get("restart") == "unless-stopped", name


def _dependencies(name: str) -> dict[str, str]:
    depends = service(name).get("depends_on") or {}
    assert isinstance(depends, dict), f"{name}: depends_on needs conditions, not a list"
    return {dep: cond["condition"] for dep, cond in depends.items()}


def _closure(name: str) -> set[str]:
    seen: set[str] = set()
    todo = [name]
    while todo:
        for dep in _dependencies(todo.pop()):
            if dep not in seen:
                seen.add(dep)
                todo.append(dep)
    return seen


def test_start_order_waits_for_health_and_for_the_init_jobs() -> None:
    for name in compose()["services"]:
        for dep, condition in _dependencies(name).items():
            wanted = ("service_completed_successfully" if dep in INIT_SERVICES
                      else "service_healthy")
            assert condition == wanted, f"{name} -> {dep}: {condition}"
    assert {"postgres", "minio-init"} <= _closure("mlflow")
    for component in ("airflow-apiserver", "airflow-scheduler", "airflow-dag-processor",
                      "airflow-triggerer"):
        assert {"airflow-init", "postgres", "redis"} <= _closure(component), component
    for worker in WORKERS:
        assert {"postgres", "redis", "minio", "minio-init", "mlflow", "airflow-init",
                "skinrisk-db-setup", "airflow-apiserver", "airflow-scheduler"} <= _closure(
            worker), worker


def _queues(command: list[str]) -> set[str]:
    assert command[:2] == ["celery", "worker"], command
    return set(interpolate(command[command.index("--queues") + 1]).split(","))


def test_the_gpu_worker_takes_the_dags_gpu_queue_on_an_nvidia_reservation() -> None:
    default_queue = re.search(r'environ\.get\("SKINRISK_GPU_QUEUE",\s*"([^"]+)"\)', dag_source())
    assert default_queue, "dags/skinrisk_common.py no longer reads SKINRISK_GPU_QUEUE"
    gpu = service("airflow-worker-gpu")
    env_queue = interpolate(gpu["environment"]["SKINRISK_GPU_QUEUE"])
    assert _queues(gpu["command"]) == {env_queue} == {default_queue.group(1)}
    assert gpu["command"][gpu["command"].index("--concurrency") + 1] == "1"
    devices = gpu["deploy"]["resources"]["reservations"]["devices"]
    assert any(d["driver"] == "nvidia" and "gpu" in d["capabilities"] for d in devices)
    assert gpu["build"]["dockerfile"] == "infra/images/trainer.Dockerfile"
    for name, spec in compose()["services"].items():
        if name.startswith("airflow-"):
            assert spec["environment"]["SKINRISK_GPU_ROUTING"] == "queue", name


def test_the_cpu_worker_takes_everything_but_training() -> None:
    cpu = service("airflow-worker-cpu")
    default = cpu["environment"].get("AIRFLOW__OPERATORS__DEFAULT_QUEUE", "default")
    assert _queues(cpu["command"]) == {default}
    assert "deploy" not in cpu
    assert cpu["build"]["target"] == "worker"


def test_no_worker_keeps_state_on_its_disk() -> None:
    services = compose()["services"]
    # No volume holds skinrisk state: each worker and the dag-processor mount only the logs (and
    # the GPU worker its read-only weights).
    mounted = {name: {v.split(":")[0] for v in s.get("volumes", [])} for name, s in
               services.items() if name in (*WORKERS, "airflow-dag-processor")}
    assert set().union(*mounted.values()) <= {"airflow-logs", "keras-weights"}, mounted
    assert "skinrisk-state" not in compose().get("volumes", {})
    # The folders each image creates (its `install -d` commands, not a comment naming them).
    trainer, airflow = ({f for c in run_commands(DOCKERFILES[n]) if c.startswith("install -d")
                         for f in c.split() if f.startswith("/")} for n in ("trainer", "airflow"))
    for worker in WORKERS:
        svc = service(worker)
        env = svc["environment"]
        assert env["SKINRISK_WORKSPACE"] == "clone", worker
        assert env["SKINRISK_QUARANTINE_URL"].startswith("s3://"), worker
        # Every folder a task can leave something in is wiped around each task, one task at a
        # time; Airflow's home (its logs, served to the UI) is not.
        wiped = env["SKINRISK_WIPE"].split(":")
        assert {env[n] for n in ("SKINRISK_HOME", "HOME", "TMPDIR")} == set(wiped), worker
        assert not any(w == "/opt/airflow" or w.startswith("/opt/airflow/") for w in wiped)
        command = svc["command"]
        assert command[command.index("--concurrency") + 1] == "1", worker
        image = trainer if svc["build"].get("dockerfile", "").endswith("trainer.Dockerfile") \
            else airflow
        assert all(w in image for w in wiped if w != env["SKINRISK_HOME"]), (
            f"{worker}: its image creates the wiped folders")
        # The kept cache: outside what is emptied, made by the image, on no shared volume.
        cache = env["SKINRISK_CACHE"]
        assert not any(cache == w or cache.startswith(w + "/") for w in wiped), worker
        assert cache in image, f"{worker}: its image creates {cache}"
        assert env["SKINRISK_GIT_REMOTE"].endswith(":-git://skinrisk-git/skinrisk-data.git}")
    gpu = service("airflow-worker-gpu")["environment"]
    # The ImageNet weights are an input, mounted read-only outside what is emptied.
    assert f"keras-weights:{gpu['KERAS_HOME']}:ro" in service("airflow-worker-gpu")["volumes"]
    assert not any(gpu["KERAS_HOME"].startswith(w) for w in gpu["SKINRISK_WIPE"].split(":"))
    assert "skinrisk-git" in services
    assert "/" not in env_example()["SKINRISK_GIT_REMOTE"].split("://")[0], (
        ".env.example must name the git server, not a path on one worker's disk")


def test_heartbeat_timeout_callbacks_record_failures_on_the_working_prefix() -> None:
    env = service("airflow-dag-processor")["environment"]
    workers = service("airflow-worker-gpu")["environment"]
    assert env["SKINRISK_WORKSPACE"] == "clone"
    for name in ("SKINRISK_WORK_URL", "AWS_ENDPOINT_URL_S3", "AWS_ACCESS_KEY_ID",
                 "AWS_SECRET_ACCESS_KEY"):
        assert env[name] == workers[name], f"the dag-processor's {name} is the pipeline's"


def test_only_the_ingest_key_reaches_the_quarantine_bucket() -> None:
    minio = INFRA / "compose" / "minio"
    bucket = service("airflow-worker-cpu")["environment"]["SKINRISK_QUARANTINE_URL"].split(
        "/")[2]
    pipeline = (minio / "pipeline-policy.json").read_text()
    quarantine = json.loads((minio / "quarantine-policy.json").read_text())
    assert bucket not in pipeline and bucket not in (minio / "mlflow-policy.json").read_text()
    granted = {a for s in quarantine["Statement"] for a in s["Action"]}
    assert "s3:DeleteObject" not in granted and {"s3:PutObject", "s3:GetObject"} <= granted
    init = (minio / "init.sh").read_text()
    assert bucket in init
    assert re.search(r'ensure_user "\$INGEST_S3_ACCESS_KEY_ID" .*skinrisk-pipeline \\\n\s*'
                     r"skinrisk-quarantine", init)
    cpu, gpu = (service(w)["environment"]["AWS_ACCESS_KEY_ID"] for w in WORKERS)
    assert "INGEST_S3_ACCESS_KEY_ID" in cpu and "PIPELINE_S3_ACCESS_KEY_ID" in gpu


def _references() -> dict[str, set[str]]:
    """Variables compose interpolates -> the operators they are used with ('', ':-', ':?')."""
    refs: dict[str, set[str]] = {}
    text = "\n".join(line.split(" #")[0] for line in COMPOSE.read_text().splitlines()
                     if not line.lstrip().startswith("#"))
    for name, op in re.findall(r"(?<!\$)\$\{([A-Z0-9_]+)(:-|:\?)?", text):  # not $${...}
        refs.setdefault(name, set()).add(op)
    return refs


SECRET = re.compile(r"PASSWORD|SECRET|FERNET|JWT|ACCESS_KEY_ID|ROOT_USER")


def test_env_example_lists_exactly_what_compose_interpolates() -> None:
    refs = _references()
    assert set(refs) == set(env_example()), set(refs) ^ set(env_example())
    for name in refs:
        if SECRET.search(name):
            assert refs[name] == {":?"}, f"{name}: a secret must be required (${{{name}:?...}})"
            assert env_example()[name] == "", f"{name} has a value in .env.example"
    assert "IMAGE_TAG" in refs and refs["IMAGE_TAG"] == {":?"}


def _compose_client() -> list[str] | None:
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, check=False)
        if probe.returncode == 0:
            return ["docker", "compose"]
    return ["docker-compose"] if shutil.which("docker-compose") else None


def test_docker_compose_accepts_the_file_and_refuses_missing_secrets(tmp_path: Path) -> None:
    client = _compose_client()
    if client is None:
        pytest.skip(reason="no compose client (`docker compose` plugin or docker-compose); the "
                    "structure is checked by the other tests")
    filled = tmp_path / "filled.env"
    filled.write_text("".join(f"{k}={v or 'placeholder0'}\n" for k, v in env_example().items()))

    def config(env_file: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*client, "--env-file", str(env_file), "-f", str(COMPOSE),
                               "config", "-q"], capture_output=True, text=True, timeout=120,
                              check=False)

    accepted = config(filled)
    assert accepted.returncode == 0, accepted.stderr
    refused = config(ENV_EXAMPLE)
    assert refused.returncode != 0 and "in .env" in refused.stderr + refused.stdout


# --- pools and queues --------------------------------------------------------------------------


def test_the_pools_file_is_the_pools_the_dags_and_the_demo_use() -> None:
    pools = json.loads(POOLS_FILE.read_text())
    local = ast.literal_eval(next(
        n.value for n in module_ast("pipelines/airflow_local.py").body
        if isinstance(n, ast.Assign) and any(getattr(t, "id", "") == "POOLS" for t in n.targets)))
    assert set(pools) == set(dag_pools()) == set(local)
    for name, slots in dag_pools().items():
        if name != "gpu":
            assert pools[name]["slots"] == slots, name
    gpu_workers = [s for s in compose()["services"].values() if "deploy" in s
                   and s["deploy"]["resources"]["reservations"].get("devices")]
    assert pools["gpu"]["slots"] == sum(s["deploy"].get("replicas", 1) for s in gpu_workers)


def test_compose_and_the_chart_import_the_pools_at_start() -> None:
    command = f"airflow pools import {IMAGE_REPO}/{POOLS_FILE.relative_to(REPO)}"
    assert command in " ".join(service("airflow-init")["command"])
    assert command in " ".join(values()["migrateDatabaseJob"]["args"])


# --- Helm values -------------------------------------------------------------------------------

def words(text: str) -> set[str]:
    return set(text.split())


# Keys of the official chart's values.yaml (apache-airflow/airflow 1.18, the Airflow 3 release
# line); the chart's schema refuses unknown keys, so a typo here would fail `helm install`.
CHART_KEYS = words("""fullnameOverride nameOverride useStandardNaming revisionHistoryLimit devMode
uid gid securityContext securityContexts containerLifecycleHooks airflowHome
defaultAirflowRepository defaultAirflowTag defaultAirflowDigest airflowVersion images
nodeSelector affinity tolerations topologySpreadConstraints schedulerName labels ingress
networkPolicies airflowPodAnnotations airflowConfigAnnotations airflowLocalSettings rbac executor
allowPodLaunching allowJobLaunching env volumes volumeMounts secret enableBuiltInSecretEnvVars
priorityClasses extraSecrets extraConfigMaps extraEnv extraEnvFrom data fernetKey
fernetKeySecretName fernetKeySecretAnnotations apiSecretKey apiSecretAnnotations
apiSecretKeySecretName jwtSecret jwtSecretAnnotations jwtSecretName webserverSecretKey
webserverSecretAnnotations webserverSecretKeySecretName kerberos workers scheduler createUserJob
migrateDatabaseJob apiServer webserver triggerer dagProcessor flower statsd pgbouncer redis
registry elasticsearch opensearch ports quotas limits cleanup postgresql config
multiNamespaceMode podTemplate dags logs""")
POD_KEYS = words("""replicas revisionHistoryLimit command args livenessProbe strategy
securityContext securityContexts containerLifecycleHooks serviceAccount resources
terminationGracePeriodSeconds safeToEvict extraContainers extraInitContainers extraVolumes
extraVolumeMounts nodeSelector affinity tolerations topologySpreadConstraints priorityClassName
annotations podAnnotations labels logGroomerSidecar waitForMigrations env hostAliases""")
SECTION_KEYS = {
    "workers": POD_KEYS | words("""updateStrategy keda hpa persistence kerberosSidecar
        kerberosInitContainer extraPorts runtimeClassName volumeClaimTemplates
        useWorkerDedicatedServiceAccounts celery kubernetes"""),
    "dagProcessor": POD_KEYS | {"enabled"},
    "migrateDatabaseJob": POD_KEYS | words("""enabled ttlSecondsAfterFinished jobAnnotations
        restartPolicy useHelmHooks applyCustomEnv"""),
    "apiServer": POD_KEYS | words("""enabled allowPodLogReading service podDisruptionBudget
        networkPolicy configMapAnnotations apiServerConfig apiServerConfigConfigMapName
        readinessProbe startupProbe"""),
    "logs": {"persistence", "emptyDirConfig"},
    "data": words("""metadataSecretName resultBackendSecretName brokerUrlSecretName
        metadataConnection resultBackendConnection resultBackendConnectionSecretAnnotations
        brokerUrl brokerUrlSecretAnnotations"""),
    "images": words("""airflow useDefaultImageForMigration migrationsWaitTimeout pod_template
        flower statsd redis pgbouncer pgbouncerExporter gitSync"""),
}
AIRFLOW3_EXECUTORS = {"LocalExecutor", "CeleryExecutor", "KubernetesExecutor"}


def test_the_values_use_only_keys_the_chart_knows() -> None:
    assert set(values()) <= CHART_KEYS, set(values()) - CHART_KEYS
    for section, known in SECTION_KEYS.items():
        assert set(values().get(section) or {}) <= known, (section, set(values()[section]) - known)
    assert set(values()["logs"]["persistence"]) <= {
        "enabled", "size", "annotations", "storageClassName", "existingClaim", "subPath"}
    assert all(set(s) == {"envName", "secretName", "secretKey"} for s in values()["secret"])
    assert all(set(e) == {"name", "value"} for e in values()["env"])


def test_the_values_run_airflow_3_of_the_lock_with_gpu_pods() -> None:
    assert values()["airflowVersion"] == lock_version("airflow", "apache-airflow")
    executors = set(values()["executor"].split(","))
    assert executors <= AIRFLOW3_EXECUTORS, f"not an Airflow 3 executor: {executors}"
    if "CeleryExecutor" not in executors:  # no Celery worker would ever take queue `gpu`
        assert values_env()["SKINRISK_GPU_ROUTING"] == "pod"
    label = re.search(r'node_selector=\{"([^"]+)":\s*"([^"]+)"\}', dag_source())
    assert label and "nvidia.com/gpu" in dag_source()
    assert f"kubectl label nodes GPU_NODE {label.group(1)}={label.group(2)}" in (
        INFRA / "README.md").read_text()


def test_the_values_reference_every_secret_by_name() -> None:
    for literal in ("fernetKey", "jwtSecret", "apiSecretKey", "webserverSecretKey"):
        assert literal not in values(), f"{literal}: use {literal}SecretName"
    assert values()["fernetKeySecretName"] and values()["jwtSecretName"]
    assert values()["apiSecretKeySecretName"] and values()["data"]["metadataSecretName"]
    assert "metadataConnection" not in values()["data"]
    assert values()["webserver"]["defaultUser"]["enabled"] is False  # its password is a value
    assert values()["postgresql"]["enabled"] is False


def test_task_pods_get_scratch_disks_only_and_persist_logs() -> None:
    assert not (INFRA / "k8s" / "skinrisk-state-pvc.yaml").exists()
    home = values_env()["SKINRISK_HOME"]
    assert values_env()["SKINRISK_WORKSPACE"] == "clone"
    for section in ("workers", "dagProcessor"):
        spec = values()[section]
        assert not any("persistentVolumeClaim" in v for v in spec["extraVolumes"]), section
        scratch = next(m["name"] for m in spec["extraVolumeMounts"] if m["mountPath"] == home)
        assert "emptyDir" in next(v for v in spec["extraVolumes"] if v["name"] == scratch)
    assert values()["logs"]["persistence"]["enabled"] is True


def _task_pod(k8s: Any, dag_id: str, task_id: str, gpu: bool) -> Any:
    """A task pod as the KubernetesExecutor builds it: the `workers` volumes and mounts, the
    values' environment, and the DAG's pod override where the task asks for a GPU."""
    spec = values()["workers"]
    volumes = [k8s.V1Volume(name=v["name"], persistent_volume_claim=v.get(
        "persistentVolumeClaim")) for v in spec["extraVolumes"]]
    mounts = [k8s.V1VolumeMount(name=m["name"], mount_path=m["mountPath"])
              for m in spec["extraVolumeMounts"]]
    env = [k8s.V1EnvVar(name=n, value=v) for n, v in values_env().items()] + [
        k8s.V1EnvVar(name=n, value_from=k8s.V1EnvVarSource(secret_key_ref=k8s.V1SecretKeySelector(
            name=secret, key=key))) for n, (secret, key) in values_secret_env().items()]
    limits = {"nvidia.com/gpu": "1"} if gpu else {"memory": "24Gi"}
    base = k8s.V1Container(name="base", env=env, volume_mounts=mounts,
                           resources=k8s.V1ResourceRequirements(limits=limits))
    return k8s.V1Pod(metadata=k8s.V1ObjectMeta(annotations={"dag_id": dag_id,
                                                            "task_id": task_id}),
                     spec=k8s.V1PodSpec(containers=[base], volumes=volumes))


def test_the_cluster_policy_gives_ingest_its_logins_and_no_pod_a_shared_disk() -> None:
    k8s = pytest.importorskip("kubernetes.client.models",
                              reason="the kubernetes client is in the orchestrator environment")
    policy: dict[str, Any] = {}
    exec(compile(values()["airflowLocalSettings"], "airflow_local_settings.py", "exec"), policy)
    pods = {(dag, task): _task_pod(k8s, dag, task, gpu) for dag, task, gpu in (
        ("skinrisk_ingest", "ingest", False), ("skinrisk_ingest", "quality", False),
        ("skinrisk_retrain", "train", True), ("skinrisk_retrain", "evaluate", True))}
    for pod in pods.values():
        policy["pod_mutation_hook"](pod)

    def env(pod: Any) -> dict[str, Any]:
        return {e.name: e for e in pod.spec.containers[0].env}

    def secret(pod: Any, name: str) -> str:
        return env(pod)[name].value_from.secret_key_ref.name

    ingest, quality = pods["skinrisk_ingest", "ingest"], pods["skinrisk_ingest", "quality"]
    assert secret(ingest, "SKINRISK_DATABASE_URL") == "skinrisk-db-ingest"
    assert secret(quality, "SKINRISK_DATABASE_URL") == "skinrisk-db-pipeline"
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        assert secret(ingest, name) == "skinrisk-s3-ingest", name
        assert secret(quality, name) == "skinrisk-s3", name
    for pod in pods.values():
        claims = {v.name for v in pod.spec.volumes if v.persistent_volume_claim}
        assert not claims and env(pod)["SKINRISK_WORKSPACE"].value == "clone"
        assert "skinrisk-git" in {v.name for v in pod.spec.volumes}, "the deploy key stays"


def test_task_pods_run_the_trainer_image_and_the_baked_dags() -> None:
    config = values()["config"]
    assert config["kubernetes_executor"]["worker_container_repository"].endswith("/trainer")
    assert config["core"]["dags_folder"] == f"{IMAGE_REPO}/dags"
    for name, dockerfile in DOCKERFILES.items():
        assert f"AIRFLOW__CORE__DAGS_FOLDER={IMAGE_REPO}/dags" in dockerfile.read_text(), name


def test_helm_renders_the_values_with_the_chart(tmp_path: Path) -> None:
    chart = os.environ.get("AIRFLOW_HELM_CHART")  # a local copy of apache-airflow/airflow
    if not shutil.which("helm") or not chart or not Path(chart).exists():
        pytest.skip(reason="helm and the Airflow chart are not here (set AIRFLOW_HELM_CHART to a "
                    "chart folder or .tgz); the values are checked against the chart's keys")
    rendered = subprocess.run(
        ["helm", "template", "skinrisk", chart, "-f", str(VALUES),
         "--set-string", "defaultAirflowTag=test"], capture_output=True, text=True,
        timeout=120, check=False)
    assert rendered.returncode == 0, rendered.stderr
    assert "SKINRISK_GPU_ROUTING" in rendered.stdout and "skinrisk-scratch" in rendered.stdout


# --- images ------------------------------------------------------------------------------------

INSTALL = re.compile(r"\b(pip3?|uv pip|uv add|uv tool|conda|poetry|easy_install)\b[^&;|]*")
ALLOWED_INSTALLS = (
    re.compile(r"^pip install .*--require-hashes -r requirements/tools\.lock$"),
    re.compile(r"^uv pip sync .*--require-hashes requirements/(airflow|ml)\.lock$"),
    re.compile(r"^uv pip install .*--no-deps -e \.$"),
)


def run_commands(dockerfile: Path) -> list[str]:
    text = re.sub(r"\\\n", " ", dockerfile.read_text())
    runs = [line.strip()[4:] for line in text.splitlines() if line.strip().startswith("RUN ")]
    return [" ".join(part.split()) for run in runs for part in re.split(r"&&|;", run)]


def _installs(dockerfile: Path) -> list[str]:
    found = []
    for command in run_commands(dockerfile):
        normalised = re.sub(r'"?\$UV"?|\S*/bin/python -m ', lambda m: "uv" if "UV" in m[0]
                            else "", command).strip()
        if INSTALL.search(normalised) and not normalised.startswith(("uv venv", "uv python")):
            found.append(normalised)
    return found


def test_images_install_exactly_the_committed_locks() -> None:
    for name, dockerfile in DOCKERFILES.items():
        installs = _installs(dockerfile)
        unpinned = [c for c in installs if not any(p.match(c) for p in ALLOWED_INSTALLS)]
        assert not unpinned, f"{dockerfile.name} installs outside the locks: {unpinned}"
        synced = {m for c in installs for m in re.findall(r"requirements/(\w+)\.lock$", c)}
        assert synced == {"tools", "airflow", "ml"}, (name, synced)
        assert "COPY requirements/" in dockerfile.read_text()
    makefile = (REPO / "Makefile").read_text()
    assert "pip sync -q --python $(VENVS)/$*/bin/python --require-hashes requirements/$*.lock" \
        in makefile, "the Makefile's install changed: keep the images' installs in step"


def test_images_use_the_environments_python_and_leave_local_state_out() -> None:
    versions = {re.search(r"python:(3\.\d+\.\d+)-slim", DOCKERFILES["airflow"].read_text())[1],
                re.search(r"PYTHON_VERSION=(3\.\d+\.\d+)", DOCKERFILES["trainer"].read_text())[1]}
    assert len(versions) == 1, f"the images' Python versions differ: {versions}"
    requires = re.search(r'requires-python = ">=(3\.\d+),<(3\.\d+)"',
                         (REPO / "pyproject.toml").read_text())
    assert versions.pop().startswith(requires[1] + ".")
    for dockerfile in DOCKERFILES.values():
        ignored = Path(f"{dockerfile}.dockerignore").read_text().splitlines()
        assert {".venvs/", "var/"} <= set(ignored) and ".git" not in ignored, dockerfile.name


# What tensorflow's `and-cuda` extra pins (cuda runtime, cuDNN, nvcc) for the version in ml.lock.
KNOWN_CUDA = {"2.16.2": ("12.3.101", "8.9.7.29", "12.3.107")}


def _tensorflow_cuda(version: str) -> tuple[str, str, str]:
    try:
        installed = importlib.metadata.version("tensorflow")
    except importlib.metadata.PackageNotFoundError:
        installed = None
    if installed != version:
        assert version in KNOWN_CUDA, (f"tensorflow {version} in ml.lock: check the trainer "
                                       "image's CUDA, cuDNN and nvcc, then extend KNOWN_CUDA")
        return KNOWN_CUDA[version]
    pins = dict(re.findall(r"^(nvidia-[\w-]+) ?==([\d.]+) ?; extra == .and-cuda.",
                           "\n".join(importlib.metadata.requires("tensorflow") or []),
                           re.MULTILINE))
    return (pins["nvidia-cuda-runtime-cu12"], pins["nvidia-cudnn-cu12"],
            pins["nvidia-cuda-nvcc-cu12"])


def test_the_trainer_has_the_cuda_tensorflow_was_built_for() -> None:
    runtime, cudnn, nvcc = _tensorflow_cuda(lock_version("ml", "tensorflow"))
    text = DOCKERFILES["trainer"].read_text()
    cuda_image = re.search(r"nvidia/cuda:(\d+\.\d+)\.\d+-runtime", text)[1]
    assert runtime.startswith(cuda_image + "."), (cuda_image, runtime)
    assert re.search(rf"CUDNN_VERSION={re.escape(cudnn)}-", text), cudnn
    assert re.search(rf"CUDA_NVCC_VERSION={re.escape(nvcc)}-", text), nvcc


def test_the_entrypoint_runs_airflow_commands_and_passes_the_charts_through(
        tmp_path: Path) -> None:
    fake = tmp_path / "airflow"
    fake.write_text('#!/bin/sh\necho "airflow $*"\n')
    fake.chmod(0o755)
    env = {**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}"}

    def entry(*args: str) -> str:
        return subprocess.run(["bash", str(INFRA / "images" / "entrypoint.sh"), *args],
                              env=env, capture_output=True, text=True, check=True).stdout.strip()

    assert entry("celery", "worker", "--queues", "gpu") == "airflow celery worker --queues gpu"
    assert entry("bash", "-c", "exec airflow scheduler") == "airflow scheduler"
    assert entry("python", "-c", "print('task pod')") == "task pod"
    assert entry("/bin/echo", "mlflow") == "mlflow"


# --- TFDV at scale -----------------------------------------------------------------------------


def test_the_flink_params_change_only_the_beam_options() -> None:
    from pipelines.common import load_params

    flink = load_params(INFRA / "beam" / "params-flink.yaml")
    base = load_params(REPO / "params.yaml")
    args = flink.validation.beam_args
    assert {"--runner=PortableRunner", "--environment_type=LOOPBACK"} <= set(args)
    assert flink.train == base.train and flink.split == base.split
    spec = importlib.util.find_spec("apache_beam")
    if spec and spec.origin:  # the ml environment: every option is one Beam knows
        options = Path(spec.origin).parent / "options" / "pipeline_options.py"
        known = set(re.findall(r"'--(\w+)'", options.read_text()))
        assert {a[2:].split("=")[0] for a in args} <= known, args


# --- credentials -------------------------------------------------------------------------------

CREDENTIALS = [re.compile(p) for p in (
    r"\b(AKIA|ASIA)[0-9A-Z]{16}\b",                  # AWS access key ids
    r"-----BEGIN [A-Z ]*PRIVATE KEY-----",
    # user:password@ in a URL, unless ${...} or a PLACEHOLDER
    r"://[^/\s:@'\"]+:(?!\$\{)(?![A-Z_.]+@)[^@\s/'\"]+@",
    # password: x, AWS_SECRET_ACCESS_KEY=x, api_token: x (not secretName, not ${...} or {{ }})
    r"(?i)(?<![a-z])(?:[a-z0-9]+_)*(?:secret_access_key|fernet_key|password|passwd|secret|token)"
    r"(?![a-z])[ \t]*(?:=|:(?=[ \t]))[ \t]*['\"]?(?![$<~{])[A-Za-z0-9+/_-]{8,}",
    r"(?i)\bpassword\s+'[^'\s:]{8,}'",               # SQL: PASSWORD 'literal'
)]


def test_no_credentials_in_the_deployment_files() -> None:
    files = [p for p in INFRA.rglob("*") if p.is_file()] + [ENV_DOC]
    found = [(str(p.relative_to(REPO)), m.group(0)) for p in files
             for pattern in CREDENTIALS for m in pattern.finditer(p.read_text(errors="ignore"))]
    assert not found, f"credentials in the repository: {found}"


def test_the_credential_check_catches_a_leak() -> None:
    leaks = ["aws_access_key_id = AKIAABCDEFGHIJKLMNOP", "postgresql://airflow:hunter22@db/x",
             "password: Sup3rS3cretValue", "-----BEGIN OPENSSH PRIVATE KEY-----",
             "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMIK7MDENGbPxRfiCY", "jwt_secret: 0123456789abcdef",
             "ALTER ROLE airflow PASSWORD 'hunter2hunter2'"]
    assert [leak for leak in leaks if not any(p.search(leak) for p in CREDENTIALS)] == []
    fine = ["postgresql://airflow:${AIRFLOW_DB_PASSWORD:?set it}@postgres/airflow",
            "password: ${PASSWORD}", "--password \"$$AIRFLOW_ADMIN_PASSWORD\"",
            "secretName: skinrisk-s3", "secretKey: access-key-id", "PASSWORD :'airflow_pw'",
            "postgresql://airflow:PASSWORD@postgres.example.org/airflow"]
    assert [ok for ok in fine if any(p.search(ok) for p in CREDENTIALS)] == []


# --- what the production set-up still needs from the locks -------------------------------------


def test_the_orchestrator_lock_has_what_the_production_images_run() -> None:
    lock = (REPO / "requirements/airflow.lock").read_text()
    needed = ["apache-airflow-providers-celery", "apache-airflow-providers-cncf-kubernetes",
              "apache-airflow-providers-postgres", "apache-airflow-providers-fab", "redis",
              "psycopg2-binary"]
    assert [p for p in needed if not re.search(rf"^{p}==", lock, re.MULTILINE)] == []
