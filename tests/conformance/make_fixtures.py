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
        (y, hn), cn = m(x), None
    if merge == "sum":  # torch has no merge=sum: add the two directions' halves
        y = y[..., :H] + y[..., H:]
    src, outputs = recurrent_model(name, cell, I, cell_call(cell, "x", H, layers, bidir, act, merge), "", y, hn, cn)
    src.append("}")
    return src, prefixed("h", m), {"x": x}, outputs


def recurrent_model(name, cell, I, call, decl, y, hn, cn):
    """The .rnn text of x -> h = CALL with outputs y = h and its final
    states (without the closing brace), and the matching expected outputs."""
    src = ["model %s {" % name,
           "  input x : seq<[%d]>%s" % (I, decl),
           "  h = %s" % call,
           "  output y = h",
           "  output hn = final(h)"]
    outputs = {"y": y, "hn": hn}
    if cell == "lstm":
        src.append("  output cn = final(h, c)")
        outputs["cn"] = cn
    return src, outputs


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
    with torch.enable_grad():  # make_case runs the kinds under no_grad
        y = m(x)[0]
        out = dense(y)
        if head == "ce":
            loss = nn.CrossEntropyLoss()(out.reshape(T * B, C), tgt.reshape(T * B))
        else:
            loss = F.mse_loss(out, tgt)
        loss.backward()
    src, hname, tname = head_model(name, cell, I, H, C, layers, bidir, head, "")
    weights = {**prefixed("h", m), **prefixed(hname, dense)}
    return src, weights, {"x": x, tname: tgt}, {"loss": loss}, grads_of(weights, {"h": m, hname: dense})


def head_model(name, cell, I, H, C, layers, bidir, head, decl):
    """The .rnn text of the gradient cases (grad_case, packed_grad): x (with
    DECL after its type: "" or " lengths") -> a built-in recurrent layer ->
    dense (at every step, or of last(h) for head="label") -> the loss of
    HEAD; with the dense layer's and the target's names."""
    hname, tname = {"ce": ("logits", "next"), "mse": ("p", "t"), "label": ("logits", "label")}[head]
    tdecl = {"ce": "seq<int>", "mse": "seq<[%d]>" % C, "label": "int"}[head]
    src = ["model %s {" % name,
           "  input x : seq<[%d]>%s" % (I, decl),
           "  target %s : %s" % (tname, tdecl),
           "  h = %s" % cell_call(cell, "x", H, layers, bidir, "tanh"),
           "  %s = dense(%s, %d)" % (hname, "last(h)" if head == "label" else "h", C),
           "  loss = %s(%s, %s)" % ("mse" if head == "mse" else "cross_entropy", hname, tname),
           "}"]
    return src, hname, tname


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
# Packed sequences (docs/language.md, "Lengths"): a padded batch [T, B, ...]
# with one length an example, which torch runs through
# pack_padded_sequence(enforce_sorted=False) and rnnc through
# `input x : seq<[I]> lengths` and -i x.len=x.len.npy.  The padded steps of
# every input and target file hold garbage that must not change any result:
# huge values and NaN in float arrays, ids out of range in int arrays.
# torch is given the same float inputs (packing drops the padded steps) and
# in-range ids (0) at padded steps, since its embedding and loss would fail
# on the garbage ids before the packing could drop them.
# --------------------------------------------------------------------------

def real_mask(T, lens):
    """[T, B] bool: step t of example b is real (t < lens[b])."""
    return torch.arange(T)[:, None] < torch.tensor(lens)[None, :]


def garbage_floats(x, lens):
    """x with its padded steps alternately 1e30, -3e38 and NaN."""
    pad = ~real_mask(x.shape[0], lens)
    junk = torch.tensor([1e30, float("nan"), -3e38])
    fill = junk[torch.arange(pad.numel()) % 3].reshape(pad.shape)
    while fill.dim() < x.dim():
        fill = fill[..., None]
    return torch.where(pad.reshape(pad.shape + (1,) * (x.dim() - 2)), fill.expand_as(x), x)


