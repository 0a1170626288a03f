#!/bin/sh
# run.sh BUILD_DIR - the golden dump tests.
#
# Each tests/golden/*.rnn starts with a line
#     # RUN: dump --stage=ir
# giving the arguments of `rnnc` (the file's path is appended), and holds
# FileCheck directives (# CHECK:, # CHECK-NEXT:, # CHECK-NOT:, ...) that
# the dump must match.  The runner runs
#     BUILD_DIR/rnnc <args> FILE | FileCheck FILE
# prints PASS or FAIL for each file (with the reason when it fails), then
# exactly "N passed, M failed", and exits non-zero if any failed.
#   FILECHECK=/path/to/FileCheck overrides the FileCheck used.
set -u

build=${1:-build}
rnnc=$build/rnnc
filecheck=${FILECHECK:-/usr/lib/llvm-14/bin/FileCheck}
dir=$(dirname "$0")

if [ ! -x "$rnnc" ]; then
    echo "golden: no rnnc at $rnnc (build it first: make BUILD=$build)" >&2
    exit 2
fi
if [ ! -x "$filecheck" ]; then
    echo "golden: FileCheck not found at $filecheck (install llvm-14-tools)" >&2
    exit 2
fi

tmp=$(mktemp -d) || exit 2
trap 'rm -rf "$tmp"' EXIT INT TERM

pass=0
fail=0
for f in "$dir"/*.rnn; do
    [ -e "$f" ] || continue
    name=$(basename "$f")
    args=$(sed -n '1s/^# RUN:[[:space:]]*//p' "$f")
    if [ -z "$args" ]; then
        echo "FAIL $name: the first line must be '# RUN: <rnnc arguments>'"
        fail=$((fail + 1))
        continue
    fi
    # The arguments are split on blanks on purpose; no globbing.
    set -f
    # shellcheck disable=SC2086
    "$rnnc" $args "$f" >"$tmp/out" 2>"$tmp/err"
    rc=$?
    set +f
    if [ $rc -ne 0 ]; then
        echo "FAIL $name: rnnc $args exited with status $rc"
        sed 's/^/    /' "$tmp/err" | head -20
        fail=$((fail + 1))
    elif ! "$filecheck" --input-file="$tmp/out" "$f" >"$tmp/check" 2>&1; then
        echo "FAIL $name"
        sed 's/^/    /' "$tmp/check" | head -40
        fail=$((fail + 1))
    else
        echo "PASS $name"
        pass=$((pass + 1))
    fi
done

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
