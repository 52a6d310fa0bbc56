use super::*;
use HostPattern::{AnyName, Cidr, Ip, Name, Subdomains};

fn allow(text: &str) -> Endpoint {
    endpoint(text, Ports::Web).unwrap_or_else(|p| panic!("{text:?}: {p:?}"))
}

fn allow_err(text: &str) -> String {
    let p = endpoint(text, Ports::Web).unwrap_err();
    format!("{}; {}", p.problem, p.expected)
}

fn ip(text: &str) -> HostPattern {
    Ip(text.parse().unwrap())
}

fn net(text: &str) -> HostPattern {
    Cidr(text.parse().unwrap())
}

fn ep(host: HostPattern, ports: Ports) -> Endpoint {
    Endpoint { host, ports }
}

#[test]
fn every_host_form_parses() {
    let cases = [
        ("pypi.org", ep(Name("pypi.org".into()), Ports::Web)),
        (
            "API.Anthropic.COM.:443",
            ep(Name("api.anthropic.com".into()), Ports::One(443)),
        ),
        (
            "*.githubusercontent.com",
            ep(Subdomains("githubusercontent.com".into()), Ports::Web),
        ),
        ("*:443", ep(AnyName, Ports::One(443))),
        ("*", ep(AnyName, Ports::Web)),
        ("192.0.2.7", ep(ip("192.0.2.7"), Ports::Web)),
        ("192.0.2.7:22", ep(ip("192.0.2.7"), Ports::One(22))),
        ("10.1.2.0/24:5432", ep(net("10.1.2.0/24"), Ports::One(5432))),
        ("0.0.0.0/0:*", ep(net("0.0.0.0/0"), Ports::Any)),
        ("[::1]:8080", ep(ip("::1"), Ports::One(8080))),
        ("[::1]", ep(ip("::1"), Ports::Web)),
        ("::1", ep(ip("::1"), Ports::Web)),
        ("2001:db8::7", ep(ip("2001:db8::7"), Ports::Web)),
        ("fd00::/8", ep(net("fd00::/8"), Ports::Web)),
        ("[fd00::/8]:5432", ep(net("fd00::/8"), Ports::One(5432))),
        (
            "git.test:8000-8100",
            ep(Name("git.test".into()), Ports::Range(8000, 8100)),
        ),
        (
            "git.test:1-65535",
            ep(Name("git.test".into()), Ports::Range(1, 65535)),
        ),
        (
            "xn--caf-dma.example",
            ep(Name("xn--caf-dma.example".into()), Ports::Web),
        ),
        (
            "localhost:8080",
            ep(Name("localhost".into()), Ports::One(8080)),
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(allow(text), expected, "{text:?}");
    }
}

#[test]
fn an_omitted_port_means_web_in_allow_and_every_port_in_deny() {
    assert_eq!(allow("pypi.org").ports, Ports::Web);
    assert_eq!(
        endpoint("pypi.org", Ports::Every).unwrap().ports,
        Ports::Every
    );
    assert_eq!(endpoint("::1", Ports::Every).unwrap().ports, Ports::Every);
    assert_eq!(
        endpoint("pypi.org:*", Ports::Every).unwrap().ports,
        Ports::Any
    );
}

#[test]
fn endpoint_errors_quote_the_entry_and_say_what_to_write() {
    assert_eq!(
        allow_err("pypi.org:0"),
        "\"pypi.org:0\": port 0 is out of range; expected a port from 1 to 65535, a range such \
         as 8000-8100, or * for every port"
    );
    assert!(
        allow_err("pypi.org:65536").starts_with("\"pypi.org:65536\": port 65536 is out of range;")
    );
    assert!(allow_err("pypi.org:https")
        .starts_with("\"pypi.org:https\": port \"https\" is not a number;"));
    assert!(allow_err("pypi.org:").starts_with("\"pypi.org:\": port \"\" is not a number;"));
    assert!(
        allow_err("pypi.org:+443").starts_with("\"pypi.org:+443\": port \"+443\" is not a number;")
    );
    assert!(allow_err("x.test:9000-8000")
        .starts_with("\"x.test:9000-8000\": port range 9000-8000 goes downwards;"));
    assert!(
        allow_err("x.test:1-2-3").starts_with("\"x.test:1-2-3\": port \"2-3\" is not a number;")
    );
    assert!(allow_err("").starts_with("the entry is empty; expected HOST[:PORT]"));
    assert!(allow_err(":443").starts_with("\":443\" has no host; expected HOST[:PORT]"));
    assert!(allow_err("pypi .org").starts_with("\"pypi .org\" contains whitespace"));
    assert_eq!(
        allow_err("pypi_org"),
        "\"pypi_org\" is not a valid host name: '_' is not allowed; expected a DNS name of ASCII \
         letters, digits, '-' and '.' (labels of 1 to 63 characters, at most 253 in all), \
         \"*.suffix\", \"*\", an IP address or a CIDR"
    );
    assert!(allow_err("a..b:80")
        .starts_with("\"a..b:80\": \"a..b\" is not a valid host name: it has an empty label;"));
    assert!(allow_err("127.1")
        .starts_with("\"127.1\" is not a valid host name: its last label is a number"));
    assert!(allow_err("010.0.0.1").contains("its last label is a number"));
    assert!(allow_err(&format!("{}.com", "a".repeat(64)))
        .contains("is 64 characters long (at most 63)"));
    assert!(allow_err(&"ab.".repeat(85)).contains("is 254 characters long (at most 253)"));
    assert_eq!(
        allow_err("a*.example.com"),
        "\"a*.example.com\": '*' may only be the whole first label; expected \"*.example.com\" \
         (every subdomain), \"*\" (every name) or an exact name"
    );
    for bad in [
        "*.*.example.com",
        "**",
        "*example.com",
        "example.*",
        "*.:443",
    ] {
        assert!(endpoint(bad, Ports::Web).is_err(), "{bad:?}");
    }
    assert_eq!(
        allow_err("10.1.2.3/24:5432"),
        "\"10.1.2.3/24:5432\": 10.1.2.3/24 has bits set after the prefix; expected the network's \
         first address: \"10.1.2.0/24\""
    );
    assert!(allow_err("10.0.0.0/33")
        .starts_with("\"10.0.0.0/33\" is not a valid CIDR; expected ADDRESS/PREFIX"));
    assert!(allow_err("pypi.org/8").contains("is not a valid CIDR"));
    assert!(allow_err("[fd00::1/8]:80").contains("is not an IPv6 address or CIDR"));
    assert_eq!(
        allow_err("fe80::1%eth0"),
        "\"fe80::1%eth0\" is not an IPv6 address or CIDR; expected an IPv6 address or CIDR such \
         as \"fd00::/8\"; to add a port, put the address in brackets: \"[fd00::/8]:5432\""
    );
    assert!(allow_err("pypi.org:443:1")
        .starts_with("\"pypi.org:443:1\" has more than one ':'; expected HOST[:PORT]"));
    assert!(allow_err("a:b:c").contains("is not an IPv6 address or CIDR"));
    assert!(allow_err("[::1:8080").starts_with(
        "\"[::1:8080\" has no closing ']'; expected an IPv6 address or CIDR in brackets"
    ));
    assert!(allow_err("[::1]8080")
        .starts_with("\"[::1]8080\" has \"8080\" after ']' instead of :PORT;"));
    assert!(allow_err("[::1]:0").starts_with("\"[::1]:0\": port 0 is out of range;"));
    assert_eq!(
        allow_err("[192.0.2.7]:22"),
        "\"[192.0.2.7]:22\": \"192.0.2.7\" is not an IPv6 address or CIDR; brackets are only for \
         IPv6 addresses; write an IPv4 address or a name without them, e.g. \"192.0.2.7:22\""
    );
}

#[test]
fn names_are_normalized_and_checked() {
    assert_eq!(normalize_name("GitHub.COM."), Some("github.com".into()));
    assert_eq!(normalize_name("a-b.c0"), Some("a-b.c0".into()));
    assert_eq!(normalize_name(&"a".repeat(63)), Some("a".repeat(63)));
    let longest = format!("{}a", "a.".repeat(126));
    assert_eq!(longest.len(), 253);
    assert_eq!(normalize_name(&longest), Some(longest.clone()));
    assert_eq!(
        normalize_name(&format!("{longest}.")),
        Some(longest.clone())
    );
    for bad in [
        "",
        ".",
        "a..b",
        ".a",
        "a.b..",
        "caf\u{e9}.fr",
        "a_b.c",
        "a b",
        "*.a",
        "1.2.3.4",
        "127.1",
        "[::1]",
        &"a".repeat(64),
        &format!("a{longest}"),
    ] {
        assert_eq!(normalize_name(bad), None, "{bad:?}");
    }
}

#[test]
fn pins_parse_like_curl_resolve() {
    let p = pin("Git.Test:8080:127.0.0.1").unwrap();
    assert_eq!(
        (p.host.as_str(), p.port, p.text.as_str()),
        ("git.test", Some(8080), "Git.Test:8080:127.0.0.1")
    );
    assert_eq!(p.addrs, ["127.0.0.1".parse::<IpAddr>().unwrap()]);
    let p = pin("mirror.local:*:10.0.0.5,10.0.0.6").unwrap();
    assert_eq!(p.port, None);
    assert_eq!(p.addrs.len(), 2);
    let p = pin("v6.test:443:[2001:db8::1],::1").unwrap();
    assert_eq!(
        p.addrs,
        [
            "2001:db8::1".parse::<IpAddr>().unwrap(),
            "::1".parse().unwrap()
        ]
    );
    let err = |text: &str| {
        let p = pin(text).unwrap_err();
        format!("{}; {}", p.problem, p.expected)
    };
    assert_eq!(
        err("git.test:8080"),
        "\"git.test:8080\" is not HOST:PORT:ADDR[,ADDR...]; expected HOST:PORT:ADDR[,ADDR...] as \
         for curl --resolve, e.g. \"git.test:8080:127.0.0.1\" or \
         \"mirror.local:*:10.0.0.5,10.0.0.6\" (PORT may be *)"
    );
    assert!(err("git.test::127.0.0.1").starts_with("\"git.test::127.0.0.1\" is not HOST:PORT:ADDR"));
    assert!(err("git.test:80:").starts_with("\"git.test:80:\" is not HOST:PORT:ADDR"));
    assert!(err("git.test:0:127.0.0.1")
        .starts_with("\"git.test:0:127.0.0.1\": port 0 is out of range; expected HOST:PORT:ADDR"));
    assert!(err("git.test:80:127.0.0.1,")
        .starts_with("\"git.test:80:127.0.0.1,\": \"\" is not an IP address;"));
    assert!(err("git.test:80:localhost")
        .starts_with("\"git.test:80:localhost\": \"localhost\" is not an IP address;"));
    assert!(err("*.test:80:127.0.0.1").contains("a pin names one host, not a pattern"));
    assert!(err("10.0.0.1:80:127.0.0.1")
        .contains("a pin gives a name its addresses; an address needs none"));
    assert!(err("a_b:80:127.0.0.1").contains("'_' is not allowed"));
}

#[test]
fn reasons_and_protocol_lists() {
    assert_eq!(reason("no gists"), Ok(()));
    assert!(reason(" ").unwrap_err().problem.contains("empty"));
    assert!(reason("a\nb")
        .unwrap_err()
        .problem
        .contains("contains a control character"));
    assert!(reason("\u{1b}[31mred")
        .unwrap_err()
        .problem
        .contains("control character"));
    assert_eq!(
        protocols(&[Protocol::Ssh, Protocol::Tls, Protocol::Ssh]),
        Ok(vec![Protocol::Ssh, Protocol::Tls])
    );
    assert!(protocols(&[])
        .unwrap_err()
        .expected
        .contains("or remove the rule"));
}
