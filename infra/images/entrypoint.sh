#!/usr/bin/env bash
# Entry point of skinrisk's images (under tini). An Airflow sub-command runs as `airflow ...`
# (`scheduler`, `celery worker --queues gpu`); `bash`, `python` or an absolute path run as
# given, which is what the Helm chart's containers (`bash -c "exec airflow scheduler"`), the
# Kubernetes executor's task pods (`python -m ...`) and the MLflow server expect.
set -euo pipefail

case "${1:-}" in
  "") exec airflow --help ;;
  bash | sh | python | python3 | /*) exec "$@" ;;
  *) exec airflow "$@" ;;
esac
