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
embedding/last/softmax calls, output NAME = NAME|final(..)|softmax(..)
(final with layer=N too),
and loss = cross_entropy|mse.

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


def recurrent_layer(cell, W, name, x, kw):
    """Runs a (stacked, bidirectional) built-in layer; returns y, h_n, c_n."""
    H = int(kw["hidden"])
    L = int(kw.get("layers", 1))
    D = 2 if "bidirectional" in kw else 1
    act = kw.get("act", "tanh")
    T, B = x.shape[:2]
    hns, cns, inp = [], [], x
    for l in range(L):
        outs = []
        for d in range(D):
            sfx = "_l%d%s" % (l, "_reverse" if d else "")
            p = [W["%s.%s%s" % (name, k, sfx)] for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
            h, c = np.zeros((B, H)), np.zeros((B, H))
            ys = [None] * T
            for t in (range(T - 1, -1, -1) if d else range(T)):
                h, c = step(cell, act, inp[t], h, c, *p)
                ys[t] = h
            outs.append(np.stack(ys))
            hns.append(h)
            cns.append(c)
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
    env, finals, outputs = dict(inputs), {}, {}

    def value(expr):
        fn, args, kw = parse_call(expr)
        if fn is None:
            return env[args[0]]
        if fn == "last":
            return value(args[0])[-1]
        if fn == "softmax":
            return softmax(value(args[0]))
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

    def layer(name, expr):
        fn, args, kw = parse_call(expr)
        if fn in ("rnn", "lstm", "gru"):
            y, hn, cn = recurrent_layer(fn, W, name, value(args[0]), kw)
            finals[name] = (hn, cn, 2 if "bidirectional" in kw else 1)
            return y
        if fn == "dense":
            return value(args[0]) @ W[name + ".weight"].T + W[name + ".bias"]
        if fn == "embedding":
            return W[name + ".weight"][value(args[0])]
        if fn == "cross_entropy":
            logits, t = value(args[0]), value(args[1])
            lp = np.log(softmax(logits))
            return -np.take_along_axis(lp, t[..., None], axis=-1).mean()
        if fn == "mse":
            return ((value(args[0]) - value(args[1])) ** 2).mean()
        return value(expr)

    for line in open(rnn_path):
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith(("model", "}", "input", "target")):
            continue
        m = re.fullmatch(r"(output\s+)?(\w+)\s*=\s*(.+)", line)
        if not m:
            raise ValueError("%s: cannot read: %s" % (rnn_path, line))
        env[m.group(2)] = layer(m.group(2), m.group(3))
        if m.group(1) or m.group(2) == "loss":
            outputs[m.group(2)] = env[m.group(2)]
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
