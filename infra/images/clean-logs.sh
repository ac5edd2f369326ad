#!/usr/bin/env bash
# Airflow log retention for the Helm chart's log-groomer sidecars, which run `bash /clean-logs`
# with AIRFLOW__LOG_RETENTION_DAYS and AIRFLOW__LOG_CLEANUP_FREQUENCY_MINUTES set. The official
# Airflow image ships such a script; skinrisk's images are built from the locks, so they ship
# this one. Only task and component logs are removed; skinrisk's own reports live elsewhere.
set -euo pipefail

logs="${AIRFLOW_HOME:-/opt/airflow}/logs"
days="${AIRFLOW__LOG_RETENTION_DAYS:-15}"
every=$(( ${AIRFLOW__LOG_CLEANUP_FREQUENCY_MINUTES:-15} * 60 ))
trap 'exit 0' INT TERM

while true; do
  echo "clean-logs: removing *.log older than ${days} days under ${logs}"
  find "$logs" -type d -name lost+found -prune -o -type f -name '*.log' -mtime +"$days" \
    -print0 | xargs -0 --no-run-if-empty rm -f
  find "$logs" -mindepth 1 -type d -empty -delete 2>/dev/null || true
  sleep "$every" & wait $!
done
