#!/usr/bin/python3
"""parity_rnn.py — the PyTorch side of parity_rnn.sh.

    parity_rnn.py make-data DIR    random x.npy (64, 10, 6) and targets y_true/y_false.npy
    parity_rnn.py random DIR       outputs and gradients of DIR/{LSTM,GRU,SimpleRNN}-{true,false}
    parity_rnn.py rows DIR         200 steps of the row-wise Fashion-MNIST LSTM

Weights come from ksearch's model files: Keras's kernel (features, gates·units) with
LSTM's gates i, f, c, o (PyTorch's i, f, g, o) and GRU's z, r, h (PyTorch's r, z, n),
GRU's bias (2, 3·units) its input and recurrent biases (PyTorch's bias_ih, bias_hh).
Exits 1 when a difference exceeds its tolerance.
"""
import csv
import gzip
import sys

import numpy as np
import torch

from parity_functional import read_ksm

N, T, F, U = 64, 10, 6, 8


def rel(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-30))


def gate_order(cell):
    """PyTorch's gate blocks as indices of Keras's."""
    return {"LSTM": [0, 1, 2, 3], "GRU": [1, 0, 2], "SimpleRNN": [0]}[cell]


def to_torch(cell, w, prefix):
    """ksearch's weights → (weight_ih, weight_hh, bias_ih, bias_hh) for nn.LSTM/GRU/RNN."""
    k, r = w[prefix + "kernel"], w[prefix + "recurrent_kernel"]
    b = w[prefix + "bias"]
    g = gate_order(cell)
    u = r.shape[0]
    blocks = lambda m: np.concatenate([m[..., i * u:(i + 1) * u] for i in g], axis=-1)
    if cell == "GRU":
        b_ih, b_hh = blocks(b[0]), blocks(b[1])
    else:
        b_ih, b_hh = blocks(b), np.zeros_like(b)
    return [torch.tensor(blocks(k).T.copy()), torch.tensor(blocks(r).T.copy()),
            torch.tensor(b_ih.copy()), torch.tensor(b_hh.copy())]


def from_torch(cell, grads, u):
    """PyTorch's gradients of (weight_ih, weight_hh, bias_ih, bias_hh) in ksearch's layout."""
    g = gate_order(cell)
    inv = [g.index(i) for i in range(len(g))]

    def blocks(m):
        return np.concatenate([m[..., i * u:(i + 1) * u] for i in inv], axis=-1)

    k, r = blocks(grads[0].T), blocks(grads[1].T)
    if cell == "GRU":
        b = np.stack([blocks(grads[2]), blocks(grads[3])])
    else:
        b = blocks(grads[2])        # bias_hh is always 0 here and gets the same gradient
    return k, r, b


def torch_layer(cell, inputs, hidden):
    cls = {"LSTM": torch.nn.LSTM, "GRU": torch.nn.GRU, "SimpleRNN": torch.nn.RNN}[cell]
    return cls(inputs, hidden, batch_first=True)


def load_into(layer, params, cell):
    """Set the weights; Keras's LSTM and SimpleRNN have one bias: PyTorch's second stays 0
    (frozen, else SGD would move the sum of the two twice as fast)."""
    with torch.no_grad():
        for p, v in zip([layer.weight_ih_l0, layer.weight_hh_l0, layer.bias_ih_l0,
                         layer.bias_hh_l0], params):
            p.copy_(v)
    if cell != "GRU":
        layer.bias_hh_l0.requires_grad_(False)


def make_data(d):
    rng = np.random.default_rng(5)
    np.save(f"{d}/x.npy", rng.normal(size=(N, T, F)).astype(np.float32))
    np.save(f"{d}/y_true.npy", rng.normal(size=(N, T * U)).astype(np.float32))
    np.save(f"{d}/y_false.npy", rng.normal(size=(N, U)).astype(np.float32))


