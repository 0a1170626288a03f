#!/usr/bin/python3
"""check_fixtures.py - checks the fixtures against docs/language.md, without torch.

make_fixtures.py writes a .rnn file next to torch's outputs; nothing there
proves that the .rnn text means, by the language reference, what torch
computed.  This script closes that gap: it reads each case's CASE.rnn,
weights.safetensors (with its own reader, so the hand-written safetensors
writer is checked too) and input .npy files, evaluates the model with numpy
in float64 straight from the equations in docs/language.md, and compares
with the expected .npy files.

It understands only the statements the conformance models use (one
statement a line): input/target declarations, rnn/lstm/gru/dense/
embedding/last/mean/reverse/softmax calls, the user cell mylstm
(make_fixtures.py's MYLSTM), `a + b`, init=LAYER, output NAME =
NAME|final(..)|last(..)|mean(..)|softmax(..) (final with layer=N too),
and loss = cross_entropy|mse; and lengths (an input NAME.len), evaluated
from the "Lengths" rules: each example over its own steps only.

    /usr/bin/python3 tests/conformance/check_fixtures.py      # exit 1 on any mismatch
"""

import json
import os
import re
import struct
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "fixtures")


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    data = raw[8 + n:]
    out = {}
    for name, h in header.items():
        if name == "__metadata__":
            continue
        assert h["dtype"] == "F32", name
        a, b = h["data_offsets"]
        assert 0 <= a <= b <= len(data), name
        out[name] = np.frombuffer(data[a:b], dtype="<f4").reshape(h["shape"]).astype(np.float64)
    return out


def sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


