#!/usr/bin/env python3
"""Latency vs send rate from bench/socket_load.sh results.

    python3 bench/plot.py [results.json ...] [-o docs/bench-latency-vs-rate.png]

Without arguments it reads every bench/results/*.json. One line per result
file (server and connection count): p50 dashed, p99 solid, on a log scale,
with the 50 ms line the issue sets. Needs matplotlib (pip install matplotlib).
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
    parser.add_argument("--title", default="Socket.IO send -> peer receive latency vs offered rate")
    args = parser.parse_args()
    files = args.results or sorted(glob.glob(os.path.join(here, "results", "*.json")))
    if not files:
        raise SystemExit("no results: run bench/socket_load.sh first")

    fig, ax = plt.subplots(figsize=(9, 5.5), dpi=110)
    colors = {"samvad": ["#1f77b4", "#2ca02c", "#17becf"], "node": ["#d62728", "#ff7f0e", "#9467bd"]}
    used = {}
    for path in files:
        with open(path) as f:
            r = json.load(f)
        steps = [s for s in r["steps"] if s.get("latencyMs")]
        if not steps:
            continue
        label = r.get("label", "?")
        i = used.get(label, 0)
        used[label] = i + 1
        color = colors.get(label, ["#7f7f7f"])[i % 3]
        name = f"{'Samvad' if label == 'samvad' else 'Node socket.io'} {r['connections']:,} conns"
        tag = os.path.basename(path)[:-5].split("-", 2)
        if len(tag) == 3:
            name += f" ({tag[2]})"
        rates = [s["rate"] for s in steps]
        ax.plot(rates, [s["latencyMs"]["p99"] for s in steps], "-o", color=color, ms=4, label=f"{name} p99")
        ax.plot(rates, [s["latencyMs"]["p50"] for s in steps], "--", color=color, alpha=0.7, label=f"{name} p50")
    ax.axhline(50, color="black", lw=0.8, ls=":")
    ax.text(ax.get_xlim()[0], 52, " 50 ms", va="bottom", fontsize=8)
    ax.set_yscale("log")
    ax.set_xlabel("offered send rate (messages/s, total over all connections)")
    ax.set_ylabel("latency, ms (log scale)")
    ax.set_title(args.title, fontsize=11)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(args.out)
    print(f"wrote {os.path.relpath(args.out)}")


if __name__ == "__main__":
    main()
