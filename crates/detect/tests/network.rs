//! `net.*`, `exfil.*`, `tunnel.ssh-egress`.

mod common;
use common::*;
use corral_detect::{Response, Severity};
use serde_json::json;

#[test]
fn many_destinations_in_a_window_is_a_scan_raised_once() {
    let mut run = Run::new();
    let mut ids = Vec::new();
    for i in 0..40u64 {
        ids.extend(run.sock(
            i * 100,
            "sock.connect",
            9,
            "inet",
            &format!("10.0.0.{}:22", i % 30 + 1),
        ));
    }
    assert_eq!(ids, ["net.scan"]);
    let f = run.get("net.scan");
    assert_eq!(
        (f.severity, f.response, f.technique.as_str()),
        (Severity::High, Response::Alert, "T1046")
    );
    assert_eq!(f.evidence.len(), 5);
    assert_eq!(f.evidence[4].summary, "inet 10.0.0.12:22");
    assert!(
        f.explanation
            .starts_with("12 distinct destinations within 10s"),
        "{}",
        f.explanation
    );
    // Ports of one host count too, and denied proxy connections.
    let mut ports = Run::new();
    for port in 1..=11u16 {
        ports.sock(
            u64::from(port),
            "sock.connect",
            9,
            "inet6",
            &format!("[fd00::1]:{port}"),
        );
    }
    assert!(ports.found.is_empty());
    ports.net(20, 9, "internal.example", 8080, "deny", "http");
    assert_eq!(ports.ids(), ["net.scan"]);
}

#[test]
fn the_proxy_repeats_and_slow_connects_are_not_a_scan() {
    let mut run = Run::new();
    // Nine real destinations, then the proxy's three ports, in one window:
    // eleven or fewer count.
    for i in 0..9u64 {
        run.sock(i, "sock.connect", 9, "inet", &format!("10.2.0.{i}:443"));
    }
    for i in 0..200u64 {
        run.sock(i * 10, "sock.connect", 9, "inet6", "[::1]:3128");
        run.sock(i * 10, "sock.connect", 9, "inet", "127.0.0.1:3128");
        run.sock(i * 10 + 1, "sock.connect", 9, "inet", "127.0.0.1:1080");
        run.sock(i * 10 + 2, "sock.connect", 9, "inet", "127.0.0.1:53");
        run.sock(
            i * 10 + 3,
            "sock.connect",
            9,
            "unix",
            "/run/dbus/system_bus_socket",
        );
    }
    // A test suite hitting a few local servers, again and again.
    for i in 0..100u64 {
        run.sock(
            30_000 + i,
            "sock.connect",
            9,
            "inet",
            &format!("127.0.0.1:{}", 8000 + i % 5),
        );
    }
    // Allowed connections through the proxy do not count.
    for i in 0..30u64 {
        run.net(
            31_000 + i,
            9,
            &format!("h{i}.example.com"),
            443,
            "allow",
            "tls",
        );
    }
    // Eleven destinations in the window at most: one every second.
    for i in 0..60u64 {
        run.sock(
            50_000 + i * 1000,
            "sock.connect",
            9,
            "inet",
            &format!("10.1.0.{i}:80"),
        );
    }
    assert!(run.found.is_empty(), "{:?}", run.found);
}

#[test]
fn cloud_metadata_endpoints() {
    let mut run = Run::new();
    assert_eq!(
        run.sock(0, "sock.connect", 5, "inet", "169.254.169.254:80"),
        ["net.metadata"]
    );
    assert_eq!(run.dns(1, 5, "metadata.google.internal"), ["net.metadata"]);
    assert_eq!(
        run.net(2, 5, "169.254.170.2", 80, "deny", "http"),
        ["net.metadata"]
    );
    assert_eq!(
        run.net(3, 5, "2852039166", 80, "deny", "http"),
        ["net.metadata"]
    );
    assert_eq!(
        run.sock(4, "sock.connect", 5, "inet6", "[fd00:ec2::254]:80"),
        ["net.metadata"]
    );
    let f = run.get("net.metadata");
    assert_eq!(
        (f.severity, f.technique.as_str()),
        (Severity::High, "T1552.005")
    );
    let mut quiet = Run::new();
    quiet.dns(0, 5, "metadata.example.com");
    quiet.sock(1, "sock.connect", 5, "inet", "169.254.169.123:123");
    assert!(quiet.found.is_empty(), "{:?}", quiet.found);
}

