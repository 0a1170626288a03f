#!/bin/sh
# rnn_bench.sh - the RNN benchmark `make bench` prints: for an LSTM, a GRU
# and a vanilla (tanh) RNN layer at (I = H, B, T) = (256, 1, 100),
# (256, 32, 100) and (512, 64, 100), the time of a forward pass and of a
# training step, their GFLOP/s, and the fraction of this machine's FP32 peak
# measured in the same run, for rnnc and for the baselines PyTorch and
# oneDNN, on 1 thread and on all cores; then two stacked LSTM layers and
# an LSTM written as a user cell two ways (EXTRA_CONFIGS below), and the
# memory each implementation holds.  Reports; never asserts.
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
# After the table, the lengths rows (rnn_rnnc --lengths): an LSTM 256 at
# B = 32, T = 100 whose batch has lengths drawn uniform in [T/4, T] (and in
# [T/4, T/2]) against all lengths T, forward and training, on one thread
# pinned, for the rnnc and jit columns: both times, their ratio, and the
# ideal ratio sum(len) / (B T) of work proportional to the real steps
# (docs/performance.md, "Padding").
#
# Before the table, the JIT's compile time of a two-layer LSTM at H = 256
# (forward and training step, stage by stage; rnn_rnnc --compile-time).
#
# Each implementation is a program printing one line per cell and shape
# (all of the benchmark's, or the one given as CELL I H B T):
#   IMPL CELL I H B T threads=N fwd_ms=X fwd_spread=P% train_ms=Y train_spread=Q%
# and optionally NAME_mb=X fields, the memory table's (fwd_base, fwd_peak,
# fwd_arena, train_base, train_peak, train_arena, weights: bench/rnn_rnnc.c
# says what each is) (lines starting with '#' are shown as notes), timed as shared/
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
# ---- rows beyond one built-in layer (issue 18 item 1) ----
# lstm2: two stacked LSTM layers (rnnc lstm(..., layers=2), nn.LSTM
# num_layers=2, oneDNN's primitive with L = 2).  ulstm, glstm: the same
# LSTM as a user-written cell, with one stacked weight matrix per input
# (examples/user_cell.rnn) and gate by gate (W_i @ x, ..., U_o @ h); rnnc
# only (user_cell_impl), compared with the built-in lstm's row of the same
# size after the table (user_cells).
# About 4 minutes of a quiet make bench (lstm2 at B = 32 most of it).
EXTRA_CONFIGS="lstm2 256 256 1 100
lstm2 256 256 32 100
ulstm 256 256 32 100
glstm 256 256 32 100"
# whether IMPL runs CELL: a user cell is rnnc's language alone
user_cell_impl() { # user_cell_impl CELL IMPL
    case "$1" in ulstm | glstm) [ "$2" = rnnc ] || [ "$2" = jit ] ;; *) true ;; esac
}
# ---- end of the rows beyond one built-in layer ----

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
rnn 512 512 64 100
$EXTRA_CONFIGS"}

for tool in rnn_peak rnn_flops; do
    [ -x "$BUILD/bench/$tool" ] || { echo "rnn_bench: no $BUILD/bench/$tool (make bench builds it)" >&2; exit 1; }
done
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM

# pin THREADS CMD...: runs CMD, on core 0 alone when THREADS is 1 (so a
# one-thread row is not moved between cores mid-measurement), when
# taskset is there (util-linux).
pin() {
    if [ "$1" = 1 ] && command -v taskset >/dev/null 2>&1; then shift && taskset -c 0 "$@"; else shift && "$@"; fi
}
run_rnnc() { # run_rnnc THREADS CELL I H B T: rnnc's own compiled models
    [ -x "$BUILD/bench/rnn_rnnc" ] || return 127
    nthr=$1 && shift
    pin "$nthr" env RNNC_THREADS="$nthr" "$BUILD/bench/rnn_rnnc" --engine "${RNN_BENCH_ENGINE:-c}" "$@"
}
run_jit() { # run_jit THREADS CELL I H B T: the same models through the LLVM JIT
    [ -x "$BUILD/bench/rnn_rnnc" ] || return 127
    nthr=$1 && shift
    pin "$nthr" env RNNC_THREADS="$nthr" "$BUILD/bench/rnn_rnnc" --engine jit --label jit "$@"
}
# PyTorch and oneDNN run on OpenMP, whose wait policy decides how workers
# wait at a barrier: spinning (active) is fastest on a quiet machine
# (oneDNN's LSTM 256 at B = 1 on 2 threads: 1.5 ms, against 5.7 ms
# passive), sleeping (passive) on a shared one, where a spinning worker
# holds the core the one it waits for needs (PyTorch at load ~7 on 2 cores:
# 2-3 s a forward pass active, 65 ms passive).  A baseline runs at its
# best: each configuration with both policies, the faster of the two kept
# for the forward pass and for the training step each, and the policy
# that gave it shown (unless OMP_WAIT_POLICY is set: then that alone).
omp_best() { # omp_best IMPL CMD...: CMD's result lines, each metric at its best policy
    impl=$1 && shift
    if [ -n "${OMP_WAIT_POLICY:-}" ]; then
        "$@" | sed "/^$impl /s/\$/ fwd_policy=$OMP_WAIT_POLICY train_policy=$OMP_WAIT_POLICY/"
        return
    fi
    OMP_WAIT_POLICY=active "$@" >"$tmp/omp_active" || return
    OMP_WAIT_POLICY=passive "$@" >"$tmp/omp_passive" || return
    awk -v impl="$impl" '
        function get(line, key,   n, f, k, kv) {
            n = split(line, f, " ")
            for (k = 1; k <= n; k++) { split(f[k], kv, "="); if (kv[1] == key) return kv[2] }
            return ""
        }
        function field(line, key, val,   n, f, k, kv, out) {
            n = split(line, f, " "); out = ""
            for (k = 1; k <= n; k++) {
                split(f[k], kv, "=")
                out = out (k > 1 ? " " : "") (kv[1] == key ? key "=" val : f[k])
            }
            return out
        }
        FNR == 1 { file++ }
        $1 != impl { if (file == 1) print; next }
        file == 1 { a[FNR] = $0; next }
        {   p = $0; line = a[FNR]; fp = "active"; tp = "active"
            if (line == "") { print p " fwd_policy=passive train_policy=passive"; next }
            if (get(p, "fwd_ms") != "" && get(p, "fwd_ms") + 0 < get(line, "fwd_ms") + 0) {
                line = field(line, "fwd_ms", get(p, "fwd_ms")); line = field(line, "fwd_spread", get(p, "fwd_spread")); fp = "passive"
            }
            if (get(p, "train_ms") != "" && get(p, "train_ms") + 0 < get(line, "train_ms") + 0) {
                line = field(line, "train_ms", get(p, "train_ms")); line = field(line, "train_spread", get(p, "train_spread")); tp = "passive"
            }
            print line " fwd_policy=" fp " train_policy=" tp
        }' "$tmp/omp_active" "$tmp/omp_passive"
}
run_torch() { # PyTorch, Debian's python3-torch
    [ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import torch' >/dev/null 2>&1 || return 127
    nthr=$1 && shift
    omp_best torch pin "$nthr" /usr/bin/python3 "$here/rnn_torch.py" --threads "$nthr" "$@"
}
run_onednn() { # oneDNN's RNN primitives, built by make bench when libdnnl-dev is there
    [ -x "$BUILD/bench/rnn_onednn" ] || return 127
    nthr=$1 && shift
    omp_best onednn pin "$nthr" env OMP_NUM_THREADS="$nthr" "$BUILD/bench/rnn_onednn" "$@"
}

# busy: the share of this machine's CPU time (all cores, %) that other
# processes used over the last 0.5 s, from /proc/stat: measured before each
# row, which is marked when another process was busy (a row measured under
# load compares only within itself).
busy() {
    s1=$(sed -n 's/^cpu  //p' /proc/stat 2>/dev/null) || { echo 0; return; }
    sleep 0.5
    s2=$(sed -n 's/^cpu  //p' /proc/stat 2>/dev/null)
    echo "$s1
$s2" | awk 'NR == 1 { for (i = 1; i <= NF; i++) a[i] = $i }
           NR == 2 { for (i = 1; i <= NF; i++) { d = $i - a[i]; t += d; if (i == 4 || i == 5) idle += d }
                     printf "%.0f", (t > 0 ? 100 * (t - idle) / t : 0) }'
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
# target, issue 18 item 5: a two-layer LSTM training step at H = 256 in under 100 ms).
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
: >"$tmp/busy"
echo "$CONFIGS" | while read -r cell i h b steps; do
    for t in $THREADS; do
        b_pct=$(busy)
        echo "$cell $i $h $b $steps $t $b_pct" >>"$tmp/busy"
        echo "# load average before $cell $i $b $steps, threads $t: $(loadavg); busy $b_pct%" >>"$tmp/notes"
        for impl in $IMPLS; do
            grep -qx "$impl" "$tmp/absent" && continue
            user_cell_impl "$cell" "$impl" || continue
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
FILENAME ~ /busy$/ { busyp[key($1, $2, $3, $4, $5, $6)] = $7; next }
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
        else if (kv[1] == "fwd_policy") fpol[$1, key($2, $3, $4, $5, $6, nt)] = substr(kv[2], 1, 1)
        else if (kv[1] == "train_policy") tpol[$1, key($2, $3, $4, $5, $6, nt)] = substr(kv[2], 1, 1)
        else if (kv[1] ~ /_mb$/) memv[$1, key($2, $3, $4, $5, $6, nt), kv[1]] = kv[2]
    }
    k = key($2, $3, $4, $5, $6, nt)
    fwd[$1, k] = fm; fsp[$1, k] = fs; trn[$1, k] = tm; tsp[$1, k] = ts
    next
}
function ms(p, x, s, pol) {
    if (x != "") return sprintf("%.3f (%s)%s", x, s, pol == "" ? "  " : " " pol)
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
    printf "%-5s %4s %3s %3s %4s  %-6s | %17s %7s %7s | %17s %7s %7s | %-11s %-11s\n",
        "cell", "I=H", "B", "T", "thr", "impl", "fwd ms (spread)", "GFLOP/s", "%peak",
        "train ms (spr.)", "GFLOP/s", "%peak", "rnnc x f/t", "jit x f/t"
    for (c = 1; c <= n_cfg; c++) {
        split(cl[c], cf, " ")
        ck = cf[1] " " cf[2] " " cf[3] " " cf[4] " " cf[5]
        for (n = 1; n <= n_thr; n++) {
            k = key(cf[1], cf[2], cf[3], cf[4], cf[5], th[n])
            for (m = 1; m <= n_impl; m++) {
                p = im[m]
                if (cf[1] ~ /^[ug]lstm$/ && p != "rnnc" && p != "jit") continue  # a user cell: rnnc only
                f = fwd[p, k]; tt = trn[p, k]
                gff = gf(fwdf[ck], f); gft = gf(trf[ck], tt)
                rx = ""; jx = ""
                if (p != "rnnc" && fwd["rnnc", k] != "" && f != "")
                    rx = ratio(f, fwd["rnnc", k]) "/" ratio(tt, trn["rnnc", k])
                if (p != "rnnc" && p != "jit" && fwd["jit", k] != "" && f != "")
                    jx = ratio(f, fwd["jit", k]) "/" ratio(tt, trn["jit", k])
                lead = (n == 1 && m == 1) ? sprintf("%-5s %4s %3s %3s", cf[1], cf[2], cf[4], cf[5]) : sprintf("%-5s %4s %3s %3s", "", "", "", "")
                loaded = (k in busyp) && busyp[k] > 10
                if (loaded) any_loaded = 1
                printf "%s %4s  %-6s | %17s %7s %7s | %17s %7s %7s | %-11s %-11s\n", lead,
                    (m == 1 ? th[n] (loaded ? "*" : "") : ""), p, ms(p, f, fsp[p, k], fpol[p, k]), num(gff),
                    pct(gff, peak[th[n]]), ms(p, tt, tsp[p, k], tpol[p, k]), num(gft), pct(gft, peak[th[n]]), rx, jx
            }
        }
    }
    print ""
    print "FLOPs: forward 2*G*H*(I+H)*B*T (G = 4 LSTM, 3 GRU, 1 RNN), training 3x forward (bench/rnn_flops.h);"
    print "lstm2 (two stacked layers) adds 2*G*H*2H*B*T for its second layer; ulstm, glstm: an LSTM as a user cell."
    print "element-wise work not counted.  ms: best of 3 medians; spread: worst median vs best."
    print "%peak: of the FMA peak for that many threads, measured above.  rnnc x f/t: the row time /"
    print "the rnnc (C engine) row time, forward/training (> 1: rnnc faster); jit x f/t: the same against the"
    print "jit (LLVM JIT) row.  n/a: not measured.  a / p after a baseline time: the OpenMP wait policy"
    print "(active, passive) that gave it, the faster of the two.  One-thread rows run pinned to core 0."
    if (any_loaded) print "*: another process used more than 10% of the CPU just before this row: compare within the row only."
    if (over) print "!: above the measured peak: a bug in that benchmark, not a result."

    # ---- the user cells against the built-in lstm, and memory (issue 18 items 1, 4) ----
    head = 0
    for (c = 1; c <= n_cfg; c++) {
        split(cl[c], cf, " ")
        if (cf[1] !~ /^[ug]lstm$/) continue
        for (n = 1; n <= n_thr; n++) {
            k = key(cf[1], cf[2], cf[3], cf[4], cf[5], th[n]); kb = key("lstm", cf[2], cf[3], cf[4], cf[5], th[n])
            line = ""
            for (m = 1; m <= n_impl; m++) {
                p = im[m]
                if ((p != "rnnc" && p != "jit") || fwd[p, k] == "" || fwd[p, kb] == "") continue
                line = line sprintf("  %-4s %s/%s", p, ratio(fwd[p, k], fwd[p, kb]), ratio(trn[p, k], trn[p, kb]))
            }
            if (line == "") continue
            if (!head++) {
                print ""
                print "User-written LSTM cells against the built-in lstm of the same size, same run: the user cell'"'"'s"
                print "time / the built-in'"'"'s, forward/training (1.00: as fast; issue 18'"'"'s goal: at most 1.10)."
            }
            printf "%-5s %4s %3s %3s %4s %s\n", cf[1], cf[2], cf[4], cf[5], th[n], line
        }
    }
    head = 0
    for (c = 1; c <= n_cfg; c++) {
        split(cl[c], cf, " ")
        k = key(cf[1], cf[2], cf[3], cf[4], cf[5], th[1])
        for (m = 1; m <= n_impl; m++) {
            p = im[m]
            if (memv[p, k, "fwd_peak_mb"] == "") continue
            if (!head++) {
                print ""
                print "Memory, " th[1] " thread(s), MiB: base, the process'"'"'s resident memory before the timed calls (code,"
                print "libraries, weights, inputs); peak, the most resident during them (VmHWM); arena, rnnc'"'"'s memory"
                print "plan at these sizes; weights, the parameters (rnnc reads them in place)."
                printf "%-5s %4s %3s %3s  %-6s | %8s %8s %8s | %8s %8s %8s | %8s\n", "cell", "I=H", "B", "T", "impl",
                    "fwd base", "peak", "arena", "trn base", "peak", "arena", "weights"
            }
            printf "%-5s %4s %3s %3s  %-6s | %8s %8s %8s | %8s %8s %8s | %8s\n", cf[1], cf[2], cf[4], cf[5], p,
                memv[p, k, "fwd_base_mb"], memv[p, k, "fwd_peak_mb"], memv[p, k, "fwd_arena_mb"],
                memv[p, k, "train_base_mb"], memv[p, k, "train_peak_mb"], memv[p, k, "train_arena_mb"],
                memv[p, k, "weights_mb"]
        }
    }
}' "$tmp/peak" "$tmp/busy" "$tmp/flops" "$tmp/results"

# The lengths rows: padding against the real steps (see the top).
lthr=$(echo "$THREADS" | cut -d' ' -f1)
: >"$tmp/lengths"
for impl in rnnc jit; do
    case " $IMPLS " in *" $impl "*) ;; *) continue ;; esac
    [ -x "$BUILD/bench/rnn_rnnc" ] || continue
    eng=${RNN_BENCH_ENGINE:-c}
    [ "$impl" = jit ] && eng=jit
    pin "$lthr" env RNNC_THREADS="$lthr" "$BUILD/bench/rnn_rnnc" --lengths --engine "$eng" --label "$impl" \
        </dev/null 2>"$tmp/err" | grep "^$impl " >>"$tmp/lengths" ||
        { echo "rnn_rnnc --lengths ($impl) failed:"; sed 's/^/    /' "$tmp/err"; }
done
if [ -s "$tmp/lengths" ]; then
    echo
    echo "Padding: an LSTM (I = H = 256, B = 32, T = 100, $lthr thread(s)), a batch padded to T whose lengths"
    echo "are drawn as shown, against the same batch with every length T; ideal = sum(len) / (B T)."
    awk 'function v(k,   i, kv) { for (i = 8; i <= NF; i++) { split($i, kv, "="); if (kv[1] == k) return kv[2] } return "" }
        BEGIN { printf "%-5s %-17s %7s %6s | %10s %9s %6s | %12s %9s %6s\n", "impl", "lengths", "max len", "ideal",
                       "fwd all ms", "fwd ms", "ratio", "train all ms", "train ms", "ratio" }
        { printf "%-5s %-17s %7s %6s | %10s %9s %6s | %12s %9s %6s\n", $1, $7, v("max_len"), v("ideal"),
                 v("fwd_all_ms"), v("fwd_ms"), v("fwd_ratio"), v("train_all_ms"), v("train_ms"), v("train_ratio") }' \
        "$tmp/lengths"
fi
