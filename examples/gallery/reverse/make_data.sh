#!/bin/sh
# The reversal data set: N random words of L letters (a-z) and each one
# written backwards, as three time-major id arrays for an encoder-decoder:
#
#   sh make_data.sh NPY_TEXT L N SEED DIR
#
#   DIR/src.npy     [L, N]  the word's letters, ids 0-25 for a-z
#   DIR/tgt_in.npy  [L, N]  GO (id 26), then the reversed word's first L-1 letters
#   DIR/tgt_out.npy [L, N]  the reversed word
#
# The letters come from the Park-Miller generator (x = 48271 x mod
# 2^31 - 1), whose products stay below 2^47, so every awk computes them
# exactly in a double and draws the same data on every machine.  Words are
# drawn one after the other, so word n does not depend on N.  NPY_TEXT is
# build/tools/npy_text.
set -eu
[ $# -eq 5 ] || { echo "usage: sh make_data.sh NPY_TEXT L N SEED DIR" >&2; exit 2; }
npy_text=$1 L=$2 N=$3 seed=$4 dir=$5
mkdir -p "$dir"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
# line t of each file is step t of every word (time-major)
awk -v L="$L" -v N="$N" -v seed="$seed" -v dir="$tmp" '
function draw() { x = (x * 48271) % 2147483647; return x }
BEGIN {
    x = seed % 2147483646 + 1
    for (n = 0; n < N; n++) for (t = 0; t < L; t++) w[n, t] = draw() % 26
    for (t = 0; t < L; t++) {
        s = ""; i = ""; o = ""
        for (n = 0; n < N; n++) {
            sep = n ? " " : ""
            s = s sep w[n, t]
            o = o sep w[n, L - 1 - t]
            i = i sep (t ? w[n, L - t] : 26)
        }
        print s > (dir "/src"); print i > (dir "/tgt_in"); print o > (dir "/tgt_out")
    }
}'
for f in src tgt_in tgt_out; do "$npy_text" make "$dir/$f.npy" i64 "$L,$N" <"$tmp/$f"; done