#[test]
fn listening_beyond_loopback() {
    let mut run = Run::new();
    assert_eq!(
        run.sock(0, "sock.bind", 5, "inet", "0.0.0.0:4444"),
        ["net.listen"]
    );
    assert!(
        run.sock(1, "sock.listen", 5, "inet", "0.0.0.0:4444")
            .is_empty(),
        "same address, once"
    );
    assert_eq!(
        run.sock(2, "sock.listen", 5, "inet6", "[::]:3000"),
        ["net.listen"]
    );
    let f = run.get("net.listen");
    assert_eq!((f.severity, f.response), (Severity::Low, Response::Log));
    let mut quiet = Run::new();
    quiet.sock(0, "sock.bind", 5, "inet", "127.0.0.1:8080");
    quiet.sock(1, "sock.listen", 5, "inet", "127.0.0.1:8080");
    quiet.sock(2, "sock.listen", 5, "inet6", "[::1]:3000");
    quiet.sock(3, "sock.bind", 5, "unix", "/tmp/test.sock");
    quiet.sock(4, "sock.listen", 5, "unix", "@abstract");
    quiet.sock(5, "sock.bind", 5, "inet", "0.0.0.0:0");
    quiet.ev(
        6,
        "sock.listen",
        json!({ "pid": 5, "fd": 3, "backlog": 128 }),
    );
    assert!(quiet.found.is_empty(), "{:?}", quiet.found);
}

#[test]
fn encoded_dns_labels() {
    let mut run = Run::new();
    assert_eq!(
        run.dns(
            0,
            5,
            "4f6e65206d6f7265207365637265742068657265.t.evil-ns.com"
        ),
        ["exfil.dns"]
    );
    assert!(
        run.dns(
            1,
            5,
            "6d6f72652064617461206865726520666f72796f75.t.evil-ns.com"
        )
        .is_empty(),
        "once per parent"
    );
    assert_eq!(
        run.dns(2, 5, "x7kq9z2mwp4vbn8rt5yc3hd6.data.example.org"),
        ["exfil.dns"]
    );
    assert_eq!(
        run.dns(3, 5, "dGhpcyBpcyBzZWNyZXQgZGF0YQ.c2.example.net"),
        ["exfil.dns"]
    );
    let f = run.get("exfil.dns");
    assert_eq!(
        (f.severity, f.response, f.technique.as_str()),
        (Severity::Medium, Response::Alert, "T1048")
    );
    assert!(
        f.explanation.contains("40-character label"),
        "{}",
        f.explanation
    );
}

#[test]
fn normal_names_are_not_exfiltration() {
    let mut run = Run::new();
    for name in [
        "registry.npmjs.org",
        "pypi.org",
        "files.pythonhosted.org",
        "objects.githubusercontent.com",
        "release-assets.githubusercontent.com",
        "generativelanguage.googleapis.com",
        "a1b2c3-dot-project.appspot.com",
        "my-load-balancer-1234567890.us-east-1.elb.amazonaws.com",
        "e3b0c44298fc1c149afbf4c8996fb924.r2.cloudflarestorage.com",
        "kubernetes-dashboard-service.internal.example.com",
        "stackoverflowquestionsmirror.example.com",
        "deployment-7f9c8d6b5-x2k4p.svc.example.com",
        "ip-10-0-0-12-us-west-2-compute.example.com",
        "index.crates.io",
        "static.crates.io",
        "proxy.golang.org",
        "api.anthropic.com",
    ] {
        run.dns(0, 5, name);
    }
    assert!(run.found.is_empty(), "{:?}", run.found);
}

