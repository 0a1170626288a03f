#!/usr/bin/python3
"""rnn_torch.py - the PyTorch baseline of the RNN benchmark: the time of a
forward pass (inference) and of a training step of one RNN layer with
torch.nn.LSTM, nn.GRU and nn.RNN (tanh).  bench/rnn_bench.sh runs it and
puts its lines next to rnnc's and oneDNN's (bench/rnn_onednn.cpp, which
does the same work the same way).

Run it with Debian's /usr/bin/python3 (python3-torch) and OpenBLAS as the
system BLAS: with the reference BLAS PyTorch's recurrent layers are ~40x
slower and a comparison with them means nothing (shared/BENCHMARKING.md;
scripts/bench_deps.sh installs and selects OpenBLAS).

One layer, one direction, zero initial state, input [T, B, I]; "lstm2" is
nn.LSTM(num_layers=2), two stacked layers.
  forward: under torch.inference_mode(), y, _ = layer(x)
  training step: zero_grad; y, _ = layer(x); MSE loss of y against a fixed
    target; backward; SGD step.  x requires grad, so the backward pass also
    computes the input's gradient, as oneDNN's does and as a layer under
    another layer needs; bench/rnn_flops.h counts it.

Threads: --threads N sets torch.set_num_threads(N).  Debian's torch calls
OpenBLAS without telling it the thread count (its BLAS is "generic"), so
OpenBLAS must be limited through its environment: OPENBLAS_NUM_THREADS and
OMP_NUM_THREADS are set to N here before torch is imported.

Memory: PyTorch allocates every intermediate tensor anew, and with glibc's
defaults each one over the (adaptive) mmap threshold is a fresh mmap whose
pages fault in on first touch: on this VM that made a 256-wide LSTM's
training step at batch 1 2-4x slower (most of the time in page faults, not
in arithmetic).  Other allocators (jemalloc, tcmalloc) reuse such blocks, so
to compare against PyTorch at its best the script re-executes itself with
glibc told to keep them: MALLOC_MMAP_THRESHOLD_=64 MiB and
MALLOC_TRIM_THRESHOLD_=256 MiB.  --default-malloc measures without that.

Timing (the same as bench/rnn_onednn.cpp): 2 warm-up calls; 3 repetitions
of R calls, R = 20, or fewer (at least 3) when 20 would take more than
0.7 s, or more (up to 200) to fill 0.3 s; the best of the 3 medians, and
spread = (worst median - best median) / best.

Output, one line per cell and shape:
  torch CELL I H B T threads=N fwd_ms=X fwd_spread=P% train_ms=Y train_spread=Q%
        fwd_base_mb=.. fwd_peak_mb=.. train_base_mb=.. train_peak_mb=..
the process's resident memory before each timing and its peak during it
(VmHWM, reset before it through /proc/self/clear_refs), in MiB, as
bench/rnn_rnnc.c reports them; left out where the peak cannot be reset.

  rnn_torch.py [--threads N] [--default-malloc] [CELL I H B T]
"""
import argparse
import math
import os
import sys
import time

CELLS = ("lstm", "gru", "rnn", "lstm2")
SHAPES = ((256, 1, 100), (256, 32, 100), (512, 64, 100))  # (I = H, B, T)
MMAP_THRESHOLD = str(64 << 20)
TRIM_THRESHOLD = str(256 << 20)


