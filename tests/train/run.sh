#!/bin/sh
# End-to-end tests of `rnnc train` and `rnnc sample` on a tiny character
# model (tests/train/charlm.rnn, examples/data/tiny.txt) and small csv/npy
# data.  Runs in a few seconds.
#   sh tests/train/run.sh BUILD_DIR
# Prints one line a test and "N passed, M failed"; exits 1 on a failure.
set -u
B=${1:-build}
cd "$(dirname "$0")/../.." || exit 2
R=$B/rnnc
CMP=$B/tools/npycmp
M=tests/train/charlm.rnn
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
pass=0; fail=0

ok() { pass=$((pass + 1)); echo "PASS $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; [ -f "$tmp/err" ] && sed 's/^/    /' "$tmp/err" | tail -n 15; }

# Mean of column 2 of a loss CSV over rows [from, to] (1-based data rows).
mean_loss() { awk -F, -v a="$2" -v b="$3" 'NR > 1 && NR - 1 >= a && NR - 1 <= b { s += $2; n++ } END { printf "%.6f", s / n }' "$1"; }

# 1. The loss falls: mean of the last 5 steps of 40 well below the first 5.
if "$R" train $M -o "$tmp/a.safetensors" 2>"$tmp/err" &&
   first=$(mean_loss "$tmp/a.loss.csv" 1 5) && last=$(mean_loss "$tmp/a.loss.csv" 36 40) &&
   [ "$(wc -l < "$tmp/a.loss.csv")" -eq 41 ] &&
   awk -v f="$first" -v l="$last" 'BEGIN { exit !(l < f - 0.5) }' &&
   grep -q "eval loss" "$tmp/err" && [ "$(grep -c "<polyline" "$tmp/a.loss.svg")" -eq 2 ] &&
   grep -q ">eval loss</text>" "$tmp/a.loss.svg" && head -n 1 "$tmp/a.eval.csv" | grep -qx "step,eval_loss,eval_accuracy" &&
   [ "$(wc -l < "$tmp/a.eval.csv")" -ge 2 ]; then
    ok "loss falls ($first -> $last); eval loss reported; loss CSV, eval CSV and SVG with both curves written"
else
    bad "loss falls (${first:-?} -> ${last:-?})"
fi

# 2. Resume: 20 steps straight == 11 steps + resume to 20, bit for bit,
#    whether the resumed run writes a new checkpoint (-o) or the same one.
#    batch=16 makes an epoch 9 sequences x 2 TBPTT segments = 18 steps, so
#    the stop at 11 is mid-sequence (carried state in the checkpoint) and
#    the resumed run crosses an epoch boundary (a new shuffle).
S="--set batch=16 --set checkpoint_every=4"
if "$R" train $M $S --set steps=20 -o "$tmp/s.safetensors" 2>"$tmp/err" &&
   "$R" train $M $S --set steps=11 -o "$tmp/r.safetensors" 2>"$tmp/err" &&
   "$R" train $M $S --set steps=20 --resume "$tmp/r.safetensors" -o "$tmp/r2.safetensors" 2>"$tmp/err" &&
   "$R" train $M $S --set steps=20 --resume "$tmp/r.safetensors" 2>"$tmp/err" &&
   cmp "$tmp/s.safetensors" "$tmp/r.safetensors" >"$tmp/err" 2>&1 &&
   cmp "$tmp/s.loss.csv" "$tmp/r.loss.csv" >"$tmp/err" 2>&1 &&
   cmp "$tmp/s.safetensors" "$tmp/r2.safetensors" >"$tmp/err" 2>&1 &&
   cmp "$tmp/s.loss.csv" "$tmp/r2.loss.csv" >"$tmp/err" 2>&1 &&
   cmp "$tmp/s.eval.csv" "$tmp/r2.eval.csv" >"$tmp/err" 2>&1 &&
   "$CMP" --rtol 0 --atol 0 "$tmp/r.safetensors" "$tmp/s.safetensors" >"$tmp/err" 2>&1; then
    ok "resume mid-sequence and across an epoch is bit for bit"
else
    bad "resume"
fi

# 3. A NaN loss stops with the message and keeps the last good checkpoint.
"$R" train $M --set 'optimizer=adam(lr=1e38)' --set clip=none --set checkpoint_every=1 \
     -o "$tmp/n.safetensors" 2>"$tmp/err"
rc=$?
if [ $rc -eq 1 ] &&
   grep -q "error: loss is NaN at step 2; the last good checkpoint is $tmp/n.safetensors (step 1)" "$tmp/err" &&
   [ -f "$tmp/n.safetensors" ] && "$R" sample $M -w "$tmp/n.safetensors" --steps 1 >/dev/null 2>&1; then
    ok "NaN loss stops training, keeps the step-1 checkpoint"
else
    bad "NaN loss (exit $rc)"
fi

# 4. sample: the prime, then N characters, all from the text's vocabulary.
if "$R" sample $M -w "$tmp/a.safetensors" --prime "the " --steps 50 --seed 2 >"$tmp/out" 2>"$tmp/err" &&
   [ "$(wc -c < "$tmp/out")" -eq 55 ] &&                 # 4 + 50 + the final newline
   [ "$(head -c 4 "$tmp/out")" = "the " ] &&
   [ -z "$(tr -d 'a-z .,;?\n' < "$tmp/out")" ] &&
   "$R" sample $M -w "$tmp/a.safetensors" --prime "the " --steps 50 --seed 2 | cmp -s - "$tmp/out"; then
    ok "sample prints the prime and 50 characters of the vocabulary, deterministically"
else
    bad "sample"
fi
"$R" init $M -o "$tmp/w.safetensors" >/dev/null
if ! "$R" sample $M -w "$tmp/w.safetensors" 2>"$tmp/err" && grep -q "no vocabulary" "$tmp/err" &&
   ! "$R" sample $M -w "$tmp/a.safetensors" --prime "THE" 2>"$tmp/err" && grep -q "not in the model's vocabulary" "$tmp/err"; then
    ok "sample: a checkpoint without vocabulary, an unknown prime character"
else
    bad "sample errors"
fi

# 5. Bad data: a clear error naming the file, exit 1.
printf '1,2\n3,oops\n' > "$tmp/bad.csv"
"$R" train $M --set "data=text(\"$tmp/missing.txt\")" 2>"$tmp/err"; r1=$?
grep -q "$tmp/missing.txt: No such file" "$tmp/err"; g1=$?
"$R" train tests/train/series.rnn --set "data=csv(\"$tmp/bad.csv\")" 2>"$tmp/err"; r2=$?
grep -q "$tmp/bad.csv:2: column 2: 'oops' is not a number" "$tmp/err"; g2=$?
"$R" train $M --set batch=1000 2>"$tmp/err"; r3=$?
grep -q "examples/data/tiny.txt: .* too few for batch = 1000" "$tmp/err"; g3=$?
if [ $r1 -eq 1 ] && [ $g1 -eq 0 ] && [ $r2 -eq 1 ] && [ $g2 -eq 0 ] && [ $r3 -eq 1 ] && [ $g3 -eq 0 ]; then
    ok "bad data files and too little data are named"
else
    bad "bad data ($r1 $g1 $r2 $g2 $r3 $g3)"
fi

# 6. csv and npy data train end to end.
awk 'BEGIN { for (i = 0; i < 300; i++) printf "%.6f,%.6f\n", sin(i * 0.2), cos(i * 0.2) }' > "$tmp/wave.csv"
if "$R" train tests/train/series.rnn --set "data=csv(\"$tmp/wave.csv\")" --set steps=30 -o "$tmp/c.safetensors" 2>"$tmp/err" &&
   awk -v f="$(mean_loss "$tmp/c.loss.csv" 1 3)" -v l="$(mean_loss "$tmp/c.loss.csv" 28 30)" 'BEGIN { exit !(l < f) }'; then
    ok "csv time series trains (loss falls)"
else
    bad "csv"
fi
if "$R" train examples/many_to_one.rnn \
       --set 'data=npy(tokens="examples/data/chars_16x2.npy", label="examples/data/label_2.npy")' \
       --set batch=2 --set steps=5 --set 'optimizer=sgd(lr=0.1, momentum=0.9)' -o "$tmp/m.safetensors" 2>"$tmp/err" &&
   [ "$(wc -l < "$tmp/m.loss.csv")" -eq 6 ]; then
    ok "npy data trains a many-to-one model"
else
    bad "npy"
fi

# 7. Ctrl-C writes a checkpoint and exits 130; the run resumes from it.
"$R" train $M --set steps=1000000 -o "$tmp/i.safetensors" 2>"$tmp/err" &
pid=$!
sleep 1
kill -INT $pid
wait $pid; rc=$?
n=$(sed -n 's/.*interrupted at step \([0-9]*\).*/\1/p' "$tmp/err")
if [ $rc -eq 130 ] && [ -n "$n" ] && [ -f "$tmp/i.safetensors" ] &&
   "$R" train $M --resume "$tmp/i.safetensors" --set steps=$((n + 3)) 2>"$tmp/err" &&
   [ "$(wc -l < "$tmp/i.loss.csv")" -eq $((n + 4)) ]; then
    ok "Ctrl-C at step $n writes a checkpoint, exits 130; resuming continues"
else
    bad "Ctrl-C (exit $rc)"
fi

# 8. eval_every: a block with clip = none and eval_every = 15 evaluates after
#    steps 15, 30 and the last (40), not after the epoch; evaluating
#    changes nothing, so the weights and losses equal those of a run
#    without eval_every (--set eval_every=0 turns the block's off).
sed -e 's/clip = norm(5.0)/clip = none/' -e 's/log_every = 10/log_every = 10  eval_every = 15/' \
    -e "s|\.\./\.\./examples|$PWD/examples|" $M > "$tmp/every.rnn"  # the copy's data, relative to $tmp
if "$R" check "$tmp/every.rnn" 2>"$tmp/err" &&
   "$R" train "$tmp/every.rnn" -o "$tmp/e1.safetensors" 2>"$tmp/err" &&
   [ "$(grep -c '^step [0-9]*: eval loss' "$tmp/err")" -eq 3 ] &&
   grep -q '^step 15: eval loss' "$tmp/err" && grep -q '^step 30: eval loss' "$tmp/err" &&
   grep -q '^step 40: eval loss' "$tmp/err" &&
   grep '^epoch 1' "$tmp/err" | grep -qv 'eval loss' &&
   "$R" train "$tmp/every.rnn" --set eval_every=0 -o "$tmp/e0.safetensors" 2>"$tmp/err" &&
   grep -q '^epoch 1.*eval loss' "$tmp/err" && ! grep -q '^step [0-9]*: eval loss' "$tmp/err" &&
   cmp "$tmp/e1.safetensors" "$tmp/e0.safetensors" >"$tmp/err" 2>&1 &&
   cmp "$tmp/e1.loss.csv" "$tmp/e0.loss.csv" >"$tmp/err" 2>&1; then
    ok "eval_every evaluates at steps 15, 30, 40 and changes no weight; clip = none in a block"
else
    bad "eval_every"
fi

# 9. Every key works or is an error: a misspelt --set key is refused with
#    the nearest key, a bad value with the key's name, eval_every without
#    an eval part with what to set; a setting given as an option points to
#    --set, a misspelt option suggests the nearest.
"$R" train $M --set epoch=2 2>"$tmp/err"; r1=$?
grep -q "^rnnc: --set epoch: unknown train setting 'epoch'; did you mean 'epochs'?" "$tmp/err"; g1=$?
"$R" train $M --set 'optimizer=sgd(lr=0.1, beta1=0.9)' 2>"$tmp/err"; r2=$?
grep -q "^rnnc: --set optimizer: unknown argument 'beta1' of sgd(...) (lr, momentum, weight_decay)" "$tmp/err"; g2=$?
"$R" train $M --set eval=0 --set eval_every=5 2>"$tmp/err"; r3=$?
grep -q "eval_every = 5 needs a held-out part to evaluate on: set eval = FRACTION" "$tmp/err"; g3=$?
"$R" train $M --epochs 3 2>"$tmp/err"; r4=$?
grep -q "^rnnc train: unknown option '--epochs'; a train setting is given with --set: --set epochs=" "$tmp/err"; g4=$?
"$R" train $M --reume x 2>"$tmp/err"; r5=$?
grep -q "^rnnc train: unknown option '--reume'; did you mean '--resume'?" "$tmp/err"; g5=$?
if [ $r1 -eq 1 ] && [ $g1 -eq 0 ] && [ $r2 -eq 1 ] && [ $g2 -eq 0 ] && [ $r3 -eq 1 ] && [ $g3 -eq 0 ] &&
   [ $r4 -eq 2 ] && [ $g4 -eq 0 ] && [ $r5 -eq 2 ] && [ $g5 -eq 0 ]; then
    ok "bad --set keys and values are refused with the key's name"
else
    bad "--set errors ($r1 $g1 $r2 $g2 $r3 $g3 $r4 $g4 $r5 $g5)"
fi

# 10. Limits, found by fuzzing: epochs that make more than 10^15 steps (they
#     overflowed to a negative step count, a step-0 checkpoint was written,
#     exit 0), batch and seq_len of 10^15 (a wrapped "need at least"), a
#     csv value strtod reads but that is no decimal float32 (nan).  The
#     text is 8 copies of tiny.txt, so that 5 x 10^14 epochs of its 19295
#     one-step batches pass int64 (the fuzzer's case: the old code wrapped
#     to a negative count), not only the limit.
for i in 1 2 3 4 5 6 7 8; do cat examples/data/tiny.txt; done > "$tmp/big.txt"
"$R" train $M --set "data=text(\"$tmp/big.txt\")" --set seq_len=1 --set tbptt=1 --set batch=1 \
     --set epochs=500000000000000 -o "$tmp/big.safetensors" 2>"$tmp/err"; r1=$?
grep -q "^rnnc: epochs = 500000000000000 is too many: .* steps, more than a run may have (10^15)" "$tmp/err"; g1=$?
[ ! -e "$tmp/big.safetensors" ]; n1=$?
"$R" train $M --set seq_len=1000000000000000 --set batch=1000000000000000 2>"$tmp/err"; r2=$?
grep -q "need at least 1e+30)" "$tmp/err"; g2=$?
printf '1,2\n3,4\n5,nan\n7,8\n' > "$tmp/nan.csv"
"$R" train tests/train/series.rnn --set "data=csv(\"$tmp/nan.csv\")" 2>"$tmp/err"; r3=$?
grep -q "$tmp/nan.csv:3: column 2: 'nan' is not a decimal number" "$tmp/err"; g3=$?
if [ $r1 -eq 1 ] && [ $g1 -eq 0 ] && [ $n1 -eq 0 ] && [ $r2 -eq 1 ] && [ $g2 -eq 0 ] && [ $r3 -eq 1 ] && [ $g3 -eq 0 ]; then
    ok "limits: too many epochs, huge batch x seq_len, nan in a csv"
else
    bad "limits ($r1 $g1 $n1 $r2 $g2 $r3 $g3)"
fi

# 11. The checkpoint of test 1 is a weights file for every command: run,
#     grad and compile --embed-weights (C and object) skip its optimizer
#     state and train:* entries, as NAME_load_weights does; the weights of
#     another model are still refused.
"$B/tools/randnpy" i64 6x2 "$tmp/x.npy" 1 32 && "$B/tools/randnpy" i64 6x2 "$tmp/y.npy" 2 32
"$R" run $M -w "$tmp/w.safetensors" -i tokens="$tmp/x.npy" -o probs="$tmp/pw.npy" 2>"$tmp/err"
if "$R" run $M -w "$tmp/a.safetensors" -i tokens="$tmp/x.npy" -o probs="$tmp/pa.npy" 2>"$tmp/err" &&
   ! "$CMP" --rtol 0 --atol 0 "$tmp/pa.npy" "$tmp/pw.npy" >/dev/null 2>&1 &&
   "$R" grad $M -w "$tmp/a.safetensors" -i tokens="$tmp/x.npy" -i next="$tmp/y.npy" >"$tmp/out" 2>"$tmp/err" &&
   grep -q "^loss: " "$tmp/out" &&
   "$R" compile $M -w "$tmp/a.safetensors" --embed-weights -o "$tmp/ck.c" 2>"$tmp/err" &&
   "$R" compile $M -w "$tmp/a.safetensors" --embed-weights --emit=obj -o "$tmp/ck.o" 2>"$tmp/err" &&
   ! "$R" run examples/many_to_one.rnn -w "$tmp/a.safetensors" -i tokens="$tmp/x.npy" 2>"$tmp/err" &&
   grep -q "a.safetensors: parameter .e.weight. has shape \[40, 8\]" "$tmp/err"; then
    ok "a training checkpoint is the weights of run, grad and compile --embed-weights"
else
    bad "checkpoint as weights"
fi

# 12. A train block's data file is relative to the model file's folder, so
#     the model trains from any current directory; one that cannot be
#     opened is named as tried, with why and what it was relative to.
#     One found only in the current directory (the rule before) is read
#     from there, with a note.
root=$PWD
mkdir -p "$tmp/m"
sed 's|data = text(.*)|data = text("nope.txt")|' $M >"$tmp/m/nope.rnn"
if (cd "$tmp" && "$root/$R" train "$root/$M" --set steps=2 -o "$tmp/cwd.safetensors") 2>"$tmp/err" &&
   (cd "$tmp" && ! "$root/$R" train m/nope.rnn 2>"$tmp/err") &&
   grep -q "^rnnc: cannot open the data file m/nope.txt: No such file or directory" "$tmp/err" &&
   grep -q "m/nope.rnn:14:3: a train block's file name is relative to the model file's folder, m, or else to the current directory)" "$tmp/err" &&
   cp "$(dirname $M)/$(sed -n 's|.*data = text("\(.*\)").*|\1|p' $M)" "$tmp/nope.txt" &&
   (cd "$tmp" && "$root/$R" train m/nope.rnn --set steps=2 -o "$tmp/fb.safetensors" 2>"$tmp/err") &&
   grep -q "^rnnc: note: .*not in the model file's folder; read nope.txt of the current directory" "$tmp/err" &&
   ! "$R" train $M --set 'data=text("nope.txt")' 2>"$tmp/err" &&
   grep -q "^rnnc: cannot open the data file nope.txt: No such file or directory" "$tmp/err" &&
   grep -q "(--set data: relative to the current directory)" "$tmp/err"; then
    ok "data files: relative to the model file, from any folder, else the current directory with a note; a missing one is named as tried"
else
    bad "data paths"
fi

# 13. Dropout (tests/train/droplm.rnn: dropout= between two LSTM layers and
#     dropout(...) on the embedding): 20 steps straight == 11 + resume to 20
#     byte for byte, the stop mid-sequence and the resumed run across an
#     epoch, as in 2; the resume is given another --seed, which must not
#     matter (the checkpoint's train:seed keys the masks).  `rnnc grad
#     --seed` draws other masks for another seed (the loss of the same
#     weights and data differs) and the same for the same one.  The C
#     engine gives the JIT's losses bit for bit (the same runtime kernel
#     draws every mask).
D=tests/train/droplm.rnn
S="--set batch=16 --set checkpoint_every=4"
"$R" init $D --seed 1 -o "$tmp/dw.safetensors" >/dev/null 2>"$tmp/err"
if "$R" train $D $S --set steps=20 -o "$tmp/ds.safetensors" 2>"$tmp/err" &&
   "$R" train $D $S --set steps=11 -o "$tmp/dr.safetensors" 2>"$tmp/err" &&
   "$R" train $D $S --set steps=20 --seed 7 --resume "$tmp/dr.safetensors" 2>"$tmp/err" &&
   cmp "$tmp/ds.safetensors" "$tmp/dr.safetensors" >"$tmp/err" 2>&1 &&
   cmp "$tmp/ds.loss.csv" "$tmp/dr.loss.csv" >"$tmp/err" 2>&1 &&
   "$B/tools/randnpy" i64 16x4 "$tmp/tok.npy" 1 40 && "$B/tools/randnpy" i64 16x4 "$tmp/nxt.npy" 2 40 &&
   G="$D -w $tmp/dw.safetensors -i tokens=$tmp/tok.npy -i next=$tmp/nxt.npy" &&
   l1=$("$R" grad $G --seed 1 -o "$tmp/g1.safetensors" 2>"$tmp/err") &&
   l1b=$("$R" grad $G --seed 1 -o "$tmp/g1b.safetensors" 2>"$tmp/err") &&
   l2=$("$R" grad $G --seed 2 -o "$tmp/g2.safetensors" 2>"$tmp/err") &&
   [ "$l1" = "$l1b" ] && [ "$l1" != "$l2" ] &&
   "$R" train $D --set steps=6 --engine c -o "$tmp/dc.safetensors" 2>"$tmp/err" &&
   "$R" train $D --set steps=6 --engine jit -o "$tmp/dj.safetensors" 2>"$tmp/err" &&
   cmp "$tmp/dc.loss.csv" "$tmp/dj.loss.csv" >"$tmp/err" 2>&1 &&
   cmp "$tmp/dc.safetensors" "$tmp/dj.safetensors" >"$tmp/err" 2>&1; then
    ok "dropout: resume is bit for bit, another seed other masks, C = JIT"
else
    bad "dropout training"
fi

# 14. export: the checkpoint of test 1 as plain weights.  Only the
#     parameters remain (the file is smaller), the run gives the
#     checkpoint's outputs bit for bit, the note says what was dropped, the
#     model file checks the weights, and another model's are refused.
if "$R" export "$tmp/a.safetensors" -o "$tmp/ex.safetensors" >"$tmp/out" 2>"$tmp/err" &&
   grep -q "^wrote 7 parameters to $tmp/ex.safetensors" "$tmp/out" &&
   grep -q "note: dropped the training state of $tmp/a.safetensors (14 optimizer state tensors" "$tmp/err" &&
   grep -q "dropped its vocabulary" "$tmp/err" &&
   [ "$(wc -c < "$tmp/ex.safetensors")" -lt "$(wc -c < "$tmp/a.safetensors")" ] &&
   ! grep -q "opt:\|train:\|carry:" "$tmp/ex.safetensors" &&
   "$R" run $M -w "$tmp/ex.safetensors" -i tokens="$tmp/x.npy" -o probs="$tmp/pe.npy" 2>"$tmp/err" &&
   "$CMP" --rtol 0 --atol 0 "$tmp/pe.npy" "$tmp/pa.npy" >"$tmp/err" 2>&1 &&
   "$R" export "$tmp/a.safetensors" -o "$tmp/ex2.safetensors" $M -m charlm >"$tmp/out" 2>"$tmp/err" &&
   cmp "$tmp/ex.safetensors" "$tmp/ex2.safetensors" >"$tmp/err" 2>&1 &&
   "$R" export "$tmp/ex.safetensors" -o "$tmp/ex3.safetensors" >"$tmp/out" 2>"$tmp/err" &&
   ! grep -q note "$tmp/err" && cmp "$tmp/ex.safetensors" "$tmp/ex3.safetensors" >"$tmp/err" 2>&1 &&
   ! "$R" export "$tmp/a.safetensors" -o "$tmp/ex4.safetensors" examples/many_to_one.rnn 2>"$tmp/err" &&
   grep -q "a.safetensors: parameter .e.weight. has shape" "$tmp/err" && [ ! -e "$tmp/ex4.safetensors" ]; then
    ok "export writes the weights alone, with a note on what it dropped"
else
    bad "export"
fi

# 15. Accuracy of a cross_entropy classifier: in the log lines, the epoch
#     summary (train and eval) and a fourth CSV column, each value a
#     fraction; none for an mse model (test 6's csv run).  Checked against
#     `rnnc run`: the many-to-one model of test 6 sees both of its examples
#     in its first step (batch = N = 2) with the weights of `rnnc init`
#     (seed 0), so step 1's accuracy is that of run's probabilities.
"$R" init examples/many_to_one.rnn -o "$tmp/m0.safetensors" >/dev/null 2>&1
"$R" run examples/many_to_one.rnn -w "$tmp/m0.safetensors" -i tokens=examples/data/chars_16x2.npy \
     -o probs="$tmp/mp.npy" 2>/dev/null
hl=$(od -A n -t u2 -j 8 -N 2 "$tmp/mp.npy" | tr -d ' ')
want=$(od -A n -t f4 -j $((10 + hl)) -v "$tmp/mp.npy" | tr -s ' \n' '  ' |
       awk '{ n = 0; r = 0; for (i = 1; i + 1 <= NF; i += 2) { p = ($(i + 1) > $i) ? 1 : 0; r += (p == n); n++ } print r / n }')
if "$R" train $M --set steps=20 --set log_every=10 -o "$tmp/ac.safetensors" 2>"$tmp/err" &&
   grep -q "^step 10/20  loss [0-9.]*  accuracy [0-9.]*%  grad_norm" "$tmp/err" &&
   grep -q "^epoch 1 (part): train loss [0-9.]*  accuracy [0-9.]*%  eval loss [0-9.]*  accuracy [0-9.]*%$" "$tmp/err" &&
   [ "$(head -1 "$tmp/ac.loss.csv")" = "step,loss,grad_norm,accuracy" ] &&
   awk -F, 'NR > 1 && (NF != 4 || $4 < 0 || $4 > 1) { exit 1 }' "$tmp/ac.loss.csv" &&
   [ "$(head -1 "$tmp/c.loss.csv")" = "step,loss,grad_norm" ] &&
   [ "$(head -1 "$tmp/m.loss.csv")" = "step,loss,grad_norm,accuracy" ] &&
   [ -n "$want" ] && awk -F, -v w="$want" 'NR == 2 { exit !($4 == w) }' "$tmp/m.loss.csv"; then
    ok "accuracy of a classifier in the log, the summary and the CSV (step 1: $want, as rnnc run)"
else
    bad "accuracy (want ${want:-?})"
fi

# 16. The epoch summaries of a resumed run are those of the run that never
#     stopped: the checkpoint holds the epoch's loss sum, steps and
#     accuracy counts so far (train:epoch_*).  As in 2, the stop at 11 is
#     mid-epoch (18 steps), so epoch 1's summary spans both runs; epoch 2's
#     part is the resumed run's alone.
S="--set batch=16 --set eval=0.1"
if "$R" train $M $S --set steps=20 -o "$tmp/e1.safetensors" 2>"$tmp/e1.err" &&
   "$R" train $M $S --set steps=11 -o "$tmp/e2.safetensors" 2>"$tmp/err" &&
   "$R" train $M $S --set steps=20 --resume "$tmp/e2.safetensors" 2>"$tmp/e2.err" &&
   grep "^epoch" "$tmp/e1.err" > "$tmp/e1.sum" && grep "^epoch" "$tmp/e2.err" > "$tmp/e2.sum" &&
   [ "$(wc -l < "$tmp/e1.sum")" -eq 2 ] && grep -q "^epoch 1: train loss .* accuracy" "$tmp/e1.sum" &&
   cmp "$tmp/e1.sum" "$tmp/e2.sum" >"$tmp/err" 2>&1 &&
   cmp "$tmp/e1.safetensors" "$tmp/e2.safetensors" >"$tmp/err" 2>&1; then
    ok "a resumed run's epoch summaries span the whole epoch"
else
    bad "epoch summary after resume"
    diff "$tmp/e1.sum" "$tmp/e2.sum" | sed 's/^/    /'
fi

# 17. shuffle = false keeps the data's order: from the same weights, runs
#     with other seeds (the seed drives only the order here) see the same
#     batches, so their losses are equal; with shuffling (the default)
#     they differ.  A value that is no boolean is refused with the key.
N="--set batch=4 --set steps=12 -w $tmp/w.safetensors"
if "$R" train $M $N --set shuffle=false --seed 1 -o "$tmp/o1.safetensors" 2>"$tmp/err" &&
   "$R" train $M $N --set shuffle=false --seed 2 -o "$tmp/o2.safetensors" 2>"$tmp/err" &&
   "$R" train $M $N --seed 1 -o "$tmp/o3.safetensors" 2>"$tmp/err" &&
   "$R" train $M $N --seed 2 -o "$tmp/o4.safetensors" 2>"$tmp/err" &&
   cmp "$tmp/o1.loss.csv" "$tmp/o2.loss.csv" >"$tmp/err" 2>&1 &&
   ! cmp -s "$tmp/o3.loss.csv" "$tmp/o4.loss.csv" &&
   ! "$R" train $M --set shuffle=no 2>"$tmp/err" && grep -q "'shuffle' must be true or false" "$tmp/err" &&
   printf 'model m {\n  input x : seq<int>\n  target y : seq<int>\n  e = embedding(x, vocab=4, dim=2)\n  loss = cross_entropy(e, y)\n}\ntrain m {\n  data = "d.txt"\n  shuffle = 1\n}\n' > "$tmp/sh.rnn" &&
   ! "$R" check "$tmp/sh.rnn" 2>"$tmp/err" && grep -q "sh.rnn:9:13: error: 'shuffle' must be true or false" "$tmp/err"; then
    ok "shuffle = false keeps the data's order, whatever the seed"
else
    bad "shuffle = false"
fi

# 18. sample --vocab: weights without a vocabulary (test 14's export, as
#     a model trained on npy ids has) sample as the checkpoint does when
#     given the training text; without --vocab the error says to give it.
if "$R" sample $M -w "$tmp/ex.safetensors" --vocab examples/data/tiny.txt --prime "the " --steps 50 --seed 2 \
       >"$tmp/vout" 2>"$tmp/err" &&
   "$R" sample $M -w "$tmp/a.safetensors" --prime "the " --steps 50 --seed 2 | cmp - "$tmp/vout" >"$tmp/err" 2>&1 &&
   ! "$R" sample $M -w "$tmp/ex.safetensors" 2>"$tmp/err" && grep -q "no vocabulary.*--vocab FILE" "$tmp/err" &&
   ! "$R" sample $M -w "$tmp/ex.safetensors" --vocab "$tmp/none.txt" 2>"$tmp/err" && grep -q "none.txt" "$tmp/err"; then
    ok "sample --vocab gives weights without a vocabulary the training text's"
else
    bad "sample --vocab"
fi

# 19. A batch-first array of one sequence ([1, 200, 2]: rnnc reads T = 1,
#     B = 200) runs, but with a warning naming the input and the layout
#     rnnc expects, in run and grad (for the target too) and as npy data
#     of train; a time-major array gets none.
"$R" init tests/train/series.rnn -o "$tmp/sw.safetensors" >/dev/null 2>&1
"$B/tools/randnpy" f32 1x200x2 "$tmp/x1.npy" 1 && "$B/tools/randnpy" f32 1x200x1 "$tmp/y1.npy" 2 &&
"$B/tools/randnpy" f32 200x1x2 "$tmp/x2.npy" 1
W="rnnc: warning: input 'x' has T = 1 and B = 200: is it batch-first? rnnc's sequences are time-major \[T, B, ...\]"
if "$R" run tests/train/series.rnn -w "$tmp/sw.safetensors" -i x="$tmp/x1.npy" -o z="$tmp/z1.npy" 2>"$tmp/err" &&
   grep -q "^$W$" "$tmp/err" &&
   "$R" grad tests/train/series.rnn -w "$tmp/sw.safetensors" -i x="$tmp/x1.npy" -i y="$tmp/y1.npy" >/dev/null 2>"$tmp/err" &&
   grep -q "^$W$" "$tmp/err" && grep -q "target 'y' has T = 1 and B = 200" "$tmp/err" &&
   "$R" run tests/train/series.rnn -w "$tmp/sw.safetensors" -i x="$tmp/x2.npy" -o z="$tmp/z2.npy" 2>"$tmp/err" &&
   ! grep -q warning "$tmp/err" &&
   "$R" train tests/train/series.rnn --set "data=npy(x=\"$tmp/x1.npy\", y=\"$tmp/y1.npy\")" --set seq_len=1 --set steps=1 \
       -o "$tmp/bf.safetensors" 2>"$tmp/err" &&
   grep -q "^rnnc: warning: data 'x' ($tmp/x1.npy) has T = 1 and N = 200 examples: is it batch-first?" "$tmp/err"; then
    ok "a batch-first sequence (T = 1, B = 200) is warned about"
else
    bad "batch-first warning"
fi

# 20. Truncated BPTT(k1, k2), tbptt_back (docs/training.md, "TBPTT"; the
#     numbers themselves: tests/unit/test_history.c).  tbptt_back = tbptt
#     is plain tbptt bit for bit; with dropout between LSTM layers the
#     interpreter and the JIT agree (float32 in another order, over 6 Adam
#     steps: 1e-5 relative + 1e-6), and the history changes the run; a run
#     stopped where the next window starts the sequence (step 6: no state
#     yet) or inside it (step 7) resumes bit for bit (the interpreter: no
#     compile time); tbptt_back < tbptt and `compile --train` are errors.
#     With lr = 1e-30 (no weight moves in float32) every update's loss is
#     plain tbptt's, to the digit, so the history's steps and the state
#     moved on are the right ones; the gradient norm is the same at each
#     sequence's first update (no history) and differs at the others.
T20="--set steps=4 --set eval=0"
H20="--set steps=6 --set eval=0 --set tbptt=5 --set tbptt_back=12"
L20="--set steps=8 --set eval=0 --set tbptt=4 --set lr=1e-30 --engine interp"
S20="--set steps=10 --set batch=16 --set tbptt=4 --set tbptt_back=12 --set checkpoint_every=3 --engine interp"
cp $M "$tmp/k.rnn" && sed -i "s|../../examples|$PWD/examples|; s/tbptt = 8/tbptt = 8 tbptt_back = 12/" "$tmp/k.rnn"
if "$R" train $M $T20 -o "$tmp/k1.safetensors" 2>"$tmp/err" &&
   "$R" train $M $T20 --set tbptt_back=8 -o "$tmp/k2.safetensors" 2>"$tmp/err" &&
   cmp "$tmp/k1.safetensors" "$tmp/k2.safetensors" >"$tmp/err" 2>&1 &&
   "$R" train tests/train/droplm.rnn $H20 --engine interp -o "$tmp/hi.safetensors" 2>"$tmp/err" &&
   "$R" train tests/train/droplm.rnn $H20 -o "$tmp/hj.safetensors" 2>"$tmp/err" &&
   "$CMP" --rtol 1e-5 --atol 1e-6 "$tmp/hj.safetensors" "$tmp/hi.safetensors" >"$tmp/err" 2>&1 &&
   "$R" train tests/train/droplm.rnn $H20 --set tbptt_back=5 --engine interp -o "$tmp/h5.safetensors" 2>"$tmp/err" &&
   ! cmp -s "$tmp/hi.loss.csv" "$tmp/h5.loss.csv" &&
   "$R" train $M $L20 -o "$tmp/l1.safetensors" 2>"$tmp/err" &&
   "$R" train $M $L20 --set tbptt_back=12 -o "$tmp/l2.safetensors" 2>"$tmp/err" &&
   paste -d, "$tmp/l1.loss.csv" "$tmp/l2.loss.csv" | awk -F, 'NR > 1 { n++; if ($2 != $6) bad = 1;
       if ((NR - 2) % 4 == 0) { if ($3 != $7) bad = 1 } else if ($3 == $7) bad = 1 } END { exit bad || n != 8 }' &&
   "$R" train $M $S20 -o "$tmp/ks.safetensors" 2>"$tmp/err" &&
   "$R" train $M $S20 --set steps=6 -o "$tmp/k6.safetensors" 2>"$tmp/err" &&
   "$R" train $M $S20 --resume "$tmp/k6.safetensors" 2>"$tmp/err" &&
   "$R" train $M $S20 --set steps=7 -o "$tmp/k7.safetensors" 2>"$tmp/err" &&
   "$R" train $M $S20 --resume "$tmp/k7.safetensors" 2>"$tmp/err" &&
   cmp "$tmp/ks.safetensors" "$tmp/k6.safetensors" >"$tmp/err" 2>&1 && cmp "$tmp/ks.loss.csv" "$tmp/k6.loss.csv" &&
   cmp "$tmp/ks.safetensors" "$tmp/k7.safetensors" >"$tmp/err" 2>&1 && cmp "$tmp/ks.loss.csv" "$tmp/k7.loss.csv" &&
   ! "$R" train $M --set tbptt_back=4 2>"$tmp/err" &&
   grep -q "^rnnc: tbptt_back = 4 is shorter than tbptt = 8: an update back-propagates at least its new steps" "$tmp/err" &&
   ! "$R" compile "$tmp/k.rnn" --train -o "$tmp/k.c" 2>"$tmp/err" &&
   grep -q "tbptt_back = 12 > tbptt = 8, which the compiled training step does not support" "$tmp/err"; then
    ok "tbptt_back: = tbptt is tbptt; interp = jit with dropout; resume bit for bit; errors"
else
    bad "tbptt_back"
fi

# Examples of different lengths: tests/train/lengths.sh.
. tests/train/lengths.sh

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