def garbage_ids(ids, lens, n):
    """ids with its padded steps alternately n + 7 and -3 (out of 0..n-1)."""
    pad = ~real_mask(ids.shape[0], lens)
    junk = torch.where(torch.arange(pad.numel()).reshape(pad.shape) % 2 == 0,
                       torch.tensor(n + 7), torch.tensor(-3))
    return torch.where(pad, junk, ids)


def run_packed(m, x, lens, h0=None):
    """Runs a built-in torch recurrent module over the packed batch; returns
    the padded output [T, B, D*H] (0 at padded steps) and the final states
    in the batch's own order (torch unsorts them)."""
    T = x.shape[0]
    p = nn.utils.rnn.pack_padded_sequence(x, torch.tensor(lens), enforce_sorted=False)
    out, st = m(p) if h0 is None else m(p, h0)
    y, _ = nn.utils.rnn.pad_packed_sequence(out, total_length=T)
    return y, st


def last_real(y, lens):
    """y at each example's own last step: y[lens[b] - 1, b]."""
    return y[torch.tensor(lens) - 1, torch.arange(y.shape[1])]


def packed_recurrent(name, cell, T, B, I, H, lens, layers=1, bidir=False, act="tanh", pool="last"):
    """x (with lengths) -> one built-in recurrent layer; outputs the sequence
    (0 at padded steps), the final states of every layer and direction at
    each example's own last step, and last(h) or mean(h)."""
    m = cell_module(cell, I, H, layers, bidir, act)
    x = garbage_floats(torch.randn(T, B, I), lens)
    y, st = run_packed(m, x, lens)
    hn, cn = st if cell == "lstm" else (st, None)
    src, outputs = recurrent_model(name, cell, I, cell_call(cell, "x", H, layers, bidir, act), " lengths", y, hn, cn)
    if pool == "last":
        src.append("  output pooled = last(h)")
        outputs["pooled"] = last_real(y, lens)
    else:
        src.append("  output pooled = mean(h)")
        outputs["pooled"] = y.sum(0) / torch.tensor(lens, dtype=torch.float32)[:, None]
    src.append("}")
    return src, prefixed("h", m), {"x": x, "x.len": torch.tensor(lens)}, outputs


def packed_embedding(name, T, B, V, D, H, lens):
    """int64 ids [T, B] with lengths (ids out of range at padded steps) ->
    embedding -> bidirectional gru; mean(h) pooled over the real steps."""
    emb, gru = nn.Embedding(V, D), nn.GRU(D, H, bidirectional=True)
    clean = torch.randint(0, V, (T, B), dtype=torch.int64) * real_mask(T, lens)
    y, hn = run_packed(gru, emb(clean), lens)
    src = ["model %s {" % name,
           "  input tokens : seq<int> lengths",
           "  e = embedding(tokens, vocab=%d, dim=%d)" % (V, D),
           "  h = gru(e, hidden=%d, bidirectional)" % H,
           "  output y = h",
           "  output hn = final(h)",
           "  output pooled = mean(h)",
           "}"]
    weights = {**prefixed("e", emb), **prefixed("h", gru)}
    inputs = {"tokens": garbage_ids(clean, lens, V), "tokens.len": torch.tensor(lens)}
    return src, weights, inputs, {"y": y, "hn": hn, "pooled": y.sum(0) / torch.tensor(lens)[:, None]}


def grads_of(weights, modules):
    """torch autograd's d loss / d parameter in the state_dict order of
    `weights` (rnnc grad's), from {prefix: module}."""
    params = {p + "." + k: v for p, mod in modules.items() for k, v in mod.named_parameters()}
    return {k: params[k].grad for k in weights}


