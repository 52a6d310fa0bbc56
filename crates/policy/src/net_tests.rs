use super::*;
use crate::model::{NetDeny, NetRule};

fn network(allow: &[&str], deny: &[&str], resolve: &[&str]) -> Network {
    Network {
        allow: allow.iter().map(|s| (*s).to_owned()).collect(),
        deny: deny
            .iter()
            .map(|host| NetDeny {
                host: (*host).to_owned(),
                reason: None,
            })
            .collect(),
        resolve: resolve.iter().map(|s| (*s).to_owned()).collect(),
        ..Network::default()
    }
}

fn compiled(allow: &[&str], deny: &[&str], resolve: &[&str]) -> NetPolicy {
    NetPolicy::compile(&network(allow, deny, resolve)).unwrap()
}

fn ip(text: &str) -> Dest<'static> {
    Dest::Ip(text.parse().unwrap())
}

/// The texts of the allow rules matching `dest` on `port`.
fn allows<'a>(net: &'a NetPolicy, dest: Dest<'_>, port: u16) -> Vec<&'a str> {
    net.allowed(dest, port)
        .into_iter()
        .map(|r| r.text.as_str())
        .collect()
}

#[test]
fn wildcards_match_subdomains_at_any_depth_but_not_the_suffix() {
    let net = compiled(&["*.example.com"], &[], &[]);
    for yes in ["a.example.com", "a.b.example.com", "A.Example.COM."] {
        assert_eq!(
            allows(&net, Dest::Name(yes), 443),
            ["*.example.com"],
            "{yes}"
        );
    }
    for no in [
        "example.com",
        "badexample.com",
        "a.badexample.com",
        "example.com.evil.test",
        "a..example.com",
    ] {
        assert!(allows(&net, Dest::Name(no), 443).is_empty(), "{no}");
    }
    let any = compiled(&["*:443"], &[], &[]);
    assert_eq!(allows(&any, Dest::Name("anything.test"), 443), ["*:443"]);
    assert!(
        allows(&any, ip("192.0.2.7"), 443).is_empty(),
        "* never matches an address"
    );
    assert!(
        allows(&any, Dest::Name("192.0.2.7"), 443).is_empty(),
        "nor an IP literal given as a name"
    );
    assert!(
        allows(&any, Dest::Name("bad_name.test"), 443).is_empty(),
        "nor an invalid name"
    );
}

#[test]
fn exact_names_are_case_insensitive_and_ignore_a_trailing_dot() {
    let net = compiled(&["PyPI.org."], &[], &[]);
    assert_eq!(allows(&net, Dest::Name("pypi.org"), 443), ["PyPI.org."]);
    assert_eq!(allows(&net, Dest::Name("PYPI.ORG."), 80), ["PyPI.org."]);
    assert!(allows(&net, Dest::Name("www.pypi.org"), 443).is_empty());
    assert!(allows(&net, Dest::Name("pypi.org.."), 443).is_empty());
}

#[test]
fn omitted_ports_mean_web_for_allow_and_every_port_for_deny() {
    let net = compiled(
        &[
            "web.test",
            "one.test:22",
            "range.test:8000-8100",
            "any.test:*",
        ],
        &["web.test", "any.test:9000"],
        &[],
    );
    let ok = |name: &str, port: u16| !net.allowed(Dest::Name(name), port).is_empty();
    assert!(ok("web.test", 80) && ok("web.test", 443));
    assert!(!ok("web.test", 8080) && !ok("web.test", 22));
    assert!(ok("one.test", 22) && !ok("one.test", 443));
    assert!(ok("range.test", 8000) && ok("range.test", 8100) && ok("range.test", 8050));
    assert!(!ok("range.test", 7999) && !ok("range.test", 8101));
    assert!(ok("any.test", 1) && ok("any.test", 65535));
    // A deny without a port covers every port, not just 80 and 443.
    for port in [1, 80, 443, 8080, 65535] {
        assert!(net.denied(Dest::Name("web.test"), port).is_some(), "{port}");
    }
    assert!(net.denied(Dest::Name("any.test"), 9000).is_some());
    assert!(net.denied(Dest::Name("any.test"), 9001).is_none());
    assert_eq!(net.deny[0].endpoint.ports, Ports::Every);
}

