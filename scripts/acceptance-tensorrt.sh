#!/usr/bin/env bash
# Acceptance on the box: the pose model through TensorRT, from a checkpoint to a recorded session
# (engines/RECIPE.md, run whole).
#   scripts/acceptance-tensorrt.sh CHECKPOINT.pth|MODEL.onnx [FRAMES_DIR]
# 1. TensorRT: agma's environment imports tensorrt (JetPack's python3-libnvinfer, seen through a venv
#    made with --system-site-packages) and pycuda sees the GPU; without tensorrt the script stops at
#    once with one line (exit 1);
# 2. export: `agma engine export --checkpoint F.pth -o F.onnx` (skipped when an ONNX file is given),
#    then `agma engine info F.onnx`: the model contract honoured;
# 3. FP16 build: `agma engine build --onnx F.onnx -o F.engine --fp16 --batch 4`: precision fp16,
#    profile batch 1-4;
# 4. engine info: `agma engine info F.engine`: its sidecar matches this TensorRT and GPU and names
#    F.onnx's sha256;
# 5. verify: `agma engine verify --onnx F.onnx --against F.engine --frames DIR --json` on FRAMES_DIR,
#    else on 2 s recorded from the configured source (`agma record --model onnx:F.onnx
#    --write-replay`, into the scratch folder): decoded joints' p95 <= 0.5 px and heatmaps within
#    1 % of the reference's range;
# 6. 60 s session: `agma record --model trt:F.engine --duration 60`: ended by its duration, frames
#    stored (the database's frame rows = the summary's count), the session row naming the engine,
#    its sha256 and its provenance (the ONNX sha256, precision); AGMA_TRT_MIN_FPS (default 0: none)
#    is a floor on the stored frame rate;
# 7. bench: `agma bench engine --engine F.engine --json`, the engine's inference time;
# 8. GPU preprocessing: `agma bench preprocess --check --json`: the preprocessing kernel on this GPU
#    (and on the host shim) against this box's OpenCV path, max_abs_diff_vs_opencv <= 1e-3, and its
#    time per frame pair beside the CPU path's;
# then a pass/fail table with the figures. Exit 0 only when every row passed. Steps 1-3 stop the
# script when they fail (nothing after them can run); 4-8 each run.
# Environment: AGMA_TRT_OUT=DIR keeps the ONNX file and the engine there (default: the scratch
# folder); agma's own (AGMA_CONFIG, AGMA_CAPTURE__SOURCE, ...) pick the source and settings of the
# sessions. The recorded frames (images) go only to the scratch folder; it is removed at exit, and
# whatever way the script ends, what it started is stopped (scripts/procs.sh).
set -euo pipefail
me=acceptance-tensorrt
die() { echo "$me: $1" >&2; exit "${2:-1}"; }
exec 3>&2  # the terminal's stderr, for progress lines from inside a step (whose stderr is kept)
if [ $# -lt 1 ] || [ $# -gt 2 ]; then die "usage: $0 CHECKPOINT.pth|MODEL.onnx [FRAMES_DIR]" 2; fi
[ -f "$1" ] || die "$1: no such checkpoint or ONNX file"
model=$(readlink -f "$1")
frames_dir=""
if [ $# -eq 2 ]; then
  [ -d "$2" ] || die "$2: no such replay folder (a folder written by agma record --write-replay)"
  frames_dir=$(readlink -f "$2")
fi
out=""
if [ -n "${AGMA_TRT_OUT:-}" ]; then mkdir -p "$AGMA_TRT_OUT"; out=$(readlink -f "$AGMA_TRT_OUT"); fi
# shellcheck source=scripts/env.sh
source "$(dirname "$0")/env.sh"
# shellcheck source=scripts/procs.sh
source "$(dirname "$0")/procs.sh"
# shellcheck disable=SC2119  # no extra: agma's own packages
agma_env
cd "$AGMA_ROOT"

# -- 1. TensorRT (stops here with one line when it is missing) ------------------------------------
if ! trt_version=$(python -c 'import tensorrt; print(tensorrt.__version__)' 2>/dev/null); then
  if [ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import tensorrt' 2>/dev/null; then
    die "the system's python3 has tensorrt but $VENV does not see it: make it again with the system's packages (rm -rf $VENV && python3 -m venv --system-site-packages $VENV), then rerun"
  fi
  die "TensorRT is not installed here (no Python module 'tensorrt'): run this on the box, where JetPack's python3-libnvinfer provides it (sudo apt install python3-libnvinfer), with agma's venv made with --system-site-packages (engines/RECIPE.md)"
fi
python -c 'import pycuda' 2>/dev/null || run_fg python -m pip install -q pycuda \
  || die "pycuda is missing and pip could not install it (the engine's buffers need it): pip install pycuda against the box's CUDA"

scratch=$(mktemp -d)
# shellcheck disable=SC2016  # expanded when the exit trap evals it
at_exit 'rm -rf "$scratch"'
out=${out:-$scratch}

STEPS=() RESULTS=() DETAILS=()
result() { STEPS+=("$1"); RESULTS+=("$2"); DETAILS+=("$3"); }
table() {
  local i all_run=("TensorRT" "export" "FP16 build" "engine info" "verify" "60 s session" "bench")
  printf '\n%-14s %-6s %s\n' STEP RESULT DETAIL
  for i in "${!STEPS[@]}"; do printf '%-14s %-6s %s\n' "${STEPS[$i]}" "${RESULTS[$i]}" "${DETAILS[$i]}"; done
  for i in "${all_run[@]:${#STEPS[@]}}"; do printf '%-14s %-6s %s\n' "$i" "-" "not run (the script stopped before it)"; done
}
at_exit table

# step TITLE FUNCTION: runs FUNCTION; PASS with the last line it printed, or FAIL with the last line
# of its stderr (the failing command's one line; all of it is shown above the table).
step() {
  local rc=0
  echo "$me: $1 ..." >&2
  "$2" >"$scratch/step.out" 2>"$scratch/step.err" || rc=$?
  if [ "$rc" = 0 ]; then
    result "$1" PASS "$(tail -n 1 "$scratch/step.out")"
  else
    cat "$scratch/step.err" >&2
    result "$1" FAIL "$(grep -v '^[[:space:]]*$' "$scratch/step.err" | tail -n 1 | cut -c1-240)"
  fi
  return "$rc"
}

# check ARGS...: the Python checker on stdin, run with ARGS (sys.argv[1:]) after PRELUDE; it prints
# its detail, or exits with why (sys.exit("...")): one line either way
PRELUDE='import hashlib, json, os, sqlite3, sys
def last_json(path):
    # the last line of stdout: the one JSON document of --json
    lines = open(path, encoding="utf-8").read().strip().splitlines()
    if not lines:
        sys.exit(f"{os.path.basename(path)}: the command printed nothing")
    return json.loads(lines[-1])
'
check() { python -c "$PRELUDE$(cat)" "$@"; }

stem=$(basename "${model%.*}")
if [[ "$model" == *.onnx ]]; then onnx=$model; checkpoint=""; else onnx="$out/$stem.onnx"; checkpoint=$model; fi
engine="$out/$stem.engine"

tensorrt_step() {
  local gpu
  gpu=$(python - <<'PY'
import pycuda.driver as cuda
cuda.init()
dev = cuda.Device(0)
major, minor = dev.compute_capability()
print(f"{dev.name()} (sm {major}.{minor})")
PY
) || return 1
  echo "TensorRT $trt_version, GPU $gpu"
}
step "TensorRT" tensorrt_step || exit 1

# -- 2. checkpoint -> ONNX, and the model contract ----------------------------------------------------
export_step() {
  if [ -n "$checkpoint" ]; then
    run_fg agma engine export --checkpoint "$checkpoint" -o "$onnx" --json >"$scratch/export.json" || return 1
  fi
  run_fg agma engine info "$onnx" --json >"$scratch/onnx-info.json" || return 1
  check "$scratch/onnx-info.json" "$checkpoint" <<'PY'
d = last_json(sys.argv[1])
if not d["honours_model_contract"]:
    sys.exit(d["contract_problem"])
before = d["parameters_before_folding"]
params = f"{before:,} parameters before BatchNorm folding" if before else f"{d['parameters']:,} parameters"
how = f"exported from {os.path.basename(sys.argv[2])}" if sys.argv[2] else "given"
print(f"{os.path.basename(d['file'])} {how}: contract honoured, {params}, sha256 {d['sha256'][:16]}…")
PY
}
step "export" export_step || exit 1
onnx_sha=$(python -c 'import json, sys; print(json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])["sha256"])' \
  "$scratch/onnx-info.json")

# -- 3. the FP16 engine, batch 4 --------------------------------------------------------------------
build_step() {
  local t0
  t0=$(date +%s)
  echo "$me: building $engine (minutes on an Orin) ..." >&3
  run_fg agma engine build --onnx "$onnx" -o "$engine" --fp16 --batch 4 --json >"$scratch/build.json" || return 1
  check "$scratch/build.json" "$(($(date +%s) - t0))" <<'PY'
d = last_json(sys.argv[1])
if d["precision"] != "fp16":
    sys.exit(f"built {d['precision']}, not fp16: TensorRT reports no fast FP16 on {d['gpu_name']}")
if (d["profile_min_batch"], d["profile_max_batch"]) != (1, 4):
    sys.exit(f"profile batch {d['profile_min_batch']}-{d['profile_max_batch']}, expected 1-4")
print(f"{d['output']}: fp16, batch 1-4 (opt {d['profile_opt_batch']}), TensorRT {d['tensorrt_version']}, "
      f"{d['gpu_name']} sm {d['compute_capability']}, built in {sys.argv[2]} s")
PY
}
step "FP16 build" build_step || exit 1

# -- 4. the engine's sidecar against this machine -----------------------------------------------------
info_step() {
  run_fg agma engine info "$engine" --json >"$scratch/engine-info.json" || return 1
  check "$scratch/engine-info.json" "$onnx_sha" <<'PY'
d = last_json(sys.argv[1])
if d["matches_this_machine"] is not True:
    sys.exit(f"the sidecar does not match this machine: {d['mismatch']}")
if d["onnx_sha256"] != sys.argv[2]:
    sys.exit(f"the sidecar names ONNX sha256 {d['onnx_sha256'][:16]}…, the model's is {sys.argv[2][:16]}…")
print(f"matches this machine (TensorRT {d['tensorrt_version']}, {d['gpu_name']} sm {d['compute_capability']}); "
      f"ONNX sha256 {d['onnx_sha256'][:16]}…, {d['size_bytes']:,} bytes")
PY
}
step "engine info" info_step || true

# -- 5. the engine against the ONNX model, on recorded frames -----------------------------------------
verify_step() {
  local frames=$frames_dir rc=0
  if [ -z "$frames" ]; then
    frames="$scratch/frames"
    echo "$me: recording 2 s from the configured source into $frames (scratch, removed at exit) ..." >&3
    run_fg agma record --model "onnx:$onnx" --duration 2 --write-replay "$frames" --db "$scratch/frames.sqlite" \
      --json >"$scratch/frames.json" || return 1
  fi
  run_fg agma engine verify --onnx "$onnx" --against "$engine" --frames "$frames" --json >"$scratch/verify.json" || rc=$?
  # exit 1 with its figures when the engine disagrees; anything else (no JSON) is the command's own failure
  [ "$rc" = 0 ] || [ "$rc" = 1 ] || return 1
  check "$scratch/verify.json" "$frames" <<'PY'
d = last_json(sys.argv[1])
if "kp_px_p95" not in d:
    sys.exit(d.get("error", "agma engine verify printed no figures"))
def px(v):
    return "inf" if v is None else f"{v:.3g}"
figures = (f"kp p95 {px(d['kp_px_p95'])} px (max {px(d['kp_px_max'])}, confident p95 {px(d['kp_px_p95_confident'])}), "
           f"heatmaps {100 * d['heatmap_max_rel']:.3g} % of the range; {d['views']} views "
           f"({d['random_views']} random, {d['recorded_frames']} frames of {sys.argv[2]})")
why = list(d["failures"])
if d["kp_px_p95"] is None or d["kp_px_p95"] > 0.5:
    why.append("kp p95 > 0.5 px")
if d["recorded_frames"] < 1:
    why.append("no recorded frame compared")
if why or not d["ok"]:
    sys.exit(figures + ": " + "; ".join(dict.fromkeys(why or ["not ok"])))
print(figures)
PY
}
step "verify" verify_step || true

# -- 6. a 60 s session with the engine ----------------------------------------------------------------
session_step() {
  run_fg agma record --model "trt:$engine" --duration 60 --db "$scratch/session.sqlite" --json \
    >"$scratch/session.json" || return 1
  check "$scratch/session.json" "$scratch/session.sqlite" "$engine" "$onnx_sha" "${AGMA_TRT_MIN_FPS:-0}" <<'PY'
out, db, engine, onnx_sha, min_fps = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5])
s = last_json(out)
if "end_reason" not in s:
    sys.exit(s.get("error", "agma record printed no summary"))
if s["end_reason"] != "duration":
    sys.exit(f"the session ended {s['end_reason']}: {s['error']}")
if s["frames"] < 1:
    sys.exit(f"no frame stored ({s['dropped_frames']} dropped)")
conn = sqlite3.connect(db)
conn.row_factory = sqlite3.Row
row = conn.execute("SELECT * FROM sessions WHERE uid = ?", (s["session_id"],)).fetchone()
if row is None:
    sys.exit(f"no session {s['session_id']} in {db}")
stored = conn.execute("SELECT COUNT(*) FROM frames WHERE session_id = ?", (row["id"],)).fetchone()[0]
if stored != s["frames"]:
    sys.exit(f"{stored} frame rows in the database, the summary says {s['frames']}")
with open(engine, "rb") as f:
    engine_sha = hashlib.sha256(f.read()).hexdigest()
if row["model_sha256"] != engine_sha:
    sys.exit(f"sessions.model_sha256 {row['model_sha256']} is not the engine file's {engine_sha[:16]}…")
cols = row.keys()
if "engine_onnx_sha256" not in cols or row["engine_onnx_sha256"] != onnx_sha:
    sys.exit("the session row does not record the engine's ONNX sha256 "
             f"({row['engine_onnx_sha256'] if 'engine_onnx_sha256' in cols else 'no such column'})")
if s["fps"] < min_fps:
    sys.exit(f"stored {s['fps']:.1f} fps, under AGMA_TRT_MIN_FPS={min_fps:g}")
print(f"{s['frames']} frames stored, {s['dropped_frames']} dropped, {s['fps']:.1f} fps, valid joints "
      f"{100 * s['valid_joint_ratio']:.1f} %; source {row['source']}, engine {row['engine_precision']} "
      f"TensorRT {row['engine_tensorrt_version']} on {row['engine_gpu']}")
PY
}
step "60 s session" session_step || true

# -- 7. the engine's inference time --------------------------------------------------------------------
bench_step() {
  run_fg agma bench engine --engine "$engine" --json >"$scratch/bench.json" || return 1
  check "$scratch/bench.json" <<'PY'
d = last_json(sys.argv[1])
rows = d["benches"]["engine"]
inference = [r for r in rows if "inference" in r["name"] and not r["name"].startswith("outside")
             and isinstance(r.get("median_us"), (int, float))]
if not inference:
    sys.exit("no inference row measured: " + ", ".join(r["name"] for r in rows))
outside = next((r for r in rows if r["name"] == "outside inference, total"), None)
parts = [f"{r['name']} {r['median_us'] / 1000:.2f} ms" for r in inference]
if outside:
    parts.append(f"outside inference {outside['median_us'] / 1000:.2f} ms "
                 f"({'within' if outside.get('within_budget') else 'OVER'} the {outside.get('budget_ms')} ms budget)")
print("; ".join(parts))
PY
}
step "bench" bench_step || true

# -- 8. GPU preprocessing against OpenCV -----------------------------------------------------------------
preprocess_step() {
  # exit 1 from agma bench is a failed check; the table still wants its figures
  run_fg agma bench preprocess --check --json >"$scratch/preprocess.json" || true
  check "$scratch/preprocess.json" <<'PY'
d = last_json(sys.argv[1])
rows = {r["name"]: r for r in d["benches"]["preprocess"]}
gpu, host, cpu = rows["preprocess_cuda"], rows["preprocess_cuda_host_check"], rows["preprocess_cpu"]
if gpu.get("median_us") is None:
    sys.exit("the GPU preprocessing did not run: " + gpu.get("skipped_reason", "no reason given"))
for r in (gpu, host):
    if not r.get("passed"):
        sys.exit(f"{r['name']}: max_abs_diff_vs_opencv {r['max_abs_diff_vs_opencv']:.4g} > {r['bound']}")
print(f"GPU {gpu['median_us'] / 1000:.2f} ms per pair (kernel+upload {gpu['kernel_median_us'] / 1000:.2f} ms) "
      f"against CPU {cpu['median_us'] / 1000:.2f} ms; max |GPU - OpenCV| {gpu['max_abs_diff_vs_opencv']:.2g}, "
      f"host shim {host['max_abs_diff_vs_opencv']:.2g} (OpenCV {host['opencv']})")
PY
}
step "GPU preprocessing" preprocess_step || true

for r in "${RESULTS[@]}"; do [ "$r" = PASS ] || exit 1; done
echo "tensorrt acceptance: ok" >&2
