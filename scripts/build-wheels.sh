#!/usr/bin/env bash
# Every distributable of the Python side into OUT_DIR, with their SHA-256 checksums:
#   ecapa2-VERSION-cp39-abi3-manylinux_2_17_ARCH.whl   the library (one wheel for CPython >= 3.9)
#   ecapa2_cli-VERSION-py3-none-manylinux_2_17_ARCH.whl the `ecapa2` command (bindings = "bin")
#   ecapa2-VERSION.tar.gz                               the library's sdist (needs Rust to install)
#   SHA256SUMS
# for ARCH in x86_64 and aarch64 (ECAPA2_WHEEL_TARGETS picks Rust targets; CI builds x86_64
# only). maturin's --zig links against glibc 2.17 (manylinux2014) whatever the build machine's
# glibc, and cross-compiles aarch64 with the same zig. Needs a Rust toolchain and python3; the
# build tools (maturin, ziglang, auditwheel, pinned) go into a virtual environment of their own.
#
# Usage: scripts/build-wheels.sh OUT_DIR
set -euo pipefail
[[ $# -eq 1 ]] || { echo "usage: $0 OUT_DIR" >&2; exit 2; }
mkdir -p "$1"
OUT="$(cd "$1" && pwd)"
cd "$(dirname "$0")/.."
TARGETS="${ECAPA2_WHEEL_TARGETS:-x86_64-unknown-linux-gnu aarch64-unknown-linux-gnu}"
TOOLS="${ECAPA2_WHEEL_TOOLS:-target/wheel-tools}"
# One target folder for both workspaces (the library's crate has its own): shared dependencies
# compile once per target.
BUILD_DIR="${ECAPA2_WHEEL_BUILD_DIR:-target/wheel-build}"

# Wheels run on any CPU of their architecture: the kernels pick AVX2 / AVX-512 / AMX at run
# time, so no host-specific code generation may reach the build.
unset RUSTFLAGS CARGO_ENCODED_RUSTFLAGS CARGO_BUILD_RUSTFLAGS

step() { # step NAME COMMAND...: run it, print how long it took
    local start=$SECONDS
    echo "== $1"
    "${@:2}"
    echo "== $1: $((SECONDS - start)) s"
}

[[ -x "$TOOLS/bin/maturin" && -x "$TOOLS/bin/auditwheel" ]] || {
    [[ -x "$TOOLS/bin/python" ]] || python3 -m venv "$TOOLS"
    "$TOOLS/bin/python" -m pip install -q maturin==1.16.0 ziglang==0.17.1 auditwheel==6.8.2
}
# maturin finds zig as `python -m ziglang` of the Python on PATH.
export PATH="$PWD/$TOOLS/bin:$PATH"

rm -f "$OUT"/ecapa2-*.whl "$OUT"/ecapa2_cli-*.whl "$OUT"/ecapa2-*.tar.gz "$OUT/SHA256SUMS"
for target in $TARGETS; do
    if command -v rustup >/dev/null && ! rustup target list --installed | grep -qx "$target"; then
        rustup target add "$target"
    fi
    common=(--release --locked --zig --compatibility manylinux2014 --target "$target"
            --target-dir "$BUILD_DIR" --out "$OUT")
    step "library wheel ($target)" maturin build "${common[@]}"
    step "command-line wheel ($target)" maturin build -m crates/ecapa2-cli/Cargo.toml "${common[@]}"
done
step "library sdist" maturin sdist --out "$OUT"

# auditwheel reads a wheel of any architecture: it checks the manylinux tag against the
# libraries and symbol versions the binaries really use.
for wheel in "$OUT"/*.whl; do
    auditwheel show "$wheel" | tr '\n' ' ' | sed 's/  */ /g'
    echo
done
(cd "$OUT" && sha256sum -- *.whl *.tar.gz > SHA256SUMS && cat SHA256SUMS)
ls -l "$OUT"
