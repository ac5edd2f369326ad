# skinrisk — the whole set-up is `make demo` and `make test`; both build what they need on first use.
#
# Two pinned environments (docs/configuration.md, "Two environments"), each installed with hashes from its lock:
#   .venvs/airflow  orchestrator: Airflow 3.3, DVC (S3), boto3, MLflow client, pandas 3
#   .venvs/ml       ml: TensorFlow 2.16.2, TFDV 1.16.1, MLflow 3, pandas 1.5, pyarrow 10, OpenCV
# skinrisk is installed editable into both. Re-running `make setup` with unchanged locks is a no-op.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

# Both environments use CPython 3.11 (tensorflow-data-validation 1.16.1 has no wheel for newer).
PYTHON ?= $(shell command -v python3.11 || ls $$HOME/.pyenv/versions/3.11*/bin/python3.11 2>/dev/null | tail -n1)
VENVS := .venvs
UV := $(VENVS)/tools/bin/uv
ML_PY := $(VENVS)/ml/bin/python
AF_PY := $(VENVS)/airflow/bin/python
export SKINRISK_HOME ?= $(CURDIR)/var

.PHONY: help setup system-packages demo test test-unit test-reliability topology topology-down lock lint bench calibrate clean-state clean

help:  ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

setup: system-packages $(VENVS)/ml/.installed $(VENVS)/airflow/.installed  ## build both environments (idempotent)

# Debian packages the code calls: jpegtran (libjpeg-turbo-progs) rotates JPEGs losslessly at
# ingest. Installed with apt-get when running as root (CI, fresh machines), else explained.
system-packages:
	@command -v jpegtran >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "make: installing libjpeg-turbo-progs (jpegtran)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libjpeg-turbo-progs >/dev/null; \
	  else \
	    echo "make: jpegtran is missing; install Debian's libjpeg-turbo-progs (or your system's libjpeg-turbo tools)" >&2; exit 1; \
	  fi; }

$(UV): requirements/tools.lock
	@test -n "$(PYTHON)" || { echo "make: Python 3.11 not found; install it or pass PYTHON=/path/to/python3.11" >&2; exit 1; }
	$(PYTHON) -m venv $(VENVS)/tools
	$(VENVS)/tools/bin/python -m pip install -q --require-hashes -r requirements/tools.lock
	@touch $@

# One rule per environment; the stamp is rewritten only after a complete install,
# so an interrupted setup is simply redone.
$(VENVS)/%/.installed: requirements/%.lock pyproject.toml | $(UV)
	@rm -f $@
	$(UV) venv -q --allow-existing --python $(PYTHON) $(VENVS)/$*
	$(UV) pip sync -q --python $(VENVS)/$*/bin/python --require-hashes requirements/$*.lock
	$(UV) pip install -q --python $(VENVS)/$*/bin/python --no-deps -e .
	@touch $@

lock: $(UV)  ## re-resolve both locks from requirements/*.in (needs the package index)
	for env in tools airflow ml; do \
	  $(UV) pip compile -q --python-version 3.11 --generate-hashes requirements/$$env.in -o requirements/$$env.lock; \
	done

demo: setup  ## run the main job on the embedded defaults (state under $SKINRISK_HOME, default var/)
	SKINRISK_PARAMS=$${SKINRISK_PARAMS:-params-small.yaml} $(VENVS)/ml/bin/skinrisk demo

test: setup  ## run the whole test suite in both environments
	scripts/run-tests

test-unit: setup  ## fast, pure tests only (both environments)
	scripts/run-tests unit

test-reliability: setup  ## the fault-injection suite only (docs/reliability.md; make test runs it too)
	$(ML_PY) -m pytest tests/reliability

# The production topology on this machine, as real processes (infra/topology): Airflow 3 on
# PostgreSQL with Celery workers on `default` and `gpu`, MLflow on PostgreSQL, S3 (moto) for the
# landing zone, the DVC remote and MLflow's artifacts. Needs PostgreSQL on 127.0.0.1:5432 and
# Redis on 127.0.0.1:6379 (POSTGRES=..., REDIS=... to point elsewhere). Ctrl-C tears it down.
POSTGRES ?= postgresql://postgres@127.0.0.1:5432
REDIS ?= redis://127.0.0.1:6379/0
topology: setup  ## production topology (Postgres, Celery, gpu queue, MLflow server, S3) in the foreground
	$(AF_PY) -m infra.topology up --state-dir "$(SKINRISK_HOME)/topology" \
	  --postgres "$(POSTGRES)" --redis "$(REDIS)"

topology-down:  ## tear down a stack `make topology` left behind (processes, databases)
	$(AF_PY) -m infra.topology down --state-dir "$(SKINRISK_HOME)/topology"

bench: setup  ## run benchmarks, write BENCHMARKS.md
	$(ML_PY) -m bench

calibrate: setup  ## quality checks vs synthetic truth and PAD-UFES-20: docs/quality-calibration.md
	$(ML_PY) -m bench.calibrate_quality

clean-state:  ## remove local state ($SKINRISK_HOME); the environments stay
	rm -rf -- "$(SKINRISK_HOME)"

clean: clean-state  ## remove local state and both environments
	rm -rf -- $(VENVS)

lint: $(UV)  ## ruff on the code and tests; the import contracts (pyproject.toml [tool.importlinter])
	$(VENVS)/tools/bin/ruff check skinrisk pipelines dags tests bench
	$(VENVS)/tools/bin/lint-imports --no-cache
