#!/usr/bin/env python3
"""optuna_search.py — the Optuna row of bench/search.sh: TPE with Hyperband pruning on the
seed space (Fashion-MNIST MLP, Géron ch. 10) in PyTorch, stopped at a total epoch budget,
printing "RESULT name value" lines (best val_accuracy, epochs spent, trials, seconds).

Usage: optuna_search.py -B EPOCHS [-s SEED] [-R 27] [--eta 3] [--jobs 2] [--train-rows N]
                        [--val-rows N] [--patience 10] [-d PREFIX]
"""
import argparse
import ctypes
import gzip
import math
import sys
import threading
import time

import numpy as np
import optuna
import torch

BATCH = 32
VAL_BEGIN = 55000


def read_idx(path, begin, end):
    """Rows [begin, end) of an IDX file of unsigned bytes, as a numpy array."""
    with gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb") as f:
        data = f.read()
    if data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        sys.exit(f"{path}: not an IDX file of unsigned bytes")
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    arr = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)
    return arr[begin:end]


def load(prefix, begin, end):
    """Images / 255 flattened to float32 rows, and labels as int64."""
    x = read_idx(prefix + "-images-idx3-ubyte.gz", begin, end)
    y = read_idx(prefix + "-labels-idx1-ubyte.gz", begin, end)
    x = torch.from_numpy(x.reshape(x.shape[0], -1).astype(np.float32) / np.float32(255.0))
    return x.contiguous(), torch.from_numpy(y.astype(np.int64))


def blas_one_thread():
    """OpenBLAS (torch's BLAS on Debian) to one thread, as ksearch runs each worker."""
    for name in ("libopenblas.so.0", "libblas.so.3"):
        try:
            ctypes.CDLL(name).openblas_set_num_threads(1)
            return
        except (OSError, AttributeError):
            continue


def build_model(n_hidden, n_neurons, gen):
    """Flatten → n_hidden × Dense(n_neurons, relu) → Dense(10); softmax is in the loss.
    Keras's initializers: glorot uniform kernels, zero biases (drawn from gen, so that
    two trials in two threads do not share torch's global generator)."""
    layers, width = [], 28 * 28
    for _ in range(n_hidden):
        layers += [torch.nn.Linear(width, n_neurons), torch.nn.ReLU()]
        width = n_neurons
    layers.append(torch.nn.Linear(width, 10))
    model = torch.nn.Sequential(*layers)
    with torch.no_grad():
        for m in model:
            if isinstance(m, torch.nn.Linear):
                fan_out, fan_in = m.weight.shape
                limit = math.sqrt(6.0 / (fan_in + fan_out))
                m.weight.copy_((torch.rand(m.weight.shape, generator=gen) * 2 - 1) * limit)
                m.bias.zero_()
    return model


