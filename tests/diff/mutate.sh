#!/bin/sh
# Diagnostics never crash: valid random models made invalid, checked.
#
#   sh tests/diff/mutate.sh BUILD [N] [SEED0]
#
# For each seed SEED0 .. SEED0+N-1 (default 200 from seed 1): BUILD/tools/
# randmodel writes a valid model (the differential tests' generator),
# BUILD/tools/mutate edits it at random (tokens deleted, duplicated or
# swapped, extreme numbers, other names, stray punctuation or bytes, lines
# moved, the file cut; see tests/tools/mutate.c), and `rnnc check` reads
# the result.  It must exit 0 (the edit kept the model valid) or 1 with at
# least one diagnostic in the form `FILE:LINE:COL: error: ...`; anything
# else is a failure: another exit status, a signal, a sanitizer report, an
# error without a position.  When the mutant is still valid, `rnnc dump
# --stage=kernel` runs it through the passes and lowering too (exit 0 or 1,
# never a crash).
#
# Run on the sanitizer build (make test does) so that a memory error is a
# report, not luck.  A failing seed leaves its files in BUILD/mutate/SEED
# and prints the command that remakes the mutant.
set -u
B=${1:-build}
N=${2:-200}
S0=${3:-1}
cd "$(dirname "$0")/../.." || exit 2
R=$B/rnnc
GEN=$B/tools/randmodel
MUT=$B/tools/mutate
for f in "$R" "$GEN" "$MUT"; do
    [ -x "$f" ] || { echo "mutate: $f is missing (make BUILD=$B all tests)"; exit 2; }
done
top=$B/mutate
mkdir -p "$top" || exit 2

failed=0 valid=0 seed=$S0 end=$((S0 + N))
# bad SEED DIR WHAT: reports one failure, keeping the files
bad() {
    failed=$((failed + 1))
    echo "FAIL seed $1: $3"
    echo "  remake: $GEN $1 $2 && $MUT $1 $2/model.rnn $2/m.rnn"
    sed 's/^/    /' "$2/out" | tail -n 8
}
while [ "$seed" -lt "$end" ]; do
    d=$top/$seed
    rm -rf "$d" && mkdir -p "$d" || exit 2
    if ! "$GEN" "$seed" "$d" >"$d/out" 2>&1 || ! "$MUT" "$seed" "$d/model.rnn" "$d/m.rnn" >>"$d/out" 2>&1; then
        bad "$seed" "$d" "the generator or the mutator failed"
        seed=$((seed + 1))
        continue
    fi
    "$R" check "$d/m.rnn" >"$d/out" 2>&1
    rc=$?
    ok=1
    if grep -q 'Sanitizer\|runtime error:' "$d/out"; then
        bad "$seed" "$d" "rnnc check: a sanitizer report"; ok=0
    elif [ "$rc" -eq 1 ]; then
        grep -q "^$d/m.rnn:[0-9]*:[0-9]*: error: " "$d/out" ||
            { bad "$seed" "$d" "rnnc check: exit 1 with no FILE:LINE:COL: error: line"; ok=0; }
    elif [ "$rc" -eq 0 ]; then
        valid=$((valid + 1))
        "$R" dump --stage=kernel "$d/m.rnn" >"$d/dump" 2>"$d/out"
        rc=$?
        if [ "$rc" -gt 1 ] || grep -q 'Sanitizer\|runtime error:' "$d/out"; then
            bad "$seed" "$d" "rnnc dump --stage=kernel of a checked model: exit $rc"; ok=0
        fi
    else
        bad "$seed" "$d" "rnnc check: exit $rc"; ok=0
    fi
    [ "$ok" -eq 1 ] && rm -rf "$d"
    seed=$((seed + 1))
done
rmdir "$top" 2>/dev/null
echo "mutate: $N mutants from seed $S0, $valid still valid, $failed failed"
[ "$failed" -eq 0 ]