def packed_grad(name, cell, T, B, I, H, C, lens, layers=1, bidir=False, head="ce"):
    """Gradient case with lengths: x -> built-in recurrent layer -> dense ->
    a loss over the real steps only.
      head="ce":    cross_entropy at every step against int64 ids [T, B]
                    (out of range at padded steps): torch's CrossEntropyLoss
                    with ignore_index at the padded steps, the mean over
                    the real steps;
      head="mse":   mse against a float target [T, B, C] (garbage at padded
                    steps): the mean over the real elements, sum(lens) * C;
      head="label": many-to-one, dense(last(h)) against one int64 class per
                    example [B]: the mean over the batch."""
    m = cell_module(cell, I, H, layers, bidir, "tanh")
    Dn = 2 if bidir else 1
    dense = nn.Linear(Dn * H, C)
    x = garbage_floats(torch.randn(T, B, I), lens)
    real = real_mask(T, lens)
    if head == "ce":
        clean = torch.randint(0, C, (T, B), dtype=torch.int64)
        tgt = garbage_ids(clean, lens, C)
    elif head == "mse":
        clean = torch.randn(T, B, C)
        tgt = garbage_floats(clean, lens)
    else:
        clean = tgt = torch.randint(0, C, (B,), dtype=torch.int64)
    with torch.enable_grad():  # make_case runs the kinds under no_grad
        y, st = run_packed(m, x, lens)
        if head == "label":
            out = dense(last_real(y, lens))
            loss = nn.CrossEntropyLoss()(out, clean)
        else:
            out = dense(y)
            if head == "ce":
                ignored = torch.where(real, clean, torch.tensor(-100))
                loss = nn.CrossEntropyLoss(ignore_index=-100)(out.reshape(T * B, C), ignored.reshape(T * B))
            else:
                sq = ((out - clean) ** 2) * real[..., None]
                loss = sq.sum() / (sum(lens) * C)
        loss.backward()
    src, hname, tname = head_model(name, cell, I, H, C, layers, bidir, head, " lengths")
    weights = {**prefixed("h", m), **prefixed(hname, dense)}
    inputs = {"x": x, "x.len": torch.tensor(lens), tname: tgt}
    return src, weights, inputs, {"loss": loss}, grads_of(weights, {"h": m, hname: dense})


def packed_seq2seq(name, Ts, Tt, B, Vs, Vt, D, H, src_lens, tgt_lens):
    """Encoder-decoder, each side with lengths of its own: src ids -> embedding
    -> gru (packed by src_lens); its final state starts a gru over the target
    ids (packed by tgt_lens) -> dense -> cross_entropy against tgt_out over
    the target's real steps (torch: ignore_index at its padded steps)."""
    se, enc = nn.Embedding(Vs, D), nn.GRU(D, H)
    te, dec = nn.Embedding(Vt, D + 1), nn.GRU(D + 1, H)
    dense = nn.Linear(H, Vt)
    src = torch.randint(0, Vs, (Ts, B), dtype=torch.int64) * real_mask(Ts, src_lens)
    tin = torch.randint(0, Vt, (Tt, B), dtype=torch.int64) * real_mask(Tt, tgt_lens)
    tout = torch.randint(0, Vt, (Tt, B), dtype=torch.int64)
    real = real_mask(Tt, tgt_lens)
    with torch.enable_grad():
        _, hn = run_packed(enc, se(src), src_lens)
        y, _ = run_packed(dec, te(tin), tgt_lens, hn)
        logits = dense(y)
        ignored = torch.where(real, tout, torch.tensor(-100))
        loss = nn.CrossEntropyLoss(ignore_index=-100)(logits.reshape(Tt * B, Vt), ignored.reshape(Tt * B))
        loss.backward()
    text = ["model %s {" % name,
            "  input src : seq<int> lengths",
            "  input tgt_in : seq<int> lengths",
            "  target tgt_out : seq<int>",
            "  se = embedding(src, vocab=%d, dim=%d)" % (Vs, D),
            "  enc = gru(se, hidden=%d)" % H,
            "  te = embedding(tgt_in, vocab=%d, dim=%d)" % (Vt, D + 1),
            "  dec = gru(te, hidden=%d, init=enc)" % H,
            "  logits = dense(dec, %d)" % Vt,
            "  output y = dec",
            "  loss = cross_entropy(logits, tgt_out)",
            "}"]
    mods = {"se": se, "enc": enc, "te": te, "dec": dec, "logits": dense}
    weights = {k: v for p, mod in mods.items() for k, v in prefixed(p, mod).items()}
    inputs = {"src": garbage_ids(src, src_lens, Vs), "src.len": torch.tensor(src_lens),
              "tgt_in": garbage_ids(tin, tgt_lens, Vt), "tgt_in.len": torch.tensor(tgt_lens),
              "tgt_out": garbage_ids(tout, tgt_lens, Vt)}
    return text, weights, inputs, {"y": y, "loss": loss}, grads_of(weights, mods)