def time_op(op):
    """Best median of 3 repetitions in ms, and the spread in %."""
    op()
    t0 = time.perf_counter()
    op()
    one = max(time.perf_counter() - t0, 1e-7)
    runs = 20
    if runs * one > 0.7:
        runs = max(3, math.ceil(0.7 / one))
    if runs * one < 0.3:
        runs = min(200, math.ceil(0.3 / one))
    medians = []
    for _ in range(3):
        t = []
        for _ in range(runs):
            a = time.perf_counter()
            op()
            t.append(time.perf_counter() - a)
        t.sort()
        medians.append(t[runs // 2])
    best, worst = min(medians), max(medians)
    return best * 1e3, 100.0 * (worst - best) / best


def status_kib(key):
    """A field of /proc/self/status in KiB ("VmRSS", "VmHWM"), or None."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def peak_start():
    """Resets VmHWM to the current RSS; the RSS in KiB, or None."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return None
    return status_kib("VmRSS")


def blas_library():
    """The BLAS library file this process has loaded (from /proc/self/maps),
    so that the table says whether PyTorch ran on OpenBLAS."""
    try:
        with open("/proc/self/maps") as f:
            libs = {line.split()[-1] for line in f if "blas" in line.split()[-1].lower()}
    except OSError:
        return "unknown"
    return " ".join(sorted(libs)) or "none loaded"


def bench(torch, cell, i, h, b, t, threads):
    torch.manual_seed(7)
    make = {"lstm": torch.nn.LSTM, "lstm2": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn": torch.nn.RNN}[cell]
    layers = 2 if cell == "lstm2" else 1
    layer = make(input_size=i, hidden_size=h, num_layers=layers)  # nn.RNN: tanh by default
    x = torch.rand(t, b, i) * 2 - 1
    target = torch.rand(t, b, h) * 2 - 1

    def forward():
        with torch.inference_mode():
            layer(x)

    fwd_base = peak_start()
    fwd_ms, fwd_spread = time_op(forward)
    fwd_peak = status_kib("VmHWM")

    xg = x.clone().requires_grad_(True)
    opt = torch.optim.SGD(layer.parameters(), lr=1e-3)
    loss_fn = torch.nn.MSELoss()

    def train_step():
        opt.zero_grad(set_to_none=False)
        xg.grad = None
        y, _ = layer(xg)
        loss_fn(y, target).backward()
        opt.step()

    train_base = peak_start()
    train_ms, train_spread = time_op(train_step)
    train_peak = status_kib("VmHWM")
    mem = ""
    if None not in (fwd_base, fwd_peak, train_base, train_peak):
        mem = (f" fwd_base_mb={fwd_base / 1024:.1f} fwd_peak_mb={fwd_peak / 1024:.1f}"
               f" train_base_mb={train_base / 1024:.1f} train_peak_mb={train_peak / 1024:.1f}")
    print(f"torch {cell} {i} {h} {b} {t} threads={threads} fwd_ms={fwd_ms:.4f} "
          f"fwd_spread={fwd_spread:.1f}% train_ms={train_ms:.4f} "
          f"train_spread={train_spread:.1f}%{mem}", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--default-malloc", action="store_true",
                    help="keep glibc's malloc settings (see the top of the file)")
    ap.add_argument("config", nargs="*", help="CELL I H B T (default: all)")
    args = ap.parse_args()
    if args.threads < 1:
        ap.error("--threads must be positive")
    if args.config:
        if len(args.config) != 5 or args.config[0] not in CELLS:
            ap.error("a configuration is CELL I H B T, CELL one of " + ", ".join(CELLS))
        cell, dims = args.config[0], [int(v) for v in args.config[1:]]
        if min(dims) <= 0:
            ap.error("I H B T must be positive")
        configs = [(cell, *dims)]
    else:
        configs = [(c, s[0], s[0], s[1], s[2]) for c in CELLS for s in SHAPES]

    # glibc reads its tunables when the process starts: re-execute with them.
    if not args.default_malloc and os.environ.get("MALLOC_MMAP_THRESHOLD_") != MMAP_THRESHOLD:
        env = dict(os.environ, MALLOC_MMAP_THRESHOLD_=MMAP_THRESHOLD,
                   MALLOC_TRIM_THRESHOLD_=TRIM_THRESHOLD)
        sys.stdout.flush()
        os.execve(sys.executable, [sys.executable] + sys.argv, env)
    # Before torch (and OpenBLAS with it) is loaded: both read these once.
    os.environ["OPENBLAS_NUM_THREADS"] = str(args.threads)
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    try:
        import torch
    except ImportError as e:
        print(f"rnn_torch.py: cannot import torch ({e})", file=sys.stderr)
        return 1
    torch.set_num_threads(args.threads)
    malloc = ("glibc defaults" if args.default_malloc else
              f"MALLOC_MMAP_THRESHOLD_={MMAP_THRESHOLD} MALLOC_TRIM_THRESHOLD_={TRIM_THRESHOLD}")
    print(f"# torch {torch.__version__}, threads {args.threads}, BLAS: {blas_library()}, "
          f"malloc: {malloc}", flush=True)
    for cfg in configs:
        bench(torch, *cfg, args.threads)
    return 0


if __name__ == "__main__":
    sys.exit(main())
