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
//! The file is read by a small parser of the TOML subset above (tables,
//! `key = value` with strings in either quote style, integers, floats and
//! arrays of them, comments): anything else is refused with the line.
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
use serde_json::{Map, Value};
use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::Path;

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
}

/// Peaks of the whole sandbox over every sample of every run.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Envelope {
    cpu_percent: Option<f64>,
    rss_kib: Option<u64>,
    processes: Option<u64>,
}

/// The file format's version, the `version` key.
const VERSION: i64 = 1;
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
                let d = &ev.details;
                match ev.kind.as_str() {
                    "proc.exec" => {
                        if let Some(path) = exec_path(d) {
                            b.execs.insert(exec_pattern(&path, ws));
                        }
                    }
                    "net.connect" | "sock.connect" => {
                        if let Some(endpoint) = endpoint(&ev.kind, d) {
                            b.endpoints.insert(endpoint_pattern(&endpoint));
                        }
                    }
                    "file.write" if refused(d) => {}
                    "file.write" => {
                        for path in write_paths(d) {
                            b.writes.insert(write_location(&path, ws));
                        }
                    }
                    "resource.sample" => {
                        let env = &mut b.envelope;
                        if let Some(cpu) = d.get("cpu_percent").and_then(Value::as_f64) {
                            env.cpu_percent = Some(env.cpu_percent.map_or(cpu, |p| p.max(cpu)));
                        }
                        if let Some(rss) = d.get("rss_kib").and_then(Value::as_u64) {
                            env.rss_kib = Some(env.rss_kib.map_or(rss, |p| p.max(rss)));
                        }
                        if let Some(n) = d.get("processes").and_then(Value::as_u64) {
                            env.processes = Some(env.processes.map_or(n, |p| p.max(n)));
                        }
                    }
                    _ => {}
                }
            }
        }
        b.writes = compact(&b.writes);
        b.execs = compact(&b.execs);
        b
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

    /// Parses a baseline (see the module doc); the error names the line
    /// and the key, and says what to do.
    pub fn from_toml_str(text: &str) -> Result<Baseline, String> {
        let entries = toml_subset::parse(text)
            .map_err(|(line, problem)| format!("line {line}: {problem}"))?;
        let mut b = Baseline::default();
        let mut version = None;
        for entry in &entries {
            let at =
                |problem: String| format!("line {}: `{}`: {problem}", entry.line, entry.dotted());
            match (entry.table.as_str(), entry.key.as_str()) {
                ("", "version") => {
                    let v = entry.value.as_int().ok_or_else(|| {
                        at(format!("expected the number {VERSION}, e.g. `version = 1`"))
                    })?;
                    if v != VERSION {
                        return Err(at(format!(
                            "version {v} is not one this corral reads (it reads version \
                             {VERSION}); learn the baseline again with `corral learn`"
                        )));
                    }
                    version = Some(v);
                }
                ("", "runs") => {
                    b.runs = entry
                        .value
                        .as_int()
                        .and_then(|n| u64::try_from(n).ok())
                        .ok_or_else(|| {
                            at("expected a whole number of runs, e.g. `runs = 3`".into())
                        })?;
                }
                ("exec", "paths") => {
                    b.execs = strings(entry, check_path_pattern).map_err(at)?;
                }
                ("connect", "endpoints") => {
                    b.endpoints = strings(entry, check_endpoint_pattern).map_err(at)?;
                }
                ("write", "paths") => {
                    b.writes = strings(entry, check_path_pattern).map_err(at)?;
                }
                ("envelope", "cpu_percent") => {
                    let v = entry
                        .value
                        .as_float()
                        .filter(|v| v.is_finite() && *v >= 0.0)
                        .ok_or_else(|| {
                            at(
                                "expected a number of percent of one core, e.g. `cpu_percent \
                                = 150.0`"
                                    .into(),
                            )
                        })?;
                    b.envelope.cpu_percent = Some(v);
                }
                ("envelope", key @ ("rss_kib" | "processes")) => {
                    let v = entry
                        .value
                        .as_int()
                        .and_then(|n| u64::try_from(n).ok())
                        .ok_or_else(|| {
                            at(format!("expected a whole number, e.g. `{key} = 1024`"))
                        })?;
                    if key == "rss_kib" {
                        b.envelope.rss_kib = Some(v);
                    } else {
                        b.envelope.processes = Some(v);
                    }
                }
                (table, _) => {
                    let expected = match table {
                        "" => {
                            "`version`, `runs` and the tables [exec], [connect], [write], \
                               [envelope]"
                        }
                        "exec" | "write" => "`paths`",
                        "connect" => "`endpoints`",
                        "envelope" => "`cpu_percent`, `rss_kib` and `processes`",
                        _ => "the tables [exec], [connect], [write] and [envelope]",
                    };
                    return Err(at(format!(
                        "unknown key; a baseline has {expected}: remove it or fix its name"
                    )));
                }
            }
        }
        if version.is_none() {
            return Err(format!(
                "`version`: missing; add `version = {VERSION}` at the top (the file must be a \
                 baseline written by `corral learn`)"
            ));
        }
        Ok(b)
    }

    pub fn to_toml(&self) -> String {
        let mut out = String::new();
        out.push_str(
            "# corral baseline: what normal runs did. `corral learn` wrote it; edit freely.\n\
             # Paths: `*` matches within a component, `**` any depth; `$WORKSPACE` is the run's\n\
             # workspace. Endpoints: `*` matches anything. Format: README, \"Baselines\".\n",
        );
        let _ = writeln!(out, "version = {VERSION}");
        let _ = writeln!(out, "runs = {}", self.runs);
        out.push_str("\n[exec]\n# Executables run.\n");
        string_list(&mut out, "paths", &self.execs);
        out.push_str("\n[connect]\n# Endpoints reached, host:port.\n");
        string_list(&mut out, "endpoints", &self.endpoints);
        out.push_str("\n[write]\n# Where files were written, created, renamed or removed.\n");
        string_list(&mut out, "paths", &self.writes);
        out.push_str(
            "\n[envelope]\n# Peaks of the whole sandbox; a run is flagged above 1.5x (and at least\n\
             # +50 CPU percent, +64 MiB).\n",
        );
        let env = &self.envelope;
        if let Some(cpu) = env.cpu_percent {
            let _ = writeln!(out, "cpu_percent = {cpu:.1}");
        }
        if let Some(rss) = env.rss_kib {
            let _ = writeln!(out, "rss_kib = {rss}");
        }
        if let Some(n) = env.processes {
            let _ = writeln!(out, "processes = {n}");
        }
        out
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
            return self.execs.iter().any(|p| covers(p, &path, true));
        }
        self.execs.iter().any(|p| {
            let last = p.rsplit('/').next().unwrap_or(p);
            wild(last, exe) || (exe.len() == 15 && !last.contains('*') && last.starts_with(exe))
        })
    }

    /// The `baseline.*` findings for this event (response left `Log`: the
    /// engine sets it). See the module doc.
    pub fn check(&self, context: &Context, event: &Event<'_>) -> Vec<Finding> {
        let d = event.details;
        let ws = context
            .workspace
            .as_deref()
            .map(|w| normalize(&w.to_string_lossy()));
        let ws = ws.as_deref();
        let runs = self.runs;
        let mut out = Vec::new();
        match event.kind {
            "proc.exec" => {
                let Some(path) = exec_path(d) else {
                    return out;
                };
                let shown = in_workspace(&path, ws);
                if self.execs.iter().any(|p| covers(p, &shown, ws.is_none())) {
                    return out;
                }
                let argv = d
                    .get("argv")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .map(|v| v.as_str().unwrap_or("?"))
                            .collect::<Vec<_>>()
                            .join(" ")
                    })
                    .unwrap_or_default();
                let subject = exec_pattern(&path, ws);
                out.push(finding(
                    "baseline.exec",
                    "",
                    format!(
                        "ran {}, an executable none of the {runs} baseline run(s) ran (argv: {})",
                        printable(&shown),
                        printable(&argv)
                    ),
                    event,
                    subject,
                ));
            }
            "net.connect" | "sock.connect" => {
                let Some(endpoint) = endpoint(event.kind, d) else {
                    return out;
                };
                if self.endpoints.iter().any(|p| wild(p, &endpoint)) {
                    return out;
                }
                let how = if event.kind == "net.connect" {
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
                    event,
                    endpoint_pattern(&endpoint),
                ));
            }
            "file.write" if refused(d) => {}
            "file.write" => {
                let mut seen = BTreeSet::new();
                for path in write_paths(d) {
                    let shown = in_workspace(&normalize(&path), ws);
                    if self.writes.iter().any(|p| covers(p, &shown, ws.is_none())) {
                        continue;
                    }
                    let subject = write_location(&path, ws);
                    if self.writes.contains(&subject) || !seen.insert(subject.clone()) {
                        continue;
                    }
                    let op = d.get("op").and_then(Value::as_str).unwrap_or("write");
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
                        event,
                        subject,
                    ));
                }
            }
            "resource.sample" => {
                let env = &self.envelope;
                let top = d.get("top").and_then(Value::as_array);
                let busiest = |key: &str| -> Option<u32> {
                    top?.iter()
                        .max_by(|a, b| {
                            let v = |e: &Value| e.get(key).and_then(Value::as_f64).unwrap_or(0.0);
                            v(a).total_cmp(&v(b))
                        })
                        .and_then(|e| e.get("pid"))
                        .and_then(Value::as_u64)
                        .and_then(|p| u32::try_from(p).ok())
                };
                if let (Some(peak), Some(cpu)) = (
                    env.cpu_percent,
                    d.get("cpu_percent").and_then(Value::as_f64),
                ) {
                    let limit = (peak * MARGIN).max(peak + CPU_FLOOR);
                    if cpu > limit {
                        let mut f = finding(
                            "baseline.cpu",
                            "T1496",
                            format!(
                                "the sandbox used {cpu:.0}% CPU, above the baseline's envelope \
                                 ({limit:.0}%: peak {peak:.0}% over {runs} run(s), with margin)"
                            ),
                            event,
                            format!("cpu_percent > {limit:.0}"),
                        );
                        f.pid = busiest("cpu_percent");
                        out.push(f);
                    }
                }
                if let (Some(peak), Some(rss)) =
                    (env.rss_kib, d.get("rss_kib").and_then(Value::as_u64))
                {
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
                            event,
                            format!("rss_kib > {limit:.0}"),
                        );
                        f.pid = busiest("rss_kib");
                        out.push(f);
                    }
                }
            }
            _ => {}
        }
        out
    }
}

