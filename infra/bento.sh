#!/usr/bin/env bash
# Build the jobskills Bento (code + champion models + requirements) and its OCI image.
#
#   infra/bento.sh cpu [IMAGE]               bentoml build + bentoml containerize (python:3.11-slim base)
#   infra/bento.sh gpu [IMAGE]               the same on nvidia/cuda:${CUDA_VERSION}-cudnn-runtime (GPU nodes)
#   infra/bento.sh dockerfile cpu|gpu [OUT]  build the Bento, write the Dockerfile `containerize` would
#                                            use to OUT (default: build/bento.<variant>.dockerfile); no Docker needed
#
# The Bento packs the registry champions of BENTOML_HOME (see common.registry), so run it where
# the promoted models are. Images: IMAGE defaults to jobskills-api:latest / jobskills-api:cuda.
# The GPU variant is bentofile.yaml with docker.cuda_version set; torch's Linux wheels from PyPI
# carry CUDA, so requirements stay the same.
set -euo pipefail
cd "$(dirname "$0")/.."

CUDA_VERSION="${CUDA_VERSION:-12.6}"
mode="${1:-cpu}"

# bentofile for a variant: the repository's own for cpu, a CUDA copy for gpu (printed path)
variant_bentofile() {
  case "$1" in
    cpu) echo "bentofile.yaml" ;;
    gpu)
      local tmp
      tmp="$(mktemp -d)/bentofile.yaml"
      python - "$tmp" "$CUDA_VERSION" <<'PY'
import sys, yaml
out, cuda = sys.argv[1], sys.argv[2]
spec = yaml.safe_load(open("bentofile.yaml", encoding="utf-8"))
spec.setdefault("docker", {}).update({"distro": "debian", "cuda_version": cuda})
spec.setdefault("labels", {})["accelerator"] = "nvidia-gpu"
yaml.safe_dump(spec, open(out, "w", encoding="utf-8"), sort_keys=False)
PY
      echo "$tmp" ;;
    *) echo "unknown variant '$1': use cpu or gpu" >&2; exit 2 ;;
  esac
}

build() {  # $1 variant -> prints the bento tag
  local file gpus=0
  file="$(variant_bentofile "$1")"
  [ "$1" = gpu ] && gpus=1
  # JOBSKILLS_SERVE_GPUS decides the resources recorded for the model services in bento.yaml
  JOBSKILLS_SERVE_GPUS="$gpus" BENTOML_DO_NOT_TRACK=true \
    bentoml build -f "$file" --output tag . | tail -n 1 | sed 's/^__tag__://'
}

case "$mode" in
  cpu|gpu)
    default_image="jobskills-api:latest"; [ "$mode" = gpu ] && default_image="jobskills-api:cuda"
    image="${2:-$default_image}"
    tag="$(build "$mode")"
    echo "built Bento $tag"
    bentoml containerize "$tag" --image-tag "$image"
    echo "image $image"
    ;;
  dockerfile)
    variant="${2:-cpu}"
    out="${3:-build/bento.${variant}.dockerfile}"
    mkdir -p "$(dirname "$out")"
    tag="$(build "$variant")"
    python -c "import sys, bentoml.container as c; c.get_containerfile(sys.argv[1], output_path=sys.argv[2])" "$tag" "$out"
    echo "built Bento $tag; Dockerfile written to $out"
    ;;
  *)
    echo "usage: infra/bento.sh cpu|gpu [IMAGE] | infra/bento.sh dockerfile cpu|gpu [OUT]" >&2
    exit 2
    ;;
esac
