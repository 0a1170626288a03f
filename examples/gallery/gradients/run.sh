#!/bin/sh
# Vanishing and exploding gradients (README.md), on the adding problem:
#  1. per-step gradient norms ||dL/dh_t|| of a tanh RNN and an LSTM, fresh
#     weights, the same batch (rnnc grad --per-step): per-step.svg;
#  2. the tanh RNN trained by SGD with momentum without clipping (it
#     explodes) and with clipping by norm: clipping.svg;
#  3. (not in --short) both trained with Adam and clipping, which the LSTM
#     learns the task with, and their per-step norms again:
#     per-step-trained.svg.
#   sh examples/gallery/gradients/run.sh [--short] [BUILD_DIR]
# shellcheck source=examples/gallery/lib.sh
. "$(dirname "$0")/../lib.sh"
# full: 2000 sequences (10% held out), 300 steps with clipping; short: 100
# steps and no eval part (what `make test` can afford under ASan), on the
# full form's 1800 training sequences, so the batches are the same and the
# run without clipping overflows at step 76 in both
# (and the gradients of part 1 by the interpreter: one batch costs it less
# than the JIT's compiling under ASan)
if [ "$short" = 1 ]; then
    N=1800 engine=--engine=interp
    set -- --set steps=100 --set eval=0
else
    N=2000 engine=
    set -- --set steps=300
fi
cp "$here/rnn.rnn" "$here/lstm.rnn" "$work/"
cd "$work" || exit 1
rm -f noclip.* clip.*

say "data: the adding problem, 50 steps; $N sequences to train on, one batch of 32 for the gradients"
"$TOOLS/make_adding" 50 $N 1 x.npy y.npy
"$TOOLS/make_adding" 50 32 7 batch_x.npy batch_y.npy

say "1. per-step gradient norms, fresh weights (rnnc init --seed 1)"
# per_step NAME WEIGHTS: NAME.per-step.txt (rnnc grad's table) and
# NAME.csv (step, ||dL/dh_t||: the first state, h); prints the ratio
per_step() {
    "$RNNC" grad "$1.rnn" -w "$2" -i x=batch_x.npy -i y=batch_y.npy --per-step $engine >"$1.per-step.txt"
    awk 'go { print $1 "," $2 } /^step / { go = 1; print "step,h" }' "$1.per-step.txt" >"$1.csv"
    awk -F, -v m="$1" 'FNR == 2 { first = $2 } { last = $2 }
        END { printf "%-4s ||dL/dh_t|| at the last step %.3g, at the first %.3g: %.3g times smaller\n",
              m, last, first, last / first }' "$1.csv"
}
for m in rnn lstm; do
    "$RNNC" init $m.rnn -o $m.init.safetensors --seed 1 >/dev/null
    per_step $m $m.init.safetensors
done | tee per-step.txt
"$TOOLS/loss_plot" --xlabel "time step t" --ylabel "||dL/dh_t||" per-step.svg \
    "gradient reaching h_t from the loss at step 49 (fresh weights)" \
    "tanh RNN=rnn.csv" "LSTM=lstm.csv"

say "2. the tanh RNN by SGD (lr 0.1, momentum 0.9): without clipping, then clipped at norm 1"
# the run without clipping is expected to stop with "loss is Inf"
train rnn.rnn -o noclip.safetensors "$@" || true
train rnn.rnn -o clip.safetensors "$@" --set 'clip=norm(1.0)'
for r in noclip clip; do
    awk -F, -v r=$r 'NR > 1 { n++; if ($3 > g) g = $3; l[n] = $2 }
        END { for (i = n > 20 ? n - 19 : 1; i <= n; i++) { m += l[i]; k++ }
              printf "%-6s %d steps, largest gradient norm %g, mean loss of the last 20 steps %g\n", r, n, g, m / k }' $r.loss.csv
done | tee score.txt
"$TOOLS/loss_plot" --ylabel "training loss (MSE)" clipping.svg \
    "tanh RNN, SGD lr 0.1 momentum 0.9: training loss" "no clipping=noclip.loss.csv" "clip norm 1=clip.loss.csv"
"$TOOLS/loss_plot" --ylabel "gradient norm before clipping" clipping-grad.svg \
    "tanh RNN, SGD lr 0.1 momentum 0.9: gradient norm" "no clipping=noclip.loss.csv:2" "clip norm 1=clip.loss.csv:2"
echo "wrote $work/per-step.svg, clipping.svg and clipping-grad.svg"
[ "$short" = 1 ] && exit 0

say "3. both trained with Adam (lr 0.01), clipped at 1, 800 steps; then the per-step norms again"
hide='^\(step\|epoch\)'
train lstm.rnn -o lstm.trained.safetensors
grep '^epoch' train.txt | tail -n 1
train rnn.rnn -o rnn.trained.safetensors --set 'optimizer=adam(lr=0.01)' --set 'clip=norm(1.0)' --set steps=800
grep '^epoch' train.txt | tail -n 1
for m in rnn lstm; do per_step $m $m.trained.safetensors; done | tee per-step-trained.txt
"$TOOLS/loss_plot" --xlabel "time step t" --ylabel "||dL/dh_t||" per-step-trained.svg \
    "gradient reaching h_t from the loss at step 49 (after training)" \
    "tanh RNN=rnn.csv" "LSTM=lstm.csv"
echo "wrote $work/per-step-trained.svg"
