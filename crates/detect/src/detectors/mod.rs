//! The built-in detectors. Each reads some kinds of events (typed:
//! `corral_event::Event`, matched by variant; see the crate doc for their
//! fields) and raises findings; the [`crate::Engine`] sets
//! the response the policy asks for and raises each (id, subject) once.
//!
//! | id | severity | ATT&CK | raised by | subject |
//! |---|---|---|---|---|
//! | `miner.stratum` | critical | T1496 | a proxied connection (`net.connect`) that spoke Stratum, the mining-pool protocol, allowed or not | destination |
//! | `miner.argv` | critical | T1496 | an exec whose argv has a miner's options: a `stratum+tcp://` (`+ssl`, `+tls`, `stratum2+`...) URL, `--donate-level`, `--randomx-mode`, `--nicehash`..., an algorithm option (`-a`/`--algo`) naming a mining algorithm (`randomx`, `rx/0`, `cn/r`, `kawpow`, `ethash`...), `--coin` naming a coin, `-o`/`--url` with a pool address, or a Monero wallet address | pid |
//! | `miner.exec` | critical | T1496 | an exec of a known miner by name: xmrig, xmr-stak, cpuminer, minerd, cgminer, bfgminer, ccminer, ethminer, t-rex, nbminer, lolminer, phoenixminer, nanominer, srbminer(-multi), gminer, teamredminer, wildrig, ... | pid |
//! | `miner.pool` | critical | T1496 | a DNS query or proxied connection to a mining-pool name: a label naming a pool operator (supportxmr, nanopool, minexmr, 2miners, f2pool, ethermine, hashvault, moneroocean, nicehash, herominers, c3pool, unmineable, viabtc, antpool, ...), a `stratum` label, `xmr`/`monero` with `pool`; or a generic pool-like name (`pool.`, `xmr.`, `-pool`, `mining`) on a well-known Stratum port | the name |
//! | `miner.port` | medium | T1496 | a connection (proxied, or a socket outside loopback) to a well-known Stratum port (3333, 4444, 5555, 7777, 14433, 14444, 45560, 45700) without a pool-like name: dev servers use some of these ports, so the port alone is not enough for more | destination |
//! | `miner.cpu` | critical | T1496 | `resource.sample`: two or more unexpected processes (each at 20% or more) together holding `mining_cpu_percent` of the CPU they can use (their threads, at most the budget) for `mining_seconds` with no progress by any (workers splitting a limit, two burners under `cpus = 1`), once per run; or a process holding at least `mining_cpu_percent` of the CPU it can use (its threads times 100, at most the sandbox's budget) for `mining_seconds` of consecutive samples, with no progress in that time (no `file.write`, no network event by that pid, and its `io_kib`, when sampled, grew by less than 1 MiB), and not an expected compute-heavy program (below) | pid |
//! | `tunnel.ssh` | critical | T1572 | ssh (or autossh) with port forwarding: `-L`, `-R`, `-D`, `-w` (also in combined flags such as `-fNR`), or `-o LocalForward`, `RemoteForward`, `DynamicForward`, `Tunnel` | pid |
//! | `tunnel.ssh-proxy` | high | T1572 | ssh hopping through something: `-J`, `-W`, `-o ProxyJump`, or `-o ProxyCommand` other than one that reaches corral's own proxy (127.0.0.1:3128 or :1080, the documented way to run ssh in the sandbox) | pid |
//! | `tunnel.autossh` | high | T1572 | an exec of autossh (it keeps tunnels up) | pid |
//! | `tunnel.ssh-egress` | medium | T1572 | a proxied connection that spoke SSH, from a process that is not git or run by git (git over ssh is the normal case) | destination |
//! | `shell.reverse` | critical | T1059.004 | a shell's argv with `/dev/tcp/` or `/dev/udp/`; a shell one-liner joining `mkfifo` and nc/telnet/openssl; a python/perl/ruby/php/node one-liner joining a socket and a shell; socat joining `EXEC:`/`SYSTEM:` to an outgoing address; nc/ncat with `-e`/`-c`/`--exec`/`--sh-exec` and no `-l`; an exec whose stdin and stdout are sockets (`stdio`, which does not say their family) when that pid or its parent made an inet connect and the program is a shell or interpreter that reads its commands from that socket (an agent's own tools run `sh -c ...` over socketpairs) | pid |
//! | `shell.bind` | critical | T1059.004 | socat joining `EXEC:`/`SYSTEM:` to a listening address; nc/ncat with `-l` and `-e`/`-c`/`--exec`/`--sh-exec` | pid |
//! | `net.scan` | high | T1046 | `scan_destinations` distinct destinations within `scan_window`: inet `sock.connect`s (corral's proxy ports on loopback, 3128, 1080 and 53, excluded; private and loopback addresses count) and proxied connections that were denied or failed | the sandbox (once per run) |
//! | `net.metadata` | high | T1552.005 | a DNS query, proxied connection or socket to a cloud metadata service: 169.254.169.254, 169.254.170.2, 169.254.170.23, fd00:ec2::254, fd00:ec2::23, 100.100.100.200, metadata.google.internal, metadata.goog, metadata.azure.com, instance-data(.ec2.internal), metadata.tencentyun.com, ... | destination |
//! | `net.listen` | low | T1021 | `sock.listen`, or `sock.bind` to a port other than 0, on a non-loopback inet address (0.0.0.0, ::, ...); nothing outside can reach it in corral's network namespace, so it is recorded, not alerted | address |
//! | `persist.shell-rc` | high | T1546.004 | a write to a shell startup file: `.bashrc`, `.bash_profile`, `.bash_login`, `.bash_logout`, `.profile`, `.zshrc`, `.zprofile`, `.zshenv`, `.zlogin`, `.zlogout`, `.kshrc`, `.mkshrc`, `.cshrc`, `.tcshrc` at any depth (but not deeper than the top of the workspace), fish's `config.fish` and `conf.d`, `/etc/profile`, `/etc/profile.d/*`, `/etc/bash.bashrc`, `/etc/bashrc`, `/etc/zsh*`, `/etc/environment` | path |
//! | `persist.cron` | high | T1053.003 | a write under `/var/spool/cron/`, `/etc/cron*` or to `/etc/anacrontab`; an exec of `crontab` (not `crontab -l`) | path, or pid |
//! | `persist.at` | high | T1053.002 | a write under `/var/spool/at`; an exec of `at` or `batch` (not `at -l`) | path, or pid |
//! | `persist.systemd` | high | T1543.002 | a write under `.config/systemd/`, `.local/share/systemd/`, `/etc/systemd/`, `/lib/systemd/`, `/usr/lib/systemd/`, `/usr/local/lib/systemd/`, `/run/systemd/system/`, `/etc/init.d/`, `/etc/rc.local`; an exec of `systemctl enable`/`link`/`preset`/`reenable` (also `--user`), `update-rc.d`, `chkconfig` | path, or pid |
//! | `persist.ssh-keys` | high | T1098.004 | a write to `.ssh/authorized_keys*` at any depth (but not deeper than the top of the workspace) | path |
//! | `persist.git-hook` | high | T1546 | a write in a `.git/hooks/` directory other than a `*.sample` file (`git init` writes those) | path |
//! | `persist.preload` | high | T1574.006 | a write to `/etc/ld.so.preload` or `/etc/ld.so.conf*` | path |
//! | `persist.sudoers` | high | T1548.003 | a write to `/etc/sudoers` or under `/etc/sudoers.d/` | path |
//! | `persist.account` | high | T1136.001 | a write to `/etc/passwd`, `/etc/shadow`, `/etc/group` or `/etc/gshadow` | path |
//! | `persist.etc` | medium | T1037 | any other write under `/etc/` | path |
//! | `evasion.history` | high | T1070.003 | an unlink, truncate, `O_TRUNC` open or rename (either side) of a shell or REPL history file (`.bash_history`, `.zsh_history`, `.sh_history`, `.python_history`, `.node_repl_history`, `.lesshst`, `.mysql_history`, `.psql_history`, `.sqlite_history`, `.rediscli_history`, `.viminfo`, ...); appending is fine | path |
//! | `evasion.logs` | high | T1070.002 | the same under `/var/log/` | path |
//! | `evasion.audit` | critical | T1070 | any write (open, create, rename either side, unlink, truncate) to corral's audit trail or its directory ([`crate::Context::audit_paths`]) | path |
//! | `evasion.memfd` | high | T1620 | an exec from memory: a path starting `/memfd:` or `memfd:`, `/proc/self/fd/N`, `/proc/PID/fd/N`, `/dev/fd/N`, or execveat of an empty path with a dirfd | pid |
//! | `evasion.shm` | high | T1620 | an exec of a file under `/dev/shm/` | pid |
//! | `evasion.written-exec` | low | T1105 | an exec of a file this run wrote, unless a compiler or linker wrote it (developers run what they build) | path |
//! | `escape.SYSCALL` | high | T1611, T1055.008 (ptrace, process_vm_*), T1055 (pidfd_getfd), T1068 (bpf, perf_event_open, io_uring_*, userfaultfd), T1555 (keyctl, add_key, request_key), T1547.006 (kexec_*, *_module), T1040 (socket) | `sys.denied` of an escape-shaped call: ptrace, process_vm_readv, process_vm_writev, pidfd_getfd, mount, umount2, pivot_root, chroot, move_mount, open_tree, fsopen, fsconfig, fsmount, fspick, mount_setattr, open_by_handle_at, name_to_handle_at, unshare, setns, clone (with namespace flags), bpf, perf_event_open, keyctl, add_key, request_key, kexec_load, kexec_file_load, init_module, finit_module, delete_module, io_uring_setup, io_uring_enter, io_uring_register, userfaultfd, socket (AF_PACKET or raw), ioctl (TIOCSTI, TIOCLINUX); other refused calls (clone3 and openat2 are refused on purpose, for a libc fallback) raise nothing | pid |
//! | `escape.setid` | high | T1548.001 | `sys.denied` of chmod, fchmod, fchmodat, fchmodat2, open, openat, creat, mknod or mknodat (refused only for a setuid or setgid mode) | pid |
//! | `exfil.dns` | medium | T1048 | a DNS name with a label holding a run (between `-`s) of at least `dns_label_length` characters that is all hex digits, or base32 with digits, or has digits or mixed case and at least `dns_label_entropy` bits of entropy per character (entropy alone is not enough: long English words joined score as high); names under big cloud and CDN domains, whose long labels are generated and whose name servers no attacker runs, are skipped | parent domain |
//! | `exfil.dns-burst` | high | T1048 | `dns_subdomains` distinct names under one parent domain within `dns_window` | parent domain |
//! | `exfil.upload` | medium | T1567 (TLS, HTTP), T1048 (other) | proxied connections that sent `upload_bytes` or more to one destination in all | destination |
//! | `resource.memory`, `resource.pids`, `resource.cpu`, `resource.timeout` | medium | T1499 | a `resource.limit` event of that limit (memory, pids, timeout); `resource.cpu` when the sandbox runs at 95% of its CPU limit or more for `cpu_limit_seconds` of consecutive samples | the sandbox |
//! | `custom.*` | the rule's | the rule's | the user's `[[detect.rules]]`: an exec, a write or a connection matching one of the rule's patterns | pid, path, or destination |
//! | `baseline.*` | medium | see [`crate::Baseline`] | what the run did beyond its baseline, when one is given | the first evidence |
//!
//! **Expected compute-heavy programs** (`miner.cpu`), by the sampled `comm`
//! when no baseline is given (with a baseline, only what
//! [`crate::Baseline::knows_exec`] knows): compilers, assemblers and linkers
//! (`cc1`, `cc1plus`, `cc`, `gcc`, `g++`, `clang*`, `as`, `ld*`, `lld`,
//! `mold`, `collect2`, `lto1`, `rustc`, `rustdoc`, `clippy-driver`, `go`,
//! `compile`, `link`, `javac`, `zig`, `ghc`, `swift*`), build tools and
//! runtimes (`cargo`, `make`, `ninja`, `cmake`, `bazel`, `node`, `deno`,
//! `bun`, `tsc`, `esbuild`, `java`, `dotnet`, `python*`, `pytest`, `ruby`,
//! `php`, `perl`), `git` and compressors (`gzip`, `pigz`, `xz`, `zstd`,
//! `bzip2`, `tar`). Interpreters are on the list on purpose: tests and data
//! work in them hold the CPU legitimately, and a miner disguised as one
//! still has to reach a pool (`miner.stratum`, `miner.pool`). Whatever
//! the baseline says, a process whose executable this run's compiler or
//! linker wrote, or that lies in a build directory of the workspace
//! (`target/`, `build/`, `_build/`, `cmake-build-*/`, `bazel-out/`,
//! `bazel-bin/`, `.build/`, `zig-out/`, `dist-newstyle/`), is spared too.
//!
//! Each id raises at most [`MAX_PER_ID`] findings in a run, whatever the
//! subjects: an evolving behaviour cannot flood the trail.

