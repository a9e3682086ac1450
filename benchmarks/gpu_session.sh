#!/usr/bin/env bash
# One prepared GPU session (~10 minutes of device time), every table written under $OUT:
#   (a) each CUDA fast path checked against its reference on the GPU (`msinet doctor`: Triton Sinkhorn vs the
#       scaling form, fused vs per-branch LSKA, CUDA-graph replay vs eager; max |diff|, ok / FAILED) and bf16
#       autocast against fp32 on a real crop;
#   (b) bench_models.py --device cuda and bench_train.py --device cuda tables;
#   (c) the x4 corpus training (configs/msinet_small_x4_corpus.yaml) for the remaining minutes, its EMA weights
#       (best and last) and metrics under $OUT/train.
# Usage (repository root, the package installed):
#   OUT=/some/folder bash benchmarks/gpu_session.sh            # on the GPU machine; MINUTES=10 by default
#   DRY_RUN=1 OUT=/tmp/x bash benchmarks/gpu_session.sh        # the same steps at toy sizes on the CPU (CI test)
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:?set OUT to the folder that receives the tables}
MINUTES=${MINUTES:-10}
PY=${PYTHON:-python}
mkdir -p "$OUT"
start=$(date +%s)
status=0
if [ -n "${DRY_RUN:-}" ]; then
  DEVICE=cpu; DOCTOR_ARGS="--device cpu --seconds 0"; BENCH_MODELS="--models bicubic_x4 nafrssr_m_x4 --sizes kitti --rounds 1 --no-train"
  BENCH_TRAIN="--models msinet_tiny_x4 --variants eager --rounds 1 --batch 1 --patch 8 24"
  TRAIN_OVERRIDES="name=gpu_session model.name=msinet_tiny_x4 model.options.num_blocks=1 model.init= train.device=cpu train.batch_size=1 data.lr_patch=[8,24] data.workers=0 val.every=1 checkpoint.every=1 log.every=1 log.tensorboard=false"
  TRAIN_STEPS=2
else
  DEVICE=cuda; DOCTOR_ARGS="--device cuda --seconds 5"; BENCH_MODELS="--device cuda --rounds 5"
  BENCH_TRAIN="--device cuda --rounds 3"
  TRAIN_OVERRIDES="name=gpu_session train.device=cuda log.tensorboard=false"
  TRAIN_STEPS=20000
fi

step() {  # step NAME SECONDS COMMAND...: run with a time limit, keep its output, never stop the session
  local name=$1 limit=$2; shift 2
  echo "== $name (limit ${limit}s)" | tee -a "$OUT/session.log"
  timeout --signal=TERM --kill-after=30 "$limit" "$@" > "$OUT/$name.md" 2> "$OUT/$name.err"
  local rc=$?
  echo "   exit $rc" | tee -a "$OUT/session.log"
  [ $rc -eq 0 ] || status=1
}

# (a) fast paths against their references, then bf16 against fp32 on a real crop
step doctor 120 $PY -m msinet doctor $DOCTOR_ARGS
step bf16_vs_fp32 120 $PY - "$DEVICE" <<'EOF'
import sys
import numpy as np
import torch
import msinet
from skimage.data import stereo_motorcycle
device = torch.device(sys.argv[1])
left, right, _ = stereo_motorcycle()
views = [torch.from_numpy(msinet.imresize(v, 0.25)[:96, :160].copy()).permute(2, 0, 1)[None].float().div(255).to(device)
         for v in (left, right)]
print("| model | bf16 vs fp32 max abs diff (outputs in [0, 1]) | pass (< 0.02) |\n|---|---|---|")
for name in ("msinet_small_x4", "bicubic_x4"):
    model = msinet.load_model(name).to(device).eval()
    with torch.no_grad():
        ref = model(*views)
        with torch.autocast(device.type, dtype=torch.bfloat16):
            low = model(*views)
    diff = max(float((a.float() - b).abs().max()) for a, b in zip(low, ref))
    print(f"| {name} | {diff:.3g} | {'ok' if diff < 0.02 else 'FAILED'} |")
EOF

# (b) speed tables
step bench_models 180 $PY benchmarks/bench_models.py $BENCH_MODELS
step bench_train 180 $PY benchmarks/bench_train.py $BENCH_TRAIN

# (c) training for what is left of the session (a minute kept for writing the weights out)
left=$(( MINUTES * 60 - ($(date +%s) - start) - 60 ))
[ $left -lt 30 ] && left=30
step train "$left" $PY -m msinet train --config configs/msinet_small_x4_corpus.yaml --force \
  log.out_dir="$OUT/train" train.steps=$TRAIN_STEPS $TRAIN_OVERRIDES
# a time limit ends the run with SIGTERM: the trainer checkpoints; its EMA weights are copied out as safetensors
run="$OUT/train/gpu_session"
last=$(ls -d "$run"/checkpoints/step_* 2>/dev/null | sort | tail -n 1)
[ -n "$last" ] && cp "$last/ema.safetensors" "$OUT/train/last_ema.safetensors" 2>/dev/null
rm -rf "$run/checkpoints"  # optimizer states stay behind: only weights come back
ls -la "$OUT" "$OUT/train" >> "$OUT/session.log" 2>&1
echo "session done in $(( $(date +%s) - start )) s, status $status" | tee -a "$OUT/session.log"
exit $status
