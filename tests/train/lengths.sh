# Training on examples of different lengths (docs/training.md, "Examples
# of different lengths"): sourced by tests/train/run.sh, with its R, B,
# tmp, ok and bad.  That the examples learn is tests/examples/run.sh's
# ("# learns:"); the readers, bucketing and the padding fraction are
# tests/unit/test_train_examples.c's.

# L1. A bucketed run stopped at step 9 and resumed to step 20, which
#     crosses into epoch 2 (15 batches an epoch: a new shuffle and new
#     pools), equals an uninterrupted one byte for byte, losses and
#     weights; the progress lines and the epoch summary show the padding.
L=tests/train/lengths.rnn
if "$R" train $L --set log_every=1 -o "$tmp/ls.safetensors" 2>"$tmp/err" &&
   grep -q "^step 3/20  loss [0-9.]*  accuracy [0-9.]*%  padding [0-9.]*%  grad_norm" "$tmp/err" &&
   grep -q "^epoch 1: train loss [0-9.]*  accuracy [0-9.]*%  padding [0-9.]*%$" "$tmp/err" &&
   "$R" train $L --set steps=9 -o "$tmp/lr.safetensors" 2>"$tmp/err" &&
   "$R" train $L --resume "$tmp/lr.safetensors" 2>"$tmp/err" &&
   cmp "$tmp/ls.safetensors" "$tmp/lr.safetensors" >"$tmp/err" 2>&1 &&
   cmp "$tmp/ls.loss.csv" "$tmp/lr.loss.csv" >"$tmp/err" 2>&1; then
    ok "a bucketed run of examples of different lengths resumes bit for bit; the padding is shown"
else
    bad "resume of bucketed examples of different lengths"
fi
