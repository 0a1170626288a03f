#!/usr/bin/python3
"""make_fixtures.py - PyTorch reference outputs for the conformance suite
(forward pass, and gradients for the grad_* cases).

For every case in CASES below this builds the torch.nn modules, draws random
weights and inputs from a fixed seed, runs the forward pass and writes
tests/conformance/fixtures/CASE/:

    CASE.rnn             the same model in the .rnn language (docs/language.md)
    weights.safetensors  the modules' state_dict under the .rnn layer names, F32
    NAME.npy             every input (and loss target), time-major
    NAME.npy             every expected output (y, hn, cn, probs, loss, ...)
    case.txt             which of those files are inputs and which are outputs,
                         so run.sh (plain sh, no python) can stay generic
    grads.safetensors    gradient cases only (kind grad_case): torch autograd's
                         d loss / d parameter under the .rnn names, F32, for
                         `rnnc grad` (case.txt then has a line "grad grads")

Run with the Debian python that has torch:  /usr/bin/python3 tests/conformance/make_fixtures.py
The output is deterministic for a given torch version (written to fixtures/VERSION).
"""

import json
import os
import shutil
import struct
import sys
import zlib

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "fixtures")


# --------------------------------------------------------------------------
# File writers
# --------------------------------------------------------------------------

def write_safetensors(path, tensors):
    """Writes {name: torch.Tensor} as safetensors (F32 only), in the dict's
    order. Done by hand because the safetensors package is not installed:
    8-byte little-endian header length, a JSON header mapping each name to
    dtype/shape/data_offsets (relative to the start of the data), the data."""
    header = {"__metadata__": {"generator": "tests/conformance/make_fixtures.py"}}
    blobs, offset = [], 0
    for name, t in tensors.items():
        a = t.detach().cpu().numpy().astype("<f4", copy=False)
        a = np.ascontiguousarray(a)
        data = a.tobytes()
        header[name] = {"dtype": "F32", "shape": list(a.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    head = json.dumps(header, separators=(",", ":")).encode("utf-8")
    head += b" " * (-len(head) % 8)  # pad so the data starts 8-aligned
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(head)))
        f.write(head)
        for b in blobs:
            f.write(b)


def to_np(t):
    """float tensors as float32, integer tensors (token ids) as int64."""
    a = t.detach().cpu().numpy()
    if a.dtype.kind == "f":
        return a.astype(np.float32)
    return a.astype(np.int64)


# --------------------------------------------------------------------------
# One function per kind of case. Each returns (rnn_source, state_dict,
# inputs, outputs): state_dict maps .rnn parameter names to tensors, inputs
# and outputs map npy names to tensors.  Sizes come from the case's args.
# --------------------------------------------------------------------------

def cell_module(cell, I, H, layers, bidir, act):
    if cell == "rnn":
        return nn.RNN(I, H, num_layers=layers, nonlinearity=act, bidirectional=bidir)
    if cell == "lstm":
        return nn.LSTM(I, H, num_layers=layers, bidirectional=bidir)
    return nn.GRU(I, H, num_layers=layers, bidirectional=bidir)


def cell_call(cell, src, H, layers, bidir, act, merge=None):
    """The .rnn call for a built-in recurrent layer, e.g. lstm(x, hidden=6, layers=2)."""
    args = [src, "hidden=%d" % H]
    if cell == "rnn" and act != "tanh":
        args.append("act=%s" % act)
    if layers > 1:
        args.append("layers=%d" % layers)
    if bidir:
        args.append("bidirectional")
    if merge:
        args.append("merge=%s" % merge)
    return "%s(%s)" % (cell, ", ".join(args))


def prefixed(prefix, module):
    return {prefix + "." + k: v for k, v in module.state_dict().items()}


def recurrent(name, cell, T, B, I, H, layers=1, bidir=False, act="tanh", merge=None):
    """x -> one built-in recurrent layer; outputs the sequence and final states."""
    m = cell_module(cell, I, H, layers, bidir, act)
    x = torch.randn(T, B, I)
    if cell == "lstm":
        y, (hn, cn) = m(x)
    else:
        y, hn = m(x)
    if merge == "sum":  # torch has no merge=sum: add the two directions' halves
        y = y[..., :H] + y[..., H:]
    src = ["model %s {" % name,
           "  input x : seq<[%d]>" % I,
           "  h = %s" % cell_call(cell, "x", H, layers, bidir, act, merge),
           "  output y = h",
           "  output hn = final(h)"]
    outputs = {"y": y, "hn": hn}
    if cell == "lstm":
        src.append("  output cn = final(h, c)")
        outputs["cn"] = cn
    src.append("}")
    return src, prefixed("h", m), {"x": x}, outputs


