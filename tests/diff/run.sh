#!/bin/sh
# Differential tests: random models through two engines, compared.
#
#   sh tests/diff/run.sh BUILD [N] [SEED0]
#
# For each seed SEED0 .. SEED0+N-1 (default 200 models from seed 1):
#   1. BUILD/tools/randmodel SEED DIR writes a random model (every built-in
#      cell, user cells from primitives, every topology; see randmodel.c),
#      its inputs and targets;
#   2. generator self-check: `rnnc check` must accept it with no error and
#      no warning (the generator is meant to write only valid models in
#      which every value is used);
#   3. `rnnc init --seed SEED` makes its weights;
#   4. `rnnc run` with engine A and with engine B writes every output (and
#      the loss), and with a loss `rnnc grad` with each engine writes every
#      parameter's gradient; each of B's results is compared with A's by
#      BUILD/tools/npycmp.
#
# Engines: the environment variables ENGINE_A and ENGINE_B hold extra rnnc
# arguments for run and grad.  By default, if `rnnc run --help` offers
# --engine with a `c` choice, A = --engine=interp (the reference
# interpreter) and B = --engine=c (the compiled engine); otherwise
# A = --precision=f64 and B = --precision=f32 (the interpreter in double
# and in single precision), which exercises the harness and the f32 path of
# the interpreter today.  A is the reference: npycmp's relative tolerance
# is taken of A's value.  A third engine, ENGINE_C (default --engine=jit,
# the LLVM JIT, when --help offers it and B is the C engine; empty: none),
# is compared with A the same way, and with B exactly (tolerance 0): the
# JIT computes the C engine's float operations in the same order with the
# same runtime, so it must give the same bits.  DIFF_C_EVERY=K (default 4)
# runs engine C on every K-th seed only: under ASan a JIT compile costs
# about 2 s of CPU (LLVM's allocations all go through the sanitizer), and
# measured on 6 models the JIT on every one took the suite from 69 to 128
# CPU seconds; every 4th keeps it to ~+20% (tests/engine/run.sh runs the
# JIT on every example anyway).  DIFF_C_EVERY=1 compares every model.
#
# Tolerances (|B - A| <= ATOL + RTOL * |A| for every element):
#   forward outputs and losses: RTOL 1e-4, ATOL 1e-5;
#   gradients:                  RTOL 1e-4, ATOL 1e-6.
# Why: engine B computes in float32 (eps 6e-8) with a different summation
# order and fused operations than the float32-rounded interpreter (or, in
# the fallback, than exact float64).  A generated model is at most ~3
# recurrent layers of 9 steps, each step a few dozen float32 operations
# whose rounding errors add up (with contracting tanh/sigmoid in between)
# to some 10-100 ulp of the values involved: ~1e-6..1e-5 relative for
# values of order 1 (the generator keeps values of order 1: bounded state
# updates, no division by less than 1).  RTOL 1e-4 leaves a 10x margin on
# that and still catches any real mistake (a wrong gate, weight, step or
# direction is an O(1) relative error).  Near zero a relative bound is
# meaningless: a value that is a difference of O(1) terms (a
# pre-activation, a relu, a small softmax probability) carries their
# absolute rounding error, ~1e-6 after several steps, hence ATOL 1e-5.
# Gradients are smaller (the loss is a mean over T*B positions, gradients
# are ~1e-4..1e-1 an element) and an element that cancels to near zero
# keeps the absolute error of its largest terms, ~1e-7: ATOL 1e-6.  Two
# float32 engines can each be that far from the exact value, so their
# difference may reach twice it; the margins below cover that.
# Measured with the f32-vs-f64 fallback on seeds 1-3000: the largest share
# of its tolerance any element used was 0.03 for forward values (worst
# abs err 3.1e-7 on a value of 0.01) and 0.13 for gradients (abs err
# 2.2e-7 on 0.0063); with a 10x smaller ATOL the gradients would use 0.95
# of it, which is why ATOL is not smaller.  Rerun with DIFF_VERBOSE=1 to
# see every comparison's worst element.
#
# DIFF_VERBOSE=1 prints npycmp's worst element for every comparison.
# DIFF_CHECK_ONLY=1 only generates and checks the models (the generator's
# self-check, fast).  DIFF_JOBS=N runs N models at a time (default 2).
# A model's files stay in BUILD/diff/SEED when it fails (and are removed
# when it passes).  On a failure it prints the seed, the model file and the
# commands to reproduce it, and goes on; the exit status is 1 if any model
# failed, with the count.  One progress line per 20 models.
set -u
B=${1:-build}
N=${2:-200}
S0=${3:-1}
cd "$(dirname "$0")/../.." || exit 2
R=$B/rnnc
GEN=$B/tools/randmodel
CMP=$B/tools/npycmp
for f in "$R" "$GEN" "$CMP"; do
    [ -x "$f" ] || { echo "diff: $f is missing (make BUILD=$B all tests)"; exit 2; }
done

FWD_TOL="--rtol 1e-4 --atol 1e-5"
GRAD_TOL="--rtol 1e-4 --atol 1e-6"

