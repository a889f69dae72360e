#!/usr/bin/env python3
"""Writes the adding problem (Hochreiter & Schmidhuber, "Long short-term memory", Neural
Computation 9(8), 1997, experiment 4; in the form of Le, Jaitly & Hinton 2015): each
sequence has T = 100 steps of two features, a value drawn from U(0, 1) and a marker that
is 1 at exactly two steps — one in the first half, one in the second — and 0 elsewhere;
the target is the sum of the two marked values.  Always predicting 1.0 (the target's
mean) gives a mean squared error of 1/6 ≈ 0.167; a model must carry two numbers across
up to 99 steps to do better.  Deterministic (seed 1; the test set seed 2).

Run from this folder (needs no NumPy; writes float32 .npy files, 8.8 MB in all):
    python3 adding_problem.py
giving adding_train_x.npy (10000, 100, 2), adding_train_y.npy (10000, 1) and
adding_test_x.npy (1000, 100, 2), adding_test_y.npy (1000, 1).
"""
import random
import struct
import sys

T = 100


def write_npy(path, shape, values):
    """A version 1.0 .npy file of little-endian float32, C order."""
    header = "{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }" % (
        ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else ""))
    pad = 64 - (10 + len(header) + 1) % 64
    header += " " * (pad % 64) + "\n"
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode())
        f.write(struct.pack("<%df" % len(values), *values))


def make(n, seed, prefix):
    rng = random.Random(seed)
    x, y = [], []
    for _ in range(n):
        first = rng.randrange(T // 2)
        second = rng.randrange(T // 2, T)
        values = [rng.random() for _ in range(T)]
        for t in range(T):
            x += [values[t], 1.0 if t in (first, second) else 0.0]
        y.append(values[first] + values[second])
    write_npy(prefix + "_x.npy", (n, T, 2), x)
    write_npy(prefix + "_y.npy", (n, 1), y)


if __name__ == "__main__":
    make(10000, 1, "adding_train")
    make(1000, 2, "adding_test")
    sys.stderr.write("wrote adding_train_{x,y}.npy and adding_test_{x,y}.npy\n")