#[test]
fn deny_wins_over_allow() {
    let mut net = network(&["*.github.com", "github.com"], &["gist.github.com"], &[]);
    net.deny[0].reason = Some("no code leaves through gists".into());
    let net = NetPolicy::compile(&net).unwrap();
    let dest = Dest::Name("gist.github.com");
    assert_eq!(
        allows(&net, dest, 443),
        ["*.github.com"],
        "allow alone would let it through"
    );
    let rule = net.denied(dest, 443).unwrap();
    assert_eq!(rule.text, "gist.github.com");
    assert_eq!(rule.reason.as_deref(), Some("no code leaves through gists"));
    assert!(net.denied(Dest::Name("api.github.com"), 443).is_none());
    assert!(!net.name_visible("gist.github.com"));
    assert!(net.name_visible("api.github.com") && net.name_visible("github.com"));
}

#[test]
fn names_and_addresses_are_separate() {
    let net = compiled(
        &[
            "pypi.org",
            "192.0.2.7:22",
            "10.1.2.0/24:5432",
            "[fd00::/8]:5432",
            "::1",
        ],
        &[],
        &[],
    );
    assert!(
        allows(&net, ip("151.101.0.223"), 443).is_empty(),
        "a name rule never matches an address"
    );
    assert!(allows(&net, Dest::Name("pypi.org"), 22).is_empty());
    assert_eq!(allows(&net, ip("192.0.2.7"), 22), ["192.0.2.7:22"]);
    assert!(allows(&net, ip("192.0.2.8"), 22).is_empty());
    assert_eq!(allows(&net, ip("10.1.2.0"), 5432), ["10.1.2.0/24:5432"]);
    assert_eq!(allows(&net, ip("10.1.2.255"), 5432), ["10.1.2.0/24:5432"]);
    assert!(allows(&net, ip("10.1.3.0"), 5432).is_empty());
    assert!(allows(&net, ip("10.1.2.9"), 5433).is_empty());
    assert_eq!(allows(&net, ip("fd12:3456::1"), 5432), ["[fd00::/8]:5432"]);
    assert!(allows(&net, ip("fe80::1"), 5432).is_empty());
    assert_eq!(allows(&net, ip("::1"), 443), ["::1"]);
    // An IPv4-mapped IPv6 address is its IPv4 address.
    assert_eq!(allows(&net, ip("::ffff:192.0.2.7"), 22), ["192.0.2.7:22"]);
    assert_eq!(
        allows(&net, ip("::ffff:10.1.2.3"), 5432),
        ["10.1.2.0/24:5432"]
    );
    // Names are not addresses even when they look like one.
    assert!(allows(&net, Dest::Name("10.1.2.3"), 5432).is_empty());
}

#[test]
fn address_denies_also_catch_embedded_ipv4() {
    let net = compiled(
        &["[::/0]:*", "0.0.0.0/0:*"],
        &["10.0.0.0/8", "192.0.2.7:22"],
        &[],
    );
    for dest in [
        "10.1.2.3",
        "::ffff:10.1.2.3",
        "::10.1.2.3",
        "64:ff9b::10.1.2.3",
        "64:ff9b:1::10.1.2.3",
        "2002:0a01:0203::1",
    ] {
        assert!(net.denied(ip(dest), 443).is_some(), "{dest}");
    }
    assert!(net.denied(ip("::ffff:192.0.2.7"), 22).is_some());
    assert!(
        net.denied(ip("64:ff9b::192.0.2.7"), 443).is_none(),
        "port 443 is not denied"
    );
    assert!(net.denied(ip("2001:db8::10.1.2.3"), 443).is_none());
    assert!(net.denied(ip("11.0.0.1"), 443).is_none());
    assert!(net.denied(Dest::Name("ten.test"), 443).is_none());
}

