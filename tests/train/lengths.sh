# Training on examples of different lengths (docs/training.md, "Examples
# of different lengths"): sourced by tests/train/run.sh, with its R, B,
# tmp, ok and bad.

# L1. The examples learn: the classifier of reviews (2 to 40 words) above
#     80% held-out accuracy after its 4 epochs (about 95% is usual), the
#     tagger above 90% after its 2 (over 99%); the progress lines and the
#     epoch summaries show the padding fraction, which bucketing keeps
#     under 20% (without it, 44%: L3).
C=examples/classify_lengths.rnn T=examples/tag_lengths.rnn
eval_acc() { sed -n 's/^epoch [0-9]*: .*eval loss [0-9.]*  accuracy \([0-9.]*\)%.*/\1/p' "$1" | tail -n 1; }
pad() { sed -n "s/^epoch $2: .*  padding \([0-9.]*\)%.*/\1/p" "$1"; }
if "$R" train $C -o "$tmp/cl.safetensors" 2>"$tmp/cl.err" && ca=$(eval_acc "$tmp/cl.err") &&
   awk -v a="$ca" 'BEGIN { exit !(a > 80) }' && cp=$(pad "$tmp/cl.err" 1) && awk -v p="$cp" 'BEGIN { exit !(p < 20) }' &&
   grep -q "^step 10/96  loss [0-9.]*  accuracy [0-9.]*%  padding [0-9.]*%  grad_norm" "$tmp/cl.err" &&
   "$R" train $T -o "$tmp/tg.safetensors" 2>"$tmp/tg.err" && ta=$(eval_acc "$tmp/tg.err") &&
   awk -v a="$ta" 'BEGIN { exit !(a > 90) }'; then
    ok "examples of different lengths learn: classifier ${ca}%, tagger ${ta}% held out; padding ${cp}% bucketed"
else
    cat "$tmp/cl.err" "$tmp/tg.err" > "$tmp/err" 2>/dev/null
    bad "examples of different lengths learn (classifier ${ca:-?}%, tagger ${ta:-?}%, padding ${cp:-?}%)"
fi

# L2. Resume with bucketing is bit for bit: 30 steps straight equal 13 +
#     resume to 30, which crosses into epoch 2 (24 batches an epoch: a new
#     shuffle and new pools), losses and weights.
S="--set steps=30 --set checkpoint_every=13"
if "$R" train $C $S -o "$tmp/bs.safetensors" 2>"$tmp/err" &&
   "$R" train $C --set steps=13 -o "$tmp/br.safetensors" 2>"$tmp/err" &&
   "$R" train $C $S --resume "$tmp/br.safetensors" 2>"$tmp/err" &&
   cmp "$tmp/bs.safetensors" "$tmp/br.safetensors" >"$tmp/err" 2>&1 &&
   cmp "$tmp/bs.loss.csv" "$tmp/br.loss.csv" >"$tmp/err" 2>&1; then
    ok "resume of bucketed examples of different lengths is bit for bit"
else
    bad "resume with bucketing"
fi

# L3. Without bucketing the same data pads far more (random batches of
#     lengths 2..40); and npy data gives its lengths as NAME_len.
D=examples/data
if "$R" train $C --set bucket=0 --set epochs=1 -o "$tmp/nb.safetensors" 2>"$tmp/err" && np=$(pad "$tmp/err" 1) &&
   awk -v p="$np" 'BEGIN { exit !(p > 30) }' &&
   "$R" train $C --set "data=npy(tokens=\"$D/ids32_12x2.npy\", tokens_len=\"$D/lengths12_2.npy\", label=\"$D/label_2.npy\")" \
       --set batch=1 --set bucket=0 --set eval=0 --set steps=2 -o "$tmp/ny.safetensors" 2>"$tmp/err" &&
   grep -q "epoch 1: train loss [0-9.]*  accuracy [0-9.]*%  padding 0.0%" "$tmp/err"; then
    ok "unbucketed padding ${np}%; npy data with tokens_len"
else
    bad "unbucketed padding (${np:-?}%), npy lengths"
fi
