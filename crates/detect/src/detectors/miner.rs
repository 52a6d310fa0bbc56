//! `miner.*`: cryptocurrency mining by protocol, argv, program name, pool
//! name, port, and CPU shape.

use super::{base, hit, host_port, loopback, pid_subject, q, Ev, Exec, Facts, Hit};
use crate::{Baseline, Context, Evidence, Severity};
use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::time::Duration;

const T: &str = "T1496";

/// Ports mining pools conventionally serve Stratum on. 8888 and 9999 are
/// left out: too many development servers use them.
const STRATUM_PORTS: [u64; 8] = [3333, 4444, 5555, 7777, 14433, 14444, 45560, 45700];

/// Pool operators, matched as a whole DNS label.
const POOL_OPERATORS: &[&str] = &[
    "supportxmr",
    "nanopool",
    "minexmr",
    "2miners",
    "f2pool",
    "ethermine",
    "hashvault",
    "moneroocean",
    "nicehash",
    "herominers",
    "c3pool",
    "unmineable",
    "viabtc",
    "antpool",
    "minergate",
    "dwarfpool",
    "slushpool",
    "braiins",
    "poolin",
    "flypool",
    "hiveon",
    "miningpoolhub",
    "prohashing",
    "zergpool",
    "zpool",
    "mining-dutch",
    "kryptex",
    "woolypooly",
    "k1pool",
    "xmrpool",
    "monerohash",
    "skypool",
    "p2pool",
    "hashcity",
    "xmrfast",
    "minerrocks",
    "gntl",
    "solopool",
    "cryptonote-pool",
    "multipool",
];

/// Miner programs, by name (a name starting with one of these followed by
/// `-` also counts: `xmrig-notls`, `xmr-stak-rx`).
const MINER_PROGRAMS: &[&str] = &[
    "xmrig",
    "xmr-stak",
    "cpuminer",
    "minerd",
    "cgminer",
    "bfgminer",
    "ccminer",
    "ethminer",
    "t-rex",
    "nbminer",
    "lolminer",
    "phoenixminer",
    "nanominer",
    "srbminer",
    "srbminer-multi",
    "gminer",
    "teamredminer",
    "wildrig",
    "wildrig-multi",
    "nheqminer",
    "kawpowminer",
    "progpowminer",
    "nsfminer",
    "bzminer",
    "onezerominer",
    "rigel",
    "cryptodredge",
    "z-enemy",
    "xmrminer",
    "cpuminer-opt",
    "sgminer",
    "claymore",
    "ewbf",
    "bminer",
    "miniz",
    "xlarig",
];

/// Options only miners have.
const MINER_OPTIONS: &[&str] = &[
    "--donate-level",
    "--donate-over-proxy",
    "--randomx-mode",
    "--randomx-1gb-pages",
    "--randomx-no-numa",
    "--cpu-max-threads-hint",
    "--nicehash",
    "--rig-id",
    "--max-cpu-usage",
    "--cuda-devices",
    "--opencl-devices",
    "--benchmark-algo",
];

/// Mining algorithm names, as given to `-a`/`--algo`.
const ALGORITHMS: &[&str] = &[
    "randomx",
    "rx/0",
    "rx/wow",
    "rx/arq",
    "rx/sfx",
    "rx/graft",
    "rx/keva",
    "cn/r",
    "cn/0",
    "cn/1",
    "cn/2",
    "cn/half",
    "cn/rto",
    "cn/rwz",
    "cn/zls",
    "cn/double",
    "cn/gpu",
    "cn-lite/1",
    "cn-heavy/0",
    "cn-pico",
    "cryptonight",
    "cryptonight-lite",
    "argon2/chukwa",
    "argon2/wrkz",
    "kawpow",
    "ethash",
    "etchash",
    "autolykos2",
    "kheavyhash",
    "equihash",
    "sha256d",
    "scrypt",
    "ghostrider",
    "x16r",
    "x16rv2",
    "x11",
    "lyra2z",
    "lyra2rev3",
    "yescrypt",
    "yespower",
    "blake2s",
    "blake3",
    "octopus",
    "firopow",
    "progpow",
    "cuckatoo32",
    "cuckaroo29",
    "beamhash",
    "verushash",
    "neoscrypt",
    "heavyhash",
    "dynexsolve",
    "karlsenhash",
    "pyrinhash",
];

