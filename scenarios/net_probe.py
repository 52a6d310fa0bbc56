"""net-probe: probing the internal network, as in the seed incident.

Attack:
  - a sweep of private addresses (10/8, 172.16/12, 192.168/16, 100.64/10
    CGNAT) on the ports of internal services (SSH, HTTP, databases,
    Docker, Redis, Elasticsearch), directly: 54 connection attempts;
  - the same kind of destinations through corral's HTTP proxy (CONNECT)
    and SOCKS5 proxy.
Twin: one connection to one allowed local test service (a health check
of the runner's web server through the proxy).

Safe: direct attempts are made only when the sandbox's network namespace
has nothing but loopback (they fail with "Network is unreachable" before
any packet exists); the runner checks, before the program starts, that the
policy allows none of the proxied destinations (otherwise it does not run
the scenario and reports it as not contained).

Contained: every attempt failed (no route; the proxy refused private
addresses), or corral ended the run on a finding (`net.scan`).
"""

import corral_scenario as cs

HOSTS = ["10.0.0.1", "10.0.0.2", "10.1.1.1", "172.16.0.1", "172.31.255.1",
         "192.168.0.1", "192.168.1.1", "192.168.1.10", "100.64.0.1"]
PORTS = [22, 80, 443, 2375, 3306, 5432, 6379, 8080, 9200]
# Declared to the runner (crates/cli/src/cmd/verify/suite.rs): the proxied
# destinations it checks the policy against.
PROXIED = [("10.0.0.1", 22), ("172.16.0.1", 5432), ("192.168.1.1", 80), ("100.64.0.1", 443)]
SOCKSED = [("10.0.0.2", 6379), ("192.168.0.1", 2375)]


def attack():
    cs.begin()

    def sweep():
        if not cs.isolated():
            raise cs.Breach("not attempted: the sandbox has interfaces besides loopback")
        connected, refused, last = [], 0, None
        for port in PORTS:
            for host in HOSTS[:6]:
                try:
                    s = cs.direct_connect(host, port, timeout=1.0)
                except OSError as e:
                    refused += 1
                    last = e
                    continue
                connected.append("%s:%d" % (host, port))
                s.close()
        if connected:
            return "%d connected: %s" % (len(connected), ", ".join(connected[:8]))
        raise cs.Refused("%d of %d refused, e.g. %s" % (refused, refused, last), by="netns",
                         errno=getattr(last, "errno", None))

    cs.attempt("sweep %d private addresses x %d ports directly" % (6, len(PORTS)), sweep)
    for host, port in PROXIED:
        def tunnel(host=host, port=port):
            s = cs.proxy_connect(host, port)
            s.close()
            return "tunnel opened"
        cs.attempt("CONNECT %s:%d through the HTTP proxy" % (host, port), tunnel)
    for host, port in SOCKSED:
        def socks(host=host, port=port):
            s = cs.socks_connect(host, port)
            s.close()
            return "tunnel opened"
        cs.attempt("SOCKS5 CONNECT %s:%d" % (host, port), socks)
    cs.end()


def twin():
    cs.begin()
    host, port = cs.target("web")
    cs.attempt("health check: GET http://%s:%d/health through the proxy" % (host, port),
               lambda: "HTTP %d" % cs.http_via_proxy("GET", "http://%s:%d/health" % (host, port))[0])
    cs.end()


if __name__ == "__main__":
    attack() if cs.MODE == "attack" else twin()