mod custom;
mod escape;
mod evasion;
mod exfil;
mod miner;
mod network;
mod persist;
mod resource;
mod tunnel;

use crate::{Baseline, Context, Evidence, Severity};
use corral_event::{
    Decision, Event, FileOp, FileWrite, Limit, ProcExec, ResourceLimit, ResourceSample, SysDenied,
};
use serde_json::Value;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

pub(crate) use custom::Custom;

/// The most findings one id raises in a run.
pub const MAX_PER_ID: usize = 32;

/// The longest evidence summary, in characters (longer ones end in `...`).
const MAX_SUMMARY: usize = 300;

/// The event kinds the detectors read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Exec,
    Exit,
    SockConnect,
    SockBind,
    SockListen,
    FileWrite,
    SysDenied,
    Sample,
    Limit,
    NetConnect,
    DnsQuery,
}

impl Kind {
    /// The kind of `event`, if a detector reads it.
    pub(crate) fn of(event: &Event) -> Option<Kind> {
        Some(match event {
            Event::ProcExec(_) => Kind::Exec,
            Event::ProcExit(_) => Kind::Exit,
            // A datagram to an address is a connection attempt to it.
            Event::SockConnect(_) | Event::SockSendTo(_) => Kind::SockConnect,
            Event::SockBind(_) => Kind::SockBind,
            Event::SockListen(_) => Kind::SockListen,
            Event::FileWrite(_) => Kind::FileWrite,
            Event::SysDenied(_) => Kind::SysDenied,
            Event::ResourceSample(_) => Kind::Sample,
            Event::ResourceLimit(_) => Kind::Limit,
            Event::NetConnect(_) => Kind::NetConnect,
            Event::DnsQuery(_) => Kind::DnsQuery,
            _ => return None,
        })
    }
}

