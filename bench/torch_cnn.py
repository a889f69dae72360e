#!/usr/bin/env python3
"""torch_cnn.py — the PyTorch half of `make bench-cnn`: the studies' Fashion-MNIST CNN
trained the way bench_cnn.c trains it with ksearch (same data, model, optimizer,
batches, steps and thread count), printing samples/s as "RESULT name value" lines for
bench/cnn.sh.  The model is torch's own layout (NCHW, OIHW kernels), which is where its
convolutions (oneDNN in Debian's 1.13) are fastest.

Usage: torch_cnn.py [-d PREFIX] [-s STEPS] [-e EPOCHS] [-b BATCH ...]
"""
import argparse
import os
import sys
import time

import numpy as np
import torch

from torch_mlp import N_TRAIN, openblas_info, read_idx

LR = 0.001


def build_model():
    """Conv(32, 3×3, relu) → MaxPool(2) → Conv(64, 3×3, relu) → MaxPool(2) → Flatten →
    Dense(128, relu) → Dropout(0.5) → Dense(10); softmax is in the loss."""
    model = torch.nn.Sequential(
        torch.nn.Conv2d(1, 32, 3), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(32, 64, 3), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(),
        torch.nn.Linear(64 * 5 * 5, 128), torch.nn.ReLU(), torch.nn.Dropout(0.5),
        torch.nn.Linear(128, 10))
    for m in model:
        if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d)):   # Keras's glorot_uniform, zero bias
            torch.nn.init.xavier_uniform_(m.weight)
            torch.nn.init.zeros_(m.bias)
    return model


def bench_batch(x, y, batch, steps, epochs):
    """Epoch 0 warms up; epochs 1..epochs are timed.

    Returns (samples, wall-clock seconds, CPU seconds of the process)."""
    torch.manual_seed(42)
    model = build_model()
    model.train()
    loss_fn = torch.nn.CrossEntropyLoss()       # softmax + sparse categorical CE, mean
    opt = torch.optim.Adam(model.parameters(), lr=LR, eps=1e-7)     # Keras's epsilon
    gen = torch.Generator().manual_seed(1234)
    n = x.shape[0]
    per_pass = (n + batch - 1) // batch
    order, pass_no = None, -1
    t_start, c_start, samples = 0.0, 0.0, 0
    for epoch in range(1 + epochs):
        if epoch == 1:
            t_start = time.perf_counter()
            c_start = time.process_time()
        total, count = 0.0, 0
        for step in range(steps):
            # as ksearch's fit: global batch g of an endless sequence of shuffled passes
            g = epoch * steps + step
            if g // per_pass != pass_no:
                pass_no = g // per_pass
                order = torch.randperm(n, generator=gen)
            begin = (g % per_pass) * batch
            idx = order[begin:begin + batch]
            xb = x.index_select(0, idx)
            yb = y.index_select(0, idx)
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
            total += loss.item() * idx.numel()      # the running epoch loss Keras shows
            count += idx.numel()
            if epoch > 0:
                samples += idx.numel()
    return samples, time.perf_counter() - t_start, time.process_time() - c_start


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-d", default="/usr/share/datasets/fashion-mnist/train",
                    help="IDX data prefix [%(default)s]")
    ap.add_argument("-s", type=int, default=200, help="steps per epoch [%(default)s]")
    ap.add_argument("-e", type=int, default=3,
                    help="timed epochs, after one warm-up epoch [%(default)s]")
    ap.add_argument("-b", type=int, action="append", help="batch size [32 and 128]")
    a = ap.parse_args()
    batches = a.b or [32, 128]

    torch.set_num_threads(1)
    blas = openblas_info()
    if blas is not None:
        blas.openblas_set_num_threads(1)
    print(f"pytorch: torch {torch.__version__}, numpy {np.__version__}, "
          f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}, "
          f"torch threads {torch.get_num_threads()}, "
          f"mkldnn {torch.backends.mkldnn.is_available()}")
    if blas is not None:
        print(f"INFO torch_corename {blas.openblas_get_corename().decode()}")

    xs = read_idx(a.d + "-images-idx3-ubyte.gz", N_TRAIN)
    ys = read_idx(a.d + "-labels-idx1-ubyte.gz", N_TRAIN)
    x = torch.from_numpy(xs.astype(np.float32) / np.float32(255.0)).reshape(-1, 1, 28, 28)
    x = x.contiguous()
    y = torch.from_numpy(ys.astype(np.int64))
    print(f"pytorch: {x.shape[0]} samples of 1x28x28 floats")
    for batch in batches:
        samples, seconds, cpu_seconds = bench_batch(x, y, batch, a.s, a.e)
        sps, cpu_sps = samples / seconds, samples / cpu_seconds
        print(f"pytorch batch {batch:3d}: {a.e} x {a.s} steps, {samples} samples in "
              f"{seconds:.3f} s ({cpu_seconds:.3f} CPU s): {sps:.0f} samples/s, "
              f"{cpu_sps:.0f} per CPU s, {1e3 * seconds / (a.e * a.s):.3f} ms/step")
        print(f"RESULT torch_sps_{batch} {sps:.1f}")
        print(f"RESULT torch_cpu_sps_{batch} {cpu_sps:.1f}")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