def dense_softmax(name, T, B, I, H, C):
    """x -> lstm -> dense (applied at every step) -> softmax."""
    lstm, dense = nn.LSTM(I, H), nn.Linear(H, C)
    x = torch.randn(T, B, I)
    h, _ = lstm(x)
    logits = dense(h)
    probs = torch.softmax(logits, dim=-1)
    src = ["model %s {" % name,
           "  input x : seq<[%d]>" % I,
           "  h = lstm(x, hidden=%d)" % H,
           "  logits = dense(h, %d)" % C,
           "  output probs = softmax(logits)",
           "}"]
    weights = {**prefixed("h", lstm), **prefixed("logits", dense)}
    return src, weights, {"x": x}, {"probs": probs}


def embedding_gru(name, T, B, V, D, H):
    """int64 token ids [T, B] -> embedding -> gru."""
    emb, gru = nn.Embedding(V, D), nn.GRU(D, H)
    tokens = torch.randint(0, V, (T, B), dtype=torch.int64)
    y, hn = gru(emb(tokens))
    src = ["model %s {" % name,
           "  input tokens : seq<int>",
           "  e = embedding(tokens, vocab=%d, dim=%d)" % (V, D),
           "  h = gru(e, hidden=%d)" % H,
           "  output y = h",
           "  output hn = final(h)",
           "}"]
    weights = {**prefixed("e", emb), **prefixed("h", gru)}
    return src, weights, {"tokens": tokens}, {"y": y, "hn": hn}


def many_to_one(name, T, B, I, H, C):
    """x -> lstm -> last step -> dense: one [B, C] result per sequence."""
    lstm, dense = nn.LSTM(I, H), nn.Linear(H, C)
    x = torch.randn(T, B, I)
    h, _ = lstm(x)
    y = dense(h[-1])
    src = ["model %s {" % name,
           "  input x : seq<[%d]>" % I,
           "  h = lstm(x, hidden=%d)" % H,
           "  d = dense(last(h), %d)" % C,
           "  output y = d",
           "}"]
    weights = {**prefixed("h", lstm), **prefixed("d", dense)}
    return src, weights, {"x": x}, {"y": y}


def cross_entropy(name, T, B, I, H, C):
    """x -> lstm -> dense -> cross_entropy against int64 class ids [T, B];
    torch's CrossEntropyLoss averages over all T*B positions."""
    lstm, dense = nn.LSTM(I, H), nn.Linear(H, C)
    x = torch.randn(T, B, I)
    nxt = torch.randint(0, C, (T, B), dtype=torch.int64)
    h, _ = lstm(x)
    logits = dense(h)
    loss = nn.CrossEntropyLoss()(logits.reshape(T * B, C), nxt.reshape(T * B))
    src = ["model %s {" % name,
           "  input x : seq<[%d]>" % I,
           "  target next : seq<int>",
           "  h = lstm(x, hidden=%d)" % H,
           "  logits = dense(h, %d)" % C,
           "  loss = cross_entropy(logits, next)",
           "}"]
    weights = {**prefixed("h", lstm), **prefixed("logits", dense)}
    return src, weights, {"x": x, "next": nxt}, {"loss": loss}


def mse(name, T, B, I, H, K):
    """x -> gru -> dense -> mse against a float target [T, B, K];
    torch's MSELoss averages over every element."""
    gru, dense = nn.GRU(I, H), nn.Linear(H, K)
    x = torch.randn(T, B, I)
    t = torch.randn(T, B, K)
    h, _ = gru(x)
    loss = F.mse_loss(dense(h), t)
    src = ["model %s {" % name,
           "  input x : seq<[%d]>" % I,
           "  target t : seq<[%d]>" % K,
           "  h = gru(x, hidden=%d)" % H,
           "  p = dense(h, %d)" % K,
           "  loss = mse(p, t)",
           "}"]
    weights = {**prefixed("h", gru), **prefixed("p", dense)}
    return src, weights, {"x": x, "t": t}, {"loss": loss}