#[test]
fn every_matching_allow_rule_is_returned_in_order() {
    let net = compiled(&["*.pkg.test:*", "a.pkg.test:443", "*:443"], &[], &[]);
    assert_eq!(
        allows(&net, Dest::Name("a.pkg.test"), 443),
        ["*.pkg.test:*", "a.pkg.test:443", "*:443"]
    );
    assert_eq!(allows(&net, Dest::Name("b.pkg.test"), 22), ["*.pkg.test:*"]);
}

#[test]
fn rules_add_options_and_merge_with_allow_entries_for_the_same_endpoint() {
    let mut net = network(&["GitHub.com:22", "pypi.org"], &[], &[]);
    let ssh = NetRule {
        protocols: Some(vec![Protocol::Ssh, Protocol::Ssh]),
    };
    net.rules.insert("github.com:22".into(), ssh);
    net.rules.insert(
        "db.test:5432".into(),
        NetRule {
            protocols: Some(vec![Protocol::Any]),
        },
    );
    net.rules.insert("plain.test".into(), NetRule::default());
    let net = NetPolicy::compile(&net).unwrap();
    let summary: Vec<(&str, &[Protocol])> = net
        .allow
        .iter()
        .map(|r| (r.text.as_str(), r.protocols.as_slice()))
        .collect();
    assert_eq!(
        summary,
        [
            ("GitHub.com:22", &[Protocol::Ssh][..]),
            ("pypi.org", &Protocol::DEFAULT[..]),
            ("db.test:5432", &[Protocol::Any][..]),
            ("plain.test", &Protocol::DEFAULT[..]),
        ]
    );
}

#[test]
fn pins_match_exact_names_and_ports_last_match_wins() {
    let net = compiled(
        &["git.test:8080"],
        &[],
        &[
            "git.test:*:127.0.0.2",
            "Git.Test:8080:127.0.0.1",
            "mirror.local:*:10.0.0.9",
            "mirror.local:*:10.0.0.5,10.0.0.6",
        ],
    );
    let pinned = |host: &str, port: u16| net.pinned(host, port).map(|p| p.text.as_str());
    assert_eq!(pinned("git.test", 8080), Some("Git.Test:8080:127.0.0.1"));
    assert_eq!(pinned("GIT.test.", 8080), Some("Git.Test:8080:127.0.0.1"));
    assert_eq!(pinned("git.test", 22), Some("git.test:*:127.0.0.2"));
    assert_eq!(
        pinned("mirror.local", 1),
        Some("mirror.local:*:10.0.0.5,10.0.0.6")
    );
    assert_eq!(net.pinned("mirror.local", 1).unwrap().addrs.len(), 2);
    assert_eq!(pinned("sub.git.test", 8080), None);
    assert_eq!(pinned("bad_name", 8080), None);
    // A pin is not an allow rule.
    assert!(net.allowed(Dest::Name("mirror.local"), 443).is_empty());
    assert!(!net.name_visible("mirror.local"));
}

#[test]
fn name_visibility_ignores_port_specific_denies() {
    let net = compiled(
        &["*.corp.test:*", "*:443"],
        &["secret.corp.test:22", "*.evil.test:*"],
        &[],
    );
    assert!(net.name_visible("a.corp.test"));
    assert!(
        net.name_visible("secret.corp.test"),
        "only port 22 is denied"
    );
    assert!(!net.name_visible("x.evil.test"));
    assert!(net.name_visible("evil.test"));
    assert!(!net.name_visible("not a name"));
    let only_ips = compiled(&["10.0.0.0/8:*"], &[], &[]);
    assert!(!only_ips.name_visible("anything.test"));
}

#[test]
fn empty_policies_and_summaries() {
    let empty = compiled(&[], &["gist.github.com"], &["a.test:1:127.0.0.1"]);
    assert!(empty.is_empty());
    assert_eq!(empty.summary(3), "nothing");
    assert_eq!(NetPolicy::default().summary(0), "nothing");
    let net = compiled(
        &[
            "api.anthropic.com:443",
            "pypi.org",
            "a.test",
            "b.test",
            "c.test",
        ],
        &[],
        &[],
    );
    assert!(!net.is_empty());
    assert_eq!(net.summary(2), "api.anthropic.com:443, pypi.org and 3 more");
    assert_eq!(
        net.summary(5),
        "api.anthropic.com:443, pypi.org, a.test, b.test, c.test"
    );
    assert_eq!(net.summary(9), net.summary(5));
    assert_eq!(net.summary(0), "5 allow rules");
}

