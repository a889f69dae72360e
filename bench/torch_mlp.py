#!/usr/bin/env python3
"""torch_mlp.py — the PyTorch half of `make bench`: the seed MLP trained the way
bench_engine.c trains it with ksearch (same data, model, optimizer, batches, steps and
thread count), printing samples/s as "RESULT name value" lines for bench/run.sh.

Usage: torch_mlp.py [-d PREFIX] [-s STEPS] [-e EPOCHS] [-b BATCH ...]
"""
import argparse
import ctypes
import gzip
import os
import sys
import time

import numpy as np
import torch

N_TRAIN = 55000
LR = 0.01


def read_idx(path, rows):
    """The first rows of an IDX file (ubyte), as a numpy array of its shape."""
    with gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb") as f:
        data = f.read()
    if data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        sys.exit(f"{path}: not an IDX file of unsigned bytes")
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    arr = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)
    return arr[:rows]


def openblas_info():
    """OpenBLAS as loaded in this process (torch's BLAS on Debian), or None."""
    for name in ("libopenblas.so.0", "libblas.so.3"):
        try:
            lib = ctypes.CDLL(name)
            lib.openblas_get_config.restype = ctypes.c_char_p
            lib.openblas_get_corename.restype = ctypes.c_char_p
            return lib
        except (OSError, AttributeError):
            continue
    return None


def build_model():
    """Flatten → Dense(300, relu) → Dense(100, relu) → Dense(10); softmax is in the loss."""
    model = torch.nn.Sequential(
        torch.nn.Flatten(),
        torch.nn.Linear(28 * 28, 300), torch.nn.ReLU(),
        torch.nn.Linear(300, 100), torch.nn.ReLU(),
        torch.nn.Linear(100, 10))
    for m in model:
        if isinstance(m, torch.nn.Linear):      # Keras's glorot_uniform and zero bias
            torch.nn.init.xavier_uniform_(m.weight)
            torch.nn.init.zeros_(m.bias)
    return model


def sgd(params):
    return torch.optim.SGD(params, lr=LR)


def bench_batch(x, y, batch, steps, epochs, build=build_model, optimizer=sgd):
    """Epoch 0 warms up; epochs 1..epochs are timed.

    Returns (samples, wall-clock seconds, CPU seconds of the process)."""
    torch.manual_seed(42)
    model = build()
    model.train()
    loss_fn = torch.nn.CrossEntropyLoss()       # softmax + sparse categorical CE, mean
    opt = optimizer(model.parameters())
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


def run(description, build=build_model, optimizer=sgd, steps=600, batches=(32, 256),
        image_shape=(28, 28)):
    """The benchmark's main: options, set-up lines, then each batch size measured.
    image_shape is one sample's shape as the model takes it."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("-d", default="/usr/share/datasets/fashion-mnist/train",
                    help="IDX data prefix [%(default)s]")
    ap.add_argument("-s", type=int, default=steps, help="steps per epoch [%(default)s]")
    ap.add_argument("-e", type=int, default=3,
                    help="timed epochs, after one warm-up epoch [%(default)s]")
    ap.add_argument("-b", type=int, action="append",
                    help=f"batch size [{batches[0]} and {batches[1]}]")
    a = ap.parse_args()
    batches = a.b or list(batches)

    torch.set_num_threads(1)
    blas = openblas_info()
    if blas is not None:
        blas.openblas_set_num_threads(1)
    print(f"pytorch: torch {torch.__version__}, numpy {np.__version__}, "
          f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}, "
          f"torch threads {torch.get_num_threads()}")
    if blas is not None:
        print(f"pytorch: {blas.openblas_get_config().decode()} "
              f"(core {blas.openblas_get_corename().decode()}), "
              f"BLAS threads {blas.openblas_get_num_threads()}")
        print(f"INFO torch_corename {blas.openblas_get_corename().decode()}")
    for line in torch.__config__.show().splitlines()[:8]:
        if line.strip() and not line.strip().startswith("- Build settings"):
            print("pytorch config:", line.strip())

    xs = read_idx(a.d + "-images-idx3-ubyte.gz", N_TRAIN)
    ys = read_idx(a.d + "-labels-idx1-ubyte.gz", N_TRAIN)
    x = torch.from_numpy(xs.astype(np.float32) / np.float32(255.0))
    x = x.reshape((-1,) + tuple(image_shape)).contiguous()
    y = torch.from_numpy(ys.astype(np.int64))
    print(f"pytorch: {x.shape[0]} samples of {'x'.join(map(str, image_shape))} floats, "
          f"mkldnn {torch.backends.mkldnn.is_available()}")
    for batch in batches:
        samples, seconds, cpu_seconds = bench_batch(x, y, batch, a.s, a.e, build, optimizer)
        sps, cpu_sps = samples / seconds, samples / cpu_seconds
        print(f"pytorch batch {batch:3d}: {a.e} x {a.s} steps, {samples} samples in "
              f"{seconds:.3f} s ({cpu_seconds:.3f} CPU s): {sps:.0f} samples/s, "
              f"{cpu_sps:.0f} per CPU s, {1e3 * seconds / (a.e * a.s):.3f} ms/step")
        print(f"RESULT torch_sps_{batch} {sps:.1f}")
        print(f"RESULT torch_cpu_sps_{batch} {cpu_sps:.1f}")
        sys.stdout.flush()


if __name__ == "__main__":
    run(__doc__.splitlines()[0])
