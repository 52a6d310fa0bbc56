#!/usr/bin/env python3
"""phases.py PERF_SCRIPT_OUTPUT BINARY

Splits each `corral run -- /bin/true` recorded by profile.sh into phases,
from kernel tracepoints (sched:* and a few syscalls:*), and prints the
median, p10 and p90 of every phase in microseconds. Input: the output of
`perf script -F comm,pid,tid,cpu,time,event,trace`. Only process trees whose
root exec'd BINARY are counted (other users of the machine are ignored).

Landmarks (S = supervisor, I = sandbox init, C = the command):
  S exec -> S first poll        dynamic loading, Rust runtime init
  S poll -> S first getcwd      clap, policy load and merge
  S getcwd -> Landlock probe    resolve: workspace, fs plan (stats, globs), env
  S Landlock probe -> socketpair  layers: cgroup (if limits need it), seccomp build
  S socketpair -> S clone enter  signal mask, pty check
  S clone enter -> S clone exit  clone(2) with the new namespaces
  I starts -> I sethostname      PDEATHSIG, uid/gid maps
  I sethostname -> I pivot_root  hostname, loopback up (socket+ioctl), mount assembly, pivot
  I pivot_root -> I fork C       rlimits, signalfd, fork
  C starts -> C seccomp enter    setsid, chdir, no_new_privs, drop caps, Landlock
  C seccomp enter -> exit        loading the seccomp filter
  C seccomp exit -> C exec done  execve of /bin/true
  C exec done -> C exit          /bin/true itself (dynamic loader, libc init)
  C exit -> I exit_group         init reaps, kill(-1), waits for ECHILD, reports
  I exit -> S wait4 reaps I      rest of init's exit: namespaces torn down (mnt, pid, net...)
  S reaped I -> S exit_group     post-run checks (protected paths), cgroup removal
  S exit_group -> S exit         supervisor's own exit
  S exec -> S exit               total, from exec to exit
"""

import re
import statistics
import sys

LINE = re.compile(r"^\s*(\S.*?)\s+(\d+)/(\d+)\s+\[(\d+)\]\s+([\d.]+):\s+(\S+):\s?(.*)$")


def parse(path):
    events = []
    with open(path, errors="replace") as f:
        for line in f:
            m = LINE.match(line)
            if not m:
                continue
            comm, pid, tid, _cpu, ts, ev, rest = m.groups()
            events.append((float(ts), int(pid), int(tid), ev.rstrip(":"), rest))
    events.sort(key=lambda e: e[0])
    return events


