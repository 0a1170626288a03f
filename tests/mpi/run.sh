#!/bin/sh
# Data-parallel `rnnc train` under mpirun (docs/distributed.md) on the tiny
# character model of tests/train (a GRU of 16, batch 8, two TBPTT segments
# a sequence, so the carried state crosses steps and checkpoints):
# N processes against one, --deterministic's bits for N = 1, 2 and 4, the
# refusal of a batch the processes do not divide, rank 0 alone writing
# files, resume, the weights' check, the overlap of the sum with the backward
# pass, tbptt_back, Ctrl-C of one process, one killed, and one that stops
# answering (RNNC_DIST_TIMEOUT).
#   sh tests/mpi/run.sh BUILD_DIR [SAN_BUILD_DIR]
# With SAN_BUILD_DIR (make test's sanitizer build), its rnnc also runs
# --deterministic on one process (its bits must be the plain build's) and 2
# processes under mpirun with LeakSanitizer off (Open MPI never frees what
# it allocates at start-up): the memory errors of the data-parallel code.
# Skipped (passing, with a note) when mpirun is missing or rnnc was built
# without MPI.  Open MPI refuses to run as root unless told: the two
# settings below tell it; --oversubscribe runs 4 processes on 2 cores.
set -u
B=${1:-build}
SAN=${2:-}
cd "$(dirname "$0")/../.." || exit 2
R=$PWD/$B/rnnc
M=$PWD/tests/train/charlm.rnn
if ! command -v mpirun >/dev/null 2>&1 || ! ldd "$R" 2>/dev/null | grep -q libmpi; then
    echo "SKIP mpi: no mpirun, or $R was built without MPI (install libopenmpi-dev and openmpi-bin, rebuild)"
    echo "0 passed, 0 failed"
    exit 0
