#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
#
# Plot the training demo's figures (gaudi-train's CSV: run,epoch,loss,
# accuracy,seconds,busy) as a PNG with matplotlib.
#   plot-train.py train.csv train.png          loss and test accuracy per
#                                              epoch of each run
#   plot-train.py --bench bench.csv bench.png  time per epoch and busy share
#                                              of each run
import csv
import sys
from collections import OrderedDict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def load(path):
    runs = OrderedDict()
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            r = runs.setdefault(row["run"], {k: [] for k in ("epoch", "loss", "accuracy", "seconds", "busy")})
            for k in r:
                r[k].append(float(row[k]))
    return runs


def main():
    args = sys.argv[1:]
    bench = bool(args) and args[0] == "--bench"
    if bench:
        args = args[1:]
    if len(args) != 2:
        sys.exit("usage: plot-train.py [--bench] FIGURES.csv OUT.png")
    runs = load(args[0])
    if not runs:
        sys.exit(f"plot-train: no figures in {args[0]}")
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4.2))
    if bench:
        names = list(runs)
        secs = [sum(r["seconds"]) / len(r["seconds"]) for r in runs.values()]
        busy = [100 * sum(r["busy"]) / len(r["busy"]) for r in runs.values()]
        a.bar(names, secs, color=["tab:blue", "tab:orange", "tab:green"][: len(names)])
        a.set_ylabel("seconds per epoch")
        a.set_title("Time per epoch (mean)")
        for i, s in enumerate(secs):
            a.text(i, s, f"{s:.2f}", ha="center", va="bottom")
        b.bar(names, busy, color=["tab:blue", "tab:orange", "tab:green"][: len(names)])
        b.set_ylabel("% of the epoch")
        b.set_ylim(0, 100)
        b.set_title("Devices busy (jobs in flight)")
        fig.suptitle("gaudi-train --bench: digits MLP, TCG guest")
    else:
        # The curves may coincide: distinct lines and marker sizes keep each visible.
        styles = [("-", "o", 9), ("--", "s", 6), (":", "^", 4)]
        for i, (name, r) in enumerate(runs.items()):
            ls, mk, ms = styles[i % len(styles)]
            kw = dict(linestyle=ls, marker=mk, markersize=ms, label=name)
            a.plot(r["epoch"], r["loss"], **kw)
            b.plot(r["epoch"], [100 * x for x in r["accuracy"]], **kw)
        a.set_xlabel("epoch")
        a.set_ylabel("mean training loss")
        a.set_title("Training loss")
        a.legend()
        b.set_xlabel("epoch")
        b.set_ylabel("test accuracy (%)")
        b.set_title("Test accuracy")
        b.legend()
        fig.suptitle("Digits MLP: 1 device, 2 devices (data-parallel), CPU reference")
    fig.tight_layout()
    fig.savefig(args[1], dpi=100)
    print(f"plot-train: wrote {args[1]}")


if __name__ == "__main__":
    main()
