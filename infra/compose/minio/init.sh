#!/bin/sh
# minio-init: buckets, policies and service users; idempotent (runs at every `docker compose up`,
# and re-running it after changing a key in .env is how that key is rotated).
#   skinrisk-landing  hospitals' batches under incoming/ (SKINRISK_LANDING); pipeline: read only
#   skinrisk-dvc      the DVC remote (SKINRISK_DVC_REMOTE); pipeline: read, write, delete
#   skinrisk-mlflow   MLflow's artifacts, written only by the MLflow server (proxied uploads)
#   skinrisk-work     the working prefix (SKINRISK_WORK_URL: checkpoints, failed tries, reports,
#                     decision records); pipeline: read and write, no delete (skinrisk's object
#                     store writes each key once)
#   skinrisk-quarantine  files ingest refused, as received (SKINRISK_QUARANTINE_URL): may hold
#                     patient identifiers; the ingest key only (read, write, no delete)
# Users: the pipeline key (GPU worker, dag-processor), the ingest key (CPU worker: the pipeline's
# rights plus the quarantine bucket) and the MLflow server's.
set -eu

mc alias set local http://minio:9000 "$MINIO_ROOT_USER" "$MINIO_ROOT_PASSWORD" >/dev/null
for bucket in skinrisk-landing skinrisk-dvc skinrisk-mlflow skinrisk-work skinrisk-quarantine; do
  mc mb --ignore-existing "local/$bucket"
done
mc admin policy create local skinrisk-pipeline /init/pipeline-policy.json
mc admin policy create local skinrisk-mlflow /init/mlflow-policy.json
mc admin policy create local skinrisk-quarantine /init/quarantine-policy.json

ensure_user() {  # access key, secret key, policies: create or update the secret, attach once
  user="$1" secret="$2"; shift 2
  mc admin user add local "$user" "$secret" >/dev/null
  for policy in "$@"; do
    mc admin policy attach local "$policy" --user "$user" >/dev/null 2>&1 \
      || mc admin user info local "$user" | grep -q "$policy"
  done
}
ensure_user "$PIPELINE_S3_ACCESS_KEY_ID" "$PIPELINE_S3_SECRET_ACCESS_KEY" skinrisk-pipeline
ensure_user "$INGEST_S3_ACCESS_KEY_ID" "$INGEST_S3_SECRET_ACCESS_KEY" skinrisk-pipeline \
  skinrisk-quarantine
ensure_user "$ARTIFACTS_S3_ACCESS_KEY_ID" "$ARTIFACTS_S3_SECRET_ACCESS_KEY" skinrisk-mlflow
echo "minio-init: buckets, policies and users are in place"
