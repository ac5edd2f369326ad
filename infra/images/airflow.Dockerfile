# syntax=docker/dockerfile:1.7
#
# skinrisk's CPU images, built from the repository root with the hash-locked requirements that
# `make setup` installs locally: the same uv (requirements/tools.lock), the same locks, the same
# `--require-hashes` flags, the same CPython minor version.
#
#   target airflow  orchestrator environment + dags/ + skinrisk: api-server, scheduler,
#                   dag-processor, triggerer, the database migration job
#   target worker   airflow + the ml environment (TensorFlow on CPU, TFDV, MLflow 3): the CPU
#                   Celery worker, which runs every stage but training, and the MLflow server
#
#   docker build -f infra/images/airflow.Dockerfile --target airflow -t skinrisk/airflow:TAG .
#   docker build -f infra/images/airflow.Dockerfile --target worker  -t skinrisk/worker:TAG .
#
# The GPU image is trainer.Dockerfile. Every image keeps the checkout's layout (/opt/skinrisk
# with .venvs/{airflow,ml}), so the defaults of dags/skinrisk_common.py hold in it as they do
# in a local checkout, and the checkout's .git comes along: MLflow's `code.commit` tag and the
# ledger name the commit the image was built from.

ARG PYTHON_IMAGE=python:3.11.7-slim-bookworm

FROM ${PYTHON_IMAGE} AS base
# git: the pipeline's DVC/git workspace; libjpeg-turbo-progs: jpegtran (lossless rotation at
# ingest, as `make setup` installs); curl: health checks; tini: PID 1 forwarding signals.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      ca-certificates curl git libjpeg-turbo-progs tini \
 && rm -rf /var/lib/apt/lists/*
# uid 50000, gid 0: what the Airflow Helm chart runs its containers as.
# /srv/git: compose's skinrisk-git volume (a new volume takes the image folder's owner).
# /home/skinrisk, /tmp/skinrisk: the CPU worker's HOME and TMPDIR, emptied around every task
# with SKINRISK_HOME (compose SKINRISK_WIPE).
RUN useradd --uid 50000 --gid 0 --home-dir /opt/airflow --create-home --shell /bin/bash skinrisk \
 && install -d -o 50000 -g 0 -m 2775 /opt/airflow/logs /var/lib/skinrisk /srv/git \
 && install -d -o 50000 -g 0 -m 0700 /home/skinrisk /tmp/skinrisk /var/cache/skinrisk \
 && git config --system --add safe.directory /opt/skinrisk
WORKDIR /opt/skinrisk
ENV UV=/opt/skinrisk/.venvs/tools/bin/uv \
    PYTHON=/usr/local/bin/python3.11 \
    UV_NO_CACHE=1 \
    UV_PYTHON_DOWNLOADS=never \
    UV_COMPILE_BYTECODE=1
# The installer, pinned with hashes (the Makefile's $(UV) rule).
COPY requirements/tools.lock requirements/tools.lock
RUN "$PYTHON" -m venv .venvs/tools \
 && .venvs/tools/bin/python -m pip install -q --no-cache-dir --require-hashes -r requirements/tools.lock
# The orchestrator environment (the Makefile's .venvs/%/.installed rule).
COPY requirements/airflow.lock requirements/airflow.lock
RUN "$UV" venv -q --python "$PYTHON" .venvs/airflow \
 && "$UV" pip sync -q --python .venvs/airflow/bin/python --require-hashes requirements/airflow.lock
# The airflow environment's programs (airflow, celery, dvc) come first on PATH; the ml
# environment is reached through SKINRISK_ML_BIN only, as in the local set-up.
ENV PATH=/opt/skinrisk/.venvs/airflow/bin:$PATH \
    AIRFLOW_HOME=/opt/airflow \
    AIRFLOW__CORE__DAGS_FOLDER=/opt/skinrisk/dags \
    AIRFLOW__CORE__LOAD_EXAMPLES=False \
    SKINRISK_REPO=/opt/skinrisk \
    SKINRISK_ML_BIN=/opt/skinrisk/.venvs/ml/bin \
    SKINRISK_HOME=/var/lib/skinrisk \
    PYTHONDONTWRITEBYTECODE=1
ENTRYPOINT ["/usr/bin/tini", "--", "/opt/skinrisk/infra/images/entrypoint.sh"]
CMD ["--help"]

FROM base AS airflow
COPY . /opt/skinrisk
RUN "$UV" pip install -q --python .venvs/airflow/bin/python --no-deps -e . \
 && install -m 0755 infra/images/clean-logs.sh /clean-logs
USER 50000

FROM base AS worker
# The ml environment before the sources, so a code change does not reinstall TensorFlow.
COPY requirements/ml.lock requirements/ml.lock
RUN "$UV" venv -q --python "$PYTHON" .venvs/ml \
 && "$UV" pip sync -q --python .venvs/ml/bin/python --require-hashes requirements/ml.lock
COPY . /opt/skinrisk
RUN "$UV" pip install -q --python .venvs/airflow/bin/python --no-deps -e . \
 && "$UV" pip install -q --python .venvs/ml/bin/python --no-deps -e . \
 && install -m 0755 infra/images/clean-logs.sh /clean-logs
USER 50000
