//! Baselines: what normal runs of a command did, learnt from their audit
//! trails, and the `baseline.*` findings for what a new run does beyond it.
//!
//! # What is learnt
//!
//! - **Executables** (`[exec] paths`): the path of every `proc.exec`
//!   (attempts a PATH search could not complete, `"found": false`, are
//!   skipped), made absolute against the event's `cwd`, `.` and `..`
//!   removed. A path inside the run's workspace is stored relative to it,
//!   as `$WORKSPACE/...`, so that a baseline learnt in one checkout
//!   applies to another. Path components that look generated (numbers,
//!   hashes such as cargo's `foo-1a2b3c4d5e6f7a8b`, `mktemp` names such as
//!   `tmp.AbC123xyz`) become `*`: `$WORKSPACE/target/debug/build/foo-*/build-script-build`.
//! - **Endpoints** (`[connect] endpoints`): `host:port` of every
//!   connection the egress proxy allowed (`net.connect` with
//!   `"decision": "allow"`), and `IP:PORT` of every direct `inet` or
//!   `inet6` `sock.connect` (the proxy's own address among them). A
//!   loopback port in the ephemeral range (32768 and up) is stored as `*`
//!   (`127.0.0.1:*`): a test server's random port is not a new endpoint.
//! - **Write locations** (`[write] paths`): every `file.write` path (and
//!   the `to` of a rename), generalised: a file at the top of the
//!   workspace stays as it is (`$WORKSPACE/Cargo.lock`), anything deeper
//!   becomes its top directory and everything below
//!   (`$WORKSPACE/target/debug/build/foo-1a2b/out/x.o` is
//!   `$WORKSPACE/target/**`); the private scratch directories become
//!   `/tmp/**`, `/var/tmp/**`, `/run/**`, `/dev/shm/**`; other paths keep
//!   at most three components (`/root/.cache/pip/http/a/b` is
//!   `/root/.cache/pip/**`). Writes the sandbox refused (`"writable":
//!   false`) are not learnt, and not checked either: they did not happen,
//!   and corral reports refusals on its own.
//! - **The envelope** (`[envelope]`): the peaks of the whole sandbox over
//!   every `resource.sample` of every run: `cpu_percent` (of one core),
//!   `rss_kib`, `processes`. Absent when the runs had no samples.
//! - **`runs`**: how many runs it was learnt from.
//!
//! # The file
//!
//! TOML, meant to be read and edited by hand:
//!
//! ```toml
//! version = 1
//! runs = 3
//!
//! [exec]
//! paths = [
//!     "/usr/bin/cargo",
//!     "$WORKSPACE/target/debug/build/*/build-script-build",
//! ]
//!
//! [connect]
//! endpoints = ["index.crates.io:443", "127.0.0.1:3128"]
//!
//! [write]
//! paths = ["$WORKSPACE/Cargo.lock", "$WORKSPACE/target/**", "/tmp/**"]
//!
//! [envelope]
//! cpu_percent = 390.5
//! rss_kib = 1843200
//! processes = 24
//! ```
//!
//! Patterns: in paths `*` matches within one component and a `**`
//! component matches any number of components (`dir/**` covers `dir`
//! itself); in endpoints `*` matches any characters (`*.crates.io:443`,
//! `10.0.0.5:*`). No other character is special. `$WORKSPACE` is the
//! workspace of the run being checked ([`Context::workspace`]); without
//! one, a `$WORKSPACE/...` pattern matches that path under any directory.
//! Every key is optional but `version`; an unknown key is an error.
//!
//! The file is TOML read with the `toml` crate: strings in either quote
//! style, integers, floats and arrays of them in the four tables; anything
//! else (a boolean, a date, a nested table) is refused with the line.
//!
//! # Findings
//!
//! [`Baseline::check`] returns, for one event, a finding per thing it did
//! that no learnt run did (severity medium, response [`Response::Log`]:
//! the engine sets it):
//!
//! | id | raised by | subject |
//! |---|---|---|
//! | `baseline.exec` | a `proc.exec` of a path no pattern covers | the path (generalised) |
//! | `baseline.connect` | an allowed `net.connect`, or an inet `sock.connect`, to an endpoint no pattern covers | `host:port` (generalised) |
//! | `baseline.write` | a `file.write` the sandbox allowed (path or rename target) that no pattern covers | the write location (generalised) |
//! | `baseline.cpu` | a `resource.sample` above the CPU envelope | `cpu_percent > LIMIT` |
//! | `baseline.memory` | a `resource.sample` above the memory envelope | `rss_kib > LIMIT` |
//!
//! `check` keeps no state (it takes `&self`), so every matching event
//! raises its finding again: the engine raises each (id, subject) once.
//! The subject is the finding's first evidence's `summary`, and is named
//! in the explanation; `pid` is the event's.
//!
//! The envelope has a margin: a sample is above it when `cpu_percent`
//! exceeds both 1.5 times the learnt peak and the peak plus 50 (half a
//! core), or `rss_kib` exceeds both 1.5 times the peak and the peak plus
//! 65536 (64 MiB). The floors keep a baseline learnt from tiny runs from
//! flagging every ordinary wobble. Edit the peaks to move the thresholds.