fn finding(
    id: &str,
    technique: &'static str,
    explanation: String,
    event: &Event<'_>,
    subject: String,
) -> Finding {
    let pid = event
        .details
        .get("pid")
        .and_then(Value::as_u64)
        .and_then(|p| u32::try_from(p).ok());
    Finding {
        id: id.to_owned(),
        severity: Severity::Medium,
        technique,
        explanation,
        response: Response::Log,
        pid,
        evidence: vec![Evidence {
            kind: event.kind.to_owned(),
            at_ms: u64::try_from(event.at.as_millis()).unwrap_or(u64::MAX),
            pid,
            summary: printable(&subject),
        }],
    }
}

/// The run's workspace: the `run.start` event's `workspace`, else its `cwd`.
pub(crate) fn run_workspace(run: &[OwnedEvent]) -> Option<String> {
    let start = run.iter().find(|e| e.kind == "run.start")?;
    ["workspace", "cwd"]
        .iter()
        .find_map(|k| start.details.get(*k).and_then(Value::as_str))
        .filter(|w| w.starts_with('/'))
        .map(normalize)
}

/// The executable of a `proc.exec`, absolute when it can be made so; none
/// for a PATH search's failed attempt.
pub(crate) fn exec_path(d: &Map<String, Value>) -> Option<String> {
    if d.get("found").and_then(Value::as_bool) == Some(false) {
        return None;
    }
    let path = d.get("path").and_then(Value::as_str)?;
    if path.is_empty() {
        return None;
    }
    if path.starts_with('/') {
        return Some(normalize(path));
    }
    // execveat with a descriptor: relative to that, which the event does
    // not name (AT_FDCWD, -100, is the cwd).
    let dirfd = d.get("dirfd").and_then(Value::as_i64);
    match (d.get("cwd").and_then(Value::as_str), dirfd) {
        (Some(cwd), None | Some(-100)) if cwd.starts_with('/') => {
            Some(normalize(&format!("{cwd}/{path}")))
        }
        _ => Some(path.to_owned()),
    }
}