def grad_case(name, cell, T, B, I, H, C, layers=1, bidir=False, head="ce"):
    """Gradient case: x -> built-in recurrent layer -> dense (every step) ->
    cross_entropy against int64 class ids [T, B] (head="ce") or mse against
    a float target [T, B, C] (head="mse").  Besides the loss it returns
    torch autograd's d loss / d parameter for every parameter (loss.backward()),
    under the .rnn parameter names, for `rnnc grad`."""
    m = cell_module(cell, I, H, layers, bidir, "tanh")
    D = 2 if bidir else 1
    dense = nn.Linear(D * H, C)
    x = torch.randn(T, B, I)
    if head == "ce":
        tgt = torch.randint(0, C, (T, B), dtype=torch.int64)
    else:
        tgt = torch.randn(T, B, C)
    hname = "logits" if head == "ce" else "p"
    with torch.enable_grad():  # make_case runs the kinds under no_grad
        y = m(x)[0]
        out = dense(y)
        if head == "ce":
            loss = nn.CrossEntropyLoss()(out.reshape(T * B, C), tgt.reshape(T * B))
        else:
            loss = F.mse_loss(out, tgt)
        loss.backward()
    tname = "next" if head == "ce" else "t"
    src = ["model %s {" % name,
           "  input x : seq<[%d]>" % I,
           ("  target next : seq<int>" if head == "ce" else "  target t : seq<[%d]>" % C),
           "  h = %s" % cell_call(cell, "x", H, layers, bidir, "tanh"),
           "  %s = dense(h, %d)" % (hname, C),
           "  loss = %s(%s, %s)" % ("cross_entropy" if head == "ce" else "mse", hname, tname),
           "}"]
    weights = {**prefixed("h", m), **prefixed(hname, dense)}
    params = {**{"h." + k: p for k, p in m.named_parameters()},
              **{hname + "." + k: p for k, p in dense.named_parameters()}}
    grads = {k: params[k].grad for k in weights}  # state_dict order, like rnnc grad
    return src, weights, {"x": x, tname: tgt}, {"loss": loss}, grads


def grad_final(name, T, B, I, H, C):
    """Many-to-one from the final states, as PyTorch users write it:
    x -> lstm(layers=2, bidirectional) -> dense(cat(h_n[-2], h_n[-1])) ->
    cross_entropy against one class id per sequence [B].  In rnnc:
    dense(final(h, layer=-1), C).  Also layer 0's c_n, both directions
    (final(h, c, layer=0)), and every parameter's gradient."""
    m = nn.LSTM(I, H, num_layers=2, bidirectional=True)
    dense = nn.Linear(2 * H, C)
    x = torch.randn(T, B, I)
    tgt = torch.randint(0, C, (B,), dtype=torch.int64)
    with torch.enable_grad():  # make_case runs the kinds under no_grad
        _, (hn, cn) = m(x)
        logits = dense(torch.cat([hn[-2], hn[-1]], dim=1))
        loss = nn.CrossEntropyLoss()(logits, tgt)
        loss.backward()
    src = ["model %s {" % name,
           "  input x : seq<[%d]>" % I,
           "  target label : int",
           "  h = lstm(x, hidden=%d, layers=2, bidirectional)" % H,
           "  logits = dense(final(h, layer=-1), %d)" % C,
           "  output y = logits",
           "  output c0 = final(h, c, layer=0)",
           "  loss = cross_entropy(logits, label)",
           "}"]
    weights = {**prefixed("h", m), **prefixed("logits", dense)}
    params = {**{"h." + k: p for k, p in m.named_parameters()},
              **{"logits." + k: p for k, p in dense.named_parameters()}}
    grads = {k: params[k].grad for k in weights}
    outputs = {"y": logits, "c0": torch.cat([cn[0], cn[1]], dim=1), "loss": loss}
    return src, weights, {"x": x, "label": tgt}, outputs, grads


# --------------------------------------------------------------------------
# The cases. Sizes differ between I, H (and C) in every case so that a
# transposed or mixed-up weight shows up as a shape error, not a silent pass.
# --------------------------------------------------------------------------

