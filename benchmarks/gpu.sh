#!/usr/bin/env bash
# The GPU path in one short run (issue 25), on a machine with an NVIDIA GPU, from the repository root:
#
#   bash benchmarks/gpu.sh [OUT_DIR]        # default OUT_DIR: /tmp/jobskills-gpu
#
# 1. install (the README's command, when .venv is missing) and onnxruntime-gpu where it installs;
# 2. the tests marked `gpu` (the CUDA code paths of both tiers and the linker);
# 3. trains both keyword tiers on a fixed small budget on the GPU (the accurate tier needs
#    `jobskills encoders install mpnet`; without it the accurate steps are skipped, said once);
# 4. the encoder ceiling of each tier: torch fp32, torch fp16, ONNX Runtime CUDA (benchmarks/gpu_ceiling.py);
# 5. serves each tier under `bentoml serve` with resources={"gpu": 1} (JOBSKILLS_SERVE_GPUS=1) and
#    measures /extract at 1 / 32 / 128 clients (benchmarks/serving_tiers.py, backend torch).
# Each step has its own time limit, so the whole run stays within about 8 minutes after the install;
# the figures land in OUT_DIR (*.json, *.log) and the tables on stdout.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-/tmp/jobskills-gpu}"
mkdir -p "$OUT"
T0=$(date +%s)
step() { echo; echo "== $(( $(date +%s) - T0 )) s: $*"; }

if ! command -v nvidia-smi >/dev/null 2>&1; then
  echo "error: no nvidia-smi here: benchmarks/gpu.sh needs a machine with an NVIDIA GPU" >&2
  exit 2
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$OUT/gpu.txt"

step "install"
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv && . .venv/bin/activate && pip install -q torch==2.13.0 \
    && pip install -q -e '.[dev]' -c constraints.txt || { echo "error: install failed" >&2; exit 1; }
fi
. .venv/bin/activate
pip install -q onnxruntime-gpu >/dev/null 2>&1 || echo "note: onnxruntime-gpu does not install here; the ONNX CUDA row is skipped"
timeout 300 jobskills encoders install mpnet >/dev/null 2>&1 || echo "note: the mpnet encoder did not install (offline?)"
python -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" \
  || { echo "error: torch sees no CUDA device (a CPU build of torch?)" >&2; exit 1; }
T0=$(date +%s)  # the 8-minute budget starts after the install

step "tests marked gpu"
timeout 120 python -m pytest -q -p no:cacheprovider -m gpu tests 2>&1 | tail -5 | tee "$OUT/tests.log"

step "train the fast tier (200 steps)"
timeout 120 jobskills keywords train --config configs/tagger.yaml --max-steps 200 --out "$OUT/fast" \
  > "$OUT/train-fast.log" 2>&1; tail -3 "$OUT/train-fast.log"
TIERS=(--fast "$OUT/fast")
if python -c "from common.text.encoder_install import installed_dir; import sys; sys.exit(0 if installed_dir('mpnet').exists() else 1)"; then
  step "train the accurate tier (120 steps)"
  timeout 180 jobskills keywords train --config configs/tagger-mpnet.yaml --max-steps 120 --out "$OUT/accurate" \
    > "$OUT/train-accurate.log" 2>&1; tail -3 "$OUT/train-accurate.log"
  [ -f "$OUT/accurate/tagger.json" ] && TIERS+=(--accurate "$OUT/accurate")
else
  echo "note: the accurate tier is skipped: its encoder is not installed (jobskills encoders install mpnet)"
fi

step "encoder ceilings"
for t in fast accurate; do
  [ -f "$OUT/$t/tagger.json" ] && timeout 60 python benchmarks/gpu_ceiling.py --model "$OUT/$t" --out "$OUT/ceiling-$t.json"
done

step "served /extract at 1 / 32 / 128 clients, resources={gpu: 1}"
JOBSKILLS_SERVE_GPUS=1 JOBSKILLS_SERVE_MAX_BATCH_SIZE=64 JOBSKILLS_SERVE_SCHEDULER_BATCH_CHARS=64000 \
JOBSKILLS_SERVE_SCHEDULER_BATCHES_IN_FLIGHT=4 \
  timeout 300 python benchmarks/serving_tiers.py "${TIERS[@]}" --backends torch --endpoints /extract \
    --concurrency 1,32,128 --requests 256 --max-seconds 25 --threads 4 --device cuda --logs "$OUT/serve" \
    --out "$OUT/serving.json" 2>&1 | tee "$OUT/serving.log" | grep -E '^\||ceiling|serving'

step "done: figures in $OUT"