use crate::{Context, Event, Evidence, Finding, OwnedEvent, Response, Severity};
use corral_event::{Decision, FileWrite, ProcExec, SampleProcess};
use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

mod file;
mod pattern;

pub(crate) use file::toml_quote;
#[cfg(test)]
use pattern::{covers, wild};
use pattern::{path_matches, Compiled};

#[derive(Debug, thiserror::Error)]
pub enum BaselineError {
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Baseline {
    runs: u64,
    execs: BTreeSet<String>,
    endpoints: BTreeSet<String>,
    writes: BTreeSet<String>,
    envelope: Envelope,
    /// The patterns above, compiled.
    compiled: Compiled,
}

/// Peaks of the whole sandbox over every sample of every run.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Envelope {
    cpu_percent: Option<f64>,
    rss_kib: Option<u64>,
    processes: Option<u64>,
}

/// The envelope's margin: a factor on the peak...
const MARGIN: f64 = 1.5;
/// ...and at least this much above it: CPU in percent of one core...
const CPU_FLOOR: f64 = 50.0;
/// ...and memory in KiB.
const MEMORY_FLOOR_KIB: f64 = 65536.0;
/// Where the workspace goes in learnt paths.
const WORKSPACE: &str = "$WORKSPACE";
/// Private to every sandbox: whatever is written there is scratch.
const SCRATCH: [&str; 4] = ["/tmp", "/var/tmp", "/run", "/dev/shm"];

impl Baseline {
    /// Learns from whole runs (each one trail's events, in order).
    pub fn learn(runs: &[Vec<OwnedEvent>]) -> Baseline {
        let mut b = Baseline::default();
        for run in runs {
            b.runs += 1;
            let ws = run_workspace(run);
            let ws = ws.as_deref();
            for ev in run {
                match &ev.event {
                    Event::ProcExec(exec) => {
                        if let Some(path) = exec_path(exec) {
                            b.execs.insert(exec_pattern(&path, ws));
                        }
                    }
                    Event::NetConnect(_) | Event::SockConnect(_) => {
                        if let Some(endpoint) = endpoint(&ev.event) {
                            b.endpoints.insert(endpoint_pattern(&endpoint));
                        }
                    }
                    Event::FileWrite(w) if !w.writable => {}
                    Event::FileWrite(w) => {
                        for path in write_paths(w) {
                            b.writes.insert(write_location(path, ws));
                        }
                    }
                    Event::ResourceSample(sample) => {
                        let env = &mut b.envelope;
                        let cpu = sample.cpu_percent;
                        env.cpu_percent = Some(env.cpu_percent.map_or(cpu, |p| p.max(cpu)));
                        let rss = sample.rss_kib;
                        env.rss_kib = Some(env.rss_kib.map_or(rss, |p| p.max(rss)));
                        let n = sample.processes;
                        env.processes = Some(env.processes.map_or(n, |p| p.max(n)));
                    }
                    _ => {}
                }
            }
        }
        b.writes = compact(&b.writes);
        b.execs = compact(&b.execs);
        b.compile()
    }

    /// With its patterns compiled (after they change).
    fn compile(mut self) -> Baseline {
        self.compiled = Compiled::new(&self.execs, &self.writes, &self.endpoints);
        self
    }

    pub fn load(path: &Path) -> Result<Baseline, BaselineError> {
        let invalid = |message: String| BaselineError::Invalid {
            path: path.display().to_string(),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|e| {
            invalid(format!(
                "cannot read the baseline: {e}; give the file `corral learn` wrote"
            ))
        })?;
        Baseline::from_toml_str(&text).map_err(invalid)
    }

    /// How many runs it was learnt from.
    pub fn runs(&self) -> u64 {
        self.runs
    }

    /// The executables' patterns, sorted.
    pub fn execs(&self) -> impl Iterator<Item = &str> {
        self.execs.iter().map(String::as_str)
    }