def softmax(v):
    e = np.exp(v - v.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def step(cell, act, x, h, c, Wih, Whh, bih, bhh):
    """One step of a built-in cell on a batch, as docs/language.md writes it."""
    gi = x @ Wih.T + bih
    gh = h @ Whh.T + bhh
    if cell == "rnn":
        v = gi + gh
        return (np.tanh(v) if act == "tanh" else np.maximum(v, 0.0)), None
    if cell == "lstm":
        i, f, g, o = np.split(gi + gh, 4, axis=-1)
        c2 = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
        return sigmoid(o) * np.tanh(c2), c2
    ir, iz, in_ = np.split(gi, 3, axis=-1)
    hr, hz, hn = np.split(gh, 3, axis=-1)
    r, z = sigmoid(ir + hr), sigmoid(iz + hz)
    n = np.tanh(in_ + r * hn)
    return (1 - z) * n + z * h, None


def recurrent_layer(cell, W, name, x, kw, lens=None, init=None):
    """Runs a (stacked, bidirectional) built-in layer; returns y, h_n, c_n.
    With lengths (docs/language.md, "Lengths") each example runs alone over
    its own first lens[b] steps (the reverse direction from step lens[b]-1),
    y is 0 at its padded steps and h_n, c_n are its states after its own
    last step; nothing at a padded step of x is read.  init: (h0, c0) of
    shape [L*D, B, H] (init=LAYER), zeros when None."""
    H = int(kw["hidden"])
    L = int(kw.get("layers", 1))
    D = 2 if "bidirectional" in kw else 1
    act = kw.get("act", "tanh")
    T, B = x.shape[:2]
    lens = np.full(B, T) if lens is None else lens
    hns, cns, inp = [], [], x
    for l in range(L):
        outs = []
        for d in range(D):
            kd = l * D + d  # the row of h_n (and of init) of this layer and direction
            sfx = "_l%d%s" % (l, "_reverse" if d else "")
            p = [W["%s.%s%s" % (name, k, sfx)] for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
            ys = np.zeros((T, B, H))
            hn, cn = np.zeros((B, H)), np.zeros((B, H))
            for b in range(B):
                h = np.zeros((1, H)) if init is None else init[0][kd][b][None]
                c = np.zeros((1, H)) if init is None or init[1] is None else init[1][kd][b][None]
                n = int(lens[b])
                for t in (range(n - 1, -1, -1) if d else range(n)):
                    h, c = step(cell, act, inp[t, b][None], h, c, *p)
                    ys[t, b] = h[0]
                hn[b] = h[0]
                cn[b] = c[0] if c is not None else 0
            outs.append(ys)
            hns.append(hn)
            cns.append(cn)
        inp = np.concatenate(outs, axis=-1)
    y = inp
    if D == 2 and kw.get("merge") == "sum":
        y = inp[..., :H] + inp[..., H:]
    return y, np.stack(hns), np.stack(cns)


def parse_call(text):
    """'lstm(x, hidden=6, bidirectional)' -> ('lstm', ['x'], {'hidden': '6', 'bidirectional': True})"""
    m = re.fullmatch(r"(\w+)\((.*)\)", text.strip())
    if not m:
        return None, [text.strip()], {}
    fn, args, kw = m.group(1), [], {}
    depth, cur, parts = 0, "", []
    for ch in m.group(2):  # split on top-level commas only: last(h) may be an argument
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
            continue
        depth += ch == "("
        depth -= ch == ")"
        cur += ch
    parts.append(cur)
    for a in (p.strip() for p in parts if p.strip()):
        kv = re.fullmatch(r"(\w+)\s*=\s*(.+)", a)  # not final(h, layer=-1) as a whole
        if kv:
            kw[kv.group(1)] = kv.group(2).strip()
        elif re.fullmatch(r"[A-Za-z_]\w*", a) and a in ("bidirectional",):
            kw[a] = True
        else:
            args.append(a)
    return fn, args, kw


def evaluate(rnn_path, W, inputs):
    """Evaluates the model; `NAME.len` inputs give NAME its lengths, which go
    with every value computed from it step by step (lens below)."""
    env, finals, outputs, lens = dict(inputs), {}, {}, {}
    for n in inputs:
        if n.endswith(".len"):
            lens[n[:-4]] = inputs[n]

    def value(expr):
        fn, args, kw = parse_call(expr)
        if fn is None:
            return env[args[0]]
        if fn == "last":
            y, n = value(args[0]), lens_of(args[0])
            return y[-1] if n is None else y[n - 1, np.arange(y.shape[1])]
        if fn == "mean":
            y, n = value(args[0]), lens_of(args[0])
            return y.mean(0) if n is None else y.sum(0) / n[:, None]
        if fn == "softmax":
            return softmax(value(args[0]))
        if fn == "reverse":  # each example's real steps in reverse order, then 0
            y, n = value(args[0]), lens_of(args[0])
            n = np.full(y.shape[1], y.shape[0]) if n is None else n
            r = np.zeros_like(y)
            for b in range(y.shape[1]):
                r[:n[b], b] = y[n[b] - 1::-1, b]
            return r
        if fn == "final":
            hn, cn, D = finals[args[0]]
            st = cn if len(args) > 1 and args[1] == "c" else hn
            if "layer" not in kw:
                return st
            # final(h, layer=N): layer N's directions joined, forward first
            L = st.shape[0] // D
            n = int(kw["layer"])
            n = n + L if n < 0 else n
            return np.concatenate(list(st[n * D:(n + 1) * D]), axis=-1)
        raise ValueError("unsupported expression " + expr)

    def lens_of(expr):
        """The lengths of a sequence value, None for a value without."""
        fn, args, _ = parse_call(expr)
        return lens.get(args[0]) if fn is None else None

    def real(expr, T):
        """[T, B] bool: the real steps of the sequence value expr."""
        n = lens_of(expr)
        return None if n is None else np.arange(T)[:, None] < n[None, :]

    def layer(name, expr):
        fn, args, kw = parse_call(expr)
        if fn in ("rnn", "lstm", "gru"):
            init = finals.get(kw.get("init"))
            y, hn, cn = recurrent_layer(fn, W, name, value(args[0]), kw, lens_of(args[0]), init)
            finals[name] = (hn, cn if fn == "lstm" else None, 2 if "bidirectional" in kw else 1)
            return y
        if fn == "mylstm":  # the user cell MYLSTM of make_fixtures.py: an lstm, one bias
            b = W[name + ".b"]
            torch_names = {name + ".weight_ih_l0": W[name + ".W"], name + ".weight_hh_l0": W[name + ".U"],
                           name + ".bias_ih_l0": b, name + ".bias_hh_l0": np.zeros_like(b)}
            y, hn, cn = recurrent_layer("lstm", torch_names, name, value(args[0]), {"hidden": kw["H"]},
                                        lens_of(args[0]))
            finals[name] = (hn[0], cn[0], 1)  # a user cell's final(g) is [B, H]
            return y
        if fn == "dense":
            return value(args[0]) @ W[name + ".weight"].T + W[name + ".bias"]
        if fn == "embedding":
            ids, m = value(args[0]), real(args[0], value(args[0]).shape[0])
            if m is None:
                return W[name + ".weight"][ids]
            return np.where(m[..., None], W[name + ".weight"][np.where(m, ids, 0)], 0.0)
        if fn == "cross_entropy":
            logits, t = value(args[0]), value(args[1])
            m = real(args[0], logits.shape[0]) if t.ndim == 2 else None
            lp = np.log(softmax(logits))
            if m is None:
                return -np.take_along_axis(lp, t[..., None], axis=-1).mean()
            picked = np.take_along_axis(lp, np.where(m, t, 0)[..., None], axis=-1)[..., 0]
            return -picked[m].mean()  # torch's ignore_index: the mean over the real steps
        if fn == "mse":
            p, t = value(args[0]), value(args[1])
            m = real(args[0], p.shape[0])
            if m is None:
                return ((p - t) ** 2).mean()
            return ((p - t)[m] ** 2).mean()  # the real elements only
        plus = re.fullmatch(r"(\w+)\s*\+\s*(\w+)", expr.strip())
        if plus:
            return env[plus.group(1)] + env[plus.group(2)]
        return value(expr)

    in_cell = False
    for line in open(rnn_path):
        line = line.split("#", 1)[0].strip()
        if line.startswith("cell "):  # a user cell: only mylstm, evaluated by layer()
            in_cell = True
        if in_cell or not line or line.startswith(("model", "}", "input", "target")):
            in_cell = in_cell and line != "}"
            continue
        m = re.fullmatch(r"(output\s+)?(\w+)\s*=\s*(.+)", line)
        if not m:
            raise ValueError("%s: cannot read: %s" % (rnn_path, line))
        name, expr = m.group(2), m.group(3)
        env[name] = layer(name, expr)
        fn, args, _ = parse_call(expr)
        src = re.split(r"\s*\+\s*", args[0].strip())[0] if args else None  # a + b: a's lengths
        if fn in (None, "rnn", "lstm", "gru", "mylstm", "dense", "embedding", "softmax", "reverse") and src in lens:
            lens[name] = lens[src]  # computed step by step: the same lengths
        if m.group(1) or name == "loss":
            outputs[name] = env[name]
    return outputs


def main():
    failed = 0
    for case in sorted(os.listdir(FIXTURES)):
        d = os.path.join(FIXTURES, case)
        if not os.path.isdir(d):
            continue
        kinds = [l.split() for l in open(os.path.join(d, "case.txt")) if l.strip() and not l.startswith("#")]
        inputs = {n: np.load(os.path.join(d, n + ".npy")) for k, n in kinds if k == "input"}
        inputs = {n: (a.astype(np.float64) if a.dtype.kind == "f" else a) for n, a in inputs.items()}
        got = evaluate(os.path.join(d, case + ".rnn"), read_safetensors(os.path.join(d, "weights.safetensors")), inputs)
        problems = []
        for k, n in kinds:
            if k != "output":
                continue
            want = np.load(os.path.join(d, n + ".npy"))
            g = np.asarray(got.get(n))
            if g.shape != want.shape:
                problems.append("%s: shape %s, torch %s" % (n, g.shape, want.shape))
            elif not np.allclose(g, want, rtol=1e-5, atol=1e-6):
                problems.append("%s: max abs diff %.3g" % (n, np.abs(g - want).max()))
        extra = set(got) - {n for k, n in kinds if k == "output"}
        if extra:
            problems.append("outputs not in case.txt: %s" % sorted(extra))
        print(("FAIL %s: %s" % (case, "; ".join(problems))) if problems else "ok   %s" % case)
        failed += bool(problems)
    print("%d cases disagree with docs/language.md" % failed)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
