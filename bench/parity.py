#!/usr/bin/env python3
"""parity.py — ksearch's convolutional layers against PyTorch (`make bench-parity`).

Runs parity_conv (the engine side), which writes for every layer kind its normalized
Keras config, random inputs and weights, its output, and the input and weight
gradients for a random upstream gradient; rebuilds each layer in PyTorch from the
config (channels-last to NCHW, HWIO to OIHW kernels, TensorFlow's asymmetric `same`
padding as explicit padding, padding left out of max and average pooling as Keras
does) and compares: max |ksearch − torch| / max |torch| must stay under 1e-4 for
every array.  Then 200 SGD steps of the studies' CNN (without Dropout) from the same
initial weights on the same batches: the loss that fit logs (the running mean) within
1e-3 relative at every step; each batch's own loss is shown next to how far PyTorch
moves from itself when its initial weights move by one ulp (float32 rounding alone,
which training amplifies).

Usage: parity.py PARITY_CONV [IDX_PREFIX]     exit status 1 if any check fails
"""
import json
import math
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
import torch.nn.functional as F

from torch_mlp import read_idx

LAYER_TOL = 1e-4
LOSS_TOL = 1e-3
torch.set_num_threads(1)
torch.set_default_dtype(torch.float32)


def tf_pads(size, k, s, d, padding):
    """TensorFlow's padding of one axis: (before, after) and the output size."""
    eff = (k - 1) * d + 1
    if padding == "valid":
        return 0, 0
    if padding == "causal":
        return eff - 1, 0
    out = -(-size // s)
    total = max((out - 1) * s + eff - size, 0)
    return total // 2, total - total // 2


def to_nchw(x):
    """(N, H, W, C) or (N, W, C) as torch's (N, C, H, W) / (N, C, W)."""
    return x.permute(0, 3, 1, 2) if x.dim() == 4 else x.permute(0, 2, 1)


def from_nchw(y):
    return y.permute(0, 2, 3, 1) if y.dim() == 4 else y.permute(0, 2, 1)


def pad_input(x, cfg, rank, value=0.0):
    """x in NCHW / NCW, padded as TensorFlow pads for the layer's window."""
    k = cfg.get("kernel_size", cfg.get("pool_size"))
    s = cfg["strides"]
    d = cfg.get("dilation_rate", [1] * rank)
    pads = []
    for axis in reversed(range(rank)):      # F.pad wants the last axis first
        pads += tf_pads(x.shape[2 + axis], k[axis], s[axis], d[axis], cfg["padding"])
    return F.pad(x, pads, value=value) if any(pads) else x


def activation(y, name):
    return {"linear": lambda v: v, "relu": torch.relu, "tanh": torch.tanh,
            "sigmoid": torch.sigmoid}[name](y)


def conv(x, w, cfg, rank):
    """Conv1D / Conv2D: kernel (k…, in, out) → (out, in, k…)."""
    xp = pad_input(to_nchw(x), cfg, rank)
    wt = w[0].permute(3, 2, 0, 1) if rank == 2 else w[0].permute(2, 1, 0)
    bias = w[1] if cfg["use_bias"] else None
    f = F.conv2d if rank == 2 else F.conv1d
    y = f(xp, wt, bias, stride=cfg["strides"], dilation=cfg["dilation_rate"])
    return activation(from_nchw(y), cfg["activation"])


def depthwise(x, k, cfg, bias=None):
    """Depthwise kernel (kh, kw, C, dm) → (C·dm, 1, kh, kw), groups C: output c·dm + m."""
    c, dm = k.shape[2], k.shape[3]
    wt = k.permute(2, 3, 0, 1).reshape(c * dm, 1, k.shape[0], k.shape[1])
    xp = pad_input(to_nchw(x), cfg, 2)
    return F.conv2d(xp, wt, bias, stride=cfg["strides"], dilation=cfg["dilation_rate"], groups=c)


def pool(x, cfg, rank, kind):
    xn = to_nchw(x)
    k, s = cfg["pool_size"], cfg["strides"]
    if kind == "max":
        xp = pad_input(xn, cfg, rank, value=-math.inf)
        y = (F.max_pool2d if rank == 2 else F.max_pool1d)(xp, k, s)
    else:
        # the mean over the positions inside the input: sums of x over sums of ones
        f = F.avg_pool2d if rank == 2 else F.avg_pool1d
        sums = f(pad_input(xn, cfg, rank), k, s) * float(np.prod(k))
        count = f(pad_input(torch.ones_like(xn), cfg, rank), k, s) * float(np.prod(k))
        y = sums / count
    return from_nchw(y)


def batch_norm(x, w, cfg):
    c = x.shape[-1]
    y = F.batch_norm(x.reshape(-1, c), None, None, weight=w[0], bias=w[1], training=True,
                     eps=cfg["epsilon"])
    return y.reshape(x.shape)


def zero_padding(x, cfg):
    (t, b), (l, r) = cfg["padding"]
    return F.pad(x, (0, 0, l, r, t, b))


def layer_forward(cls, cfg, x, w):
    rank = 1 if cls.endswith("1D") else 2
    if cls in ("Conv2D", "Conv1D"):
        return conv(x, w, cfg, rank)
    if cls == "DepthwiseConv2D":
        y = from_nchw(depthwise(x, w[0], cfg, w[1] if cfg["use_bias"] else None))
        return activation(y, cfg["activation"])
    if cls == "SeparableConv2D":
        mid = depthwise(x, w[0], cfg)
        pw = w[1].permute(3, 2, 0, 1)
        y = F.conv2d(mid, pw, w[2] if cfg["use_bias"] else None)
        return activation(from_nchw(y), cfg["activation"])
    if cls.startswith("MaxPooling"):
        return pool(x, cfg, rank, "max")
    if cls.startswith("AveragePooling"):
        return pool(x, cfg, rank, "avg")
    if cls.startswith("GlobalAveragePooling"):
        return x.mean(dim=tuple(range(1, x.dim() - 1)))
    if cls.startswith("GlobalMaxPooling"):
        return x.amax(dim=tuple(range(1, x.dim() - 1)))
    if cls == "ZeroPadding2D":
        return zero_padding(x, cfg)
    if cls == "BatchNormalization":
        return batch_norm(x, w, cfg)
    if cls == "Rescaling":
        return x * cfg["scale"] + cfg["offset"]
    raise SystemExit(f"parity.py: no PyTorch equivalent written for {cls}")


def rel(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    scale = max(np.abs(b).max(), 1e-30)
    return float(np.abs(a - b).max() / scale)


def check_layer(case_dir):
    cfg_list = json.load(open(os.path.join(case_dir, "config.json")))
    (cls, cfg), = cfg_list[1].items()
    names = open(os.path.join(case_dir, "weights.txt")).read().split()
    load = lambda n: torch.from_numpy(np.load(os.path.join(case_dir, n + ".npy")))
    x = load("x").clone().requires_grad_(True)
    w = [load(f"w{i}").clone().requires_grad_(True) for i in range(len(names))]
    y = layer_forward(cls, cfg, x, w)
    dy = load("dy")
    (y * dy).sum().backward()
    results = [("y", rel(load("y"), y.detach()))]
    results.append(("dx", rel(load("dx"), x.grad)))
    for i, name in enumerate(names):
        if "moving" in name:
            continue                # statistics, not trained; PyTorch keeps them differently
        results.append((name.split("/")[-1], rel(load(f"g{i}"), w[i].grad)))
    return cls, results


def keras_cnn():
    """The studies' CNN without Dropout, NCHW, with the ksearch initial weights."""
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 32, 3), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(32, 64, 3), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(),          # NCHW flattening: the Dense kernel's rows are permuted
        torch.nn.Linear(64 * 5 * 5, 128), torch.nn.ReLU(),
        torch.nn.Linear(128, 10))


