#!/usr/bin/python3
"""torch_lstm.py — the PyTorch half of bench/rnn.sh: the row-wise Fashion-MNIST LSTM
trained the way bench_rnn.c trains it with ksearch (28 steps of 28 pixels, nn.LSTM(128)
→ Linear(10), softmax crossentropy, SGD(0.01), the same steps and batch sizes, shuffled
passes, one thread), printing samples/s as "RESULT name value" lines.

Usage: torch_lstm.py [-d PREFIX] [-s STEPS] [-e EPOCHS] [-u UNITS] [-b BATCH ...]
"""
import argparse
import sys
import time

import numpy as np
import torch

from torch_mlp import N_TRAIN, openblas_info, read_idx


class RowLSTM(torch.nn.Module):
    """nn.LSTM over the rows, its last output through a Linear layer (logits)."""

    def __init__(self, units):
        super().__init__()
        self.lstm = torch.nn.LSTM(28, units, batch_first=True)
        self.out = torch.nn.Linear(units, 10)

    def forward(self, x):
        y, _ = self.lstm(x)
        return self.out(y[:, -1])


def bench_batch(x, y, batch, steps, epochs, units):
    """Epoch 0 warms up; the others are timed.  Returns (samples, seconds, CPU seconds)."""
    torch.manual_seed(42)
    model = RowLSTM(units)
    loss_fn = torch.nn.CrossEntropyLoss()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    gen = torch.Generator().manual_seed(1234)
    n = x.shape[0]
    per_pass = (n + batch - 1) // batch
    order, pass_no = None, -1
    t_start = c_start = 0.0
    samples = 0
    for epoch in range(1 + epochs):
        if epoch == 1:
            t_start, c_start = time.perf_counter(), time.process_time()
        for step in range(steps):
            g = epoch * steps + step
            if g // per_pass != pass_no:
                pass_no = g // per_pass
                order = torch.randperm(n, generator=gen)
            idx = order[(g % per_pass) * batch:(g % per_pass) * batch + batch]
            xb, yb = x.index_select(0, idx), y.index_select(0, idx)
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
            loss.item()
            if epoch > 0:
                samples += idx.numel()
    return samples, time.perf_counter() - t_start, time.process_time() - c_start


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-d", default="/usr/share/datasets/fashion-mnist/train")
    ap.add_argument("-s", type=int, default=100, help="steps per epoch [%(default)s]")
    ap.add_argument("-e", type=int, default=3, help="timed epochs [%(default)s]")
    ap.add_argument("-u", type=int, default=128, help="LSTM units [%(default)s]")
    ap.add_argument("-b", type=int, action="append", help="batch size [32 and 128]")
    a = ap.parse_args()
    torch.set_num_threads(1)
    blas = openblas_info()
    if blas is not None:
        blas.openblas_set_num_threads(1)
        print(f"pytorch: torch {torch.__version__}, OpenBLAS core "
              f"{blas.openblas_get_corename().decode()}, threads {torch.get_num_threads()}")
    xs = read_idx(a.d + "-images-idx3-ubyte.gz", N_TRAIN)
    ys = read_idx(a.d + "-labels-idx1-ubyte.gz", N_TRAIN)
    x = torch.from_numpy(xs.astype(np.float32) / np.float32(255.0)).contiguous()
    y = torch.from_numpy(ys.astype(np.int64))
    for batch in a.b or [32, 128]:
        samples, seconds, cpu = bench_batch(x, y, batch, a.s, a.e, a.u)
        print(f"pytorch LSTM({a.u}) batch {batch:3d}: {a.e} x {a.s} steps, {samples} samples in "
              f"{seconds:.3f} s ({cpu:.3f} CPU s): {samples / seconds:.0f} samples/s, "
              f"{samples / cpu:.0f} per CPU s")
        print(f"RESULT torch_sps_{batch} {samples / seconds:.1f}")
        print(f"RESULT torch_cpu_sps_{batch} {samples / cpu:.1f}")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