#[test]
fn compile_errors_name_the_key() {
    let err = |net: &Network| NetPolicy::compile(net).unwrap_err().to_string();
    assert_eq!(
        err(&network(&["pypi.org", "a.test", "x.test:0"], &[], &[])),
        "policy: network.allow[2]: \"x.test:0\": port 0 is out of range; expected a port from 1 \
         to 65535, a range such as 8000-8100, or * for every port"
    );
    assert!(err(&network(&[], &["ok.test", "bad_host"], &[]))
        .starts_with("policy: network.deny[1].host: \"bad_host\" is not a valid host name"));
    let mut reason = network(&[], &["ok.test"], &[]);
    reason.deny[0].reason = Some(String::new());
    assert!(err(&reason).starts_with("policy: network.deny[0].reason: the reason is empty;"));
    assert!(err(&network(&[], &[], &["a.test:1"]))
        .starts_with("policy: network.resolve[0]: \"a.test:1\" is not HOST:PORT:ADDR"));
    let mut rules = Network::default();
    rules.rules.insert(
        "a.test:22".into(),
        NetRule {
            protocols: Some(vec![]),
        },
    );
    assert!(err(&rules).starts_with(
        "policy: network.rules.\"a.test:22\".protocols: an empty list of protocols allows nothing;"
    ));
    let mut rules = Network::default();
    rules.rules.insert("a.test:x".into(), NetRule::default());
    assert!(err(&rules).starts_with(
        "policy: network.rules.\"a.test:x\": \"a.test:x\": port \"x\" is not a number;"
    ));
}

#[test]
fn protocols_parse_and_print_lowercase() {
    for p in [Protocol::Tls, Protocol::Http, Protocol::Ssh, Protocol::Any] {
        assert_eq!(p.to_string().parse::<Protocol>(), Ok(p));
    }
    assert_eq!(
        "TLS".parse::<Protocol>().unwrap_err().to_string(),
        "unknown protocol \"TLS\": expected \"tls\", \"http\", \"ssh\" or \"any\""
    );
}

#[test]
fn endpoints_display_canonically() {
    let shown = |text: &str, default| parse::endpoint(text, default).unwrap().to_string();
    assert_eq!(shown("GitHub.com.:22", Ports::Web), "github.com:22");
    assert_eq!(shown("pypi.org", Ports::Web), "pypi.org");
    assert_eq!(shown("pypi.org", Ports::Every), "pypi.org");
    assert_eq!(shown("*.x.test:*", Ports::Web), "*.x.test:*");
    assert_eq!(shown("*:8000-8100", Ports::Web), "*:8000-8100");
    assert_eq!(shown("[::1]:8080", Ports::Web), "[::1]:8080");
    assert_eq!(shown("fd00::/8", Ports::Web), "fd00::/8");
    assert_eq!(shown("10.1.2.0/24:5432", Ports::Web), "10.1.2.0/24:5432");
}

