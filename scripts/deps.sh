#!/bin/sh
# Installs what building and testing rnnc needs, with apt-get, when run as
# root; otherwise says what is missing and how to install it.
# Tools: a C compiler, make, flex, bison, cmocka, LLVM 14 (FileCheck for the
# golden tests, llvm-config for the JIT), clang 14 (the JIT's math is C
# compiled to LLVM 14 bitcode; `clang` is the clang build's compiler),
# clang-format 14 (`make test` checks the format, scripts/format.sh),
# libFuzzer of clang 14 (the fuzzers, tests/fuzz: `make fuzz`), Open MPI
# (data-parallel `rnnc train` under mpirun, docs/distributed.md: the
# Makefile builds it in when mpicc is there; tests/mpi runs mpirun), and
# fortunes-min, the text of the demo and of the gallery's character model
# (the argument `demo`, which `make demo` gives, is accepted as before).
set -u
missing=""
need() { # need COMMAND-OR-FILE PACKAGE
    case "$1" in
        /*) [ -e "$1" ] || missing="$missing $2" ;;
        *)  command -v "$1" >/dev/null 2>&1 || missing="$missing $2" ;;
    esac
}
need cc gcc
need make make
need flex flex
need bison bison
need /usr/include/cmocka.h libcmocka-dev
need /usr/lib/llvm-14/bin/FileCheck llvm-14-tools
need /usr/bin/llvm-config-14 llvm-14-dev
need clang clang
need clang-14 clang-14
need clang-format-14 clang-format-14
# the text of the demo (examples/demo.sh, make demo) and of the gallery's
# character model, which `make test` runs (tests/gallery): the quotations
# of fortunes-min
need /usr/share/games/fortunes/literature fortunes-min
# (under clang's full version and the machine's name: any will do)
ls /usr/lib/llvm-14/lib/clang/*/lib/linux/libclang_rt.fuzzer-*.a >/dev/null 2>&1 ||
    missing="$missing libclang-rt-14-dev"
# Open MPI is optional: installed as root like the rest, else only named
# (rnnc builds without it, and tests/mpi says it skipped)
required=$missing
need mpicc libopenmpi-dev
need mpirun openmpi-bin
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "deps: installing$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null || { echo "deps: apt-get update failed" >&2; exit 1; }
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing >/dev/null ||
        { echo "deps: apt-get install$missing failed" >&2; exit 1; }
elif [ -z "$required" ]; then
    echo "deps: for data-parallel training (docs/distributed.md) install:$missing; rnnc builds without it" >&2
else
    echo "rnnc needs:$required" >&2
    echo "install them with: sudo apt-get install$missing" >&2
    exit 1
fi