/// Coins, as given to `--coin`.
const COINS: &[&str] = &[
    "monero",
    "xmr",
    "btc",
    "bitcoin",
    "eth",
    "etc",
    "ethereum",
    "rvn",
    "ravencoin",
    "zec",
    "zcash",
    "ltc",
    "litecoin",
    "doge",
    "dogecoin",
    "erg",
    "ergo",
    "kas",
    "kaspa",
    "wow",
    "wownero",
    "zeph",
    "zephyr",
    "dero",
    "xhv",
    "haven",
    "arq",
    "rtm",
    "beam",
    "firo",
];

/// How pool-like a name is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PoolName {
    /// A pool operator, a `stratum` label, or `xmr`/`monero` with `pool`.
    Strong,
    /// `pool`, `xmr`, `mining`... alone: only with a Stratum port.
    Weak,
}

fn pool_name(host: &str) -> Option<PoolName> {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let labels: Vec<&str> = host.split('.').collect();
    if labels.len() < 2 || host.parse::<IpAddr>().is_ok() {
        return None;
    }
    let inner = &labels[..labels.len() - 1];
    let strong = inner.iter().any(|l| {
        POOL_OPERATORS.contains(l)
            || (l.starts_with("stratum") && !l[7..].bytes().all(|b| b.is_ascii_digit()))
            || *l == "stratum"
    }) || (inner
        .iter()
        .any(|l| l.contains("xmr") || l.contains("monero"))
        && inner.iter().any(|l| l.contains("pool")));
    if strong {
        return Some(PoolName::Strong);
    }
    let weak = inner.iter().any(|l| {
        *l == "pool"
            || l.ends_with("-pool")
            || l.starts_with("pool-")
            || l.ends_with("pool")
            || matches!(*l, "xmr" | "mine" | "mining" | "miner" | "miners")
    });
    weak.then_some(PoolName::Weak)
}

/// Whether `text` (an `-o` value) is a pool URL or address.
fn pool_url(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    if lower.contains("stratum") {
        return true;
    }
    let hostport = lower.split("://").last().unwrap_or(&lower);
    let hostport = hostport.split('/').next().unwrap_or(hostport);
    match hostport.rsplit_once(':') {
        Some((host, port)) => {
            let port: u64 = port.parse().unwrap_or(0);
            match pool_name(host) {
                Some(PoolName::Strong) => true,
                Some(PoolName::Weak) => STRATUM_PORTS.contains(&port),
                None => false,
            }
        }
        None => pool_name(hostport) == Some(PoolName::Strong),
    }
}

/// A Monero address: 95 (standard) or 106 (integrated) base58 characters
/// starting with 4 or 8.
fn monero_address(text: &str) -> bool {
    let text = text.split(['.', '+']).next().unwrap_or(text);
    (text.len() == 95 || text.len() == 106)
        && text.starts_with(['4', '8'])
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() && !matches!(b, b'0' | b'O' | b'I' | b'l'))
}

/// What in an argv is a miner's; `None` when nothing.
fn miner_argv(args: &[&str]) -> Option<String> {
    for (i, arg) in args.iter().enumerate() {
        let lower = arg.to_ascii_lowercase();
        if ["stratum+", "stratum1+", "stratum2+"]
            .iter()
            .any(|p| lower.contains(p))
            && lower.contains("://")
        {
            return Some(format!("the pool URL {}", q(arg)));
        }
        let (flag, inline) = match lower.split_once('=') {
            Some((f, v)) if f.starts_with('-') => (f.to_owned(), Some(v.to_owned())),
            _ => (lower.clone(), None),
        };
        if MINER_OPTIONS.contains(&flag.as_str()) {
            return Some(format!("the miner option {}", q(arg)));
        }
        let value = || {
            inline
                .clone()
                .or_else(|| args.get(i + 1).map(|v| v.to_ascii_lowercase()))
        };
        match flag.as_str() {
            "-a" | "--algo" | "--algorithm" => {
                if let Some(v) = value().filter(|v| ALGORITHMS.contains(&v.as_str())) {
                    return Some(format!("the mining algorithm {}", q(&v)));
                }
            }
            "--coin" => {
                if let Some(v) = value().filter(|v| COINS.contains(&v.as_str())) {
                    return Some(format!("the coin option {}", q(&format!("--coin {v}"))));
                }
            }
            "-o" | "--url" | "--pool" => {
                if let Some(v) = value().filter(|v| pool_url(v)) {
                    return Some(format!("the pool {}", q(&v)));
                }
            }
            _ => {}
        }
        if monero_address(arg) {
            return Some(format!("the Monero wallet address {}", q(arg)));
        }
    }
    None
}

