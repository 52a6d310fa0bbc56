//! The scenario table: what each scenario program (in `scenarios/` at the
//! repository root, embedded here) attempts, what its benign twin does,
//! what counts as contained, the findings expected, and what the runner
//! supplies (local servers, limits, the destinations it checks the policy
//! against before the program may start).

/// How a scenario can be contained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// Every attempt refused: what it does cannot be undone (a secret read,
    /// a file planted), so detection afterwards is not enough.
    Prevent,
    /// Every attempt refused, or corral ended the run (kill, freeze) or
    /// refused the behaviour (deny) on a finding.
    PreventOrStop,
    /// Every attempt refused, or corral raised a finding with a response
    /// beyond `log`: what it does cannot be refused by the policy's rules
    /// (an upload to an allowed host), so noticing is what counts.
    PreventOrDetect,
}

impl Rule {
    pub fn name(self) -> &'static str {
        match self {
            Rule::Prevent => "prevent",
            Rule::PreventOrStop => "prevent-or-stop",
            Rule::PreventOrDetect => "prevent-or-detect",
        }
    }
}

/// One of the runner's local servers (on the host's 127.0.0.1, reached
/// from the sandbox through corral's proxy by a pinned, allowed name).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Server {
    /// A fake Stratum pool: answers `mining.subscribe`, `mining.authorize`
    /// and XMRig's `login`, plain or base64-wrapped.
    Pool,
    /// Sends an SSH banner, records the client's.
    Ssh,
    /// A reverse shell's listener: sends an echo, records the answer.
    C2,
    /// HTTP: GET answers `ok`, POST counts the bytes (the upload sink).
    Web,
}

impl Server {
    pub const ALL: [Server; 4] = [Server::Pool, Server::Ssh, Server::C2, Server::Web];

    pub fn key(self) -> &'static str {
        match self {
            Server::Pool => "pool",
            Server::Ssh => "ssh",
            Server::C2 => "c2",
            Server::Web => "web",
        }
    }

    /// The name the sandbox uses for it.
    pub fn host(self) -> &'static str {
        match self {
            Server::Pool => "pool.verify.test",
            Server::Ssh => "ssh.verify.test",
            Server::C2 => "c2.verify.test",
            Server::Web => "web.verify.test",
        }
    }
}

/// One scenario.
#[derive(Debug)]
pub struct Scenario {
    pub id: &'static str,
    pub title: &'static str,
    /// The program's file name in `scenarios/`.
    pub program: &'static str,
    pub source: &'static str,
    /// What the attack attempts, in one sentence.
    pub attempts: &'static str,
    /// What the benign twin does.
    pub twin: &'static str,
    /// What contained means here, in one sentence.
    pub contained: &'static str,
    pub rule: Rule,
    /// Finding id prefixes a detector should raise (`miner.`, `net.scan`).
    pub expect: &'static [&'static str],
    /// Under the built-in profiles, only detection can contain it (so it
    /// fails until corral's detectors are in the build and enabled).
    pub needs_detection: bool,
    /// The runner's servers the attack and the twin reach.
    pub servers: &'static [Server],
    pub twin_servers: &'static [Server],
    /// Destinations the attack asks corral's proxy for that are off this
    /// machine: if the policy would allow one, the scenario is not run
    /// (it is reported as not contained), so nothing ever leaves.
    pub proxied: &'static [(&'static str, u16)],
    /// Names the attack asks the sandbox's resolver for: if the policy
    /// would let one reach the host's resolver, the scenario is not run.
    pub looked_up: &'static [&'static str],
    /// The runner caps processes and memory (the policy's limits when
    /// smaller).
    pub limits: bool,
    /// `--timeout` of each run, seconds.
    pub timeout_s: u64,
}

/// Every program imports this helper (the protocol with the runner).
pub const HELPER: (&str, &str) = (
    "corral_scenario.py",
    include_str!("../../../scenarios/corral_scenario.py"),
);

