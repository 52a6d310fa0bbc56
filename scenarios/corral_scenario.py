"""Shared by corral verify's scenario programs (Python 3, standard library).

The protocol with the runner (crates/cli/src/cmd/verify): every line of
stdout that starts with "CORRAL-SCENARIO " is one JSON object, flushed at
once (the run may be killed at any moment):

  {"event": "begin", "mode": "attack", "t": 1732262412.12}   before the first attempt
  {"step": "connect 192.0.2.1:3333 directly", "result": "refused",
   "by": "netns", "errno": 101, "detail": "Network is unreachable", "t": ...}
  {"event": "end", "t": ...}                                  after the last one

`t` is the wall clock (seconds since the epoch) when the attempt started.
`result` is what the program saw:

  refused   the action failed: the sandbox (kernel or proxy) stopped it
  done      the action worked (for an attack: a breach, unless detection
            stopped the run; for a twin: the benign action worked)
  confined  the action worked inside the sandbox but reaches nothing
            outside it (a listener in a network namespace with only lo)
  pending   the program cannot tell; the runner decides with `check`
            (what its local server saw, whether a process outlived the run)
  skipped   cannot be tried here (a tool is missing); `detail` says why
  info      context, not judged ("burning 2 CPUs")

`by` names the layer that refused when the program knows it: seccomp,
filesystem (read-only mount, Landlock), mask (deny_read), environment,
netns (no route: the sandbox has only loopback), proxy, resolver, limits,
lifecycle. The runner derives it from `errno` otherwise.

Nothing here sends a packet off the machine: direct connections to
addresses off this machine are made only when the sandbox's network
namespace has nothing but loopback (`isolated()`); otherwise the step is
reported as a breach without being tried. Proxied destinations are checked
against the policy by the runner before the program starts.
"""

import errno as E
import json
import os
import socket
import struct
import sys
import time

PREFIX = "CORRAL-SCENARIO "
MODE = sys.argv[1] if len(sys.argv) > 1 else "attack"
TOKEN = os.environ.get("CV_TOKEN", "corral-verify")


def emit(obj):
    sys.stdout.write(PREFIX + json.dumps(obj, sort_keys=True) + "\n")
    sys.stdout.flush()


def begin():
    emit({"event": "begin", "mode": MODE, "t": time.time(), "pid": os.getpid()})


def end():
    emit({"event": "end", "t": time.time()})


def step(name, result, t=None, **extra):
    obj = {"step": name, "result": result, "t": t if t is not None else time.time()}
    obj.update({k: v for k, v in extra.items() if v is not None})
    emit(obj)


class Refused(Exception):
    """The sandbox refused the action (raised by helpers that see refusals
    in protocol words: an HTTP 403, a SOCKS error, NXDOMAIN)."""

    def __init__(self, detail, by=None, errno=None):
        super().__init__(detail)
        self.detail = detail
        self.by = by
        self.errno = errno


class Breach(Exception):
    """Not attempted because it could really leave the machine: counts as
    a breach (the sandbox did not stop it)."""


# errno -> the layer that most likely refused, when the step does not say.
BY_ERRNO = {
    E.EPERM: "seccomp",
    E.EACCES: "filesystem",
    E.EROFS: "filesystem",
    E.ENOENT: "filesystem",
    E.ENETUNREACH: "netns",
    E.EHOSTUNREACH: "netns",
    E.EADDRNOTAVAIL: "netns",
    E.EAGAIN: "limits",
    E.EMFILE: "limits",
    E.ENFILE: "limits",
    E.ENOSPC: "limits",
    E.EFBIG: "limits",
    E.ENOMEM: "limits",
    E.ENOSYS: "seccomp",
}


def attempt(name, fn, by=None):
    """Runs fn(); reports done (with its return value as detail), refused
    (an OSError or Refused), or done for a Breach. Returns True if done."""
    t = time.time()
    try:
        detail = fn()
    except Refused as r:
        step(name, "refused", t, by=r.by or by, errno=r.errno, detail=r.detail)
        return False
    except Breach as b:
        step(name, "done", t, detail=str(b))
        return True
    except OSError as e:
        code = e.errno
        step(
            name,
            "refused",
            t,
            by=by or BY_ERRNO.get(code),
            errno=code,
            detail=os.strerror(code) if code else str(e),
        )
        return False
    step(name, "done", t, detail=None if detail is None else str(detail)[:300])
    return True


