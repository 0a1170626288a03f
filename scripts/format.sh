#!/bin/sh
# format.sh [--check]: formats every C source and header of the project with
# clang-format 14 and .clang-format (`make format`); with --check changes
# nothing and lists the files that are not formatted so, exiting 1 if any
# (`make test`).  The .def tables (X-macro lines) are left as written.
# Version 14 exactly: another version may format the same file differently.
set -u
cd "$(dirname "$0")/.." || exit 2
CF=${CLANG_FORMAT:-clang-format-14}
command -v "$CF" >/dev/null 2>&1 || { echo "format: $CF is missing (make deps)" >&2; exit 2; }
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    files=$(git ls-files '*.c' '*.h' '*.cpp')
else
    files=$(find . -path ./build -prune -o -path './build-*' -prune -o \( -name '*.c' -o -name '*.h' -o -name '*.cpp' \) -print)
fi
if [ "${1:-}" = --check ]; then
    # one process for every file: it names each file that would change
    # shellcheck disable=SC2086 # one word per file
    bad=$("$CF" --dry-run --Werror $files 2>&1 | sed -n 's/^\([^:]*\):[0-9]*:[0-9]*: error: code should be clang-formatted.*/\1/p' | sort -u)
    if [ -n "$bad" ]; then
        echo "format: not formatted as .clang-format says (run make format):"
        for f in $bad; do echo "  $f"; done
        exit 1
    fi
    exit 0
fi
# Twice: clang-format 14 aligns some array initializers only on a second
# pass, and --check compares against one more pass.
# shellcheck disable=SC2086 # one word per file
"$CF" -i $files && "$CF" -i $files
