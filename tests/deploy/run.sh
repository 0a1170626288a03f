#!/bin/sh
# tests/deploy/run.sh BUILD - `rnnc compile` end to end: the C files it
# writes compile without a warning, run, and give the interpreter's numbers.
#
#  1. every examples/*.rnn (with --train) compiles under gcc and clang with
#     -std=c11 -Wall -Wextra -pedantic -Werror (gcc with the runtime inlined
#     for three of them, linked for the others); stacked.rnn also with
#     --runtime=link against BUILD/librnnrt.a and runtime/rnnrt.h;
#  2. examples/deploy builds and runs (its own checks: the streaming step
#     equals the forward pass, training lowers the loss), and its outputs
#     match `rnnc run` and its weights after 1 and after 40 training steps
#     match `rnnc train` on the same data;
#  3. two models with different prefixes in one program give the bytes each
#     gives alone, with the runtime inline in both or linked for one; a
#     model with --embed-weights gives the bytes of the same weights loaded;
#  4. the API's failure paths, and the weights loader on every malformed
#     file of tests/bad/tensors: status FORMAT and the message rnnc gives
#     (the .expect text; one reader, runtime/st_format.c), naming the file;
#  5. the generated file has the same size for a maximum sequence length of
#     10 and of 100000;
#  6. `rnnc compile --emit=obj` with the same header: the object linked with
#     librnnrt.a gives the C file's results, statuses and messages, byte for
#     byte (why exactly: the section's comment), with --embed-weights too;
#     --emit=llvm through llvm-as-14, --emit=asm, --no-api;
#  7. the demo's program, examples/demo/fortune.c, on its model compiled
#     with a training checkpoint's weights embedded;
#  8. dropout (tests/deploy/dropout.rnn, dropout_api.c): the compiled
#     forward pass has none (it gives `rnnc run`'s output) and three
#     compiled training steps give the weights of `rnnc train --seed 0`
#     (the same masks), not those of --seed 1, which NAME_set_seed(m, 1)
#     gives; its object (--emit=obj) trains to the C file's bytes;
#  9. the weights' packs made once follow the weights: the step equals the
#     forward pass, new weights (loaded, trained) are used after the packs
#     were made, the C file and the object agree (tests/deploy/stream.c);
# 10. per-example lengths (tests/deploy/lengths.rnn, lengths_api.c): the
#     forward pass, the training step's loss and gradient on a padded batch
#     (NaN at the padded steps) equal `rnnc run` and `rnnc grad` with the
#     same lengths; a stream of steps with per-example resets equals the
#     forward pass over each example's own sequence; bad lengths give
#     NAME_ERR_DATA naming the input (NULL lengths NAME_ERR_ARG, as every
#     NULL pointer); the object gives the C file's bytes;
#     an input x_len beside x.len (both the field x_len) is refused.
#
# Tolerances (npycmp --atol A --rtol R: |got - want| <= A + R |want|): the
# compiled kernels and the interpreter do the same float32 operations, but
# sums (GEMM, reductions) in another order: 1e-5 relative is ~100 ulp, and
# 1e-6 absolute covers values near 0.  After training steps, Adam moves a
# weight by about lr = 1e-3 a step with the ratio m / sqrt(v) of rounded
# gradients, which amplifies their rounding where a gradient is tiny; the
# same 1e-6 (a thousandth of a step) holds after 40 steps.
set -u
B=${1:-build}
cd "$(dirname "$0")/../.." || exit 2
ROOT=$PWD
RNNC=$ROOT/$B/rnnc
NPYCMP=$ROOT/$B/tools/npycmp
# The runtime library the linked programs use: $B's, or $RNNRT_LIB.  The
# sanitizer build has none of its own (a sanitized one would need every
# test program linked with the sanitizer): `make test` passes the plain
# build's, so the sanitized rnnc still writes every object and C file.
RNNRT_LIB=${RNNRT_LIB:-$ROOT/$B/librnnrt.a}
FLAGS="-std=c11 -Wall -Wextra -pedantic -Werror"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
pass=0; fail=0

ok()   { pass=$((pass + 1)); echo "PASS $1"; }
bad()  { fail=$((fail + 1)); echo "FAIL $1"; [ -f "$tmp/log" ] && sed 's/^/    /' "$tmp/log" | tail -n 25; }
# check NAME COMMAND...: runs it with its output in $tmp/log.
check() { name=$1; shift; if "$@" >"$tmp/log" 2>&1; then ok "$name"; else bad "$name"; fi; }

[ -x "$NPYCMP" ] || { echo "FAIL $NPYCMP missing (make tests)"; exit 1; }
compilers=""
for cc in gcc clang; do command -v "$cc" >/dev/null 2>&1 && compilers="$compilers $cc"; done
[ -n "$compilers" ] || { echo "FAIL no C compiler (gcc or clang)"; exit 1; }

