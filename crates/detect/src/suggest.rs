//! `corral policy suggest`: from the audit trails of runs, the tightest
//! policy that would have allowed exactly what they did, as a TOML file a
//! human reviews before using.
//!
//! What goes in, and how:
//!
//! - `extends`: the profile the runs used, when their `run.start` events
//!   name it (`profile`, or `extends`) and agree; else the default
//!   profile (`offline`).
//! - `network.allow`: `host:port` of every connection the egress proxy
//!   allowed (`net.connect`, `"decision": "allow"`) that the profile does
//!   not allow already. When a connection spoke something besides TLS and
//!   HTTP (`ssh`, or `other`/`stratum`, which need `any`), the endpoint
//!   becomes a `[network.rules."host:port"]` table with those protocols
//!   instead. A name the proxy reached at a loopback or private address
//!   needed a pin: a `network.resolve` entry `host:port:addr` is added.
//! - `filesystem.write`: the directories of the files the runs wrote
//!   outside the workspace (and outside the private `/tmp`, `/var/tmp`,
//!   `/run`, `/dev/shm`, `/dev` and `/proc`) with the sandbox's leave
//!   (`"writable": true`), cut to at most three components and before the
//!   first generated one (`/root/.cache/pip/http/a1b2c3` is
//!   `/root/.cache/pip`), nested ones merged.
//! - `[limits]`, from what the runs used, with headroom: `memory` 1.5
//!   times the peak resident memory of the whole sandbox (at least 64M,
//!   rounded up to 64M below 1G, to 256M above), `pids` twice the peak
//!   number of threads (at least 32), `timeout` twice the longest run's
//!   wall time (`run.exit`'s `wall_ms`; at least 10s, rounded up). A limit
//!   is left out when the runs say nothing about it (no `resource.sample`,
//!   no `run.exit`) or when the profile's own is already lower.
//! - As comments, for a human to decide: what the runs attempted and were
//!   refused (connections and DNS queries the proxy denied or could not
//!   complete, writes outside the writable paths, system calls the
//!   sandbox refused, direct connections that bypassed the proxy), and
//!   the limits they hit.
//!
//! The result is checked by parsing it back with [`corral_policy::Policy`]
//! (the tests do it for every shape).

use crate::baseline::{
    generalise, host_port, normalize, printable, run_workspace, toml_quote, under, write_paths,
};
use crate::{Event, OwnedEvent};
use corral_event::Decision;
use corral_policy::net::{special_range, Dest, NetPolicy, Protocol};
use corral_policy::{ByteSize, Duration, NetRule, Policy};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};

/// Directories every sandbox has of its own: writes there need no policy.
const PRIVATE: [&str; 6] = ["/tmp", "/var/tmp", "/run", "/dev/shm", "/dev", "/proc"];
/// Refused attempts listed at most (the rest are counted).
const MAX_REFUSED: usize = 100;
const MIB: u64 = 1 << 20;

/// A value for the policy and the comment that explains it.
#[derive(Debug, Clone, PartialEq)]
pub struct Noted<T> {
    pub value: T,
    pub note: String,
}

/// What [`suggest`] found: the policy's entries, each with why.
#[derive(Debug, Clone, PartialEq)]
pub struct Suggestion {
    /// How many runs it comes from.
    pub runs: usize,
    /// The profile the policy extends.
    pub extends: Noted<String>,
    /// `filesystem.write`.
    pub write: Vec<Noted<String>>,
    /// `network.allow`.
    pub allow: Vec<Noted<String>>,
    /// `[network.rules."ENDPOINT"]` with these protocols.
    pub rules: Vec<Noted<(String, Vec<Protocol>)>>,
    /// `network.resolve`.
    pub resolve: Vec<Noted<String>>,
    pub memory: Option<Noted<ByteSize>>,
    pub pids: Option<Noted<u64>>,
    pub timeout: Option<Noted<Duration>>,
    /// What the runs attempted and were refused, one line each, with
    /// how many times.
    pub refused: Vec<String>,
    /// Anything else a reviewer should know (limits hit, missing data).
    pub notes: Vec<String>,
}

