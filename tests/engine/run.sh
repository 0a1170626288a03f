#!/bin/sh
# The compiled engines - C (rnnc --engine=c, exec/cengine.c) and the
# LLVM JIT (--engine=jit, exec/jitengine.c) - against the reference
# interpreter, on every example model with fresh weights and the inputs
# its "# inputs:" line names:
#   - `rnnc run`: every output and the loss;
#   - `rnnc run` without the targets: the outputs (the loss is dropped);
#   - `rnnc grad`: the loss and every parameter's gradient;
# and that a missing C compiler is a clear error.  The JIT must also give
# exactly the C engine's bits (the same float operations in the same
# order, the same runtime): checked with tolerance 0.
#
# Tolerance: |c - interp| <= 1e-6 + 1e-4 |interp|.  The interpreter rounds
# each op's result to float32 but sums inside an op (a linear's dot
# products, softmax) in double; the C code sums in float32 (SGEMM,
# reductions in index order).  A float sum of K <= 256 terms is off by at
# most K * 2^-24 ~ 1.5e-5 of the sum of the terms' magnitudes, and the
# examples' recurrences (<= 20 steps through tanh/sigmoid, derivatives
# <= 1, small initial weights) carry such errors without growth: 1e-4
# relative.  The absolute 1e-6 is for values that cancel to near zero
# (gradient entries of 1e-5 and less), whose errors scale with the
# cancelled terms, themselves < 1e-2 here.  Measured: at most ~1e-6
# relative on the outputs and 4e-8 absolute on the gradients.
set -u
ENGINES="c jit"
B=${1:-build}
RNNC=$B/rnnc
CLOSE=$B/tools/tensors_close
ATOL=1e-6
RTOL=1e-4
[ -x "$CLOSE" ] || { echo "missing $CLOSE (make tests BUILD=$B)"; exit 2; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
pass=0; fail=0
ok() { pass=$((pass + 1)); echo "PASS $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; [ -n "${2:-}" ] && echo "$2"; }

# outputs NAME.rnn W INPUTS: the output names `rnnc run` prints (one a
# line), from the interpreter: the default engine, the JIT, would cost a
# compile under ASan (~0.4 CPU-s an example) for names alone
outputs() {
    # shellcheck disable=SC2086
    "$RNNC" run "$1" -w "$2" $3 --engine=interp | sed -n 's/^\([A-Za-z_][A-Za-z0-9_.:]*\): .*/\1/p'
}

for f in examples/*.rnn; do
    [ -f "$f" ] || continue
    name=$(basename "$f" .rnn)
    inputs=$(sed -n 's/^# inputs: //p' "$f" | head -1)
    w=$tmp/$name.safetensors
    if ! out=$("$RNNC" init "$f" -o "$w" --seed 1 2>&1); then bad "$name: init" "$out"; continue; fi

    # run, with every target: outputs and loss
    names=$(outputs "$f" "$w" "$inputs")
    [ -n "$names" ] || { bad "$name: no outputs"; continue; }
    for eng in interp $ENGINES; do
        oargs=""
        for o in $names; do oargs="$oargs -o $o=$tmp/$name.$eng.$o.npy"; done
        # shellcheck disable=SC2086
        if ! out=$("$RNNC" run "$f" -w "$w" $inputs --engine=$eng $oargs 2>&1); then
            bad "$name: run --engine=$eng" "$out"; continue 2
        fi
    done
    for eng in $ENGINES; do
        good=1
        for o in $names; do
            if ! out=$("$CLOSE" "$tmp/$name.$eng.$o.npy" "$tmp/$name.interp.$o.npy" $ATOL $RTOL); then
                good=0; bad "$name: run --engine=$eng: $o" "$out"
            fi
        done
        [ $good = 1 ] && ok "$name: run --engine=$eng ($(echo $names | tr '\n' ' '))"
    done
    good=1
    for o in $names; do
        if ! out=$("$CLOSE" "$tmp/$name.jit.$o.npy" "$tmp/$name.c.$o.npy" 0 0); then
            good=0; bad "$name: run: jit and c differ: $o" "$out"
        fi
    done
    [ $good = 1 ] && ok "$name: run: jit gives c's bits"

    # run with the inputs only (no target): the compiled module drops the loss
    only=""
    for tok in $inputs; do
        case $tok in -i) ;; *) n=${tok%%=*}; n=${n%.len} # x.len: the lengths of input x
            if sed -n "s/^ *input  *$n *:.*/x/p" "$f" | grep -q x; then only="$only -i $tok"; fi ;;
        esac
    done
    if [ -n "$only" ]; then
        # the reference's output names once, from the interpreter (no compile)
        # shellcheck disable=SC2086
        a=$("$RNNC" run "$f" -w "$w" $only --engine=interp 2>&1)
        a_st=$?
        for eng in $ENGINES; do
            # shellcheck disable=SC2086
            c=""; [ $a_st -eq 0 ] && c=$("$RNNC" run "$f" -w "$w" $only --engine=$eng 2>&1)
            if [ $? -ne 0 ]; then bad "$name: run without targets --engine=$eng" "$a
$c"
            elif echo "$c" | grep -q '^loss:'; then bad "$name: run without targets --engine=$eng printed a loss" "$c"
            elif [ "$(echo "$a" | cut -d= -f1)" != "$(echo "$c" | cut -d= -f1)" ]; then
                bad "$name: run without targets --engine=$eng: different outputs" "$a
$c"
            else ok "$name: run without targets --engine=$eng"
            fi
        done
    fi

    # grad: loss and every gradient
    for eng in interp $ENGINES; do
        # shellcheck disable=SC2086
        if ! out=$("$RNNC" grad "$f" -w "$w" $inputs --engine=$eng -o "$tmp/$name.$eng.g.safetensors" \
                   --loss-out "$tmp/$name.$eng.loss.npy" 2>&1); then
            bad "$name: grad --engine=$eng" "$out"; continue 2
        fi
    done
    for eng in $ENGINES; do
        if out=$("$CLOSE" "$tmp/$name.$eng.g.safetensors" "$tmp/$name.interp.g.safetensors" $ATOL $RTOL) &&
           out2=$("$CLOSE" "$tmp/$name.$eng.loss.npy" "$tmp/$name.interp.loss.npy" $ATOL $RTOL); then
            ok "$name: grad --engine=$eng ($(echo "$out" | wc -l) gradients)"
        else
            bad "$name: grad --engine=$eng" "$out ${out2:-}"
        fi
    done
    if out=$("$CLOSE" "$tmp/$name.jit.g.safetensors" "$tmp/$name.c.g.safetensors" 0 0) &&
       out2=$("$CLOSE" "$tmp/$name.jit.loss.npy" "$tmp/$name.c.loss.npy" 0 0); then
        ok "$name: grad: jit gives c's bits"
    else
        bad "$name: grad: jit and c differ" "$out ${out2:-}"
    fi

    # Element-wise maps split over two threads (rt_map_rows; every map, by
    # RNNC_MAP_SPLIT_MIN=1, where the measured threshold leaves these small
    # ones whole): a row's operations do not depend on its thread, so
    # both engines give the unsplit run's bits, forward and gradients.
    # One model, a two-layer LSTM, keeps it to a few CPU-seconds.
    [ "$name" = many_to_many ] || continue
    for eng in $ENGINES; do
        # shellcheck disable=SC2086
        if ! out=$(RNNC_THREADS=2 RNNC_MAP_SPLIT_MIN=1 "$RNNC" grad "$f" -w "$w" $inputs --engine=$eng \
                   -o "$tmp/$name.$eng.split.g.safetensors" --loss-out "$tmp/$name.$eng.split.loss.npy" 2>&1); then
            bad "$name: grad --engine=$eng, maps split" "$out"; continue
        fi
        if out=$("$CLOSE" "$tmp/$name.$eng.split.g.safetensors" "$tmp/$name.c.g.safetensors" 0 0) &&
           out2=$("$CLOSE" "$tmp/$name.$eng.split.loss.npy" "$tmp/$name.c.loss.npy" 0 0); then
            ok "$name: grad --engine=$eng, maps split over 2 threads: c's unsplit bits"
        else
            bad "$name: grad --engine=$eng, maps split: bits differ" "$out ${out2:-}"
        fi
    done
done

# train and sample: 40 training steps of the tiny character model give the
# same losses (same tolerance: the data, shuffle and initial weights are
# identical, only the float rounding differs) and the same sampled text
# (a draw flips only if a uniform number lands within ~1e-7 of a
# cumulative probability boundary).
M=tests/train/charlm.rnn
for eng in interp $ENGINES; do
    if ! out=$("$RNNC" train $M --engine=$eng -o "$tmp/t.$eng.safetensors" 2>&1); then
        bad "train --engine=$eng" "$out"
    fi
done
for eng in $ENGINES; do
    if [ -f "$tmp/t.$eng.loss.csv" ] && [ -f "$tmp/t.interp.loss.csv" ] &&
       [ "$(wc -l < "$tmp/t.$eng.loss.csv")" -eq "$(wc -l < "$tmp/t.interp.loss.csv")" ] &&
       # the second log's loss is field NF / 2 + 2 (3 columns, or 4 with accuracy)
       worst=$(paste -d, "$tmp/t.$eng.loss.csv" "$tmp/t.interp.loss.csv" | awk -F, -v a=$ATOL -v r=$RTOL '
            NR > 1 { o = $(NF / 2 + 2); d = $2 - o; if (d < 0) d = -d; if (d > m) m = d; t = o < 0 ? -o : o; if (d > a + r * t) bad = 1 }
            END { printf "%.3g", m; exit bad }'); then
        ok "train --engine=$eng: $(($(wc -l < "$tmp/t.$eng.loss.csv") - 1)) steps, max loss difference $worst"
    else
        bad "train --engine=$eng: losses differ (max ${worst:-?})"
    fi
done
# The C and JIT engines run the same kernel IR with the same float
# operations in the same order (and the optimizer's hyperparameters as the
# same doubles), so 40 steps of training end in the same bits.
if [ -f "$tmp/t.c.safetensors" ] && [ -f "$tmp/t.jit.safetensors" ]; then
    if out=$("$CLOSE" "$tmp/t.jit.safetensors" "$tmp/t.c.safetensors" 0 0); then
        ok "train: jit gives c's weights bit for bit"
    else
        bad "train: jit and c weights differ" "$out"
    fi
fi
a=$("$RNNC" sample $M -w "$tmp/t.interp.safetensors" -n 80 --seed 3 --engine=interp 2>&1)
for eng in $ENGINES; do
    c=$("$RNNC" sample $M -w "$tmp/t.interp.safetensors" -n 80 --seed 3 --engine=$eng 2>&1)
    [ -n "$a" ] && [ "$a" = "$c" ] && ok "sample --engine=$eng: same text" || bad "sample --engine=$eng: different text" "$a
---
$c"
done

# No compiler: a clear message and exit status 1, no crash.
f=examples/one_to_one.rnn
inputs=$(sed -n 's/^# inputs: //p' "$f" | head -1)
# shellcheck disable=SC2086
out=$(RNNC_CC=/nonexistent/cc "$RNNC" run "$f" -w "$tmp/one_to_one.safetensors" $inputs --engine=c 2>&1)
st=$?
if [ $st -eq 1 ] && echo "$out" | grep -q "needs a C compiler"; then ok "no compiler: $out"
else bad "no compiler (exit $st)" "$out"; fi

# A compiler killed by a signal, or one failing silently, is named as
# such (not "a bug in rnnc"), exit status 1.
printf '#!/bin/sh\nkill -9 $$\n' >"$tmp/cc_killed"
printf '#!/bin/sh\nexit 3\n' >"$tmp/cc_silent"
chmod +x "$tmp/cc_killed" "$tmp/cc_silent"
# shellcheck disable=SC2086
out=$(RNNC_CC="$tmp/cc_killed" "$RNNC" run "$f" -w "$tmp/one_to_one.safetensors" $inputs --engine=c 2>&1)
st=$?
if [ $st -eq 1 ] && echo "$out" | grep -q "cc_killed' was killed by signal 9"; then ok "killed compiler: $out"
else bad "killed compiler (exit $st)" "$out"; fi
# shellcheck disable=SC2086
out=$(RNNC_CC="$tmp/cc_silent" "$RNNC" run "$f" -w "$tmp/one_to_one.safetensors" $inputs --engine=c 2>&1)
st=$?
if [ $st -eq 1 ] && echo "$out" | grep -q "cc_silent' exited with status 3 .* and printed nothing"; then ok "silent compiler failure: $out"
else bad "silent compiler failure (exit $st)" "$out"; fi

# RNNC_CC_OPT: a level the C engine does not know is refused by name.
# shellcheck disable=SC2086
out=$(RNNC_CC_OPT=-O7 "$RNNC" run "$f" -w "$tmp/one_to_one.safetensors" $inputs --engine=c 2>&1)
[ $? -eq 1 ] && echo "$out" | grep -q "RNNC_CC_OPT=-O7 is not one of -O0, -O1, -O2, -O3, -Os" &&
    ok "RNNC_CC_OPT=-O7 refused" || bad "RNNC_CC_OPT=-O7" "$out"

# A compiled engine with --precision f64 is a usage error.
for eng in $ENGINES; do
    # shellcheck disable=SC2086
    out=$("$RNNC" run "$f" -w "$tmp/one_to_one.safetensors" $inputs --engine=$eng --precision f64 2>&1)
    [ $? -eq 2 ] && ok "--precision f64 with --engine=$eng refused" || bad "--precision f64 with --engine=$eng" "$out"
done

# The JIT needs no C compiler.
# shellcheck disable=SC2086
out=$(RNNC_CC=/nonexistent/cc "$RNNC" run "$f" -w "$tmp/one_to_one.safetensors" $inputs --engine=jit 2>&1)
[ $? -eq 0 ] && ok "--engine=jit without a C compiler" || bad "--engine=jit without a C compiler" "$out"

# Memory: sizes that need more than the machine (or RNNC_MEMORY_LIMIT)
# are an error naming them, before anything is allocated.
for eng in interp $ENGINES; do
    # shellcheck disable=SC2086
    out=$(RNNC_MEMORY_LIMIT=100 "$RNNC" run "$f" -w "$tmp/one_to_one.safetensors" $inputs --engine=$eng 2>&1)
    if [ $? -eq 1 ] && echo "$out" | grep -q "the model at B=[0-9]* needs .* of memory, more than the limit of 100 bytes (RNNC_MEMORY_LIMIT)"
    then ok "--engine=$eng over RNNC_MEMORY_LIMIT: $out"; else bad "--engine=$eng over RNNC_MEMORY_LIMIT" "$out"; fi
done
# shellcheck disable=SC2086
out=$(RNNC_MEMORY_LIMIT=lots "$RNNC" run "$f" -w "$tmp/one_to_one.safetensors" $inputs --engine=c 2>&1)
[ $? -eq 1 ] && echo "$out" | grep -q "RNNC_MEMORY_LIMIT=lots is not a number of bytes" && ok "RNNC_MEMORY_LIMIT=lots refused" ||
    bad "RNNC_MEMORY_LIMIT=lots" "$out"

# rnnc compile --emit=llvm|asm|obj: the kernel functions through LLVM.  The
# IR must be accepted by llvm-as; the object must define the kernels, call
# nothing but the runtime and libc, and link with the runtime into a
# program whose arena function answers; --target makes another machine's
# object.
f=examples/stacked.rnn
if out=$("$RNNC" compile $f --train --emit=llvm -o "$tmp/k.ll" 2>&1) && out=$(llvm-as-14 "$tmp/k.ll" -o "$tmp/k.bc" 2>&1)
then ok "compile --emit=llvm: llvm-as accepts it"; else bad "compile --emit=llvm" "$out"; fi
if out=$("$RNNC" compile $f --train --emit=asm -o "$tmp/k.s" 2>&1) && grep -q 'forecast_kernel_train:' "$tmp/k.s"
then ok "compile --emit=asm"; else bad "compile --emit=asm" "$out"; fi
if out=$("$RNNC" compile $f --train --emit=obj -o "$tmp/k.o" 2>&1); then
    undef=$(nm -u "$tmp/k.o" | awk '{print $2}' | grep -v '^rt_\|^rnnrt_model_\|^snprintf$\|^logf$\|^mem\(set\|cpy\|move\)$')
    san=""
    nm "$B/librnnc.a" 2>/dev/null | grep -q __asan_init && san="-fsanitize=address,undefined"
    cat >"$tmp/main.c" <<'EOC'
#include <stdint.h>
#include <stdio.h>
#include <stddef.h>
int forecast_kernel_forward(const int64_t *, const void *const *, void *const *, void *, char *, size_t);
int64_t forecast_kernel_forward_arena(const int64_t *);
int64_t forecast_kernel_train_arena(const int64_t *);
int main(void) {
    int64_t sym[4] = {8, 20, 20, 20};
    printf("%d %lld %lld\n", forecast_kernel_forward != NULL, (long long)forecast_kernel_forward_arena(sym),
           (long long)forecast_kernel_train_arena(sym));
    return 0;
}
EOC
    # shellcheck disable=SC2086
    if [ -z "$undef" ] && nm "$tmp/k.o" | grep -q ' T forecast_kernel_step$' &&
       out=$(cc $san -o "$tmp/k.exe" "$tmp/main.c" "$tmp/k.o" "$B/librnnc.a" -lm -pthread 2>&1) &&
       out=$("$tmp/k.exe") && echo "$out" | grep -q '^1 [1-9][0-9]* [1-9][0-9]*$'
    then ok "compile --emit=obj: links with the runtime (arena bytes: ${out#1 })"
    else bad "compile --emit=obj" "$undef $out"; fi
else bad "compile --emit=obj" "$out"; fi
if out=$("$RNNC" compile $f --emit=obj --target aarch64-linux-gnu -o "$tmp/a.o" 2>&1) &&
   readelf -h "$tmp/a.o" | grep -q AArch64
then ok "compile --emit=obj --target aarch64-linux-gnu"; else bad "compile --target aarch64" "$out"; fi
out=$("$RNNC" compile $f --emit=obj --target nonsense-triple -o "$tmp/b.o" 2>&1)
[ $? -eq 1 ] && echo "$out" | grep -q "unknown target" && ok "compile --target nonsense: $out" ||
    bad "compile --target nonsense" "$out"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
