#!/usr/bin/env python3
"""Render the `## Launch` section of BENCHMARKS.md from launch.sh's raw
results: hyperfine's JSON (latency) and a TSV of throughput runs
(name, parallel, launches, wall nanoseconds). Context (machine, commands)
comes from environment variables set by launch.sh."""

import json
import os
import statistics
import sys

# Goals from the launch-performance issue.
GOAL_SPEEDUP_VS_BWRAP = 2.0
GOAL_LAUNCHES_PER_S = 700.0

LABELS = {
    "plain": "plain `/bin/true`",
    "bwrap": "bubblewrap",
    "corral": "corral (default profile)",
    "corral-nolimits": "corral (`bench/nolimits.toml`)",
}


def pct(sorted_xs, p):
    k = max(0, min(len(sorted_xs) - 1, round(p / 100 * (len(sorted_xs) - 1))))
    return sorted_xs[k]


def latency(path):
    with open(path) as f:
        results = json.load(f)["results"]
    rows = {}
    for r in results:
        ts = sorted(r["times"])
        rows[r["command"]] = {
            "median": statistics.median(ts) * 1e3,
            "mean": statistics.fmean(ts) * 1e3,
            "stddev": (statistics.stdev(ts) if len(ts) > 1 else 0.0) * 1e3,
            "min": ts[0] * 1e3,
            "p90": pct(ts, 90) * 1e3,
            "p99": pct(ts, 99) * 1e3,
            "runs": len(ts),
            "user": r.get("user", 0.0) * 1e3,
            "system": r.get("system", 0.0) * 1e3,
        }
    return rows


def throughput(path):
    cells = {}
    with open(path) as f:
        for line in f:
            name, par, n, ns = line.split()
            cells.setdefault((name, int(par)), []).append(int(n) / (int(ns) / 1e9))
    return {k: statistics.median(v) for k, v in cells.items()}, {k: v for k, v in cells.items()}


def main():
    lat = latency(sys.argv[1])
    thr, thr_all = throughput(sys.argv[2])
    env = os.environ.get
    out = []
    w = out.append
    w("## Launch")
    w("")
    w(f"Measured {env('DATE')} as `{env('AS_USER')}` on {env('NPROC')} CPUs ({env('CPU')}), "
      f"kernel `{env('KERNEL')}`, corral `{env('GIT_REV')}`{env('GIT_DIRTY', '')}, "
      f"{env('HYPERFINE_VERSION')}, {env('BWRAP_VERSION')}. "
      "All numbers below come from one run of `bench/launch.sh`, every command side by side "
      "on the same machine state, in an empty temporary workspace directory.")
    w("")
    w(f"corral's header for this run: `{env('HEADER')}`")
    w("")
    w(f"### Latency (one launch of `/bin/true`, `hyperfine -N --warmup {env('WARMUP')} --runs {env('RUNS')}`)")
    w("")
    w("| command | median ms | mean ms | σ ms | min ms | p90 ms | p99 ms | ratio vs bwrap (median) | ratio vs plain (median) |")
    w("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    bw = lat["bwrap"]["median"]
    plain = lat["plain"]["median"]
    for name, r in lat.items():
        w(f"| {LABELS.get(name, name)} | {r['median']:.2f} | {r['mean']:.2f} | {r['stddev']:.2f} | "
          f"{r['min']:.2f} | {r['p90']:.2f} | {r['p99']:.2f} | {r['median'] / bw:.2f} | {r['median'] / plain:.2f} |")
    w("")
    w("Commands, exactly as timed (no shell):")
    w("")
    w(f"- plain: `{env('CMD_PLAIN')}`")
    w(f"- bwrap: `{env('CMD_BWRAP')}`")
    w(f"- corral: `{env('CMD_CORRAL')}`")
    w(f"- corral-nolimits: `{env('CMD_NOLIMITS')}` (the same filesystem view without the default "
      "profile's masks, protected paths and limits, so no cgroup: what the defaults cost)")
    w("")
    w(f"### Throughput (`{env('LAUNCHES')}` launches of `/bin/true` started by `xargs -P`, "
      f"launches per second, median of {env('REPEAT')})")
    w("")
    w("| command | 2 in parallel | 8 in parallel | runs (launches/s) |")
    w("| --- | ---: | ---: | --- |")
    for name in ("plain", "bwrap", "corral"):
        if (name, 2) not in thr:
            continue
        every = "; ".join(f"P={p}: " + ", ".join(f"{x:.0f}" for x in thr_all[(name, p)]) for p in (2, 8))
        w(f"| {LABELS.get(name, name)} | {thr[(name, 2)]:.0f} | {thr[(name, 8)]:.0f} | {every} |")
    w("")
    w("### Against the goals")
    w("")
    c = lat["corral"]["median"]
    speedup = bw / c
    w(f"- median launch at least {GOAL_SPEEDUP_VS_BWRAP:g}x faster than bubblewrap: "
      f"{'**met**' if speedup >= GOAL_SPEEDUP_VS_BWRAP else '**not met**'} "
      f"(corral {c:.2f} ms vs bubblewrap {bw:.2f} ms: {speedup:.2f}x "
      f"{'faster' if speedup >= 1 else 'as fast, i.e. slower'})")
    for p in (2, 8):
        got = thr[("corral", p)]
        w(f"- {GOAL_LAUNCHES_PER_S:.0f}+ launches/s with {p} in parallel: "
          f"{'**met**' if got >= GOAL_LAUNCHES_PER_S else '**not met**'} ({got:.0f}/s)")
    print("\n".join(out))


if __name__ == "__main__":
    main()
