#!/usr/bin/env python3
"""proxy_report.py RESULTS_DIR

Reads the raw results bench/proxy.sh left in RESULTS_DIR (bulk.tsv,
rr_direct.txt, rr_connect.txt, hold.tsv, hold_open_seconds.txt,
launch.json) and the facts it exports, and prints the `## Egress proxy`
section of BENCHMARKS.md (Markdown) on stdout."""

import json
import os
import statistics
import sys

GOAL_BULK = 0.90  # proxied throughput / direct, at least
GOAL_RR_P50_MS = 0.3  # added p50 per CONNECT, at most


def env(name, default=""):
    return os.environ.get(name, default)


def pct(values, p):
    """Percentile with linear interpolation (p in 0..100)."""
    v = sorted(values)
    if len(v) == 1:
        return v[0]
    k = (len(v) - 1) * p / 100.0
    lo = int(k)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)


def met(ok):
    return "**met**" if ok else "**not met**"


def bulk(results):
    rows = {}
    for line in open(os.path.join(results, "bulk.tsv")):
        client, path, _rep, nbytes, secs, user, sys_ = line.rstrip("\n").split("\t")
        nbytes, secs, cpu = int(nbytes), float(secs), float(user) + float(sys_)
        r = rows.setdefault((client, path), {"mbs": [], "cpu_per_gib": []})
        r["mbs"].append(nbytes / secs / 1e6)
        r["cpu_per_gib"].append(cpu / (nbytes / 2**30))
    return rows