# torch's LSTM equations as a user cell: W = weight_ih, U = weight_hh and
# b = bias_ih + bias_hh (one bias: its gradient is either of torch's).
MYLSTM = ["cell mylstm(x: [I]) -> [H] {",
          "  param W: [4H, I]",
          "  param U: [4H, H]",
          "  param b: [4H]",
          "  state h: [H] = 0",
          "  state c: [H] = 0",
          "  i, f, g, o = split(W @ x + U @ h + b, 4)",
          "  c' = sigmoid(f) * c + sigmoid(i) * tanh(g)",
          "  h' = sigmoid(o) * tanh(c')",
          "  out h'",
          "}"]


def packed_user_cell(name, T, B, I, H, C, lens):
    """Lengths through a user cell and reverse(): the two directions of a
    bidirectional torch LSTM written as f = mylstm(x) and
    b = mylstm(reverse(x)), whose reverse(b) is torch's reverse half (each
    example reversed within its own length).  Outputs f, reverse(b), both
    final states, last(b) (= the reverse direction's final state); the loss
    mse(dense(f) + dense(reverse(b)), t) over the real elements, and its
    gradients through both cells and reverse()."""
    m = nn.LSTM(I, H, bidirectional=True)
    df, db = nn.Linear(H, C), nn.Linear(H, C)
    x = garbage_floats(torch.randn(T, B, I), lens)
    clean = torch.randn(T, B, C)
    real = real_mask(T, lens)
    with torch.enable_grad():
        y, (hn, _) = run_packed(m, x, lens)
        p = df(y[..., :H]) + db(y[..., H:])
        loss = (((p - clean) ** 2) * real[..., None]).sum() / (sum(lens) * C)
        loss.backward()
    sd, par = m.state_dict(), dict(m.named_parameters())
    weights, grads = {}, {}
    for cname, sfx in (("f", "_l0"), ("b", "_l0_reverse")):
        weights[cname + ".W"], grads[cname + ".W"] = sd["weight_ih" + sfx], par["weight_ih" + sfx].grad
        weights[cname + ".U"], grads[cname + ".U"] = sd["weight_hh" + sfx], par["weight_hh" + sfx].grad
        weights[cname + ".b"], grads[cname + ".b"] = sd["bias_ih" + sfx] + sd["bias_hh" + sfx], par["bias_ih" + sfx].grad
    for dname, dense in (("pf", df), ("pb", db)):
        weights.update(prefixed(dname, dense))
        grads.update({dname + "." + k: v.grad for k, v in dense.named_parameters()})
    src = MYLSTM + ["model %s {" % name,
                    "  input x : seq<[%d]> lengths" % I,
                    "  target t : seq<[%d]>" % C,
                    "  f = mylstm(x, H=%d)" % H,
                    "  xr = reverse(x)",
                    "  b = mylstm(xr, H=%d)" % H,
                    "  rb = reverse(b)",
                    "  pf = dense(f, %d)" % C,
                    "  pb = dense(rb, %d)" % C,
                    "  p = pf + pb",
                    "  output yf = f",
                    "  output yb = rb",
                    "  output hf = final(f)",
                    "  output hb = final(b)",
                    "  output lb = last(b)",
                    "  loss = mse(p, t)",
                    "}"]
    outputs = {"yf": y[..., :H], "yb": y[..., H:], "hf": hn[0], "hb": hn[1], "lb": hn[1], "loss": loss}
    inputs = {"x": x, "x.len": torch.tensor(lens), "t": garbage_floats(clean, lens)}
    return src, weights, inputs, outputs, grads


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
    # packed sequences (lengths): unsorted lengths including 1 and T,
    # garbage at the padded steps of every input and target
    ("packed_rnn",          packed_recurrent, dict(cell="rnn", T=6, B=4, I=4, H=6, lens=[4, 6, 1, 3])),
    ("packed_rnn_relu_bidir", packed_recurrent, dict(cell="rnn", T=5, B=4, I=3, H=5, lens=[2, 1, 5, 4], bidir=True, act="relu")),
    ("packed_lstm",         packed_recurrent, dict(cell="lstm", T=7, B=4, I=5, H=6, lens=[7, 3, 5, 1], pool="mean")),
    ("packed_gru",          packed_recurrent, dict(cell="gru", T=6, B=4, I=4, H=7, lens=[1, 4, 6, 2])),
    ("packed_lstm_stacked", packed_recurrent, dict(cell="lstm", T=6, B=4, I=3, H=5, lens=[5, 1, 6, 2], layers=2)),
    ("packed_gru_stacked_bidir", packed_recurrent, dict(cell="gru", T=7, B=4, I=5, H=6, lens=[3, 7, 1, 6], layers=2, bidir=True, pool="mean")),
    ("packed_lstm_stacked_bidir", packed_recurrent, dict(cell="lstm", T=5, B=4, I=4, H=6, lens=[5, 2, 1, 4], layers=2, bidir=True)),
    ("packed_embedding_gru_bidir", packed_embedding, dict(T=6, B=4, V=11, D=5, H=6, lens=[2, 6, 4, 1])),
    ("grad_packed_rnn",     packed_grad,    dict(cell="rnn", T=6, B=4, I=4, H=6, C=5, lens=[3, 6, 1, 4])),
    ("grad_packed_lstm_stacked", packed_grad, dict(cell="lstm", T=7, B=4, I=5, H=6, C=4, lens=[7, 2, 5, 1], layers=2)),
    ("grad_packed_gru_bidir", packed_grad,  dict(cell="gru", T=6, B=4, I=4, H=7, C=5, lens=[1, 5, 6, 3], bidir=True)),
    ("grad_packed_lstm_stacked_bidir", packed_grad, dict(cell="lstm", T=5, B=4, I=3, H=5, C=4, lens=[4, 1, 5, 2], layers=2, bidir=True)),
    ("grad_packed_rnn_bidir_mse", packed_grad, dict(cell="rnn", T=7, B=4, I=5, H=6, C=3, lens=[6, 1, 7, 4], bidir=True, head="mse")),
    ("grad_packed_gru_stacked_mse", packed_grad, dict(cell="gru", T=6, B=4, I=4, H=5, C=2, lens=[2, 6, 3, 1], layers=2, head="mse")),
    ("grad_packed_lstm_bidir_last", packed_grad, dict(cell="lstm", T=6, B=4, I=4, H=6, C=3, lens=[5, 1, 3, 6], bidir=True, head="label")),
    ("grad_packed_gru_stacked_last", packed_grad, dict(cell="gru", T=7, B=4, I=3, H=7, C=4, lens=[1, 7, 4, 2], layers=2, head="label")),
    ("grad_packed_user_cell_reverse", packed_user_cell, dict(T=6, B=4, I=3, H=5, C=2, lens=[3, 6, 1, 4])),
    ("grad_packed_seq2seq", packed_seq2seq, dict(Ts=6, Tt=5, B=4, Vs=9, Vt=7, D=4, H=6, src_lens=[6, 2, 1, 4], tgt_lens=[3, 5, 2, 1])),
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
