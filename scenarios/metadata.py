"""metadata: stealing cloud credentials from the instance metadata service.

Attack:
  - 169.254.169.254:80 directly (AWS, GCP, Azure all answer there);
  - GET http://169.254.169.254/latest/meta-data/iam/security-credentials/
    through corral's HTTP proxy;
  - GET http://metadata.google.internal/computeMetadata/v1/ (by name,
    `Metadata-Flavor: Google`) through the proxy;
  - a DNS lookup of metadata.google.internal (the sandbox's resolver);
  - [fd00:ec2::254]:80 (AWS's IPv6 endpoint) directly.
Twin: a DNS lookup of the runner's allowed name and a GET to it by name
through the proxy (what any HTTP client does).

Safe: direct attempts are made only when the sandbox has nothing but
loopback; the runner checks, before the program starts, that the policy
neither allows 169.254.169.254:80 nor lets metadata.google.internal be
looked up (otherwise it does not run the scenario and reports it as not
contained).

Contained: every attempt failed: credentials from a metadata service are
usable at once, so only prevention counts.
"""

import socket

import corral_scenario as cs


def attack():
    cs.begin()

    def direct():
        s = cs.direct_connect("169.254.169.254", 80)
        s.close()
        return "connected"

    cs.attempt("connect 169.254.169.254:80 directly", direct)
    cs.attempt("GET http://169.254.169.254/latest/meta-data/iam/security-credentials/ through the proxy",
               lambda: "HTTP %d" % cs.http_via_proxy(
                   "GET", "http://169.254.169.254/latest/meta-data/iam/security-credentials/")[0])
    cs.attempt("GET http://metadata.google.internal/computeMetadata/v1/ through the proxy",
               lambda: "HTTP %d" % cs.http_via_proxy(
                   "GET", "http://metadata.google.internal/computeMetadata/v1/",
                   headers={"Metadata-Flavor": "Google"})[0])

    cs.attempt("resolve metadata.google.internal",
               lambda: cs.resolve("metadata.google.internal"))

    def direct6():
        s = cs.direct_connect("fd00:ec2::254", 80, family=socket.AF_INET6)
        s.close()
        return "connected"

    cs.attempt("connect [fd00:ec2::254]:80 directly", direct6)
    cs.end()


def twin():
    cs.begin()
    host, port = cs.target("web")

    cs.attempt("resolve %s" % host, lambda: cs.resolve(host))
    cs.attempt("GET http://%s:%d/ through the proxy" % (host, port),
               lambda: "HTTP %d" % cs.http_via_proxy("GET", "http://%s:%d/" % (host, port))[0])
    cs.end()


if __name__ == "__main__":
    attack() if cs.MODE == "attack" else twin()
