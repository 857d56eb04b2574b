#!/usr/bin/env bash
# Every test, Rust and Python, on a fresh machine (a Rust toolchain and python3 are all it
# needs; Python packages come from PyPI):
#   1. cargo test --workspace (engine, kernels, audio, hub, eval, CLI), then the CUDA backend
#      without a GPU (NVRTC + ptxas from NVIDIA's pip wheels, the host emulator);
#   2. the release wheels for this machine (library, command line, sdist) built by
#      scripts/build-wheels.sh into target/wheels;
#   3. those wheels installed into a fresh virtual environment (target/python-venv), then pytest
#      with a PATH that has no cargo or rustc: the API against the fixtures' PyTorch goldens, a
#      real local Ray job, and the wheels' outputs against the source build of step 1.
# Each step prints its time.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
LOG_DIR="${ECAPA2_TEST_LOGS:-target/test-logs}"
mkdir -p "$LOG_DIR"
LOG_DIR="$(cd "$LOG_DIR" && pwd)"
timed() { # timed NAME COMMAND...
    local start=$SECONDS status=0
    "${@:2}" || status=$?
    echo "== $1: $((SECONDS - start)) s" | tee -a "$LOG_DIR/times.log"
    return $status
}
: > "$LOG_DIR/times.log"

timed "cargo test" bash -c "cargo test --workspace --locked 2>&1 | tee '$LOG_DIR/cargo.log'; exit \${PIPESTATUS[0]}"

# The CUDA backend without a GPU (feature `cuda`): NVRTC and ptxas from NVIDIA's pip wheels
# compile the kernels for sm_80/86/89/90 (spills fail), the host emulator runs them on every
# fixture, and loading on cuda here fails with one line (no driver). Also that every front-end
# builds with the feature.
cuda_checks() {
    local tools
    tools="$(realpath -m "${ECAPA2_CUDA_TOOLS:-target/cuda-tools}")"
    if [[ ! -x "$tools/bin/python" ]]; then
        python3 -m venv "$tools"
    fi
    "$tools/bin/python" -m pip install -q nvidia-cuda-nvrtc-cu12 nvidia-cuda-nvcc-cu12
    local site
    site="$("$tools/bin/python" -c 'import nvidia, os; print(os.path.dirname(list(nvidia.__path__)[0]))')"
    local status=0
    ECAPA2_NVRTC_DIR="$site/nvidia/cuda_nvrtc/lib" ECAPA2_PTXAS="$site/nvidia/cuda_nvcc/bin/ptxas" \
        cargo test -p ecapa2 --features cuda --locked --lib cuda -- --nocapture \
        > "$LOG_DIR/cuda.log" 2>&1 || status=$?
    cat "$LOG_DIR/cuda.log" >> "$LOG_DIR/cargo.log"
    grep -E "^test |emulated|NVRTC|sm_90 .*(attentive|epilogue)|skipped|panicked|^test result" "$LOG_DIR/cuda.log" || true
    [[ $status -eq 0 ]] || return $status
    cargo build -p ecapa2-cli -p ecapa2-server --features cuda --locked
}
timed "cuda without a GPU (nvrtc, ptxas, emulator)" cuda_checks

WHEELS="${ECAPA2_TEST_WHEELS:-target/wheels}"
HOST="$(rustc -vV | sed -n 's/^host: //p')"
timed "wheels ($HOST)" bash -c "ECAPA2_WHEEL_TARGETS='$HOST' scripts/build-wheels.sh '$WHEELS' 2>&1 | tee '$LOG_DIR/wheels.log'; exit \${PIPESTATUS[0]}"

VENV="$(realpath -m "${ECAPA2_TEST_VENV:-target/python-venv}")"
ARCH="${HOST%%-*}"
install_wheels() {
    rm -rf "$VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/python" -m pip install -q --upgrade pip
    # Only the wheels: pip may not fall back to building either package from source.
    "$VENV/bin/python" -m pip install -q --only-binary ecapa2,ecapa2-cli \
        "$(ls "$WHEELS"/ecapa2-*_"$ARCH".whl)[ray,test]" "$(ls "$WHEELS"/ecapa2_cli-*_"$ARCH".whl)"
}
timed "fresh venv + wheels" install_wheels

# PATH without the folders that hold cargo or rustc: the wheels must not need them.
NO_RUST_PATH="$VENV/bin"
IFS=: read -ra dirs <<< "$PATH"
for d in "${dirs[@]}"; do
    [[ -n "$d" && ! -e "$d/cargo" && ! -e "$d/rustc" ]] && NO_RUST_PATH+=":$d"
done
if PATH="$NO_RUST_PATH" command -v cargo rustc; then
    echo "cargo/rustc still on the test PATH" >&2
    exit 1
fi
# From the tests' folder, so that `import ecapa2` is the installed package, not python/ecapa2.
timed "pytest (installed wheels)" bash -c "cd python/tests && PATH='$NO_RUST_PATH' \
    ECAPA2_CLI='$VENV/bin/ecapa2' ECAPA2_SOURCE_CLI='$ROOT/target/debug/ecapa2' \
    '$VENV/bin/python' -m pytest -q -p no:cacheprovider . 2>&1 | tee '$LOG_DIR/pytest.log'; exit \${PIPESTATUS[0]}"