fi
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# one thread a process: the processes are the parallelism here
export RNNC_THREADS=1
# no network but loopback, no warnings about the machine's other interfaces
export OMPI_MCA_btl=self,vader OMPI_MCA_btl_vader_single_copy_mechanism=none
# more processes than cores: a process waiting in a collective yields its
# core instead of spinning on it
export OMPI_MCA_mpi_yield_when_idle=1
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
pass=0; fail=0
ok() { pass=$((pass + 1)); echo "PASS $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; [ -f "$tmp/err" ] && sed 's/^/    /' "$tmp/err" | tail -n 15; }
mp() { mp_n=$1; shift; timeout 120 mpirun --oversubscribe -np "$mp_n" "$@"; }
S="--set batch=8 --set steps=16 --set checkpoint_every=4"

# 1. Two processes against one: the same loss curve up to float rounding.
#    The gradient of the batch is then a sum of two halves' sums instead of
#    one sum over its 8 x 8 positions: each gradient element differs by a
#    few float32 roundings (relative 2^-24 each), and Adam divides by the
#    gradient's own running size, so the weights differ by a few ulp of
#    their steps (lr = 0.01) for 16 steps.  The losses (about 3.7 -> 3.0)
#    move by far less than 1e-4, 400 ulp of a loss of 3: measured 2.4e-7.
#    An error in the sharing (a process's rows wrong, a missing 1/N, the
#    norm of a share clipped) moves them by 1e-2 and more in 16 steps.
#    Each process runs in a folder of its own (-wdir), the checkpoint
#    relative to it: rank 0 alone writes (rank 1's folder stays empty) and
#    prints progress.
mkdir "$tmp/w0" "$tmp/w1"
if "$R" train $M $S -o "$tmp/one.safetensors" 2>"$tmp/err" &&
   timeout 120 mpirun --oversubscribe -np 1 -wdir "$tmp/w0" "$R" train $M $S -o c.safetensors : \
       -np 1 -wdir "$tmp/w1" "$R" train $M $S -o c.safetensors 2>"$tmp/err" &&
   grep -q "data-parallel: 2 processes, 4 examples of each batch a process" "$tmp/err" &&
   [ -z "$(ls -A "$tmp/w1")" ] && [ "$(ls "$tmp/w0" | tr '\n' ' ')" = "c.eval.csv c.loss.csv c.loss.svg c.safetensors " ] &&
   [ "$(grep -c "^step 16/16" "$tmp/err")" -eq 1 ] && [ "$(wc -l < "$tmp/w0/c.loss.csv")" -eq 17 ] &&
   paste -d, "$tmp/one.loss.csv" "$tmp/w0/c.loss.csv" |
       awk -F, 'NR > 1 { d = $2 - $6; if (d < 0) d = -d; if (d > m) m = d; g = $3 - $7; if (g < 0) g = -g; if (g > gm) gm = g }
                END { print "max |loss difference| " m ", grad_norm " gm > "/dev/stderr"; exit !(m < 1e-4 && gm < 1e-4) }' 2>"$tmp/diff"; then
    ok "2 processes give one process's loss curve within 1e-4 ($(cat "$tmp/diff")); rank 0 alone writes and prints"
else
    bad "2 processes against one"
fi
cp "$tmp/w0/c.safetensors" "$tmp/two.safetensors"; cp "$tmp/w0/c.loss.csv" "$tmp/two.loss.csv"

# 1b. Examples of different lengths, a tagger (examples/tag_lengths.rnn,
#    batch 16, bucketed): its loss is a mean over the real steps, so a
#    share's gradient and loss weigh by its real steps, not its examples.
#    Within 1e-4 as above (measured 9e-8); weighing by examples instead
#    moves the first losses by 1.9e-3.
#    same_curve ONE.csv TWO.csv N: N logged steps, losses within 1e-4,
#    accuracies equal; the largest difference into $tmp/diff.
same_curve() {
    paste -d, "$1" "$2" |
        awk -F, -v want="$3" 'NR > 1 { d = $2 - $6; if (d < 0) d = -d; if (d > m) m = d; if ($4 != $8) a = 1; n++ }
             END { print "max |loss difference| " m > "/dev/stderr"; exit !(n == want && m < 1e-4 && !a) }' 2>"$tmp/diff"
}
T=$PWD/examples/tag_lengths.rnn
if "$R" train $T --set steps=8 -o "$tmp/t1.safetensors" 2>"$tmp/err" &&
   mp 2 "$R" train $T --set steps=8 -o "$tmp/t2.safetensors" 2>"$tmp/err" &&
   same_curve "$tmp/t1.loss.csv" "$tmp/t2.loss.csv" 8; then
    ok "a tagger of different lengths on 2 processes: one process's losses within 1e-4, its accuracy ($(cat "$tmp/diff"))"
else
    bad "a tagger of different lengths on 2 processes"
fi

# 1c. The same with truncated BPTT (tests/train/tagger.rnn: segments of 4
#    steps, tbptt_back = tbptt): a share whose examples have all ended before a segment adds
#    nothing (its loss, a mean over no step, was a NaN that stopped the
#    run), and accuracy counts a segment's real steps from its mask.
#    12 steps, within 1e-4 of one process as in 1, the accuracy equal.
G=$PWD/tests/train/tagger.rnn
if "$R" train $G --set tbptt_back=4 --set steps=12 -o "$tmp/g1.safetensors" 2>"$tmp/err" &&
   mp 2 "$R" train $G --set tbptt_back=4 --set steps=12 -o "$tmp/g2.safetensors" 2>"$tmp/err" &&
   same_curve "$tmp/g1.loss.csv" "$tmp/g2.loss.csv" 12; then
    ok "a tagger of different lengths in TBPTT segments on 2 processes: one process's losses within 1e-4, its accuracy ($(cat "$tmp/diff"))"
else
    bad "a tagger in TBPTT segments on 2 processes"
fi

# 1d. TBPTT(k1, k2), tbptt_back = 12 > tbptt = 4: each micro-batch's state
#    at its window's start is carried, the window's history steps cut into
#    shares with the segment's, and the state moved on to the next window
#    with the weights before the update, a micro-batch at a time.  Against
#    one process within 1e-4 as in 1 (measured 2.4e-7); --deterministic:
#    2 processes equal one with the same micro-batches bit for bit, and
#    resuming inside a window (step 7: the state at the window's start,
#    gathered) equals the uninterrupted run bit for bit.  On the
#    interpreter: four modules a process, no compile time (the JIT's cost
#    the suite 7 CPU seconds more).
K="--set batch=8 --set steps=10 --set tbptt=4 --set tbptt_back=12 --set checkpoint_every=3 --engine interp"
if "$R" train $M $K -o "$tmp/k1.safetensors" 2>"$tmp/err" &&
   mp 2 "$R" train $M $K -o "$tmp/k2.safetensors" 2>"$tmp/err" &&
   same_curve "$tmp/k1.loss.csv" "$tmp/k2.loss.csv" 10 && cp "$tmp/diff" "$tmp/kdiff" &&
   "$R" train $M $K --deterministic --micro-batch 4 -o "$tmp/kd1.safetensors" 2>"$tmp/err" &&
   mp 2 "$R" train $M $K --deterministic -o "$tmp/kd2.safetensors" 2>"$tmp/err" &&
   cmp "$tmp/kd1.safetensors" "$tmp/kd2.safetensors" >"$tmp/err" 2>&1 && cmp "$tmp/kd1.loss.csv" "$tmp/kd2.loss.csv" &&
   mp 2 "$R" train $M $K --deterministic --set steps=7 -o "$tmp/kr.safetensors" 2>"$tmp/err" &&
   mp 2 "$R" train $M $K --deterministic --resume "$tmp/kr.safetensors" 2>"$tmp/err" &&
   cmp "$tmp/kd1.safetensors" "$tmp/kr.safetensors" >"$tmp/err" 2>&1 && cmp "$tmp/kd1.loss.csv" "$tmp/kr.loss.csv"; then
    ok "tbptt_back on 2 processes: one process's losses within 1e-4 ($(cat "$tmp/kdiff")); --deterministic and resuming in a window bit for bit"
else
    bad "tbptt_back on 2 processes"
fi

# 2. --deterministic: micro-batches of 2 summed in batch order on every
#    process: 1, 2 and 4 processes (oversubscribed) give the same bits,
#    10 steps; not those of one process without the flag (docs say why).
#    The evaluation, its batches shared by the processes and every
#    segment's values added in one process's order, too (the eval log).
if "$R" train $M $S --set steps=10 --deterministic --micro-batch 2 -o "$tmp/d1.safetensors" 2>"$tmp/err" &&
   mp 2 "$R" train $M $S --set steps=10 --deterministic --micro-batch 2 -o "$tmp/d2.safetensors" 2>"$tmp/err" &&
   mp 4 "$R" train $M $S --set steps=10 --deterministic -o "$tmp/d4.safetensors" 2>"$tmp/err" &&
   cmp "$tmp/d1.loss.csv" "$tmp/d2.loss.csv" >"$tmp/err" 2>&1 && cmp "$tmp/d1.loss.csv" "$tmp/d4.loss.csv" >"$tmp/err" 2>&1 &&
   cmp "$tmp/d1.safetensors" "$tmp/d2.safetensors" >"$tmp/err" 2>&1 &&
   cmp "$tmp/d1.safetensors" "$tmp/d4.safetensors" >"$tmp/err" 2>&1 &&
   [ "$(wc -l < "$tmp/d1.eval.csv")" -eq 2 ] &&
   cmp "$tmp/d1.eval.csv" "$tmp/d2.eval.csv" >"$tmp/err" 2>&1 && cmp "$tmp/d1.eval.csv" "$tmp/d4.eval.csv" >"$tmp/err" 2>&1 &&
   ! head -n 11 "$tmp/one.loss.csv" | cmp -s - "$tmp/d1.loss.csv"; then
    ok "--deterministic: 1, 2 and 4 processes write the same losses, evaluation and checkpoint, bit for bit"
else
    bad "--deterministic bits"
fi

# 2b. The overlap (docs/distributed.md "Overlap"): on the interpreter,
#    whose runs tell each gradient as soon as the backward pass has finished
#    it, each gradient's sum starts then (MPI_Iallreduce on its slice of
#    the buffer) instead of in one allreduce after the run.  Two processes
#    sum r0 + r1 either way (float addition commutes): the same bits as
#    RNNC_DIST_OVERLAP=0's one allreduce; and all of the gradients of this
#    model (a GRU and its head: no parameter is read by the last op) are
#    summed while the run still ran.  With 2 micro-batches a process, the
#    last one's run adds its gradients to the first's before each sum
#    starts: the same bits as without the overlap too.
S6="--set batch=8 --set steps=6 --set checkpoint_every=4 --engine interp"
if mp 2 "$R" train $M $S6 -o "$tmp/ov.safetensors" 2>"$tmp/err" &&
   grep -q "overlapped: 100.0% of the gradients' floats were being summed while the backward pass ran" "$tmp/err" &&
   RNNC_DIST_OVERLAP=0 mp 2 -x RNNC_DIST_OVERLAP "$R" train $M $S6 -o "$tmp/ov0.safetensors" 2>"$tmp/err" &&
   ! grep -q "overlapped" "$tmp/err" && cmp "$tmp/ov.safetensors" "$tmp/ov0.safetensors" >"$tmp/err" 2>&1 &&
   mp 2 "$R" train $M $S6 --micro-batch 2 -o "$tmp/om.safetensors" 2>"$tmp/err" &&
   RNNC_DIST_OVERLAP=0 mp 2 -x RNNC_DIST_OVERLAP "$R" train $M $S6 --micro-batch 2 -o "$tmp/om0.safetensors" 2>"$tmp/err" &&
   cmp "$tmp/om.safetensors" "$tmp/om0.safetensors" >"$tmp/err" 2>&1; then
    ok "the overlap: every gradient's sum started in the backward pass, the same bits as one allreduce after it (and with 2 micro-batches a process)"
else
    bad "the overlap"
fi

# 3. A batch 3 processes cannot share: refused, said once, every process ends.
mp 3 "$R" train $M $S -o "$tmp/x.safetensors" >"$tmp/out" 2>"$tmp/err"; rc=$?
if [ $rc -ne 0 ] && [ $rc -ne 124 ] &&
   [ "$(grep -c "batch = 8 cannot be shared equally by 3 processes.*--set batch=9" "$tmp/err")" -eq 1 ] &&
   ! grep -q MPI_ABORT "$tmp/err" && [ ! -e "$tmp/x.safetensors" ]; then
    ok "batch = 8 on 3 processes is refused with one message"
else
    bad "3 processes (exit $rc)"
fi

# 3b. A NaN loss is every process's (the loss is the sum's): all stop
#    before the update, rank 0 says so once, the step-1 checkpoint stays.
mp 2 "$R" train $M --set batch=8 --set 'optimizer=adam(lr=1e38)' --set clip=none --set checkpoint_every=1 \
    -o "$tmp/n.safetensors" >/dev/null 2>"$tmp/err"; rc=$?
if [ $rc -ne 0 ] && [ $rc -ne 124 ] && ! grep -q MPI_ABORT "$tmp/err" &&
   [ "$(grep -c "error: loss is NaN at step 2; the last good checkpoint is $tmp/n.safetensors (step 1)" "$tmp/err")" -eq 1 ]; then
    ok "a NaN loss stops every process, said once; the step-1 checkpoint stays"
else
    bad "NaN on 2 processes (exit $rc)"
fi

# 4. Resume with the same N: 9 steps (mid-sequence: the carried state of
#    both processes is in the checkpoint) + resume to 16 == 16 straight.
#    And on one process: the checkpoint holds the whole batch's state in
#    batch order, so one process with micro-batches of 4 (the two shares,
#    summed r0 + r1 as MPI sums two) continues it to the same bits.
if mp 2 "$R" train $M $S --set steps=9 -o "$tmp/r.safetensors" 2>"$tmp/err" &&
   cp "$tmp/r.safetensors" "$tmp/r1.safetensors" && cp "$tmp/r.loss.csv" "$tmp/r1.loss.csv" &&
   mp 2 "$R" train $M $S --resume "$tmp/r.safetensors" 2>"$tmp/err" &&
   cmp "$tmp/r.safetensors" "$tmp/two.safetensors" >"$tmp/err" 2>&1 && cmp "$tmp/r.loss.csv" "$tmp/two.loss.csv" >"$tmp/err" 2>&1 &&
   "$R" train $M $S --deterministic --micro-batch 4 --resume "$tmp/r1.safetensors" 2>"$tmp/err" &&
   cmp "$tmp/r1.safetensors" "$tmp/two.safetensors" >"$tmp/err" 2>&1; then
    ok "2 processes resumed mid-sequence equal an uninterrupted run bit for bit, and so does 1 process resuming"
else
    bad "resume"
fi

# 5. Processes that do not hold the same weights (here: other seeds) stop
#    with a message instead of training apart.
timeout 120 mpirun --oversubscribe -np 1 "$R" train $M $S --seed 1 -o "$tmp/h.safetensors" : \
    -np 1 "$R" train $M $S --seed 2 -o "$tmp/h.safetensors" >/dev/null 2>"$tmp/err"; rc=$?
if [ $rc -ne 0 ] && [ $rc -ne 124 ] && grep -q "the starting weights .* differ between the processes" "$tmp/err"; then
    ok "different weights on the processes are an error"
else
    bad "weights check (exit $rc)"
fi

# signal_second SIG CSV LINES: once rank 0's loss log CSV has LINES lines,
# SIG to the second process that mpirun (the child of $tpid) started; its
# pid into $kid.
signal_second() {
    i=0
    while [ "$(cat "$2" 2>/dev/null | wc -l)" -lt "$3" ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
    mpid=$(pgrep -P $tpid)
    kid=$(pgrep -P "${mpid:-0}" | tail -n 1)
    [ -n "$kid" ] && kill -"$1" "$kid"
}

# 6. Ctrl-C of one process: every process stops after the same step, rank
#    0 writes the checkpoint, and the run resumes from it.
# (timeout: a hang fails, not waits)
timeout 100 mpirun --oversubscribe -np 2 "$R" train $M --set batch=8 --set steps=1000000 -o "$tmp/i.safetensors" 2>"$tmp/err" &
tpid=$!
# after a first step every process handles SIGINT (it installs its
# handler before the step that rank 0 logs)
signal_second INT "$tmp/i.loss.csv" 2
wait $tpid
n=$(sed -n 's/.*interrupted at step \([0-9]*\).*/\1/p' "$tmp/err")
if [ -n "$n" ] && [ -f "$tmp/i.safetensors" ] &&
   mp 2 "$R" train $M --set batch=8 --set steps=$((n + 2)) --resume "$tmp/i.safetensors" 2>"$tmp/err" &&
   [ "$(wc -l < "$tmp/i.loss.csv")" -eq $((n + 3)) ]; then
    ok "Ctrl-C of one process at step $n: all stop, the checkpoint resumes"
else
    bad "Ctrl-C of one process (step ${n:-?}, $(wc -l < "$tmp/i.loss.csv") log lines)"
fi

# 6b. A process killed (SIGKILL) mid-run: mpirun ends the other rather
#    than leave it waiting in the allreduce, and the run resumes from the
#    last checkpoint (every 5 steps) that rank 0 wrote whole.
timeout 100 mpirun --oversubscribe -np 2 "$R" train $M --set batch=8 --set steps=1000000 --set checkpoint_every=5 \
    -o "$tmp/k.safetensors" 2>"$tmp/err" &
tpid=$!
signal_second KILL "$tmp/k.loss.csv" 12
wait $tpid; rc=$?
# the checkpoint's step: a resume to step 1 (past already) says it and trains nothing
k=$("$R" train $M --set batch=8 --resume "$tmp/k.safetensors" --set steps=1 2>&1 |
    sed -n 's/^resuming from .* at step \([0-9]*\)$/\1/p')
if [ $rc -ne 0 ] && [ $rc -ne 124 ] && grep -q "exited on signal 9" "$tmp/err" &&
   [ -n "$k" ] && [ $((k % 5)) -eq 0 ] && [ "$k" -ge 10 ] &&
   mp 2 "$R" train $M --set batch=8 --set checkpoint_every=5 --resume "$tmp/k.safetensors" --set steps=$((k + 2)) 2>"$tmp/err" &&
   [ "$(wc -l < "$tmp/k.loss.csv")" -eq $((k + 3)) ]; then
    ok "a process killed mid-run: mpirun ends the other (exit $rc); resuming from its checkpoint (step $k) works"
else
    bad "a process killed mid-run (exit $rc, checkpoint step ${k:-?})"
fi

# 6c. A process that stops answering (SIGSTOP: as a dead one under a
#    launcher that does not end the others) with RNNC_DIST_TIMEOUT=2: the
#    other gives up within the timeout with a message naming it, rather
#    than wait for ever (timeout's 124 would say it waited).  On the
#    interpreter: no compile time before the first steps.  The collective
#    that times out is whichever rank 0 is in: the step's sum, or a
#    checkpoint's check of the weights or gathering of the state.
RNNC_DIST_TIMEOUT=2 timeout 60 mpirun -x RNNC_DIST_TIMEOUT --oversubscribe -np 2 "$R" train $M --set batch=8 \
    --set steps=1000000 --set checkpoint_every=5 --engine interp -o "$tmp/h.safetensors" 2>"$tmp/err" &
tpid=$!
signal_second STOP "$tmp/h.loss.csv" 6
wait $tpid; rc=$?
[ -n "$kid" ] && kill -KILL "$kid" 2>/dev/null
if [ -n "$kid" ] && [ $rc -ne 0 ] && [ $rc -ne 124 ] &&
   grep -q "^rnnc: \(step [0-9]*: \)\{0,1\}\(error: \)\{0,1\}MPI_[A-Za-z]* on rank 0 of 2: no answer from every process in 2 s (RNNC_DIST_TIMEOUT): a process has died or hangs" "$tmp/err" &&
   ! RNNC_DIST_TIMEOUT=soon mp 2 -x RNNC_DIST_TIMEOUT "$R" train $M $S -o "$tmp/h2.safetensors" 2>"$tmp/err" &&
   grep -q "RNNC_DIST_TIMEOUT=soon: give the seconds a process waits for the others (0: for ever)" "$tmp/err"; then
    ok "a process that stops answering: with RNNC_DIST_TIMEOUT=2 the other stops with a message (exit $rc); a bad value is an error"
else
    bad "RNNC_DIST_TIMEOUT (exit $rc)"
fi

# 7. The sanitizer build: one process with --deterministic, the plain
#    build's bits (the same JIT code, and the driver's sums are plain float
#    additions either way); two processes without LeakSanitizer.
if [ -n "$SAN" ] && [ "$SAN" != "$B" ]; then
    RS=$PWD/$SAN/rnnc
    S8="--set batch=8 --set steps=6 --set checkpoint_every=4"
    if "$R" train $M $S8 --deterministic --micro-batch 2 -o "$tmp/p8.safetensors" 2>"$tmp/err" &&
       "$RS" train $M $S8 --deterministic --micro-batch 2 -o "$tmp/s8.safetensors" 2>"$tmp/err" &&
       cmp "$tmp/p8.safetensors" "$tmp/s8.safetensors" >"$tmp/err" 2>&1 &&
       ASAN_OPTIONS=detect_leaks=0 mp 2 "$RS" train $M $S8 -o "$tmp/m8.safetensors" 2>"$tmp/err" &&
       [ "$(wc -l < "$tmp/m8.loss.csv")" -eq 7 ] &&
       ASAN_OPTIONS=detect_leaks=0 mp 2 "$RS" train $M $S8 --engine interp -o "$tmp/i8.safetensors" 2>"$tmp/err" &&
       grep -q "overlapped: 100.0%" "$tmp/err"; then
        ok "the sanitizer build: one process --deterministic equals the plain build; 2 processes run clean, overlapped too"
    else
        bad "the sanitizer build"
    fi
fi

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
