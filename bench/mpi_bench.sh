#!/bin/sh
# mpi_bench.sh - the data-parallel rows of `make bench` (docs/distributed.md,
# "Speed and the cost model"): steps/s of `rnnc train` on 1 and on 2
# processes (one thread each, RNNC_THREADS=1) for the char-LM of `make
# demo` (examples/demo/fortunes.rnn: an LSTM of 128, batch 32, 64 steps)
# and the LSTM 512 (bench/mpi_lstm512.rnn: batch 64, 100 steps), the time
# a step waits in the sum, and the allreduce's alpha and beta measured by
# bench/mpi/allreduce_ab; then the alpha-beta model's step time for 2
# processes against the measured one, and its projection to 8, 64 and 512.
# Reports; never asserts.  About a minute on a quiet 2-core machine.
#
#   sh bench/mpi_bench.sh [BUILD]      (BUILD defaults to build)
#
# Weak scaling, as docs/distributed.md "Batch, learning rate and N" says to
# grow: every process computes the same share, batch / 2, whatever N is.
# The 1-process row trains on that share (--set batch=share) and gives the
# compute time of a step, t_c; the 2-process row trains the whole batch.
# The model's step: t_c + 2 (N-1) alpha + 2 (N-1)/N n beta for n bytes of
# gradients (the sum is after the backward pass with the compiled engines:
# no overlap), with this machine's measured alpha, beta (shared memory) for
# N = 2, and a cluster's assumed ones for the projection: MPI_BENCH_ALPHA_US
# (default 10) and MPI_BENCH_GBPS (default 25 Gb/s Ethernet: 3.125 GB/s).
# Environment: MPI_BENCH_STEPS_LM (30), MPI_BENCH_STEPS_512 (4).
set -u
BUILD=${1:-build}
cd "$(dirname "$0")/.." || exit 2
R=$PWD/$BUILD/rnnc
AB=$PWD/$BUILD/bench/mpi/allreduce_ab
if ! command -v mpirun >/dev/null 2>&1 || [ ! -x "$AB" ] || ! ldd "$R" 2>/dev/null | grep -q libmpi; then
    echo "mpi bench: skipped (no mpirun, or $BUILD was built without MPI)"
    exit 0
fi
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 RNNC_THREADS=1
export OMPI_MCA_btl=self,vader OMPI_MCA_btl_vader_single_copy_mechanism=none
# a process waiting in the sum yields its core rather than spin on it: on
# a shared machine the spinning takes the core the other process needs
export OMPI_MCA_mpi_yield_when_idle=1
ALPHA_US=${MPI_BENCH_ALPHA_US:-10}
GBPS=${MPI_BENCH_GBPS:-25}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

# The text both models read: the repository's own prose, printable ASCII
# (95 characters and the newline: the models' vocab of 96).
cat README.md docs/*.md | LC_ALL=C tr -cd '\n -~' >"$tmp/text.txt"
cp "$tmp/text.txt" "$tmp/fortunes.txt"
cp examples/demo/fortunes.rnn "$tmp/lm.rnn"
cp bench/mpi_lstm512.rnn "$tmp/l512.rnn"

echo
echo "Data-parallel training: 1 and 2 processes, one thread each; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-8s %2s %6s | %10s %8s | %12s %10s\n' model N batch "ms a step" "steps/s" "sum wait ms" floats
# row NAME FILE N BATCH STEPS: one run; "ms sum_ms floats" into $tmp/NAME.N
row() {
    if [ "$3" = 1 ]; then
        set -- "$@" "$R" train "$tmp/$2" --micro-batch "$4"
    else
        set -- "$@" mpirun -np "$3" "$R" train "$tmp/$2"
    fi
    name=$1 n=$3 batch=$4 steps=$5
    shift 5
    if ! "$@" --set batch="$batch" --set steps="$steps" --set eval=0 --set eval_every=0 -o "$tmp/$name.$n.safetensors" \
        >"$tmp/log" 2>&1; then
        echo "$name N=$n: failed"; tail -n 5 "$tmp/log" | sed 's/^/    /'
        echo "- - -" >"$tmp/$name.$n"
        return
    fi
    sed -n 's/^data-parallel: \([0-9.]*\) ms a step, \([0-9.]*\) ms of it in the sum of the allreduce of \([0-9]*\) floats.*/\1 \2 \3/p' \
        "$tmp/log" >"$tmp/$name.$n"
    read -r ms sum fl <"$tmp/$name.$n"
    printf '%-8s %2s %6s | %10s %8.2f | %12s %10s\n' "$name" "$n" "$batch" "$ms" "$(echo "$ms" | awk '{ print 1000 / $1 }')" "$sum" "$fl"
}
row char-LM lm.rnn 1 16 "${MPI_BENCH_STEPS_LM:-30}"
row char-LM lm.rnn 2 32 "${MPI_BENCH_STEPS_LM:-30}"
row lstm512 l512.rnn 1 32 "${MPI_BENCH_STEPS_512:-4}"
row lstm512 l512.rnn 2 64 "${MPI_BENCH_STEPS_512:-4}"