class Budget:
    """The study's epoch budget, shared by the worker threads: one ticket per epoch."""

    def __init__(self, total):
        self.total, self.spent = total, 0
        self.lock = threading.Lock()

    def take(self):
        with self.lock:
            if self.spent >= self.total:
                return False
            self.spent += 1
            return True

    def exhausted(self):
        with self.lock:
            return self.spent >= self.total


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-B", type=int, required=True, help="total epoch budget of the study")
    ap.add_argument("-s", type=int, default=1, help="seed of TPE and of the trials [1]")
    ap.add_argument("-R", type=int, default=27, help="max epochs of a trial [27]")
    ap.add_argument("--eta", type=int, default=3, help="Hyperband's reduction factor [3]")
    ap.add_argument("--jobs", type=int, default=2, help="Optuna n_jobs (threads) [2]")
    ap.add_argument("--train-rows", type=int, default=55000, help="rows [0, N) train [55000]")
    ap.add_argument("--val-rows", type=int, default=5000,
                    help="rows [55000, 55000 + N) validate [5000]")
    ap.add_argument("--patience", type=int, default=10, help="EarlyStopping patience [10]")
    ap.add_argument("-d", default="/usr/share/datasets/fashion-mnist/train",
                    help="IDX data prefix [%(default)s]")
    a = ap.parse_args()

    torch.set_num_threads(1)
    blas_one_thread()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    x, y = load(a.d, 0, a.train_rows)
    xv, yv = load(a.d, VAL_BEGIN, VAL_BEGIN + a.val_rows)
    budget = Budget(a.B)
    loss_fn = torch.nn.CrossEntropyLoss()       # softmax + sparse categorical CE, mean
    n = x.shape[0]

    def objective(trial):
        n_hidden = trial.suggest_int("n_hidden", 0, 3)
        n_neurons = trial.suggest_int("n_neurons", 1, 100)
        lr = trial.suggest_float("learning_rate", 3e-4, 3e-2, log=True)
        gen = torch.Generator().manual_seed(a.s * 1000003 + trial.number)
        model = build_model(n_hidden, n_neurons, gen)
        opt = torch.optim.SGD(model.parameters(), lr=lr)
        best_acc, best_loss, wait, epochs = -1.0, math.inf, 0, 0
        for epoch in range(a.R):
            if not budget.take():               # the study's budget is spent: stop here
                trial.set_user_attr("cut_by_budget", True)
                break
            model.train()
            order = torch.randperm(n, generator=gen)
            for begin in range(0, n, BATCH):
                idx = order[begin:begin + BATCH]
                opt.zero_grad(set_to_none=True)
                loss = loss_fn(model(x.index_select(0, idx)), y.index_select(0, idx))
                loss.backward()
                opt.step()
            model.eval()
            with torch.no_grad():
                out = model(xv)
                val_loss = loss_fn(out, yv).item()
                val_acc = (out.argmax(1) == yv).float().mean().item()
            epochs = epoch + 1
            trial.set_user_attr("epochs", epochs)
            if not math.isfinite(val_loss):     # TerminateOnNaN, as ksearch adds it
                break
            best_acc = max(best_acc, val_acc)
            trial.set_user_attr("best_val_accuracy", best_acc)
            trial.report(val_acc, epoch)
            if trial.should_prune():
                raise optuna.TrialPruned()
            if val_loss < best_loss:            # EarlyStopping(monitor='val_loss'), Keras's rule
                best_loss, wait = val_loss, 0
            else:
                wait += 1
                if wait >= a.patience:
                    break
        if epochs == 0:
            raise optuna.TrialPruned()          # started after the budget ran out
        return best_acc

    def stop_at_budget(study, _trial):
        if budget.exhausted():
            study.stop()

    sampler = optuna.samplers.TPESampler(seed=a.s)
    pruner = optuna.pruners.HyperbandPruner(min_resource=1, max_resource=a.R,
                                            reduction_factor=a.eta)
    study = optuna.create_study(direction="maximize", sampler=sampler, pruner=pruner)
    t0 = time.perf_counter()
    study.optimize(objective, n_jobs=a.jobs, callbacks=[stop_at_budget], catch=())
    seconds = time.perf_counter() - t0

    trials = study.get_trials(deepcopy=False)
    done = [t for t in trials if "best_val_accuracy" in t.user_attrs]
    best = max(done, key=lambda t: t.user_attrs["best_val_accuracy"], default=None)
    states = {}
    for t in trials:
        states[t.state.name.lower()] = states.get(t.state.name.lower(), 0) + 1
    print(f"optuna {optuna.__version__}, torch {torch.__version__}: seed {a.s}, "
          f"{len(trials)} trials ({', '.join(f'{v} {k}' for k, v in sorted(states.items()))}), "
          f"{sum(t.user_attrs.get('epochs', 0) for t in trials)} epochs of {a.B}, "
          f"{seconds:.1f} s")
    if best is not None:
        print(f"best: trial {best.number} val_accuracy {best.user_attrs['best_val_accuracy']:.4f} "
              f"{best.params}")
    # the best over every trial, pruned ones included (as ksearch counts its pruned trials)
    print(f"RESULT best {best.user_attrs['best_val_accuracy'] if best else float('nan'):.6f}")
    print(f"RESULT epochs {sum(t.user_attrs.get('epochs', 0) for t in trials)}")
    print(f"RESULT trials {len(trials)}")
    print(f"RESULT pruned {states.get('pruned', 0)}")
    print(f"RESULT seconds {seconds:.3f}")


if __name__ == "__main__":
    main()
