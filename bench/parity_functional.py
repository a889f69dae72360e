#!/usr/bin/python3
"""parity_functional.py — the same two-input, two-output graph trained by PyTorch from
the initial weights ksearch saved, on the same batches in the same order, with plain
SGD; compares every step's total loss and the final weights with ksearch's.

    parity_functional.py DIR

DIR holds what parity_functional.sh made: data.csv, init.ksm and final.ksm (ksearch's
weights before and after), losses.csv (ksearch's loss per step, one step per epoch).
Prints the largest differences and exits 1 when they exceed the tolerances (1e-4
relative for the losses, 1e-4 absolute for the weights).
"""
import csv
import json
import struct
import sys

import numpy as np
import torch

STEPS, BATCH, LR = 200, 16, 0.01
LOSS_WEIGHTS = (0.9, 0.1)           # main_output (mse), aux_output (sparse crossentropy)


def read_ksm(path):
    """The named tensors of a .ksm model file (engine/model_file.c documents the format)."""
    with open(path, "rb") as f:
        b = f.read()
    if b[:4] != b"\x89KSM":
        sys.exit(f"{path}: not a ksearch model file")
    version, flags, size = struct.unpack_from("<IIQ", b, 4)
    if size != len(b):
        sys.exit(f"{path}: {len(b)} bytes but the header says {size}")
    n_tensors, config_len = struct.unpack_from("<IQ", b, 32)
    at = 44 + config_len
    config = json.loads(b[44:at])
    if flags & 2:                   # optimizer: name, iterations, learning rate, slots
        (n,) = struct.unpack_from("<I", b, at)
        at += 4 + n + 8 + 8
        (n_slots,) = struct.unpack_from("<I", b, at)
        at += 4
        for _ in range(n_slots if version >= 2 else 0):     # version 2: the slots' names
            (n,) = struct.unpack_from("<I", b, at)
            at += 4 + n
    tensors = {}
    for _ in range(n_tensors):
        slot = 0
        if version >= 2:            # 0: the weight itself; k: the optimizer's k-th slot
            (slot,) = struct.unpack_from("<I", b, at)
            at += 4
        (n,) = struct.unpack_from("<I", b, at)
        name = b[at + 4:at + 4 + n].decode()
        at += 4 + n
        (ndim,) = struct.unpack_from("<I", b, at)
        dims = struct.unpack_from(f"<{ndim}Q", b, at + 4)
        at += 4 + 8 * ndim
        count = int(np.prod(dims)) if ndim else 1
        data = np.frombuffer(b, dtype="<f4", count=count, offset=at).reshape(dims)
        at += 4 * count
        if slot == 0 and not (version == 1 and name.startswith("optimizer/")):
            tensors[name] = data.copy()
    return config, tensors


def main():
    d = sys.argv[1]
    rows = list(csv.DictReader(open(f"{d}/data.csv")))
    wide = torch.tensor([[float(r[f"x{i}"]) for i in range(1, 6)] for r in rows])
    deep = torch.tensor([[float(r[f"x{i}"]) for i in range(3, 9)] for r in rows])
    y = torch.tensor([[float(r["y"])] for r in rows])
    cls = torch.tensor([int(float(r["c"])) for r in rows])
    _, init = read_ksm(f"{d}/init.ksm")
    _, final = read_ksm(f"{d}/final.ksm")
    w = {k: torch.tensor(v, requires_grad=True) for k, v in init.items()}

    def dense(x, name, act=None):
        z = x @ w[f"{name}/kernel"] + w[f"{name}/bias"]
        return act(z) if act else z

    def forward(xw, xd):
        h1 = dense(xd, "hidden1", torch.relu)
        h2 = dense(h1, "hidden2", torch.tanh)
        main = dense(torch.cat([xw, h2], dim=1), "main_output")
        aux_logits = dense(h2, "aux_output")        # softmax folded into the loss, as ksearch does
        return main, aux_logits

    losses = []
    n = len(rows)
    per_pass = n // BATCH
    for step in range(STEPS):
        b = step % per_pass
        sl = slice(b * BATCH, (b + 1) * BATCH)
        main, aux = forward(wide[sl], deep[sl])
        loss = (LOSS_WEIGHTS[0] * torch.mean((main - y[sl]) ** 2) +
                LOSS_WEIGHTS[1] * torch.nn.functional.cross_entropy(aux, cls[sl]))
        for t in w.values():
            t.grad = None
        loss.backward()
        with torch.no_grad():
            for t in w.values():
                t -= LR * t.grad
        losses.append(loss.item())

    ks = [float(r["loss"]) for r in csv.DictReader(open(f"{d}/losses.csv"))]
    if len(ks) != STEPS:
        sys.exit(f"losses.csv has {len(ks)} steps, expected {STEPS}")
    rel = [abs(a - b) / max(abs(b), 1e-12) for a, b in zip(ks, losses)]
    worst = max(range(STEPS), key=lambda i: rel[i])
    wdiff = {k: float(np.max(np.abs(final[k] - w[k].detach().numpy()))) for k in final}
    wworst = max(wdiff, key=wdiff.get)
    print(f"steps {STEPS}, batch {BATCH}, SGD learning rate {LR}, loss weights {LOSS_WEIGHTS}")
    print(f"total loss, first step: ksearch {ks[0]:.7g}  PyTorch {losses[0]:.7g}")
    print(f"total loss, last step:  ksearch {ks[-1]:.7g}  PyTorch {losses[-1]:.7g}")
    print(f"largest relative loss difference: {rel[worst]:.3g} (step {worst + 1})")
    print(f"largest absolute weight difference: {wdiff[wworst]:.3g} ({wworst})")
    ok = rel[worst] <= 1e-4 and wdiff[wworst] <= 1e-4
    print("parity: " + ("within 1e-4" if ok else "NOT within 1e-4"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
