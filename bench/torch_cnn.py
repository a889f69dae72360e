#!/usr/bin/env python3
"""torch_cnn.py — the PyTorch half of `make bench-cnn`: the studies' Fashion-MNIST CNN
trained the way bench_cnn.c trains it with ksearch (same data, model, optimizer,
batches, steps and thread count), printing samples/s as "RESULT name value" lines for
bench/cnn.sh.  The model is torch's own layout (NCHW, OIHW kernels), which is where its
convolutions (oneDNN in Debian's 1.13) are fastest.

Usage: torch_cnn.py [-d PREFIX] [-s STEPS] [-e EPOCHS] [-b BATCH ...]
"""
import torch

from torch_mlp import run

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


def adam(params):
    return torch.optim.Adam(params, lr=LR, eps=1e-7)    # Keras's epsilon


if __name__ == "__main__":
    # torch's own layout, NCHW: one channel of 28 × 28
    run(__doc__.splitlines()[0], build_model, adam, steps=200, batches=(32, 128),
        image_shape=(1, 28, 28))
