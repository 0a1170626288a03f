#!/bin/sh
# Runs every test suite against the binaries in BUILD_DIR (default build):
# the cmocka unit tests, the golden dump tests (FileCheck), the bad-input
# corpus, mutated random models (tests/diff/mutate.sh), the PyTorch
# conformance suite, the examples, the examples gallery's short forms,
# training, data-parallel training under mpirun (tests/mpi), the
# end-to-end checks, the files rnnc writes (tests/files),
# the deployed C files, the differential tests (random models through three engines,
# tests/diff/run.sh) and the fuzzers (tests/fuzz/run.sh: the clang
# build's libFuzzer targets, FUZZ_BUILD, default build-clang, for
# FUZZ_SUITE_SECONDS in all, default 180, 30 s each).
#
#   sh tests/run_all.sh [BUILD_DIR]
#
# Suites run TEST_JOBS at a time (default: the number of cores), the
# longest first so that the short ones fill in around them; each prints
# one line when it ends, with its wall and CPU seconds, and a failing
# suite's last 40 lines of output.  Closes with "N passed, M failed" (suites), the failed
# suites named; exits 1 if any failed.
set -u
self=$(cd "$(dirname "$0")" && pwd)/run_all.sh
cd "$(dirname "$0")/.." || exit 2
B=${1:-build}
# Every suite verifies the kernel IR after each pass of kcompile()
# (kir/kir_passcheck.h): a pass that breaks it aborts where it broke it.
RNNC_VERIFY_KIR=${RNNC_VERIFY_KIR:-1}
export RNNC_VERIFY_KIR

