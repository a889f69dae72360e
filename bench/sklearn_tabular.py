#!/usr/bin/env python3
"""sklearn_tabular.py — scikit-learn's MLP on the studies' tabular tasks, the reference
that bench/tabular.sh sets beside ksearch's test metrics.

The same split as studies/debian_tabular_*.yaml: rows 0..2400 of
studies/data/debian_tabular.csv to learn from (scikit-learn's early stopping holds out
the last 20% itself, as the studies' validation_split does), rows 2400..3000 to test.
The same preprocessing, outside the model: StandardScaler on the numbers, OneHotEncoder
on the categories (unknown categories ignored); for the regression, the target
standardized too (TransformedTargetRegressor).  A small grid of the studies' search
space (hidden units, one or two layers, learning rate), each fitted with five seeds;
the configuration with the best mean validation score is reported with its mean test
metric over the seeds.

Prints "RESULT sklearn_<task>_<metric> VALUE" lines (accuracy for the classifiers, mae
for the regression).  Usage: sklearn_tabular.py CSV
"""
import csv
import sys

import numpy as np
from sklearn.compose import ColumnTransformer, TransformedTargetRegressor
from sklearn.metrics import accuracy_score, mean_absolute_error
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

NUMBERS = ["log_size", "depends", "recommends", "suggests", "tags", "name_length",
           "synopsis_words", "homepage"]
TASKS = {  # task: (numbers, categories, target, kind)
    "binary": (NUMBERS + ["log_installed_size"], ["section", "multi_arch", "maintainer",
                                                  "priority"], "arch_all", "classes"),
    "sections": (NUMBERS + ["log_installed_size"], ["arch", "multi_arch", "maintainer",
                                                    "priority"], "section_id", "classes"),
    "size_regression": (NUMBERS, ["section", "arch", "multi_arch", "maintainer", "priority"],
                        "log_installed_size", "values"),
}
GRID = [(units, layers, lr) for units in (32, 64, 128) for layers in (1, 2)
        for lr in (1e-3, 3e-3, 1e-2)]
SEEDS = range(5)


def read(path):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    return rows


def model(kind, numbers, categories, units, layers, lr, seed):
    pre = ColumnTransformer([("numbers", StandardScaler(), list(range(len(numbers)))),
                             ("categories", OneHotEncoder(handle_unknown="ignore"),
                              list(range(len(numbers), len(numbers) + len(categories))))])
    args = dict(hidden_layer_sizes=(units,) * layers, learning_rate_init=lr,
                early_stopping=True, validation_fraction=0.2, n_iter_no_change=10,
                max_iter=500, batch_size=32, random_state=seed)
    if kind == "classes":
        return make_pipeline(pre, MLPClassifier(**args))
    return TransformedTargetRegressor(regressor=make_pipeline(pre, MLPRegressor(**args)),
                                      transformer=StandardScaler())


def main():
    rows = read(sys.argv[1])
    train, test = rows[:2400], rows[2400:3000]
    for task, (numbers, categories, target, kind) in TASKS.items():
        def table(part):
            x = np.array([[float(r[c]) for c in numbers] + [r[c] for c in categories]
                          for r in part], dtype=object)
            y = np.array([float(r[target]) for r in part])
            return x, (y.astype(int) if kind == "classes" else y)
        (xtr, ytr), (xte, yte) = table(train), table(test)
        best = None
        for units, layers, lr in GRID:
            vals, tests = [], []
            for seed in SEEDS:
                m = model(kind, numbers, categories, units, layers, lr, seed)
                m.fit(xtr, ytr)
                p = m.predict(xte)
                if kind == "classes":
                    est = m[-1]
                    vals.append(max(est.validation_scores_))
                    tests.append(accuracy_score(yte, p))
                else:
                    est = m.regressor_[-1]
                    vals.append(max(est.validation_scores_))      # R² on standardized y
                    tests.append(mean_absolute_error(yte, p))
            score = float(np.mean(vals))
            if best is None or score > best[0]:
                best = (score, float(np.mean(tests)), float(np.std(tests)), units, layers, lr)
        metric = "accuracy" if kind == "classes" else "mae"
        print(f"{task}: best of {len(GRID)} configurations by validation score: units "
              f"{best[3]}, layers {best[4]}, learning rate {best[5]:g}; test {metric} "
              f"{best[1]:.4f} ± {best[2]:.4f} over {len(SEEDS)} seeds")
        print(f"RESULT sklearn_{task}_{metric} {best[1]:.4f}")


if __name__ == "__main__":
    main()
