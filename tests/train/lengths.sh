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

# L2. Truncated BPTT of examples with lengths (tests/train/tagger.rnn):
#     a batch has the segments its longest member needs, ceil(max / 4):
#     with shuffle = false the epoch's updates are the sum of those of
#     the file's batches of 16 lines, counted here with awk.  Full BPTT:
#     the first 16 lines have at most 17 words, the file 18, so with
#     tbptt = 17 the first batch is one segment, which must update the
#     weights as full BPTT (tbptt = 18, no cutting) does, though through
#     the carrying module of segments (the same float operations and a
#     reset: compared exactly).  A bucketed, shuffled run with tbptt_back
#     stopped at step 13 and resumed to 30 equals an uninterrupted one
#     byte for byte.
G="tests/train/tagger.rnn --engine=interp"  # a small model: the interpreter costs least
want=$(awk -F'\t' '{ n = split($2, w, " "); if (n > m) m = n }
                   NR % 16 == 0 { s += int((m + 3) / 4); m = 0 } END { print s }' examples/data/tagged.txt)
one="--set eval=0 --set shuffle=false --set bucket=0 --set steps=1"
# shellcheck disable=SC2086
if "$R" train $G --set eval=0 --set shuffle=false --set bucket=0 --set tbptt_back=4 --set epochs=1 \
       -o "$tmp/g1.safetensors" 2>"$tmp/err" &&
   grep -q "^training model 'tagger' on .*: $want steps, 30 batches an epoch of 16 x up to 18 steps in 5 segments" "$tmp/err" &&
   grep -q "^step $want/$want " "$tmp/err" &&
   "$R" train $G $one --set tbptt=17 --set tbptt_back=17 -o "$tmp/g2.safetensors" 2>"$tmp/err" &&
   "$R" train $G $one --set tbptt=18 --set tbptt_back=18 -o "$tmp/g3.safetensors" 2>"$tmp/err" &&
   cmp "$tmp/g2.safetensors" "$tmp/g3.safetensors" >"$tmp/err" 2>&1; then
    ok "tbptt with lengths: a batch's segments are its longest member's; one segment is full BPTT"
else
    bad "tbptt with lengths: segments of a batch, full BPTT"
fi
# shellcheck disable=SC2086
if "$R" train $G -o "$tmp/gs.safetensors" 2>"$tmp/err" &&
   "$R" train $G --set steps=13 -o "$tmp/gr.safetensors" 2>"$tmp/err" &&
   "$R" train $G --resume "$tmp/gr.safetensors" 2>"$tmp/err" &&
   cmp "$tmp/gs.safetensors" "$tmp/gr.safetensors" >"$tmp/err" 2>&1 &&
   cmp "$tmp/gs.loss.csv" "$tmp/gr.loss.csv" >"$tmp/err" 2>&1 &&
   cmp "$tmp/gs.eval.csv" "$tmp/gr.eval.csv" >"$tmp/err" 2>&1; then
    ok "tbptt and tbptt_back with lengths: a bucketed run resumed mid-sequence is bit for bit an uninterrupted one"
else
    bad "tbptt with lengths: resume"
fi

# L3. An encoder-decoder with lengths on both sides (tests/train/seq2seq.rnn,
#     the arrays of the PyTorch fixture grad_packed_seq2seq: each side a T
#     and lengths of its own, garbage at the padded steps): the first
#     step's loss is PyTorch's, within 1e-5 relative (float32 sums in
#     another order: ~1e-7 relative each).
F=tests/conformance/fixtures/grad_packed_seq2seq
if "$R" train tests/train/seq2seq.rnn --engine=interp -w $F/weights.safetensors -o "$tmp/s2s.safetensors" 2>"$tmp/err" &&
   want=$("$B/tools/npy_text" dump $F/loss.npy) &&
   awk -F, -v w="$want" 'NR == 2 { d = $2 - w; if (d < 0) d = -d; ok = d <= 1e-5 * w } END { exit !ok }' \
       "$tmp/s2s.loss.csv"; then
    ok "an encoder-decoder with lengths on both sides trains on npy data; its loss is PyTorch's"
else
    bad "encoder-decoder with lengths of both sides: npy data"
fi

# L4. The same model on text data, SOURCE<TAB>TARGET: two lines, whose
#     target ids are their own numbers (V = 5: EOS 5, BOS 6).  The first
#     step's loss equals `rnnc run`'s loss on the arrays written here by
#     hand as docs/training.md says the reader makes them (the decoder
#     reads BOS and the target, is to predict the target and EOS), 1e-6
#     relative (the same float32 operations in both modules).
printf '1 2 3\t3 2 1\n4\t4 0\n' >"$tmp/s2s.txt"
N="$B/tools/npy_text"
if echo "1 4 2 0 3 0" | "$N" make "$tmp/src.npy" i64 3,2 && echo "3 1" | "$N" make "$tmp/sl.npy" i64 2 &&
   echo "6 6 3 4 2 0 1 0" | "$N" make "$tmp/ti.npy" i64 4,2 && echo "4 3" | "$N" make "$tmp/tl.npy" i64 2 &&
   echo "3 4 2 0 1 5 5 0" | "$N" make "$tmp/to.npy" i64 4,2 &&
   "$R" train tests/train/seq2seq.rnn --engine=interp -w $F/weights.safetensors --set "data=text(\"$tmp/s2s.txt\")" \
       --set batch=2 --set steps=1 -o "$tmp/s2t.safetensors" 2>"$tmp/err" &&
   "$R" run tests/train/seq2seq.rnn --engine=interp -w $F/weights.safetensors -i src="$tmp/src.npy" \
       -i src.len="$tmp/sl.npy" -i tgt_in="$tmp/ti.npy" -i tgt_in.len="$tmp/tl.npy" -i tgt_out="$tmp/to.npy" \
       -o loss="$tmp/l.npy" >"$tmp/err" 2>&1 &&
   want=$("$N" dump "$tmp/l.npy") &&
   awk -F, -v w="$want" 'NR == 2 { d = $2 - w; if (d < 0) d = -d; ok = d <= 1e-6 * w } END { exit !ok }' \
       "$tmp/s2t.loss.csv"; then
    ok "an encoder-decoder trains on text lines SOURCE<TAB>TARGET, with BOS and EOS as documented"
else
    bad "encoder-decoder on text data"
fi
