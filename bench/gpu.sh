#!/usr/bin/env bash
# bench/gpu.sh RESULTS_DIR — the one device run of issue 20 (CUDA fp16), on a GPU machine with
# python3 + torch + NVIDIA's pip libraries and no Rust: everything ours comes carried from the
# build machine (target/wheels-cuda/*.whl, and target/release/ecapa2 if present, both built
# with the `cuda` feature).
#
#  1. versions (date, nvidia-smi, python, torch, CUDA, GPU and capability); the folders of
#     NVIDIA's pip libraries as Python finds them (nvidia/*/lib, nvidia/cu13/lib) exported as
#     ECAPA2_CUDA_LIBRARY_PATH and prepended to LD_LIBRARY_PATH;
#  2. the carried wheel installed into RESULTS_DIR/venv (--system-site-packages, so torch
#     stays importable; if that venv cannot see torch, the wheel is unpacked onto PYTHONPATH);
#  3. fast fail: `ecapa2 --device cuda inspect` on the tiny fixture (self-check at load);
#  4. bench/gpu_bench.py: tiny-fixture parity (fast fail), the full-size random archive built
#     here, self-check load times, parity per label vs PyTorch fp32, f16 cosine, the
#     mixed-length batch, timings + peak memory, profiler kernel tables. Writes
#     RESULTS_DIR/gpu.json and gpu.md after every section.
#
# Exit status: 0 done, every correctness target met; 1 done with a failed target or section, or
# a section left out for lack of time;
# 2 fast fail (one line "gpu.sh: FAILED: ..." says why; RESULTS_DIR/gpu.json has it too);
# 124 the watchdog (ECAPA2_GPU_TIMEOUT, default 450 s) ran out. The log is RESULTS_DIR/gpu.log.
# Environment: PYTHON (default python3), ECAPA2_GPU_TIMEOUT, ECAPA2_GPU_MODEL (an archive to
# use instead of building the full-size one), ECAPA2_GPU_DEVICE (default cuda; cpu is a dry run
# of this script's plumbing on a machine without a GPU, its numbers meaningless),
# ECAPA2_GPU_BENCH_ARGS (more arguments for gpu_bench.py, e.g. "--shapes 1x3,64x3 --reps 5").
set -euo pipefail

