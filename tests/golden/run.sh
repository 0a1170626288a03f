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
#
# Each tests/golden/*.kir is kernel IR as text (docs/kernel-ir.md, "The
# text form") with its RUN line naming the test tool kiropt instead:
#     # RUN: kiropt -p kfuse
# runs BUILD_DIR/tools/kiropt -p kfuse FILE | FileCheck FILE, one kernel-IR
# pass on the text as LLVM's tests run `opt` (tests/tools/kiropt.c).  The
# parser reads over the '#' lines, so the file is both input and checks.
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
kiropt=$build/tools/kiropt
for f in "$dir"/*.rnn "$dir"/*.kir; do
    [ -e "$f" ] || continue
    name=$(basename "$f")
    args=$(sed -n '1s/^# RUN:[[:space:]]*//p' "$f")
    if [ -z "$args" ]; then
        echo "FAIL $name: the first line must be '# RUN: <rnnc arguments>'"
        fail=$((fail + 1))
        continue
    fi
    prog=$rnnc
    case $args in
        kiropt|kiropt\ *) prog=$kiropt args=${args#kiropt} ;;
    esac
    if [ ! -x "$prog" ]; then
        echo "FAIL $name: no $prog (build it: make BUILD=$build tests)"
        fail=$((fail + 1))
        continue
    fi
    # The arguments are split on blanks on purpose; no globbing.
    set -f
    # shellcheck disable=SC2086
    "$prog" $args "$f" >"$tmp/out" 2>"$tmp/err"
    rc=$?
    set +f
    if [ $rc -ne 0 ]; then
        echo "FAIL $name: $(basename "$prog") $args exited with status $rc"
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