    /// The endpoints' patterns, sorted.
    pub fn endpoints(&self) -> impl Iterator<Item = &str> {
        self.endpoints.iter().map(String::as_str)
    }

    /// The write locations' patterns, sorted.
    pub fn writes(&self) -> impl Iterator<Item = &str> {
        self.writes.iter().map(String::as_str)
    }

    /// Whether `exe` (an executable's path, or a process's comm) ran in the
    /// learnt runs: the CPU-shaped mining detector spares expected ones.
    ///
    /// A path matches a learnt path (a `$WORKSPACE/...` one under any
    /// directory); a name (no `/`) matches a learnt path's last
    /// component, and a 15-byte name (the kernel cuts a comm there) any
    /// last component it starts.
    pub fn knows_exec(&self, exe: &str) -> bool {
        if exe.contains('/') {
            let path = normalize(exe);
            return self.compiled.execs.iter().any(|p| p.covers(&path, true));
        }
        self.compiled.execs.iter().any(|p| p.names(exe))
    }

    /// The `baseline.*` findings for this event (response left `Log`: the
    /// engine sets it). See the module doc.
    pub fn check(&self, context: &Context, at: Duration, event: &Event) -> Vec<Finding> {
        let event = Seen { at, event };
        let ws = context
            .workspace
            .as_deref()
            .map(|w| normalize(&w.to_string_lossy()));
        let ws = ws.as_deref();
        let runs = self.runs;
        let mut out = Vec::new();
        match event.event {
            Event::ProcExec(exec) => {
                let Some(path) = exec_path(exec) else {
                    return out;
                };
                let shown = in_workspace(&path, ws);
                if self
                    .compiled
                    .execs
                    .iter()
                    .any(|p| p.covers(&shown, ws.is_none()))
                {
                    return out;
                }
                let argv = exec.argv.join(" ");
                let subject = exec_pattern(&path, ws);
                out.push(finding(
                    "baseline.exec",
                    "",
                    format!(
                        "ran {}, an executable none of the {runs} baseline run(s) ran (argv: {})",
                        printable(&shown),
                        printable(&argv)
                    ),
                    &event,
                    subject,
                ));
            }
            Event::NetConnect(_) | Event::SockConnect(_) => {
                let Some(endpoint) = endpoint(event.event) else {
                    return out;
                };
                if self.compiled.reached(&endpoint) {
                    return out;
                }
                let how = if matches!(event.event, Event::NetConnect(_)) {
                    "through the proxy"
                } else {
                    "directly"
                };
                out.push(finding(
                    "baseline.connect",
                    "",
                    format!(
                        "connected {how} to {}, an endpoint none of the {runs} baseline run(s) \
                         reached",
                        printable(&endpoint)
                    ),
                    &event,
                    endpoint_pattern(&endpoint),
                ));
            }
            Event::FileWrite(w) if !w.writable => {}
            Event::FileWrite(w) => {
                let mut seen = BTreeSet::new();
                for path in write_paths(w) {
                    let shown = in_workspace(&normalize(path), ws);
                    if self
                        .compiled
                        .writes
                        .iter()
                        .any(|p| p.covers(&shown, ws.is_none()))
                    {
                        continue;
                    }
                    let subject = write_location(path, ws);
                    if self.writes.contains(&subject) || !seen.insert(subject.clone()) {
                        continue;
                    }
                    let op = crate::detectors::op_name(w.op);
                    out.push(finding(
                        "baseline.write",
                        "",
                        if shown == subject {
                            format!(
                                "wrote ({op}) {}, where none of the {runs} baseline run(s) wrote",
                                printable(&shown)
                            )
                        } else {
                            format!(
                                "wrote ({op}) {}, in {}, where none of the {runs} baseline \
                                 run(s) wrote",
                                printable(&shown),
                                printable(&subject)
                            )
                        },
                        &event,
                        subject,
                    ));
                }
            }
            Event::ResourceSample(sample) => {
                let env = &self.envelope;
                let busiest = |key: fn(&SampleProcess) -> f64| -> Option<u32> {
                    sample
                        .top
                        .iter()
                        .max_by(|a, b| key(a).total_cmp(&key(b)))
                        .map(|p| p.pid)
                };
                if let Some(peak) = env.cpu_percent {
                    let cpu = sample.cpu_percent;
                    let limit = (peak * MARGIN).max(peak + CPU_FLOOR);
                    if cpu > limit {
                        let mut f = finding(
                            "baseline.cpu",
                            "T1496",
                            format!(
                                "the sandbox used {cpu:.0}% CPU, above the baseline's envelope \
                                 ({limit:.0}%: peak {peak:.0}% over {runs} run(s), with margin)"
                            ),
                            &event,
                            format!("cpu_percent > {limit:.0}"),
                        );
                        f.pid = busiest(|p| p.cpu_percent);
                        out.push(f);
                    }
                }
                if let Some(peak) = env.rss_kib {
                    let rss = sample.rss_kib;
                    let limit = (peak as f64 * MARGIN).max(peak as f64 + MEMORY_FLOOR_KIB);
                    if rss as f64 > limit {
                        let mut f = finding(
                            "baseline.memory",
                            "",
                            format!(
                                "the sandbox's processes held {} MiB, above the baseline's \
                                 envelope ({:.0} MiB: peak {} MiB over {runs} run(s), with \
                                 margin)",
                                rss / 1024,
                                limit / 1024.0,
                                peak / 1024
                            ),
                            &event,
                            format!("rss_kib > {limit:.0}"),
                        );
                        f.pid = busiest(|p| p.rss_kib as f64);
                        out.push(f);
                    }
                }
            }
            _ => {}
        }
        out
    }
}

