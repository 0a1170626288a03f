#!/bin/sh
# rnn_bench.sh - the RNN benchmark `make bench` prints: for an LSTM, a GRU
# and a vanilla (tanh) RNN layer at (I = H, B, T) = (256, 1, 100),
# (256, 32, 100) and (512, 64, 100), the time of a forward pass and of a
# training step, their GFLOP/s, and the fraction of this machine's FP32 peak
# measured in the same run, for rnnc and for the baselines PyTorch and
# oneDNN, on 1 thread and on all cores.  Reports; never asserts.
#
#   sh bench/rnn_bench.sh [BUILD]      (BUILD defaults to build)
#
# Environment: RNN_BENCH_IMPLS (default "rnnc jit torch onednn") and
# RNN_BENCH_THREADS (default "1 N", N = the online CPUs) select what runs;
# RNN_BENCH_ENGINE (default c) is the rnnc engine of the "rnnc" column
# (the "jit" column is always the LLVM JIT); RNN_BENCH_CONFIGS (see
# CONFIGS) the shapes.  "rnnc x" ratios are against the "rnnc" column, the
# deployment path (`rnnc compile`'s C); "jit x" against the JIT's.
#
# Before the table, the JIT's compile time of a two-layer LSTM at H = 256
# (forward and training step, stage by stage; rnn_rnnc --compile-time).
#
# Each implementation is a program printing one line per cell and shape
# (all of the benchmark's, or the one given as CELL I H B T):
#   IMPL CELL I H B T threads=N fwd_ms=X fwd_spread=P% train_ms=Y train_spread=Q%
# (lines starting with '#' are shown as notes), timed as shared/
# BENCHMARKING.md says: warm-up, best of 3 medians of >= 20 runs or >= 2 s.
# Its runner below, run_IMPL THREADS CELL I H B T, runs one configuration on
# that many threads, or returns 127 when it is not installed.  To add one:
# write run_NAME, add NAME to IMPLS.  rnnc's column is $BUILD/bench/rnn_rnnc
# (bench/rnn_rnnc.c: the same work as .rnn models, threads from RNNC_THREADS).
#
# GFLOP/s divide the work bench/rnn_flops.h defines (via $BUILD/bench/
# rnn_flops), so every column counts the same: forward 2*G*H*(I+H)*B*T,
# training 3x that.  % of peak divides by the FMA peak for the same number
# of threads ($BUILD/bench/rnn_peak).  "rnnc x" = the baseline's time /
# rnnc's time: above 1, rnnc is faster.
set -u
BUILD=${1:-build}
here=$(dirname "$0")
NCPU=$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)
IMPLS=${RNN_BENCH_IMPLS:-"rnnc jit torch onednn"}
if [ "$NCPU" -gt 1 ]; then THREADS=${RNN_BENCH_THREADS:-"1 $NCPU"}; else THREADS=${RNN_BENCH_THREADS:-1}; fi
# The benchmark's configurations, in table order: CELL I H B T, one a line
# (RNN_BENCH_CONFIGS replaces them, for a quick look at one shape).
CONFIGS=${RNN_BENCH_CONFIGS:-"lstm 256 256 1 100
lstm 256 256 32 100
lstm 512 512 64 100
gru 256 256 1 100
gru 256 256 32 100
gru 512 512 64 100
rnn 256 256 1 100
rnn 256 256 32 100
rnn 512 512 64 100"}

for tool in rnn_peak rnn_flops; do
    [ -x "$BUILD/bench/$tool" ] || { echo "rnn_bench: no $BUILD/bench/$tool (make bench builds it)" >&2; exit 1; }
done
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM

run_rnnc() { # run_rnnc THREADS CELL I H B T: rnnc's own compiled models
    [ -x "$BUILD/bench/rnn_rnnc" ] || return 127
    nthr=$1 && shift
    RNNC_THREADS=$nthr "$BUILD/bench/rnn_rnnc" --engine "${RNN_BENCH_ENGINE:-c}" "$@"
}
run_jit() { # run_jit THREADS CELL I H B T: the same models through the LLVM JIT
    [ -x "$BUILD/bench/rnn_rnnc" ] || return 127
    nthr=$1 && shift
    RNNC_THREADS=$nthr "$BUILD/bench/rnn_rnnc" --engine jit --label jit "$@"
}
# PyTorch and oneDNN run on OpenMP.  On more than one thread they get
# OMP_WAIT_POLICY=passive unless it is set: with libgomp's default, workers
# spin at every barrier, and on a shared machine (another process on a core)
# a spinning worker holds the core the one it waits for needs.  Measured
# here at load ~7 on 2 cores: a 256-wide LSTM at batch 32 took 2-3 s per
# forward pass in PyTorch (65 ms passive) and 600 ms in oneDNN (107 ms).
omp_wait() { # omp_wait THREADS: export the wait policy for that many threads
    if [ "$1" -gt 1 ]; then export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-passive}"; fi
    echo "# $2: OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-libgomp default}"
}
run_torch() { # PyTorch, Debian's python3-torch
    [ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import torch' >/dev/null 2>&1 || return 127
    nthr=$1 && shift
    (omp_wait "$nthr" torch && exec /usr/bin/python3 "$here/rnn_torch.py" --threads "$nthr" "$@")
}
run_onednn() { # oneDNN's RNN primitives, built by make bench when libdnnl-dev is there
    [ -x "$BUILD/bench/rnn_onednn" ] || return 127
    nthr=$1 && shift
    (export OMP_NUM_THREADS="$nthr" && omp_wait "$nthr" onednn && exec "$BUILD/bench/rnn_onednn" "$@")
}

# The load average: other processes on these cores slow every column, and
# the output says how busy the machine was at each configuration.
loadavg() { cut -d' ' -f1-3 /proc/loadavg 2>/dev/null; }

echo "rnnc RNN benchmark: $(date '+%Y-%m-%d %H:%M')"
"$BUILD/bench/rnn_peak" "$NCPU" >"$tmp/peak" || { echo "rnn_bench: rnn_peak failed" >&2; exit 1; }
grep -v '^peak ' "$tmp/peak"
lscpu_flags=$(grep -m 1 '^flags' /proc/cpuinfo 2>/dev/null | tr ' ' '\n' | grep -E '^(avx2|fma|avx512[a-z_0-9]*)$' | tr '\n' ' ' | sed 's/ $//')
echo "cpuinfo flags: ${lscpu_flags:-none of avx2/fma/avx512}; cores: $NCPU; load average: $(loadavg)"
if command -v update-alternatives >/dev/null 2>&1; then
    echo "system BLAS: $(update-alternatives --query libblas.so.3-x86_64-linux-gnu 2>/dev/null | sed -n 's/^Value: //p')"
fi
sed -n 's/^peak threads=\([0-9]*\) gflops=\(.*\)/FP32 FMA peak, \1 thread(s): \2 GFLOP\/s/p' "$tmp/peak"

# The JIT's compile time, from .rnn text to machine code (the JIT issue's
# target: a two-layer LSTM training step at H = 256 in under 300 ms).
case " $IMPLS " in *" jit "*)
    if [ -x "$BUILD/bench/rnn_rnnc" ]; then
        echo "JIT compile time, 2-layer LSTM, I = H = 256, median of 7 compiles, ms (stages: front end,"
        echo "optimization passes, lowering + fusion + memory plan, LLVM module build, LLVM optimization, codegen):"
        "$BUILD/bench/rnn_rnnc" --compile-time </dev/null | sed 's/^/  /' || echo "  rnn_rnnc --compile-time failed"
    fi ;;
