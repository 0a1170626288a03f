#!/usr/bin/env python3
"""The hand-worked case of tests/unit/test_history.c: TBPTT(k1=2, k2=4) on a
scalar rnn (hidden 1, tanh), one update: the history is steps x1, x2 (no
loss), the new steps x3, x4 (the loss), the state before x1 the carried
c (its gradient is cut there).  Prints the loss and the gradients of the
four parameters, written out step by step (no autodiff library), to 17
digits; test_history.c holds them.

    /usr/bin/python3 tests/unit/tbptt_hand.py
"""
import math

u, w, bi, bh = 0.8, 0.5, 0.1, -0.2        # weight_ih, weight_hh, bias_ih, bias_hh
c = 0.3                                    # carried state at the window's start
xs = [1.0, -1.0, 0.5, 2.0]                 # history x1 x2, new x3 x4
ys = [0.2, -0.4]                           # targets of x3 x4

# forward: h_t = tanh(u x_t + bi + w h_{t-1} + bh)
hs = [c]
for x in xs:
    hs.append(math.tanh(u * x + bi + w * hs[-1] + bh))
h = hs[1:]
loss = ((h[2] - ys[0]) ** 2 + (h[3] - ys[1]) ** 2) / 2   # mse: mean over 2 elements

# backward: dL/dh_t from the loss (new steps only), then through the
# recurrence back to step 1; nothing flows into c.
dh = [0.0, 0.0, h[2] - ys[0], h[3] - ys[1]]             # d/dh of the mean: 2 (h - y) / 2
gu = gw = gb = 0.0
carry = 0.0
for t in range(3, -1, -1):
    g = dh[t] + carry                                    # dL/dh_t
    dz = g * (1 - h[t] ** 2)                             # through tanh
    gu += dz * xs[t]
    gw += dz * hs[t]                                     # hs[t] is h_{t-1}
    gb += dz
    carry = dz * w                                       # into h_{t-1}; at t = 0 it would be c's: dropped
print("h2        %.17g" % h[1])
print("loss      %.17g" % loss)
print("weight_ih %.17g" % gu)
print("weight_hh %.17g" % gw)
print("bias_ih   %.17g" % gb)
print("bias_hh   %.17g" % gb)

# for contrast, tbptt = 2 alone (k1 = k2 = 2): the same forward, the
# gradient cut at h2, so weight_hh's gradient differs
gw2, carry = 0.0, 0.0
for t in range(3, 1, -1):
    dz = (dh[t] + carry) * (1 - h[t] ** 2)
    gw2 += dz * hs[t]
    carry = dz * w
print("weight_hh (k2 = 2) %.17g" % gw2)
