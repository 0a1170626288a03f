#!/bin/sh
# Every example model is checked (the count on success too), given fresh weights by `rnnc init`, and run
# on the inputs its "# inputs:" comment names (small arrays shipped in
# examples/data/).  The run must succeed and produce every output.  An
# example with a train block must train on its own data as written (one
# epoch, in the example's settings otherwise), and one with a "# learns:
# N" line must reach a held-out accuracy above N% in that epoch.
set -u
B=${1:-build}
RNNC=$B/rnnc
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
pass=0; fail=0
for f in examples/*.rnn; do
    [ -f "$f" ] || continue
    name=$(basename "$f" .rnn)
    inputs=$(sed -n 's/^# inputs: //p' "$f" | head -1)
    if ! out=$("$RNNC" check "$f" 2>&1); then
        fail=$((fail + 1)); echo "FAIL $name: check"; echo "$out"; continue
    fi
    # a success says so, with what it checked (docs/cli.md)
    if ! echo "$out" | grep -qx "$f: 1 model.*: 0 errors, 0 warnings"; then
        fail=$((fail + 1)); echo "FAIL $name: check printed no count"; echo "$out"; continue
    fi
    if ! out=$("$RNNC" init "$f" -o "$tmp/$name.safetensors" --seed 1 2>&1); then
        fail=$((fail + 1)); echo "FAIL $name: init"; echo "$out"; continue
    fi
    if [ -z "$inputs" ]; then
        fail=$((fail + 1)); echo "FAIL $name: no '# inputs:' line"; continue
    fi
    # shellcheck disable=SC2086
    if ! out=$("$RNNC" run "$f" -w "$tmp/$name.safetensors" $inputs 2>&1); then
        fail=$((fail + 1)); echo "FAIL $name: run"; echo "$out"; continue
    fi
    if echo "$out" | grep -qwiE 'nan|-?inf'; then
        fail=$((fail + 1)); echo "FAIL $name: non-finite output"; echo "$out"; continue
    fi
    if grep -q '^train ' "$f" &&
        ! out=$("$RNNC" train "$f" -w "$tmp/$name.safetensors" --set epochs=1 -o "$tmp/$name.ckpt.safetensors" 2>&1); then
        fail=$((fail + 1)); echo "FAIL $name: train"; echo "$out"; continue
    fi
    # "# learns: N" - that epoch's held-out accuracy must be above N%
    want=$(sed -n 's/^# learns: //p' "$f" | head -1)
    got=$(echo "$out" | sed -n 's/^epoch 1: .*eval loss [0-9.]*  accuracy \([0-9.]*\)%.*/\1/p')
    if [ -n "$want" ] && ! awk -v g="${got:-0}" -v w="$want" 'BEGIN { exit !(g > w) }'; then
        fail=$((fail + 1)); echo "FAIL $name: held-out accuracy ${got:-?}% after one epoch, not above $want%"; echo "$out"; continue
    fi
    pass=$((pass + 1)); echo "PASS $name"
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