esac

# Configuration by configuration, every implementation in turn on the same
# threads: a busy spell on the shared machine then slows the columns of one
# row alike instead of one implementation's whole column.  Notes ('#'
# lines) are shown once; seconds per implementation are summed in $tmp/secs.
: >"$tmp/results"
: >"$tmp/notes"
: >"$tmp/secs"
: >"$tmp/absent"
echo "$CONFIGS" | while read -r cell i h b steps; do
    for t in $THREADS; do
        echo "# load average before $cell $i $b $steps, threads $t: $(loadavg)" >>"$tmp/notes"
        for impl in $IMPLS; do
            grep -qx "$impl" "$tmp/absent" && continue
            start=$(date +%s)
            "run_$impl" "$t" "$cell" "$i" "$h" "$b" "$steps" <"/dev/null" >"$tmp/out" 2>"$tmp/err"
            rc=$?
            if [ "$rc" = 127 ]; then
                echo "$impl" >>"$tmp/absent"
                continue
            fi
            echo "$impl $(($(date +%s) - start))" >>"$tmp/secs"
            grep '^#' "$tmp/out" >>"$tmp/notes"
            grep "^$impl " "$tmp/out" >>"$tmp/results"
            if [ "$rc" != 0 ]; then
                echo "$impl $cell $i $h $b $steps (threads $t) failed (exit $rc):"
                sed 's/^/    /' "$tmp/err"
            fi
        done
    done
done
awk '!seen[$0]++' "$tmp/notes"
for impl in $IMPLS; do
    if grep -qx "$impl" "$tmp/absent"; then
        if [ "$impl" = rnnc ] || [ "$impl" = jit ]; then
            echo "$impl: n/a (no $BUILD/bench/rnn_rnnc)"
        else
            echo "$impl: not installed"
            echo "# $impl not installed" >>"$tmp/results"
        fi
    else
        echo "$impl: $(awk -v p="$impl" '$1 == p { s += $2 } END { print s + 0 }' "$tmp/secs") s"
    fi
done
echo "load average at the end: $(loadavg)"

# The work of every configuration, from bench/rnn_flops.h.
echo "$CONFIGS" | while read -r cell i h b t; do
    echo "$cell $i $h $b $t $("$BUILD/bench/rnn_flops" "$cell" "$i" "$h" "$b" "$t")"
