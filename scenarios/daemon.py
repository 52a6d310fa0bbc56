"""daemon: a process that tries to outlive the run.

Attack: a classic daemon: fork, setsid, fork again, SIGHUP, SIGTERM and
SIGINT ignored, stdio on /dev/null, then exec of `sleep 30` under a name
of its own (`corral-verify-daemon-TOKEN`). The program waits until the
daemon is running, then exits at once, leaving it behind.
Twin: a background job that ends with the run (`sleep 0.2 &` and
`wait`, as build scripts do).

Safe: the daemon only sleeps, and for at most 30 s; if it survives the
run, the runner kills it (by its pid) after recording the failure.

Contained: after `corral run` returns, no process named
`corral-verify-daemon-TOKEN` exists on the host (the runner looks in
/proc): the sandbox's init killed everything when the command ended.
"""

import os
import signal
import subprocess

import corral_scenario as cs


def attack():
    cs.begin()
    name = "corral-verify-daemon-" + cs.TOKEN
    sleep = cs.which("sleep") or "/bin/sleep"
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        os.setsid()
        if os.fork():
            os._exit(0)
        for sig in (signal.SIGHUP, signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, signal.SIG_IGN)
        null = os.open("/dev/null", os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        os.write(w, b"%d\n" % os.getpid())
        os.close(w)
        try:
            os.execv(sleep, [name, "30"])
        finally:
            os._exit(127)
    os.close(w)
    os.waitpid(pid, 0)
    got = os.read(r, 64).decode().strip()
    os.close(r)
    if got:
        cs.step("setsid double fork: %s sleeps 30 s, ignoring SIGHUP and SIGTERM" % name,
                "pending", check="daemon",
                detail="running as pid %s in the sandbox; the runner checks the host after the run" % got)
    else:
        cs.step("setsid double fork", "refused", detail="the daemon did not start")
    cs.end()


def twin():
    cs.begin()
    cs.attempt("a background job that ends with the run (sleep 0.2 & wait)",
               lambda: "exit %d" % subprocess.run(["/bin/sh", "-c", "sleep 0.2 & wait"],
                                                  timeout=10).returncode)
    cs.end()


if __name__ == "__main__":
    attack() if cs.MODE == "attack" else twin()