/// Connections the proxy allowed to one `host:port`.
#[derive(Default)]
struct Reached {
    count: u64,
    protocols: BTreeSet<String>,
    /// Loopback or private addresses a name was connected to (a pin).
    pinned: BTreeSet<IpAddr>,
    is_name: bool,
}

/// Lines counted in order of first appearance.
#[derive(Default)]
struct Counted {
    order: Vec<String>,
    counts: BTreeMap<String, u64>,
}

impl Counted {
    fn add(&mut self, line: String) {
        let n = self.counts.entry(line.clone()).or_insert(0);
        if *n == 0 {
            self.order.push(line);
        }
        *n += 1;
    }

    fn lines(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .order
            .iter()
            .take(MAX_REFUSED)
            .map(|l| match self.counts.get(l).copied().unwrap_or(1) {
                1 => l.clone(),
                n => format!("{l} ({n} times)"),
            })
            .collect();
        if self.order.len() > MAX_REFUSED {
            out.push(format!(
                "... and {} more (see the trails: `corral log show RUN`)",
                self.order.len() - MAX_REFUSED
            ));
        }
        out
    }
}

/// The tightest policy that would have allowed exactly these runs (each
/// one trail's events, in order). See the module doc.
pub fn suggest(runs: &[Vec<OwnedEvent>]) -> Suggestion {
    let extends = profile_of(runs);
    let base = corral_policy::profile(&extends.value).unwrap_or_default();
    let base_net = NetPolicy::compile(&base.network).unwrap_or_default();

    let mut reached: BTreeMap<(String, u16), Reached> = BTreeMap::new();
    let mut refused = Counted::default();
    let mut notes = Counted::default();
    let mut written: BTreeMap<String, (String, u64)> = BTreeMap::new();
    let mut peak_rss: Option<u64> = None;
    let mut peak_threads: Option<u64> = None;
    let mut longest_ms: Option<f64> = None;
    let mut unknown_workspace = false;

    for run in runs {
        let ws = run_workspace(run);
        for ev in run {
            let reason = |r: &Option<String>| {
                r.as_deref()
                    .map(|r| format!(" - {}", printable(r)))
                    .unwrap_or_default()
            };
            match &ev.event {
                Event::NetConnect(net) => {
                    let port = net.port;
                    let host = net.host.to_ascii_lowercase();
                    let target = host_port(&printable(&host), u64::from(port));
                    match net.decision {
                        Decision::Allow if !host.is_empty() && port != 0 => {
                            let r = reached.entry((host.clone(), port)).or_default();
                            r.count += 1;
                            r.is_name = host.parse::<IpAddr>().is_err();
                            if let Some(p) = &net.protocol {
                                r.protocols.insert(p.clone());
                            }
                            if let Some(up) = net.upstream {
                                if special_range(up.ip()).is_some() {
                                    r.pinned.insert(up.ip().to_canonical());
                                }
                            }
                        }
                        Decision::Deny => refused.add(format!(
                            "connection to {target} denied{}",
                            reason(&net.reason)
                        )),
                        Decision::Error => refused.add(format!(
                            "connection to {target} failed{}",
                            reason(&net.reason)
                        )),
                        Decision::Allow => {}
                    }
                }
                Event::DnsQuery(dns) if dns.decision == Decision::Deny => refused.add(format!(
                    "DNS query for {} denied{}",
                    printable(&dns.host),
                    reason(&dns.reason)
                )),
                Event::FileWrite(w) => {
                    let op = crate::detectors::op_name(w.op);
                    for path in write_paths(w) {
                        let path = normalize(path);
                        if !w.writable {
                            refused.add(format!(
                                "write ({op}) to {} refused: outside the writable paths",
                                printable(&path)
                            ));
                            continue;
                        }
                        if !path.starts_with('/')
                            || PRIVATE.iter().any(|p| under(&path, p).is_some())
                        {
                            continue;
                        }
                        let Some(ws) = ws.as_deref() else {
                            unknown_workspace = true;
                            continue;
                        };
                        if under(&path, ws).is_some() {
                            continue;
                        }
                        let dir = write_dir(&path);
                        let e = written.entry(dir).or_insert_with(|| (path.clone(), 0));
                        e.1 += 1;
                    }
                }
                Event::SysDenied(d) => refused.add(format!(
                    "system call {} refused ({}){}",
                    printable(&d.syscall),
                    d.errno,
                    reason(&Some(d.reason.clone()))
                )),
                Event::SockConnect(sock) if matches!(sock.family.as_str(), "inet" | "inet6") => {
                    let addr = sock.addr.as_deref().unwrap_or("");
                    let ip = addr
                        .parse::<SocketAddr>()
                        .map(|a| a.ip().to_canonical())
                        .ok();
                    if ip.is_some_and(|ip| !ip.is_loopback() && !ip.is_unspecified()) {
                        refused.add(format!(
                            "direct connection to {} (not through the proxy): nothing but \
                             loopback is reachable from the sandbox",
                            printable(addr)
                        ));
                    }
                }
                Event::ResourceSample(sample) => {
                    let rss = sample.rss_kib;
                    peak_rss = Some(peak_rss.map_or(rss, |p| p.max(rss)));
                    let t = sample.threads;
                    peak_threads = Some(peak_threads.map_or(t, |p| p.max(t)));
                }
                Event::RunExit(exit) => {
                    if let Some(ms) = exit.wall_ms {
                        longest_ms = Some(longest_ms.map_or(ms, |p| p.max(ms)));
                    }
                    if exit.ending.as_deref() == Some("timed out") {
                        notes.add("a run ended at its timeout (exit status 124)".into());
                    }
                }
                Event::ResourceLimit(limit) => notes.add(format!(
                    "a run hit its {} limit{}",
                    crate::detectors::limit_name(limit.limit),
                    Some(&limit.detail)
                        .filter(|d| !d.is_empty())
                        .map(|d| format!(": {}", printable(d)))
                        .unwrap_or_default()
                )),
                other => match other.kind() {
                    "resource.memory" => notes.add(
                        "a run hit its memory limit (the kernel killed a process): the memory \
                         below may be too low"
                            .into(),
                    ),
                    "resource.pids" => notes.add(
                        "a run hit its process limit (a fork was refused): the pids below may \
                         be too low"
                            .into(),
                    ),
                    _ => {}
                },
            }
        }
    }
    if unknown_workspace {
        notes.add(
            "a trail has no run.start naming the workspace: its writes outside /tmp were not \
             considered"
                .into(),
        );
    }

    let mut allow = Vec::new();
    let mut rules = Vec::new();
    let mut resolve = Vec::new();
    for ((host, port), r) in &reached {
        let endpoint = host_port(host, u64::from(*port));
        let needed = needed_protocols(&r.protocols);
        let seen: Vec<&str> = r.protocols.iter().map(String::as_str).collect();
        let seen = if seen.is_empty() {
            "nothing sent".to_owned()
        } else {
            seen.join(", ")
        };
        let mut note = format!("{} connection(s), {seen}", r.count);
        if r.protocols.contains("stratum") {
            note.push_str("; STRATUM IS A MINING PROTOCOL: review before allowing");
        }
        let pinned: Vec<String> = r.pinned.iter().map(IpAddr::to_string).collect();
        if r.is_name && !pinned.is_empty() {
            resolve.push(Noted {
                value: format!("{host}:{port}:{}", pinned.join(",")),
                note: format!("{host} was reached at a loopback or private address"),
            });
        }
        let dest = match host.parse::<IpAddr>() {
            Ok(ip) => Dest::Ip(ip),
            Err(_) => Dest::Name(host),
        };
        let covered = base_net.denied(dest, *port).is_none()
            && base_net.allowed(dest, *port).iter().any(|rule| {
                rule.protocols.contains(&Protocol::Any)
                    || needed.iter().all(|p| rule.protocols.contains(p))
            });
        if covered {
            continue;
        }
        if needed.iter().all(|p| Protocol::DEFAULT.contains(p)) {
            allow.push(Noted {
                value: endpoint,
                note,
            });
        } else {
            rules.push(Noted {
                value: (endpoint, needed),
                note,
            });
        }
    }

    let mut write: Vec<Noted<String>> = Vec::new();
    for (dir, (example, count)) in &written {
        // Sorted: a parent comes before what is under it.
        if write.iter().any(|w| under(dir, &w.value).is_some()) {
            continue;
        }
        let depth = dir.split('/').filter(|c| !c.is_empty()).count();
        let mut note = format!("{count} write(s), e.g. {}", printable(example));
        if depth < 3 {
            note.push_str("; a broad grant: narrow it if you can");
        }
        write.push(Noted {
            value: dir.clone(),
            note,
        });
    }

    let memory = peak_rss.and_then(|kib| {
        let want = round_memory(kib.saturating_mul(1024).saturating_mul(3) / 2);
        let lower_in_base = base.limits.memory.is_some_and(|b| b.0 <= want);
        (!lower_in_base).then(|| Noted {
            value: ByteSize(want),
            note: format!(
                "peak {} MiB resident over the runs, x1.5, rounded up; files in /tmp (a tmpfs) \
                 count against it too",
                kib.div_ceil(1024)
            ),
        })
    });
    let pids = peak_threads.and_then(|t| {
        let want = t.saturating_mul(2).max(32);
        let lower_in_base = base.limits.pids.is_some_and(|b| b <= want);
        (!lower_in_base).then(|| Noted {
            value: want,
            note: format!("peak {t} processes and threads seen, x2 (at least 32)"),
        })
    });
    let timeout = longest_ms.and_then(|ms| {
        let want = round_timeout(ms * 2.0);
        let lower_in_base = base.limits.timeout.is_some_and(|b| b.0 <= want);
        (!lower_in_base).then(|| Noted {
            value: Duration(want),
            note: format!(
                "longest run {:.1}s, x2, rounded up (at least 10s)",
                ms / 1000.0
            ),
        })
    });
    if peak_rss.is_none() {
        notes.add(
            "no resource samples (runs shorter than the sample interval, or sampling off): no \
             memory or pids limit suggested"
                .into(),
        );
    }

    Suggestion {
        runs: runs.len(),
        extends,
        write,
        allow,
        rules,
        resolve,
        memory,
        pids,
        timeout,
        refused: refused.lines(),
        notes: notes.lines(),
    }
}

