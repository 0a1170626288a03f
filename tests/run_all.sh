#!/bin/sh
# Runs every test suite against the binaries in BUILD_DIR (default build):
# the cmocka unit tests, the golden dump tests (FileCheck), the bad-input
# corpus, the PyTorch conformance suite, the examples, training, the
# end-to-end checks and the differential tests (random models through two
# engines, tests/diff/run.sh).  Prints one line a
# suite and closes with "N passed, M failed" (suites); exits 1 if any failed.
set -u
B=${1:-build}
cd "$(dirname "$0")/.." || exit 2
passed=0; failed=0; failures=""
log=$(mktemp -d)
trap 'rm -rf "$log"' EXIT

suite() { # suite NAME COMMAND...
    name=$1; shift
    out="$log/$(echo "$name" | tr / _).out"
    if "$@" >"$out" 2>&1; then
        passed=$((passed + 1)); echo "PASS  $name"
    else
        failed=$((failed + 1)); failures="$failures $name"; echo "FAIL  $name"
        sed 's/^/      /' "$out" | tail -n 40
    fi
}

for t in "$B"/tests/test_*; do
    [ -x "$t" ] || continue
    suite "unit/$(basename "$t")" "$t"
done
suite golden      sh tests/golden/run.sh "$B"
suite bad-input   sh tests/bad/run.sh "$B"
suite conformance sh tests/conformance/run.sh "$B"
suite examples    sh tests/examples/run.sh "$B"
suite train       sh tests/train/run.sh "$B"
suite e2e         sh tests/e2e/run.sh "$B"
suite deploy      sh tests/deploy/run.sh "$B"
suite engine      sh tests/engine/run.sh "$B"
suite engine-defaults sh tests/engine/defaults.sh "$B"
suite diff        sh tests/diff/run.sh "$B"

echo
[ -n "$failures" ] && echo "failed suites:$failures"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
