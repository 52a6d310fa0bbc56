//! `evasion.*`: wiping histories, logs and corral's own trail; running code
//! from memory or /dev/shm; running what this run downloaded.

use super::{base, hash, hit, pid_subject, q, under, Ev, Exec, Facts, Hit};
use crate::{Context, Severity};
use corral_event::{FileOp, FileWrite};

/// Shell and REPL histories, by name.
const HISTORIES: &[&str] = &[
    ".bash_history",
    ".zsh_history",
    ".zhistory",
    ".sh_history",
    ".history",
    ".ash_history",
    ".mksh_history",
    ".python_history",
    ".node_repl_history",
    ".ts_node_repl_history",
    ".irb_history",
    ".pry_history",
    ".lesshst",
    ".mysql_history",
    ".psql_history",
    ".sqlite_history",
    ".rediscli_history",
    ".viminfo",
    ".wget-hsts",
    ".gdb_history",
    ".Rhistory",
];

/// Whether a `file.write` destroys what was in `path`: an unlink, a
/// truncate, an open with `O_TRUNC`, or a rename (either side).
fn destroys(w: &FileWrite) -> bool {
    match w.op {
        FileOp::Unlink | FileOp::Truncate | FileOp::Rename => true,
        FileOp::Open | FileOp::Create => w
            .flags
            .as_ref()
            .is_some_and(|f| f.iter().any(|v| v == "O_TRUNC")),
    }
}

/// An exec from memory: memfd paths, fd paths, execveat of an empty path.
fn from_memory(ev: &Ev<'_>, path: &str) -> bool {
    if path.starts_with("/memfd:") || path.starts_with("memfd:") {
        return true;
    }
    if path.is_empty() {
        return ev.exec().is_some_and(|e| e.dirfd.is_some());
    }
    let fd_path = |rest: &str| !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit());
    if let Some(rest) = path.strip_prefix("/dev/fd/") {
        return fd_path(rest);
    }
    if let Some(rest) = path.strip_prefix("/proc/") {
        if let Some((who, fd)) = rest.split_once("/fd/") {
            return (who == "self"
                || who == "thread-self"
                || who.bytes().all(|b| b.is_ascii_digit()))
                && fd_path(fd);
        }
    }
    false
}

#[derive(Debug, Default)]
pub(crate) struct Evasion;

impl Evasion {
    pub fn write(&mut self, ev: &Ev<'_>, context: &Context, out: &mut Vec<Hit>) {
        let Some(w) = ev.write() else { return };
        let paths = [w.path.as_deref(), w.to.as_deref()];
        let who = ev
            .pid
            .map_or_else(|| "a process".to_owned(), |p| format!("pid {p}"));
        let op = super::op_name(w.op);
        for path in paths.into_iter().flatten() {
            let audit = context
                .audit_paths
                .iter()
                .filter_map(|a| a.to_str())
                .any(|a| under(path, a));
            if audit {
                out.push(hit(
                    ev,
                    "evasion.audit",
                    Severity::Critical,
                    "T1070",
                    path.to_owned(),
                    format!("{who} tampered with corral's audit trail: {op} {}", q(path)),
                ));
                return;
            }
        }
        if !destroys(w) {
            return;
        }
        for path in paths.into_iter().flatten() {
            let (id, technique, what) = if HISTORIES.contains(&base(path)) {
                ("evasion.history", "T1070.003", "a command history")
            } else if path.starts_with("/var/log/") {
                ("evasion.logs", "T1070.002", "a system log")
            } else {
                continue;
            };
            out.push(hit(
                ev,
                id,
                Severity::High,
                technique,
                path.to_owned(),
                format!("{who} wiped {what}: {op} {}", q(path)),
            ));
            return;
        }
    }

    pub fn exec(&mut self, ev: &Ev<'_>, x: &Exec<'_>, facts: &Facts, out: &mut Vec<Hit>) {
        if !x.found {
            return;
        }
        let who = pid_subject(ev);
        if from_memory(ev, x.path) {
            out.push(hit(
                ev,
                "evasion.memfd",
                Severity::High,
                "T1620",
                who.clone(),
                format!(
                    "{who} ran a program from memory ({}), leaving no file behind",
                    q(if x.path.is_empty() {
                        "execveat of a file descriptor"
                    } else {
                        x.path
                    })
                ),
            ));
            return;
        }
        if under(&x.abs, "/dev/shm") {
            out.push(hit(
                ev,
                "evasion.shm",
                Severity::High,
                "T1620",
                who.clone(),
                format!(
                    "{who} ran {} from /dev/shm, a memory-backed directory",
                    q(&x.abs)
                ),
            ));
            return;
        }
        if facts.written.get(&hash(&x.abs)) == Some(&false) {
            out.push(hit(
                ev,
                "evasion.written-exec",
                Severity::Low,
                "T1105",
                x.abs.clone(),
                format!(
                    "{who} ran {}, a file this run wrote (not a compiler or linker)",
                    q(&x.abs)
                ),
            ));
        }
    }
}