/// The profile the runs name in `run.start`, if they agree on a known one.
fn profile_of(runs: &[Vec<OwnedEvent>]) -> Noted<String> {
    let named: BTreeSet<Option<String>> = runs
        .iter()
        .map(|run| {
            run.iter().find_map(|e| match &e.event {
                Event::RunStart(start) => Some(start.profile.clone()).filter(|p| !p.is_empty()),
                _ => None,
            })
        })
        .collect();
    let default = corral_policy::DEFAULT_PROFILE.to_owned();
    match named.iter().collect::<Vec<_>>().as_slice() {
        [Some(name)] if corral_policy::PROFILE_NAMES.contains(&name.as_str()) => Noted {
            value: name.clone(),
            note: "the profile the runs used".into(),
        },
        [None] | [] => Noted {
            value: default,
            note: "the default profile: the trails do not name the one they used".into(),
        },
        _ => Noted {
            value: default,
            note: "the default profile: the trails name different or unknown profiles".into(),
        },
    }
}

/// The protocols a rule needs for what was seen: `ssh` as SSH, anything
/// unrecognised (`other`, `stratum`) as `any`.
fn needed_protocols(seen: &BTreeSet<String>) -> Vec<Protocol> {
    let mut out: Vec<Protocol> = Vec::new();
    for p in seen {
        let protocol = match p.as_str() {
            "tls" => Protocol::Tls,
            "http" => Protocol::Http,
            "ssh" => Protocol::Ssh,
            _ => Protocol::Any,
        };
        if !out.contains(&protocol) {
            out.push(protocol);
        }
    }
    if out.contains(&Protocol::Any) {
        return vec![Protocol::Any];
    }
    out.sort();
    out
}