pub static SUITE: &[Scenario] = &[
    Scenario {
        id: "mining",
        title: "cryptocurrency mining",
        program: "mining.py",
        source: include_str!("../../../scenarios/mining.py"),
        attempts: "burns every CPU with a hash loop for 7 s, then logs in to a Stratum pool through the proxy (plain, XMRig over SOCKS5, base64-wrapped) and directly to 192.0.2.1:3333",
        twin: "a compiler-like build: the same CPU load for 7 s, writing object files",
        contained: "no pool accepted a login, or corral ended the run on a finding",
        rule: Rule::PreventOrStop,
        expect: &["miner."],
        needs_detection: false,
        servers: &[Server::Pool],
        twin_servers: &[],
        proxied: &[],
        looked_up: &[],
        limits: false,
        timeout_s: 30,
    },
    Scenario {
        id: "ssh-tunnel",
        title: "reverse SSH tunnel",
        program: "ssh_tunnel.py",
        source: include_str!("../../../scenarios/ssh_tunnel.py"),
        attempts: "an SSH banner exchange through the proxy with an allowed host, `ssh -R` through the proxy and directly to 192.0.2.1",
        twin: "an HTTP request to an allowed host through the proxy",
        contained: "no SSH session reached the server, or corral ended the run on a finding",
        rule: Rule::PreventOrStop,
        expect: &["tunnel."],
        needs_detection: false,
        servers: &[Server::Ssh],
        twin_servers: &[Server::Web],
        proxied: &[],
        looked_up: &[],
        limits: false,
        timeout_s: 40,
    },
    Scenario {
        id: "reverse-shell",
        title: "reverse shell",
        program: "reverse_shell.py",
        source: include_str!("../../../scenarios/reverse_shell.py"),
        attempts: "bash `/dev/tcp/192.0.2.1/4444`, a Python socket dup2'd onto `sh -i` directly and through the proxy to an allowed listener",
        twin: "a Python subprocess with pipes",
        contained: "no shell answered the listener, or corral ended the run on a finding",
        rule: Rule::PreventOrStop,
        expect: &["shell.", "tunnel."],
        needs_detection: false,
        servers: &[Server::C2],
        twin_servers: &[],
        proxied: &[],
        looked_up: &[],
        limits: false,
        timeout_s: 30,
    },
    Scenario {
        id: "net-probe",
        title: "internal network probe",
        program: "net_probe.py",
        source: include_str!("../../../scenarios/net_probe.py"),
        attempts: "a sweep of 6 private addresses x 9 service ports directly, and private addresses through the HTTP and SOCKS5 proxies",
        twin: "one health check of an allowed local service",
        contained: "every attempt failed, or corral raised a finding with a response beyond log",
        rule: Rule::PreventOrDetect,
        expect: &["net.scan"],
        needs_detection: false,
        servers: &[Server::Web],
        twin_servers: &[Server::Web],
        proxied: &[
            ("10.0.0.1", 22),
            ("172.16.0.1", 5432),
            ("192.168.1.1", 80),
            ("100.64.0.1", 443),
            ("10.0.0.2", 6379),
            ("192.168.0.1", 2375),
        ],
        looked_up: &[],
        limits: false,
        timeout_s: 20,
    },
    Scenario {
        id: "metadata",
        title: "cloud metadata credentials",
        program: "metadata.py",
        source: include_str!("../../../scenarios/metadata.py"),
        attempts: "169.254.169.254 directly and through the proxy, metadata.google.internal by name through the proxy and the resolver, [fd00:ec2::254] directly",
        twin: "a DNS lookup and a GET of an allowed name",
        contained: "every attempt failed (prevention only: the credentials are usable at once)",
        rule: Rule::Prevent,
        expect: &["net.metadata"],
        needs_detection: false,
        servers: &[Server::Web],
        twin_servers: &[Server::Web],
        proxied: &[("169.254.169.254", 80), ("metadata.google.internal", 80)],
        looked_up: &["metadata.google.internal"],
        limits: false,
        timeout_s: 20,
    },
    Scenario {
        id: "dns-exfil",
        title: "DNS exfiltration",
        program: "dns_exfil.py",
        source: include_str!("../../../scenarios/dns_exfil.py"),
        attempts: "24 A and TXT queries of high-entropy labels (a base32 decoy secret) under exfil.invalid, and one through getaddrinfo",
        twin: "a lookup of an allowed name",
        contained: "no query was answered from outside, or corral ended the run on a finding",
        rule: Rule::PreventOrStop,
        expect: &["exfil."],
        needs_detection: false,
        servers: &[Server::Web],
        twin_servers: &[Server::Web],
        proxied: &[],
        looked_up: &["corralverifyprobe.0.exfil.invalid"],
        limits: false,
        timeout_s: 30,
    },
    Scenario {
        id: "credentials",
        title: "credential theft",
        program: "credentials.py",
        source: include_str!("../../../scenarios/credentials.py"),
        attempts: "reads ~/.ssh/id_*, ~/.aws/credentials, gcloud, kube, docker, netrc and git credentials, the workspace's .env files, /etc/shadow, and AWS_SECRET_ACCESS_KEY and GITHUB_TOKEN",
        twin: "reads the workspace's README.md and config.toml, and HOME and PATH",
        contained: "no decoy was read (prevention only: a secret once read can leave)",
        rule: Rule::Prevent,
        expect: &[],
        needs_detection: false,
        servers: &[],
        twin_servers: &[],
        proxied: &[],
        looked_up: &[],
        limits: false,
        timeout_s: 15,
    },
    Scenario {
        id: "persistence",
        title: "persistence",
        program: "persistence.py",
        source: include_str!("../../../scenarios/persistence.py"),
        attempts: "crontab and /etc/cron.d files, ~/.bashrc and ~/.profile, ~/.ssh/authorized_keys, a git hook and core.hooksPath, a systemd user unit and `systemctl --user enable`, /etc/profile.d",
        twin: "writes a file in the workspace and runs `git init` (which writes .git/hooks/*.sample)",
        contained: "nothing was written (prevention only: persistence outlives the run)",
        rule: Rule::Prevent,
        expect: &["persist."],
        needs_detection: false,
        servers: &[],
        twin_servers: &[],
        proxied: &[],
        looked_up: &[],
        limits: false,
        timeout_s: 20,
    },
    Scenario {
        id: "log-tamper",
        title: "log and audit tampering",
        program: "log_tamper.py",
        source: include_str!("../../../scenarios/log_tamper.py"),
        attempts: "truncates and deletes ~/.bash_history, writes in /var/log, opens this run's audit trail and corral's state directory for writing",
        twin: "rewrites a build log and deletes a temporary log in the workspace",
        contained: "every attempt failed (prevention only: an altered log cannot be trusted)",
        rule: Rule::Prevent,
        expect: &["evasion."],
        needs_detection: false,
        servers: &[],
        twin_servers: &[],
        proxied: &[],
        looked_up: &[],
        limits: false,
        timeout_s: 15,
    },
    Scenario {
        id: "fileless-exec",
        title: "fileless execution",
        program: "fileless_exec.py",
        source: include_str!("../../../scenarios/fileless_exec.py"),
        attempts: "memfd_create + exec of /proc/self/fd/N, memfd + execveat(AT_EMPTY_PATH), exec of a binary copied to /dev/shm",
        twin: "runs a script that was in the workspace before the run",
        contained: "nothing ran, or corral raised a finding with a response beyond log",
        rule: Rule::PreventOrDetect,
        expect: &["evasion."],
        needs_detection: true,
        servers: &[],
        twin_servers: &[],
        proxied: &[],
        looked_up: &[],
        limits: false,
        timeout_s: 15,
    },
    Scenario {
        id: "escape",
        title: "sandbox escape",
        program: "escape.py",
        source: include_str!("../../../scenarios/escape.py"),
        attempts: "ptrace of a sibling, mount, unshare(CLONE_NEWUSER), io_uring_setup, an AF_PACKET socket, chmod u+s of a helper",
        twin: "a child process, a TCP socket, chmod 0755 of a script, /proc/self/status",
        contained: "every call was refused (prevention only)",
        rule: Rule::Prevent,
        expect: &["escape."],
        needs_detection: false,
        servers: &[],
        twin_servers: &[],
        proxied: &[],
        looked_up: &[],
        limits: false,
        timeout_s: 15,
    },
    Scenario {
        id: "resources",
        title: "resource exhaustion",
        program: "resources.py",
        source: include_str!("../../../scenarios/resources.py"),
        attempts: "fd exhaustion (cap 200,000), a memory balloon (cap 512 MiB), filling /tmp (cap 256 MiB), a fork bomb (cap 512)",
        twin: "a build's footprint: 8 workers, 64 MiB, a 16 MiB file, 200 open files",
        contained: "every grab was stopped by a limit before its cap, or corral ended the run on a finding",
        rule: Rule::PreventOrStop,
        expect: &["resource."],
        needs_detection: false,
        servers: &[],
        twin_servers: &[],
        proxied: &[],
        looked_up: &[],
        limits: true,
        timeout_s: 30,
    },
    Scenario {
        id: "backdoor",
        title: "listening backdoor",
        program: "backdoor.py",
        source: include_str!("../../../scenarios/backdoor.py"),
        attempts: "listens on 0.0.0.0:4444 and [::]:4444",
        twin: "a test server on 127.0.0.1 and a request to it",
        contained: "nothing outside the sandbox can connect (its network has only loopback), or corral raised a finding",
        rule: Rule::PreventOrDetect,
        expect: &["net.listen"],
        needs_detection: false,
        servers: &[],
        twin_servers: &[],
        proxied: &[],
        looked_up: &[],
        limits: false,
        timeout_s: 15,
    },
    Scenario {
        id: "upload",
        title: "large upload to an allowed host",
        program: "upload.py",
        source: include_str!("../../../scenarios/upload.py"),
        attempts: "POSTs 96 MiB to an allowed host through the proxy",
        twin: "POSTs 64 KiB to the same host",
        contained: "corral raised a finding (exfil.*) with a response beyond log: an allow rule lets the bytes through",
        rule: Rule::PreventOrDetect,
        expect: &["exfil."],
        needs_detection: true,
        servers: &[Server::Web],
        twin_servers: &[Server::Web],
        proxied: &[],
        looked_up: &[],
        limits: false,
        timeout_s: 30,
    },
    Scenario {
        id: "daemon",
        title: "a daemon that outlives the run",
        program: "daemon.py",
        source: include_str!("../../../scenarios/daemon.py"),
        attempts: "setsid double fork, signals ignored, then the program exits, leaving `sleep 30` behind",
        twin: "a background job that ends with the run",
        contained: "no process of the run is left on the host after `corral run` returns",
        rule: Rule::Prevent,
        expect: &[],
        needs_detection: false,
        servers: &[],
        twin_servers: &[],
        proxied: &[],
        looked_up: &[],
        limits: false,
        timeout_s: 15,
    },
];

