#!/bin/sh
# The demo of `make demo`: what rnnc is for, on a real text, in six steps -
# train a character LSTM, sample from it, compile it to one C file, build a
# C program on that file and run it.  Under a minute on two cores.
#
#   sh examples/demo.sh [build/rnnc [WORKDIR]]
#
# Everything it makes is in WORKDIR, default demo/ beside the rnnc it is
# given (build/demo/).
# The text is the quotations of Debian's fortunes-min package (fortune-mod,
# BSD licence: /usr/share/doc/fortunes-min/copyright), which `make demo`
# installs (scripts/deps.sh demo).
set -eu
RNNC=${1:-build/rnnc}
here=$(cd "$(dirname "$0")" && pwd)
work=${2:-$(cd "$(dirname "$RNNC")" && pwd)/demo}
RNNC=$(cd "$(dirname "$RNNC")" && pwd)/$(basename "$RNNC")
CC=${CC:-cc}
FORTUNES=${FORTUNES:-/usr/share/games/fortunes}

if [ -t 1 ]; then b=$(printf '\033[1m'); d=$(printf '\033[2m'); n=$(printf '\033[0m'); else b=""; d=""; n=""; fi
start=$(date +%s)
# header N TEXT: what the next step does, in a line
header() { printf '\n%s[%s/6] %s%s\n' "$b" "$1" "$2" "$n"; }
# run CMD...: shows the command (rnnc for the binary's path), then runs it
run() {
    show=""
    for a in "$@"; do
        case $a in "$RNNC") a=rnnc ;; *" "* | "") a="\"$a\"" ;; esac
        show="$show${show:+ }$a"
    done
    printf '%s$ %s%s\n' "$d" "$show" "$n"
    "$@"
}

for f in fortunes literature riddles; do
    [ -f "$FORTUNES/$f" ] || {
        echo "demo: $FORTUNES/$f is missing: apt-get install fortunes-min (make demo does it as root)" >&2
        exit 1
    }
done
mkdir -p "$work"
# a fresh run: the files of the last one go (only those: $work may be shared)
(cd "$work" && rm -f fortunes.txt fortunes.safetensors fortunes.loss.csv fortunes.loss.svg fortunes.c fortunes.h fortune)
cp "$here/demo/fortunes.rnn" "$here/demo/fortune.c" "$work/"
cd "$work"
echo "rnnc demo: the commands run in $work (rnnc is $RNNC)"

header 1 "The text: quotations from Debian's fortunes-min package, one file"
cat "$FORTUNES/fortunes" "$FORTUNES/literature" "$FORTUNES/riddles" >fortunes.txt
chars=$(wc -c <fortunes.txt | tr -d ' ')
distinct=$(od -An -v -tu1 fortunes.txt | tr -s ' ' '\n' | sed '/^$/d' | sort -u | wc -l | tr -d ' ')
echo "fortunes.txt: $chars characters, $distinct distinct; fortunes end with a line \"%\":"
sed -n '1,/^%$/p' fortunes.txt | sed 's/^/    /'

header 2 "The model: a character LSTM in rnnc's language; 'check' parses and type-checks it"
grep -v '^#' fortunes.rnn | sed -e 's/ *#.*//' -e '/^$/d' -e 's/^/    /'
run "$RNNC" check fortunes.rnn

header 3 "Training: the loss is nats per character; uniform guessing scores ln 96 = 4.56"
echo "(letter frequencies alone score 3.28; the eval loss is on the last 5% of the text, never trained on)"
run "$RNNC" train fortunes.rnn -o fortunes.safetensors

header 4 "Sampling: the trained model writes, one character at a time"
run "$RNNC" sample fortunes.rnn -w fortunes.safetensors --prime "A " --steps 300 --temperature 0.7 --seed 3

header 5 "Compiling: the model and its trained weights as one C file, libc and libm only"
run "$RNNC" compile fortunes.rnn -w fortunes.safetensors --embed-weights -o fortunes.c --header fortunes.h
echo "fortunes.c: $(wc -l <fortunes.c | tr -d ' ') lines; its API is in fortunes.h (docs/c-api.md)"

header 6 "A C program on it (examples/demo/fortune.c): new fortunes with fortunes_step"
run "$CC" -std=c11 -O2 -o fortune fortune.c fortunes.c -lm
run ./fortune fortunes.txt 2

echo
echo "${b}demo done in $(($(date +%s) - start)) s${n}; what it made is in $work:"
echo "  cd $work && ./fortune fortunes.txt 3     # three more fortunes"
echo "  $work/fortunes.loss.svg                   # the loss curve of the training"
echo "next: docs/language.md to write a model, docs/training.md for the train block,"
echo "examples/ for every kind of RNN, docs/c-api.md for the C API, 'rnnc --help'."