/// The directory to make writable for a file written at `path`: its
/// parent, at most three components deep, cut before a generated one.
fn write_dir(path: &str) -> String {
    let comps: Vec<&str> = path.split('/').filter(|c| !c.is_empty()).collect();
    let parent = &comps[..comps.len().saturating_sub(1)];
    let kept: Vec<&str> = parent
        .iter()
        .take(3)
        .take_while(|c| generalise(c) == **c)
        .copied()
        .collect();
    format!("/{}", kept.join("/"))
}

/// Bytes rounded up: to 64M below 1G, to 256M above; at least 64M.
fn round_memory(bytes: u64) -> u64 {
    let unit = if bytes < 1024 * MIB {
        64 * MIB
    } else {
        256 * MIB
    };
    bytes.div_ceil(unit).saturating_mul(unit).max(64 * MIB)
}

/// Milliseconds rounded up: to a second below 2 minutes, to 10 seconds
/// below 10 minutes, to a minute above; at least 10 seconds.
fn round_timeout(ms: f64) -> std::time::Duration {
    let secs = (ms / 1000.0).ceil().max(10.0) as u64;
    let unit = match secs {
        0..120 => 1,
        120..600 => 10,
        _ => 60,
    };
    std::time::Duration::from_secs(secs.div_ceil(unit) * unit)
}