def train_torch(sgd_dir, x, y, steps, batch, nudge):
    """Per-step losses of the CNN in PyTorch from ksearch's initial weights (nudged up by
    one ulp each with nudge: how far float32 rounding alone moves a run)."""
    load = lambda n: np.load(os.path.join(sgd_dir, n + ".npy"))
    model = keras_cnn()
    convs = [m for m in model if isinstance(m, torch.nn.Conv2d)]
    denses = [m for m in model if isinstance(m, torch.nn.Linear)]
    with torch.no_grad():
        for i, m in enumerate(convs):
            m.weight.copy_(torch.from_numpy(load(f"w{2 * i}")).permute(3, 2, 0, 1))
            m.bias.copy_(torch.from_numpy(load(f"w{2 * i + 1}")))
        k = torch.from_numpy(load("w4"))               # (5·5·64, 128), rows in (h, w, c) order
        k = k.reshape(5, 5, 64, 128).permute(2, 0, 1, 3).reshape(1600, 128)  # rows (c, h, w)
        denses[0].weight.copy_(k.t())
        denses[0].bias.copy_(torch.from_numpy(load("w5")))
        denses[1].weight.copy_(torch.from_numpy(load("w6")).t())
        denses[1].bias.copy_(torch.from_numpy(load("w7")))
        if nudge:
            for p in model.parameters():
                p.copy_(torch.from_numpy(np.nextafter(p.numpy(), np.float32(np.inf))))
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    loss_fn = torch.nn.CrossEntropyLoss()
    out = []
    for s in range(steps):
        xb, yb = x[s * batch:(s + 1) * batch], y[s * batch:(s + 1) * batch]
        opt.zero_grad()
        loss = loss_fn(model(xb), yb)
        loss.backward()
        opt.step()
        out.append(loss.item())
    return np.array(out)


