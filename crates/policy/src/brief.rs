//! The policy as a short brief in plain words, in Markdown, for the agent
//! that runs under it (its system prompt, or an `AGENTS.md`): what it may
//! do, what it cannot, and what a refusal looks like from inside. `corral
//! policy brief` prints it.
//!
//! Every sentence follows from the policy (or from what every sandbox
//! does, whatever the policy: the private `/tmp`, the seccomp deny list,
//! no capabilities, the audit trail); a setting the policy leaves unset is
//! either left out or said to be unlimited.

use crate::model::Policy;
use crate::net::{AllowRule, NetPolicy, Ports, Protocol};
use crate::{Response, Severity};
use std::fmt::Write as _;

impl Policy {
    /// The brief (see the module doc); [`brief`] is the same function.
    pub fn brief(&self) -> String {
        brief(self)
    }
}

/// The effective policy `policy` as a Markdown brief for the agent in the
/// sandbox. `policy` should be the effective one (profile, file and flags
/// merged): the brief says nothing about layers it does not see.
pub fn brief(policy: &Policy) -> String {
    let mut out = String::new();
    out.push_str("# Sandbox brief\n\n");
    out.push_str(
        "You are running inside corral's sandbox: the Linux kernel enforces the rules below for \
         every process you start, and they do not change during the run. Work within them; when \
         something is refused, do not look for a way around it: say what you needed and why.\n",
    );
    if policy.sandbox.dangerously_allow_degraded {
        out.push_str(
            "(This policy lets the run start even when an isolation layer is missing on this \
             machine: some of the limits below may not be in force.)\n",
        );
    }
    files(&mut out, policy);
    network(&mut out, policy);
    limits(&mut out, policy);
    environment(&mut out, policy);
    refusals(&mut out, policy);
    watching(&mut out, policy);
    out
}

fn files(out: &mut String, policy: &Policy) {
    let fs = &policy.filesystem;
    out.push_str("\n## Files\n\n");
    let mut bullets: Vec<String> = Vec::new();
    let workspace = match &fs.workspace {
        Some(w) => format!("your workspace, {}", code(w)),
        None => "your workspace (the directory corral was started in)".to_owned(),
    };
    let also = if fs.write.is_empty() {
        String::new()
    } else {
        format!(" and {}", code_list(&fs.write))
    };
    let whole_host = fs.read.iter().any(|r| r == "/");
    let scratch = if whole_host {
        "`/tmp`, `/var/tmp` and `/run` are"
    } else {
        "`/tmp` is"
    };
    bullets.push(format!(
        "You may read and write {workspace}{also}. {scratch} writable too, private to this run \
         (empty at the start, gone at the end)."
    ));
    if whole_host {
        bullets.push(
            "Everything else on the machine is read-only: writing there fails with \
             \"Read-only file system\" or \"Permission denied\"."
                .to_owned(),
        );
    } else if fs.read.is_empty() {
        bullets.push("Nothing else of the machine is visible.".to_owned());
    } else {
        bullets.push(format!(
            "You can also read {} (those this machine has); nothing else of the machine is \
             visible.",
            code_list(&fs.read)
        ));
    }
    if !fs.deny_read.is_empty() {
        bullets.push(format!(
            "Hidden: reading {} fails with \"Permission denied\" (relative patterns apply \
             inside the workspace and every writable path).",
            code_list(&fs.deny_read)
        ));
    }
    if !fs.protected.is_empty() {
        bullets.push(format!(
            "Protected, read-only even inside writable paths: {}.",
            code_list(&fs.protected)
        ));
    }
    let mut all = fs.write.iter().chain(&fs.deny_read).chain(&fs.protected);
    if all.any(|p| p.starts_with('~')) {
        if let Some(last) = bullets.last_mut() {
            last.push_str(" `~` is the home directory of the user who started corral.");
        }
    }
    for b in bullets {
        let _ = writeln!(out, "- {b}");
    }
}