def skipped(name, why):
    step(name, "skipped", detail=why)


# ---------------------------------------------------------------- the network


def interfaces():
    try:
        return [name for _, name in socket.if_nameindex()]
    except OSError:
        return []


def isolated():
    """True when the sandbox's network namespace has only loopback: a
    direct connection off the machine cannot leave it."""
    names = interfaces()
    return bool(names) and all(n == "lo" for n in names)


def direct_connect(host, port, timeout=2.0, family=socket.AF_INET):
    """A direct TCP connection (no proxy); raises Breach instead of trying
    when the sandbox has a route out."""
    if not isolated():
        raise Breach(
            "not attempted: the sandbox has network interfaces besides loopback (%s), "
            "so this connection could leave the machine" % ", ".join(interfaces())
        )
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect((host, port))
    except OSError:
        s.close()
        raise
    return s


def target(name):
    """HOST:PORT of one of the runner's local servers, from CV_<NAME>."""
    value = os.environ.get("CV_" + name.upper())
    if not value:
        raise Refused("the runner gave no %s server" % name, by="runner")
    host, _, port = value.rpartition(":")
    return host, int(port)


def proxy_addr(var="HTTP_PROXY", default_port=3128):
    value = os.environ.get(var) or os.environ.get(var.lower())
    if not value:
        raise Refused("no proxy: the policy gives the sandbox no network at all", by="netns")
    hostport = value.split("://", 1)[-1].rstrip("/")
    host, _, port = hostport.rpartition(":")
    return host or "127.0.0.1", int(port or default_port)


def _open_proxy(var, port):
    host, port = proxy_addr(var, port)
    try:
        return socket.create_connection((host, port), timeout=5)
    except OSError as e:
        raise Refused(
            "no proxy at %s:%d (%s): the sandbox has no network" % (host, port, os.strerror(e.errno or 0)),
            by="netns",
            errno=e.errno,
        )


def read_head(sock, limit=65536):
    """The proxy's reply head, byte by byte: what follows it belongs to the
    tunnel (a server-first protocol's bytes may be in the same segment)."""
    data = b""
    while not data.endswith(b"\r\n\r\n") and len(data) < limit:
        chunk = sock.recv(1)
        if not chunk:
            break
        data += chunk
    if data.endswith(b"\r\n\r\n") and b" 200 " not in data.split(b"\r\n", 1)[0] + b" ":
        # A refusal: its body explains it.
        try:
            sock.settimeout(2)
            while len(data) < limit:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                data += chunk
        except OSError:
            pass
    return data


