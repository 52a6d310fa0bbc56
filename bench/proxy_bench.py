#!/usr/bin/env python3
"""proxy_bench.py: the servers and the tunnel-holding client of bench/proxy.sh.
Every socket is on 127.0.0.1.

  proxy_bench.py bulk-server PORT FILE
      Answers each HTTP GET with a header and FILE through socket.sendfile
      (the kernel moves the bytes: the server is not the bottleneck).
  proxy_bench.py hold-server PORT
      Accepts connections, answers each "ping\\n" with "pong\\n", holds
      them open until killed.
  proxy_bench.py hold-client N PORT HOST DIR
      Inside the sandbox: opens N tunnels `CONNECT HOST:PORT` through
      127.0.0.1:3128 and exchanges ping/pong in each, stepping through
      files in DIR with the host script:
        writes started        waits for go      (host: RSS before)
        opens the N tunnels, writes ready       (host: RSS with N open)
        waits for release, closes them all, writes closed
        waits for exit                          (host: RSS after closing)
  proxy_bench.py netns CMD [ARG...]
      Runs CMD in a new network namespace whose only interface, loopback,
      is up, so nothing it does can leave the machine. As root a network
      namespace alone (like `unshare --net` + `ip link set lo up`); as
      another user also a user namespace mapping only that user to itself
      (loopback is brought up before exec, while the process still holds
      CAP_NET_ADMIN there).
"""

import ctypes
import fcntl
import os
import resource
import selectors
import socket
import sys
import threading
import time


def listener(port):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen(4096)
    return s


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def bulk_server(port, path):
    size = os.path.getsize(path)
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % size
    ls = listener(port)

    def serve(conn):
        with conn:
            buf = b""
            while b"\r\n\r\n" not in buf:
                data = conn.recv(4096)
                if not data:
                    return
                buf += data
            try:
                conn.sendall(head)
                with open(path, "rb") as f:
                    conn.sendfile(f)
            except OSError:
                pass  # the client went away

    while True:
        conn, _ = ls.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


def hold_server(port):
    raise_nofile()
    ls = listener(port)
    ls.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(ls, selectors.EVENT_READ)
    held = set()
    while True:
        for key, _ in sel.select():
            if key.fileobj is ls:
                try:
                    conn, _ = ls.accept()
                except BlockingIOError:
                    continue
                conn.setblocking(False)
                sel.register(conn, selectors.EVENT_READ)
                held.add(conn)
                continue
            conn = key.fileobj
            try:
                data = conn.recv(4096)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                data = b""
            if not data:
                sel.unregister(conn)
                held.discard(conn)
                conn.close()
            elif b"ping" in data:
                conn.send(b"pong\n")


def read_until(sock, marker):
    buf = b""
    while marker not in buf:
        data = sock.recv(4096)
        if not data:
            raise SystemExit(f"hold-client: connection closed, got {buf!r}")
        buf += data
    return buf


def wait_for(directory, name):
    path = os.path.join(directory, name)
    deadline = time.monotonic() + 300
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            raise SystemExit(f"hold-client: {name} never came")
        time.sleep(0.005)


def signal(directory, name, text=""):
    tmp = os.path.join(directory, name + ".tmp")
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, os.path.join(directory, name))


def hold_client(n, port, host, directory):
    raise_nofile()
    signal(directory, "started")
    wait_for(directory, "go")
    t0 = time.monotonic()
    socks = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", 3128))
        s.sendall(f"CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode())
        answer = read_until(s, b"\r\n\r\n")
        if not answer.startswith(b"HTTP/1.1 200") and not answer.startswith(b"HTTP/1.0 200"):
            raise SystemExit(f"hold-client: CONNECT refused: {answer!r}")
        s.sendall(b"ping\n")
        read_until(s, b"pong\n")
        socks.append(s)
    signal(directory, "ready", f"{len(socks)} {time.monotonic() - t0:.3f}\n")
    wait_for(directory, "release")
    for s in socks:
        s.close()
    signal(directory, "closed")
    wait_for(directory, "exit")


CLONE_NEWNET = 0x40000000
CLONE_NEWUSER = 0x10000000
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1


def netns(argv):
    libc = ctypes.CDLL(None, use_errno=True)
    uid, gid = os.getuid(), os.getgid()
    flags = CLONE_NEWNET if uid == 0 else CLONE_NEWNET | CLONE_NEWUSER
    if libc.unshare(flags) != 0:
        err = ctypes.get_errno()
        raise SystemExit(f"netns: unshare: {os.strerror(err)}")
    if uid != 0:
        for name, text in (("uid_map", f"{uid} {uid} 1"), ("setgroups", "deny"), ("gid_map", f"{gid} {gid} 1")):
            with open(f"/proc/self/{name}", "w") as f:
                f.write(text)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        ifreq = bytearray(b"lo".ljust(40, b"\0"))
        fcntl.ioctl(s, SIOCGIFFLAGS, ifreq)
        flags_now = int.from_bytes(ifreq[16:18], "little") | IFF_UP
        ifreq[16:18] = flags_now.to_bytes(2, "little")
        fcntl.ioctl(s, SIOCSIFFLAGS, ifreq)
    os.execvp(argv[0], argv)


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "bulk-server":
        bulk_server(int(args[0]), args[1])
    elif cmd == "hold-server":
        hold_server(int(args[0]))
    elif cmd == "netns":
        netns(args)
    elif cmd == "hold-client":
        hold_client(int(args[0]), int(args[1]), args[2], args[3])
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