fn network(out: &mut String, policy: &Policy) {
    out.push_str("\n## Network\n\n");
    let net = match NetPolicy::compile(&policy.network) {
        Ok(net) => net,
        Err(e) => {
            // A loaded policy always compiles; say what is there anyway.
            let _ = writeln!(
                out,
                "- The network section is invalid ({e}); corral refuses to run this policy."
            );
            return;
        }
    };
    if net.is_empty() {
        out.push_str(
            "- There is no network at all: the sandbox has only its own loopback interface. \
             Name lookups and connections to any other host fail; do not try to download \
             anything.\n",
        );
        return;
    }
    out.push_str(
        "- Connections go through corral's egress proxy (`HTTP_PROXY`, `HTTPS_PROXY` and \
         `ALL_PROXY` are set; tools that ignore them cannot connect), over TCP only (no UDP, no \
         ICMP). Only these destinations are allowed:\n",
    );
    // One line per (ports, protocols), the hosts in policy order.
    let mut groups: Vec<(String, Vec<String>)> = Vec::new();
    for rule in &net.allow {
        let key = format!("{}, {}", ports(rule), protocols(&rule.protocols));
        let host = rule.endpoint.host.to_string();
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, hosts)) => {
                if !hosts.contains(&host) {
                    hosts.push(host)
                }
            }
            None => groups.push((key, vec![host])),
        }
    }
    for (key, hosts) in &groups {
        let _ = writeln!(out, "  - {key}: {}", code_list(&hosts[..]));
    }
    if !net.deny.is_empty() {
        // One entry per reason, in policy order.
        let mut by_reason: Vec<(Option<&str>, Vec<String>)> = Vec::new();
        for rule in &net.deny {
            let reason = rule.reason.as_deref();
            let dest = rule.endpoint.to_string();
            match by_reason.iter_mut().find(|(r, _)| *r == reason) {
                Some((_, dests)) => dests.push(dest),
                None => by_reason.push((reason, vec![dest])),
            }
        }
        let parts: Vec<String> = by_reason
            .iter()
            .map(|(reason, dests)| match reason {
                Some(reason) => format!("{} ({reason})", code_list(dests)),
                None => code_list(dests),
            })
            .collect();
        let _ = writeln!(
            out,
            "- Never allowed, whatever the list above says: {}.",
            parts.join("; ")
        );
    }
    if !net.pins.is_empty() {
        let pins: Vec<String> = net
            .pins
            .iter()
            .map(|pin| {
                let addrs: Vec<String> = pin.addrs.iter().map(|a| a.to_string()).collect();
                let port = pin
                    .port
                    .map_or("any port".to_owned(), |p| format!("port {p}"));
                format!("`{}` ({port}) -> {}", pin.host, addrs.join(", "))
            })
            .collect();
        let _ = writeln!(out, "- Pinned addresses: {}.", pins.join("; "));
    }
}

fn ports(rule: &AllowRule) -> String {
    match rule.endpoint.ports {
        Ports::Web => "ports 80 and 443".to_owned(),
        Ports::Any | Ports::Every => "any port".to_owned(),
        Ports::One(p) => format!("port {p}"),
        Ports::Range(low, high) => format!("ports {low}-{high}"),
    }
}

