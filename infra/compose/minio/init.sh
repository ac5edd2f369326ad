#!/bin/sh
# minio-init: buckets, policies and service users; idempotent (runs at every `docker compose up`,
# and re-running it after changing a key in .env is how that key is rotated).
#   skinrisk-landing  hospitals' batches under incoming/ (SKINRISK_LANDING); pipeline: read only
#   skinrisk-dvc      the DVC remote (SKINRISK_DVC_REMOTE); pipeline: read, write, delete
#   skinrisk-mlflow   MLflow's artifacts, written only by the MLflow server (proxied uploads)
#   skinrisk-work     the working prefix (SKINRISK_WORK_URL: training checkpoints); pipeline:
#                     read and write, no delete (skinrisk's object store writes each key once)
set -eu

mc alias set local http://minio:9000 "$MINIO_ROOT_USER" "$MINIO_ROOT_PASSWORD" >/dev/null
for bucket in skinrisk-landing skinrisk-dvc skinrisk-mlflow skinrisk-work; do
  mc mb --ignore-existing "local/$bucket"
done
mc admin policy create local skinrisk-pipeline /init/pipeline-policy.json
mc admin policy create local skinrisk-mlflow /init/mlflow-policy.json

ensure_user() {  # access key, secret key, policy: create or update the secret, attach once
  mc admin user add local "$1" "$2" >/dev/null
  mc admin policy attach local "$3" --user "$1" >/dev/null 2>&1 \
    || mc admin user info local "$1" | grep -q "$3"
}
ensure_user "$PIPELINE_S3_ACCESS_KEY_ID" "$PIPELINE_S3_SECRET_ACCESS_KEY" skinrisk-pipeline
ensure_user "$ARTIFACTS_S3_ACCESS_KEY_ID" "$ARTIFACTS_S3_SECRET_ACCESS_KEY" skinrisk-mlflow
echo "minio-init: buckets, policies and users are in place"
