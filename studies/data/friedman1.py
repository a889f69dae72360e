#!/usr/bin/env python3
"""Writes friedman1.csv: Friedman's regression benchmark #1 (J. Friedman, "Multivariate
adaptive regression splines", Annals of Statistics 19(1), 1991), the problem behind
scikit-learn's make_friedman1:  y = 10 sin(pi x1 x2) + 20 (x3 - 0.5)^2 + 10 x4 + 5 x5 + e,
x ~ U(0,1)^10 (x6..x10 are noise features), e ~ N(0, 1).  Synthetic, reproducible (seed 1).
Run: python3 friedman1.py > friedman1.csv"""
import math
import random

rng = random.Random(1)
print(",".join([f"x{i}" for i in range(1, 11)] + ["y"]))
for _ in range(4000):
    x = [rng.random() for _ in range(10)]
    y = (10 * math.sin(math.pi * x[0] * x[1]) + 20 * (x[2] - 0.5) ** 2 + 10 * x[3] + 5 * x[4]
         + rng.gauss(0.0, 1.0))
    print(",".join(f"{v:.6f}" for v in x + [y]))
