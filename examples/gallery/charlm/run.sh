#!/bin/sh
# A character language model on a real text (README.md): trains
# charlm.rnn on the quotations of Debian's fortunes-min package, reports
# bits per character on the held-out end of the text, and samples from it.
#   sh examples/gallery/charlm/run.sh [--short] [BUILD_DIR]
# shellcheck source=examples/gallery/lib.sh
. "$(dirname "$0")/../lib.sh"
# full: 750 steps of LSTM 256; short: LSTM 64, 80 steps of 16 x 50
# characters, lr 0.01, no samples (what `make test` can afford under ASan)
if [ "$short" = 1 ]; then
    set -- --set steps=80 --set batch=16 --set seq_len=50 --set 'optimizer=adam(lr=0.01)'
    model=charlm_short.rnn temperatures=
else
    set --
    model=charlm.rnn temperatures="0.7 1.0"
fi
fortunes=/usr/share/games/fortunes
need $fortunes/literature fortunes-min
if [ "$short" = 1 ]; then
    sed 's/hidden=256/hidden=64/' "$here/charlm.rnn" >"$work/$model"
else
    cp "$here/charlm.rnn" "$work/"
fi
cd "$work" || exit 1

say "data: fortunes-min's quotations (fortune-mod, BSD licence: /usr/share/doc/fortunes-min/copyright)"
cat $fortunes/fortunes $fortunes/literature $fortunes/riddles >fortunes.txt
echo "fortunes.txt: $(wc -c <fortunes.txt | tr -d ' ') characters"

say "training (loss in nats a character; uniform guessing over 88 characters is ln 88 = 4.48 nats, 6.46 bits)"
train $model -o charlm.safetensors "$@"
# the last eval loss, in bits: nats / ln 2
awk -F'eval loss ' 'NF > 1 { split($2, f, " "); l = f[1] }
    END { printf "held-out text: %.3f nats = %.3f bits per character\n", l, l / log(2) }' train.txt | tee score.txt

[ -n "$temperatures" ] && say "samples: 300 characters after \"A \", at each temperature of: $temperatures"
for t in $temperatures; do
    echo "-- temperature $t:"
    "$RNNC" sample $model -w charlm.safetensors --prime "A " --steps 300 --temperature $t --seed 3 | tee sample-$t.txt
done
echo "wrote $work/charlm.loss.svg"
