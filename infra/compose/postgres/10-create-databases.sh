#!/usr/bin/env bash
# Runs once, when the Postgres volume is empty (docker-entrypoint-initdb.d): one role and one
# database each for Airflow's metadata and MLflow's backend store, and skinrisk's metadata
# database (identity map, ledger, locks) with its logins. Passwords come from the container's
# environment (.env); psql's :'var' quoting keeps them out of the SQL text. On a volume made
# before the skinrisk database existed, run this file's second psql by hand (infra/README.md).
set -euo pipefail

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
     -v airflow_pw="$AIRFLOW_DB_PASSWORD" -v mlflow_pw="$MLFLOW_DB_PASSWORD" <<'SQL'
CREATE ROLE airflow LOGIN PASSWORD :'airflow_pw';
CREATE DATABASE airflow OWNER airflow;
CREATE ROLE mlflow LOGIN PASSWORD :'mlflow_pw';
CREATE DATABASE mlflow OWNER mlflow;
SQL

# skinrisk: the owner (used only by the skinrisk-db-setup job, `skinrisk db setup`) owns the
# database and the schemas its migrations create. The group roles are the migrations' own
# (skinrisk/records/migrations/0001_identity.sql creates them when missing): created here first
# so that the logins can join them now. skinrisk_ingest may read the identity map;
# skinrisk_pipeline may not. Nobody else may connect.
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
     -v owner_pw="$RECORDS_OWNER_DB_PASSWORD" -v ingest_pw="$RECORDS_INGEST_DB_PASSWORD" \
     -v pipeline_pw="$RECORDS_PIPELINE_DB_PASSWORD" <<'SQL'
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'skinrisk_ingest') THEN
        CREATE ROLE skinrisk_ingest NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'skinrisk_pipeline') THEN
        CREATE ROLE skinrisk_pipeline NOLOGIN;
    END IF;
END $$;
CREATE ROLE skinrisk_owner LOGIN PASSWORD :'owner_pw';
CREATE DATABASE skinrisk OWNER skinrisk_owner;
REVOKE ALL ON DATABASE skinrisk FROM PUBLIC;
GRANT CONNECT ON DATABASE skinrisk TO skinrisk_ingest, skinrisk_pipeline;
CREATE ROLE skinrisk_ingest_login LOGIN PASSWORD :'ingest_pw' IN ROLE skinrisk_ingest;
CREATE ROLE skinrisk_pipeline_login LOGIN PASSWORD :'pipeline_pw' IN ROLE skinrisk_pipeline;
SQL
