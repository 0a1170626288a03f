#!/bin/sh
# The bad-input corpus: every tests/bad/{syntax,sema,data}/*.rnn goes
# through `rnnc check`, which must exit 1 (0 for files that only expect
# warnings), never crash, and print every "# EXPECT: text" /
# "# EXPECT-WARNING: text" line's text.  Run with the sanitizer build, this
# is also the proof that bad input causes no memory error.  A file with a
# "# ARGS: subcommand args..." line runs `rnnc subcommand args... FILE`
# instead (@TMP@ in it: a scratch folder), for input beyond the model
# file: tests/bad/data holds bad training data and checkpoints beside the
# models that read them (paths from the repository root).  (Malformed
# tensor files are covered by the unit test test_bad_tensors.)
set -u
B=${1:-build}
RNNC=$B/rnnc
pass=0; fail=0
scratch=$(mktemp -d); trap 'rm -rf "$scratch"' EXIT
for f in tests/bad/syntax/*.rnn tests/bad/sema/*.rnn tests/bad/data/*.rnn; do
    [ -f "$f" ] || continue
    want=1
    grep -q '^# EXPECT:' "$f" || want=0
    args=$(sed -n 's/^# ARGS: //p' "$f" | head -n 1 | sed "s|@TMP@|$scratch|g")
    # shellcheck disable=SC2086 # ARGS is words
    out=$("$RNNC" ${args:-check} "$f" 2>&1); rc=$?
    ok=1; why=""
    if [ "$rc" -ne "$want" ]; then ok=0; why="exit status $rc, expected $want"; fi
    if echo "$out" | grep -qE 'AddressSanitizer|runtime error|LeakSanitizer'; then ok=0; why="sanitizer report"; fi
    # Each expectation must appear in the output.
    exp=$(sed -n 's/^# EXPECT\(-WARNING\)\{0,1\}: //p' "$f")
    if [ -z "$exp" ]; then ok=0; why="no EXPECT line in the test file"; fi
    printf "%s\n" "$exp" | while IFS= read -r line; do
        [ -z "$line" ] && continue
        case "$out" in *"$line"*) ;; *) echo "missing: $line"; exit 1 ;; esac
    done > "${TMPDIR:-/tmp}/rnnc_bad.$$" || { ok=0; why=$(cat "${TMPDIR:-/tmp}/rnnc_bad.$$"); }
    rm -f "${TMPDIR:-/tmp}/rnnc_bad.$$"
    if [ $ok = 1 ]; then pass=$((pass + 1)); else
        fail=$((fail + 1)); echo "FAIL $f: $why"; echo "$out" | sed 's/^/    /' | head -20
    fi
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
