#!/usr/bin/env python3
"""Latency vs send rate from bench/socket_load.sh results.

    python3 bench/plot.py [results.json ...] [-o docs/bench-latency-vs-rate.png]

Without arguments it reads every bench/results/*.json. One panel per
connection count, one line per result file (server and tag): p99 solid,
p50 dashed, on a log scale, with the 50 ms line. Needs matplotlib (pip install matplotlib).
"""

import argparse
import glob
import json
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser()
    parser.add_argument("results", nargs="*")
    parser.add_argument("-o", "--out", default=os.path.join(here, "..", "docs", "bench-latency-vs-rate.png"))
    parser.add_argument("--title", default="Socket.IO latency vs offered rate, 2 cores shared by server, MariaDB and load generator")
    args = parser.parse_args()
    files = args.results or sorted(glob.glob(os.path.join(here, "results", "*.json")))
    if not files:
        raise SystemExit("no results: run bench/socket_load.sh first")

    results = []
    for path in files:
        with open(path) as f:
            r = json.load(f)
        steps = [s for s in r["steps"] if s.get("latencyMs")]
        if steps:
            results.append((os.path.basename(path)[:-5], r, steps))
    counts = sorted({r["connections"] for _, r, _ in results})
    fig, axes = plt.subplots(1, len(counts), figsize=(6.5 * len(counts), 5.5), dpi=100, squeeze=False)
    colors = {"samvad": ["#1f77b4", "#2ca02c", "#17becf"], "node": ["#d62728", "#ff7f0e", "#9467bd"]}
    for ax, count in zip(axes[0], counts):
        used = {}
        for name, r, steps in results:
            if r["connections"] != count:
                continue
            label = r.get("label", "?")
            i = used.get(label, 0)
            used[label] = i + 1
            color = colors.get(label, ["#7f7f7f"])[i % 3]
            tag = name.split("-", 2)
            title = "Samvad" if label == "samvad" else "Node socket.io"
            if len(tag) == 3:
                title += f" ({tag[2]})"
            rates = [s["rate"] for s in steps]
            ax.plot(rates, [s["latencyMs"]["p99"] for s in steps], "-o", color=color, ms=4, label=f"{title} p99")
            ax.plot(rates, [s["latencyMs"]["p50"] for s in steps], "--", color=color, alpha=0.7, label=f"{title} p50")
        ax.axhline(50, color="black", lw=0.8, ls=":")
        ax.set_yscale("log")
        ax.set_xlabel("offered send rate (messages/s, all connections together)")
        ax.set_ylabel("send -> peer receive latency, ms (log)")
        ax.set_title(f"{count:,} connections ({count // 2:,} conversations)", fontsize=11)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(args.title + " (dotted: 50 ms)", fontsize=12)
    fig.tight_layout()
    fig.savefig(args.out)
    print(f"wrote {os.path.relpath(args.out)}")


if __name__ == "__main__":
    main()
