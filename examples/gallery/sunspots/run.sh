#!/bin/sh
# Forecasting the yearly sunspot number (README.md): trains sunspots.rnn on
# 1700-1947, forecasts every year one ahead, and compares its error on
# 1948-2008 with two naive forecasts; draws forecast.svg.
#   sh examples/gallery/sunspots/run.sh [--short] [BUILD_DIR]
# shellcheck source=examples/gallery/lib.sh
. "$(dirname "$0")/../lib.sh"
# full: 100 epochs (300 steps); short: 40
if [ "$short" = 1 ]; then epochs=40; else epochs=100; fi
set -- --set epochs=$epochs
cp "$here/sunspots.rnn" "$work/"
cd "$work" || exit 1

say "data: the yearly sunspot numbers 1700-2008 (statsmodels' sunspots, public domain), / 100"
awk -F, 'NR > 1 { printf "%.4f\n", $2 / 100 }' "$here/sunspots.csv" >activity.csv
n=$(wc -l <activity.csv | tr -d ' ')
first=$(awk -F, 'NR == 2 { print $1 }' "$here/sunspots.csv")
# the held-out years are the last 20%, as `eval = 0.2` cuts them
test0=$((n - n / 5))
echo "$n years from $first; training on the first $test0, testing on the last $((n - test0)) (from $((first + test0)))"

# The short form trains on the training years alone, without the eval part:
# the same batches (rnnc holds out the last floor(0.2 n) rows, the test
# years) and one module fewer for `make test` to compile under ASan.
if [ "$short" = 1 ]; then
    head -n $test0 activity.csv >train.csv
    set -- "$@" --set 'data=csv("train.csv")' --set eval=0 --set eval_every=0
fi

say "training (MSE of the scaled series)"
hide='^\(step [0-9]*/\|epoch\)'
train sunspots.rnn -o sunspots.safetensors "$@"

say "forecasts: the whole series as one sequence, each step's output the next year"
head -n $((n - 1)) activity.csv | "$TOOLS/npy_text" make x.npy f32 $((n - 1)),1,1
"$RNNC" run sunspots.rnn -w sunspots.safetensors -i x=x.npy -o yhat=yhat.npy
"$TOOLS/npy_text" dump yhat.npy >yhat.txt
# RMSE in sunspots over the test years: the model, last year's value
# (naive) and the value 11 years before (seasonal naive: the solar cycle
# is about 11 years); forecast.csv for the plot, from 1900
awk -v first="$first" -v test0="$test0" '
NR == FNR { a[FNR - 1] = $1 * 100; n = FNR; next }
{ p[FNR] = $1 * 100 }
END {
    print "year,truth,model,naive" >"forecast.csv"
    for (t = 200; t < n; t++) printf "%d,%g,%.1f,%g\n", first + t, a[t], p[t], a[t - 1] >"forecast.csv"
    for (t = test0; t < n; t++) { m += (p[t] - a[t]) ^ 2; v += (a[t - 1] - a[t]) ^ 2; s += (a[t - 11] - a[t]) ^ 2; k++ }
    printf "RMSE over %d-%d: model %.1f, naive (last year) %.1f, seasonal naive (11 years before) %.1f\n",
        first + test0, first + n - 1, sqrt(m / k), sqrt(v / k), sqrt(s / k)
}' activity.csv yhat.txt | tee score.txt
"$TOOLS/loss_plot" --linear --xlabel year --ylabel "sunspot number" forecast.svg \
    "sunspots: one year ahead (test years from $((first + test0)))" \
    truth=forecast.csv:1 LSTM=forecast.csv:2 "naive (last year)=forecast.csv:3"
echo "wrote $work/forecast.svg and sunspots.loss.svg"
