#!/bin/sh
# The files rnnc writes (io/outfile.h, docs/cli.md "Output files"):
# special files written in place, symbolic links followed, errors that
# name the file and keep the old one, no temporary file left by a signal,
# leftovers of dead processes removed.  A few seconds.
#   sh tests/files/run.sh BUILD_DIR
# Prints one line a test and "N passed, M failed"; exits 1 on a failure.
# As root (CI), the read-only folder and the full disk are small tmpfs
# mounts when mount works; without root a chmod'ed folder, and no full
# disk (SKIP).
set -u
B=${1:-build}
cd "$(dirname "$0")/../.." || exit 2
R=$B/rnnc
M=tests/train/charlm.rnn
S=examples/stacked.rnn
X=examples/data/series_10x2x3.npy
tmp=$(mktemp -d)
mounts=""
cleanup() {
    for m in $mounts; do umount "$m" 2>/dev/null; done
    chmod -R u+w "$tmp" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
pass=0; fail=0

ok() { pass=$((pass + 1)); echo "PASS $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; [ -f "$tmp/err" ] && sed 's/^/    /' "$tmp/err" | tail -n 15; }
skip() { echo "SKIP $1"; }
# No temporary file of rnnc anywhere under DIR.
no_tmp() { [ -z "$(find "$1" -name '*.rnnc-tmp.*' 2>/dev/null)" ]; }
run_s() { "$R" run $S --engine=interp -w "$tmp/s.safetensors" -i x=$X "$@"; }

"$R" init $S -o "$tmp/s.safetensors" --seed 1 >/dev/null 2>"$tmp/err" &&
    run_s -o yhat="$tmp/ref.npy" 2>"$tmp/err" || { bad "setup: init and run"; exit 1; }

# 1. /dev/null stays the character device (a rename once replaced it, as
#    root), for a tensor, weights and a C file; a device node outside /dev
#    is written in place too.
if run_s -o yhat=/dev/null 2>"$tmp/err" && "$R" init $S -o /dev/null >/dev/null 2>"$tmp/err" &&
   "$R" compile $S -o /dev/null 2>"$tmp/err" && [ -c /dev/null ] && no_tmp /dev; then
    ok "/dev/null output stays a character device"
else
    bad "/dev/null output"
fi
if mknod "$tmp/null" c 1 3 2>/dev/null; then
    if run_s -o yhat="$tmp/null" 2>"$tmp/err" && [ -c "$tmp/null" ] && no_tmp "$tmp"; then
        ok "a character device outside /dev is written in place"
    else
        bad "a character device outside /dev"
    fi
else
    skip "mknod: not root"
fi

# /dev/stdout names the descriptor: into a pipe, and into a file the
# shell opened (written through it, not renamed over).
if run_s -o yhat=/dev/stdout 2>"$tmp/err" | cmp - "$tmp/ref.npy" >"$tmp/err" 2>&1 &&
   run_s -o yhat=/dev/stdout >"$tmp/out.npy" 2>"$tmp/err" && cmp "$tmp/out.npy" "$tmp/ref.npy" >"$tmp/err" 2>&1 &&
   no_tmp "$tmp"; then
    ok "/dev/stdout output goes to a pipe and to a redirected file"
else
    bad "/dev/stdout output"
fi

# 2. A FIFO is written in place: a reader gets the same bytes as the file.
mkfifo "$tmp/fifo"
cat "$tmp/fifo" >"$tmp/from_fifo" &
reader=$!
if run_s -o yhat="$tmp/fifo" 2>"$tmp/err" && wait $reader && cmp "$tmp/from_fifo" "$tmp/ref.npy" >"$tmp/err" 2>&1 &&
   [ -p "$tmp/fifo" ] && no_tmp "$tmp"; then
    ok "FIFO output is read by a reader and stays a FIFO"
else
    bad "FIFO output"
    kill $reader 2>/dev/null
fi

# 3. A symbolic link: its target gets the new file, the link stays.
mkdir "$tmp/real"
echo old >"$tmp/real/y.npy"
ln -s real/y.npy "$tmp/link.npy"
if run_s -o yhat="$tmp/link.npy" 2>"$tmp/err" && [ -L "$tmp/link.npy" ] &&
   cmp "$tmp/real/y.npy" "$tmp/ref.npy" >"$tmp/err" 2>&1 && no_tmp "$tmp"; then
    ok "symlink output updates its target and keeps the link"
else
    bad "symlink output"
fi

# 4. A read-only folder: an error naming the file, status 1, the old file
#    kept.  Root writes anywhere, so as root a read-only tmpfs.
ro=$tmp/ro
mkdir "$ro"
cp "$tmp/s.safetensors" "$ro/w.safetensors"
ro_ok=""
if [ "$(id -u)" -ne 0 ]; then
    chmod 555 "$ro" && ro_ok=1
elif mount -t tmpfs -o size=1m tmpfs "$ro" 2>/dev/null; then
    mounts="$ro $mounts"
    cp "$tmp/s.safetensors" "$ro/w.safetensors"
    mount -o remount,ro "$ro" 2>/dev/null && ro_ok=1
fi
if [ -n "$ro_ok" ]; then
    "$R" init $S -o "$ro/w.safetensors" --seed 2 >/dev/null 2>"$tmp/err"
    rc=$?
    if [ $rc -eq 1 ] && grep -q "$ro/w.safetensors" "$tmp/err" && cmp "$ro/w.safetensors" "$tmp/s.safetensors" >/dev/null &&
       no_tmp "$ro"; then
        ok "read-only folder: error names the file, old file kept"
    else
        bad "read-only folder (status $rc)"
    fi
else
    skip "read-only folder: root without mount"
fi

# 5. A file size limit while writing a checkpoint (EFBIG; rnnc ignores
#    SIGXFSZ): status 1, the message names the checkpoint, the old one
#    stays whole.  ulimit -f 8 is 4 KB (dash, 512-byte blocks) or 8 KB
#    (bash): enough for the loss log of two steps, not the ~28 KB
#    checkpoint, which is written before the plot.
if "$R" train $M --set steps=2 -o "$tmp/c.safetensors" 2>"$tmp/err"; then
    cp "$tmp/c.safetensors" "$tmp/c.old"
    (ulimit -f 8 && "$R" train $M --set steps=2 --set seed=7 -o "$tmp/c.safetensors") 2>"$tmp/err"
    rc=$?
    if [ $rc -eq 1 ] && grep -q "c.safetensors: write failed: File too large" "$tmp/err" &&
       cmp "$tmp/c.safetensors" "$tmp/c.old" >/dev/null && no_tmp "$tmp"; then
        ok "size limit: error names the checkpoint, the old one kept"
    else
        bad "size limit (status $rc)"
    fi
else
    bad "size limit: first checkpoint"
fi

# 6. A full disk (ENOSPC): a tmpfs with room for the old checkpoint, not
#    for it and a new one.
full=$tmp/full
mkdir "$full"
if [ "$(id -u)" -eq 0 ] && mount -t tmpfs -o size=40k tmpfs "$full" 2>/dev/null; then
    mounts="$full $mounts"
    cp "$tmp/c.old" "$full/c.safetensors"
    "$R" train $M --set steps=2 --set seed=7 -o "$full/c.safetensors" 2>"$tmp/err"
    rc=$?
    if [ $rc -eq 1 ] && grep -q "c.safetensors: .*No space left on device" "$tmp/err" &&
       cmp "$full/c.safetensors" "$tmp/c.old" >/dev/null && no_tmp "$full"; then
        ok "full disk: error names the checkpoint, the old one kept"
    else
        bad "full disk (status $rc)"
    fi
else
    skip "full disk: needs root and mount"
fi

# 7. SIGTERM at a few moments of `rnnc train` writing a checkpoint every
#    step: no temporary file stays, and the checkpoint there loads.
mkdir "$tmp/sig"
good=1
for delay in 0.2 0.35 0.5 0.7; do
    "$R" train $M --set steps=100000 --set checkpoint_every=1 -o "$tmp/sig/t.safetensors" 2>"$tmp/err" &
    pid=$!
    sleep $delay
    kill -TERM $pid
    wait $pid 2>/dev/null
    rc=$?
    if [ $rc -ne 143 ] || ! no_tmp "$tmp/sig"; then
        echo "    delay $delay: status $rc; left: $(ls -A "$tmp/sig")"
        good=""
    elif [ -f "$tmp/sig/t.safetensors" ] &&
         ! "$R" sample $M -w "$tmp/sig/t.safetensors" --steps 1 >/dev/null 2>"$tmp/err"; then
        echo "    delay $delay: the checkpoint does not load"
        good=""
    fi
done
if [ -n "$good" ]; then ok "SIGTERM during rnnc train leaves no temporary file"; else bad "SIGTERM during rnnc train"; fi

# 8. A leftover of a dead process is removed by the next write of the
#    same output, in today's naming and in the BASE.tmp.PID of rnnc before
#    io/outfile.c; a live process's stays.
dead=$(sh -c 'echo $$')
touch "$tmp/.w.safetensors.rnnc-tmp.$dead" "$tmp/.w.safetensors.rnnc-tmp.$$" "$tmp/w.safetensors.tmp.$dead" \
    "$tmp/w.safetensors.tmp.$$"
if "$R" init $S -o "$tmp/w.safetensors" >/dev/null 2>"$tmp/err" && [ ! -e "$tmp/.w.safetensors.rnnc-tmp.$dead" ] &&
   [ -e "$tmp/.w.safetensors.rnnc-tmp.$$" ] && [ ! -e "$tmp/w.safetensors.tmp.$dead" ] &&
   [ -e "$tmp/w.safetensors.tmp.$$" ]; then
    ok "a dead process's leftover temporary files (both namings) are removed by the next write"
else
    bad "dead process's leftover"
fi
rm -f "$tmp/.w.safetensors.rnnc-tmp.$$" "$tmp/w.safetensors.tmp.$$"

# 9. SIGKILL at KILLS random moments (FILES_KILLS, default 20) of a run
#    that writes a checkpoint every step, resumed from its checkpoint each
#    time: every checkpoint there loads, and the final weights equal an
#    uninterrupted run's bit for bit; the leftovers of the killed runs are
#    gone after the last write.  The moments are drawn from the
#    uninterrupted run's own timing (its start-up until the first
#    checkpoint, and the time per step after it), so that the kills fall
#    both in start-up and among the steps on a fast or a slow (sanitizer)
#    build alike, and together cover the run.
K=$tmp/kill
mkdir "$K"
T="--set steps=100 --set checkpoint_every=1 --set batch=16"
kills=${FILES_KILLS:-20}
now() { date +%s.%N; }
t0=$(now)
"$R" train $M $T -o "$K/straight.safetensors" 2>"$tmp/err" &
pid=$!
first=""
while kill -0 $pid 2>/dev/null; do
    [ -z "$first" ] && [ -f "$K/straight.safetensors" ] && first=$(now)
    sleep 0.01
done
if wait $pid; then
    t1=$(now)
    # start-up (to the first checkpoint) and the rest of the run, seconds
    lead=$(awk -v a="$t0" -v b="${first:-$t1}" 'BEGIN { printf "%.3f", b - a }')
    rest=$(awk -v a="${first:-$t1}" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
    good=1; i=0; done_early=""; left=0; moved=0; before=""
    while [ $i -lt "$kills" ]; do
        i=$((i + 1))
        resume=""
        [ -f "$K/c.safetensors" ] && resume="--resume $K/c.safetensors"
        "$R" train $M $T $resume -o "$K/c.safetensors" 2>"$tmp/err" &
        pid=$!
        # a moment in [lead / 2, lead + rest / kills]: about a quarter of
        # the kills in start-up, and at most 1/kills of the steps a run,
        # so that the kills do not run out of steps on a loaded machine
        sleep "$(awk -v s="$i" -v l="$lead" -v r="$rest" -v k="$kills" \
            'BEGIN { srand(s); printf "%.3f", l / 2 + rand() * (l / 2 + r / k) }')"
        kill -KILL $pid 2>/dev/null
        wait $pid 2>/dev/null
        rc=$?
        if [ $rc -eq 0 ]; then done_early=1; break; fi
        if [ $rc -ne 137 ]; then echo "    kill $i: status $rc"; good=""; break; fi
        left=$((left + $(find "$K" -name '*.rnnc-tmp.*' | wc -l)))
        if [ -f "$K/c.safetensors" ]; then
            if ! "$R" sample $M -w "$K/c.safetensors" --steps 1 >/dev/null 2>"$tmp/err"; then
                echo "    kill $i: the checkpoint does not load"; good=""; break
            fi
            sum=$(cksum <"$K/c.safetensors")
            [ "$sum" != "$before" ] && moved=$((moved + 1))
            before=$sum
        fi
    done
    if [ -n "$good" ] && [ -z "$done_early" ]; then
        resume=""
        [ -f "$K/c.safetensors" ] && resume="--resume $K/c.safetensors"
        "$R" train $M $T $resume -o "$K/c.safetensors" 2>"$tmp/err" || good=""
    fi
    if [ -n "$good" ] && cmp "$K/c.safetensors" "$K/straight.safetensors" >"$tmp/err" 2>&1 && no_tmp "$K"; then
        ok "SIGKILL at $i moments (start-up ${lead} s, steps ${rest} s), resumed each time: the same final weights; $moved of the kills came after new steps; $left leftovers seen, all removed"
    else
        bad "SIGKILL and resume ($i kills; left: $(ls -A "$K" | tr '\n' ' '))"
    fi
else
    bad "SIGKILL and resume: the uninterrupted run"
fi

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
