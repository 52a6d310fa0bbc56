//! `custom.*`: the user's `[[detect.rules]]`, compiled once.

use super::{base, host_port, q, Ev, Exec, Hit};
use crate::{Response, Severity};
use corral_policy::net::{Dest, Endpoint};
use corral_policy::{connect_pattern, DetectRule, Glob, GlobMode};
use std::collections::BTreeSet;
use std::net::IpAddr;
use std::sync::Mutex;

/// A rule's technique as `&'static str` (what [`crate::Finding`] holds):
/// each distinct text is leaked once per process, so the memory is
/// bounded by the techniques policies name.
fn intern(text: &str) -> &'static str {
    static SEEN: Mutex<BTreeSet<&'static str>> = Mutex::new(BTreeSet::new());
    let mut seen = match SEEN.lock() {
        Ok(seen) => seen,
        Err(poisoned) => poisoned.into_inner(),
    };
    if let Some(found) = seen.get(text) {
        return found;
    }
    let leaked: &'static str = Box::leak(text.to_owned().into_boxed_str());
    seen.insert(leaked);
    leaked
}

struct Rule {
    id: String,
    severity: Severity,
    technique: &'static str,
    explanation: Option<String>,
    exec: Vec<Glob>,
    write: Vec<Glob>,
    connect: Vec<(Endpoint, String)>,
}

/// The compiled rules.
pub(crate) struct Custom {
    rules: Vec<Rule>,
    any_exec: bool,
    any_write: bool,
    any_connect: bool,
}

impl Custom {
    /// Compiles `rules` (patterns that do not compile are skipped: a policy
    /// that loaded has none), and returns each rule's own response.
    pub fn new(rules: &[DetectRule]) -> (Custom, Vec<(String, Response)>) {
        let mut responses = Vec::new();
        let compiled: Vec<Rule> = rules
            .iter()
            .map(|r| {
                if let Some(response) = r.response {
                    responses.push((r.id.clone(), response));
                }
                Rule {
                    id: r.id.clone(),
                    severity: r.severity,
                    technique: r.technique.as_deref().map_or("", intern),
                    explanation: r.explanation.clone(),
                    exec: r
                        .exec
                        .iter()
                        .filter_map(|p| Glob::new(p, GlobMode::Text).ok())
                        .collect(),
                    write: r
                        .write
                        .iter()
                        .filter_map(|p| Glob::new(p, GlobMode::Path).ok())
                        .collect(),
                    connect: r
                        .connect
                        .iter()
                        .filter_map(|p| connect_pattern(p).ok().map(|e| (e, p.clone())))
                        .collect(),
                }
            })
            .collect();
        let custom = Custom {
            any_exec: compiled.iter().any(|r| !r.exec.is_empty()),
            any_write: compiled.iter().any(|r| !r.write.is_empty()),
            any_connect: compiled.iter().any(|r| !r.connect.is_empty()),
            rules: compiled,
        };
        (custom, responses)
    }

    fn raise(rule: &Rule, ev: &Ev<'_>, subject: String, what: String, out: &mut Vec<Hit>) {
        let why = rule
            .explanation
            .as_deref()
            .map(|e| format!(": {e}"))
            .unwrap_or_default();
        out.push(Hit {
            id: rule.id.clone(),
            severity: rule.severity,
            technique: rule.technique.to_owned(),
            explanation: format!("{what} (rule {}){why}", rule.id),
            pid: ev.pid,
            subject,
            evidence: vec![ev.evidence_auto()],
        });
    }

    pub fn exec(&mut self, ev: &Ev<'_>, x: &Exec<'_>, out: &mut Vec<Hit>) {
        if !self.any_exec {
            return;
        }
        let joined = x.argv.join(" ");
        let short = match x.argv.split_first() {
            Some((first, rest)) if base(first) != *first => {
                let mut s = base(first).to_owned();
                for arg in rest {
                    s.push(' ');
                    s.push_str(arg);
                }
                Some(s)
            }
            _ => None,
        };
        let who = ev
            .pid
            .map_or_else(|| "a process".to_owned(), |p| format!("pid {p}"));
        for rule in &self.rules {
            let matched = rule.exec.iter().find(|g| {
                g.matches(&joined)
                    || short.as_deref().is_some_and(|s| g.matches(s))
                    || (!x.path.is_empty() && (g.matches(x.path) || g.matches(&x.abs)))
            });
            if let Some(glob) = matched {
                Self::raise(
                    rule,
                    ev,
                    format!("pid {}", ev.pid.unwrap_or(0)),
                    format!("{who} ran {}, matching {}", q(&joined), q(glob.as_str())),
                    out,
                );
            }
        }
    }

    pub fn write(&mut self, ev: &Ev<'_>, out: &mut Vec<Hit>) {
        if !self.any_write {
            return;
        }
        let who = ev
            .pid
            .map_or_else(|| "a process".to_owned(), |p| format!("pid {p}"));
        let Some(w) = ev.write() else { return };
        let op = super::op_name(w.op);
        for path in [w.path.as_deref(), w.to.as_deref()].into_iter().flatten() {
            for rule in &self.rules {
                if let Some(glob) = rule.write.iter().find(|g| g.matches(path)) {
                    Self::raise(
                        rule,
                        ev,
                        path.to_owned(),
                        format!(
                            "{who} wrote ({op}) {}, matching {}",
                            q(path),
                            q(glob.as_str())
                        ),
                        out,
                    );
                }
            }
        }
    }

    /// `net.connect` (the name or address asked for) and inet `sock.connect`.
    pub fn connect(&mut self, ev: &Ev<'_>, out: &mut Vec<Hit>) {
        if !self.any_connect {
            return;
        }
        let (host, port) = match ev.event {
            corral_event::Event::NetConnect(net) => {
                let (host, port) = (net.host.as_str(), net.port);
                (
                    host.trim_start_matches('[')
                        .trim_end_matches(']')
                        .to_owned(),
                    port,
                )
            }
            _ => match ev.sock_addr() {
                Some(addr) => (addr.ip().to_string(), addr.port()),
                None => return,
            },
        };
        let ip = host.parse::<IpAddr>().ok();
        let dest = match ip {
            Some(ip) => Dest::Ip(ip),
            None => Dest::Name(&host),
        };
        let shown = host_port(&host, u64::from(port));
        let who = ev
            .pid
            .map_or_else(|| "a process".to_owned(), |p| format!("pid {p}"));
        for rule in &self.rules {
            if let Some((_, text)) = rule.connect.iter().find(|(e, _)| e.matches(dest, port)) {
                Self::raise(
                    rule,
                    ev,
                    shown.clone(),
                    format!("{who} connected to {}, matching {}", q(&shown), q(text)),
                    out,
                );
            }
        }
    }
}