/// The pid of `event`, when it has one.
pub(crate) fn pid_of(event: &Event) -> Option<u32> {
    match event {
        Event::ProcExec(e) => Some(e.pid),
        Event::ProcExit(e) => Some(e.pid),
        Event::SockConnect(e) => Some(e.pid),
        Event::SockSendTo(e) => Some(e.pid),
        Event::SockBind(e) => Some(e.pid),
        Event::SockListen(e) => Some(e.pid),
        Event::SockSocket(e) => Some(e.pid),
        Event::FileWrite(e) => Some(e.pid),
        Event::SysDenied(e) => Some(e.pid),
        Event::NetConnect(e) => e.pid,
        Event::DnsQuery(e) => e.pid,
        _ => None,
    }
}

/// A `sock.connect`, `sock.sendto`, `sock.bind` or `sock.listen`: the
/// fields they share.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sock<'a> {
    /// `None` for `sock.listen`, which does not say.
    pub family: Option<&'a str>,
    pub addr: Option<&'a str>,
}

/// A `net.connect` or `dns.query` (the egress proxy's): the fields they
/// share.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Proxied<'a> {
    pub host: &'a str,
    pub port: u16,
    pub decision: Decision,
    pub protocol: Option<&'a str>,
    pub detail: Option<&'a str>,
    pub qtype: Option<&'a str>,
    pub bytes_up: u64,
}

