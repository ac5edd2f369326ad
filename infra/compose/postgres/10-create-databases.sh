#!/usr/bin/env bash
# Runs once, when the Postgres volume is empty (docker-entrypoint-initdb.d): one role and one
# database each for Airflow's metadata and MLflow's backend store. Passwords come from the
# container's environment (.env); psql's :'var' quoting keeps them out of the SQL text.
set -euo pipefail

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
     -v airflow_pw="$AIRFLOW_DB_PASSWORD" -v mlflow_pw="$MLFLOW_DB_PASSWORD" <<'SQL'
CREATE ROLE airflow LOGIN PASSWORD :'airflow_pw';
CREATE DATABASE airflow OWNER airflow;
CREATE ROLE mlflow LOGIN PASSWORD :'mlflow_pw';
CREATE DATABASE mlflow OWNER mlflow;
SQL
