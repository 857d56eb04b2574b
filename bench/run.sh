#!/usr/bin/env bash
# ecapa2-rs vs PyTorch on the same full-size archive, same machine, same thread count.
#
#   bench/run.sh [--threads N] [--lengths 1,3,10,60] [--batch8 3] [--repeats 5]
#                [--repeats-long 3] [--repeats-xl 1] [--warmup 1] [--long 600[,300]]
#                [--long-max-memory SIZE] [--precision-lengths 3,10] [--precisions bf16,bf16x3]
#                [--model-dir bench/out/full] [--out-dir DIR] [--report docs/BENCHMARKS.md]
#                [--skip-parity] [--skip-torch] [--python /work/torchenv/bin/python]
#
# 1. builds the bench example in release mode;
# 2. full-size parity: every golden case and label of MODEL_DIR/golden vs our engine;
# 3. for each case (batch 1 at each length, then batch 8 x --batch8 s): our engine, then
#    bench/torch_bench.py, each in its own fresh process (so peak RSS and cold start are per
#    process and per case), wrapped in bench/measure.py, which records how busy the rest of the
#    machine was meanwhile. Timed calls per case: --repeats below 10 s, --repeats-long from
#    10 s and for the batch-8 case, --repeats-xl from 60 s; --warmup untimed calls first.
# 4. --long S[,S...]: one single call of S seconds, our engine only (no warm-up), under an
#    address-space limit of (available memory - 1.5 GiB) so that an input the machine cannot
#    hold fails cleanly instead of invoking the OOM killer; --long-max-memory SIZE passes
#    --max-memory (e.g. 1.5G) so the engine runs it over time tiles within that limit;
# 5. reduced precision (the opt-in `--precision` modes, skipped where the CPU lacks AMX-BF16):
#    parity of each mode on the golden inputs (embedding cosine to torch fp32), then one process
#    per mode timing --precision-lengths (batch 1) and measuring cosine to our fp32 on the same
#    audio, then torch_bench.py --bf16 (fp32 and bf16 autocast in one process) on those lengths;
#    --precision-lengths "" skips this;
# 6. bench/report.py merges everything into --report (Markdown).
# Results stay in --out-dir (default bench/out/run-<date>), with the full log in log.txt.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

physical_cores() {
    local n
    n=$(lscpu -p=core,socket 2>/dev/null | grep -v '^#' | sort -u | wc -l || true)
    if [[ -z "$n" || "$n" -lt 1 ]]; then n=$(nproc); fi
    echo "$n"
}

THREADS=""
LENGTHS="1,3,10,60"
BATCH8="3"
REPEATS=5
REPEATS_LONG=3
REPEATS_XL=1
WARMUP=1
LONG=""
LONG_MAX_MEMORY=""
PREC_LENGTHS="3,10"
PRECISIONS="bf16,bf16x3"
MODEL_DIR="bench/out/full"
OUT_DIR=""
REPORT="docs/BENCHMARKS.md"
SKIP_PARITY=0
SKIP_TORCH=0
PY="${TORCH_PYTHON:-/work/torchenv/bin/python}"
INVOCATION="bench/run.sh $*"

while [[ $# -gt 0 ]]; do
    case "$1" in
        --threads) THREADS="$2"; shift 2 ;;
        --lengths) LENGTHS="$2"; shift 2 ;;
        --batch8) BATCH8="$2"; shift 2 ;;
        --repeats) REPEATS="$2"; shift 2 ;;
        --repeats-long) REPEATS_LONG="$2"; shift 2 ;;
        --repeats-xl) REPEATS_XL="$2"; shift 2 ;;
        --warmup) WARMUP="$2"; shift 2 ;;
        --long) LONG="$2"; shift 2 ;;
        --long-max-memory) LONG_MAX_MEMORY="$2"; shift 2 ;;
        --precision-lengths) PREC_LENGTHS="$2"; shift 2 ;;
        --precisions) PRECISIONS="$2"; shift 2 ;;
        --model-dir) MODEL_DIR="$2"; shift 2 ;;
        --out-dir) OUT_DIR="$2"; shift 2 ;;
        --report) REPORT="$2"; shift 2 ;;
        --skip-parity) SKIP_PARITY=1; shift ;;
        --skip-torch) SKIP_TORCH=1; shift ;;
        --python) PY="$2"; shift 2 ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
done
THREADS="${THREADS:-$(physical_cores)}"
OUT_DIR="${OUT_DIR:-bench/out/run-$(date +%Y%m%d-%H%M%S)}"
mkdir -p "$OUT_DIR"
exec > >(tee -a "$OUT_DIR/log.txt") 2>&1

MODEL="$MODEL_DIR/model.pt"
echo "== $(date -Is) $INVOCATION"
echo "   threads $THREADS, lengths $LENGTHS, batch8 $BATCH8, repeats $REPEATS/$REPEATS_LONG/$REPEATS_XL, warmup $WARMUP, out $OUT_DIR"
date -Is > "$OUT_DIR/started"
printf '%s\n' "$INVOCATION" > "$OUT_DIR/invocation"
echo "$THREADS" > "$OUT_DIR/threads"

if [[ ! -f "$MODEL" ]]; then
    echo "== $MODEL missing: generating the full-size random-weight archive (~3 min)"
    "$PY" reference/make_fixture.py --config full --out "$MODEL_DIR"
fi

echo "== build (release)"
cargo build --release -p ecapa2 --example bench
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
BIN="$TARGET_DIR/release/examples/bench"
[[ -x "$BIN" ]] || { echo "bench binary not found at $BIN" >&2; exit 1; }
rustc --version > "$OUT_DIR/rustc"
{ git rev-parse --short HEAD 2>/dev/null || echo unknown; git status --porcelain 2>/dev/null | cut -c4-; } > "$OUT_DIR/git"