fn miner_program(name: &str) -> bool {
    MINER_PROGRAMS
        .iter()
        .any(|m| name == *m || name.strip_prefix(m).is_some_and(|r| r.starts_with('-')))
}

/// Compute-heavy programs a sandbox runs legitimately, by `comm` (see the
/// module table of `detectors`).
fn expected_compute(comm: &str) -> bool {
    const EXACT: &[&str] = &[
        "cc1",
        "cc1plus",
        "cc1obj",
        "cc1objplus",
        "cc",
        "c++",
        "gcc",
        "g++",
        "as",
        "ld",
        "lld",
        "mold",
        "collect2",
        "lto1",
        "lto-wrapper",
        "rustc",
        "rustdoc",
        "clippy-driver",
        "cargo",
        "go",
        "compile",
        "link",
        "asm",
        "cgo",
        "vet",
        "javac",
        "java",
        "zig",
        "ghc",
        "node",
        "deno",
        "bun",
        "tsc",
        "esbuild",
        "make",
        "gmake",
        "ninja",
        "cmake",
        "bazel",
        "dotnet",
        "pytest",
        "ruby",
        "php",
        "perl",
        "git",
        "gzip",
        "pigz",
        "xz",
        "zstd",
        "bzip2",
        "tar",
    ];
    const PREFIXES: &[&str] = &[
        "clang",
        "gcc-",
        "g++-",
        "ld.",
        "python",
        "swift",
        "x86_64-linux-g",
        "aarch64-linux-g",
        "rustc",
        "git-",
        "node",
        "java",
    ];
    EXACT.contains(&comm) || PREFIXES.iter().any(|p| comm.starts_with(p))
}

/// One process holding the CPU, sample after sample.
#[derive(Debug)]
struct Streak {
    /// Milliseconds held so far.
    held_ms: u64,
    first: Evidence,
    /// `(at, io_kib)` of the samples in the window, when sampled.
    io: VecDeque<(Duration, u64)>,
    /// Raised, or found to be an expected program: nothing more to do.
    done: bool,
}

pub(crate) struct Miner {
    cpu_percent: f64,
    window: Duration,
    streaks: HashMap<u32, Streak>,
    /// Several unexpected processes sharing the saturation (two burners
    /// under `cpus = 1` hold half each, which no single streak sees).
    group: Option<Streak>,
    /// `io_kib` of each group member when the group's streak began.
    group_io: HashMap<u32, u64>,
}

impl Miner {
    pub fn new(t: &corral_policy::Thresholds) -> Miner {
        Miner {
            cpu_percent: t.mining_cpu_percent(),
            window: t.mining_seconds(),
            streaks: HashMap::new(),
            group: None,
            group_io: HashMap::new(),
        }
    }

    /// A pid exec'd or exited: its streak is over.
    pub fn forget(&mut self, pid: Option<u32>) {
        if let Some(pid) = pid {
            self.streaks.remove(&pid);
        }
    }

    pub fn exec(&mut self, ev: &Ev<'_>, x: &Exec<'_>, out: &mut Vec<Hit>) {
        if miner_program(&x.name) {
            out.push(hit(
                ev,
                "miner.exec",
                Severity::Critical,
                T,
                pid_subject(ev),
                format!(
                    "{} ran {}, a cryptocurrency miner",
                    pid_subject(ev),
                    q(x.path)
                ),
            ));
        }
        if let Some(what) = miner_argv(x.args()) {
            out.push(hit(
                ev,
                "miner.argv",
                Severity::Critical,
                T,
                pid_subject(ev),
                format!(
                    "{} ran {} with {what}: a cryptocurrency miner's command line",
                    pid_subject(ev),
                    q(base(x.path))
                ),
            ));
        }
    }