# one NAME LOGDIR: runs suite NAME, leaves LOGDIR/NAME.{out,rc} and prints
# its line.  (Called by xargs below, in a shell of its own.)
if [ "${RUN_ALL_ONE:-}" ]; then
    name=$1 log=$2 B=$3
    f="$log/$(echo "$name" | tr / _)"
    start=$(date +%s)
    case $name in
        unit/*)          "$B/tests/${name#unit/}" ;;
        golden)          sh tests/golden/run.sh "$B" ;;
        bad-input)       sh tests/bad/run.sh "$B" ;;
        # every case on the interpreter and the JIT on the plain build (the
        # numbers: 42 cases, ~20 CPU-s there against ~100 under ASan), and
        # under ASan (the memory errors) the three largest lengths cases on
        # the JIT: an encoder-decoder, a stacked bidirectional LSTM and a
        # user cell with reverse(), forward and gradients.  Without a plain
        # build, everything on B.
        conformance)     if [ "$B" != "${PLAIN_BUILD:-build}" ] && [ -x "${PLAIN_BUILD:-build}/tools/npycmp" ]; then
                             sh tests/conformance/run.sh "${PLAIN_BUILD:-build}" &&
                             CONFORMANCE_ENGINES=jit CONFORMANCE_CASES="grad_packed_seq2seq grad_packed_lstm_stacked_bidir grad_packed_user_cell_reverse" \
                                 sh tests/conformance/run.sh "$B"
                         else
                             sh tests/conformance/run.sh "$B"
                         fi ;;
        examples)        sh tests/examples/run.sh "$B" ;;
        gallery)         sh tests/gallery/run.sh "$B" ;;
        train)           sh tests/train/run.sh "$B" ;;
        e2e)             sh tests/e2e/run.sh "$B" ;;
        files)           sh tests/files/run.sh "$B" ;;
        # data-parallel training under mpirun (skipped without MPI) on the
        # plain build, and two short runs of the sanitizer build B: one
        # process, and two under mpirun with LeakSanitizer off (Open MPI's
        # own allocations are never freed); tests/mpi/run.sh says why
        mpi)             if [ -x "${PLAIN_BUILD:-build}/rnnc" ]; then
                             sh tests/mpi/run.sh "${PLAIN_BUILD:-build}" "$B"
                         else
                             sh tests/mpi/run.sh "$B"
                         fi ;;
        deploy)          sh tests/deploy/run.sh "$B" ;;
        engine)          sh tests/engine/run.sh "$B" ;;
        engine-defaults) sh tests/engine/defaults.sh "$B" ;;
        # 200 random models through the three engines on the plain build
        # (the numbers; ASan doubles their time) and 24 others on B (the
        # memory errors): tests/diff/run.sh.  Without a plain build, the
        # 200 on B.
        diff)            if [ "$B" != "${PLAIN_BUILD:-build}" ] && [ -x "${PLAIN_BUILD:-build}/tools/randmodel" ]; then
                             sh tests/diff/run.sh "${PLAIN_BUILD:-build}" 200 1
                         else
                             sh tests/diff/run.sh "$B" 200 1
                         fi ;;
        # (their C code by gcc at -O1, where diff's is clang's at -O0: both
        # compilers see random models' code)
        diff-san)        DIFF_CC=cc DIFF_CC_OPT=-O1 sh tests/diff/run.sh "$B" 24 201 ;;
        mutate)          sh tests/diff/mutate.sh "$B" 60 ;;
        # the libFuzzer targets of the clang build (tests/fuzz/run.sh),
        # FUZZ_SUITE_SECONDS in all, shared between them
        fuzz)            sh tests/fuzz/run.sh "${FUZZ_BUILD:-build-clang}" \
                             $(( ${FUZZ_SUITE_SECONDS:-180} / $(ls tests/fuzz/fuzz_*.c | wc -l) )) ;;
        *)               echo "run_all: no suite $name"; false ;;
    esac >"$f.out" 2>&1
    rc=$?
    secs=$(($(date +%s) - start))
    # the CPU seconds of everything the suite ran (user + system): unlike
    # its wall time, not inflated by the suites beside it
    # (times itself, not in a $(...) subshell, which has no children)
    times >"$f.times"
    cpu=$(awk 'NR == 2 { split($1, u, "m"); split($2, s, "m"); printf "%.0f", u[1] * 60 + u[2] + s[1] * 60 + s[2] }' "$f.times")
    echo "$rc" >"$f.rc"
    if [ "$rc" -eq 0 ]; then
        echo "PASS  $name ($secs s, $cpu s CPU)"
    else
        printf 'FAIL  %s (%s s, %s s CPU)\n%s\n' "$name" "$secs" "$cpu" "$(sed 's/^/      /' "$f.out" | tail -n 40)"
    fi
    exit 0
fi

jobs=${TEST_JOBS:-$(nproc 2>/dev/null || echo 2)}
log=$(mktemp -d)
trap 'rm -rf "$log"' EXIT

# The longest suites first (seconds under the sanitizer build, 2 cores):
# a long one started last would end the run alone on one core.
{
    for s in fuzz diff engine diff-san unit/test_llvm_jit deploy unit/test_sgemm e2e train unit/test_emit_c \
             unit/test_rt_source examples gallery conformance engine-defaults files mpi mutate golden bad-input; do
        echo "$s"
    done
    for t in "$B"/tests/test_*; do
        [ -x "$t" ] || continue
        case " diff engine unit/test_llvm_jit unit/test_sgemm unit/test_emit_c unit/test_rt_source " in
            *" unit/$(basename "$t") "*) ;;
            *) echo "unit/$(basename "$t")" ;;
        esac
    done
} >"$log/suites"

start=$(date +%s)
RUN_ALL_ONE=1 xargs -P "$jobs" -I{} sh "$self" {} "$log" "$B" <"$log/suites"
passed=0 failed=0 failures=""
while read -r name; do
    f="$log/$(echo "$name" | tr / _)"
    if [ "$(cat "$f.rc" 2>/dev/null)" = 0 ]; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1)); failures="$failures $name"
    fi
done <"$log/suites"

echo
echo "$(($(date +%s) - start)) s for every suite, $jobs at a time"
[ -n "$failures" ] && echo "failed suites:$failures"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