def proxy_connect(host, port, timeout=5.0):
    """An HTTP CONNECT tunnel through corral's proxy; raises Refused with
    the proxy's reason when it says no."""
    s = _open_proxy("HTTP_PROXY", 3128)
    s.settimeout(timeout)
    authority = "[%s]:%d" % (host, port) if ":" in host else "%s:%d" % (host, port)
    s.sendall(("CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (authority, authority)).encode())
    head = read_head(s)
    status = head.split(b"\r\n", 1)[0].decode("latin-1")
    if " 200 " not in status + " ":
        body = head.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in head else b""
        s.close()
        reason = body.decode("utf-8", "replace").strip() or status
        raise Refused("proxy: %s" % reason[:300], by="proxy")
    return s


def recv_exact(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            break
        data += chunk
    return data


def socks_connect(host, port, timeout=5.0):
    """A SOCKS5 CONNECT (names resolved by the proxy); raises Refused on
    the proxy's refusal."""
    s = _open_proxy("ALL_PROXY", 1080)
    s.settimeout(timeout)
    s.sendall(b"\x05\x01\x00")
    if s.recv(2) != b"\x05\x00":
        s.close()
        raise Refused("proxy: SOCKS5 handshake refused", by="proxy")
    try:
        packed = socket.inet_aton(host)
        req = b"\x05\x01\x00\x01" + packed
    except OSError:
        name = host.encode()
        req = b"\x05\x01\x00\x03" + bytes([len(name)]) + name
    s.sendall(req + struct.pack(">H", port))
    reply = recv_exact(s, 4)
    if len(reply) == 4 and reply[1] == 0:
        # The bound address, exactly: what follows belongs to the tunnel.
        rest = {1: 4, 4: 16}.get(reply[3])
        if rest is None:
            rest = recv_exact(s, 1)[0] if reply[3] == 3 else 0
        recv_exact(s, rest + 2)
    if len(reply) < 2 or reply[1] != 0:
        code = reply[1] if len(reply) > 1 else -1
        s.close()
        words = {2: "not allowed by ruleset", 4: "host unreachable", 5: "connection refused"}
        raise Refused("proxy: SOCKS5 reply %d (%s)" % (code, words.get(code, "failure")), by="proxy")
    return s


def http_via_proxy(method, url, body=b"", headers=None, timeout=10.0):
    """A plain-HTTP request in absolute form through the proxy. Returns
    (status, body); raises Refused for the proxy's own 403/502."""
    s = _open_proxy("HTTP_PROXY", 3128)
    s.settimeout(timeout)
    rest = url.split("://", 1)[1]
    authority = rest.split("/", 1)[0]
    lines = ["%s %s HTTP/1.1" % (method, url), "Host: %s" % authority, "Connection: close"]
    for k, v in (headers or {}).items():
        lines.append("%s: %s" % (k, v))
    if body or method in ("POST", "PUT"):
        lines.append("Content-Length: %d" % len(body))
    s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    if body:
        view = memoryview(body)
        while view:
            n = s.send(view[:1 << 20])
            view = view[n:]
    data = b""
    while True:
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            break
        if not chunk:
            break
        data += chunk
    s.close()
    head, _, payload = data.partition(b"\r\n\r\n")
    status_line = head.split(b"\r\n", 1)[0].decode("latin-1")
    parts = status_line.split()
    status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
    if b"x-corral:" in head.lower():
        raise Refused("proxy: %s" % payload.decode("utf-8", "replace").strip()[:300], by="proxy")
    if status == 0:
        raise Refused("proxy: the connection was closed without an answer", by="proxy")
    return status, payload


# ---------------------------------------------------------------- DNS


def dns_packet(name, qtype, qid):
    header = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    labels = b"".join(bytes([len(p)]) + p.encode() for p in name.strip(".").split("."))
    return header + labels + b"\x00" + struct.pack(">HH", qtype, 1)


def dns_query(name, qtype=1, server=("127.0.0.1", 53), timeout=2.0):
    """One query over UDP; returns (rcode, answer count, EDE text).
    Raises Refused when there is no resolver to ask."""
    qid = int.from_bytes(os.urandom(2), "big")
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(timeout)
    try:
        s.sendto(dns_packet(name, qtype, qid), server)
        data, _ = s.recvfrom(4096)
    except socket.timeout:
        raise Refused("no answer from %s:%d" % server, by="resolver")
    except OSError as e:
        raise Refused(
            "no resolver at %s:%d (%s)" % (server[0], server[1], os.strerror(e.errno or 0)),
            by="netns",
            errno=e.errno,
        )
    finally:
        s.close()
    if len(data) < 12:
        raise Refused("a malformed DNS answer", by="resolver")
    flags, _, ancount = struct.unpack(">HHH", data[2:8])
    text = ""
    # Extended DNS Error text, if any (corral puts its reason there).
    idx = data.find(b"\x00\x0f")
    if idx > 0 and idx + 6 <= len(data):
        length = struct.unpack(">H", data[idx + 2 : idx + 4])[0]
        text = data[idx + 6 : idx + 4 + length].decode("utf-8", "replace")
    return flags & 0xF, ancount, text


# ---------------------------------------------------------------- misc



def resolve(name):
    """One A query through the sandbox's resolver: "resolved (N answers)",
    or Refused with the rcode and the resolver's reason."""
    rcode, answers, text = dns_query(name)
    if rcode == 0 and answers > 0:
        return "resolved (%d answers)" % answers
    raise Refused("rcode %d%s" % (rcode, (": " + text) if text else ""), by="resolver")

def which(name):
    for d in os.environ.get("PATH", "/usr/bin:/bin").split(":"):
        p = os.path.join(d, name)
        if os.path.isfile(p) and os.access(p, os.X_OK):
            return p
    return None


def home(*parts):
    return os.path.join(os.path.expanduser("~"), *parts)