# ---- 1. every example compiles, warning-free ----------------------------------
mkdir -p "$tmp/ex"
for f in examples/*.rnn; do
    n=$(basename "$f" .rnn)
    # A model with lengths with the runtime linked: its own code (the API's
    # fields, descriptor, kernels) is what is new; the runtime's text is the
    # others' (a file carrying it takes seconds to compile).
    rt=""; inc=""
    grep -q '^ *input .* lengths' "$f" && rt=--runtime=link && inc=-Iruntime
    if ! "$RNNC" compile "$f" --train $rt -o "$tmp/ex/$n.c" --header "$tmp/ex/$n.h" >"$tmp/log" 2>&1; then
        bad "compile $n"; continue
    fi
    # gcc -O2 on a file carrying the runtime takes 5-7 s (CI time): three
    # examples of different shapes keep it (the runtime inlined into their
    # model code, where gcc's flow warnings would show); the others are
    # compiled by gcc with the runtime linked (their own code, the same
    # -O2 warnings) and by clang with it inlined.
    case $n in encoder_decoder | stacked | user_cell) gcc_link=0 ;; *) gcc_link=1 ;; esac
    if [ -z "$rt" ] && [ $gcc_link = 1 ] && ! "$RNNC" compile "$f" --train --runtime=link -o "$tmp/ex/${n}_link.c" \
        --header "$tmp/ex/${n}_link.h" >"$tmp/log" 2>&1; then
        bad "compile $n --runtime=link"; continue
    fi
    for cc in $compilers; do
        # gcc's flow warnings need the optimizer; clang warns the same at -O0.
        opt=-O0; [ "$cc" = gcc ] && opt=-O2
        if [ -z "$rt" ] && [ "$cc" = gcc ] && [ $gcc_link = 1 ]; then
            check "$cc ${n}_link.c --runtime=link" "$cc" $FLAGS $opt -Iruntime -c "$tmp/ex/${n}_link.c" -o "$tmp/ex/${n}_link.o"
        else
            check "$cc $n.c $rt" "$cc" $FLAGS $opt $inc -c "$tmp/ex/$n.c" -o "$tmp/ex/$n.o"
        fi
    done
done
if [ -f "$RNNRT_LIB" ] && [ -f runtime/rnnrt.h ]; then
    "$RNNC" compile examples/stacked.rnn --runtime=link -o "$tmp/ex/stacked_link.c" >"$tmp/log" 2>&1 || bad "compile --runtime=link"
    for cc in $compilers; do
        check "$cc stacked.rnn --runtime=link" "$cc" $FLAGS -O2 -Iruntime -c "$tmp/ex/stacked_link.c" -o "$tmp/ex/stacked_link.o"
    done
else
    echo "SKIP --runtime=link: no $RNNRT_LIB"
fi

# ---- 2. the deploy example against the interpreter --------------------------------
d=$tmp/deploy
mkdir -p "$d"
cc1=$(echo $compilers | cut -d' ' -f1)
if make -s -C examples/deploy RNNC="$RNNC" OUT="$d" CC="$cc1" >"$tmp/log" 2>&1 &&
   "$RNNC" init examples/stacked.rnn -o "$d/w.safetensors" --seed 1 >>"$tmp/log" 2>&1; then
    ok "examples/deploy builds"
    check "examples/deploy runs (step = forward, the loss falls)" "$d/forecast" "$d/w.safetensors" "$d"
    cat "$tmp/log"
    if "$RNNC" run examples/stacked.rnn --engine=interp -w "$d/w.safetensors" -i x="$d/x.npy" -i y="$d/y.npy" \
         -o yhat="$d/ref_yhat.npy" -o hn="$d/ref_hn.npy" -o cn="$d/ref_cn.npy" -o loss="$d/ref_loss.npy" >"$tmp/log" 2>&1; then
        for o in yhat hn cn; do
            check "deploy $o = rnnc run" "$NPYCMP" --atol 1e-6 --rtol 1e-5 "$d/$o.npy" "$d/ref_$o.npy"
        done
        check "deploy first training loss = rnnc run's loss" "$NPYCMP" --atol 1e-6 --rtol 1e-5 "$d/loss0.npy" "$d/ref_loss.npy"
    else
        bad "rnnc run on the deploy inputs"
    fi
    for steps in 1 40; do
        got=$d/trained.safetensors; [ "$steps" = 1 ] && got=$d/step1.safetensors
        if "$RNNC" train examples/stacked.rnn --engine=interp -w "$d/w.safetensors" --set "data=npy(x=\"$d/x.npy\", y=\"$d/y.npy\")" \
             --set batch=3 --set steps=$steps -o "$d/ck$steps.safetensors" >"$tmp/log" 2>&1; then
            # want = the compiled model's weights; the checkpoint also has optimizer state.
            check "deploy weights after $steps training steps = rnnc train's" \
                "$NPYCMP" --atol 1e-6 --rtol 1e-5 "$d/ck$steps.safetensors" "$got"
        else
            bad "rnnc train $steps steps"
        fi
    done
else
    bad "examples/deploy builds"
fi

# ---- 3. two models in one program ---------------------------------------------------
t=$tmp/two
mkdir -p "$t/both" "$t/a" "$t/b" "$t/link"
if "$RNNC" compile examples/stacked.rnn --prefix fa -o "$t/fa.c" --header "$t/fa.h" >"$tmp/log" 2>&1 &&
   "$RNNC" compile examples/many_to_one.rnn --prefix sb -o "$t/sb.c" --header "$t/sb.h" >>"$tmp/log" 2>&1 &&
   "$RNNC" init examples/stacked.rnn -o "$t/wa.safetensors" --seed 2 >>"$tmp/log" 2>&1 &&
   "$RNNC" init examples/many_to_one.rnn -o "$t/wb.safetensors" --seed 3 >>"$tmp/log" 2>&1; then
    src=tests/deploy/two_models.c
    # each model's file is compiled once and linked into every program that
    # uses it (a file with the runtime inline takes seconds to compile)
    check "two models: compile A" "$cc1" $FLAGS -O2 -I"$t" -c -o "$t/fa.o" "$t/fa.c"
    check "two models: compile B" "$cc1" $FLAGS -O2 -I"$t" -c -o "$t/sb.o" "$t/sb.c"
    check "two models: build both" "$cc1" $FLAGS -O2 -I"$t" -DWITH_A -DWITH_B -o "$t/both/p" $src "$t/fa.o" "$t/sb.o" -lm
    check "two models: build A alone" "$cc1" $FLAGS -O2 -I"$t" -DWITH_A -o "$t/a/p" $src "$t/fa.o" -lm
    check "two models: build B alone" "$cc1" $FLAGS -O2 -I"$t" -DWITH_B -o "$t/b/p" $src "$t/sb.o" -lm
    for v in both a b; do check "two models: run $v" "$t/$v/p" "$t/wa.safetensors" "$t/wb.safetensors" "$t/$v"; done
    check "two models: A in one program = A alone" sh -c "cmp '$t/both/a_yhat.bin' '$t/a/a_yhat.bin' && cmp '$t/both/a_hn.bin' '$t/a/a_hn.bin' && cmp '$t/both/a_cn.bin' '$t/a/a_cn.bin'"
    check "two models: B in one program = B alone" cmp "$t/both/b_probs.bin" "$t/b/b_probs.bin"
    if [ -f "$RNNRT_LIB" ]; then
        # B with the runtime from librnnrt.a, A with its own inside.
        if "$RNNC" compile examples/many_to_one.rnn --prefix sb --runtime=link -o "$t/sb_link.c" --header "$t/sb.h" >"$tmp/log" 2>&1; then
            check "two models: build, one linked to librnnrt.a" "$cc1" $FLAGS -O2 -I"$t" -Iruntime -DWITH_A -DWITH_B -o "$t/link/p" \
                $src "$t/fa.o" "$t/sb_link.c" "$RNNRT_LIB" -lm -pthread
            check "two models: run, one linked" "$t/link/p" "$t/wa.safetensors" "$t/wb.safetensors" "$t/link"
            check "two models: linked runtime = inline runtime" sh -c "cmp '$t/link/a_yhat.bin' '$t/a/a_yhat.bin' && cmp '$t/link/b_probs.bin' '$t/b/b_probs.bin'"
        else
            bad "compile many_to_one --runtime=link"
        fi
    fi

    # Embedded weights: the same numbers as the same weights loaded.
    mkdir -p "$t/emb"
    if "$RNNC" compile examples/stacked.rnn --prefix fa -w "$t/wa.safetensors" --embed-weights \
         -o "$t/emb/fa.c" --header "$t/emb/fa.h" >"$tmp/log" 2>&1 &&
       "$cc1" $FLAGS -O2 -I"$t/emb" -o "$t/emb/p" tests/deploy/embedded.c "$t/emb/fa.c" -lm >>"$tmp/log" 2>&1; then
        check "embedded weights: run, save, reload" "$t/emb/p" "$t/emb"
        check "embedded weights = loaded weights" cmp "$t/emb/a_yhat.bin" "$t/a/a_yhat.bin"
    else
        bad "embedded weights: compile"
    fi
    # Weights of another model: refused, naming the file; an existing output
    # is left as it was (the file is written to a temporary name first).
    for e in c obj; do
        echo keep >"$t/emb/old.$e"
        "$RNNC" compile examples/stacked.rnn -w "$t/wb.safetensors" --embed-weights --emit=$e -o "$t/emb/old.$e" >"$tmp/log" 2>&1
        rc=$?
        if [ $rc -eq 1 ] && grep -q "^rnnc: $t/wb.safetensors: parameter '.*' has shape" "$tmp/log" &&
           [ "$(cat "$t/emb/old.$e")" = keep ]; then
            ok "--emit=$e --embed-weights: another model's weights refused, naming the file"
        else
            bad "--emit=$e --embed-weights: another model's weights refused, naming the file"
        fi
    done

    # ---- 4. failure paths and malformed weights files ------------------------------------
    if "$cc1" $FLAGS -O2 -I"$t" -o "$t/api_checks" tests/deploy/api_checks.c "$t/fa.o" -lm >"$tmp/log" 2>&1; then
        "$t/api_checks" "$t/wa.safetensors" "$t/wb.safetensors" tests/bad/tensors/*.safetensors >"$t/api.out" 2>&1
        rc=$?
        cp "$t/api.out" "$tmp/log"
        if [ $rc -eq 0 ]; then ok "api failure paths"; else bad "api failure paths"; fi
        for f in tests/bad/tensors/*.safetensors; do
            want=$(cat "${f%.safetensors}.expect")
            line=$(grep -F " $f: " "$t/api.out" | head -n 1)
            case "$line" in
            "4 $f: "*"$want"*) ok "loader: $(basename "$f")" ;;
            *) echo "got: $line" >"$tmp/log"; echo "want: 4 $f: ...$want..." >>"$tmp/log"; bad "loader: $(basename "$f")" ;;
            esac
        done
    else
        bad "api_checks builds"
    fi
else
    bad "two models: compile and init"
fi

# ---- 4b. weights too large for the machine: refused by their size, before allocating -----
# (huge_weights.rnn: 1.2 TiB of weights and packs, a small arena at batch 1)
mkdir -p "$tmp/hw"
if "$RNNC" compile tests/deploy/huge_weights.rnn -o "$tmp/hw/hw.c" --header "$tmp/hw/hw.h" >"$tmp/log" 2>&1 &&
   "$cc1" $FLAGS -O1 -I"$tmp/hw" -o "$tmp/hw/p" tests/deploy/huge_create.c "$tmp/hw/hw.c" -lm >"$tmp/log" 2>&1; then
    "$tmp/hw/p" >"$tmp/log" 2>&1
    if [ $? -eq 0 ] && grep -q "hw_create: the model at the maxima batch=1, T_x=1 needs .* TiB of memory, more than" "$tmp/log"; then
        ok "create: weights and packs beyond the machine refused by size"
    else
        bad "create: weights and packs beyond the machine refused by size"
    fi
else
    bad "create: huge_weights compiles"
fi

# ---- 5. the file does not grow with the sequence length ----------------------------------
mkdir -p "$tmp/s10" "$tmp/s100000"
for L in 10 100000; do
    sed "s/seq<\[3\]>/seq<[3], $L>/; s/seq<\[1\]>/seq<[1], $L>/" examples/stacked.rnn >"$tmp/s$L/m.rnn"
    (cd "$tmp/s$L" && "$RNNC" compile m.rnn --train -o m.c) >"$tmp/log" 2>&1 || bad "compile max length $L"
done
grep -q "seq<\[3\], 100000>" "$tmp/s100000/m.rnn" || bad "the length did not go into the model"
s1=$(wc -c <"$tmp/s10/m.c"); s2=$(wc -c <"$tmp/s100000/m.c")
echo "generated size: $s1 bytes (max length 10), $s2 bytes (max length 100000)" >"$tmp/log"
if [ "$s1" -eq "$s2" ]; then ok "file size independent of the sequence length ($s1 bytes)"; else bad "file size depends on the sequence length"; fi

# ---- 6. the same API as an object file: rnnc compile --emit=obj ----------------------
# The object holds the kernels and the API (thin functions over
# runtime/model_api.c in librnnrt.a, driven by the model's descriptor);
# with the header `rnnc compile --header` writes for the C file (the same
# bytes), a program links with it, librnnrt.a, -lm and -lpthread instead of
# the C file, and gives the C file's results byte for byte.  Equality is
# exact, not a tolerance: both files' kernels are written from the same
# kernel IR (docs/kernel-ir.md) as the same float32 operations in the same
# order - no fast-math, no FMA contraction (the C file turns it off, LLVM's
# default fuses only what asks for it), sums in index order, exp/tanh/
# sigmoid the runtime's algorithms - and both call the same runtime, whose
# SGEMM picks the same CPU path in both programs; the JIT tests check the
# same equality (tests/engine/run.sh, tests/unit/test_llvm_jit.c).  The
# API around the kernels is one code in both (runtime/model_api.c, on the
# model's descriptor, which the C file writes as C and the object as LLVM
# constants); its state handling (weights, carries, optimizer state,
# errors) is compared too: every status and message of api_checks.c, and
# charlm_api.c's truncated-BPTT training, failed step, reset, streaming.
if [ -f "$RNNRT_LIB" ]; then
    o=$tmp/obj
    mkdir -p "$o/c" "$o/o"
    RTLIBS="$RNNRT_LIB -lm -lpthread"
    # examples/deploy's `make obj`: the model as an object, the program on it.
    if make -s -C examples/deploy obj RNNC="$RNNC" RNNRT="$RNNRT_LIB" OUT="$d" CC="$cc1" >"$tmp/log" 2>&1; then
        ok "examples/deploy: make obj (the object of --emit=obj, librnnrt.a)"
        check "--emit=obj header = the C file's header" cmp "$d/obj/forecast.h" "$d/forecast.h"
        undef=$(nm -u "$d/obj/forecast.o" | awk '{print $2}' | grep -v '^rt_\|^rnnrt_model_\|^snprintf$\|^logf$\|^mem\(set\|cpy\|move\)$')
        echo "$undef" >"$tmp/log"
        if [ -z "$undef" ]; then ok "--emit=obj calls only the runtime and libc"; else bad "--emit=obj calls only the runtime and libc"; fi
        check "examples/deploy runs on the object" "$d/forecast_obj" "$d/w.safetensors" "$o/o"
        for f in yhat.npy hn.npy cn.npy loss0.npy step1.safetensors trained.safetensors; do
            check "object = C file: $f" cmp "$o/o/$f" "$d/$f"
        done
    else
        bad "examples/deploy: make obj"
    fi
    if "$RNNC" compile examples/stacked.rnn --prefix fa --emit=obj -o "$o/fa.o" --header "$o/fa.h" >"$tmp/log" 2>&1 &&
       "$RNNC" compile examples/many_to_one.rnn --prefix sb --emit=obj -o "$o/sb.o" --header "$o/sb.h" >>"$tmp/log" 2>&1; then
        # shellcheck disable=SC2086
        if "$cc1" $FLAGS -O2 -I"$o" -o "$o/api_checks" tests/deploy/api_checks.c "$o/fa.o" $RTLIBS >"$tmp/log" 2>&1; then
            "$o/api_checks" "$t/wa.safetensors" "$t/wb.safetensors" tests/bad/tensors/*.safetensors >"$o/api.out" 2>&1
            rc=$?
            cp "$o/api.out" "$tmp/log"
            if [ $rc -eq 0 ]; then ok "object: api failure paths"; else bad "object: api failure paths"; fi
            check "object: every status and message = the C file's" cmp "$o/api.out" "$t/api.out"
        else
            bad "object: api_checks builds"
        fi
        # --embed-weights in the object: the C file's embedded numbers and header.
        mkdir -p "$o/emb"
        if "$RNNC" compile examples/stacked.rnn --prefix fa --emit=obj -w "$t/wa.safetensors" --embed-weights \
             -o "$o/emb.o" --header "$o/emb/fa.h" >"$tmp/log" 2>&1; then
            check "object, embedded weights: header = the C file's" cmp "$o/emb/fa.h" "$t/emb/fa.h"
            # shellcheck disable=SC2086
            check "object, embedded weights: builds" "$cc1" $FLAGS -O2 -I"$o/emb" -o "$o/emb/p" tests/deploy/embedded.c "$o/emb.o" $RTLIBS
            check "object, embedded weights: run, save, reload" "$o/emb/p" "$o/emb"
            check "object, embedded weights = the C file's" cmp "$o/emb/a_yhat.bin" "$t/emb/a_yhat.bin"
        else
            bad "compile --emit=obj --embed-weights"
        fi
        # shellcheck disable=SC2086
        check "object: two models in one program build" "$cc1" $FLAGS -O2 -I"$o" -DWITH_A -DWITH_B -o "$o/two" \
            tests/deploy/two_models.c "$o/fa.o" "$o/sb.o" $RTLIBS
        mkdir -p "$o/two.out"
        check "object: two models run" "$o/two" "$t/wa.safetensors" "$t/wb.safetensors" "$o/two.out"
        check "object: two models = the C files" sh -c "cmp '$o/two.out/a_yhat.bin' '$t/both/a_yhat.bin' && cmp '$o/two.out/a_cn.bin' '$t/both/a_cn.bin' && cmp '$o/two.out/b_probs.bin' '$t/both/b_probs.bin'"
    else
        bad "compile fa, sb --emit=obj"
    fi
    m=examples/many_to_many.rnn
    if "$RNNC" compile $m --train -o "$o/c/charlm.c" --header "$o/c/charlm.h" >"$tmp/log" 2>&1 &&
       "$RNNC" compile $m --train --emit=obj -o "$o/charlm.o" --header "$o/charlm.h" >>"$tmp/log" 2>&1 &&
       "$RNNC" init $m -o "$o/charlm_w.safetensors" --seed 4 >>"$tmp/log" 2>&1; then
        check "charlm (tbptt): the header names charlm_reset" grep -q "until charlm_reset or another" "$o/c/charlm.h"
        check "charlm (tbptt): C program builds" "$cc1" $FLAGS -O2 -I"$o/c" -o "$o/c/p" tests/deploy/charlm_api.c "$o/c/charlm.c" -lm
        # shellcheck disable=SC2086
        check "charlm (tbptt): object program builds" "$cc1" $FLAGS -O2 -I"$o" -o "$o/o/p" tests/deploy/charlm_api.c "$o/charlm.o" $RTLIBS
        check "charlm (tbptt): C program runs" "$o/c/p" "$o/charlm_w.safetensors" "$o/c"
        check "charlm (tbptt): object program runs" "$o/o/p" "$o/charlm_w.safetensors" "$o/o"
        check "charlm (tbptt): object = C file (training, errors, reset, step, forward)" \
            sh -c "cmp '$o/o/charlm.bin' '$o/c/charlm.bin' && cmp '$o/o/charlm.safetensors' '$o/c/charlm.safetensors'"
    else
        bad "charlm: compile and init"
    fi
    # The other forms: LLVM IR that llvm-as accepts, assembly, and the kernels alone.
    llvm_as=""
    for x in llvm-as-14 /usr/lib/llvm-14/bin/llvm-as; do command -v "$x" >/dev/null 2>&1 && { llvm_as=$x; break; }; done
    if [ -n "$llvm_as" ]; then
        if "$RNNC" compile examples/stacked.rnn --train --emit=llvm -o "$o/m.ll" >"$tmp/log" 2>&1 &&
           "$llvm_as" "$o/m.ll" -o "$o/m.bc" >>"$tmp/log" 2>&1 && grep -q '^define .*@forecast_train_step(' "$o/m.ll"
        then ok "--emit=llvm with the API: $llvm_as accepts it"; else bad "--emit=llvm with the API"; fi
    else
        echo "SKIP --emit=llvm through llvm-as: no llvm-as-14"
    fi
    check "--emit=asm has the API" sh -c "'$RNNC' compile examples/stacked.rnn --emit=asm -o '$o/m.s' && grep -q '^forecast_create:' '$o/m.s'"
    check "--emit=obj --no-api: the kernels alone" sh -c "'$RNNC' compile examples/stacked.rnn --emit=obj --no-api -o '$o/k.o' &&
        nm '$o/k.o' | grep -q ' T forecast_kernel_forward\$' && ! nm '$o/k.o' | grep -q 'forecast_create\|rnnrt_model'"
else
    echo "SKIP --emit=obj: no $RNNRT_LIB"
fi

# ---- 7. the demo's program (make demo, examples/demo.sh) ----------------------
# The demo's model, briefly trained on tiny.txt cut into "%" lines (the
# demo's text, fortunes-min, need not be installed here), its checkpoint
# compiled with --embed-weights, and examples/demo/fortune.c built on it
# with every compiler, warning-free: it prints the fortunes asked for,
# in the text's characters, the same for the same seed.
d=$tmp/demo
mkdir -p "$d"
cp examples/demo/fortunes.rnn examples/demo/fortune.c "$d/"
awk '{ print } NR % 3 == 0 { print "%" }' examples/data/tiny.txt >"$d/fortunes.txt"
if (cd "$d" && "$RNNC" train fortunes.rnn --set steps=20 --set batch=4 --set seq_len=32 -o ck.safetensors &&
    "$RNNC" compile fortunes.rnn -w ck.safetensors --embed-weights -o fortunes.c --header fortunes.h) >"$tmp/log" 2>&1; then
    for cc in $compilers; do
        # shellcheck disable=SC2086
        if "$cc" $FLAGS -O2 -I"$d" -o "$d/fortune_$cc" "$d/fortune.c" "$d/fortunes.c" -lm >"$tmp/log" 2>&1 &&
           "$d/fortune_$cc" "$d/fortunes.txt" 3 7 >"$d/out_$cc" 2>"$tmp/log" &&
           [ "$(grep -c '^%$' "$d/out_$cc")" -eq 2 ] &&
           [ -z "$(tr -d "$(tr -d '\n' <"$d/fortunes.txt")\n" <"$d/out_$cc")" ] &&
           "$d/fortune_$cc" "$d/fortunes.txt" 3 7 | cmp -s - "$d/out_$cc"; then
            ok "demo: fortune.c builds with $cc on the compiled checkpoint, prints 3 fortunes"
        else
            bad "demo: fortune.c with $cc"
        fi
    done
else
    bad "demo: train and compile examples/demo/fortunes.rnn"
fi

# ---- 8. dropout: the compiled train step draws rnnc train's masks -------------------
dd=$tmp/dropout
mkdir -p "$dd"
# shellcheck disable=SC2086
if "$RNNC" compile tests/deploy/dropout.rnn --train -o "$dd/dropfc.c" --header "$dd/dropfc.h" >"$tmp/log" 2>&1 &&
   "$cc1" $FLAGS -O2 -I"$dd" -o "$dd/p" tests/deploy/dropout_api.c "$dd/dropfc.c" -lm >>"$tmp/log" 2>&1 &&
   "$RNNC" init tests/deploy/dropout.rnn --seed 2 -o "$dd/w.safetensors" >>"$tmp/log" 2>&1 &&
   "$dd/p" "$dd/w.safetensors" "$dd" >>"$tmp/log" 2>&1; then
    ok "dropout: the C program builds warning-free and trains"
    check "dropout: compiled forward = rnnc run (no dropout)" sh -c \
        "'$RNNC' run tests/deploy/dropout.rnn --engine=interp -w '$dd/w.safetensors' -i x='$dd/x.npy' -o yhat='$dd/ref.npy' &&
         '$NPYCMP' --atol 1e-6 --rtol 1e-5 '$dd/yhat.npy' '$dd/ref.npy'"
    for s in 0 1; do
        "$RNNC" train tests/deploy/dropout.rnn --engine=c --seed $s -w "$dd/w.safetensors" \
            --set "data=npy(x=\"$dd/x.npy\", y=\"$dd/y.npy\")" -o "$dd/ck$s.safetensors" >"$tmp/log" 2>&1 || bad "dropout: rnnc train --seed $s"
    done
    check "dropout: 3 compiled train steps = rnnc train --seed 0's" \
        "$NPYCMP" --atol 1e-6 --rtol 1e-5 "$dd/ck0.safetensors" "$dd/trained.safetensors"
    check "dropout: ... and not --seed 1's (other masks)" sh -c \
        "! '$NPYCMP' --atol 1e-6 --rtol 1e-5 '$dd/ck1.safetensors' '$dd/trained.safetensors'"
    check "dropout: after set_seed(1), rnnc train --seed 1's" \
        "$NPYCMP" --atol 1e-6 --rtol 1e-5 "$dd/ck1.safetensors" "$dd/trained1.safetensors"
    # The object of --emit=obj draws the masks with librnnrt.a's rt_dropout_mask.
    if [ -f "$RNNRT_LIB" ]; then
        mkdir -p "$dd/o"
        # shellcheck disable=SC2086
        check "dropout: --emit=obj trains to the C file's bytes" sh -c \
            "'$RNNC' compile tests/deploy/dropout.rnn --train --emit=obj -o '$dd/o/dropfc.o' --header '$dd/o/dropfc.h' &&
             '$cc1' $FLAGS -O2 -I'$dd/o' -o '$dd/o/p' tests/deploy/dropout_api.c '$dd/o/dropfc.o' '$RNNRT_LIB' -lm -lpthread &&
             '$dd/o/p' '$dd/w.safetensors' '$dd/o' && cmp '$dd/o/trained.safetensors' '$dd/trained.safetensors' &&
             cmp '$dd/o/trained1.safetensors' '$dd/trained1.safetensors'"
    fi
else
    bad "dropout: compile, build, init, run"
fi

# ---- 9. the weights' packs follow the weights (lower/kprepare.h) -----------------------
# The forward pass and the step read the weights packed once, by their
# prepare functions, at the first call after the weights change:
# tests/deploy/stream.c checks the step against the forward pass, and that
# weights loaded or trained after the packs were made are the ones used;
# the C file and the object give the same bytes.
s=$tmp/stream
mkdir -p "$s/c" "$s/o"
if "$RNNC" compile tests/deploy/stream.rnn --train --prefix sm -o "$s/c/sm.c" --header "$s/c/sm.h" >"$tmp/log" 2>&1 &&
   "$RNNC" init tests/deploy/stream.rnn -o "$s/w1.safetensors" --seed 1 >>"$tmp/log" 2>&1 &&
   "$RNNC" init tests/deploy/stream.rnn -o "$s/w2.safetensors" --seed 2 >>"$tmp/log" 2>&1; then
    check "stream: C program builds" "$cc1" $FLAGS -O2 -I"$s/c" -o "$s/c/p" tests/deploy/stream.c "$s/c/sm.c" -lm
    check "stream: packs follow the weights (C file)" "$s/c/p" "$s/w1.safetensors" "$s/w2.safetensors" "$s/c"
    if [ -f "$RNNRT_LIB" ] &&
       "$RNNC" compile tests/deploy/stream.rnn --train --prefix sm --emit=obj -o "$s/o/sm.o" --header "$s/o/sm.h" >"$tmp/log" 2>&1; then
        # shellcheck disable=SC2086
        check "stream: object program builds" "$cc1" $FLAGS -O2 -I"$s/o" -o "$s/o/p" tests/deploy/stream.c "$s/o/sm.o" $RNNRT_LIB -lm -lpthread
        check "stream: packs follow the weights (object)" "$s/o/p" "$s/w1.safetensors" "$s/w2.safetensors" "$s/o"
        check "stream: object = C file" cmp "$s/o/stream.bin" "$s/c/stream.bin"
    else
        echo "SKIP stream --emit=obj: no $RNNRT_LIB"
    fi
else
    bad "stream: compile and init"
fi

# ---- 10. per-example lengths -----------------------------------------------------------
# tests/deploy/lengths_api.c on tests/deploy/lengths.rnn (its comment says
# what it checks), with the runtime linked (the model's code is what is
# new here), and as an object.  Its padded batch has
# NaN at the padded steps of x and y, which `rnnc run` and `rnnc grad`
# never read either.  Tolerances: the outputs and the loss as section 2's;
# the gradient is the weights' change of one SGD step with lr 1, w - (w -
# g), exact but for the rounding of w - g (half an ulp of |w| < 0.5, 3e-8:
# far below 1e-6) and the order of BPTT's sums (1e-5 relative).
if [ -f "$RNNRT_LIB" ]; then
    l=$tmp/lengths
    mkdir -p "$l/o"
    m=tests/deploy/lengths.rnn
    if "$RNNC" compile $m --train --runtime=link -o "$l/ln.c" --header "$l/ln.h" >"$tmp/log" 2>&1 &&
       "$RNNC" init $m -o "$l/w.safetensors" --seed 1 >>"$tmp/log" 2>&1; then
        # one compiler, the quickest (section 1 compiles examples/lengths.rnn
        # with both, gcc's flow warnings at -O2): clang -O0 takes a quarter
        # of gcc -O2's 3.4 s
        lcc=$cc1 opt=-O2
        case " $compilers " in *" clang "*) lcc=clang opt=-O0 ;; esac
        # shellcheck disable=SC2086
        check "lengths: $lcc builds the program warning-free" "$lcc" $FLAGS $opt -I"$l" -Iruntime -o "$l/p" \
            tests/deploy/lengths_api.c "$l/ln.c" "$RNNRT_LIB" -lm -lpthread
        mkdir -p "$l/c"
        "$l/p" "$l/w.safetensors" "$l/c" >"$l/c.out" 2>&1
        rc=$?
        cp "$l/c.out" "$tmp/log"
        if [ $rc -eq 0 ]; then ok "lengths: forward, training step, stream, bad lengths (C file)"; else bad "lengths: C program"; fi
        a="-w $l/w.safetensors -i x=$l/c/x.npy -i x.len=$l/c/len.npy -i y=$l/c/y.npy"
        # shellcheck disable=SC2086
        if "$RNNC" run $m --engine=interp $a -o yhat="$l/ref_yhat.npy" -o hn="$l/ref_hn.npy" -o tail="$l/ref_tail.npy" \
             -o loss="$l/ref_loss.npy" >"$tmp/log" 2>&1 &&
           "$RNNC" grad $m --engine=interp $a -o "$l/ref_grad.safetensors" >>"$tmp/log" 2>&1; then
            for o in yhat hn tail loss; do
                check "lengths: $o = rnnc run with the lengths" "$NPYCMP" --atol 1e-6 --rtol 1e-5 "$l/c/$o.npy" "$l/ref_$o.npy"
            done
            check "lengths: the training step's gradient = rnnc grad with the lengths" \
                "$NPYCMP" --atol 1e-6 --rtol 1e-5 "$l/c/grad.safetensors" "$l/ref_grad.safetensors"
        else
            bad "lengths: rnnc run and grad on the program's arrays"
        fi
        # shellcheck disable=SC2086
        if "$RNNC" compile $m --train --emit=obj -o "$l/o/ln.o" --header "$l/o/ln.h" >"$tmp/log" 2>&1 &&
           "$cc1" $FLAGS -O2 -I"$l/o" -o "$l/o/p" tests/deploy/lengths_api.c "$l/o/ln.o" $RNNRT_LIB -lm -lpthread >>"$tmp/log" 2>&1; then
            "$l/o/p" "$l/w.safetensors" "$l/o" >"$l/o.out" 2>&1
            check "lengths: object = C file (outputs, gradient, stream, statuses and messages)" \
                sh -c "cmp '$l/o/lengths.bin' '$l/c/lengths.bin' && cmp '$l/o.out' '$l/c.out'"
        else
            bad "lengths: --emit=obj"
        fi
    else
        bad "lengths: compile and init"
    fi
else
    echo "SKIP lengths: no $RNNRT_LIB"
fi
# x.len is the field x_len, which another input may be called: refused.
printf 'model cl {\n input x : seq<[2]> lengths\n input x_len : [3]\n h = rnn(x, hidden=4)\n output y = dense(last(h), 2)\n}\n' >"$tmp/clash.rnn"
if ! "$RNNC" compile "$tmp/clash.rnn" -o "$tmp/clash.c" >"$tmp/log" 2>&1 &&
   grep -q "inputs 'x.len' and 'x_len' of model 'cl' would both be the field 'x_len'" "$tmp/log"; then
    ok "lengths: an input named x_len beside x.len is refused, naming both"
else
    bad "lengths: an input named x_len beside x.len is refused, naming both"
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
