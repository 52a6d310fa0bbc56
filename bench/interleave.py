#!/usr/bin/env python3
"""interleave.py ROUNDS NAME=COMMAND [NAME=COMMAND...]

Times several commands round-robin (A B C A B C ...) rather than one after
the other, so that a change in the machine's background load hits every
command alike: use it to compare variants on a shared, noisy machine. Each
COMMAND is split on spaces and started without a shell (posix_spawn via
subprocess); stdout/stderr go to /dev/null; a failure aborts. Prints the
median, p10, p90 and mean wall time per command in ms, and the delta of
each median against the first command's. With INTERLEAVE_JSON=PATH in
the environment it also writes the times there in hyperfine's
`--export-json` shape (results[].command, .times and .mean, in seconds);
INTERLEAVE_WARMUP=N sets the rounds not counted (default 5)."""

import json
import os

import statistics
import subprocess
import sys
import time


def main():
    rounds = int(sys.argv[1])
    cmds = [(a.split("=", 1)[0], a.split("=", 1)[1].split()) for a in sys.argv[2:]]
    times = {name: [] for name, _ in cmds}
    warmup = int(os.environ.get("INTERLEAVE_WARMUP", "5"))
    for r in range(rounds + warmup):  # the first rounds warm up
        for name, argv in cmds:
            t0 = time.perf_counter_ns()
            rc = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, close_fds=False).returncode
            dt = time.perf_counter_ns() - t0
            if rc != 0:
                sys.exit(f"interleave.py: {name} ({' '.join(argv)}) exited {rc}")
            if r >= warmup:
                times[name].append(dt / 1e6)
    if os.environ.get("INTERLEAVE_JSON"):
        with open(os.environ["INTERLEAVE_JSON"], "w") as f:
            json.dump({"results": [
                {"command": name, "times": [t / 1e3 for t in times[name]],
                 "mean": statistics.fmean(times[name]) / 1e3}
                for name, _ in cmds]}, f)
    base = statistics.median(times[cmds[0][0]])
    print(f"{'command':16} {'median ms':>9} {'p10':>7} {'p90':>7} {'mean':>7} {'delta vs ' + cmds[0][0]:>18}")
    for name, _ in cmds:
        ts = sorted(times[name])
        med = statistics.median(ts)
        print(f"{name:16} {med:9.2f} {ts[len(ts) // 10]:7.2f} {ts[(9 * len(ts)) // 10]:7.2f} "
              f"{statistics.fmean(ts):7.2f} {med - base:+18.2f}")


if __name__ == "__main__":
    main()
