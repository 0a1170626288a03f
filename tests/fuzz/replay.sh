#!/bin/sh
# tests/fuzz/replay.sh BUILD [NAME...] - after a fix: runs each fuzzer of
# BUILD/fuzz on every input its runs left in BUILD/fuzz/crashes/NAME
# (tests/fuzz/run.sh) and says which still fail; exits 1 if any does.
# With FUZZ_MERGE=1 it also minimizes each corpus/NAME (libFuzzer
# -merge=1: the smallest set of inputs with the same coverage), which
# keeps the corpus, and so every later run's start, small.
set -u
B=${1:?usage: replay.sh BUILD [NAME...]}
shift
cd "$(dirname "$0")/../.." || exit 2
F=$PWD/$B/fuzz
names=${*:-$(for f in tests/fuzz/fuzz_*.c; do basename "$f" .c | sed 's/^fuzz_//'; done)}
fail=0
for n in $names; do
    [ -x "$F/fuzz_$n" ] || { echo "FAIL no $F/fuzz_$n (make fuzz)"; fail=1; continue; }
    for c in "$F/crashes/$n"/*; do
        [ -f "$c" ] || continue
        if "$F/fuzz_$n" "$c" >"$F/replay.log" 2>&1; then
            echo "fixed  $n: $c"
        else
            echo "FAILS  $n: $c"
            grep -E 'ERROR: |SUMMARY: |runtime error|fuzz_[a-z]*: ' "$F/replay.log" | head -n 4 | sed 's/^/       /'
            fail=1
        fi
    done
    if [ "${FUZZ_MERGE:-0}" = 1 ] && [ -d "$F/corpus/$n" ]; then
        rm -rf "$F/corpus/$n.merged" && mkdir -p "$F/corpus/$n.merged"
        if "$F/fuzz_$n" -merge=1 "$F/corpus/$n.merged" "$F/corpus/$n" >"$F/replay.log" 2>&1; then
            before=$(ls "$F/corpus/$n" | wc -l)
            rm -rf "$F/corpus/$n" && mv "$F/corpus/$n.merged" "$F/corpus/$n"
            echo "merged $n: $before inputs -> $(ls "$F/corpus/$n" | wc -l)"
        else
            echo "FAIL   merge of $n (log $F/replay.log)"
            fail=1
        fi
    fi
done
exit $fail