/// An event and when it happened, for a finding's evidence.
struct Seen<'a> {
    at: Duration,
    event: &'a Event,
}

fn finding(
    id: &str,
    technique: &'static str,
    explanation: String,
    event: &Seen<'_>,
    subject: String,
) -> Finding {
    let pid = crate::detectors::pid_of(event.event);
    Finding {
        id: id.to_owned(),
        severity: Severity::Medium,
        technique: technique.to_owned(),
        explanation,
        response: Response::Log,
        pid,
        evidence: vec![Evidence {
            kind: event.event.kind().to_owned(),
            at_ms: u64::try_from(event.at.as_millis()).unwrap_or(u64::MAX),
            pid,
            summary: printable(&subject),
        }],
    }
}

/// The run's workspace: the `run.start` event's `workspace`, else its `cwd`.
pub(crate) fn run_workspace(run: &[OwnedEvent]) -> Option<String> {
    let start = run.iter().find_map(|e| match &e.event {
        Event::RunStart(start) => Some(start),
        _ => None,
    })?;
    [&start.workspace, &start.cwd]
        .into_iter()
        .find(|w| w.starts_with('/'))
        .map(|w| normalize(w))
}

/// The executable of a `proc.exec`, absolute when it can be made so; none
/// for a PATH search's failed attempt.
pub(crate) fn exec_path(exec: &ProcExec) -> Option<String> {
    if exec.found == Some(false) {
        return None;
    }
    let path = exec.path.as_str();
    if path.is_empty() {
        return None;
    }
    if path.starts_with('/') {
        return Some(normalize(path));
    }
    // execveat with a descriptor: relative to that, which the event does
    // not name (AT_FDCWD, -100, is the cwd).
    match (exec.cwd.as_deref(), exec.dirfd) {
        (Some(cwd), None | Some(-100)) if cwd.starts_with('/') => {
            Some(normalize(&format!("{cwd}/{path}")))
        }
        _ => Some(path.to_owned()),
    }
}

/// `host:port` of an allowed `net.connect`, or `IP:PORT` of an inet
/// `sock.connect`.
pub(crate) fn endpoint(event: &Event) -> Option<String> {
    match event {
        Event::NetConnect(net) => {
            if net.decision != Decision::Allow {
                return None;
            }
            Some(host_port(
                &net.host.to_ascii_lowercase(),
                u64::from(net.port),
            ))
        }
        Event::SockConnect(sock) => {
            matches!(sock.family.as_str(), "inet" | "inet6").then_some(())?;
            sock.addr.clone()
        }
        _ => None,
    }
}

pub(crate) use crate::detectors::host_port;

/// A loopback endpoint on an ephemeral port becomes `ADDR:*`.
fn endpoint_pattern(endpoint: &str) -> String {
    let Some((host, port)) = endpoint.rsplit_once(':') else {
        return endpoint.to_owned();
    };
    let addr = host.trim_start_matches('[').trim_end_matches(']');
    let loopback = addr
        .parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.to_canonical().is_loopback());
    match port.parse::<u16>() {
        Ok(p) if loopback && p >= 32768 => format!("{host}:*"),
        _ => endpoint.to_owned(),
    }
}

/// The paths a `file.write` touches: `path`, and `to` for a rename.
pub(crate) fn write_paths(w: &FileWrite) -> impl Iterator<Item = &str> {
    [w.path.as_deref(), w.to.as_deref()]
        .into_iter()
        .flatten()
        .filter(|p| !p.is_empty())
}

