#!/usr/bin/env bash
# The GPU session on a bare device machine, in one call (benchmarks/gpu_session.py says what it does):
#   python benchmarks/gpu_pack.py            # here, once: fills .gpu/ (data, start weights, wheels)
#   device run: carry [".gpu"], timeout_s 580, command "bash benchmarks/gpu_session.sh"
# installs the carried wheels the device image lacks (no index, no dependency resolution) into a folder of its
# own, then runs the session with msinet imported from src/. SECONDS_BUDGET (default 540) is its wall clock.
# REHEARSE=1 OUT=/tmp/x bash benchmarks/gpu_session.sh runs the same steps at toy sizes on the CPU.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:?set OUT to the folder that receives the results}
PACK=${PACK:-.gpu}
PY=${PYTHON:-python3}
mkdir -p "$OUT"
site=$(mktemp -d)
wheels=("$PACK"/wheels/*.whl)
if [ -e "${wheels[0]}" ]; then
  $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target "$site" "${wheels[@]}" \
    || { echo "gpu_session.sh: the carried wheels did not install" | tee "$OUT/session.log"; exit 1; }
fi
export PYTHONPATH="$PWD/src:$site${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
$PY benchmarks/gpu_session.py --out "$OUT" --pack "$PACK" --seconds "${SECONDS_BUDGET:-540}" \
  ${REHEARSE:+--rehearse} 2>&1 | tee "$OUT/session.log"
rc=${PIPESTATUS[0]}
rm -rf "$site"
exit $rc