/// `host:port` of an allowed `net.connect`, or `IP:PORT` of an inet
/// `sock.connect`.
pub(crate) fn endpoint(kind: &str, d: &Map<String, Value>) -> Option<String> {
    let s = |k: &str| d.get(k).and_then(Value::as_str);
    match kind {
        "net.connect" => {
            if s("decision") != Some("allow") {
                return None;
            }
            let host = s("host")?.to_ascii_lowercase();
            let port = d.get("port").and_then(Value::as_u64)?;
            Some(host_port(&host, port))
        }
        "sock.connect" => {
            matches!(s("family"), Some("inet" | "inet6")).then_some(())?;
            s("addr").map(str::to_owned)
        }
        _ => None,
    }
}

/// `host:port`, the host bracketed when it is an IPv6 address.
pub(crate) fn host_port(host: &str, port: u64) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

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
pub(crate) fn write_paths(d: &Map<String, Value>) -> Vec<String> {
    ["path", "to"]
        .iter()
        .filter_map(|k| d.get(*k).and_then(Value::as_str))
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A `file.write` the sandbox refused (`"writable": false`).
pub(crate) fn refused(d: &Map<String, Value>) -> bool {
    d.get("writable").and_then(Value::as_bool) == Some(false)
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

/// Whether a path pattern covers `path` (absolute, or `$WORKSPACE/...`).
/// `floating`: there is no workspace to place `$WORKSPACE` in, so a
/// `$WORKSPACE/...` pattern matches that path under any directory.
fn covers(pattern: &str, path: &str, floating: bool) -> bool {
    if path_matches(pattern, path) {
        return true;
    }
    floating
        && path.starts_with('/')
        && pattern
            .strip_prefix(WORKSPACE)
            .is_some_and(|rest| rest.starts_with('/') && path_matches(&format!("/**{rest}"), path))
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

/// Path pattern matching: `*` within a component, a `**` component any
/// number of components (zero included).
pub(crate) fn path_matches(pattern: &str, path: &str) -> bool {
    let p: Vec<&str> = pattern.split('/').collect();
    let t: Vec<&str> = path.split('/').collect();
    components_match(&p, &t)
}

fn components_match(p: &[&str], t: &[&str]) -> bool {
    match p.split_first() {
        None => t.is_empty(),
        Some((&"**", rest)) => (0..=t.len()).any(|skip| components_match(rest, &t[skip..])),
        Some((first, rest)) => match t.split_first() {
            Some((head, tail)) => wild(first, head) && components_match(rest, tail),
            None => false,
        },
    }
}

/// `*` matches any characters (none included); nothing else is special.
pub(crate) fn wild(pattern: &str, text: &str) -> bool {
    let p = pattern.as_bytes();
    let t = text.as_bytes();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&b| b == b'*')
}

/// A TOML basic string.
pub(crate) fn toml_quote(s: &str) -> String {
    toml_subset::quote(s)
}

pub(crate) use corral_policy::printable;

fn check_path_pattern(s: &str) -> Result<(), String> {
    let ok = s.starts_with('/')
        || s == WORKSPACE
        || s.strip_prefix(WORKSPACE)
            .is_some_and(|r| r.starts_with('/'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{s:?} is not an absolute path or a `$WORKSPACE/...` one; write e.g. \
             \"/usr/bin/git\" or \"$WORKSPACE/target/**\""
        ))
    }
}

fn check_endpoint_pattern(s: &str) -> Result<(), String> {
    let ok = s.rsplit_once(':').is_some_and(|(host, port)| {
        !host.is_empty() && (port == "*" || port.parse::<u16>().is_ok_and(|p| p > 0))
    });
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{s:?} is not HOST:PORT; write e.g. \"pypi.org:443\", \"[::1]:8080\" or \
             \"127.0.0.1:*\""
        ))
    }
}

/// An array of strings, each checked.
fn strings(
    entry: &toml_subset::Entry,
    check: fn(&str) -> Result<(), String>,
) -> Result<BTreeSet<String>, String> {
    let toml_subset::Value::Array(items) = &entry.value else {
        return Err("expected an array of strings, e.g. `[\"/usr/bin/git\"]`".into());
    };
    let mut out = BTreeSet::new();
    for (i, item) in items.iter().enumerate() {
        let toml_subset::Value::Str(s) = item else {
            return Err(format!("item {}: expected a string", i + 1));
        };
        check(s).map_err(|e| format!("item {}: {e}", i + 1))?;
        out.insert(s.clone());
    }
    Ok(out)
}