/// `path` as `$WORKSPACE/...` when it is inside `ws` (both normalized).
pub(crate) fn in_workspace(path: &str, ws: Option<&str>) -> String {
    match ws.and_then(|ws| under(path, ws)) {
        Some("") => WORKSPACE.to_owned(),
        Some(rel) => format!("{WORKSPACE}/{rel}"),
        None => path.to_owned(),
    }
}

/// The part of `path` below `dir` (`""` for `dir` itself).
pub(crate) fn under<'p>(path: &'p str, dir: &str) -> Option<&'p str> {
    let dir = dir.trim_end_matches('/');
    if dir.is_empty() {
        return path.strip_prefix('/');
    }
    let rest = path.strip_prefix(dir)?;
    if rest.is_empty() {
        Some("")
    } else {
        rest.strip_prefix('/')
    }
}

/// An executable's learnt form: in the workspace or not, generated
/// components as `*`.
fn exec_pattern(path: &str, ws: Option<&str>) -> String {
    let shown = in_workspace(path, ws);
    shown
        .split('/')
        .map(|c| {
            if c == WORKSPACE {
                c.to_owned()
            } else {
                generalise(c)
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Where a write lands, as learnt (see the module doc).
pub(crate) fn write_location(path: &str, ws: Option<&str>) -> String {
    let path = normalize(path);
    if !path.starts_with('/') {
        return path
            .split('/')
            .map(generalise)
            .collect::<Vec<_>>()
            .join("/");
    }
    if let Some(rel) = ws.and_then(|ws| under(&path, ws)) {
        let comps: Vec<&str> = rel.split('/').filter(|c| !c.is_empty()).collect();
        return match comps.as_slice() {
            [] => WORKSPACE.to_owned(),
            [file] => format!("{WORKSPACE}/{}", generalise(file)),
            [top, ..] => format!("{WORKSPACE}/{}/**", generalise(top)),
        };
    }
    if let Some(scratch) = SCRATCH.iter().find(|s| under(&path, s).is_some()) {
        return format!("{scratch}/**");
    }
    let comps: Vec<String> = path
        .split('/')
        .filter(|c| !c.is_empty())
        .map(generalise)
        .collect();
    if comps.len() <= 3 {
        format!("/{}", comps.join("/"))
    } else {
        format!("/{}/**", comps[..3].join("/"))
    }
}

/// Drops the patterns another pattern of the set already covers.
fn compact(set: &BTreeSet<String>) -> BTreeSet<String> {
    set.iter()
        .filter(|p| !set.iter().any(|q| q != *p && path_matches(q, p)))
        .cloned()
        .collect()
}

/// A path component with its generated parts as `*`: an all-digit
/// component, a hex run of 6 or more with at least two digits and two
/// letters (`1a2b3c`, cargo's hashes), a run of 6 or more mixing upper
/// and lower case letters and digits (`mktemp`'s `AbC123`).
pub(crate) fn generalise(component: &str) -> String {
    if component.is_empty() || component == "**" {
        return component.to_owned();
    }
    if component.bytes().all(|b| b.is_ascii_digit()) {
        return "*".to_owned();
    }
    let mut out = String::new();
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if generated(run) {
            if !out.ends_with('*') {
                out.push('*');
            }
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in component.chars() {
        if c.is_ascii_alphanumeric() {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}

fn generated(run: &str) -> bool {
    if run.len() < 6 {
        return false;
    }
    let digits = run.bytes().filter(u8::is_ascii_digit).count();
    let hex_letters = run
        .bytes()
        .filter(|b| matches!(b, b'a'..=b'f' | b'A'..=b'F'))
        .count();
    let all_hex = run.bytes().all(|b| b.is_ascii_hexdigit());
    let upper = run.bytes().any(|b| b.is_ascii_uppercase());
    let lower = run.bytes().any(|b| b.is_ascii_lowercase());
    (all_hex && digits >= 2 && hex_letters >= 2) || (upper && lower && digits >= 1)
}

/// `path` without `.`, `..` and repeated or trailing slashes (lexically:
/// the trail records what was asked, not what the links resolve to).
pub(crate) fn normalize(path: &str) -> String {
    let absolute = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|p| *p != "..") {
                    parts.pop();
                } else if !absolute {
                    parts.push("..");
                }
            }
            c => parts.push(c),
        }
    }
    let joined = parts.join("/");
    if absolute {
        format!("/{joined}")
    } else if joined.is_empty() {
        ".".to_owned()
    } else {
        joined
    }
}

pub(crate) use corral_policy::printable;

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