macro_rules! proxied {
    ($e:expr) => {
        Proxied {
            host: &$e.host,
            port: $e.port,
            decision: $e.decision,
            protocol: $e.protocol.as_deref(),
            detail: $e.detail.as_deref(),
            qtype: $e.qtype.as_deref(),
            bytes_up: $e.bytes_up,
        }
    };
}

/// The proxy's decision as the trail writes it.
pub(crate) fn decision_name(decision: Decision) -> &'static str {
    match decision {
        Decision::Allow => "allow",
        Decision::Deny => "deny",
        Decision::Error => "error",
    }
}

/// A file operation as the trail writes it.
pub(crate) fn op_name(op: FileOp) -> &'static str {
    match op {
        FileOp::Open => "open",
        FileOp::Create => "create",
        FileOp::Truncate => "truncate",
        FileOp::Rename => "rename",
        FileOp::Unlink => "unlink",
    }
}

/// A limit as the trail writes it.
pub(crate) fn limit_name(limit: Limit) -> &'static str {
    match limit {
        Limit::Memory => "memory",
        Limit::Pids => "pids",
        Limit::Timeout => "timeout",
    }
}

/// One event, as the detectors see it.
pub(crate) struct Ev<'a> {
    pub at: Duration,
    pub kind: Kind,
    pub event: &'a Event,
    pub pid: Option<u32>,
}

impl<'a> Ev<'a> {
    /// `event` at `at`, if a detector reads its kind.
    pub fn new(at: Duration, event: &'a Event) -> Option<Ev<'a>> {
        Some(Ev {
            at,
            kind: Kind::of(event)?,
            event,
            pid: pid_of(event),
        })
    }

    /// The `proc.exec`.
    pub fn exec(&self) -> Option<&'a ProcExec> {
        match self.event {
            Event::ProcExec(e) => Some(e),
            _ => None,
        }
    }