#[test]
fn many_names_under_one_parent_is_a_burst() {
    let mut run = Run::new();
    let mut ids = Vec::new();
    for i in 0..30u64 {
        ids.extend(run.dns(i * 500, 5, &format!("c{i}.q.exfil.example")));
    }
    assert_eq!(ids, ["exfil.dns-burst"]);
    let f = run.get("exfil.dns-burst");
    assert_eq!((f.severity, f.response), (Severity::High, Response::Alert));
    assert!(
        f.explanation.contains("`exfil.example`"),
        "{}",
        f.explanation
    );
    // The same names again and again, or spread out in time: no burst.
    let mut quiet = Run::new();
    for i in 0..100u64 {
        quiet.dns(i, 5, &format!("s{}.example.com", i % 5));
        quiet.dns(1000 + i * 10_000, 5, &format!("n{i}.example.org"));
    }
    // Many names under a provider domain.
    for i in 0..50u64 {
        quiet.dns(i, 5, &format!("bucket{i}.s3.amazonaws.com"));
    }
    assert!(quiet.found.is_empty(), "{:?}", quiet.found);
}

#[test]
fn large_uploads_add_up_per_destination() {
    let mut run = Run::with("[detect.thresholds]\nupload_bytes = \"10M\"\n");
    let up = |run: &mut Run, at: u64, host: &str, bytes: u64, protocol: &str| {
        run.ev(
            at,
            "net.connect",
            json!({ "pid": 5, "host": host, "port": 443, "decision": "allow", "protocol": protocol,
                    "bytes_up": bytes, "bytes_down": 100 }),
        )
    };
    assert!(up(&mut run, 0, "paste.example.com", 6 << 20, "tls").is_empty());
    assert!(up(&mut run, 1, "other.example.com", 6 << 20, "tls").is_empty());
    assert_eq!(
        up(&mut run, 2, "paste.example.com", 6 << 20, "tls"),
        ["exfil.upload"]
    );
    assert!(
        up(&mut run, 3, "paste.example.com", 60 << 20, "tls").is_empty(),
        "once"
    );
    let f = run.get("exfil.upload");
    assert_eq!(
        (f.severity, f.technique.as_str()),
        (Severity::Medium, "T1567")
    );
    assert_eq!(
        up(&mut run, 4, "raw.example.com", 11 << 20, "other"),
        ["exfil.upload"]
    );
    assert_eq!(run.found[1].technique, "T1048");
    // Default threshold: 64M; a big download is not an upload.
    let mut quiet = Run::new();
    quiet.ev(
        0,
        "net.connect",
        json!({ "pid": 5, "host": "x.com", "port": 443, "decision": "allow",
        "protocol": "tls", "bytes_up": 60 << 20, "bytes_down": 1u64 << 33 }),
    );
    assert!(quiet.found.is_empty(), "{:?}", quiet.found);
}

#[test]
fn ssh_on_egress_is_medium_unless_git_runs_it() {
    let mut run = Run::new();
    run.exec(0, 10, 1, &["/usr/bin/git", "push"]);
    run.exec(
        1,
        11,
        10,
        &[
            "/usr/bin/ssh",
            "-o",
            "ProxyCommand=nc -X connect -x 127.0.0.1:3128 %h %p",
            "git@github.com",
        ],
    );
    run.exec(
        2,
        12,
        11,
        &[
            "/usr/bin/nc",
            "-X",
            "connect",
            "-x",
            "127.0.0.1:3128",
            "github.com",
            "22",
        ],
    );
    // Recorded when the connection closes, after its client exited.
    run.ev(3, "proc.exit", json!({ "pid": 12, "code": 0 }));
    run.ev(3, "proc.exit", json!({ "pid": 11, "code": 0 }));
    run.net(4, 12, "github.com", 22, "allow", "ssh");
    assert!(run.found.is_empty(), "{:?}", run.found);
    run.exec(
        4,
        20,
        1,
        &[
            "/usr/bin/ssh",
            "-o",
            "ProxyCommand=nc -X connect -x 127.0.0.1:3128 %h %p",
            "deploy@203.0.113.5",
        ],
    );
    run.exec(
        5,
        21,
        20,
        &[
            "/usr/bin/nc",
            "-X",
            "connect",
            "-x",
            "127.0.0.1:3128",
            "203.0.113.5",
            "22",
        ],
    );
    assert_eq!(
        run.net(6, 21, "203.0.113.5", 22, "allow", "ssh"),
        ["tunnel.ssh-egress"]
    );
    let f = run.get("tunnel.ssh-egress");
    assert_eq!(
        (f.severity, f.response),
        (Severity::Medium, Response::Alert)
    );
}
