#!/usr/bin/env bash
# Fuzz every target for a fixed number of runs under AddressSanitizer (cargo-fuzz's default),
# one target at a time, at low priority.
#
#   fuzz/run.sh                     # all targets, 1,000,000 runs each
#   RUNS=100000 fuzz/run.sh audio   # some targets, fewer runs
#
# Needs `cargo install cargo-fuzz` and a nightly toolchain (`rustup toolchain install nightly`;
# without rustup, NIGHTLY= RUSTC_BOOTSTRAP=1 fuzz/run.sh uses the default compiler).
# Builds corpus/<target> (git-ignored) from seeds/<target> and the repository's fixtures, then
# prints per target: executions, final cov/ft, exec/s, peak RSS, wall time and findings
# (crash-*, leak-*, oom-*, timeout-* files under artifacts/<target>).
set -euo pipefail
cd "$(dirname "$0")"

RUNS=${RUNS:-1000000}
NIGHTLY=${NIGHTLY-+nightly}
ALL=(torchscript data_pkl safetensors audio)
if [ $# -gt 0 ]; then TARGETS=("$@"); else TARGETS=("${ALL[@]}"); fi

# Longest input per target: the fixtures' size class, so time goes to many small inputs.
max_len() {
    case $1 in
        torchscript) echo 65536 ;; # tiny.pt is 20 KB
        data_pkl) echo 16384 ;;    # its data.pkl is about 6 KB
        safetensors) echo 8192 ;;  # tiny.safetensors is 2.5 KB
        audio) echo 16384 ;;       # WAV headers, and FLAC/MP3/Ogg headers with their first frames
    esac
}

# Fill corpus/$1 with the committed seeds and the fixtures.
build_corpus() {
    local t=$1 dir=corpus/$1
    mkdir -p "$dir"
    if [ -d "seeds/$t" ]; then cp seeds/"$t"/* "$dir"/; fi
    case $t in
        torchscript)
            cp ../crates/ecapa2-archive/tests/data/tiny.pt "$dir"/ ;;
        data_pkl)
            python3 - "$dir" <<'EOF'
import sys, zipfile
for src, name in [("../crates/ecapa2-archive/tests/data/tiny.pt", "tiny.pkl"),
                  ("../tests/fixtures/tiny/model.pt", "model_tiny.pkl")]:
    with zipfile.ZipFile(src) as z:
        pkl = next(n for n in z.namelist() if n.endswith("/data.pkl"))
        open(f"{sys.argv[1]}/{name}", "wb").write(z.read(pkl))
EOF
            ;;
        safetensors)
            cp ../crates/ecapa2-archive/tests/data/tiny.safetensors "$dir"/ ;;
        audio)
            # Whole small fixtures; the first max_len bytes of the long ones.
            for f in ../tests/fixtures/audio/*.{wav,flac,mp3,ogg}; do
                head -c "$(max_len audio)" "$f" > "$dir/fixture_$(basename "$f")"
            done ;;
    esac
}

summary=()
for t in "${TARGETS[@]}"; do
    build_corpus "$t"
    mkdir -p "artifacts/$t" logs
    log=logs/$t.log
    echo "== $t: $(ls corpus/"$t" | wc -l) corpus files, $RUNS runs" >&2
    start=$(date +%s)
    status=0
    # shellcheck disable=SC2086
    nice -n 10 cargo $NIGHTLY fuzz run "$t" "corpus/$t" -- \
        -runs="$RUNS" -rss_limit_mb=2048 -max_len="$(max_len "$t")" -timeout=10 \
        -print_final_stats=1 -artifact_prefix="artifacts/$t/" >"$log" 2>&1 || status=$?
    wall=$(($(date +%s) - start))
    last=$(grep -E '^#[0-9]+' "$log" | tail -n 1 || true)
    stat() { grep -E "^stat::$1:" "$log" | awk '{print $2}' || true; }
    findings=$(ls "artifacts/$t" | grep -E '^(crash|leak|oom|timeout|slow-unit)-' || true)
    line="$t: exit=$status runs=$(stat number_of_executed_units) exec/s=$(stat average_exec_per_sec) peak_rss_mb=$(stat peak_rss_mb) wall=${wall}s | $last | findings: ${findings:-none}"
    echo "$line" >&2
    summary+=("$line")
done
printf '%s\n' "${summary[@]}"
