#!/bin/sh
# run.sh - the PyTorch forward-pass conformance suite.
#
#   sh tests/conformance/run.sh BUILD_DIR
#
# For every fixtures/CASE/ (written by make_fixtures.py from torch.nn) runs
#   BUILD_DIR/rnnc run CASE.rnn -w weights.safetensors -i NAME=NAME.npy ... -o NAME=OUT/NAME.npy ...
# with the inputs and outputs listed in fixtures/CASE/case.txt, then compares
# each output with torch's using BUILD_DIR/tools/npycmp.  Prints
# "PASS case" or "FAIL case: reason" per case, then "N passed, M failed";
# exits 1 if any case failed (2 on a usage error).  Needs no python.
# Outputs are kept in BUILD_DIR/conformance/CASE/ for inspection.
#
# Tolerance: every case is a float32 forward pass of a few (5..7) steps and
# at most two layers, so rnnc and torch differ by rounding only: a few ulp
# per op times the depth of the graph, ~1e-6 relative.  rtol 1e-5 is the
# bound the suite promises; atol 1e-6 covers values near zero (softmax
# probabilities, relu outputs, tanh near 0) where a relative bound means
# nothing.
RTOL=1e-5
ATOL=1e-6

set -u
if [ $# -ne 1 ]; then
    echo "usage: sh tests/conformance/run.sh BUILD_DIR" >&2
    exit 2
fi
build=$1
here=$(cd "$(dirname "$0")" && pwd)
rnnc=$build/rnnc
npycmp=$build/tools/npycmp
for tool in "$rnnc" "$npycmp"; do
    if [ ! -x "$tool" ]; then
        echo "run.sh: $tool not found; build it first (make BUILD=$build all tests)" >&2
        exit 2
    fi
done
outroot=$build/conformance
mkdir -p "$outroot" || exit 2
outroot=$(cd "$outroot" && pwd)

passed=0
failed=0
for dir in "$here"/fixtures/*/; do
    dir=${dir%/}
    cname=$(basename "$dir")
    out=$outroot/$cname
    rm -rf "$out"
    mkdir -p "$out"

    # Build the command line from case.txt: "input NAME" / "output NAME".
    set -- run "$dir/$cname.rnn" -w "$dir/weights.safetensors"
    outputs=""
    while read -r kind name; do
        case $kind in
            input)  set -- "$@" -i "$name=$dir/$name.npy" ;;
            output) set -- "$@" -o "$name=$out/$name.npy"; outputs="$outputs $name" ;;
        esac
    done < "$dir/case.txt"

    reason=""
    "$rnnc" "$@" > "$out/stdout.txt" 2> "$out/stderr.txt"
    status=$?
    if [ $status -ne 0 ]; then
        reason="rnnc exited $status: $(head -n 1 "$out/stderr.txt")"
    else
        for name in $outputs; do
            if [ ! -f "$out/$name.npy" ]; then
                reason="$reason${reason:+; }$name: not written"
            elif ! "$npycmp" --rtol $RTOL --atol $ATOL "$out/$name.npy" "$dir/$name.npy" \
                    > "$out/cmp_$name.txt" 2>&1; then
                reason="$reason${reason:+; }$name: $(head -n 1 "$out/cmp_$name.txt")"
            fi
        done
    fi
    if [ -z "$reason" ]; then
        echo "PASS $cname"
        passed=$((passed + 1))
    else
        echo "FAIL $cname: $reason"
        failed=$((failed + 1))
    fi
done

echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