#[test]
fn special_ranges_are_classified() {
    let why = |text: &str| special_range(text.parse().unwrap());
    let cases = [
        ("0.0.0.0", Some("unspecified/this network")),
        ("0.255.1.2", Some("unspecified/this network")),
        ("127.0.0.1", Some("loopback")),
        ("127.255.255.254", Some("loopback")),
        ("10.20.30.40", Some("private (RFC 1918)")),
        ("172.16.0.1", Some("private (RFC 1918)")),
        ("172.31.255.255", Some("private (RFC 1918)")),
        ("172.32.0.1", None),
        ("172.15.255.255", None),
        ("192.168.1.1", Some("private (RFC 1918)")),
        (
            "169.254.169.254",
            Some("link-local (cloud metadata lives here)"),
        ),
        ("100.64.0.1", Some("carrier-grade NAT")),
        ("100.127.255.255", Some("carrier-grade NAT")),
        ("100.128.0.1", None),
        ("192.0.0.170", Some("IETF protocol assignments")),
        ("198.18.0.1", Some("benchmarking")),
        ("198.19.255.255", Some("benchmarking")),
        ("198.20.0.1", None),
        ("224.0.0.251", Some("multicast")),
        ("239.255.255.250", Some("multicast")),
        ("240.0.0.1", Some("reserved/broadcast")),
        ("255.255.255.255", Some("reserved/broadcast")),
        ("192.0.2.7", None),
        ("198.51.100.1", None),
        ("203.0.113.1", None),
        ("8.8.8.8", None),
        ("1.1.1.1", None),
        ("::", Some("unspecified/this network")),
        ("::1", Some("loopback")),
        ("fc00::1", Some("unique local")),
        ("fd00:ec2::254", Some("unique local")),
        ("fe80::1", Some("link-local")),
        ("febf::1", Some("link-local")),
        ("fec0::1", Some("site-local")),
        ("ff02::1", Some("multicast")),
        ("2001:db8::1", None),
        ("2606:4700::1111", None),
        // Embedded IPv4 addresses are classified as IPv4.
        ("::ffff:127.0.0.1", Some("loopback")),
        (
            "::ffff:169.254.169.254",
            Some("link-local (cloud metadata lives here)"),
        ),
        ("::ffff:8.8.8.8", None),
        ("::10.0.0.1", Some("private (RFC 1918)")),
        ("::2", Some("unspecified/this network")),
        ("64:ff9b::127.0.0.1", Some("loopback")),
        ("64:ff9b::192.168.0.1", Some("private (RFC 1918)")),
        ("64:ff9b::8.8.8.8", None),
        ("2002:7f00:0001::1", Some("loopback")),
        (
            "2002:a9fe:a9fe::",
            Some("link-local (cloud metadata lives here)"),
        ),
        ("2002:0808:0808::1", None),
        ("0.0.0.1", Some("unspecified/this network")),
        ("0:0:0:0:0:0:0:0", Some("unspecified/this network")),
        ("192.88.99.1", Some("6to4 relay anycast")),
        ("192.88.99.255", Some("6to4 relay anycast")),
        ("192.88.98.255", None),
        ("192.88.100.0", None),
        ("192.0.2.255", None),
        ("198.51.100.255", None),
        ("203.0.113.255", None),
        ("::ffff:192.88.99.1", Some("6to4 relay anycast")),
        ("64:ff9b::192.88.99.1", Some("6to4 relay anycast")),
        // Local-use NAT64 (RFC 8215): the embedded IPv4 address when it is
        // special, else special anyway.
        ("64:ff9b:1::127.0.0.1", Some("loopback")),
        (
            "64:ff9b:1::169.254.169.254",
            Some("link-local (cloud metadata lives here)"),
        ),
        (
            "64:ff9b:1:ffff:ffff:ffff:10.0.0.1",
            Some("private (RFC 1918)"),
        ),
        ("64:ff9b:1::8.8.8.8", Some("local-use NAT64")),
        // 127.0.0.1 in the RFC 6052 /48 layout, 8.8.8.8 in the last 32 bits.
        ("64:ff9b:1:7f00:0:100:808:808", Some("local-use NAT64")),
        ("64:ff9b:2::8.8.8.8", None),
        ("64:ff9b:0:1::8.8.8.8", None),
        // Discard-only (RFC 6666).
        ("100::", Some("discard-only")),
        ("100::ffff:ffff:ffff:ffff", Some("discard-only")),
        ("100:0:0:1::", None),
        // IETF protocol assignments, Teredo among them.
        ("2001::1", Some("Teredo")),
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", Some("Teredo")),
        ("2001:0:ffff:ffff:ffff:ffff:ffff:ffff", Some("Teredo")),
        ("2001:1::1", Some("IETF protocol assignments")),
        ("2001:2::1", Some("IETF protocol assignments")),
        ("2001:1ff:ffff::1", Some("IETF protocol assignments")),
        ("2001:200::1", None),
        ("2001:4860:4860::8888", None),
        ("2000::1", None),
    ];
    for (addr, expected) in cases {
        assert_eq!(why(addr), expected, "{addr}");
    }
}
