"""backdoor: a listening port for someone to come in by.

Attack: listens on 0.0.0.0:4444 and [::]:4444 (every address), waits one
second for a connection.
Twin: a test server on 127.0.0.1 that the program itself connects to and
gets an answer from (what a web app's test suite does).

Safe: nothing outside the sandbox is contacted; the sockets close when the
program ends.

Contained: the listener reaches nothing outside the sandbox: its network
namespace has only loopback, so no one outside can connect (reported as
"confined"), or the listen was refused, or corral raised a finding on it
(`net.listen`) with a response beyond log.
"""

import socket
import threading

import corral_scenario as cs


def listen(family, addr):
    s = socket.socket(family, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if family == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    s.bind((addr, 4444))
    s.listen(5)
    s.settimeout(1.0)
    try:
        s.accept()
    except socket.timeout:
        pass
    finally:
        s.close()


def attack():
    cs.begin()
    for family, addr, label in [(socket.AF_INET, "0.0.0.0", "0.0.0.0:4444"),
                                (socket.AF_INET6, "::", "[::]:4444")]:
        name = "listen on %s and wait for a connection" % label
        try:
            listen(family, addr)
        except OSError as e:
            cs.step(name, "refused", errno=e.errno, detail=str(e))
            continue
        if cs.isolated():
            cs.step(name, "confined", by="netns",
                    detail="listening, but the sandbox's network namespace has only loopback: "
                           "nothing outside can connect")
        else:
            cs.step(name, "done", detail="listening with interfaces %s" % ", ".join(cs.interfaces()))
    cs.end()


def twin():
    cs.begin()

    def serve():
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]

        def answer():
            c, _ = s.accept()
            c.recv(100)
            c.sendall(b"HTTP/1.0 200 OK\r\n\r\nok")
            c.close()

        t = threading.Thread(target=answer)
        t.start()
        c = socket.create_connection(("127.0.0.1", port), timeout=5)
        c.sendall(b"GET / HTTP/1.0\r\n\r\n")
        got = c.recv(100)
        c.close()
        t.join()
        s.close()
        return "test server on 127.0.0.1:%d answered %r" % (port, got[:15])

    cs.attempt("a test server on 127.0.0.1 and a request to it", serve)
    cs.end()


if __name__ == "__main__":
    attack() if cs.MODE == "attack" else twin()