if [ $# -ne 1 ] || [ -z "$1" ]; then
    echo "usage: bench/gpu.sh RESULTS_DIR" >&2
    exit 64
fi

# The watchdog: the whole run, this script included, inside ECAPA2_GPU_TIMEOUT seconds.
if [ -z "${ECAPA2_GPU_SH_INNER:-}" ] && command -v timeout >/dev/null 2>&1; then
    export ECAPA2_GPU_SH_INNER=1
    export ECAPA2_GPU_T0="$(date +%s)"
    exec timeout -k 10 "${ECAPA2_GPU_TIMEOUT:-450}" bash "$0" "$@"
fi
T0="${ECAPA2_GPU_T0:-$(date +%s)}"
BUDGET="${ECAPA2_GPU_TIMEOUT:-450}"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
mkdir -p "$1"
RESULTS="$(cd "$1" && pwd)"
LOG="$RESULTS/gpu.log"
: >"$LOG"
rm -f "$RESULTS/gpu.json" "$RESULTS/gpu.md" # a reused folder keeps only its built archive
exec > >(tee -a "$LOG") 2>&1
PY="${PYTHON:-python3}"
DEVICE="${ECAPA2_GPU_DEVICE:-cuda}"

die() {
    local reason="$*"
    reason="${reason//$'\n'/ }"
    # A JSON record of the failure unless gpu_bench.py already wrote a richer one.
    if [ ! -s "$RESULTS/gpu.json" ] || ! grep -q '"sections"' "$RESULTS/gpu.json" 2>/dev/null; then
        printf '{"status": "failed", "error": "%s", "elapsed_s": %s}\n' \
            "$(printf '%s' "$reason" | sed 's/\\/\\\\/g; s/"/\\"/g')" "$(($(date +%s) - T0))" >"$RESULTS/gpu.json"
    fi
    echo "gpu.sh: FAILED: $reason"
    sleep 0.2 # let tee flush
    exit 2
}

left() { echo $((BUDGET - ($(date +%s) - T0))); }

echo "== gpu.sh $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(hostname) =="
echo "repo $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?'), results $RESULTS, budget ${BUDGET} s"
uname -a
if command -v nvidia-smi >/dev/null 2>&1; then
    timeout 20 nvidia-smi || echo "nvidia-smi failed (rc $?)"
else
    echo "nvidia-smi: not present"
fi
command -v "$PY" >/dev/null 2>&1 || die "no $PY on PATH"

# ---- 1. versions, GPU, NVIDIA's library folders (from Python) ----
# stdout: the library folders, colon-separated; stderr: the report. A problem: one line on
# stdout and a non-zero exit.
PROBE='
import glob, os, sys
def say(*a): print(*a, file=sys.stderr, flush=True)
say("python", sys.version.split()[0], sys.executable)
try:
    import torch
except Exception as e:
    print("no torch in %s (%s: %s)" % (sys.executable, type(e).__name__, e)); sys.exit(3)
say("torch", torch.__version__, "CUDA", torch.version.cuda)
if os.environ.get("ECAPA2_GPU_DEVICE") == "cpu":
    say("dry run on the CPU (ECAPA2_GPU_DEVICE=cpu)"); print(""); sys.exit(0)
if not torch.cuda.is_available():
    print("torch %s sees no CUDA device (no GPU or no driver)" % torch.__version__); sys.exit(4)
p = torch.cuda.get_device_properties(0)
say("device 0: %s, capability %d.%d, %.1f GiB, %d SMs, %d device(s); cuDNN %s" % (
    p.name, p.major, p.minor, p.total_memory / 2**30, p.multi_processor_count,
    torch.cuda.device_count(), torch.backends.cudnn.version()))
dirs = []
try:
    import nvidia
    roots = list(getattr(nvidia, "__path__", []))
except Exception:
    roots = []
for root in roots:
    for d in sorted(glob.glob(os.path.join(root, "*", "lib"))):
        if os.path.isdir(d) and d not in dirs:
            dirs.append(d)
say("nvidia namespace folders:", roots or "none")
for d in dirs:
    libs = sorted(os.path.basename(f) for pat in ("libcublas.so*", "libcublasLt.so*", "libnvrtc*.so*", "libcudnn.so*")
                  for f in glob.glob(os.path.join(d, pat)))
    say("  %s: %s" % (d, " ".join(libs) or "-"))
print(":".join(dirs))
'
if ! LIBDIRS="$(timeout 120 "$PY" -c "$PROBE")"; then
    die "${LIBDIRS:-$PY probe failed (torch import or CUDA initialisation)}"
fi
if [ -z "$LIBDIRS" ]; then
    echo "warning: no nvidia/*/lib folder found from Python; the loader falls back to the system paths"
else
    export ECAPA2_CUDA_LIBRARY_PATH="$LIBDIRS${ECAPA2_CUDA_LIBRARY_PATH:+:$ECAPA2_CUDA_LIBRARY_PATH}"
    export LD_LIBRARY_PATH="$LIBDIRS${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi
echo "ECAPA2_CUDA_LIBRARY_PATH=${ECAPA2_CUDA_LIBRARY_PATH:-}"

# ---- 2. the carried wheel ----
shopt -s nullglob
WHEELS=("$ROOT"/target/wheels-cuda/ecapa2-*.whl)  # the library (not ecapa2_cli-*)
shopt -u nullglob
[ ${#WHEELS[@]} -gt 0 ] || die "no wheel in $ROOT/target/wheels-cuda/ (run bench/gpu-prepare.sh on the build machine and carry target/wheels-cuda)"
WHEEL="$(ls -t "${WHEELS[@]}" | head -n 1)"
echo "wheel: $WHEEL ($(du -h "$WHEEL" | cut -f1))"
BPY=""
# python3 may itself be a venv (whose packages a new venv's --system-site-packages does not
# see): a .pth file adds its site folders after the new venv's own.
PARENT_SITE="$("$PY" -c 'import site; print("\n".join(site.getsitepackages() + [site.getusersitepackages()]))' 2>/dev/null || true)"
if timeout 60 "$PY" -m venv --system-site-packages "$RESULTS/venv" >/dev/null 2>&1 &&
    VSITE="$("$RESULTS/venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')" &&
    printf '%s\n' "$PARENT_SITE" >"$VSITE/_gpu_sh_parent_site.pth" &&
    timeout 60 "$RESULTS/venv/bin/python" -m pip install --quiet --no-deps --no-index "$WHEEL" &&
    timeout 60 "$RESULTS/venv/bin/python" -c "import torch, ecapa2" 2>/dev/null; then
    BPY="$RESULTS/venv/bin/python"
else
    echo "venv route failed (no venv/pip, or torch not visible from it): unpacking the wheel onto PYTHONPATH"
    rm -rf "$RESULTS/pylib"
    "$PY" -m zipfile -e "$WHEEL" "$RESULTS/pylib" || die "cannot unpack $WHEEL"
    export PYTHONPATH="$RESULTS/pylib${PYTHONPATH:+:$PYTHONPATH}"
    BPY="$PY"
fi
ECAPA2_IMPORT="$(timeout 60 "$BPY" -c 'import ecapa2; print(ecapa2.__version__, ecapa2.__file__)' 2>&1)" ||
    die "the ecapa2 wheel does not import: $(echo "$ECAPA2_IMPORT" | tail -n 1)"
echo "ecapa2 $ECAPA2_IMPORT (python $BPY)"

# ---- 3. fast fail: the CLI on the tiny fixture (the self-check runs at load) ----
TINY="$ROOT/tests/fixtures/tiny/model.pt"
CLI="$ROOT/target/release/ecapa2"
if [ -x "$CLI" ]; then
    for prec in f32 f16; do
        t=$(date +%s%N)
        if ! OUT="$(timeout 120 "$CLI" --device "$DEVICE" --precision "$prec" inspect --brief "$TINY" 2>&1)"; then
            echo "$OUT" | tail -n 5
            die "ecapa2 --device $DEVICE --precision $prec inspect: $(echo "$OUT" | grep -v '^\s*$' | tail -n 1)"
        fi
        echo "cli --device $DEVICE --precision $prec inspect tiny: OK in $((($(date +%s%N) - t) / 1000000)) ms"
    done
else
    echo "no $CLI carried: the CLI check is skipped (the Python load below fails fast instead)"
fi

# ---- 4. the bench ----
REMAIN="$(left)"
[ "$REMAIN" -gt 60 ] || die "only $REMAIN s left before the bench"
DEADLINE=$((T0 + BUDGET - 15))
echo "== gpu_bench.py ($((DEADLINE - $(date +%s))) s) =="
set +e
"$BPY" -u "$ROOT/bench/gpu_bench.py" --out "$RESULTS" --deadline "$DEADLINE" --device "$DEVICE" \
    ${ECAPA2_GPU_MODEL:+--model "$ECAPA2_GPU_MODEL"} ${ECAPA2_GPU_BENCH_ARGS:-}
rc=$?
set -e
echo "== gpu.sh: gpu_bench.py exit $rc after $(($(date +%s) - T0)) s; results in $RESULTS (gpu.md, gpu.json) =="
if [ "$rc" -eq 2 ]; then
    echo "gpu.sh: FAILED: $("$BPY" -c 'import json, sys; print(json.load(open(sys.argv[1])).get("error", "?"))' "$RESULTS/gpu.json" 2>/dev/null || echo "see $LOG")"
fi
sleep 0.2 # let tee flush
exit "$rc"
