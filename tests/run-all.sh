#!/usr/bin/env bash
# Every test, Rust and Python, on a fresh machine (a Rust toolchain and python3 are all it
# needs; Python packages come from PyPI):
#   1. cargo test --workspace (engine, kernels, audio, hub, eval, CLI);
#   2. the Python package built with maturin into a virtual environment (target/python-venv),
#      then pytest: the API against the fixtures' PyTorch goldens and a real local Ray job.
set -euo pipefail
cd "$(dirname "$0")/.."
LOG_DIR="${ECAPA2_TEST_LOGS:-target/test-logs}"
mkdir -p "$LOG_DIR"

cargo test --workspace --locked 2>&1 | tee "$LOG_DIR/cargo.log"

VENV="${ECAPA2_TEST_VENV:-target/python-venv}"
[[ -x "$VENV/bin/python" ]] || python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -m pip install -q ".[ray,test]"
# From the tests' folder, so that `import ecapa2` is the installed package, not python/ecapa2.
(cd python/tests && "../../$VENV/bin/python" -m pytest -q -p no:cacheprovider . 2>&1) | tee "$LOG_DIR/pytest.log"