def main():
    results = sys.argv[1]
    out = []
    w = out.append

    rows = bulk(results)
    med = {k: statistics.median(v["mbs"]) for k, v in rows.items()}
    cpu = {k: statistics.median(v["cpu_per_gib"]) for k, v in rows.items()}
    ratio = {k: med[k] / med[(k[0], "direct")] for k in rows}

    direct_ns = [int(x) for x in open(os.path.join(results, "rr_direct.txt")) if x.strip()]
    connect_ns = [int(x) for x in open(os.path.join(results, "rr_connect.txt")) if x.strip()]
    ms = lambda v: [x / 1e6 for x in v]  # noqa: E731
    d_ms, c_ms = ms(direct_ns), ms(connect_ns)
    added = {p: pct(c_ms, p) - pct(d_ms, p) for p in (50, 90, 99)}

    rr_cpu = {}
    for line in open(os.path.join(results, "rr_cpu.tsv")):
        path, user, sys_, trips = line.rstrip("\n").split("\t")
        c = rr_cpu.setdefault(path, [0.0, 0])
        c[0] += float(user) + float(sys_)
        c[1] += int(trips)
    rr_cpu_ms = {p: c[0] * 1e3 / c[1] for p, c in rr_cpu.items()}

    load = [line.rstrip("\n").split("\t") for line in open(os.path.join(results, "load.tsv")) if line.strip()]

    hold = {}
    lines = open(os.path.join(results, "hold.tsv")).read().split("\n")
    keys = lines[0].split("\t")
    for line in lines[1:]:
        if line.strip():
            f = line.split("\t")
            hold[f[0]] = dict(zip(keys[1:], (int(x) for x in f[1:])))
    tunnels = int(env("TUNNELS", "1000"))
    open_secs = float(open(os.path.join(results, "hold_open_seconds.txt")).read().strip() or 0)
    rss_delta = hold["with"]["vmrss_kib"] - hold["before"]["vmrss_kib"]
    anon_delta = hold["with"]["rssanon_kib"] - hold["before"]["rssanon_kib"]

    launch = {r["command"]: r for r in json.load(open(os.path.join(results, "launch.json")))["results"]}

    # --- header -----------------------------------------------------------
    w("## Egress proxy")
    w("")
    w(
        f"Measured {env('DATE')} as `{env('AS_USER')}` on {env('NPROC')} CPUs ({env('CPU')}), "
        f"kernel `{env('KERNEL')}`, corral `{env('GIT_REV')}`{env('GIT_DIRTY')}, {env('CURL_VERSION')}, "
        f"{env('PY_VERSION')}, {env('CC_VERSION')}, hyperfine {env('HYPERFINE_VERSION').split()[-1]}. "
        "All numbers below come from one run of `bench/proxy.sh`, direct and proxied side by side. "
        "The script runs inside a fresh network namespace with only loopback up (it re-executes itself "
        f"{env('NETNS_HOW')}): every server listens on "
        "127.0.0.1, `direct` clients run in that namespace, proxied clients run in `corral run` "
        "(whose own namespace has only loopback, with corral's proxy on 127.0.0.1:3128) and reach "
        "the servers through the proxy, which connects to the name pinned with "
        "`--resolve NAME:PORT:127.0.0.1`. Nothing leaves the machine."
    )
    w("")
    w(
        "The machine is shared and noisy. 1-minute load average as each phase started (a trailing "
        "average: each value also counts the phases before it in this run, whose proxy threads are "
        "runnable too): "
        + ", ".join(f"{name} {value}" for name, value in load)
        + "."
    )
    w("")
    w(f"corral's header without network: `{env('HEADER_NONE')}`")
    w("")
    w(f"and with `--allow-net`: `{env('HEADER_NET')}`")
    w("")

    # --- goals ------------------------------------------------------------
    bulk_ok = ratio[("curl", "connect")] >= GOAL_BULK and ratio[("curl", "forward")] >= GOAL_BULK
    rr_ok = added[50] <= GOAL_RR_P50_MS
    w("### Against the goals")
    w("")
    w("| goal | measured | |")
    w("| --- | --- | --- |")
    w(
        f"| bulk download through the proxy at least {GOAL_BULK:.0%} of direct (curl, median MB/s) "
        f"| CONNECT {ratio[('curl', 'connect')]:.0%}, HTTP forward {ratio[('curl', 'forward')]:.0%} "
        f"(netbench, a client that is not the bottleneck: CONNECT {ratio[('netbench', 'connect')]:.0%}) "
        f"| {met(bulk_ok)} |"
    )
    w(
        f"| latency added per CONNECT at most {GOAL_RR_P50_MS} ms at p50 "
        f"| {added[50]:.3f} ms (p90 {added[90]:.3f} ms, p99 {added[99]:.3f} ms) | {met(rr_ok)} |"
    )
    w(
        f"| (no goal) supervisor memory with {tunnels} tunnels open "
        f"| +{rss_delta / 1024:.1f} MiB VmRSS, {rss_delta / tunnels:.1f} KiB per tunnel | |"
    )
    lr = launch["allow-net"]["median"] / launch["no-net"]["median"]
    w(
        f"| (no goal) launch with `--allow-net` (starts the proxy) vs without "
        f"| median {launch['allow-net']['median'] * 1e3:.2f} ms vs {launch['no-net']['median'] * 1e3:.2f} ms, "
        f"{lr:.2f}x | |"
    )
    w("")

    # --- 1. bulk ------------------------------------------------------------
    w(
        f"### 1. Bulk download ({env('BULK_MB')} MiB over loopback, median of {env('BULK_REPS')} after 1 warmup, "
        "round-robin)"
    )
    w("")
    w(
        "MB/s is 10^6 bytes per second on the client's own clock (connect to last byte; the sandbox's "
        "start is not in it). CPU is user+system seconds of the whole command per GiB, from bash's "
        "`time`: the client alone when direct; client, corral's supervisor (the proxy) and the "
        "sandbox's init through the proxy. The server (`proxy_bench.py bulk-server`: a header, then "
        f"`socket.sendfile` of a file in `{env('BULK_FILE_DIR')}`) is outside both."
    )
    w("")
    w("| client | path | median MB/s | ratio vs direct | runs (MB/s) | CPU s/GiB (median) | proxy CPU s/GiB (difference) |")
    w("| --- | --- | ---: | ---: | --- | ---: | ---: |")
    names = {"direct": "direct", "connect": "CONNECT tunnel", "forward": "HTTP forward"}
    for client in ("curl", "netbench"):
        for path in ("direct", "connect", "forward"):
            k = (client, path)
            if k not in rows:
                continue
            runs = ", ".join(f"{x:.0f}" for x in rows[k]["mbs"])
            extra = "" if path == "direct" else f"{cpu[k] - cpu[(client, 'direct')]:.2f}"
            w(
                f"| {client} | {names[path]} | {med[k]:.0f} | {ratio[k]:.2f} | {runs} | {cpu[k]:.2f} | {extra} |"
            )
    w("")
    w("Commands, exactly as run:")
    w("")
    w(f"- curl direct: `{env('CMD_CURL_DIRECT_S')}`")
    w(f"- curl CONNECT: `{env('CMD_CURL_CONNECT_S')}`")
    w(f"- curl forward: `{env('CMD_CURL_FORWARD_S')}`")
    w(f"- netbench direct: `{env('CMD_NB_DIRECT_S')}`")
    w(f"- netbench CONNECT: `{env('CMD_NB_CONNECT_S')}`")
    w("")
    w(
        "`netbench` is `bench/netbench.c` (`cc -O2`): it reads the body 1 MiB at a time and throws it "
        "away; curl 7.x reads 16 KiB at a time and is itself close to the bottleneck."
    )
    w("")

    # --- 2. latency -----------------------------------------------------------
    w(
        f"### 2. Latency per connection ({len(direct_ns)} direct and {len(connect_ns)} through CONNECT, "
        f"in {env('RR_ROUNDS')} alternating rounds, {env('RR_WARMUP')} untimed round trips before each)"
    )
    w("")
    w(
        "One round trip: connect, (`CONNECT lat.test:PORT` and its answer,) `GET /` with TCP_NODELAY, "
        "read the 2-byte answer (the server closes after it), close; timed with CLOCK_MONOTONIC by "
        "`netbench rr`. The server (`netbench rr-server`) serves one connection at a time. The tunnel "
        "is under the default rule (`tls`, `http`): the proxy checks that the first bytes are an HTTP "
        "request for lat.test."
    )
    w("")
    w("| path | p50 ms | p90 ms | p99 ms | mean ms | min ms | CPU ms per round trip |")
    w("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, key, v in (("direct", "direct", d_ms), ("through CONNECT", "connect", c_ms)):
        w(
            f"| {name} | {pct(v, 50):.3f} | {pct(v, 90):.3f} | {pct(v, 99):.3f} | "
            f"{statistics.fmean(v):.3f} | {min(v):.3f} | {rr_cpu_ms[key]:.3f} |"
        )
    w(f"| **added by the proxy** | **{added[50]:.3f}** | {added[90]:.3f} | {added[99]:.3f} | "
      f"{statistics.fmean(c_ms) - statistics.fmean(d_ms):.3f} | {min(c_ms) - min(d_ms):.3f} | "
      f"{rr_cpu_ms['connect'] - rr_cpu_ms['direct']:.3f} |")
    w("")
    w(
        "CPU per round trip: user+system seconds of the whole command (bash's `time`: the client; "
        "through CONNECT also corral's supervisor with the proxy, and the sandbox's start) over its "
        "round trips, warmup included; the server's is in neither."
    )
    w("")
    w(f"- direct: `{env('CMD_RR_DIRECT_S')}`")
    w(f"- through CONNECT: `{env('CMD_RR_CONNECT_S')}`")
    w("")

    # --- 3. tunnels ----------------------------------------------------------
    w(f"### 3. {tunnels} tunnels open at once: the supervisor's memory")
    w("")
    w(
        f"Inside the sandbox, `proxy_bench.py hold-client` opens {tunnels} `CONNECT hold.test:PORT` "
        "tunnels one after the other, exchanges `ping`/`pong` in each and holds them all open; the "
        "script reads `/proc/PID/status` of the `corral run` process (the supervisor, where the proxy "
        "runs: VmRSS counts all its threads) before the first tunnel, with all of them open, and 1 s "
        "after the client closed them (the steps are files in the workspace). Kernel memory (socket "
        "and pipe buffers) is not in VmRSS. "
        f"Opening the {tunnels} tunnels took {open_secs:.2f} s."
    )
    w("")
    w("| state | VmRSS KiB | RssAnon KiB | threads | open descriptors |")
    w("| --- | ---: | ---: | ---: | ---: |")
    for state in ("before", "with", "after-close"):
        h = hold[state]
        label = {"before": "before (proxy idle)", "with": f"{tunnels} tunnels open", "after-close": "1 s after closing them"}[state]
        w(f"| {label} | {h['vmrss_kib']} | {h['rssanon_kib']} | {h['threads']} | {h['fds']} |")
    w(
        f"| **per tunnel** | **{rss_delta / tunnels:.1f}** | {anon_delta / tunnels:.1f} | | "
        f"{(hold['with']['fds'] - hold['before']['fds']) / tunnels:.1f} |"
    )
    w("")
    w(f"Command: `{env('CMD_HOLD_S')}` with the policy file:")
    w("")
    w("```toml")
    w(env("HOLD_POLICY"))
    w("```")
    w("")

    # --- 4. launch -----------------------------------------------------------
    w(
        f"### 4. Launch with and without the proxy (`hyperfine -N --warmup {env('LAUNCH_WARMUP')} "
        f"--runs {env('LAUNCH_RUNS')}`, one run)"
    )
    w("")
    w("| command | median ms | mean ms | σ ms | min ms | p90 ms | ratio (median) | ratio (mean) |")
    w("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    base = launch["no-net"]
    for name in ("no-net", "allow-net"):
        r = launch[name]
        times = r["times"]
        w(
            f"| `{env('CMD_LAUNCH_NONE' if name == 'no-net' else 'CMD_LAUNCH_NET')}` | {r['median'] * 1e3:.2f} | "
            f"{r['mean'] * 1e3:.2f} | {r['stddev'] * 1e3:.2f} | {r['min'] * 1e3:.2f} | "
            f"{pct(times, 90) * 1e3:.2f} | {r['median'] / base['median']:.2f} | {r['mean'] / base['mean']:.2f} |"
        )
    w("")
    print("\n".join(out))


if __name__ == "__main__":
    main()
