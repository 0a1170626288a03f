#!/bin/sh
# tests/fuzz/run.sh BUILD [SECONDS [NAME...]] - runs each libFuzzer target
# of BUILD/fuzz (made by `make fuzzers`: see the Makefile's "fuzz") for
# SECONDS (default 30) on its corpus, one after the other, and prints one
# line per fuzzer: runs, coverage (libFuzzer's cov: edges and ft:
# features), corpus size, and any crash.  NAME: only fuzz_NAME (npy,
# frontend, ...).  Exits 1 if a fuzzer found anything, or could not run.
#
# Per fuzzer, under BUILD/fuzz:
#   corpus/NAME   the corpus the runs grow (kept between runs: the longer
#                 you fuzz, the further the next run starts)
#   seeds/NAME    remade on every run from tests/ and examples/ (and
#                 tests/fuzz/seeds/NAME), read only
#   crashes/NAME  what a crash, leak or time-out left: reproduce one with
#                 BUILD/fuzz/fuzz_NAME FILE; it becomes a regression file
#                 in tests/bad/ (docs/testing.md, "Fuzzers"); after the
#                 fix tests/fuzz/replay.sh BUILD replays them all
#
# FUZZ_JOBS=N runs N fuzzers side by side (default 1); FUZZ_FLAGS adds
# libFuzzer flags (-jobs, -use_value_profile=1, ...).
set -u
B=${1:?usage: run.sh BUILD [SECONDS [NAME...]]}
S=${2:-30}
[ $# -ge 2 ] && shift 2 || shift $#
cd "$(dirname "$0")/../.." || exit 2
ROOT=$PWD
F=$ROOT/$B/fuzz

names=${*:-$(for f in tests/fuzz/fuzz_*.c; do basename "$f" .c | sed 's/^fuzz_//'; done)}

# Missing fuzzers: say why (clang or libFuzzer missing, or not built) and fail.
missing=""
for n in $names; do [ -x "$F/fuzz_$n" ] || missing="$missing $n"; done
if [ -n "$missing" ]; then
    echo "FAIL no fuzzer$missing in $F"
    cc=${FUZZ_CC:-clang-14}
    if ! command -v "$cc" >/dev/null 2>&1; then
        echo "     $cc is missing: make deps (apt-get install clang-14)"
    elif ! echo 'int LLVMFuzzerTestOneInput(const char *d, long n) { return 0; }' |
        "$cc" -x c -fsanitize=fuzzer -o /dev/null - >/dev/null 2>&1; then
        echo "     $cc cannot link libFuzzer: make deps (apt-get install libclang-rt-14-dev)"
    else
        echo "     build them: make fuzzers BUILD=$B CC=$cc SAN=fuzz OPT=-O1 (make fuzz does)"
    fi
    exit 1
fi

# ---- seed corpora ---------------------------------------------------------
seed() { # seed NAME FILE...: copies the files that exist into seeds/NAME
    d=$F/seeds/$1
    shift
    for f in "$@"; do [ -f "$f" ] && cp "$f" "$d/$(echo "$f" | tr / _)"; done
}
prefixed() { # prefixed NAME OUT B0 B1 B2 B3 FILE: traindata's 4 setting bytes, then the file
    printf "\\$(printf %03o "$3")\\$(printf %03o "$4")\\$(printf %03o "$5")\\$(printf %03o "$6")" >"$F/seeds/$1/$2"
    head -c 3000 "$7" >>"$F/seeds/$1/$2"
}
mk_seeds() {
    for n in $names; do
        rm -rf "$F/seeds/$n"
        mkdir -p "$F/seeds/$n" "$F/corpus/$n" "$F/crashes/$n"
        [ -d "tests/fuzz/seeds/$n" ] && seed "$n" tests/fuzz/seeds/"$n"/*
    done
    tmp=$(mktemp -d)
    for n in $names; do
        case $n in
            frontend)
                seed frontend examples/*.rnn tests/bad/*/*.rnn tests/golden/*.rnn tests/fuzz/*.rnn
                # random models of every cell and topology (tests/tools/randmodel)
                if [ -x "$B/tools/randmodel" ]; then
                    for s in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16; do
                        mkdir -p "$tmp/r$s" && "$B/tools/randmodel" "$s" "$tmp/r$s" >/dev/null 2>&1 &&
                            cp "$tmp/r$s/model.rnn" "$F/seeds/frontend/rand_$s.rnn" 2>/dev/null
                    done
                fi ;;
            npy) seed npy tests/data/tensors/*.npy examples/data/*.npy tests/bad/tensors/*.npy ;;
            safetensors)
                seed safetensors tests/data/tensors/*.safetensors tests/bad/tensors/*.safetensors
                for m in one_to_one user_cell; do
                    "$B/rnnc" init "examples/$m.rnn" -o "$F/seeds/safetensors/init_$m.safetensors" >/dev/null 2>&1
                done ;;
            traindata)
                prefixed traindata tiny_txt 0 3 10 1 examples/data/tiny.txt
                prefixed traindata wave_csv 1 2 8 1 examples/data/wave.csv
                prefixed traindata reviews_txt 3 4 0 1 examples/data/reviews.txt
                prefixed traindata tagged_txt 3 2 0 0 examples/data/tagged.txt
                printf 'id,y,x\n0,1;2,0.5 1;2 3\n1,0,1 1\n2,3;3;4,1 2;0 0;-1e3 .5\n' >"$tmp/ex.csv"
                prefixed traindata examples_csv 4 2 0 1 "$tmp/ex.csv"
                printf '1 2 3\t3 2 1\n4 5\t5 4\nthe cat\tle chat\n7\t\n' >"$tmp/s2s.txt"
                prefixed traindata seq2seq_txt 5 2 0 1 "$tmp/s2s.txt" ;;
            checkpoint)
                seed checkpoint tests/data/tensors/model.safetensors
                FUZZ_WRITE_SEED=$F/seeds/checkpoint/valid.safetensors "$F/fuzz_checkpoint" >/dev/null 2>&1 ;;
            capi)
                seed capi tests/data/tensors/model.safetensors
                "$B/rnnc" init tests/fuzz/capi_model.rnn -o "$F/seeds/capi/init.safetensors" >/dev/null 2>&1 ;;
        esac
    done
    rm -rf "$tmp"
}
mk_seeds

# The longest input each takes: a little above its largest seed, so the
# mutations stay near the formats' size.
max_len() {
    case $1 in
        frontend) echo 16384 ;;
        npy | traindata | capi) echo 4096 ;;
        *) echo 8192 ;;
    esac
}

# ---- the runs -------------------------------------------------------------
one() { # one NAME: runs it, prints its line; rc 1 if it found something
    n=$1
    # one log a fuzzer and process: two runs of one fuzzer at once (the
    # suite beside a long run) would write over each other's
    log=$F/logs/$n.$$.log
    mkdir -p "$F/logs"
    dict=""
    [ "$n" = frontend ] && dict=-dict=$ROOT/tests/fuzz/rnn.dict
    start=$(date +%s)
    # shellcheck disable=SC2086
    "$F/fuzz_$n" -max_total_time="$S" -max_len="$(max_len "$n")" -timeout=20 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$F/crashes/$n/" $dict ${FUZZ_FLAGS:-} \
        "$F/corpus/$n" "$F/seeds/$n" >"$log" 2>&1
    rc=$?
    secs=$(($(date +%s) - start))
    # "#12345 DONE cov: 678 ft: 910 corp: 11/12Kb ..." and "stat::number_of_executed_units: N"
    done_line=$(grep -aE '^#[0-9]+[[:space:]]+(DONE|pulse|NEW|REDUCE|INITED)' "$log" | tail -n 1)
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    cov=$(echo "$done_line" | sed -n 's/.*cov: \([0-9]*\).*/\1/p')
    ft=$(echo "$done_line" | sed -n 's/.*ft: \([0-9]*\).*/\1/p')
    corp=$(ls "$F/corpus/$n" | wc -l)
    if [ "$rc" -eq 0 ]; then
        echo "PASS  fuzz_$n: $secs s, ${runs:-?} runs, cov ${cov:-?}, ft ${ft:-?}, corpus $corp"
        mv "$log" "$F/logs/$n.log" # the last good run's
        return 0
    fi
    echo "FAIL  fuzz_$n: $secs s, ${runs:-?} runs, cov ${cov:-?}, ft ${ft:-?}: exit $rc (log $log)"
    grep -aE 'ERROR: |SUMMARY: |runtime error|fuzz_[a-z]*: |Test unit written to' "$log" | head -n 8 | sed 's/^/      /'
    return 1
}

jobs=${FUZZ_JOBS:-1}
fail=0
if [ "$jobs" -le 1 ]; then
    for n in $names; do one "$n" || fail=1; done
else
    # side by side, N at a time: each in the background, waited for by count
    running=0
    for n in $names; do
        (one "$n" >"$F/logs/$n.line"; echo $? >"$F/logs/$n.rc") &
        running=$((running + 1))
        if [ "$running" -ge "$jobs" ]; then wait; running=0; fi
    done
    wait
    for n in $names; do
        cat "$F/logs/$n.line"
        [ "$(cat "$F/logs/$n.rc")" = 0 ] || fail=1
    done
fi
exit $fail