impl Suggestion {
    /// The policy file as [`corral_policy::Policy::from_toml_str`] reads it
    /// (before merging onto its profile).
    pub fn policy(&self) -> Policy {
        let mut p = Policy {
            extends: Some(self.extends.value.clone()),
            ..Policy::default()
        };
        p.filesystem.write = self.write.iter().map(|w| w.value.clone()).collect();
        p.network.allow = self.allow.iter().map(|a| a.value.clone()).collect();
        p.network.resolve = self.resolve.iter().map(|r| r.value.clone()).collect();
        for rule in &self.rules {
            p.network.rules.insert(
                rule.value.0.clone(),
                NetRule {
                    protocols: Some(rule.value.1.clone()),
                },
            );
        }
        p.limits.memory = self.memory.as_ref().map(|m| m.value);
        p.limits.pids = self.pids.as_ref().map(|m| m.value);
        p.limits.timeout = self.timeout.as_ref().map(|m| m.value);
        p
    }

    /// The policy file, with the reasons and the refusals as comments.
    pub fn to_toml(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# Suggested by `corral policy suggest` from {} run(s): the tightest policy that \
             would have\n# allowed what they did. Review it before use; refused attempts are \
             listed at the end.",
            self.runs
        );
        let _ = writeln!(
            out,
            "extends = {}  # {}",
            toml_quote(&self.extends.value),
            comment(&self.extends.note)
        );
        if !self.write.is_empty() {
            out.push_str("\n[filesystem]\n");
            noted_list(&mut out, "write", &self.write);
        }
        if !self.allow.is_empty() || !self.resolve.is_empty() {
            out.push_str("\n[network]\n");
            if !self.allow.is_empty() {
                noted_list(&mut out, "allow", &self.allow);
            }
            if !self.resolve.is_empty() {
                noted_list(&mut out, "resolve", &self.resolve);
            }
        }
        for rule in &self.rules {
            let (endpoint, protocols) = &rule.value;
            let _ = writeln!(out, "\n# {}", comment(&rule.note));
            let _ = writeln!(out, "[network.rules.{}]", toml_quote(endpoint));
            let names: Vec<String> = protocols.iter().map(|p| toml_quote(p.as_str())).collect();
            let _ = writeln!(out, "protocols = [{}]", names.join(", "));
        }
        if self.memory.is_some() || self.pids.is_some() || self.timeout.is_some() {
            out.push_str("\n[limits]\n");
            if let Some(m) = &self.memory {
                let v = toml_quote(&m.value.to_string());
                let _ = writeln!(out, "memory = {v}  # {}", comment(&m.note));
            }
            if let Some(p) = &self.pids {
                let _ = writeln!(out, "pids = {}  # {}", p.value, comment(&p.note));
            }
            if let Some(t) = &self.timeout {
                let v = toml_quote(&t.value.to_string());
                let _ = writeln!(out, "timeout = {v}  # {}", comment(&t.note));
            }
        }
        if !self.notes.is_empty() {
            out.push_str("\n# Notes:\n");
            for n in &self.notes {
                let _ = writeln!(out, "# - {}", comment(n));
            }
        }
        out.push_str("\n# Refused during the runs (not allowed above; decide by hand):\n");
        if self.refused.is_empty() {
            out.push_str("# - nothing\n");
        }
        for r in &self.refused {
            let _ = writeln!(out, "# - {}", comment(r));
        }
        out
    }
}