# DIFF_GRAD=0 skips the gradients (set below when the default engines are
# chosen and `rnnc grad` does not take --engine yet).
DIFF_GRAD=${DIFF_GRAD:-1}
if [ -z "${ENGINE_A+x}" ] && [ -z "${ENGINE_B+x}" ]; then
    if "$R" run --help 2>&1 | grep -- '--engine' | grep -qw c; then
        ENGINE_A=--engine=interp ENGINE_B=--engine=c
        if ! "$R" grad --help 2>&1 | grep -- '--engine' | grep -qw c; then
            echo "diff: rnnc grad has no --engine=c: gradients are not compared"
            DIFF_GRAD=0
        fi
    else
        ENGINE_A=--precision=f64 ENGINE_B=--precision=f32
    fi
fi
ENGINE_A=${ENGINE_A:-}
ENGINE_B=${ENGINE_B:-}
if [ -z "${ENGINE_C+x}" ]; then
    ENGINE_C=""
    if [ "$ENGINE_B" = --engine=c ] && "$R" run --help 2>&1 | grep -- '--engine' | grep -qw jit; then
        ENGINE_C=--engine=jit
    fi
fi
EXACT_TOL="--rtol 0 --atol 0"
# The C engine compiles each model's code with a C compiler, most of the
# suite's CPU time.  DIFF_CC and DIFF_CC_OPT pick it (RNNC_CC and
# RNNC_CC_OPT, exec/cengine.c).  By default clang-14 at -O0 when there is
# one, else cc (gcc) at -O1: the run and grad modules of seeds 1-12 took
# 0.47 s a compile with clang -O0 against 0.72 with gcc -O1, 0.76 with
# gcc -O0 (more code for the assembler) and 0.71 with clang -O1 (user +
# sys, three repeats alternated on one pinned core; gcc -O2, the engine's
# default, ~0.9), and give the same bits: no compiler or level reassociates
# float arithmetic without -ffast-math, and the engine passes
# -ffp-contract=off, so a*b+c stays two roundings.  The exact comparison of
# engine C (the JIT) with B would catch a compiler or level that changed a
# result.  tests/run_all.sh runs the sanitizer build's models (diff-san)
# with DIFF_CC=cc DIFF_CC_OPT=-O1, so gcc compiles random models too;
# tests/engine/run.sh runs the default, cc -O2, on every example.
if [ -z "${DIFF_CC:-}" ]; then
    DIFF_CC=cc
    command -v clang-14 >/dev/null 2>&1 && DIFF_CC=clang-14
fi
if [ -z "${DIFF_CC_OPT:-}" ]; then
    DIFF_CC_OPT=-O1
    [ "$DIFF_CC" = clang-14 ] && DIFF_CC_OPT=-O0
fi
RNNC_CC=$DIFF_CC RNNC_CC_OPT=$DIFF_CC_OPT
export RNNC_CC RNNC_CC_OPT
C_EVERY=${DIFF_C_EVERY:-4}
ccnote=""
[ "$ENGINE_B" = --engine=c ] && ccnote=" (its C by $DIFF_CC $DIFF_CC_OPT)"
echo "diff: $N models from seed $S0, A: rnnc ${ENGINE_A:-(defaults)}, B: rnnc ${ENGINE_B:-(defaults)}$ccnote${ENGINE_C:+, C: rnnc $ENGINE_C on seeds divisible by $C_EVERY}"

top=$B/diff
mkdir -p "$top" || exit 2
JOBS=${DIFF_JOBS:-2}

# fail SEED DIR WHAT [FILE]: report one failure of a model (the model is
# counted once, however many of its comparisons fail).
fail() {
    if [ "$model_ok" -eq 1 ]; then
        echo "FAIL seed $1: $(sed -n '1s/^# randmodel [0-9]*: //p' "$2/model.rnn" 2>/dev/null)"
        echo "  model: $2/model.rnn"
        echo "  reproduce: DIFF_CC=$DIFF_CC DIFF_CC_OPT=$DIFF_CC_OPT sh tests/diff/run.sh $B 1 $1"
    fi
    model_ok=0
    echo "  $3"
    [ -n "${4:-}" ] && [ -f "$4" ] && grep -v '^note: .*comparing values$' "$4" | sed "s/^/    /" | tail -n 12
}

# compare SEED DIR TOL WHAT GOT WANT [GOT WANT ...]: one npycmp for every
# pair (a process of the sanitizer build costs ~0.15 s to start)
compare() {
    seed_=$1 dir_=$2 tol_=$3 what_=$4
    shift 4
    # shellcheck disable=SC2086 # TOL is split on purpose
    if "$CMP" $tol_ "$@" >"$dir_/cmp.out" 2>&1; then
        [ -n "${DIFF_VERBOSE:-}" ] && echo "  seed $seed_ $what_: $(grep '^worst' "$dir_/cmp.out" | tr '\n' ' ')"
    else
        grep -v '^OK:' "$dir_/cmp.out" >"$dir_/cmp.bad"
        fail "$seed_" "$dir_" "$what_ differ (got first, want second in each pair)" "$dir_/cmp.bad"
    fi
    return 0
}