    /// A name asked of DNS or given to the proxy, and the port if known.
    fn name(&self, ev: &Ev<'_>, host: &str, port: Option<u64>, out: &mut Vec<Hit>) {
        let stratum_port = port.is_some_and(|p| STRATUM_PORTS.contains(&p));
        let pool = match pool_name(host) {
            Some(PoolName::Strong) => true,
            Some(PoolName::Weak) => stratum_port,
            None => false,
        };
        let shown = port.map_or_else(|| host.to_owned(), |p| host_port(host, p));
        if pool {
            out.push(hit(
                ev,
                "miner.pool",
                Severity::Critical,
                T,
                host.trim_end_matches('.').to_ascii_lowercase(),
                format!("{} looked for the mining pool {}", who(ev), q(&shown)),
            ));
        } else if stratum_port {
            self.port(ev, &shown, out);
        }
    }

    fn port(&self, ev: &Ev<'_>, dest: &str, out: &mut Vec<Hit>) {
        out.push(hit(
            ev,
            "miner.port",
            Severity::Medium,
            T,
            dest.to_owned(),
            format!(
                "{} connected to {}, a port mining pools serve Stratum on",
                who(ev),
                q(dest)
            ),
        ));
    }

    pub fn net(&mut self, ev: &Ev<'_>, out: &mut Vec<Hit>) {
        let Some(net) = ev.proxied() else { return };
        let host = net.host;
        let port = Some(u64::from(net.port));
        let dest = host_port(host, u64::from(net.port));
        if net.protocol == Some("stratum") {
            let detail = net.detail.map(|d| format!(" ({})", q(d)));
            out.push(hit(
                ev,
                "miner.stratum",
                Severity::Critical,
                T,
                dest.clone(),
                format!(
                    "{} spoke Stratum, the mining-pool protocol, to {}{}",
                    who(ev),
                    q(&dest),
                    detail.unwrap_or_default()
                ),
            ));
        }
        let is_loopback = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(loopback)
            || host.eq_ignore_ascii_case("localhost");
        if !is_loopback {
            self.name(ev, host, port, out);
        }
    }

    pub fn dns(&mut self, ev: &Ev<'_>, out: &mut Vec<Hit>) {
        if let Some(dns) = ev.proxied() {
            self.name(ev, dns.host, None, out);
        }
    }

    pub fn sock_connect(&mut self, ev: &Ev<'_>, out: &mut Vec<Hit>) {
        if let Some(addr) = ev.sock_addr() {
            if !loopback(addr.ip()) && STRATUM_PORTS.contains(&u64::from(addr.port())) {
                self.port(ev, &addr.to_string(), out);
            }
        }
    }

