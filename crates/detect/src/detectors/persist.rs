//! `persist.*`: writes and commands that make code run again later, outside
//! this run: shell startup files, cron and at, systemd, SSH keys, git
//! hooks, the dynamic linker, sudoers, accounts, anything under /etc.

use super::{base, hit, pid_subject, q, under, Ev, Exec, Hit};
use crate::{Context, Severity};
use corral_event::FileOp;

/// What a written path is, as persistence: (id, severity, technique, what).
type Class = (&'static str, Severity, &'static str, &'static str);

const SHELL_RC: Class = (
    "persist.shell-rc",
    Severity::High,
    "T1546.004",
    "a shell startup file: every new shell runs it",
);
const CRON: Class = (
    "persist.cron",
    Severity::High,
    "T1053.003",
    "cron's schedule: it runs commands later",
);
const AT: Class = (
    "persist.at",
    Severity::High,
    "T1053.002",
    "at's queue: it runs commands later",
);
const SYSTEMD: Class = (
    "persist.systemd",
    Severity::High,
    "T1543.002",
    "a service definition: it runs at boot or login",
);
const SSH_KEYS: Class = (
    "persist.ssh-keys",
    Severity::High,
    "T1098.004",
    "SSH's authorized keys: whoever holds the key logs in",
);
const GIT_HOOK: Class = (
    "persist.git-hook",
    Severity::High,
    "T1546",
    "a git hook: git runs it outside the sandbox at the next commit, checkout or push",
);
const PRELOAD: Class = (
    "persist.preload",
    Severity::High,
    "T1574.006",
    "the dynamic linker's configuration: its libraries load into every program",
);
const SUDOERS: Class = (
    "persist.sudoers",
    Severity::High,
    "T1548.003",
    "sudo's rules",
);
const ACCOUNT: Class = (
    "persist.account",
    Severity::High,
    "T1136.001",
    "the account database",
);
const ETC: Class = (
    "persist.etc",
    Severity::Medium,
    "T1037",
    "the system's configuration",
);

/// Whether a name-matched file (`.bashrc`, `.ssh/authorized_keys`) counts
/// at `path`: anywhere but deeper than the top of the workspace, where a
/// project keeps fixtures and dotfiles of its own.
fn outside_project(path: &str, context: &Context) -> bool {
    let Some(workspace) = context.workspace.as_ref().and_then(|w| w.to_str()) else {
        return true;
    };
    match path
        .strip_prefix(workspace.trim_end_matches('/'))
        .and_then(|r| r.strip_prefix('/'))
    {
        Some(rest) => {
            let depth = rest.split('/').count();
            // `.bashrc` at the top, `.ssh/authorized_keys` one below.
            depth <= 1 || (depth == 2 && rest.starts_with(".ssh/"))
        }
        None => true,
    }
}

fn classify(path: &str, context: &Context) -> Option<Class> {
    let name = base(path);
    if let Some((_, hook)) = path.rsplit_once("/.git/hooks/") {
        if !hook.is_empty() && !hook.contains('/') && !hook.ends_with(".sample") {
            return Some(GIT_HOOK);
        }
    }
    if corral_policy::SHELL_RC_FILES.contains(&name) && outside_project(path, context) {
        return Some(SHELL_RC);
    }
    if path.contains("/.config/fish/")
        && (name == "config.fish" || path.contains("/.config/fish/conf.d/"))
        && outside_project(path, context)
    {
        return Some(SHELL_RC);
    }
    if name.starts_with("authorized_keys")
        && path.ends_with(&format!("/.ssh/{name}"))
        && outside_project(path, context)
    {
        return Some(SSH_KEYS);
    }
    if path.contains("/.config/systemd/") || path.contains("/.local/share/systemd/") {
        return Some(SYSTEMD);
    }
    if [
        "/lib/systemd/",
        "/usr/lib/systemd/",
        "/usr/local/lib/systemd/",
        "/run/systemd/system/",
    ]
    .iter()
    .any(|d| path.starts_with(d))
    {
        return Some(SYSTEMD);
    }
    if ["/var/spool/cron/", "/var/spool/anacron/"]
        .iter()
        .any(|d| path.starts_with(d))
    {
        return Some(if path.starts_with("/var/spool/cron/atjobs") {
            AT
        } else {
            CRON
        });
    }
    if path.starts_with("/var/spool/at/") || path == "/var/spool/at" {
        return Some(AT);
    }
    let rest = path.strip_prefix("/etc/")?;
    let top = rest.split('/').next().unwrap_or(rest);
    Some(match top {
        "profile" | "profile.d" | "bash.bashrc" | "bashrc" | "zshrc" | "zprofile" | "zshenv"
        | "zlogin" | "zsh" | "environment" | "csh.cshrc" | "csh.login" => SHELL_RC,
        t if t.starts_with("cron") || t == "anacrontab" => CRON,
        "systemd" | "init.d" | "rc.local" | "init" => SYSTEMD,
        "ld.so.preload" | "ld.so.conf" | "ld.so.conf.d" => PRELOAD,
        "sudoers" | "sudoers.d" => SUDOERS,
        "passwd" | "shadow" | "group" | "gshadow" | "subuid" | "subgid" => ACCOUNT,
        "at.allow" | "at.deny" => AT,
        _ => ETC,
    })
}

#[derive(Debug, Default)]
pub(crate) struct Persist;

impl Persist {
    pub fn write(&mut self, ev: &Ev<'_>, context: &Context, out: &mut Vec<Hit>) {
        let Some(w) = ev.write() else { return };
        let target = match w.op {
            FileOp::Unlink => return,
            FileOp::Rename => w.to.as_deref(),
            _ => w.path.as_deref(),
        };
        let Some(path) = target else {
            return;
        };
        if context
            .audit_paths
            .iter()
            .any(|a| a.to_str().is_some_and(|a| under(path, a)))
        {
            return;
        }
        let Some((id, severity, technique, what)) = classify(path, context) else {
            return;
        };
        let refused = !w.writable;
        let who = ev
            .pid
            .map_or_else(|| "a process".to_owned(), |p| format!("pid {p}"));
        out.push(hit(
            ev,
            id,
            severity,
            technique,
            path.to_owned(),
            format!(
                "{who} {} {}, {what}",
                if refused {
                    "tried to write (refused by the sandbox)"
                } else {
                    "wrote"
                },
                q(path)
            ),
        ));
    }

    pub fn exec(&mut self, ev: &Ev<'_>, x: &Exec<'_>, out: &mut Vec<Hit>) {
        let args = x.args();
        let has = |word: &str| args.contains(&word);
        let class = match x.name.as_str() {
            "crontab" if !has("-l") => Some(CRON),
            "at" | "batch" if !has("-l") && !has("-V") => Some(AT),
            "systemctl"
                if ["enable", "link", "preset", "reenable", "preset-all"]
                    .iter()
                    .any(|w| has(w)) =>
            {
                Some(SYSTEMD)
            }
            "update-rc.d" | "chkconfig" => Some(SYSTEMD),
            _ => None,
        };
        if let Some((id, severity, technique, what)) = class {
            let who = pid_subject(ev);
            out.push(hit(
                ev,
                id,
                severity,
                technique,
                who.clone(),
                format!("{who} ran {}, which changes {what}", q(&x.argv.join(" "))),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes() {
        let ctx = Context {
            workspace: Some("/home/me/proj".into()),
            ..Context::default()
        };
        let id = |p: &str| classify(p, &ctx).map(|c| c.0);
        assert_eq!(id("/home/me/.bashrc"), Some("persist.shell-rc"));
        assert_eq!(id("/root/.zshrc"), Some("persist.shell-rc"));
        assert_eq!(id("/srv/u/.profile"), Some("persist.shell-rc"));
        assert_eq!(id("/home/me/proj/.bashrc"), Some("persist.shell-rc"));
        assert_eq!(id("/home/me/proj/dotfiles/.bashrc"), None);
        assert_eq!(
            id("/home/me/.ssh/authorized_keys2"),
            Some("persist.ssh-keys")
        );
        assert_eq!(id("/home/me/proj/tests/.ssh/authorized_keys"), None);
        assert_eq!(
            id("/home/me/proj/.git/hooks/pre-commit"),
            Some("persist.git-hook")
        );
        assert_eq!(id("/home/me/proj/.git/hooks/pre-commit.sample"), None);
        assert_eq!(id("/home/me/proj/.git/config"), None);
        assert_eq!(id("/var/spool/cron/crontabs/root"), Some("persist.cron"));
        assert_eq!(id("/etc/cron.d/x"), Some("persist.cron"));
        assert_eq!(id("/etc/crontab"), Some("persist.cron"));
        assert_eq!(
            id("/home/me/.config/systemd/user/x.service"),
            Some("persist.systemd")
        );
        assert_eq!(id("/etc/systemd/system/x.service"), Some("persist.systemd"));
        assert_eq!(
            id("/usr/lib/systemd/system/x.service"),
            Some("persist.systemd")
        );
        assert_eq!(id("/etc/ld.so.preload"), Some("persist.preload"));
        assert_eq!(id("/etc/sudoers.d/me"), Some("persist.sudoers"));
        assert_eq!(id("/etc/passwd"), Some("persist.account"));
        assert_eq!(id("/etc/profile.d/x.sh"), Some("persist.shell-rc"));
        assert_eq!(id("/etc/hosts"), Some("persist.etc"));
        assert_eq!(id("/home/me/proj/src/main.rs"), None);
        assert_eq!(id("/tmp/etc/hosts"), None);
        assert_eq!(id("/home/me/proj/node_modules/x/.profile.js"), None);
    }
}