    /// The `file.write`.
    pub fn write(&self) -> Option<&'a FileWrite> {
        match self.event {
            Event::FileWrite(e) => Some(e),
            _ => None,
        }
    }

    /// The `sys.denied`.
    pub fn denied(&self) -> Option<&'a SysDenied> {
        match self.event {
            Event::SysDenied(e) => Some(e),
            _ => None,
        }
    }

    /// The `resource.sample`.
    pub fn sample(&self) -> Option<&'a ResourceSample> {
        match self.event {
            Event::ResourceSample(e) => Some(e),
            _ => None,
        }
    }

    /// The `resource.limit`.
    pub fn limit(&self) -> Option<&'a ResourceLimit> {
        match self.event {
            Event::ResourceLimit(e) => Some(e),
            _ => None,
        }
    }

    /// The socket event's family and address.
    pub fn sock(&self) -> Option<Sock<'a>> {
        let (family, addr) = match self.event {
            Event::SockConnect(e) => (Some(e.family.as_str()), &e.addr),
            Event::SockSendTo(e) => (Some(e.family.as_str()), &e.addr),
            Event::SockBind(e) => (Some(e.family.as_str()), &e.addr),
            Event::SockListen(e) => (None, &e.addr),
            _ => return None,
        };
        Some(Sock {
            family,
            addr: addr.as_deref(),
        })
    }

    /// The proxy's event (`net.connect` or `dns.query`).
    pub fn proxied(&self) -> Option<Proxied<'a>> {
        match self.event {
            Event::NetConnect(e) => Some(proxied!(e)),
            Event::DnsQuery(e) => Some(proxied!(e)),
            _ => None,
        }
    }

    /// This event as evidence, with `summary` (escaped and shortened here).
    pub fn evidence(&self, summary: &str) -> Evidence {
        Evidence {
            kind: self.event.kind().to_owned(),
            at_ms: u64::try_from(self.at.as_millis()).unwrap_or(u64::MAX),
            pid: self.pid,
            summary: clip(&escape(summary)),
        }
    }

    /// This event as evidence, with its usual summary.
    pub fn evidence_auto(&self) -> Evidence {
        self.evidence(&self.summary())
    }

    /// The telling details in one line.
    pub fn summary(&self) -> String {
        let or = |v: Option<&'a str>| v.unwrap_or("?");
        match self.event {
            Event::ProcExec(e) => {
                if e.argv.is_empty() {
                    e.path.clone()
                } else {
                    e.argv.join(" ")
                }
            }
            Event::ProcExit(e) => format!("exit {}", e.code),
            Event::FileWrite(w) => {
                let mut out = format!("{} {}", op_name(w.op), or(w.path.as_deref()));
                if let Some(to) = &w.to {
                    out.push_str(" -> ");
                    out.push_str(to);
                }
                if !w.writable {
                    out.push_str(" (refused)");
                }
                out
            }
            Event::SysDenied(d) => d.syscall.clone(),
            Event::ResourceSample(s) => {
                format!("sandbox cpu {}%", Value::from(s.cpu_percent))
            }
            Event::ResourceLimit(l) => format!("{}: {}", limit_name(l.limit), l.detail),
            Event::DnsQuery(_) => {
                let Some(p) = self.proxied() else {
                    return String::new();
                };
                format!(
                    "{} {} {}",
                    p.qtype.unwrap_or("A"),
                    p.host,
                    decision_name(p.decision)
                )
                .trim_end()
                .to_owned()
            }
            _ => {
                if let Some(s) = self.sock() {
                    return format!("{} {}", s.family.unwrap_or("inet"), or(s.addr));
                }
                let Some(p) = self.proxied() else {
                    return String::new();
                };
                let out = format!(
                    "{} {} {} {} up {}",
                    decision_name(p.decision),
                    host_port(p.host, u64::from(p.port)),
                    or(p.protocol),
                    p.detail.unwrap_or(""),
                    p.bytes_up
                );
                out.trim_end().to_owned()
            }
        }
    }

    /// The inet address of a `sock.*` event (`None` for unix and others).
    pub fn sock_addr(&self) -> Option<SocketAddr> {
        let sock = self.sock()?;
        match sock.family {
            Some("inet" | "inet6") | None => sock.addr?.parse().ok(),
            _ => None,
        }
    }
}

/// `host:port`, IPv6 addresses bracketed.
pub(crate) fn host_port(host: &str, port: u64) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Control characters escaped (`\n`, `\t`, `\r`, `\u{1b}`...); the rest
/// kept as is.
pub use corral_policy::printable as escape;

fn clip(text: &str) -> String {
    match text.char_indices().nth(MAX_SUMMARY) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text.to_owned(),
    }
}

/// Text quoted for an explanation: escaped and shortened.
pub(crate) fn q(text: &str) -> String {
    format!("`{}`", clip(&escape(text)))
}

/// Something a detector found, before the policy is applied.
#[derive(Debug, Clone)]
pub(crate) struct Hit {
    pub id: String,
    pub severity: Severity,
    pub technique: String,
    pub explanation: String,
    pub pid: Option<u32>,
    /// What the finding is about, for raising it once.
    pub subject: String,
    pub evidence: Vec<Evidence>,
}

/// A [`Hit`] for `ev`'s pid with `ev` as its evidence.
pub(crate) fn hit(
    ev: &Ev<'_>,
    id: &str,
    severity: Severity,
    technique: &'static str,
    subject: String,
    explanation: String,
) -> Hit {
    Hit {
        id: id.to_owned(),
        severity,
        technique: technique.to_owned(),
        explanation,
        pid: ev.pid,
        subject,
        evidence: vec![ev.evidence_auto()],
    }
}

/// The subject of a finding about a process.
pub(crate) fn pid_subject(ev: &Ev<'_>) -> String {
    ev.pid
        .map_or_else(|| "pid ?".to_owned(), |p| format!("pid {p}"))
}

/// The last component of a path (`/usr/bin/ssh` -> `ssh`).
pub(crate) fn base(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// An exec, parsed once for every detector that reads it.
pub(crate) struct Exec<'a> {
    pub path: &'a str,
    pub argv: Vec<&'a str>,
    /// The program's name, lowercase: the base name of `path` (of argv[0]
    /// when `path` is empty), `.exe` removed.
    pub name: String,
    /// `path` made absolute against `cwd`, `.` and `..` resolved.
    pub abs: String,
    /// False for a failed attempt of a PATH search (`"found": false`).
    pub found: bool,
}