/// Text safe in a `#` comment: one line.
fn comment(text: &str) -> String {
    printable(text)
}

fn noted_list(out: &mut String, key: &str, items: &[Noted<String>]) {
    let _ = writeln!(out, "{key} = [");
    for item in items {
        let _ = writeln!(
            out,
            "    {},  # {}",
            toml_quote(&item.value),
            comment(&item.note)
        );
    }
    out.push_str("]\n");
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ev(kind: &str, details: serde_json::Value) -> OwnedEvent {
        OwnedEvent {
            at: std::time::Duration::ZERO,
            event: crate::test_support::event(kind, &details),
        }
    }

    fn allowed(host: &str, port: u16, protocol: &str, upstream: &str) -> OwnedEvent {
        ev(
            "net.connect",
            json!({ "via": "http-connect", "host": host, "port": port, "decision": "allow",
                    "protocol": protocol, "upstream": upstream }),
        )
    }

    fn parsed(s: &Suggestion) -> Policy {
        let text = s.to_toml();
        let back = Policy::from_toml_str(&text, "suggested.toml")
            .unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(back, s.policy(), "{text}");
        back
    }

    fn runs() -> Vec<Vec<OwnedEvent>> {
        let ws = "/home/u/proj";
        vec![
            vec![
                ev("run.start", json!({ "command": ["sh"], "cwd": ws })),
                allowed("pypi.org", 443, "tls", "151.101.0.223:443"),
                allowed("PyPI.org", 443, "tls", "151.101.0.223:443"),
                allowed("github.com", 22, "ssh", "140.82.112.3:22"),
                allowed("web.test", 8080, "http", "127.0.0.1:8080"),
                allowed("203.0.113.5", 5432, "other", "203.0.113.5:5432"),
                allowed("api.anthropic.com", 443, "tls", "160.79.104.10:443"),
                ev(
                    "net.connect",
                    json!({ "host": "gist.github.com", "port": 443, "decision": "deny",
                            "reason": "code must not leave through gists" }),
                ),
                ev(
                    "net.connect",
                    json!({ "host": "gist.github.com", "port": 443, "decision": "deny",
                            "reason": "code must not leave through gists" }),
                ),
                ev(
                    "dns.query",
                    json!({ "host": "evil.test", "decision": "deny", "reason": "no rule" }),
                ),
                ev(
                    "file.write",
                    json!({ "op": "create", "path": "/home/u/.cache/pip/http/a1b2c3d4e5/x",
                            "writable": true }),
                ),
                ev(
                    "file.write",
                    json!({ "op": "create", "path": "/home/u/.cache/pip/wheels/y",
                            "writable": true }),
                ),
                ev(
                    "file.write",
                    json!({ "op": "create", "path": "/home/u/proj/src/main.rs", "writable": true }),
                ),
                ev(
                    "file.write",
                    json!({ "op": "create", "path": "/tmp/scratch", "writable": true }),
                ),
                ev(
                    "file.write",
                    json!({ "op": "open", "path": "/etc/passwd", "writable": false }),
                ),
                ev(
                    "sys.denied",
                    json!({ "syscall": "ptrace", "reason": "debugging other processes",
                            "errno": "EPERM" }),
                ),
                ev(
                    "sock.connect",
                    json!({ "family": "inet", "addr": "198.51.100.7:443" }),
                ),
                ev(
                    "sock.connect",
                    json!({ "family": "inet", "addr": "127.0.0.1:3128" }),
                ),
                ev(
                    "resource.sample",
                    json!({ "processes": 3, "threads": 9, "rss_kib": 200_000, "cpu_percent": 50.0 }),
                ),
                ev("run.exit", json!({ "exit_code": 0, "wall_ms": 41_250.5 })),
            ],
            vec![
                ev("run.start", json!({ "command": ["sh"], "cwd": "/ci/proj" })),
                ev(
                    "resource.sample",
                    json!({ "processes": 2, "threads": 4, "rss_kib": 300_000 }),
                ),
                ev("run.exit", json!({ "exit_code": 1, "wall_ms": 3_000.0 })),
            ],
        ]
    }

    #[test]
    fn the_runs_become_the_tightest_policy() {
        let s = suggest(&runs());
        assert_eq!(s.runs, 2);
        assert_eq!(s.extends.value, "offline");
        let allow: Vec<&str> = s.allow.iter().map(|a| a.value.as_str()).collect();
        assert_eq!(
            allow,
            ["api.anthropic.com:443", "pypi.org:443", "web.test:8080"]
        );
        assert!(s.allow[1].note.starts_with("2 connection(s), tls"), "{s:?}");
        let rules: Vec<(&str, &[Protocol])> = s
            .rules
            .iter()
            .map(|r| (r.value.0.as_str(), r.value.1.as_slice()))
            .collect();
        assert_eq!(
            rules,
            [
                ("203.0.113.5:5432", &[Protocol::Any][..]),
                ("github.com:22", &[Protocol::Ssh][..]),
            ]
        );
        let resolve: Vec<&str> = s.resolve.iter().map(|r| r.value.as_str()).collect();
        assert_eq!(resolve, ["web.test:8080:127.0.0.1"]);
        let write: Vec<&str> = s.write.iter().map(|w| w.value.as_str()).collect();
        assert_eq!(write, ["/home/u/.cache"]);
        // 300000 KiB * 1.5 = 439.5 MiB -> 448M; 9 threads * 2 -> 32 (floor);
        // 41.25 s * 2 = 82.5 s -> 83s.
        assert_eq!(s.memory.as_ref().unwrap().value, "448M".parse().unwrap());
        assert_eq!(s.pids.as_ref().unwrap().value, 32);
        assert_eq!(s.timeout.as_ref().unwrap().value, "83s".parse().unwrap());
        assert_eq!(
            s.refused,
            [
                "connection to gist.github.com:443 denied - code must not leave through gists \
                 (2 times)",
                "DNS query for evil.test denied - no rule",
                "write (open) to /etc/passwd refused: outside the writable paths",
                "system call ptrace refused (EPERM) - debugging other processes",
                "direct connection to 198.51.100.7:443 (not through the proxy): nothing but \
                 loopback is reachable from the sandbox",
            ]
        );
        let back = parsed(&s);
        assert_eq!(back.extends.as_deref(), Some("offline"));
        let text = s.to_toml();
        assert!(
            text.contains("# - connection to gist.github.com:443 denied"),
            "{text}"
        );
        assert!(
            text.contains("    \"pypi.org:443\",  # 2 connection(s), tls\n"),
            "{text}"
        );
        assert!(text.contains("[network.rules.\"github.com:22\"]\nprotocols = [\"ssh\"]\n"));
        // The effective policy checks: the runs' connections are allowed.
        let effective = back.merged_onto(corral_policy::profile("offline").unwrap());
        let net = NetPolicy::compile(&effective.network).unwrap();
        assert_eq!(net.allowed(Dest::Name("pypi.org"), 443).len(), 1);
        assert!(net.allowed(Dest::Name("pypi.org"), 80).is_empty());
        assert_eq!(net.pinned("web.test", 8080).map(|p| p.addrs.len()), Some(1));
    }

    #[test]
    fn the_profile_the_runs_name_is_extended_and_what_it_allows_is_left_out() {
        let mut r = runs();
        let set_profile = |e: &mut OwnedEvent, name: &str| match &mut e.event {
            Event::RunStart(start) => start.profile = name.to_owned(),
            other => panic!("not a run.start: {other:?}"),
        };
        for run in &mut r {
            set_profile(&mut run[0], "coding-agent");
        }
        let s = suggest(&r);
        assert_eq!(s.extends.value, "coding-agent");
        let allow: Vec<&str> = s.allow.iter().map(|a| a.value.as_str()).collect();
        assert_eq!(
            allow,
            ["web.test:8080"],
            "pypi and anthropic come with the profile"
        );
        parsed(&s);
        // Runs that disagree: the default, and says so.
        set_profile(&mut r[1][0], "rollout");
        let s = suggest(&r);
        assert_eq!(s.extends.value, "offline");
        assert!(s.extends.note.contains("different"), "{s:?}");
        // The rollout profile's limits are lower than the runs' headroom would be.
        let rollout = vec![vec![
            ev("run.start", json!({ "cwd": "/w", "profile": "rollout" })),
            ev(
                "resource.sample",
                json!({ "threads": 200, "rss_kib": 2_000_000 }),
            ),
            ev("run.exit", json!({ "wall_ms": 400_000.0 })),
        ]];
        let s = suggest(&rollout);
        assert_eq!(s.extends.value, "rollout");
        assert!(
            s.memory.is_none() && s.pids.is_none() && s.timeout.is_none(),
            "{s:?}"
        );
        parsed(&s);
    }

    #[test]
    fn a_quiet_run_gives_a_bare_policy_that_still_parses() {
        let s = suggest(&[vec![ev("run.start", json!({ "cwd": "/w" }))]]);
        assert!(s.allow.is_empty() && s.write.is_empty() && s.rules.is_empty());
        assert!(
            s.notes.iter().any(|n| n.contains("no resource samples")),
            "{s:?}"
        );
        let text = s.to_toml();
        assert!(text.contains("# - nothing\n"), "{text}");
        assert!(
            !text.contains("[network]"),
            "no empty list over the profile: {text}"
        );
        parsed(&s);
        parsed(&suggest(&[]));
    }

    #[test]
    fn odd_text_stays_inside_strings_and_comments() {
        let s = suggest(&[vec![
            ev("run.start", json!({ "cwd": "/w" })),
            ev(
                "net.connect",
                json!({ "host": "x.test", "port": 443, "decision": "deny",
                        "reason": "two\nlines \"quoted\" \u{7f}" }),
            ),
            ev(
                "file.write",
                json!({ "op": "create", "path": "/srv/we\"ird\u{7f}/a/b/c", "writable": true }),
            ),
            allowed("stratum.test", 3333, "stratum", "203.0.113.9:3333"),
        ]]);
        let text = s.to_toml();
        assert!(text.contains("two\\nlines"), "{text}");
        assert!(text.contains("MINING PROTOCOL"), "{text}");
        let back = parsed(&s);
        assert_eq!(back.filesystem.write, ["/srv/we\"ird\u{7f}/a"]);
    }

    #[test]
    fn rounding_is_as_documented() {
        assert_eq!(round_memory(1), 64 * MIB);
        assert_eq!(round_memory(64 * MIB + 1), 128 * MIB);
        assert_eq!(round_memory(1100 * MIB), 1280 * MIB);
        assert_eq!(round_timeout(10.0).as_secs(), 10);
        assert_eq!(round_timeout(61_001.0).as_secs(), 62);
        assert_eq!(round_timeout(200_500.0).as_secs(), 210);
        assert_eq!(round_timeout(3_600_001.0).as_secs(), 3660);
        assert_eq!(write_dir("/root/.cache/pip/http/a/b"), "/root/.cache/pip");
        assert_eq!(write_dir("/srv/build-1a2b3c4d/x"), "/srv");
        assert_eq!(write_dir("/home/u/file"), "/home/u");
    }
}
