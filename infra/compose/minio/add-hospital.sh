#!/bin/sh
# Give one hospital its landing prefix: an S3 user that may upload batches named
# `<hospital>-...` under skinrisk-landing/incoming/ and see only those. Run in the minio-init
# container (it has mc, the root credentials and this folder):
#
#   docker compose run --rm --entrypoint /bin/sh minio-init /init/add-hospital.sh hospital-c
#
# Prints the hospital's access key and secret once; hand them over out of band.
set -eu

hospital="${1:?usage: add-hospital.sh HOSPITAL_ID (letters, digits, -)}"
case "$hospital" in
  *[!a-z0-9-]* | -* ) echo "add-hospital: '$hospital': use lower-case letters, digits and -" >&2; exit 2 ;;
esac
secret="$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"

mc alias set local http://minio:9000 "$MINIO_ROOT_USER" "$MINIO_ROOT_PASSWORD" >/dev/null
sed "s/HOSPITAL/$hospital/g" /init/hospital-policy.json.template > "/tmp/landing-$hospital.json"
mc admin policy create local "landing-$hospital" "/tmp/landing-$hospital.json"
mc admin user add local "landing-$hospital" "$secret" >/dev/null
mc admin policy attach local "landing-$hospital" --user "landing-$hospital" >/dev/null
echo "hospital $hospital: upload batches to s3://skinrisk-landing/incoming/$hospital-<batch>/"
echo "access key: landing-$hospital"
echo "secret key: $secret"