impl<'a> Exec<'a> {
    pub fn new(exec: &'a ProcExec) -> Exec<'a> {
        let path = exec.path.as_str();
        let argv: Vec<&'a str> = exec.argv.iter().map(String::as_str).collect();
        let named = if path.is_empty() {
            argv.first().copied().unwrap_or("")
        } else {
            path
        };
        let lower = base(named).to_ascii_lowercase();
        let name = lower.strip_suffix(".exe").unwrap_or(&lower).to_owned();
        let abs = absolute(path, exec.cwd.as_deref());
        Exec {
            path,
            argv,
            name,
            abs,
            found: exec.found != Some(false),
        }
    }

    /// The arguments after argv[0].
    pub fn args(&self) -> &[&'a str] {
        self.argv.get(1..).unwrap_or(&[])
    }
}

/// `path` made absolute against `cwd` (when relative and `cwd` is known),
/// `.`, `..` and repeated `/` resolved lexically.
pub(crate) fn absolute(path: &str, cwd: Option<&str>) -> String {
    let joined;
    let full = match cwd {
        Some(cwd) if !path.starts_with('/') && !path.is_empty() => {
            joined = format!("{cwd}/{path}");
            joined.as_str()
        }
        _ => path,
    };
    if !full.starts_with('/') {
        return full.to_owned();
    }
    let mut parts: Vec<&str> = Vec::new();
    for part in full.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    format!("/{}", parts.join("/"))
}

/// Whether `path` is `dir` or below it.
pub(crate) fn under(path: &str, dir: &str) -> bool {
    let dir = dir.trim_end_matches('/');
    path.strip_prefix(dir)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/') || dir.is_empty())
}

/// A 64-bit hash of a string (SipHash with fixed keys: stable in a run).
pub(crate) fn hash(text: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    text.hash(&mut h);
    h.finish()
}

/// Whether `ip` is loopback (IPv4-mapped included).
pub(crate) fn loopback(ip: IpAddr) -> bool {
    ip.to_canonical().is_loopback()
}

/// Program names of shells.
pub(crate) const SHELLS: &[&str] = &[
    "sh", "bash", "dash", "zsh", "ksh", "mksh", "ash", "busybox", "fish", "tcsh", "csh", "rbash",
];

/// Interpreters that run one-liners with `-c` / `-e` / `-r`.
pub(crate) fn interpreter(name: &str) -> bool {
    [
        "python", "perl", "ruby", "php", "node", "lua", "deno", "bun",
    ]
    .iter()
    .any(|p| name.starts_with(p))
}

/// Programs that write executables: a file they wrote and that is then run
/// is the project's own build.
pub(crate) fn toolchain(name: &str) -> bool {
    const EXACT: &[&str] = &[
        "ld",
        "lld",
        "mold",
        "collect2",
        "rustc",
        "cc",
        "c++",
        "gcc",
        "g++",
        "go",
        "link",
        "compile",
        "javac",
        "zig",
        "ghc",
        "swiftc",
        "swift-frontend",
        "tsc",
        "esbuild",
        "as",
        "cargo",
        "dotnet",
        "csc",
        "nasm",
        "yasm",
        "ar",
        "strip",
        "objcopy",
        "install",
    ];
    EXACT.contains(&name)
        || [
            "ld.",
            "clang",
            "gcc-",
            "g++-",
            "x86_64-linux-g",
            "aarch64-linux-g",
            "cc1",
        ]
        .iter()
        .any(|p| name.starts_with(p))
}

/// Everything the detectors remember about processes and files.
#[derive(Debug, Default)]
pub(crate) struct Facts {
    /// What each pid last exec'd.
    pub procs: HashMap<u32, Proc>,
    /// Paths written in this run (hashed), and whether a compiler or
    /// linker wrote them.
    pub written: HashMap<u64, bool>,
    /// The last `file.write` or network event of each pid.
    pub activity: HashMap<u32, Duration>,
    /// Pids that made an inet connect, and how many.
    pub inet_connects: HashMap<u32, u32>,
}

/// A process, from its last exec.
#[derive(Debug, Clone)]
pub(crate) struct Proc {
    pub ppid: Option<u32>,
    /// Program name (see [`Exec::name`]).
    pub name: Box<str>,
    /// Its executable was written by a compiler or linker in this run, or
    /// lies in a build directory of the workspace.
    pub built: bool,
}

/// The most processes and written paths remembered; past that the tables
/// start over (a run that large loses some context, not correctness).
const MAX_FACTS: usize = 1 << 16;

impl Facts {
    /// Whether `pid` or one of its ancestors (up to `depth` generations)
    /// runs a program `pred` accepts.
    pub fn ancestry_any(
        &self,
        pid: Option<u32>,
        depth: usize,
        pred: impl Fn(&str) -> bool,
    ) -> bool {
        let mut current = pid;
        for _ in 0..depth {
            let Some(proc) = current.and_then(|p| self.procs.get(&p)) else {
                return false;
            };
            if pred(&proc.name) {
                return true;
            }
            current = proc.ppid;
        }
        false
    }