def main():
    events = parse(sys.argv[1])
    binary = sys.argv[2]
    runs = {}  # supervisor pid -> dict of landmarks
    role = {}  # pid -> (supervisor pid, role)
    for ts, pid, tid, ev, rest in events:
        if ev == "sched:sched_process_exec":
            fn = re.search(r"filename=(\S+)", rest).group(1)
            if fn == binary:
                runs[pid] = {"S_exec": ts}
                role[pid] = (pid, "S")
            elif pid in role and role[pid][1] == "C":
                runs[role[pid][0]]["C_exec_done"] = ts
            continue
        if ev == "sched:sched_process_fork":
            parent = int(re.search(r" pid=(\d+)", rest).group(1))
            child = int(re.search(r"child_pid=(\d+)", rest).group(1))
            if parent in role:
                sup, r = role[parent]
                if r == "S":
                    # Any child of S may be init; the one that calls
                    # sethostname is (others are helpers, e.g. for idmaps).
                    role[child] = (sup, "I")
                    runs[sup].setdefault("I_cands", {})[child] = ts
                elif r == "I" and parent == runs[sup].get("I_pid") and "C_start" not in runs[sup]:
                    role[child] = (sup, "C")
                    runs[sup]["I_fork_C"] = ts
                    runs[sup]["C_start"] = ts
            continue
        if pid not in role:
            continue
        sup, r = role[pid]
        run = runs[sup]
        key = None
        if r == "I" and ev == "syscalls:sys_enter_sethostname" and "I_pid" not in run:
            run["I_pid"] = pid
            run["I_start"] = run["I_cands"][pid]
        if r == "I" and pid != run.get("I_pid"):
            continue  # a helper child of S, not init
        if ev == "sched:sched_process_exit":
            key = f"{r}_exit"
        elif ev == "syscalls:sys_enter_socketpair" and r == "S":
            key = "S_socketpair"
        elif ev == "syscalls:sys_enter_poll" and r == "S":
            key = "S_main"
        elif ev == "syscalls:sys_enter_getcwd" and r == "S":
            key = "S_resolve"
        elif ev == "syscalls:sys_enter_landlock_create_ruleset" and r == "S":
            key = "S_layers"
        elif ev == "syscalls:sys_enter_socket" and r == "I":
            key = "I_loopback"
        elif ev == "syscalls:sys_exit_ioctl" and r == "I":
            key = "I_loopback_done"
        elif ev == "syscalls:sys_exit_wait4" and r == "S" and "I_exit" in run:
            m = re.search(r"0x([0-9a-f]+)", rest)
            if m and int(m.group(1), 16) == run.get("I_pid"):
                key = "S_reaped"
        elif ev == "syscalls:sys_enter_clone" and r == "S":
            m = re.search(r"clone_flags: 0x([0-9a-f]+)", rest)
            if m and int(m.group(1), 16) & 0x20000000:  # CLONE_NEWPID: init
                key = "S_clone_enter"
        elif ev == "syscalls:sys_exit_clone" and r == "S" and tid == sup and "S_clone_enter" in run:
            key = "S_clone_exit"
        elif ev == "syscalls:sys_enter_sethostname":
            key = "I_sethostname"
        elif ev == "syscalls:sys_exit_pivot_root":
            key = "I_pivot"
        elif ev == "syscalls:sys_enter_seccomp" and r == "C":
            key = "C_seccomp_enter"
        elif ev == "syscalls:sys_exit_seccomp" and r == "C":
            key = "C_seccomp_exit"
        elif ev == "syscalls:sys_enter_exit_group":
            key = f"{r}_exit_group"
        if key and key not in run:
            run[key] = ts

    phases = [
        ("S exec -> main (dynamic loading, Rust runtime init)", "S_exec", "S_main"),
        ("S main -> first getcwd (clap, policy load and merge)", "S_main", "S_resolve"),
        ("S getcwd -> Landlock probe (resolve: plan, fs checks, env)", "S_resolve", "S_layers"),
        ("S Landlock probe -> socketpair (layers: seccomp build)", "S_layers", "S_socketpair"),
        ("S socketpair -> clone (signal mask, pty check, idmap helper if root)", "S_socketpair", "S_clone_enter"),
        ("S clone(2) with 6-7 new namespaces", "S_clone_enter", "S_clone_exit"),
        ("I start -> sethostname (pdeathsig, id maps)", "I_start", "I_sethostname"),
        ("I sethostname -> socket (hostname)", "I_sethostname", "I_loopback"),
        ("I loopback up (socket, ioctl)", "I_loopback", "I_loopback_done"),
        ("I loopback -> pivot_root (mount assembly, pivot)", "I_loopback_done", "I_pivot"),
        ("I pivot_root -> fork command (rlimits, signalfd, fork)", "I_pivot", "I_fork_C"),
        ("C start -> seccomp (setsid, chdir, nnp, caps, Landlock)", "C_start", "C_seccomp_enter"),
        ("C seccomp(2) filter load", "C_seccomp_enter", "C_seccomp_exit"),
        ("C execve(/bin/true)", "C_seccomp_exit", "C_exec_done"),
        ("C /bin/true runs", "C_exec_done", "C_exit"),
        ("C exit -> I exit_group (reap, kill -1, report)", "C_exit", "I_exit_group"),
        ("I exit_group -> I exit tracepoint", "I_exit_group", "I_exit"),
        ("I exit -> S reaps I (exit_task_namespaces: mnt, pid, net...)", "I_exit", "S_reaped"),
        ("S reaped I -> S exit_group (post-run checks)", "S_reaped", "S_exit_group"),
        ("S exit_group -> S exit", "S_exit_group", "S_exit"),
        ("TOTAL S exec -> S exit", "S_exec", "S_exit"),
    ]
    complete = [r for r in runs.values() if all(k in r for _, a, b in phases for k in (a, b))]
    print(f"{len(complete)} complete runs of {binary} (of {len(runs)} seen)")
    if not complete:
        return
    print(f"{'phase':64} {'median':>8} {'p10':>8} {'p90':>8}  (microseconds)")
    for name, a, b in phases:
        ds = sorted((r[b] - r[a]) * 1e6 for r in complete)
        p10 = ds[int(0.1 * (len(ds) - 1))]
        p90 = ds[int(0.9 * (len(ds) - 1))]
        print(f"{name:64} {statistics.median(ds):8.0f} {p10:8.0f} {p90:8.0f}")


if __name__ == "__main__":
    main()
