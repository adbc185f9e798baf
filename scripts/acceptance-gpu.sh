#!/usr/bin/env bash
# Acceptance on the box (or any CUDA machine): the CUDA heatmap decoder through pycuda.
# Builds the kernels with the box's own CUDA for its own SM, runs the GPU parity tests against
# the NumPy decoder, and prints the decode bench (CUDA-event kernel time per frame pair) as JSON.
# Needs: the box's CUDA toolkit (nvcc or libnvrtc), a GPU, and network or a wheel cache for pycuda.
# Whatever way it ends, what it started is stopped (scripts/procs.sh).
set -euo pipefail
source "$(dirname "$0")/env.sh"
# shellcheck source=scripts/procs.sh
source "$(dirname "$0")/procs.sh"
agma_env test
cd "$AGMA_ROOT"
python -c 'import pycuda' 2>/dev/null || run_fg python -m pip install -q pycuda
sm=$(python - <<'PY'
import pycuda.driver as cuda
cuda.init()
major, minor = cuda.Device(0).compute_capability()
print(f"{major}{minor}")
PY
)
echo "GPU compute capability sm_$sm" >&2
run_fg agma engine kernels --sm "$sm" --json
run_fg python -m pytest -q tests/pose/test_cuda_gpu.py tests/pose/test_cuda_host_parity.py
run_fg agma bench decode --json