fn string_list(out: &mut String, key: &str, items: &BTreeSet<String>) {
    if items.is_empty() {
        let _ = writeln!(out, "{key} = []");
        return;
    }
    let _ = writeln!(out, "{key} = [");
    for item in items {
        let _ = writeln!(out, "    {},", toml_subset::quote(item));
    }
    out.push_str("]\n");
}

/// The TOML this module reads: `[table]` headers, `key = value` lines
/// (bare keys), values that are basic or literal strings, integers,
/// floats or arrays of them (over several lines, trailing comma allowed),
/// and `#` comments.
mod toml_subset {
    use std::fmt::Write as _;

    #[derive(Debug, Clone, PartialEq)]
    pub enum Value {
        Str(String),
        Int(i64),
        Float(f64),
        Array(Vec<Value>),
    }

    impl Value {
        pub fn as_int(&self) -> Option<i64> {
            match self {
                Value::Int(n) => Some(*n),
                _ => None,
            }
        }

        pub fn as_float(&self) -> Option<f64> {
            match self {
                Value::Int(n) => Some(*n as f64),
                Value::Float(f) => Some(*f),
                _ => None,
            }
        }
    }

    #[derive(Debug)]
    pub struct Entry {
        /// `""` before any table header.
        pub table: String,
        pub key: String,
        pub value: Value,
        /// 1-based.
        pub line: usize,
    }

    impl Entry {
        pub fn dotted(&self) -> String {
            if self.table.is_empty() {
                self.key.clone()
            } else {
                format!("{}.{}", self.table, self.key)
            }
        }
    }