read -r _ _ fl_lm <"$tmp/char-LM.2"
read -r _ _ fl_512 <"$tmp/lstm512.2"
[ "$fl_lm" != - ] && [ "$fl_512" != - ] || exit 0
echo
echo "MPI_Allreduce of 1 float and of each model's sum (median of 100, bench/mpi/allreduce_ab):"
# spinning here: the link's own speed (yielding in the middle of a sum
# made the 8.8 MB one 20 times slower on the loaded machine)
OMPI_MCA_mpi_yield_when_idle=0 mpirun -np 2 "$AB" 100 "$fl_lm" "$fl_512" >"$tmp/ab" 2>&1 || { cat "$tmp/ab"; exit 0; }
cat "$tmp/ab"

# The model against the 2-process rows, then projected.
awk -v a_us="$ALPHA_US" -v gbps="$GBPS" '
    FILENAME ~ /ab$/ && /^alpha_us=/ { split($1, x, "="); al = x[2] * 1e-6; split($2, y, "="); be = y[2] * 1e-9; next }
    FILENAME ~ /ab$/ && /floats=/ { split($3, x, "="); split($5, y, "="); ar[x[2]] = y[2] / 1e3; next }
    FILENAME !~ /ab$/ { n = split(FILENAME, p, "/"); split(p[n], q, "."); ms[q[1], q[2]] = $1; sw[q[1], q[2]] = $2; fl[q[1]] = $3 }
    END {
        print ""
        print "alpha-beta model, t(N) = t_c + 2(N-1) alpha + 2(N-1)/N n beta (t_c: the 1-process row, the share per process):"
        printf "  this machine (shared memory): alpha %.2f us, beta %.3f ns/B (%.2f GB/s)\n", al * 1e6, be * 1e9, 1e-9 / be
        for (m in fl) {
            nb = 4 * fl[m]; tc = ms[m, 1]
            pred = tc + 1e3 * (2 * al + nb * be)
            printf "  %-8s N=2: model %.2f ms a step (t_c %.2f + sum %.3f ms; the sum measured alone %.3f ms); measured %.2f ms = %.2f computing + %.2f in the sum (waiting for the other process, and the communication)\n", m, pred, tc, 1e3 * (2 * al + nb * be), ar[fl[m]], ms[m, 2], ms[m, 2] - sw[m, 2], sw[m, 2]
        }
        A = a_us * 1e-6; Be = 8 / (gbps * 1e9)
        printf "  projected with a cluster'"'"'s alpha %g us, %g Gb/s (beta %.3f ns/B), the same share per process:\n", a_us, gbps, Be * 1e9
        for (m in fl) {
            nb = 4 * fl[m]; tc = ms[m, 1]
            line = sprintf("  %-8s", m)
            for (i = 1; i <= 4; i++) {
                N = i == 1 ? 2 : i == 2 ? 8 : i == 3 ? 64 : 512
                t = tc + 1e3 * (2 * (N - 1) * A + 2 * (N - 1) / N * nb * Be)
                line = line sprintf("  N=%d: %.2f steps/s (%.0f%% sum)", N, 1000 / t, 100 * (t - tc) / t)
            }
            print line
        }
    }' "$tmp/char-LM.1" "$tmp/char-LM.2" "$tmp/lstm512.1" "$tmp/lstm512.2" "$tmp/ab"
