#!/bin/sh
# Classifying and tagging sequences of different lengths with
# bidirectional layers (README.md): trains classify.rnn on reviews of 2 to
# 40 words and tag.rnn on sentences of 5 to 18, with bucketing, and
# reports the held-out accuracy and the padding fraction; the full form
# also trains the classifier without bucketing, to compare the padding,
# and on last(h) instead of final(h, layer=-1), to show the pitfall.
#   sh examples/gallery/lengths/run.sh [--short] [BUILD_DIR]
# shellcheck source=examples/gallery/lib.sh
. "$(dirname "$0")/../lib.sh"
# full: classifier 10 epochs (480 steps), tagger 4 (96); short: 3 and 1
if [ "$short" = 1 ]; then ce=3 te=1; else ce=10 te=4; fi
cp "$here/classify.rnn" "$here/tag.rnn" "$root/examples/data/reviews.txt" "$root/examples/data/tagged.txt" "$work/"
cd "$work" || exit 1

say "data: 480 reviews and 480 tagged sentences (examples/data/make_lengths.py, synthetic); the last 20% held out"
awk -F'\t' '{ n = split($2, w, " "); if (n < lo || !lo) lo = n; if (n > hi) hi = n; s += n }
    END { printf "%s: %d lines, %d to %d words, mean %.1f\n", FILENAME, NR, lo, hi, s / NR }' reviews.txt
awk -F'\t' '{ n = split($2, w, " "); if (n < lo || !lo) lo = n; if (n > hi) hi = n; s += n }
    END { printf "%s: %d lines, %d to %d words, mean %.1f\n", FILENAME, NR, lo, hi, s / NR }' tagged.txt

# last FILE: the last epoch summary of a train.txt
last() { grep '^epoch [0-9]*:' "$1" | tail -n 1; }
hide='^step [0-9]*/'

say "classifier: bidirectional GRU, final(h, layer=-1), bucket = 10"
train classify.rnn -o classify.safetensors --set epochs=$ce
cp train.txt classify.txt
if [ "$short" = 0 ]; then
    say "the same classifier without bucketing (bucket = 0): batches padded to their longest review"
    train classify.rnn -o classify-nobucket.safetensors --set epochs=$ce --set bucket=0
    cp train.txt classify-nobucket.txt
    say "the pitfall: the same classifier on last(h), whose backward half has read one word"
    sed 's/final(h, layer=-1)/last(h)/' classify.rnn >classify-last.rnn
    train classify-last.rnn -o classify-last.safetensors --set epochs=$ce
    cp train.txt classify-last.txt
fi

say "tagger: bidirectional LSTM, a tag at every word, bucket = 10"
train tag.rnn -o tag.safetensors --set epochs=$te
cp train.txt tag.txt

# score LINE NAME: "NAME: eval accuracy A%, padding P%" from an epoch summary
# (the eval accuracy is the second accuracy of the line)
score() {
    echo "$1" | awk -v name="$2" '{
        for (i = 1; i <= NF; i++) {
            if ($i == "accuracy") acc[++k] = $(i + 1)
            if ($i == "padding") pad = $(i + 1)
        }
        printf "%s: eval accuracy %s, padding %s\n", name, acc[2], pad
    }'
}
say "held-out accuracy and the padding of the last epoch"
{
    score "$(last classify.txt)" classifier
    if [ "$short" = 0 ]; then
        score "$(last classify-nobucket.txt)" "classifier, no bucketing"
        score "$(last classify-last.txt)" "classifier on last(h)"
    fi
    score "$(last tag.txt)" tagger
} | tee score.txt
echo "wrote $work/classify.loss.svg and tag.loss.svg"