    /// A TOML basic string.
    pub fn quote(s: &str) -> String {
        let mut out = String::from("\"");
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\t' => out.push_str("\\t"),
                '\r' => out.push_str("\\r"),
                c if c.is_control() => {
                    let _ = write!(out, "\\u{:04X}", c as u32);
                }
                c => out.push(c),
            }
        }
        out.push('"');
        out
    }

    struct Cursor<'t> {
        chars: std::iter::Peekable<std::str::Chars<'t>>,
        line: usize,
    }

    type Fail = (usize, String);

    impl Cursor<'_> {
        fn peek(&mut self) -> Option<char> {
            self.chars.peek().copied()
        }

        fn bump(&mut self) -> Option<char> {
            let c = self.chars.next();
            if c == Some('\n') {
                self.line += 1;
            }
            c
        }

        fn fail<T>(&self, problem: impl Into<String>) -> Result<T, Fail> {
            Err((self.line, problem.into()))
        }

        /// Spaces and tabs.
        fn blanks(&mut self) {
            while matches!(self.peek(), Some(' ' | '\t')) {
                self.bump();
            }
        }

        /// Blanks, newlines and comments.
        fn space(&mut self) {
            loop {
                match self.peek() {
                    Some(' ' | '\t' | '\n' | '\r') => {
                        self.bump();
                    }
                    Some('#') => self.comment(),
                    _ => return,
                }
            }
        }

        fn comment(&mut self) {
            while self.peek().is_some_and(|c| c != '\n') {
                self.bump();
            }
        }

        /// Blanks, an optional comment, then the end of the line.
        fn end_of_line(&mut self) -> Result<(), Fail> {
            self.blanks();
            if self.peek() == Some('#') {
                self.comment();
            }
            if self.peek() == Some('\r') {
                self.bump();
            }
            match self.bump() {
                None | Some('\n') => Ok(()),
                Some(c) => self.fail(format!(
                    "unexpected {c:?} after the value; one `key = value` per line"
                )),
            }
        }

        fn bare_key(&mut self) -> Result<String, Fail> {
            let mut key = String::new();
            while let Some(c) = self
                .peek()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
            {
                key.push(c);
                self.bump();
            }
            if key.is_empty() {
                return self
                    .fail("expected a key (letters, digits, `_`, `-`), e.g. `paths = [...]`");
            }
            Ok(key)
        }

        fn value(&mut self) -> Result<Value, Fail> {
            match self.peek() {
                Some('"') => {
                    self.bump();
                    self.basic_string().map(Value::Str)
                }
                Some('\'') => {
                    self.bump();
                    let mut s = String::new();
                    loop {
                        match self.bump() {
                            Some('\'') => return Ok(Value::Str(s)),
                            None | Some('\n') => {
                                return self.fail("unterminated string: close it with '")
                            }
                            Some(c) => s.push(c),
                        }
                    }
                }
                Some('[') => {
                    self.bump();
                    let mut items = Vec::new();
                    loop {
                        self.space();
                        if self.peek() == Some(']') {
                            self.bump();
                            return Ok(Value::Array(items));
                        }
                        items.push(self.value()?);
                        self.space();
                        match self.bump() {
                            Some(',') => {}
                            Some(']') => return Ok(Value::Array(items)),
                            _ => return self.fail("expected `,` or `]` after an array item"),
                        }
                    }
                }
                Some(c) if c.is_ascii_digit() || c == '-' || c == '+' => {
                    let mut text = String::new();
                    while let Some(c) = self
                        .peek()
                        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '+' | '-' | '_'))
                    {
                        text.push(c);
                        self.bump();
                    }
                    let clean = text.replace('_', "");
                    if let Ok(n) = clean.parse::<i64>() {
                        return Ok(Value::Int(n));
                    }
                    match clean.parse::<f64>() {
                        Ok(f) if f.is_finite() => Ok(Value::Float(f)),
                        _ => self.fail(format!("{text:?} is not a number")),
                    }
                }
                _ => self.fail(
                    "expected a value: a \"string\", a number or an [array]; a baseline has \
                     nothing else",
                ),
            }
        }

        fn basic_string(&mut self) -> Result<String, Fail> {
            let mut s = String::new();
            loop {
                match self.bump() {
                    Some('"') => return Ok(s),
                    None | Some('\n') => return self.fail("unterminated string: close it with \""),
                    Some('\\') => {
                        let c = match self.bump() {
                            Some('"') => '"',
                            Some('\\') => '\\',
                            Some('n') => '\n',
                            Some('t') => '\t',
                            Some('r') => '\r',
                            Some('b') => '\u{8}',
                            Some('f') => '\u{c}',
                            Some(u @ ('u' | 'U')) => {
                                let len = if u == 'u' { 4 } else { 8 };
                                let hex: String = (0..len).filter_map(|_| self.bump()).collect();
                                match u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                                    Some(c) if hex.len() == len => c,
                                    _ => {
                                        return self
                                            .fail(format!("invalid escape \\{u}{hex} in a string"))
                                    }
                                }
                            }
                            other => {
                                return self.fail(format!(
                                    "invalid escape \\{} in a string: write \\\\ for a \
                                     backslash",
                                    other.map(String::from).unwrap_or_default()
                                ))
                            }
                        };
                        s.push(c);
                    }
                    Some(c) => s.push(c),
                }
            }
        }
    }

    pub fn parse(text: &str) -> Result<Vec<Entry>, Fail> {
        let mut cur = Cursor {
            chars: text.chars().peekable(),
            line: 1,
        };
        let mut table = String::new();
        let mut tables_seen: Vec<String> = Vec::new();
        let mut entries: Vec<Entry> = Vec::new();
        loop {
            cur.space();
            let Some(c) = cur.peek() else {
                return Ok(entries);
            };
            if c == '[' {
                let line = cur.line;
                cur.bump();
                cur.blanks();
                let name = cur.bare_key()?;
                cur.blanks();
                if cur.bump() != Some(']') {
                    return cur.fail(format!("expected `]` to close the table header [{name}"));
                }
                cur.end_of_line()?;
                if tables_seen.contains(&name) {
                    return Err((line, format!("table [{name}] appears twice: merge them")));
                }
                tables_seen.push(name.clone());
                table = name;
                continue;
            }
            let line = cur.line;
            let key = cur.bare_key()?;
            cur.blanks();
            if cur.bump() != Some('=') {
                return cur.fail(format!("expected `=` after the key `{key}`"));
            }
            cur.blanks();
            let value = cur.value()?;
            cur.end_of_line()?;
            if entries.iter().any(|e| e.table == table && e.key == key) {
                return Err((line, format!("`{key}` is set twice: keep one")));
            }
            entries.push(Entry {
                table: table.clone(),
                key,
                value,
                line,
            });
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::time::Duration;

    fn ev(kind: &str, details: Value) -> OwnedEvent {
        OwnedEvent {
            at: Duration::from_millis(1500),
            kind: kind.to_owned(),
            details: match details {
                Value::Object(m) => m,
                _ => Map::new(),
            },
        }
    }

    fn start(ws: &str) -> OwnedEvent {
        ev("run.start", json!({ "command": ["sh"], "cwd": ws }))
    }

    fn exec(path: &str, cwd: &str) -> OwnedEvent {
        ev(
            "proc.exec",
            json!({ "pid": 42, "path": path, "argv": [path, "-x"], "cwd": cwd }),
        )
    }

    fn write(path: &str) -> OwnedEvent {
        ev(
            "file.write",
            json!({ "pid": 43, "op": "create", "path": path, "writable": true }),
        )
    }

    fn sample(cpu: f64, rss: u64, processes: u64) -> OwnedEvent {
        ev(
            "resource.sample",
            json!({ "cpu_percent": cpu, "rss_kib": rss, "processes": processes, "threads": processes,
                    "top": [{ "pid": 7, "comm": "a", "cpu_percent": 1.0, "rss_kib": 10 },
                            { "pid": 8, "comm": "b", "cpu_percent": cpu, "rss_kib": rss }] }),
        )
    }

    fn connect(host: &str, port: u16, decision: &str) -> OwnedEvent {
        ev(
            "net.connect",
            json!({ "pid": 44, "host": host, "port": port, "decision": decision, "protocol": "tls" }),
        )
    }

    fn sock(addr: &str) -> OwnedEvent {
        ev(
            "sock.connect",
            json!({ "pid": 45, "fd": 3, "family": "inet", "addr": addr }),
        )
    }

    /// Two runs of a build in two checkouts.
    fn learnt() -> Baseline {
        let a = vec![
            start("/home/a/proj"),
            exec("/usr/bin/sh", "/home/a/proj"),
            exec("./build.sh", "/home/a/proj"),
            ev(
                "proc.exec",
                json!({ "path": "/usr/local/bin/cargo", "found": false, "cwd": "/" }),
            ),
            exec(
                "/home/a/proj/target/debug/build/foo-1a2b3c4d5e6f7a8b/build-script-build",
                "/home/a/proj",
            ),
            write("/home/a/proj/target/debug/build/foo-1a2b3c/out/x.o"),
            write("/home/a/proj/Cargo.lock"),
            write("/tmp/tmp.AbC123xyz/cc1.s"),
            ev(
                "file.write",
                json!({ "op": "open", "path": "/etc/passwd", "writable": false }),
            ),
            connect("Index.Crates.IO", 443, "allow"),
            connect("evil.test", 443, "deny"),
            sock("127.0.0.1:3128"),
            sock("127.0.0.1:41234"),
            sample(80.0, 100_000, 3),
            sample(120.0, 50_000, 5),
        ];
        let b = vec![
            start("/srv/ci/checkout"),
            exec("/usr/bin/sh", "/srv/ci/checkout"),
            write("/root/.cache/pip/http/a/b/c"),
            ev(
                "file.write",
                json!({ "op": "rename", "path": "/srv/ci/checkout/out.tmp",
                        "to": "/srv/ci/checkout/dist/out", "writable": true }),
            ),
            sample(90.0, 200_000, 4),
        ];
        Baseline::learn(&[a, b])
    }

    fn ctx(ws: &str) -> Context {
        Context {
            workspace: Some(ws.into()),
            audit_paths: Vec::new(),
            cpu_budget_percent: 400.0,
        }
    }

    fn check(b: &Baseline, ws: &str, e: &OwnedEvent) -> Vec<Finding> {
        b.check(&ctx(ws), &e.as_event())
    }

    #[test]
    fn generated_components_become_stars() {
        for (given, want) in [
            ("foo-1a2b3c4d5e6f7a8b", "foo-*"),
            ("foo-1a2b3c", "foo-*"),
            ("tmp.AbC123xyz", "tmp.*"),
            ("12345", "*"),
            ("python3.11", "python3.11"),
            ("sha256sum", "sha256sum"),
            ("x86_64-linux-gnu", "x86_64-linux-gnu"),
            ("deadbeef", "deadbeef"),
            ("build-script-build", "build-script-build"),
            ("libfoo-0123abcd.rlib", "libfoo-*.rlib"),
        ] {
            assert_eq!(generalise(given), want, "{given}");
        }
    }

    #[test]
    fn write_locations_are_generalised() {
        let ws = Some("/w/p");
        for (path, want) in [
            (
                "/w/p/target/debug/build/foo-1a2b3c/out/x.o",
                "$WORKSPACE/target/**",
            ),
            ("/w/p/Cargo.lock", "$WORKSPACE/Cargo.lock"),
            ("/w/p/./src/../src/main.rs", "$WORKSPACE/src/**"),
            ("/w/p", "$WORKSPACE"),
            ("/w/pp/x", "/w/pp/x"),
            ("/tmp/x/y/z", "/tmp/**"),
            ("/tmp", "/tmp/**"),
            ("/dev/shm/sem.1", "/dev/shm/**"),
            ("/root/.cache/pip/http/a/b", "/root/.cache/pip/**"),
            ("/home/u/.bash_history", "/home/u/.bash_history"),
            ("/proc/12345/attr/exec", "/proc/*/attr/**"),
            ("rel/x", "rel/x"),
        ] {
            assert_eq!(write_location(path, ws), want, "{path}");
        }
        assert_eq!(write_location("/w/p/a", None), "/w/p/a");
        assert_eq!(write_location("/w/p/a/b", None), "/w/p/a/**");
        assert_eq!(write_location("/w/p/a/b/c/d", None), "/w/p/a/**");
    }

    #[test]
    fn patterns_match_as_documented() {
        assert!(path_matches("$WORKSPACE/target/**", "$WORKSPACE/target"));
        assert!(path_matches(
            "$WORKSPACE/target/**",
            "$WORKSPACE/target/a/b.o"
        ));
        assert!(!path_matches("$WORKSPACE/target/**", "$WORKSPACE/src/a"));
        assert!(path_matches("/a/*/c", "/a/b/c"));
        assert!(!path_matches("/a/*/c", "/a/b/x/c"));
        assert!(path_matches("/a/foo-*/c", "/a/foo-123/c"));
        assert!(wild("*.crates.io:443", "index.crates.io:443"));
        assert!(!wild("*.crates.io:443", "index.crates.io:80"));
        assert!(wild("[::1]:*", "[::1]:8080"));
        assert!(wild("a*b*c", "aXXbYYc"));
        assert!(!wild("a*b*c", "aXXbYY"));
        assert!(covers("$WORKSPACE/bin/x", "/any/where/bin/x", true));
        assert!(!covers("$WORKSPACE/bin/x", "/any/where/bin/x", false));
        assert_eq!(normalize("/a/./b/../c//d/"), "/a/c/d");
        assert_eq!(normalize("/../a"), "/a");
        assert_eq!(normalize("../a/./b"), "../a/b");
    }

    #[test]
    fn learning_records_execs_endpoints_writes_and_the_envelope() {
        let b = learnt();
        assert_eq!(b.runs(), 2);
        let execs: Vec<&str> = b.execs().collect();
        assert_eq!(
            execs,
            [
                "$WORKSPACE/build.sh",
                "$WORKSPACE/target/debug/build/foo-*/build-script-build",
                "/usr/bin/sh",
            ]
        );
        let endpoints: Vec<&str> = b.endpoints().collect();
        assert_eq!(
            endpoints,
            ["127.0.0.1:*", "127.0.0.1:3128", "index.crates.io:443"],
            "denied connections are not learnt; ephemeral loopback ports are `*`"
        );
        let writes: Vec<&str> = b.writes().collect();
        assert_eq!(
            writes,
            [
                "$WORKSPACE/Cargo.lock",
                "$WORKSPACE/dist/**",
                "$WORKSPACE/out.tmp",
                "$WORKSPACE/target/**",
                "/root/.cache/pip/**",
                "/tmp/**",
            ]
        );
        assert_eq!(
            b.envelope,
            Envelope {
                cpu_percent: Some(120.0),
                rss_kib: Some(200_000),
                processes: Some(5),
            }
        );
        assert_eq!(Baseline::learn(&[]), Baseline::default());
    }

    #[test]
    fn the_file_round_trips_and_reads_as_documented() {
        let b = learnt();
        let text = b.to_toml();
        assert!(text.starts_with("# corral baseline"), "{text}");
        assert!(text.contains("version = 1\nruns = 2\n"), "{text}");
        assert!(text.contains("    \"/usr/bin/sh\",\n"), "{text}");
        assert!(text.contains("cpu_percent = 120.0\n"), "{text}");
        assert_eq!(Baseline::from_toml_str(&text).unwrap(), b, "{text}");
        let empty = Baseline::default();
        assert_eq!(Baseline::from_toml_str(&empty.to_toml()).unwrap(), empty);
        // The module doc's example, hand-written.
        let hand = r#"
            version = 1   # the format
            runs = 3
            [exec]
            paths = [
                "/usr/bin/cargo",
                '$WORKSPACE/target/debug/build/*/build-script-build',   # literal string
            ]
            [connect]
            endpoints = ["index.crates.io:443", "127.0.0.1:3128", "[::1]:*", "odd\u0041:1"]
            [write]
            paths = ["$WORKSPACE/Cargo.lock", "$WORKSPACE/target/**", "/tmp/**",]
            [envelope]
            cpu_percent = 390
            rss_kib = 1_843_200
        "#;
        let b = Baseline::from_toml_str(hand).unwrap();
        assert_eq!(b.runs(), 3);
        assert!(b.endpoints().any(|e| e == "oddA:1"));
        assert_eq!(b.envelope.cpu_percent, Some(390.0));
        assert_eq!(b.envelope.rss_kib, Some(1_843_200));
        assert_eq!(b.envelope.processes, None);
        assert!(b.knows_exec("build-script-build"));
    }

    #[test]
    fn bad_files_are_refused_with_the_line_the_key_and_what_to_do() {
        let err = |text: &str| Baseline::from_toml_str(text).unwrap_err();
        let e = err("runs = 1\n");
        assert!(e.contains("`version`: missing; add `version = 1`"), "{e}");
        let e = err("version = 2\n");
        assert!(e.contains("line 1: `version`: version 2"), "{e}");
        assert!(e.contains("corral learn"), "{e}");
        let e = err("version = 1\n[exec]\npath = []\n");
        assert!(e.contains("line 3: `exec.path`: unknown key"), "{e}");
        assert!(e.contains("`paths`"), "{e}");
        let e = err("version = 1\n[connect]\nendpoints = [\n  \"ok:1\",\n  \"pypi.org\",\n]\n");
        assert!(e.contains("line 3: `connect.endpoints`: item 2"), "{e}");
        assert!(e.contains("is not HOST:PORT"), "{e}");
        let e = err("version = 1\n[write]\npaths = [\"relative/x\"]\n");
        assert!(
            e.contains("`write.paths`: item 1: \"relative/x\" is not an absolute"),
            "{e}"
        );
        let e = err("version = 1\n[envelope]\ncpu_percent = \"lots\"\n");
        assert!(
            e.contains("line 3: `envelope.cpu_percent`: expected a number"),
            "{e}"
        );
        let e = err("version = 1\n[exec]\npaths = [\"/a\"\n");
        assert!(e.contains("expected `,` or `]`"), "{e}");
        let e = err("version = 1\nversion = 1\n");
        assert!(e.contains("line 2: `version` is set twice"), "{e}");
        let e = err("version = 1\n[write]\n[write]\n");
        assert!(e.contains("line 3: table [write] appears twice"), "{e}");
        let e = err("version = 1 x\n");
        assert!(e.contains("line 1: unexpected 'x'"), "{e}");
        let e = err("version = true\n");
        assert!(e.contains("line 1: expected a value"), "{e}");
        let e = err("version = 1\n[exec]\npaths = [\"a\\q\"]\n");
        assert!(e.contains("line 3: invalid escape \\q"), "{e}");
        let e = err("version = 1\n[exec]\npaths = [\"open\n");
        assert!(e.contains("unterminated string"), "{e}");
        let missing = Path::new("/nonexistent/corral-baseline.toml");
        let e = Baseline::load(missing).unwrap_err().to_string();
        assert!(
            e.starts_with("/nonexistent/corral-baseline.toml: cannot read the baseline"),
            "{e}"
        );
    }

    #[test]
    fn a_run_like_the_baseline_raises_nothing() {
        let b = learnt();
        // Another checkout: the workspace-relative patterns apply there.
        let ws = "/other/clone";
        for e in [
            exec("/usr/bin/sh", ws),
            exec("build.sh", ws),
            exec(
                "/other/clone/target/debug/build/foo-99aa88bb77cc66dd/build-script-build",
                ws,
            ),
            write("/other/clone/target/release/y.o"),
            write("/other/clone/Cargo.lock"),
            write("/tmp/anything/at/all"),
            write("/root/.cache/pip/other"),
            connect("index.crates.io", 443, "allow"),
            connect("unknown.test", 443, "deny"),
            ev(
                "file.write",
                json!({ "op": "open", "path": "/etc/shadow", "writable": false }),
            ),
            sock("127.0.0.1:3128"),
            sock("127.0.0.1:50000"),
            ev(
                "sock.connect",
                json!({ "family": "unix", "addr": "/run/x.sock" }),
            ),
            ev(
                "proc.exec",
                json!({ "path": "/usr/local/bin/sh", "found": false }),
            ),
            sample(170.0, 300_000, 9),
            ev("run.exit", json!({ "exit_code": 0 })),
        ] {
            let found = check(&b, ws, &e);
            assert!(found.is_empty(), "{e:?}: {found:?}");
        }
    }

    #[test]
    fn new_executables_endpoints_and_writes_are_findings_with_their_subject() {
        let b = learnt();
        let ws = "/other/clone";
        let f = check(&b, ws, &exec("/tmp/xmrig", ws));
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].id, "baseline.exec");
        assert_eq!(f[0].severity, Severity::Medium);
        assert_eq!(f[0].response, Response::Log);
        assert_eq!(f[0].pid, Some(42));
        assert_eq!(f[0].evidence[0].summary, "/tmp/xmrig");
        assert_eq!(f[0].evidence[0].at_ms, 1500);
        assert!(f[0].explanation.contains("ran /tmp/xmrig"), "{f:?}");
        assert!(f[0].explanation.contains("2 baseline run(s)"), "{f:?}");
        assert!(f[0].explanation.contains("argv: /tmp/xmrig -x"), "{f:?}");
        // In the workspace: named relative to it, generated parts as `*`.
        let f = check(&b, ws, &exec("target/debug/deps/app-0123abcd4567ef89", ws));
        assert_eq!(
            f[0].evidence[0].summary,
            "$WORKSPACE/target/debug/deps/app-*"
        );
        // A learnt workspace path does not match outside the workspace.
        let f = check(&b, ws, &exec("/elsewhere/build.sh", "/"));
        assert_eq!(f.len(), 1, "{f:?}");

        let f = check(&b, ws, &connect("paste.example", 443, "allow"));
        assert_eq!(f[0].id, "baseline.connect");
        assert_eq!(f[0].evidence[0].summary, "paste.example:443");
        assert!(f[0].explanation.contains("through the proxy"), "{f:?}");
        let f = check(&b, ws, &sock("203.0.113.9:4444"));
        assert_eq!(f[0].evidence[0].summary, "203.0.113.9:4444");
        assert!(f[0].explanation.contains("directly"), "{f:?}");
        let f = check(&b, ws, &sock("[::1]:40000"));
        assert_eq!(f[0].evidence[0].summary, "[::1]:*");

        let f = check(&b, ws, &write("/other/clone/.git/hooks-new/x"));
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].id, "baseline.write");
        assert_eq!(f[0].evidence[0].summary, "$WORKSPACE/.git/**");
        assert!(
            f[0].explanation
                .contains("wrote (create) $WORKSPACE/.git/hooks-new/x"),
            "{f:?}"
        );
        // A rename: each new place once.
        let rename = ev(
            "file.write",
            json!({ "op": "rename", "path": "/home/u/.bashrc", "to": "/home/u/.bashrc.bak" }),
        );
        let f = check(&b, ws, &rename);
        let subjects: Vec<&str> = f.iter().map(|f| f.evidence[0].summary.as_str()).collect();
        assert_eq!(subjects, ["/home/u/.bashrc", "/home/u/.bashrc.bak"]);
        // Control characters never reach the one-line text.
        let f = check(&b, ws, &write("/etc/evil\nline"));
        assert_eq!(
            f[0].explanation,
            "wrote (create) /etc/evil\\nline, where none of the 2 baseline run(s) wrote"
        );
        assert!(!f[0].evidence[0].summary.contains('\n'), "{f:?}");
    }

    #[test]
    fn the_envelope_has_a_margin() {
        let b = learnt();
        // Peaks: cpu 120 (limit max(180, 170) = 180), rss 200000 KiB
        // (limit max(300000, 265536) = 300000).
        assert!(check(&b, "/w", &sample(180.0, 300_000, 1)).is_empty());
        let f = check(&b, "/w", &sample(181.0, 300_001, 1));
        let ids: Vec<&str> = f.iter().map(|f| f.id.as_str()).collect();
        assert_eq!(ids, ["baseline.cpu", "baseline.memory"]);
        assert_eq!(f[0].technique, "T1496");
        assert_eq!(f[0].pid, Some(8), "the busiest process");
        assert_eq!(f[0].evidence[0].summary, "cpu_percent > 180");
        assert_eq!(f[1].evidence[0].summary, "rss_kib > 300000");
        assert!(f[0].explanation.contains("181% CPU"), "{f:?}");
        // Tiny peaks: the floor, not the factor.
        let tiny = Baseline::learn(&[vec![sample(2.0, 1000, 1)]]);
        assert!(check(&tiny, "/w", &sample(52.0, 66_536, 1)).is_empty());
        assert_eq!(check(&tiny, "/w", &sample(53.0, 66_537, 1)).len(), 2);
        // No samples learnt: no envelope to leave.
        let none = Baseline::learn(&[vec![exec("/bin/true", "/")]]);
        assert!(check(&none, "/w", &sample(900.0, 9_000_000, 1)).is_empty());
    }

    #[test]
    fn knows_exec_takes_paths_and_comms() {
        let b = learnt();
        assert!(b.knows_exec("/usr/bin/sh"));
        assert!(b.knows_exec("/usr/bin/../bin/sh"));
        assert!(b.knows_exec("sh"));
        assert!(b.knows_exec("build.sh"));
        assert!(
            b.knows_exec("/any/checkout/build.sh"),
            "workspace paths float"
        );
        assert!(b.knows_exec("build-script-build"));
        assert!(b.knows_exec("build-script-bu"), "a comm is cut at 15 bytes");
        assert!(!b.knows_exec("build-scr"));
        assert!(!b.knows_exec("xmrig"));
        assert!(!b.knows_exec("/tmp/sh"));
        assert!(
            !b.knows_exec("cargo"),
            "a failed PATH attempt is not learnt"
        );
    }

    #[test]
    fn without_a_workspace_workspace_patterns_float() {
        let b = learnt();
        let none = Context::default();
        let e = exec("/some/dir/build.sh", "/");
        assert!(b.check(&none, &e.as_event()).is_empty());
        let e = write("/some/dir/target/x/y");
        assert!(b.check(&none, &e.as_event()).is_empty());
    }
}