    /// `miner.cpu` over one `resource.sample`.
    pub fn sample(
        &mut self,
        ev: &Ev<'_>,
        context: &Context,
        baseline: Option<&Baseline>,
        facts: &Facts,
        out: &mut Vec<Hit>,
    ) {
        let Some(sample) = ev.sample() else {
            self.streaks.clear();
            return;
        };
        let top = &sample.top;
        let interval_ms = sample.interval_ms;
        // The sandbox's share: the sample's limit or budget, else the run's.
        let budget = Some(
            sample
                .cpu_limit_percent
                .unwrap_or(sample.cpu_budget_percent),
        )
        .filter(|b| *b > 0.0)
        .or((context.cpu_budget_percent > 0.0).then_some(context.cpu_budget_percent));
        let mut seen: Vec<u32> = Vec::with_capacity(top.len());
        // Unexpected busy processes.
        let mut busy: Vec<Busy> = Vec::new();
        for entry in top {
            let pid = entry.pid;
            let cpu = entry.cpu_percent;
            let threads = entry.threads.max(1);
            let mut possible = threads as f64 * 100.0;
            if let Some(budget) = budget {
                possible = possible.min(budget);
            }
            if possible <= 0.0 {
                continue;
            }
            let share = cpu / possible * 100.0;
            let comm = entry.comm.as_str();
            let unexpected = !(match baseline {
                Some(b) => b.knows_exec(comm),
                None => expected_compute(comm),
            } || facts.procs.get(&pid).is_some_and(|p| p.built));
            if unexpected && cpu >= GROUP_MEMBER_PERCENT {
                busy.push(Busy {
                    pid,
                    comm: comm.to_owned(),
                    cpu,
                    possible: threads as f64 * 100.0,
                    io_kib: entry.io_kib,
                });
            }
            if share < self.cpu_percent {
                continue;
            }
            seen.push(pid);
            let summary =
                format!("pid {pid} {comm} cpu {cpu}% of {possible}% possible (threads {threads})");
            let streak = self.streaks.entry(pid).or_insert_with(|| Streak {
                held_ms: 0,
                first: ev.evidence(&summary),
                io: VecDeque::new(),
                done: false,
            });
            if streak.done {
                continue;
            }
            streak.held_ms += interval_ms;
            if let Some(io) = entry.io_kib {
                streak.io.push_back((ev.at, io));
                while streak
                    .io
                    .front()
                    .is_some_and(|(at, _)| ev.at.saturating_sub(*at) > self.window)
                {
                    streak.io.pop_front();
                }
            }
            if u128::from(streak.held_ms) < self.window.as_millis() {
                continue;
            }
            // Progress within the window: files, network, or disk I/O.
            let since = ev.at.saturating_sub(self.window);
            if facts.activity.get(&pid).is_some_and(|at| *at >= since) {
                continue;
            }
            let io_grew = match (streak.io.front(), streak.io.back()) {
                (Some((_, a)), Some((_, b))) => b.saturating_sub(*a) >= 1024,
                _ => false,
            };
            if io_grew {
                continue;
            }
            streak.done = true;
            let proc = facts.procs.get(&pid);
            let expected = match baseline {
                Some(b) => b.knows_exec(comm),
                None => expected_compute(comm),
            } || proc.is_some_and(|p| p.built);
            if expected {
                continue;
            }
            let secs = streak.held_ms as f64 / 1000.0;
            out.push(Hit {
                id: "miner.cpu".to_owned(),
                severity: Severity::Critical,
                technique: T.to_owned(),
                explanation: format!(
                    "pid {pid} ({}) held {share:.0}% of the CPU it can use for {secs:.1}s \
                     without writing a file or using the network: the shape of a \
                     cryptominer",
                    q(comm)
                ),
                pid: Some(pid),
                subject: format!("pid {pid}"),
                evidence: vec![streak.first.clone(), ev.evidence(&summary)],
            });
        }
        self.streaks.retain(|pid, _| seen.contains(pid));
        self.group_sample(ev, budget, &busy, facts, out);
    }

    /// The group form of `miner.cpu`: two or more unexpected processes
    /// that together hold the CPU they can use (their threads, at most
    /// the budget) near saturation for the window, none of them making
    /// progress. One finding per run.
    fn group_sample(
        &mut self,
        ev: &Ev<'_>,
        budget: Option<f64>,
        busy: &[Busy],
        facts: &Facts,
        out: &mut Vec<Hit>,
    ) {
        let cpu: f64 = busy.iter().map(|b| b.cpu).sum();
        let mut possible: f64 = busy.iter().map(|b| b.possible).sum();
        if let Some(budget) = budget {
            possible = possible.min(budget);
        }
        let saturated =
            busy.len() >= 2 && possible > 0.0 && cpu / possible * 100.0 >= self.cpu_percent;
        // Progress by any member (files, network, 1 MiB of I/O) restarts
        // the streak.
        let since = ev.at.saturating_sub(self.window);
        let progress = busy.iter().any(|b| {
            facts.activity.get(&b.pid).is_some_and(|at| *at >= since)
                || match (self.group_io.get(&b.pid), b.io_kib) {
                    (Some(first), Some(now)) => now.saturating_sub(*first) >= 1024,
                    _ => false,
                }
        });
        if self.group.as_ref().is_some_and(|g| g.done) {
            return;
        }
        if !saturated || progress {
            self.group = None;
            self.group_io.clear();
            return;
        }
        let names: Vec<String> = busy
            .iter()
            .map(|b| format!("pid {} {}", b.pid, b.comm))
            .collect();
        let summary = format!(
            "{} together cpu {cpu:.0}% of {possible:.0}% possible",
            names.join(", ")
        );
        for b in busy {
            if let Some(io) = b.io_kib {
                self.group_io.entry(b.pid).or_insert(io);
            }
        }
        let group = self.group.get_or_insert_with(|| Streak {
            held_ms: 0,
            first: ev.evidence(&summary),
            io: VecDeque::new(),
            done: false,
        });
        group.held_ms += ev.sample().map_or(1000, |s| s.interval_ms);
        if u128::from(group.held_ms) < self.window.as_millis() {
            return;
        }
        group.done = true;
        let secs = group.held_ms as f64 / 1000.0;
        let top = busy
            .iter()
            .max_by(|a, b| a.cpu.total_cmp(&b.cpu))
            .map(|b| b.pid);
        out.push(Hit {
            id: "miner.cpu".to_owned(),
            severity: Severity::Critical,
            technique: T.to_owned(),
            explanation: format!(
                "{} processes ({}) together held {:.0}% of the CPU they can use for {secs:.1}s \
                 without writing a file or using the network: the shape of a cryptominer \
                 split across workers",
                busy.len(),
                q(&names.join(", ")),
                cpu / possible * 100.0
            ),
            pid: top,
            subject: "sandbox".to_owned(),
            evidence: vec![group.first.clone(), ev.evidence(&summary)],
        });
    }
}