fn protocols(list: &[Protocol]) -> String {
    if list.contains(&Protocol::Any) {
        return "any protocol".to_owned();
    }
    let names: Vec<&str> = list
        .iter()
        .map(|p| match p {
            Protocol::Tls => "TLS",
            Protocol::Http => "HTTP",
            Protocol::Ssh => "SSH",
            Protocol::Any => "any protocol",
        })
        .collect();
    match names.as_slice() {
        [] => "no protocol".to_owned(),
        [one] => format!("{one} only"),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

fn limits(out: &mut String, policy: &Policy) {
    let l = &policy.limits;
    out.push_str("\n## Limits\n\n");
    if let Some(memory) = l.memory {
        let _ = writeln!(
            out,
            "- Memory: {memory} for the whole sandbox; past it the kernel kills a process (exit \
             status 137)."
        );
    }
    if let Some(pids) = l.pids {
        let _ = writeln!(
            out,
            "- Processes and threads: {pids} in all; past that, creating one fails (\"Resource \
             temporarily unavailable\")."
        );
    }
    if let Some(cpus) = l.cpus {
        let _ = writeln!(
            out,
            "- CPU: {cpus} core(s); more is throttled, not refused."
        );
    }
    if let Some(timeout) = l.timeout {
        let _ = writeln!(
            out,
            "- Time: {timeout} of wall clock for the whole run; then everything gets SIGTERM, \
             SIGKILL 2 s later, and the run ends with status 124."
        );
    }
    if let Some(files) = l.open_files {
        let _ = writeln!(
            out,
            "- Open files: {files} per process (\"Too many open files\" past that)."
        );
    }
    if let Some(size) = l.file_size {
        let _ = writeln!(
            out,
            "- File size: {size} per file; writing past it fails (\"File too large\", SIGXFSZ)."
        );
    }
    let unlimited: Vec<&str> = [
        (l.memory.is_none(), "memory"),
        (l.cpus.is_none(), "CPU"),
        (l.timeout.is_none(), "time"),
        (l.pids.is_none(), "processes"),
    ]
    .into_iter()
    .filter_map(|(none, name)| none.then_some(name))
    .collect();
    if !unlimited.is_empty() {
        let _ = writeln!(
            out,
            "- No limit on {} beyond the machine's own.",
            join_and(&unlimited)
        );
    }
}

fn environment(out: &mut String, policy: &Policy) {
    let p = &policy.process;
    out.push_str("\n## Environment\n\n");
    let mut set: Vec<String> = p
        .env_set
        .iter()
        .filter(|(k, _)| k.as_str() != "CORRAL_SANDBOX")
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    set.push("CORRAL_SANDBOX=1".to_owned());
    if p.env_deny.is_empty() {
        let _ = writeln!(out, "- Set: {}.", code_list(&set));
    } else {
        let _ = writeln!(
            out,
            "- Removed (credentials; globs on names): {}. Set: {}.",
            code_list(&p.env_deny),
            code_list(&set)
        );
    }
}

fn refusals(out: &mut String, policy: &Policy) {
    out.push_str("\n## When something is refused\n\n");
    out.push_str("- Files: \"Read-only file system\" (EROFS) or \"Permission denied\" (EACCES).\n");
    let network_on = NetPolicy::compile(&policy.network).is_ok_and(|n| !n.is_empty());
    if network_on {
        out.push_str(
            "- Network: the proxy answers `403 Forbidden` (or closes the connection) with a \
             line `corral: denied ... - REASON`, which corral also prints on its stderr; DNS \
             answers only for allowed names.\n",
        );
    } else {
        out.push_str("- Network: \"Network is unreachable\", or the name does not resolve.\n");
    }
    let namespaces = if policy.sandbox.dangerously_allow_nested_namespaces {
        ""
    } else {
        "unshare, setns, "
    };
    let _ = writeln!(
        out,
        "- You have no capabilities (`sudo`, `su` and setuid programs gain nothing), and system \
         calls that could escape or spy (ptrace, mount, {namespaces}bpf, kernel modules, raw \
         sockets, setting setuid bits, ...) fail with EPERM (\"Operation not permitted\")."
    );
    out.push_str(
        "- A limit: the exit status says which (137: memory, 124: timeout); corral prints \
         `corral: ...` lines on its stderr after the run.\n",
    );
}

fn watching(out: &mut String, policy: &Policy) {
    let detect = &policy.detect;
    out.push_str("\n## You are watched\n\n");
    out.push_str(
        "- corral records the run in an audit trail outside the sandbox, which you cannot read \
         or change: the programs run, the connections made, the calls refused.\n",
    );
    if !detect.is_enabled() {
        out.push_str("- This policy turns corral's detectors off: nothing else is checked.\n");
        return;
    }
    // Severities grouped by what their findings get, most severe first.
    let mut groups: Vec<(Response, Vec<&str>)> = Vec::new();
    for severity in Severity::ALL.iter().rev() {
        let response = detect.response_for(*severity);
        match groups.iter_mut().find(|(r, _)| *r == response) {
            Some((_, names)) => names.push(severity.name()),
            None => groups.push((response, vec![severity.name()])),
        }
    }
    let outcomes: Vec<String> = groups
        .iter()
        .map(|(response, names)| {
            let what = match response {
                Response::Kill => "end the run at once",
                Response::Freeze => "freeze the run, then end it",
                Response::Deny => "are refused (or end the run)",
                Response::Alert => "are reported to whoever runs corral",
                Response::Log => "are recorded",
            };
            format!("{} findings {what}", join_and(names))
        })
        .collect();
    let own = if detect.detectors.is_empty() {
        ""
    } else {
        " (some detectors have their own setting)"
    };
    let _ = writeln!(
        out,
        "- corral detects crypto-mining, tunnels and reverse shells, network scans, \
         persistence, escape attempts, exfiltration and tampering with its logs: {}{own}.",
        outcomes.join("; ")
    );
    let _ = writeln!(
        out,
        "- A run corral ends for a finding exits with status {}, and says why on its stderr.",
        crate::EXIT_FINDING
    );
    if !detect.rules.is_empty() {
        let rules: Vec<String> = detect
            .rules
            .iter()
            .map(|r| match &r.explanation {
                Some(why) => format!("{} ({}: {why})", code(&r.id), r.severity.name()),
                None => format!("{} ({})", code(&r.id), r.severity.name()),
            })
            .collect();
        let _ = writeln!(out, "- This policy's own rules: {}.", rules.join("; "));
    }
}

/// `` `a`, `b` and `c` ``.
fn code_list(items: &[String]) -> String {
    let coded: Vec<String> = items.iter().map(|i| code(i)).collect();
    let refs: Vec<&str> = coded.iter().map(String::as_str).collect();
    join_and(&refs)
}

/// `a`, `a and b`, `a, b and c`.
fn join_and(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => (*one).to_owned(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// Inline code, with a longer fence when the text holds a backtick.
fn code(text: &str) -> String {
    let clean: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if clean.contains('`') {
        format!("`` {clean} ``")
    } else {
        format!("`{clean}`")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::NetDeny;
    use crate::profiles::profile;

    fn of(name: &str) -> String {
        let p = profile(name).expect("profile");
        brief(&p)
    }

    #[test]
    fn offline_says_no_network_and_hides_the_secrets() {
        let b = of("offline");
        assert!(b.contains("There is no network at all"), "{b}");
        assert!(!b.contains("egress proxy"), "{b}");
        assert!(b.contains("`~/.ssh`"), "{b}");
        assert!(b.contains("`**/.env`"), "{b}");
        assert!(b.contains("Protected, read-only"), "{b}");
        assert!(b.contains("`**/.git/hooks`"), "{b}");
        assert!(
            b.contains("Everything else on the machine is read-only"),
            "{b}"
        );
        assert!(b.contains("Processes and threads: 4096"), "{b}");
        assert!(b.contains("Open files: 65536"), "{b}");
        assert!(b.contains("No limit on memory, CPU and time beyond"), "{b}");
        assert!(!b.contains("Memory:"), "{b}");
        assert!(b.contains("`SSH_AUTH_SOCK`"), "{b}");
        assert!(b.contains("`CORRAL_SANDBOX=1`"), "{b}");
        assert!(b.contains("the directory corral was started in"), "{b}");
        assert!(b.contains("EPERM"), "{b}");
        assert!(b.contains("unshare, setns"), "{b}");
        assert!(b.contains("exits with status 123"), "{b}");
        assert!(
            b.contains(
                "critical findings end the run at once; high and medium findings are reported \
                 to whoever runs corral; low findings are recorded."
            ),
            "{b}"
        );
    }

    #[test]
    fn coding_agent_lists_the_destinations_and_the_gist_reason_and_stays_short() {
        let b = of("coding-agent");
        assert!(b.contains("egress proxy"), "{b}");
        assert!(
            b.contains("  - port 443, TLS or HTTP: `api.anthropic.com`, `api.openai.com`"),
            "{b}"
        );
        assert!(b.contains("`pypi.org`"), "{b}");
        assert!(
            b.contains("and `release-assets.githubusercontent.com`\n"),
            "{b}"
        );
        assert!(
            b.contains(
                "Never allowed, whatever the list above says: `gist.github.com` and \
                 `gist.githubusercontent.com` (code must not leave through gists)."
            ),
            "{b}"
        );
        assert!(!b.contains("no network at all"), "{b}");
        assert!(b.contains("403 Forbidden"), "{b}");
        let lines = b.lines().count();
        assert!(lines < 40, "{lines} lines:\n{b}");
    }

    #[test]
    fn rollout_states_its_limits_and_its_narrow_root() {
        let b = of("rollout");
        assert!(b.contains("Memory: 2G for the whole sandbox"), "{b}");
        assert!(b.contains("Processes and threads: 256"), "{b}");
        assert!(b.contains("CPU: 1 core(s)"), "{b}");
        assert!(b.contains("Time: 10m of wall clock"), "{b}");
        assert!(b.contains("status 124"), "{b}");
        assert!(b.contains("Open files: 1024"), "{b}");
        assert!(b.contains("File size: 1G per file"), "{b}");
        assert!(!b.contains("No limit on"), "{b}");
        assert!(b.contains("You can also read `/usr`, `/bin`"), "{b}");
        assert!(
            b.contains(". `/tmp` is writable too, private to this run"),
            "{b}"
        );
        assert!(b.contains("nothing else of the machine is visible"), "{b}");
        assert!(!b.contains("`/var/tmp`"), "{b}");
        assert!(b.contains("There is no network at all"), "{b}");
    }

    #[test]
    fn none_has_no_protections_to_list() {
        let b = of("none");
        assert!(!b.contains("Hidden:"), "{b}");
        assert!(!b.contains("Protected"), "{b}");
        assert!(!b.contains("Removed"), "{b}");
        assert!(
            b.contains("- Nothing else of the machine is visible.\n"),
            "{b}"
        );
        assert!(
            b.contains("No limit on memory, CPU, time and processes"),
            "{b}"
        );
    }

    #[test]
    fn a_denied_host_shows_its_reason_and_options_show() {
        let mut p = profile("offline").expect("offline");
        p.filesystem.workspace = Some("/src/app".into());
        p.filesystem.write = vec!["~/.cache/pip".into()];
        p.network.allow = vec![
            "pypi.org".into(),
            "*.example.com:*".into(),
            "10.1.2.0/24:5432".into(),
        ];
        p.network.rules.insert(
            "github.com:22".into(),
            crate::model::NetRule {
                protocols: Some(vec![Protocol::Ssh]),
            },
        );
        p.network.deny = vec![
            NetDeny {
                host: "evil.example.com".into(),
                reason: Some("known exfiltration sink".into()),
            },
            NetDeny {
                host: "10.1.2.3:5432".into(),
                reason: None,
            },
        ];
        p.network.resolve = vec!["db.test:5432:10.1.2.4".into()];
        p.sandbox.dangerously_allow_nested_namespaces = true;
        p.sandbox.dangerously_allow_degraded = true;
        let b = brief(&p);
        assert!(
            b.contains("your workspace, `/src/app` and `~/.cache/pip`. `/tmp`, `/var/tmp` and"),
            "{b}"
        );
        assert!(b.contains("`~` is the home directory"), "{b}");
        assert!(
            b.contains("  - ports 80 and 443, TLS or HTTP: `pypi.org`\n"),
            "{b}"
        );
        assert!(
            b.contains("  - any port, TLS or HTTP: `*.example.com`\n"),
            "{b}"
        );
        assert!(
            b.contains("  - port 5432, TLS or HTTP: `10.1.2.0/24`\n"),
            "{b}"
        );
        assert!(b.contains("  - port 22, SSH only: `github.com`\n"), "{b}");
        assert!(
            b.contains("`evil.example.com` (known exfiltration sink); `10.1.2.3:5432`."),
            "{b}"
        );
        assert!(b.contains("`db.test` (port 5432) -> 10.1.2.4"), "{b}");
        assert!(!b.contains("unshare, setns"), "{b}");
        assert!(
            b.contains("some of the limits below may not be in force"),
            "{b}"
        );
    }

    #[test]
    fn the_detect_section_is_told() {
        let mut p = profile("offline").expect("offline");
        p.detect.response.high = Some(Response::Kill);
        p.detect.response.low = Some(Response::Alert);
        p.detect
            .detectors
            .insert("miner".into(), crate::DetectorSettings::default());
        p.detect.rules.push(crate::DetectRule {
            id: "custom.no-rm-rf".into(),
            severity: Severity::High,
            explanation: Some("never wipe the disk".into()),
            technique: None,
            exec: vec!["rm -rf /*".into()],
            write: Vec::new(),
            connect: Vec::new(),
            response: None,
        });
        let b = brief(&p);
        assert!(
            b.contains(
                "critical and high findings end the run at once; medium and low findings are \
                 reported to whoever runs corral (some detectors have their own setting)."
            ),
            "{b}"
        );
        assert!(
            b.contains("This policy's own rules: `custom.no-rm-rf` (high: never wipe the disk)."),
            "{b}"
        );
        p.detect.enabled = Some(false);
        let b = brief(&p);
        assert!(b.contains("turns corral's detectors off"), "{b}");
        assert!(!b.contains("crypto-mining"), "{b}");
    }

    #[test]
    fn an_empty_allow_list_means_no_network_even_with_deny_rules() {
        let mut p = profile("none").expect("none");
        p.network.deny = vec![NetDeny {
            host: "example.com".into(),
            reason: Some("never".into()),
        }];
        let b = brief(&p);
        assert!(b.contains("There is no network at all"), "{b}");
        assert!(!b.contains("Never allowed"), "{b}");
        assert!(b.contains("\"Network is unreachable\""), "{b}");
    }

    #[test]
    fn env_set_is_listed_and_odd_text_stays_in_its_code_span() {
        let mut p = profile("none").expect("none");
        p.process.env_set.insert("PIP_NO_INPUT".into(), "1".into());
        p.filesystem.write = vec!["/odd`dir\nx".into()];
        let b = brief(&p);
        assert!(b.contains("`PIP_NO_INPUT=1` and `CORRAL_SANDBOX=1`"), "{b}");
        assert!(b.contains("`` /odd`dir x ``"), "{b}");
    }
}