measure() { python3 bench/measure.py "$@"; }

if [[ "$SKIP_PARITY" == 0 ]]; then
    echo "== full-size parity ($MODEL_DIR/golden)"
    if ! "$BIN" --parity "$MODEL_DIR" --threads "$THREADS" --out "$OUT_DIR/parity.json"; then
        echo "!! PARITY FAILED: the timings below are of an engine that does not match the reference"
    fi
fi

repeats_for() {  # repeats for a batch-1 case of $1 seconds
    awk -v s="$1" -v r="$REPEATS" -v rl="$REPEATS_LONG" -v rx="$REPEATS_XL" \
        'BEGIN { print (s >= 60 ? rx : (s >= 10 ? rl : r)) }'
}

run_case() {  # name, engine-independent flags...
    local name="$1" lengths="$2" batch8="$3" repeats="$4"
    echo "== case $name: ours (repeats $repeats, warmup $WARMUP)"
    measure --out "$OUT_DIR/ours_$name.run.json" -- "$BIN" --model "$MODEL" --threads "$THREADS" \
        --lengths "$lengths" --batch8 "$batch8" --repeats "$repeats" --warmup "$WARMUP" \
        --out "$OUT_DIR/ours_$name.json" --t0 '{T0}' || echo "!! ours failed on $name"
    if [[ "$SKIP_TORCH" == 0 ]]; then
        echo "== case $name: torch (repeats $repeats, warmup $WARMUP)"
        measure --out "$OUT_DIR/torch_$name.run.json" -- "$PY" bench/torch_bench.py --model "$MODEL" \
            --threads "$THREADS" --lengths "$lengths" --batch8 "$batch8" --repeats "$repeats" \
            --warmup "$WARMUP" --out "$OUT_DIR/torch_$name.json" --t0 '{T0}' || echo "!! torch failed on $name"
    fi
}

IFS=',' read -r -a LEN_ARR <<< "$LENGTHS"
for s in "${LEN_ARR[@]}"; do
    [[ -z "${s// /}" ]] && continue
    name="b1_$(awk -v s="$s" 'BEGIN { printf "%g", s }')s"
    run_case "$name" "$s" 0 "$(repeats_for "$s")"
done
if awk -v s="$BATCH8" 'BEGIN { exit !(s > 0) }'; then
    run_case "b8_$(awk -v s="$BATCH8" 'BEGIN { printf "%g", s }')s" "" "$BATCH8" "$REPEATS_LONG"
fi

if [[ -n "$LONG" ]]; then
    IFS=',' read -r -a LONG_ARR <<< "$LONG"
    for s in "${LONG_ARR[@]}"; do
        avail_gb=$(awk '/MemAvailable/ { printf "%.1f", $2 / 1048576 - 1.5 }' /proc/meminfo)
        name="long_$(awk -v s="$s" 'BEGIN { printf "%g", s }')s"
        mem_flag=()
        [[ -n "$LONG_MAX_MEMORY" ]] && mem_flag=(--max-memory "$LONG_MAX_MEMORY")
        echo "== $name: ours only, one call, no warm-up, address space capped at ${avail_gb} GiB ${mem_flag[*]}"
        measure --limit-as-gb "$avail_gb" --out "$OUT_DIR/$name.run.json" -- "$BIN" --model "$MODEL" \
            --threads "$THREADS" --lengths "$s" --batch8 0 --repeats 1 --warmup 0 "${mem_flag[@]}" \
            --out "$OUT_DIR/$name.json" --t0 '{T0}' || echo "!! ours failed on $name (see $name.run.json)"
    done
fi

if [[ -n "${PREC_LENGTHS// /}" ]]; then
    IFS=',' read -r -a PREC_ARR <<< "$PRECISIONS"
    for p in "${PREC_ARR[@]}"; do
        echo "== precision $p: parity on the golden inputs (verdict: embedding cosine >= 0.999)"
        "$BIN" --parity "$MODEL_DIR" --threads "$THREADS" --precision "$p" --out "$OUT_DIR/prec_parity_$p.json" \
            || echo "!! $p parity below the cosine target (see prec_parity_$p.json)"
        echo "== precision $p: ours, lengths $PREC_LENGTHS"
        measure --out "$OUT_DIR/prec_ours_$p.run.json" -- "$BIN" --model "$MODEL" --threads "$THREADS" \
            --lengths "$PREC_LENGTHS" --batch8 0 --repeats "$REPEATS" --warmup "$WARMUP" --precision "$p" \
            --out "$OUT_DIR/prec_ours_$p.json" --t0 '{T0}' || echo "!! ours failed at precision $p"
    done
    if [[ "$SKIP_TORCH" == 0 ]]; then
        echo "== torch fp32 + bf16 autocast, lengths $PREC_LENGTHS"
        measure --out "$OUT_DIR/prec_torch.run.json" -- "$PY" bench/torch_bench.py --model "$MODEL" \
            --threads "$THREADS" --lengths "$PREC_LENGTHS" --batch8 0 --repeats "$REPEATS" --warmup "$WARMUP" \
            --bf16 --out "$OUT_DIR/prec_torch.json" --t0 '{T0}' || echo "!! torch bf16 failed"
    fi
fi

date -Is > "$OUT_DIR/finished"
echo "== report -> $REPORT"
python3 bench/report.py --dir "$OUT_DIR" --model-dir "$MODEL_DIR" --out "$REPORT"
echo "== done $(date -Is)"