/// The scenarios `--only` names (all when empty), in suite order.
pub fn select(only: &[String]) -> Result<Vec<&'static Scenario>, String> {
    if only.is_empty() {
        return Ok(SUITE.iter().collect());
    }
    let unknown: Vec<&String> = only
        .iter()
        .filter(|id| !SUITE.iter().any(|s| s.id == id.as_str()))
        .collect();
    if !unknown.is_empty() {
        return Err(format!(
            "--only: no scenario {}; the scenarios are: {}",
            unknown
                .iter()
                .map(|s| format!("{s:?}"))
                .collect::<Vec<_>>()
                .join(", "),
            SUITE.iter().map(|s| s.id).collect::<Vec<_>>().join(", ")
        ));
    }
    Ok(SUITE
        .iter()
        .filter(|s| only.iter().any(|id| id == s.id))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_every_program_has_the_protocol() {
        for (i, s) in SUITE.iter().enumerate() {
            assert!(
                SUITE[..i].iter().all(|o| o.id != s.id),
                "duplicate id {}",
                s.id
            );
            assert!(
                s.source.contains("import corral_scenario as cs"),
                "{}",
                s.id
            );
            assert!(s.source.contains("def twin()"), "{}: no twin", s.id);
            assert!(s.source.starts_with("\"\"\""), "{}: no header", s.id);
            for word in ["Safe", "Contained", "Twin"] {
                assert!(s.source.contains(word), "{}: header lacks {word}", s.id);
            }
        }
    }

    #[test]
    fn select_keeps_suite_order_and_names_unknown_ids() {
        let got = select(&["escape".into(), "mining".into()]).expect("select");
        assert_eq!(
            got.iter().map(|s| s.id).collect::<Vec<_>>(),
            ["mining", "escape"]
        );
        let err = select(&["minig".into()]).expect_err("unknown");
        assert!(err.contains("no scenario \"minig\""), "{err}");
        assert!(err.contains("mining, ssh-tunnel"), "{err}");
    }
}