    /// Updates what is remembered with `ev` (after the detectors saw it).
    fn learn(&mut self, ev: &Ev<'_>, exec: Option<&Exec<'_>>, context: &Context) {
        match ev.kind {
            Kind::Exec => {
                let (Some(pid), Some(exec)) = (ev.pid, exec) else {
                    return;
                };
                if !exec.found {
                    return;
                }
                if self.procs.len() >= MAX_FACTS {
                    self.procs.clear();
                }
                let built = self.written.get(&hash(&exec.abs)) == Some(&true)
                    || in_build_dir(&exec.abs, context);
                self.procs.insert(
                    pid,
                    Proc {
                        ppid: ev.exec().and_then(|e| e.ppid),
                        name: exec.name.clone().into_boxed_str(),
                        built,
                    },
                );
            }
            Kind::Exit => {
                // `procs` is kept: the proxy records a connection when it
                // closes, often after its client exited, and its ancestry
                // still matters. A pid reused is overwritten at its exec.
                if let Some(pid) = ev.pid {
                    self.activity.remove(&pid);
                    self.inet_connects.remove(&pid);
                }
            }
            Kind::FileWrite => {
                if let Some(pid) = ev.pid {
                    self.activity.insert(pid, ev.at);
                }
                let target = ev.write().and_then(|w| match w.op {
                    FileOp::Rename => w.to.as_deref(),
                    FileOp::Unlink => None,
                    _ => w.path.as_deref(),
                });
                if let Some(path) = target {
                    if self.written.len() >= MAX_FACTS {
                        self.written.clear();
                    }
                    let by_toolchain = ev
                        .pid
                        .and_then(|p| self.procs.get(&p))
                        .is_some_and(|p| toolchain(&p.name));
                    let entry = self.written.entry(hash(path)).or_insert(by_toolchain);
                    *entry = by_toolchain;
                }
            }
            Kind::SockConnect => {
                if let Some(pid) = ev.pid {
                    self.activity.insert(pid, ev.at);
                    if matches!(ev.sock().and_then(|s| s.family), Some("inet" | "inet6")) {
                        *self.inet_connects.entry(pid).or_default() += 1;
                    }
                }
            }
            Kind::SockBind | Kind::SockListen | Kind::NetConnect | Kind::DnsQuery => {
                if let Some(pid) = ev.pid {
                    self.activity.insert(pid, ev.at);
                }
            }
            Kind::SysDenied | Kind::Sample | Kind::Limit => {}
        }
        if self.activity.len() >= MAX_FACTS {
            self.activity.clear();
        }
        if self.inet_connects.len() >= MAX_FACTS {
            self.inet_connects.clear();
        }
    }
}

/// Build directories of the workspace: what runs from there is the
/// project's own build.
pub(crate) fn in_build_dir(path: &str, context: &Context) -> bool {
    let Some(workspace) = context.workspace.as_ref().and_then(|w| w.to_str()) else {
        return false;
    };
    let Some(rest) = path
        .strip_prefix(workspace.trim_end_matches('/'))
        .and_then(|r| r.strip_prefix('/'))
    else {
        return false;
    };
    let mut parts: Vec<&str> = rest.split('/').collect();
    parts.pop();
    parts.iter().any(|p| {
        matches!(
            *p,
            "target"
                | "build"
                | "_build"
                | "bazel-out"
                | "bazel-bin"
                | ".build"
                | "zig-out"
                | "dist-newstyle"
        ) || p.starts_with("cmake-build-")
    })
}

/// Which families run (a family whose every id is disabled is skipped).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Families {
    pub miner: bool,
    pub tunnel: bool,
    pub shell: bool,
    pub net: bool,
    pub persist: bool,
    pub evasion: bool,
    pub escape: bool,
    pub exfil: bool,
    pub resource: bool,
}

/// Every built-in detector, and what they remember.
pub(crate) struct Detectors {
    on: Families,
    facts: Facts,
    miner: miner::Miner,
    tunnel: tunnel::Tunnel,
    network: network::Network,
    persist: persist::Persist,
    evasion: evasion::Evasion,
    exfil: exfil::Exfil,
    resource: resource::Resource,
    custom: Custom,
}

impl Detectors {
    pub fn new(config: &corral_policy::Detect, on: Families, custom: Custom) -> Detectors {
        let t = &config.thresholds;
        Detectors {
            on,
            facts: Facts::default(),
            miner: miner::Miner::new(t),
            tunnel: tunnel::Tunnel,
            network: network::Network::new(t),
            persist: persist::Persist,
            evasion: evasion::Evasion,
            exfil: exfil::Exfil::new(t),
            resource: resource::Resource::new(t),
            custom,
        }
    }

