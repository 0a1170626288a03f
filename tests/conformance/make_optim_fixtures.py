#!/usr/bin/python3
"""make_optim_fixtures.py - PyTorch reference for the training step
(passes/train_step.c): torch.optim.Adam / torch.optim.SGD with
clip_grad_norm_ / clip_grad_value_ on a small LSTM, three steps.

Writes tests/conformance/optim/CASE/ (not fixtures/: run.sh treats every
directory there as a forward-pass case):

    model.rnn            the model in the .rnn language
    x.npy, t.npy         input [T, B, I] and target [B, K], float64
    init/P.npy           every parameter before the first step, float64
    stepN/P.npy          every parameter after step N (N = 1, 2, 3)
    stepN/grad_norm.npy  the global gradient norm of step N, before clipping

Everything is float64 so that tests/unit/test_train_step.c can compare the
interpreter's F64 run with torch to ~1e-12: any difference is then a
different equation, not rounding.  The hyperparameters of each case are in
CASES below and repeated in the unit test.

Run with the Debian python that has torch:
    /usr/bin/python3 tests/conformance/make_optim_fixtures.py
"""

import os
import shutil

import numpy as np
import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "optim")

T, B, I, H, K = 3, 2, 2, 3, 2
SOURCE = ("model a {\n input x : seq<[%d]>\n target t : [%d]\n"
          " h = lstm(x, hidden=%d)\n y = dense(last(h), %d)\n loss = mse(y, t)\n}\n") % (I, K, H, K)

# name: (optimizer, its kwargs, clip kind, clip bound)
CASES = {
    "adam_clip_norm": ("adam", dict(lr=0.01, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01), "norm", 0.05),
    "sgd_momentum_clip_value": ("sgd", dict(lr=0.1, momentum=0.9, weight_decay=0.01), "value", 0.02),
}
STEPS = 3


def save(path, t):
    np.save(path, t.detach().cpu().numpy().astype(np.float64))


def make_case(name, opt, kwargs, clip, bound):
    torch.manual_seed(sum(map(ord, name)))
    lstm = nn.LSTM(I, H).double()
    dense = nn.Linear(H, K).double()
    params = {}
    for n, p in lstm.named_parameters():
        params["h." + n] = p
    for n, p in dense.named_parameters():
        params["y." + n] = p
    x = torch.rand(T, B, I, dtype=torch.float64) * 2 - 1
    t = torch.rand(B, K, dtype=torch.float64) * 2 - 1

    d = os.path.join(OUT, name)
    os.makedirs(os.path.join(d, "init"))
    with open(os.path.join(d, "model.rnn"), "w") as f:
        f.write(SOURCE)
    save(os.path.join(d, "x.npy"), x)
    save(os.path.join(d, "t.npy"), t)
    for n, p in params.items():
        save(os.path.join(d, "init", n + ".npy"), p)

    plist = list(params.values())
    o = torch.optim.Adam(plist, **kwargs) if opt == "adam" else torch.optim.SGD(plist, **kwargs)
    for step in range(1, STEPS + 1):
        o.zero_grad()
        h, _ = lstm(x)
        loss = nn.functional.mse_loss(dense(h[-1]), t)
        loss.backward()
        if clip == "norm":
            norm = torch.nn.utils.clip_grad_norm_(plist, bound)
        else:
            norm = torch.norm(torch.stack([p.grad.norm() for p in plist]))
            torch.nn.utils.clip_grad_value_(plist, bound)
        o.step()
        sd = os.path.join(d, "step%d" % step)
        os.makedirs(sd)
        save(os.path.join(sd, "grad_norm.npy"), norm)
        for n, p in params.items():
            save(os.path.join(sd, n + ".npy"), p)


def main():
    torch.set_num_threads(1)
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    for name, (opt, kwargs, clip, bound) in CASES.items():
        make_case(name, opt, kwargs, clip, bound)
    with open(os.path.join(OUT, "VERSION"), "w") as f:
        f.write("torch %s, numpy %s\n" % (torch.__version__, np.__version__))


if __name__ == "__main__":
    main()