def check_sgd(sgd_dir):
    """Per-step and logged (running mean, as fit shows) losses against PyTorch's."""
    prefix = open(os.path.join(sgd_dir, "data.txt")).read().strip()
    ks = np.load(os.path.join(sgd_dir, "losses.npy")).astype(np.float64)
    steps, batch = ks.shape[0], 32
    xs = read_idx(prefix + "-images-idx3-ubyte.gz", steps * batch)
    ys = read_idx(prefix + "-labels-idx1-ubyte.gz", steps * batch)
    x = torch.from_numpy(xs.astype(np.float32) / np.float32(255.0)).reshape(-1, 1, 28, 28)
    y = torch.from_numpy(ys.astype(np.int64))
    t = train_torch(sgd_dir, x, y, steps, batch, False)
    t_nudged = train_torch(sgd_dir, x, y, steps, batch, True)
    mean = lambda a: np.cumsum(a) / np.arange(1, len(a) + 1)
    return {"steps": steps, "first": ks[0], "last": ks[-1],
            "step": np.abs(ks - t) / t,                 # each batch's loss
            "logged": np.abs(mean(ks) - mean(t)) / mean(t),
            "torch_self": np.abs(t_nudged - t) / t}


def main():
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    failed = 0
    with tempfile.TemporaryDirectory(prefix="ks_parity.") as out:
        subprocess.run([sys.argv[1], out] + sys.argv[2:3], check=True)
        print(f"{'layer':36s} {'array':18s} {'max|ks-torch|/max|torch|':>26s}")
        for case in sorted(os.listdir(out)):
            if case == "sgd":
                continue
            cls, results = check_layer(os.path.join(out, case))
            for name, r in results:
                ok = r < LAYER_TOL
                failed += not ok
                print(f"{case:36s} {name:18s} {r:26.2e}{'' if ok else '  FAILED'}")
        r = check_sgd(os.path.join(out, "sgd"))
        ok = r["logged"].max() < LOSS_TOL
        failed += not ok
        print(f"\n{r['steps']} SGD steps of the studies' CNN (no Dropout), batch 32, lr 0.01, "
              f"loss {r['first']:.4f} -> {r['last']:.4f}, max relative difference:")
        print(f"  the loss fit logs (running mean over the steps)  {r['logged'].max():.2e}"
              f"{'' if ok else '  FAILED'}")
        print(f"  each step's batch loss                           {r['step'].max():.2e} "
              f"(step {r['step'].argmax() + 1}; last step {r['step'][-1]:.2e})")
        print(f"  PyTorch against itself, weights one ulp apart    {r['torch_self'].max():.2e}"
              f" (float32 rounding alone)")
    print(f"\n{'all within' if not failed else f'{failed} outside'} the tolerances "
          f"({LAYER_TOL:g} per array, {LOSS_TOL:g} per loss)")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
