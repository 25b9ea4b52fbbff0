# syntax=docker/dockerfile:1
# The flows image: a Prefect worker (process or Kubernetes type) with the jobskills project
# installed, and the image the Kubernetes work pool runs every flow run in.
#
#   docker build -f infra/flows.Dockerfile -t jobskills-flows:latest .
#   docker build -f infra/flows.Dockerfile -t jobskills-flows:cuda \
#       --build-arg TORCH_INDEX_URL=https://download.pytorch.org/whl/cu126 .   # GPU training jobs
#
# CUDA wheels of torch bundle the CUDA runtime, so the same slim base runs on GPU nodes (with the
# NVIDIA container runtime); the CPU index keeps the default image about 2 GB smaller.
ARG PYTHON_VERSION=3.11
FROM python:${PYTHON_VERSION}-slim

ARG TORCH_VERSION=2.13.0
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
ARG APP_UID=1034

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PREFECT_SERVER_ANALYTICS_ENABLED=false \
    PREFECT_HOME=/data/prefect \
    BENTOML_DO_NOT_TRACK=true \
    BENTOML_HOME=/bentoml \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    TOKENIZERS_PARALLELISM=false \
    JOBSKILLS_DATA_DIR=/data \
    JOBSKILLS_SHARED_DATA_DIR=/shared/data \
    JOBSKILLS_EXPECTATIONS_DIR=/opt/jobskills/expectations

# libgomp: xgboost/torch OpenMP; tini: reaps the worker's child processes
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgomp1 tini ca-certificates \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/jobskills

# torch first, from the chosen index, so the project install below finds it satisfied
RUN pip install --index-url "${TORCH_INDEX_URL}" "torch==${TORCH_VERSION}"

# dependencies layer: only pyproject changes invalidate it
COPY pyproject.toml README.md ./
RUN mkdir -p src/common src/jobskills/cli flows services \
    && touch src/common/__init__.py src/jobskills/__init__.py src/jobskills/cli/__init__.py flows/__init__.py services/__init__.py \
    && pip install ".[k8s]" \
    && pip uninstall -y jobskills

# the project itself, editable, so flows find expectations/ and configs/ next to the code and
# prefect.yaml's pull step (set_working_directory /opt/jobskills) resolves every entrypoint
COPY src ./src
COPY flows ./flows
COPY services ./services
COPY expectations ./expectations
COPY configs ./configs
COPY bentofile.yaml prefect.yaml ./
RUN pip install --no-deps -e . \
    && useradd --create-home --uid "${APP_UID}" jobskills \
    && mkdir -p /data /bentoml /shared/data \
    && chown -R jobskills:jobskills /data /bentoml /opt/jobskills

USER jobskills
VOLUME ["/data", "/bentoml"]
# Evidently UI (monitoring dashboard) when the image runs `evidently ui`
EXPOSE 8000

ENTRYPOINT ["tini", "--"]
# A process worker for a single host; Kubernetes overrides this with --type kubernetes.
CMD ["prefect", "worker", "start", "--pool", "jobskills", "--type", "process"]
