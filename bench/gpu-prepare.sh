#!/usr/bin/env bash
# Builds, on this (CPU) machine, what bench/gpu.sh needs carried to a GPU machine with no Rust:
# target/release/ecapa2 with the `cuda` feature and this machine's wheels (library + CLI, the
# `cuda` feature is in every wheel) in target/wheels-cuda. Then, with the device tool:
#   run(command="bench/gpu.sh /tmp/out && cp -r /tmp/out $OUT/", carry=["target/release/ecapa2",
#       "target/wheels-cuda"], timeout_s=480)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -p ecapa2-cli --features cuda
HOST="$(rustc -vV | sed -n 's/^host: //p')"
ECAPA2_WHEEL_TARGETS="$HOST" scripts/build-wheels.sh target/wheels-cuda
ls -l target/release/ecapa2 target/wheels-cuda/*.whl
