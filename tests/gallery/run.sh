#!/bin/sh
# The short forms of the examples gallery (examples/gallery/*/run.sh
# --short) and that each one learns, by the bounds below.
#
#   sh tests/gallery/run.sh [BUILD_DIR]
#
# Each example leaves its files in BUILD_DIR/gallery/NAME/; the checks
# read the lines it prints there (score.txt, ...).
set -u
B=${1:-build}
pass=0 fail=0
# check NAME CONDITION MESSAGE: one verdict
check() {
    if [ "$2" = 1 ]; then pass=$((pass + 1)); echo "PASS $1: $3"; else fail=$((fail + 1)); echo "FAIL $1: $3"; fi
}
# run NAME: the short form; its output in BUILD_DIR/gallery/NAME.out
run() {
    mkdir -p "$B/gallery"
    if sh "examples/gallery/$1/run.sh" --short "$B" >"$B/gallery/$1.out" 2>&1; then return 0; fi
    fail=$((fail + 1)); echo "FAIL $1: run.sh --short failed"; tail -n 20 "$B/gallery/$1.out"; return 1
}
# num FILE REGEX: the first number after REGEX in FILE
num() { sed -n "s/.*$2 *\([-+0-9.e]*\).*/\1/p" "$1" | head -n 1; }
# below X Y: 1 if X < Y (floats)
below() { awk -v x="$1" -v y="$2" 'BEGIN { print (x != "" && x + 0 < y + 0) ? 1 : 0 }'; }

# The tools the examples use.  npy_text: numbers to an array and back,
# exactly (float32 values that print in 9 digits; int64 beyond 2^53 is
# not needed), and a count that does not fit the shape is refused.
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
printf '1 -2.5, 3e-2\n0.1 5 6\n' | "$B/tools/npy_text" make "$tmp/a.npy" f32 2,3 &&
    "$B/tools/npy_text" dump "$tmp/a.npy" >"$tmp/a.txt"
check tools "$(printf '1 -2.5 0.0299999993\n0.100000001 5 6\n' | cmp -s - "$tmp/a.txt" && echo 1)" "npy_text f32 round trip"
echo 7 8 9 | "$B/tools/npy_text" make "$tmp/i.npy" i64 3 && "$B/tools/npy_text" dump "$tmp/i.npy" >"$tmp/i.txt"
check tools "$(echo 7 8 9 | cmp -s - "$tmp/i.txt" && echo 1)" "npy_text i64 round trip"
check tools "$(echo 1 2 | "$B/tools/npy_text" make "$tmp/b.npy" f32 3 2>&1 | grep -q 'has 2 numbers, the shape 3 needs 3' && echo 1)" \
    "npy_text refuses 2 numbers for shape 3"
# loss_plot :COL draws that column: y = 10, 20 of column 2 reach the chart
printf 'x,a,b\n100,1,10\n200,2,20\n' >"$tmp/c.csv"
"$B/tools/loss_plot" --linear "$tmp/c.svg" t "b=$tmp/c.csv:2" 2>/dev/null
check tools "$(grep -q '>20<' "$tmp/c.svg" && ! grep -q '>2<' "$tmp/c.svg" && echo 1)" "loss_plot --linear FILE:2 plots column 2"

# Sunspots, 40 epochs: the test years' RMSE in sunspots.  The naive
# forecast (last year's value) scores 32.7; the full form's model 21.9,
# this one 22.3.  30 asks it to beat the naive one clearly.
if run sunspots; then
    s=$B/gallery/sunspots/score.txt
    m=$(num "$s" "model") nv=$(num "$s" "naive (last year)")
    check sunspots "$(below "$m" 30)" "test RMSE $m < 30 (naive: $nv)"
    check sunspots "$(below "$m" "$nv")" "the model's RMSE $m is below the naive forecast's $nv"
    check sunspots "$(grep -c '<polyline' "$B/gallery/sunspots/forecast.svg" | awk '{ print ($1 == 3) }')" "forecast.svg has 3 lines"
fi

# Word reversal, LSTMs of 64, 4 letters, 3000 words, 3 epochs: exact
# match on 1000 new words.  Chance is 26^-4; this run reaches 92.3% (98.0%
# of the letters).
if run reverse; then
    e=$(num "$B/gallery/reverse/score.txt" "exact match:")
    check reverse "$(below 60 "$e")" "exact match $e% > 60%"
fi

# Gradients at fresh weights: the tanh RNN's ||dL/dh_t|| at t = 0 is more
# than 10^6 times smaller than at the last step (2e13 with seed 1) and the
# LSTM's keeps more than 100 times as much (3e4); SGD without clipping
# overflows (stops with "loss is Inf"), clipped at 1 it reaches the mean's
# plateau (MSE 0.167): the mean loss of its last 20 steps is below 0.3.
if run gradients; then
    g=$B/gallery/gradients
    r=$(awk '/^rnn/ { print $NF == "smaller" ? $(NF - 2) : "" }' "$g/per-step.txt")
    l=$(awk '/^lstm/ { print $(NF - 2) }' "$g/per-step.txt")
    check gradients "$(below 1e6 "$r")" "tanh RNN: the first step's gradient is $r times smaller (> 1e6)"
    check gradients "$(below "$(awk -v l="$l" 'BEGIN { print l * 100 }')" "$r")" "LSTM: $l times smaller, 100 times less than the RNN's"
    check gradients "$(grep -q 'loss is \(Inf\|NaN\)' "$B/gallery/gradients.out" && echo 1)" "without clipping the loss overflows"
    cl=$(awk '/^clip / { print $NF }' "$g/score.txt")
    check gradients "$(below "$cl" 0.3)" "with clipping the last 20 steps' mean loss $cl < 0.3"
    check gradients "$(grep -c '<polyline' "$g/per-step.svg" | awk '{ print ($1 == 2) }')" "per-step.svg has 2 lines"
fi

# Character LM, LSTM 64, 80 steps of 16 x 50 characters: held-out loss
# below 3.0 nats a character (letter frequencies alone score 3.28; this
# run 2.40).  (Sampling is the full form's: tests/train checks it.)
if run charlm; then
    c=$B/gallery/charlm
    n=$(num "$c/score.txt" "held-out text:")
    check charlm "$(below "$n" 3.0)" "held-out loss $n nats < 3.0"
fi
# Lengths, bidirectional layers over reviews of 2-40 words and sentences
# of 5-18, bucket = 10: held-out accuracy after the classifier's 3 epochs
# (144 steps) and the tagger's 1 (24).  Chance is 52% for the classifier
# (the share of the larger class) and 27% for the tagger (always DET or
# NOUN, the most frequent tags); this run reaches 92.7% and 100%.  The
# bounds, 80% and 90%, leave room for the classifier's noisy held-out
# score (96 reviews, 1.04% each; 83.3% at epoch 2).  Bucketing keeps the
# padding under 15% (about 7%; 41% without it, in the full form).
if run lengths; then
    s=$B/gallery/lengths/score.txt
    ca=$(num "$s" "classifier: eval accuracy") cp=$(sed -n 's/^classifier: .*padding \([0-9.]*\)%.*/\1/p' "$s")
    ta=$(num "$s" "tagger: eval accuracy")
    check lengths "$(below 80 "$ca")" "classifier (final(h, layer=-1)): held-out accuracy $ca% > 80%"
    check lengths "$(below 90 "$ta")" "tagger: held-out accuracy $ta% > 90%"
    check lengths "$(below "$cp" 15)" "classifier with bucket = 10: padding $cp% < 15%"
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
