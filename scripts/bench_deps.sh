#!/bin/sh
# Installs what `make bench` compares rnnc against, with apt-get, when run as
# root; otherwise says what is missing and how to install it.  Not needed to
# build or test rnnc, so `make test` never runs it.
#   python3-torch         PyTorch (run as /usr/bin/python3)
#   libopenblas0-pthread  OpenBLAS as the system BLAS: with Debian's reference
#                         BLAS PyTorch's recurrent layers run ~40x slower and
#                         a comparison with them means nothing
#   libdnnl-dev           oneDNN's headers and library (its RNN primitives)
#   g++                   to build bench/rnn_onednn.cpp against oneDNN's C++ API
set -u
missing=""
need() { # need FILE PACKAGE
    [ -e "$1" ] || missing="$missing $2"
}
need /usr/lib/python3/dist-packages/torch/__init__.py python3-torch
need /usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3 libopenblas0-pthread
need /usr/include/oneapi/dnnl/dnnl.hpp libdnnl-dev
need /usr/bin/g++ g++
if [ -n "$missing" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "bench_deps: installing$missing"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq >/dev/null || { echo "bench_deps: apt-get update failed" >&2; exit 1; }
        # shellcheck disable=SC2086
        apt-get install -y -qq --no-install-recommends $missing >/dev/null ||
            { echo "bench_deps: apt-get install$missing failed" >&2; exit 1; }
    else
        echo "the benchmark baselines need:$missing" >&2
        echo "install them with: sudo apt-get install$missing" >&2
        exit 1
    fi
fi
# OpenBLAS installed is not enough: it must be what libblas.so.3 points to.
alt=libblas.so.3-x86_64-linux-gnu
if command -v update-alternatives >/dev/null 2>&1 &&
    ! update-alternatives --query "$alt" 2>/dev/null | grep -q '^Value: .*openblas'; then
    if [ "$(id -u)" = 0 ]; then
        blas=$(update-alternatives --list "$alt" | grep openblas | head -n 1)
        [ -n "$blas" ] && update-alternatives --set "$alt" "$blas" >/dev/null &&
            echo "bench_deps: system BLAS set to $blas"
    else
        echo "bench_deps: the system BLAS is not OpenBLAS; run:" >&2
        echo "  sudo update-alternatives --config $alt" >&2
        exit 1
    fi
fi
exit 0
