# syntax=docker/dockerfile:1.7
#
# skinrisk's GPU trainer image: the GPU Celery worker (queue `gpu`) and, on Kubernetes, every
# task pod. Both environments from the same hash-locked requirements as `make setup`
# (requirements/tools.lock, airflow.lock, ml.lock, `--require-hashes`), on a CUDA base.
#
#   docker build -f infra/images/trainer.Dockerfile -t skinrisk/trainer:TAG .
#
# CUDA for TensorFlow. tensorflow 2.16.2's Linux wheel (the one ml.lock pins) is the GPU build;
# it loads CUDA at run time, either from the nvidia-* wheels of its `and-cuda` extra or from the
# system. ml.lock has no `and-cuda` extra (the local environment is CPU-only), so this image takes
# the system route with exactly the versions that extra pins (tensorflow-2.16.2.dist-info/METADATA):
# CUDA 12.3 (nvidia-cuda-runtime-cu12==12.3.101, cublas 12.3.4.1: the nvidia/cuda:12.3.2 runtime
# image), cuDNN 8.9.7.29 (nvidia-cudnn-cu12==8.9.7.29: NVIDIA's libcudnn8 package built for
# CUDA 12.x) and nvcc 12.3.107 (ptxas and libdevice, which XLA compiles with; `train.xla`).
# The host needs an NVIDIA driver for CUDA 12.3 (>= 545) and the NVIDIA container toolkit.
# tests/unit/test_infra.py checks these pins against the tensorflow version in ml.lock.

ARG CUDA_IMAGE=nvidia/cuda:12.3.2-runtime-ubuntu22.04
FROM ${CUDA_IMAGE}

ARG CUDNN_VERSION=8.9.7.29-1+cuda12.2
ARG CUDA_NVCC_VERSION=12.3.107-1
# CPython from uv's managed builds (checksums pinned in uv itself): Ubuntu 22.04 has no 3.11.x
# of our choosing, and both environments are CPython 3.11 (docs/configuration.md, "Two environments").
ARG PYTHON_VERSION=3.11.7

# The CUDA base image already carries NVIDIA's apt repository (cuDNN, nvcc come from it).
# git, jpegtran, curl, tini as in airflow.Dockerfile; python3-venv only bootstraps uv.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      "libcudnn8=${CUDNN_VERSION}" "cuda-nvcc-12-3=${CUDA_NVCC_VERSION}" \
      ca-certificates curl git libjpeg-turbo-progs tini python3-venv \
 && apt-mark hold libcudnn8 cuda-nvcc-12-3 \
 && rm -rf /var/lib/apt/lists/*
# /home/skinrisk, /tmp/skinrisk: a GPU worker's HOME and TMPDIR, emptied around every task with
# SKINRISK_HOME (compose SKINRISK_WIPE; not /opt/airflow: logs); /opt/keras: KERAS_HOME, where
# the ImageNet weights are mounted read-only.
RUN useradd --uid 50000 --gid 0 --home-dir /opt/airflow --create-home --shell /bin/bash skinrisk \
 && install -d -o 50000 -g 0 -m 2775 /opt/airflow/logs /var/lib/skinrisk \
 && install -d -o 50000 -g 0 -m 0700 /home/skinrisk /tmp/skinrisk /var/cache/skinrisk \
 && install -d -o 50000 -g 0 -m 0755 /opt/keras/models \
 && git config --system --add safe.directory /opt/skinrisk
WORKDIR /opt/skinrisk
ENV UV=/opt/skinrisk/.venvs/tools/bin/uv \
    UV_NO_CACHE=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_PYTHON_INSTALL_DIR=/opt/python
# The installer, pinned with hashes (the Makefile's $(UV) rule), then the interpreter.
COPY requirements/tools.lock requirements/tools.lock
RUN python3 -m venv .venvs/tools \
 && .venvs/tools/bin/python -m pip install -q --no-cache-dir --require-hashes -r requirements/tools.lock \
 && "$UV" python install "$PYTHON_VERSION"
# Both environments (the Makefile's .venvs/%/.installed rule): airflow runs the Celery worker
# or the task pod's runner and dvc; ml runs the `skinrisk` stage commands.
COPY requirements/airflow.lock requirements/ml.lock requirements/
RUN "$UV" venv -q --python "$PYTHON_VERSION" --managed-python .venvs/airflow \
 && "$UV" pip sync -q --python .venvs/airflow/bin/python --require-hashes requirements/airflow.lock
RUN "$UV" venv -q --python "$PYTHON_VERSION" --managed-python .venvs/ml \
 && "$UV" pip sync -q --python .venvs/ml/bin/python --require-hashes requirements/ml.lock
COPY . /opt/skinrisk
RUN "$UV" pip install -q --python .venvs/airflow/bin/python --no-deps -e . \
 && "$UV" pip install -q --python .venvs/ml/bin/python --no-deps -e . \
 && install -m 0755 infra/images/clean-logs.sh /clean-logs

ENV PATH=/opt/skinrisk/.venvs/airflow/bin:$PATH \
    AIRFLOW_HOME=/opt/airflow \
    AIRFLOW__CORE__DAGS_FOLDER=/opt/skinrisk/dags \
    AIRFLOW__CORE__LOAD_EXAMPLES=False \
    SKINRISK_REPO=/opt/skinrisk \
    SKINRISK_ML_BIN=/opt/skinrisk/.venvs/ml/bin \
    SKINRISK_HOME=/var/lib/skinrisk \
    PYTHONDONTWRITEBYTECODE=1 \
    XLA_FLAGS=--xla_gpu_cuda_data_dir=/usr/local/cuda
USER 50000
ENTRYPOINT ["/usr/bin/tini", "--", "/opt/skinrisk/infra/images/entrypoint.sh"]
CMD ["--help"]
