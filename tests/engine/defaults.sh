#!/bin/sh
# Which engine runs without --engine (driver/run_setup.c, exec/engine.c)
# and the -v / --time-passes table (ir/timing.h):
#   - no --engine is the JIT (the same bits as --engine=jit), RNNC_ENGINE
#     changes that default, a bad RNNC_ENGINE is a usage error naming it;
#   - --precision f64 without --engine runs on the interpreter, silently;
#   - a model the compiled engines refuse (65 size symbols: the batch and 64
#     sequence inputs, more than memplan's 64) runs on the interpreter by
#     default with a one-line note, giving the interpreter's bits;
#   - -v prints the stage table on stderr: parse, sema, lower, LLVM
#     optimize, LLVM codegen for the JIT, autodiff for grad, C emit and C
#     compile for the C engine, no LLVM row for the interpreter, the LLVM
#     rows (or C emit) for `rnnc compile`; nothing without -v.
#
#   sh tests/engine/defaults.sh BUILD_DIR
set -u
B=${1:-build}
cd "$(dirname "$0")/../.." || exit 2
R=$B/rnnc
CLOSE=$B/tools/tensors_close
[ -x "$CLOSE" ] || { echo "missing $CLOSE (make tests BUILD=$B)"; exit 2; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
pass=0; fail=0
ok() { pass=$((pass + 1)); echo "PASS $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; [ -n "${2:-}" ] && echo "$2" | sed 's/^/    /' | tail -n 20; }
# same A B WHAT: the two tensor files hold the same bits
same() { if out=$("$CLOSE" "$1" "$2" 0 0 2>&1); then ok "$3"; else bad "$3" "$out"; fi; }

unset RNNC_ENGINE
f=examples/many_to_many.rnn
inputs=$(sed -n 's/^# inputs: //p' "$f" | head -1)
w=$tmp/w.safetensors
"$R" init "$f" -o "$w" --seed 1 >/dev/null || { echo "init failed"; exit 1; }

# runs NAME [options]: `rnnc grad`, gradients to $tmp/NAME.safetensors, stderr to $tmp/NAME.err
runs() {
    name=$1; shift
    # shellcheck disable=SC2086
    "$R" grad "$f" -w "$w" $inputs -o "$tmp/$name.safetensors" "$@" >/dev/null 2>"$tmp/$name.err"
}

# The default engine, from the option, the environment, or neither.
runs default && runs jit --engine=jit && runs interp --engine=interp &&
    RNNC_ENGINE=interp runs env_interp && RNNC_ENGINE=interp runs env_jit --engine=jit ||
    bad "grad runs" "$(cat "$tmp"/*.err)"
same "$tmp/default.safetensors" "$tmp/jit.safetensors" "no --engine: the JIT's bits"
same "$tmp/env_interp.safetensors" "$tmp/interp.safetensors" "RNNC_ENGINE=interp: the interpreter's bits"
same "$tmp/env_jit.safetensors" "$tmp/jit.safetensors" "--engine=jit wins over RNNC_ENGINE"
if [ ! -s "$tmp/default.err" ]; then ok "no --engine: nothing on stderr"; else bad "default stderr" "$(cat "$tmp/default.err")"; fi
# shellcheck disable=SC2086
out=$(RNNC_ENGINE=llvm "$R" run "$f" -w "$w" $inputs 2>&1)
st=$?
if [ $st -eq 2 ] && echo "$out" | grep -q "RNNC_ENGINE: unknown engine 'llvm'"; then ok "bad RNNC_ENGINE: usage error"
else bad "bad RNNC_ENGINE (exit $st)" "$out"; fi

# float64 is the interpreter's: without --engine it is used, silently.
if runs f64 --precision f64 && [ ! -s "$tmp/f64.err" ] && runs f64i --precision f64 --engine=interp; then
    same "$tmp/f64.safetensors" "$tmp/f64i.safetensors" "--precision f64 without --engine: the interpreter"
else bad "--precision f64 without --engine" "$(cat "$tmp/f64.err" "$tmp/f64i.err")"; fi

# A model the compiled engines refuse: 64 sequence inputs, 65 size symbols.
{
    echo "model many {"
    i=0; while [ $i -lt 64 ]; do echo "  input x$i : seq<[2]>"; i=$((i + 1)); done
    printf "  output y = last(x0)"
    i=1; while [ $i -lt 64 ]; do printf " + last(x%d)" $i; i=$((i + 1)); done
    printf "\n}\n"
} > "$tmp/many.rnn"
args=""
i=0; while [ $i -lt 64 ]; do
    "$B/tools/randnpy" f32 3x2x2 "$tmp/x$i.npy" $i || exit 1
    args="$args -i x$i=$tmp/x$i.npy"; i=$((i + 1))
done
# (64 -i are as many options as a command takes: the output is printed.)
# shellcheck disable=SC2086
if "$R" run "$tmp/many.rnn" $args >"$tmp/many.out" 2>"$tmp/many.err" &&
   [ "$(wc -l < "$tmp/many.err")" -eq 1 ] &&
   grep -q "note: the jit engine cannot compile model 'many' (65 size symbols" "$tmp/many.err"; then
    ok "refused model: runs on the interpreter with a note: $(cat "$tmp/many.err")"
    # shellcheck disable=SC2086
    RNNC_ENGINE=interp "$R" run "$tmp/many.rnn" $args >"$tmp/manyi.out" &&
        if cmp -s "$tmp/many.out" "$tmp/manyi.out"; then ok "refused model: the interpreter's result"
        else bad "refused model: result" "$(cat "$tmp/many.out" "$tmp/manyi.out")"; fi
else
    bad "refused model" "$(cat "$tmp/many.err")"
fi

# -v / --time-passes: the table on stderr.
# has FILE WHAT ROW...: every row is a stage line of the table in FILE
has() {
    file=$1 what=$2; shift 2
    missing=""
    for row in "$@"; do grep -q "^ *[0-9.]* *[0-9.]*% *[0-9]*  $row\$" "$file" || missing="$missing '$row'"; done
    if [ -z "$missing" ]; then ok "$what"; else bad "$what: no row$missing" "$(cat "$file")"; fi
}
runs vjit -v &&
    has "$tmp/vjit.err" "grad -v (the default engine): the JIT stage table" parse sema autodiff hoist dce lower kfuse memplan \
        "LLVM IR build" "LLVM optimize" "LLVM codegen" "run (jit)" "total (the command, after start-up)"
runs vint --time-passes --engine=interp &&
    has "$tmp/vint.err" "grad --time-passes --engine=interp" parse sema autodiff "run (interp)"
if grep -q "LLVM\|lower" "$tmp/vint.err"; then bad "interp -v: compiled stages listed" "$(cat "$tmp/vint.err")"
else ok "interp -v: no compiled stage"; fi
# shellcheck disable=SC2086
"$R" run "$f" -w "$w" $inputs --engine=c -v >/dev/null 2>"$tmp/vc.err" &&
    has "$tmp/vc.err" "run -v --engine=c" parse sema lower "C emit" "C compile" "run (c)"
# compiled: COMMAND... fails the check WHAT instead of skipping it
compiled() { what=$1; shift; "$@" || bad "$what: the command failed" "$*"; }
compiled "compile --emit=obj -v" "$R" compile "$f" --train --emit=obj -o "$tmp/v.o" -v 2>"$tmp/vobj.err" &&
    has "$tmp/vobj.err" "compile --emit=obj -v" parse sema autodiff lower memplan "LLVM IR build" "LLVM optimize" "LLVM codegen"
compiled "compile --emit=llvm" "$R" compile "$f" --emit=llvm -o "$tmp/v.ll" --time-passes 2>"$tmp/vll.err" &&
    has "$tmp/vll.err" "compile --emit=llvm --time-passes" lower "LLVM IR build" "LLVM optimize" "LLVM IR write"
compiled "compile (C) -v" "$R" compile "$f" -o "$tmp/v.c" -v 2>"$tmp/vcf.err" &&
    has "$tmp/vcf.err" "compile (C) -v" parse sema lower memplan "C emit"
"$R" dump --stage=kernel "$f" -v >/dev/null 2>"$tmp/vdump.err" &&
    has "$tmp/vdump.err" "dump --stage=kernel -v" parse sema hoist lower memplan
if [ ! -s "$tmp/jit.err" ]; then ok "no -v: no table"; else bad "no -v: stderr" "$(cat "$tmp/jit.err")"; fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
