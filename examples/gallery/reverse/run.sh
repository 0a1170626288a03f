#!/bin/sh
# Reversing words with an encoder-decoder (README.md): makes the data,
# trains reverse.rnn, and scores exact-match accuracy on words never
# trained on.
#   sh examples/gallery/reverse/run.sh [--short] [BUILD_DIR]
# shellcheck source=examples/gallery/lib.sh
. "$(dirname "$0")/../lib.sh"
# full: 8 letters, 20000 words, 10 epochs, 1000 test words; short: LSTMs
# of 64, 4 letters, 3000 words, 3 epochs at lr 0.01, no eval part, 500 test
# words (what `make test` can afford under ASan)
if [ "$short" = 1 ]; then
    L=4 N=3000 test=500
    set -- --set epochs=3 --set 'optimizer=adam(lr=0.01)' --set eval=0
    sed 's/hidden=128/hidden=64/g' "$here/reverse.rnn" >"$work/reverse.rnn"
else
    L=8 N=20000 test=1000
    set -- --set epochs=10
    cp "$here/reverse.rnn" "$work/"
fi
cd "$work" || exit 1

say "data: $N random words of $L letters (seed 1) to train on, $test others (seed 2) to test"
sh "$here/make_data.sh" "$TOOLS/npy_text" "$L" "$N" 1 data
sh "$here/make_data.sh" "$TOOLS/npy_text" "$L" "$test" 2 test

say "training (accuracy is per letter, with the true letters fed to the decoder)"
train reverse.rnn -o reverse.safetensors "$@"

say "exact match on the test words: every letter of the reversed word right"
"$RNNC" run reverse.rnn -w reverse.safetensors -i src=test/src.npy -i tgt_in=test/tgt_in.npy \
    -o probs=test/probs.npy
"$TOOLS/npy_text" dump test/probs.npy >test/probs.txt
"$TOOLS/npy_text" dump test/src.npy >test/src.txt
"$TOOLS/npy_text" dump test/tgt_out.npy >test/tgt_out.txt
# probs.txt is [L, B, 26] as L*B rows: row t*B + b is step t of word b
awk -v L="$L" '
FILENAME ~ /src/ { for (b = 1; b <= NF; b++) src[NR - 1, b - 1] = $b; B = NF; next }
FILENAME ~ /tgt_out/ { for (b = 1; b <= NF; b++) want[FNR - 1, b - 1] = $b; next }
{   best = 1; for (i = 2; i <= NF; i++) if ($i > $best) best = i
    got[int((FNR - 1) / B), (FNR - 1) % B] = best - 1 }
function word(a, b,   t, s) { s = ""; for (t = 0; t < L; t++) s = s sprintf("%c", 97 + a[t, b]); return s }
END {
    for (b = 0; b < B; b++) {
        ok = 1; for (t = 0; t < L; t++) { if (got[t, b] == want[t, b]) letters++; else ok = 0 }
        exact += ok
        if (b < 5 || (!ok && shown++ < 3)) printf "  %s -> %s %s\n", word(src, b), word(got, b), ok ? "" : "(wrong)"
    }
    printf "exact match: %.1f%% of %d words (letters right: %.1f%%)\n", 100 * exact / B, B, 100 * letters / (B * L)
}' test/src.txt test/tgt_out.txt test/probs.txt | tee score.txt