# one SEED: generates, checks, runs and compares one model, printing its
# failures; leaves $top/SEED.grad if it compared gradients; returns 1 if the
# model failed.  Runs in a subshell of its own.
one() {
    seed=$1
    d=$top/$seed
    rm -rf "$d" && mkdir -p "$d/A" "$d/B" "$d/C" || return 2
    model_ok=1
    m=$d/model.rnn
    use_c=""
    [ -n "$ENGINE_C" ] && [ $((seed % C_EVERY)) -eq 0 ] && use_c=1
    if ! "$GEN" "$seed" "$d" >"$d/gen.err" 2>&1; then
        fail "$seed" "$d" "generator failed: $GEN $seed $d" "$d/gen.err"
    elif ! "$R" check "$m" >"$d/check.out" 2>&1 || grep -q ': warning: \|: error: ' "$d/check.out"; then
        fail "$seed" "$d" "generator self-check: rnnc check $m" "$d/check.out"
    elif [ -n "${DIFF_CHECK_ONLY:-}" ]; then
        : # generator self-check only
    elif ! "$R" init "$m" -o "$d/w.safetensors" --seed "$seed" >"$d/init.out" 2>&1; then
        fail "$seed" "$d" "rnnc init $m -o $d/w.safetensors --seed $seed" "$d/init.out"
    else
        args=$(tr "\n" " " <"$d/args")
        for e in A B ${use_c:+C}; do
            case $e in A) eng=$ENGINE_A ;; B) eng=$ENGINE_B ;; *) eng=$ENGINE_C ;; esac
            outs=""
            for o in $(cat "$d/outputs"); do outs="$outs -o $o=$d/$e/$o.npy"; done
            cmd="$R run $m -w $d/w.safetensors $args$outs $eng"
            # shellcheck disable=SC2086 # word splitting is intended
            if ! $cmd >"$d/$e/run.out" 2>&1; then
                fail "$seed" "$d" "engine $e failed: $cmd" "$d/$e/run.out"
            fi
            if [ "$DIFF_GRAD" != 0 ] && grep -qx loss "$d/outputs"; then
                cmd="$R grad $m -w $d/w.safetensors $args -o $d/$e/grads.safetensors --loss-out $d/$e/gloss.npy $eng"
                # shellcheck disable=SC2086
                if ! $cmd >"$d/$e/grad.out" 2>&1; then
                    fail "$seed" "$d" "engine $e failed: $cmd" "$d/$e/grad.out"
                fi
            fi
        done
        if [ "$model_ok" -eq 1 ]; then
            # against A with the tolerances; C against B exactly
            for p in B:A C:A C:B; do
                x=${p%:*} y=${p#*:}
                [ $x = C ] && [ -z "$use_c" ] && continue
                fwd=$FWD_TOL grad=$GRAD_TOL
                [ $y = B ] && fwd=$EXACT_TOL grad=$EXACT_TOL
                pairs=""
                for o in $(cat "$d/outputs"); do pairs="$pairs $d/$x/$o.npy $d/$y/$o.npy"; done
                if [ "$DIFF_GRAD" != 0 ] && grep -qx loss "$d/outputs"; then
                    : >"$top/$seed.grad"
                    pairs="$pairs $d/$x/gloss.npy $d/$y/gloss.npy"
                    compare "$seed" "$d" "$grad" "$x vs $y: gradients" "$d/$x/grads.safetensors" "$d/$y/grads.safetensors"
                fi
                # shellcheck disable=SC2086 # the pairs are split on purpose
                compare "$seed" "$d" "$fwd" "$x vs $y: outputs (and grad's loss)" $pairs
            done
        fi
    fi
    [ "$model_ok" -eq 1 ] && rm -rf "$d"
    return $((1 - model_ok))
}

# JOBS models at a time (the machine has two cores); each one's report is
# printed in seed order when its batch is done.
failed=0 done_=0 grads=0 start=$(date +%s)
seed=$S0
end=$((S0 + N))
while [ "$seed" -lt "$end" ]; do
    batch=""
    j=0
    while [ "$j" -lt "$JOBS" ] && [ "$seed" -lt "$end" ]; do
        (one "$seed" >"$top/$seed.log" 2>&1; echo $? >"$top/$seed.rc") &
        batch="$batch $seed"
        seed=$((seed + 1))
        j=$((j + 1))
    done
    wait
    for s in $batch; do
        cat "$top/$s.log"
        [ "$(cat "$top/$s.rc")" = 0 ] || failed=$((failed + 1))
        [ -f "$top/$s.grad" ] && grads=$((grads + 1))
        rm -f "$top/$s.log" "$top/$s.rc" "$top/$s.grad"
        done_=$((done_ + 1))
        if [ $((done_ % 20)) -eq 0 ] || [ "$done_" -eq "$N" ]; then
            echo "diff: $done_/$N models ($grads with gradients), $failed failed, $(($(date +%s) - start)) s"
        fi
    done
done
rmdir "$top" 2>/dev/null
if [ "$failed" -ne 0 ]; then
    echo "diff: $failed of $N models failed"
    exit 1
fi
echo "diff: all $N models agree"
