#!/bin/sh
# stream_bench.sh - the streaming rows of `make bench`: the latency of a
# compiled model at batch 1, a time step a call, the deployment case.  For
# an LSTM and a GRU layer (I = H = 256 by default), compiled by `rnnc
# compile` to C and built with the system's cc -O2, through its C API
# (bench/stream/main.c): µs per time step of NAME_step, of the whole
# sequence's NAME_forward over T = 100 steps (divided by T), and of a
# NAME_forward of one step.  Reports; never asserts.
#
#   sh bench/stream_bench.sh [BUILD]      (BUILD defaults to build)
#
# Environment: STREAM_BENCH_CELLS (default "lstm gru"), STREAM_BENCH_H
# (default 256), STREAM_BENCH_T (default 100), CC (default cc).
set -u
BUILD=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
RNNC=$BUILD/rnnc
CC=${CC:-cc}
H=${STREAM_BENCH_H:-256}
T=${STREAM_BENCH_T:-100}
[ -x "$RNNC" ] || { echo "stream_bench: $RNNC missing (make)"; exit 1; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

echo
echo "Streaming latency: one layer, I = H = $H, batch 1, C API of \`rnnc compile\` ($CC -O2)"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo ?)"
printf '%-5s %5s | %12s %14s %12s | %s\n' cell H "step us" "forward/T us" "T=1 fwd us" "step / (forward/T)"
for cell in ${STREAM_BENCH_CELLS:-lstm gru}; do
    d=$tmp/$cell
    mkdir -p "$d"
    printf 'model m {\n  input x : seq<[%s]>\n  h = %s(x, hidden=%s)\n  output h\n}\n' "$H" "$cell" "$H" >"$d/m.rnn"
    if ! { "$RNNC" compile "$d/m.rnn" --prefix m -o "$d/m.c" --header "$d/m.h" &&
           "$RNNC" init "$d/m.rnn" -o "$d/w.safetensors" --seed 1 >/dev/null &&
           "$CC" -std=c11 -O2 -I"$d" -o "$d/p" "$here/stream/main.c" "$d/m.c" -lm; } >"$d/log" 2>&1; then
        echo "$cell: build failed:"; sed 's/^/    /' "$d/log" | tail -n 10
        continue
    fi
    line=$("$d/p" "$d/w.safetensors" "$H" "$H" "$T") || { echo "$cell: run failed"; continue; }
    # the fields by name: step_us=X fwd_step_us=Y fwd_t1_us=Z
    field() { echo "$line" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
    step=$(field step_us)
    fwd=$(field fwd_step_us)
    t1=$(field fwd_t1_us)
    ratio=$(awk -v a="$step" -v b="$fwd" 'BEGIN { printf "%.2f", a / b }')
    printf '%-5s %5s | %12s %14s %12s | %s\n' "$cell" "$H" "$step" "$fwd" "$t1" "$ratio"
done