    /// Every detector that reads `ev`'s kind, then what is remembered.
    pub fn observe(
        &mut self,
        ev: &Ev<'_>,
        context: &Context,
        baseline: Option<&Baseline>,
        out: &mut Vec<Hit>,
    ) {
        let on = self.on;
        let facts = &self.facts;
        let exec = ev.exec().map(Exec::new);
        match ev.kind {
            Kind::Exec => {
                let Some(x) = exec.as_ref() else { return };
                if on.miner {
                    self.miner.exec(ev, x, out);
                }
                if on.tunnel || on.shell {
                    self.tunnel.exec(ev, x, facts, on, out);
                }
                if on.persist {
                    self.persist.exec(ev, x, out);
                }
                if on.evasion {
                    self.evasion.exec(ev, x, facts, out);
                }
                self.custom.exec(ev, x, out);
            }
            Kind::FileWrite => {
                if on.persist {
                    self.persist.write(ev, context, out);
                }
                if on.evasion {
                    self.evasion.write(ev, context, out);
                }
                self.custom.write(ev, out);
            }
            Kind::SockConnect => {
                if on.miner {
                    self.miner.sock_connect(ev, out);
                }
                if on.net {
                    self.network.sock(ev, out);
                }
                self.custom.connect(ev, out);
            }
            Kind::SockBind | Kind::SockListen => {
                if on.net {
                    self.network.sock(ev, out);
                }
            }
            Kind::NetConnect => {
                if on.miner {
                    self.miner.net(ev, out);
                }
                if on.tunnel {
                    self.tunnel.net(ev, facts, out);
                }
                if on.net {
                    self.network.net(ev, out);
                }
                if on.exfil {
                    self.exfil.net(ev, out);
                }
                self.custom.connect(ev, out);
            }
            Kind::DnsQuery => {
                if on.miner {
                    self.miner.dns(ev, out);
                }
                if on.net {
                    self.network.dns(ev, out);
                }
                if on.exfil {
                    self.exfil.dns(ev, out);
                }
            }
            Kind::SysDenied => {
                if on.escape {
                    escape::denied(ev, out);
                }
            }
            Kind::Sample => {
                if on.miner {
                    self.miner.sample(ev, context, baseline, facts, out);
                }
                if on.resource {
                    self.resource.sample(ev, out);
                }
            }
            Kind::Limit => {
                if on.resource {
                    resource::limit(ev, out);
                }
            }
            Kind::Exit => {
                self.miner.forget(ev.pid);
            }
        }
        if ev.kind == Kind::Exec {
            self.miner.forget(ev.pid);
        }
        self.facts.learn(ev, exec.as_ref(), context);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SOURCES: [&str; 8] = [
        include_str!("miner.rs"),
        include_str!("tunnel.rs"),
        include_str!("network.rs"),
        include_str!("persist.rs"),
        include_str!("evasion.rs"),
        include_str!("escape.rs"),
        include_str!("exfil.rs"),
        include_str!("resource.rs"),
    ];
    use corral_policy::FAMILIES;
    const EVENT_KINDS: [&str; 3] = ["net.connect", "resource.sample", "resource.limit"];

    /// Every `"family.name"` string literal in `src`.
    fn literal_ids(src: &str) -> Vec<&str> {
        src.split('"')
            .skip(1)
            .step_by(2)
            .filter(|s| {
                s.split_once('.').is_some_and(|(family, rest)| {
                    FAMILIES.contains(&family)
                        && !rest.is_empty()
                        && rest.bytes().all(|b| {
                            b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_'
                        })
                })
            })
            .filter(|s| !EVENT_KINDS.contains(s))
            .collect()
    }

    #[test]
    fn the_id_list_the_table_and_the_detectors_agree() {
        let table: String = include_str!("mod.rs")
            .lines()
            .filter(|l| l.starts_with("//! | `"))
            .collect::<Vec<_>>()
            .join("\n");
        for id in corral_policy::DETECTOR_IDS {
            // escape.rs raises the ids of corral_policy::ESCAPE_SYSCALLS.
            let raised = SOURCES.iter().any(|s| s.contains(&format!("\"{id}\"")))
                || corral_policy::ESCAPE_SYSCALLS.iter().any(|e| e.id == *id);
            assert!(raised, "{id} is listed but no detector raises it");
            let documented = match id.strip_prefix("escape.") {
                Some(syscall) if *id != "escape.setid" => {
                    table.contains(&format!(" {syscall},"))
                        || table.contains(&format!(" {syscall} ("))
                        || table.contains(&format!(" {syscall};"))
                }
                _ => table.contains(&format!("`{id}`")),
            };
            assert!(documented, "{id} is not in the module's table");
        }
        for src in SOURCES {
            for id in literal_ids(src) {
                assert!(
                    corral_policy::DETECTOR_IDS.contains(&id),
                    "{id} is raised but not in corral_policy::DETECTOR_IDS"
                );
            }
        }
    }

    #[test]
    fn helpers() {
        assert_eq!(absolute("./a/../b", Some("/w")), "/w/b");
        assert_eq!(absolute("/x//y/.", None), "/x/y");
        assert_eq!(absolute("rel", None), "rel");
        assert!(under("/a/b", "/a") && under("/a", "/a/") && !under("/ab", "/a"));
        assert_eq!(escape("a\nb\u{7f}"), "a\\nb\\u{7f}");
        assert_eq!(clip(&"x".repeat(400)).len(), MAX_SUMMARY + 3);
        assert_eq!(host_port("::1", 22), "[::1]:22");
        let ctx = Context {
            workspace: Some("/w".into()),
            ..Context::default()
        };
        assert!(in_build_dir("/w/target/release/app", &ctx));
        assert!(in_build_dir("/w/sub/cmake-build-debug/app", &ctx));
        assert!(!in_build_dir("/w/node_modules/x/bin", &ctx));
        assert!(!in_build_dir("/w/target", &ctx));
        assert!(!in_build_dir("/elsewhere/target/app", &ctx));
    }
}
