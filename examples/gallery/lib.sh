# lib.sh - what every example's run.sh shares (sourced, not run):
#
#   sh examples/gallery/NAME/run.sh [--short] [BUILD_DIR]
#
# BUILD_DIR (default build, from the repository root) holds rnnc and the
# tools (make all tools).  --short is the quick form `make test` runs
# (tests/gallery/run.sh); without it the full form of the README.  Each
# example works in BUILD_DIR/gallery/NAME/ and leaves there what it made.
# Sets: short (1 or 0), here (the example's folder), root (the
# repository's), RNNC, TOOLS, work.
set -eu
short=0
if [ "${1:-}" = --short ]; then short=1; shift; fi
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
build=${1:-$root/build}
build=$(cd "$build" && pwd) || { echo "no build directory ${1:-$root/build}: run make all tools" >&2; exit 1; }
RNNC=$build/rnnc
TOOLS=$build/tools
for t in "$RNNC" "$TOOLS/npy_text" "$TOOLS/loss_plot"; do
    [ -x "$t" ] || { echo "$t is missing: run make all tools" >&2; exit 1; }
done
work=$build/gallery/$(basename "$here")
mkdir -p "$work"

# need FILE PACKAGE: install the Debian package PACKAGE unless FILE exists
# (as root, with apt-get, like scripts/deps.sh; otherwise say how)
need() {
    [ -e "$1" ] && return 0
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "installing $2 (for $1)"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$2" >/dev/null ||
            { apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$2" >/dev/null; } ||
            { echo "apt-get install $2 failed" >&2; exit 1; }
    else
        echo "$1 is missing: sudo apt-get install $2" >&2
        exit 1
    fi
}

# say TEXT: what the next step does, in a line
say() { printf '\n== %s\n' "$*"; }

# train ARGS...: rnnc train ARGS, its output kept in train.txt and shown
# but for the lines that match $hide (default: the log lines of every
# log_every steps); returns rnnc's exit status (a pipeline's would be
# grep's)
hide='^step [0-9]*/'
train() {
    { "$RNNC" train "$@" 2>&1; echo "$?" >"$work/.train-status"; } | tee "$work/train.txt" | grep -v "$hide" || true
    return "$(cat "$work/.train-status")"
}