CASES = [
    # name                  kind            arguments
    ("rnn_tanh",            recurrent,      dict(cell="rnn", T=5, B=3, I=4, H=6)),
    ("rnn_relu",            recurrent,      dict(cell="rnn", T=6, B=3, I=5, H=7, act="relu")),
    ("lstm",                recurrent,      dict(cell="lstm", T=5, B=3, I=4, H=6)),
    ("gru",                 recurrent,      dict(cell="gru", T=7, B=3, I=5, H=8)),
    ("lstm_stacked",        recurrent,      dict(cell="lstm", T=6, B=3, I=4, H=7, layers=2)),
    ("gru_stacked",         recurrent,      dict(cell="gru", T=5, B=3, I=5, H=6, layers=2)),
    ("rnn_bidir",           recurrent,      dict(cell="rnn", T=6, B=3, I=4, H=8, bidir=True)),
    ("lstm_bidir",          recurrent,      dict(cell="lstm", T=5, B=3, I=5, H=6, bidir=True)),
    ("gru_bidir",           recurrent,      dict(cell="gru", T=7, B=3, I=4, H=7, bidir=True)),
    ("lstm_stacked_bidir",  recurrent,      dict(cell="lstm", T=6, B=3, I=4, H=6, layers=2, bidir=True)),
    ("gru_bidir_sum",       recurrent,      dict(cell="gru", T=5, B=3, I=4, H=6, bidir=True, merge="sum")),
    ("lstm_dense_softmax",  dense_softmax,  dict(T=6, B=3, I=4, H=7, C=5)),
    ("embedding_gru",       embedding_gru,  dict(T=7, B=3, V=11, D=5, H=6)),
    ("many_to_one",         many_to_one,    dict(T=6, B=3, I=5, H=7, C=3)),
    ("cross_entropy",       cross_entropy,  dict(T=5, B=3, I=4, H=6, C=5)),
    ("mse",                 mse,            dict(T=6, B=3, I=5, H=7, K=2)),
    # gradient cases (BPTT): also grads.safetensors, checked with `rnnc grad`
    ("grad_rnn_tanh",       grad_case,      dict(cell="rnn", T=8, B=3, I=4, H=6, C=5)),
    ("grad_lstm",           grad_case,      dict(cell="lstm", T=7, B=3, I=5, H=6, C=4)),
    ("grad_gru",            grad_case,      dict(cell="gru", T=8, B=3, I=4, H=7, C=5)),
    ("grad_lstm_stacked",   grad_case,      dict(cell="lstm", T=6, B=3, I=4, H=7, C=5, layers=2)),
    ("grad_gru_bidir",      grad_case,      dict(cell="gru", T=7, B=3, I=5, H=6, C=4, bidir=True)),
    ("grad_lstm_stacked_bidir", grad_case,  dict(cell="lstm", T=6, B=3, I=4, H=6, C=5, layers=2, bidir=True)),
    ("grad_rnn_tanh_mse",   grad_case,      dict(cell="rnn", T=8, B=3, I=5, H=7, C=3, head="mse")),
    ("grad_gru_bidir_mse",  grad_case,      dict(cell="gru", T=6, B=3, I=4, H=6, C=2, bidir=True, head="mse")),
    ("grad_final_bidir",    grad_final,     dict(T=7, B=3, I=5, H=6, C=4)),
]


def make_case(name, kind, args):
    # A seed per case, from its name, so adding or reordering cases leaves
    # the other fixtures byte-identical.
    torch.manual_seed(zlib.crc32(name.encode()))
    with torch.no_grad():
        src, weights, inputs, outputs, *grads = kind(name, **args)
    d = os.path.join(FIXTURES, name)
    os.makedirs(d)
    with open(os.path.join(d, name + ".rnn"), "w") as f:
        f.write("# %s: generated by tests/conformance/make_fixtures.py\n" % name)
        f.write("\n".join(src) + "\n")
    write_safetensors(os.path.join(d, "weights.safetensors"), weights)
    lines = ["# rnnc run %s.rnn -w weights.safetensors, with these NAME.npy files" % name]
    for n, t in inputs.items():
        np.save(os.path.join(d, n + ".npy"), to_np(t))
        lines.append("input %s" % n)
    for n, t in outputs.items():
        np.save(os.path.join(d, n + ".npy"), to_np(t))
        lines.append("output %s" % n)
    if grads:  # a gradient case: torch's d loss / d parameter, for `rnnc grad`
        write_safetensors(os.path.join(d, "grads.safetensors"), grads[0])
        lines.append("grad grads")
    with open(os.path.join(d, "case.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")


def main():
    torch.set_num_threads(1)  # one summation order, so reruns are identical
    if os.path.isdir(FIXTURES):
        shutil.rmtree(FIXTURES)
    os.makedirs(FIXTURES)
    for name, kind, args in CASES:
        make_case(name, kind, args)
        print("wrote fixtures/%s" % name)
    with open(os.path.join(FIXTURES, "VERSION"), "w") as f:
        f.write("torch %s\nnumpy %s\npython %s\n" % (
            torch.__version__, np.__version__, sys.version.split()[0]))


if __name__ == "__main__":
    main()