/// An unexpected process busy enough to count toward a group.
struct Busy {
    pid: u32,
    comm: String,
    cpu: f64,
    possible: f64,
    io_kib: Option<u64>,
}

/// A process counts toward a group saturation from this much CPU.
const GROUP_MEMBER_PERCENT: f64 = 20.0;

/// "pid N" or "a process".
fn who(ev: &Ev<'_>) -> String {
    ev.pid
        .map_or_else(|| "a process".to_owned(), |p| format!("pid {p}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_names() {
        for strong in [
            "pool.supportxmr.com",
            "xmr-eu1.nanopool.org",
            "gulf.moneroocean.stream",
            "rx.unmineable.com.",
            "stratum-eu.example.net",
            "xmrpool.eu",
            "monero-pool.example.com",
            "eth.2miners.com",
        ] {
            assert_eq!(pool_name(strong), Some(PoolName::Strong), "{strong}");
        }
        for weak in [
            "pool.example.com",
            "xmr.example.org",
            "my-pool.net",
            "mining.example",
        ] {
            assert_eq!(pool_name(weak), Some(PoolName::Weak), "{weak}");
        }
        for none in [
            "registry.npmjs.org",
            "github.com",
            "stratum1.time.example",
            "1.2.3.4",
            "nicehash",
            "api.openai.com",
        ] {
            assert_eq!(pool_name(none), None, "{none}");
        }
        assert_eq!(pool_name("0.pool.ntp.org"), Some(PoolName::Weak));
    }

    #[test]
    fn argv_options() {
        let found = |args: &[&str]| miner_argv(args).is_some();
        assert!(found(&["-o", "stratum+tcp://pool.example:3333"]));
        assert!(found(&["--url=stratum+ssl://x:443"]));
        assert!(found(&["--donate-level", "1"]));
        assert!(found(&["--donate-level=0"]));
        assert!(found(&["-a", "rx/0"]));
        assert!(found(&["--algo=randomx"]));
        assert!(found(&["--coin", "monero"]));
        assert!(found(&["-o", "pool.minexmr.com:4444"]));
        assert!(found(&["-o", "pool.example.com:3333"]));
        let wallet = format!("4{}", "A".repeat(94));
        assert!(found(&["-u", &wallet]));
        // Near misses: common flags with ordinary values.
        assert!(!found(&["-a", "foo"]));
        assert!(!found(&["-o", "out.o", "main.c"]));
        assert!(!found(&["-o", "pool.example.com:8080"]));
        assert!(!found(&["--coin", "toss"]));
        assert!(!found(&["commit", "-a", "-m", "x"]));
    }

    #[test]
    fn programs() {
        for m in [
            "xmrig",
            "xmrig-notls",
            "xmr-stak-rx",
            "srbminer-multi",
            "t-rex",
        ] {
            assert!(miner_program(m), "{m}");
        }
        for n in ["xmrigx", "node", "t", "rigelx"] {
            assert!(!miner_program(n), "{n}");
        }
        assert!(expected_compute("cc1"));
        assert!(expected_compute("python3.11"));
        assert!(expected_compute("clang-17"));
        assert!(!expected_compute("xmrig"));
        assert!(!expected_compute("kworker"));
    }
}