done >"$tmp/flops"

echo
awk -v impls="$IMPLS" -v threads="$THREADS" -v configs="$CONFIGS" '
function key(c, i, h, b, t, n) { return c " " i " " h " " b " " t " " n }
FILENAME ~ /peak$/ && /^peak / {
    split($2, a, "="); split($3, g, "="); peak[a[2]] = g[2]; next
}
FILENAME ~ /flops$/ {
    split($6, fa, "="); split($7, ta, "=")
    fwdf[$1 " " $2 " " $3 " " $4 " " $5] = fa[2]; trf[$1 " " $2 " " $3 " " $4 " " $5] = ta[2]
    next
}
FILENAME ~ /results$/ && /^# .* not installed$/ { absent[$2] = 1; next }
FILENAME ~ /results$/ && !/^#/ {
    nt = ""; fm = ""; fs = ""; tm = ""; ts = ""
    for (k = 7; k <= NF; k++) {
        split($k, kv, "=")
        if (kv[1] == "threads") nt = kv[2]
        else if (kv[1] == "fwd_ms") fm = kv[2]
        else if (kv[1] == "fwd_spread") fs = kv[2]
        else if (kv[1] == "train_ms") tm = kv[2]
        else if (kv[1] == "train_spread") ts = kv[2]
    }
    k = key($2, $3, $4, $5, $6, nt)
    fwd[$1, k] = fm; fsp[$1, k] = fs; trn[$1, k] = tm; tsp[$1, k] = ts
    next
}
function ms(p, x, s) {
    if (x != "") return sprintf("%.3f (%s)", x, s)
    return (p in absent) ? "not installed" : "n/a"
}
function gf(flops, x) { return x == "" ? "" : flops / (x * 1e-3) * 1e-9 }
function pct(g, p) {
    if (g == "" || p == "") return ""
    if (g > p) { over = 1; return sprintf("%.1f%%!", 100 * g / p) }
    return sprintf("%.1f%%", 100 * g / p)
}
function num(g) { return g == "" ? "" : sprintf("%.1f", g) }
function ratio(base, r) { return (base == "" || r == "") ? "" : sprintf("%.2f", base / r) }
END {
    n_impl = split(impls, im, " "); n_thr = split(threads, th, " ")
    n_cfg = split(configs, cl, "\n")
    printf "%-4s %4s %3s %3s %3s  %-6s | %15s %7s %7s | %15s %7s %7s | %-11s %-11s\n",
        "cell", "I=H", "B", "T", "thr", "impl", "fwd ms (spread)", "GFLOP/s", "%peak",
        "train ms (spr.)", "GFLOP/s", "%peak", "rnnc x f/t", "jit x f/t"
    for (c = 1; c <= n_cfg; c++) {
        split(cl[c], cf, " ")
        ck = cf[1] " " cf[2] " " cf[3] " " cf[4] " " cf[5]
        for (n = 1; n <= n_thr; n++) {
            k = key(cf[1], cf[2], cf[3], cf[4], cf[5], th[n])
            for (m = 1; m <= n_impl; m++) {
                p = im[m]
                f = fwd[p, k]; tt = trn[p, k]
                gff = gf(fwdf[ck], f); gft = gf(trf[ck], tt)
                rx = ""; jx = ""
                if (p != "rnnc" && fwd["rnnc", k] != "" && f != "")
                    rx = ratio(f, fwd["rnnc", k]) "/" ratio(tt, trn["rnnc", k])
                if (p != "rnnc" && p != "jit" && fwd["jit", k] != "" && f != "")
                    jx = ratio(f, fwd["jit", k]) "/" ratio(tt, trn["jit", k])
                lead = (n == 1 && m == 1) ? sprintf("%-4s %4s %3s %3s", cf[1], cf[2], cf[4], cf[5]) : sprintf("%-4s %4s %3s %3s", "", "", "", "")
                printf "%s %3s  %-6s | %15s %7s %7s | %15s %7s %7s | %-11s %-11s\n", lead,
                    (m == 1 ? th[n] : ""), p, ms(p, f, fsp[p, k]), num(gff), pct(gff, peak[th[n]]),
                    ms(p, tt, tsp[p, k]), num(gft), pct(gft, peak[th[n]]), rx, jx
            }
        }
    }
    print ""
    print "FLOPs: forward 2*G*H*(I+H)*B*T (G = 4 LSTM, 3 GRU, 1 RNN), training 3x forward (bench/rnn_flops.h);"
    print "element-wise work not counted.  ms: best of 3 medians; spread: worst median vs best."
    print "%peak: of the FMA peak for that many threads, measured above.  rnnc x f/t: the row time /"
    print "the rnnc (C engine) row time, forward/training (> 1: rnnc faster); jit x f/t: the same against the"
    print "jit (LLVM JIT) row.  n/a: not measured."
    if (over) print "!: above the measured peak: a bug in that benchmark, not a result."
}' "$tmp/peak" "$tmp/flops" "$tmp/results"
