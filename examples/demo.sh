#!/bin/sh
# The demo of `make demo`: check a model, show its IR, make weights, run it.
set -eu
RNNC=${1:-build/rnnc}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
model=examples/many_to_many.rnn
if [ -t 1 ]; then b=$(printf "\033[1m"); n=$(printf "\033[0m"); else b=""; n=""; fi
step() { printf "\n%s$ %s%s\n" "$b" "$*" "$n"; "$@"; }
step "$RNNC" check $model
step "$RNNC" dump --stage=ir $model
step "$RNNC" init $model -o "$tmp/w.safetensors" --seed 42
# shellcheck disable=SC2046
step "$RNNC" run $model -w "$tmp/w.safetensors" $(sed -n 's/^# inputs: //p' $model | head -1)
echo
echo "demo done: see docs/language.md to write your own model, and 'rnnc --help'."