def random_batches(d):
    x = torch.tensor(np.load(f"{d}/x.npy"))
    worst = 0.0
    for cell in ("LSTM", "GRU", "SimpleRNN"):
        for seq in ("true", "false"):
            sub = f"{d}/{cell}-{seq}"
            _, init = read_ksm(f"{sub}/init.ksm")
            _, final = read_ksm(f"{sub}/final.ksm")
            prefix = {"LSTM": "lstm/lstm_cell/", "GRU": "gru/gru_cell/",
                      "SimpleRNN": "simple_rnn/simple_rnn_cell/"}[cell]
            layer = torch_layer(cell, F, U)
            load_into(layer, to_torch(cell, init, prefix), "GRU")     # every gradient wanted
            out, _ = layer(x)
            y = out.reshape(N, T * U) if seq == "true" else out[:, -1]
            pred = np.loadtxt(f"{sub}/pred.csv", delimiter=",", skiprows=1, ndmin=2)
            pred = pred[:, -y.shape[1]:]        # after predict's class column
            e_out = rel(pred, y.detach().numpy())
            target = torch.tensor(np.load(f"{d}/y_{seq}.npy"))
            loss = ((y - target) ** 2).mean()
            grads = torch.autograd.grad(loss, [layer.weight_ih_l0, layer.weight_hh_l0,
                                               layer.bias_ih_l0, layer.bias_hh_l0])
            mine = from_torch(cell, [g.numpy() for g in grads], U)
            errs = [rel(init[prefix + n] - final[prefix + n], g) for n, g in
                    zip(("kernel", "recurrent_kernel", "bias"), mine)]
            print(f"{cell:9s} return_sequences={seq:5s}: outputs {e_out:.2e}, gradients "
                  f"kernel {errs[0]:.2e} recurrent_kernel {errs[1]:.2e} bias {errs[2]:.2e}")
            worst = max(worst, e_out, *errs)
    print(f"largest relative difference: {worst:.2e} (tolerance 1e-4)")
    return worst <= 1e-4


def read_idx(path, rows):
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(dims)[:rows]


def rows(d):
    prefix = "/usr/share/datasets/fashion-mnist/train"
    x = torch.tensor(read_idx(prefix + "-images-idx3-ubyte.gz", 6400).astype(np.float32) / 255)
    y = torch.tensor(read_idx(prefix + "-labels-idx1-ubyte.gz", 6400).astype(np.int64))
    _, init = read_ksm(f"{d}/rows_init.ksm")
    lstm = torch_layer("LSTM", 28, 128)
    load_into(lstm, to_torch("LSTM", init, "lstm/lstm_cell/"), "LSTM")
    dense = torch.nn.Linear(128, 10)
    with torch.no_grad():
        dense.weight.copy_(torch.tensor(init["dense/kernel"].T.copy()))
        dense.bias.copy_(torch.tensor(init["dense/bias"]))
    opt = torch.optim.SGD([p for p in list(lstm.parameters()) + list(dense.parameters())
                           if p.requires_grad], lr=0.05)
    theirs = [float(r["loss"]) for r in csv.DictReader(open(f"{d}/losses.csv"))]
    worst, mine = 0.0, []
    for step in range(200):
        xb, yb = x[32 * step:32 * step + 32], y[32 * step:32 * step + 32]
        out, _ = lstm(xb)
        loss = torch.nn.functional.cross_entropy(dense(out[:, -1]), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        mine.append(loss.item())
        worst = max(worst, abs(mine[-1] - theirs[step]) / abs(mine[-1]))
        if "-v" in sys.argv:
            print(step, mine[-1], theirs[step])
    print(f"row-wise LSTM, 200 steps: loss {theirs[0]:.4f} → {theirs[-1]:.4f} (ksearch), "
          f"{mine[0]:.4f} → {mine[-1]:.4f} (PyTorch); largest relative difference of a step's "
          f"loss {worst:.2e} (tolerance 1e-3)")
    return worst <= 1e-3


def main():
    what, d = sys.argv[1], sys.argv[2]
    if what == "make-data":
        make_data(d)
        return
    ok = random_batches(d) if what == "random" else rows(d)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
