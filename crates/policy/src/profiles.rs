//! The built-in profiles a policy `extends` (or `--profile` picks): the
//! opinionated defaults. A policy file's settings are merged on top (see
//! `merge.rs`), and protections (`deny_read`, `protected`, `env_deny`) can
//! only be added to, never removed, except by starting from `none`.

use crate::model::{ByteSize, Duration, Filesystem, Limits, NetDeny, Network, Policy, Process};

/// Every name `extends` and `--profile` accept, the default first.
pub const PROFILE_NAMES: [&str; 4] = ["offline", "coding-agent", "rollout", "none"];

/// The profile used when neither the policy file nor `--profile` names one.
pub const DEFAULT_PROFILE: &str = "offline";

/// The built-in profile called `name`, or `None` if there is no such profile.
/// `none` is the empty policy: nothing readable but the workspace, no
/// protections, no limits.
pub fn profile(name: &str) -> Option<Policy> {
    match name {
        "offline" => Some(offline()),
        "coding-agent" => Some(coding_agent()),
        "rollout" => Some(rollout()),
        "none" => Some(Policy::default()),
        _ => None,
    }
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

/// Every profile's `filesystem.protected`: [`PROTECTED`], with the shell
/// startup files before `.envrc`.
fn protected() -> Vec<String> {
    let envrc = PROTECTED
        .iter()
        .position(|p| *p == ".envrc")
        .unwrap_or(PROTECTED.len());
    let (before, after) = PROTECTED.split_at(envrc);
    before
        .iter()
        .chain(SHELL_RC_FILES)
        .chain(after)
        .map(|s| (*s).to_owned())
        .collect()
}

/// Secrets masked in every profile: cloud and registry credentials, SSH and
/// GPG keys, `.env` files anywhere in the workspace or a writable path, and
/// the host's password, sudo and SSH host key files. Reading them fails with
/// EACCES even though `/` is readable.
const DENY_READ: &[&str] = &[
    "~/.ssh",
    "~/.aws",
    "~/.config/gcloud",
    "~/.azure",
    "~/.kube",
    "~/.docker",
    "~/.gnupg",
    "~/.netrc",
    "~/.git-credentials",
    "~/.pypirc",
    "~/.npmrc",
    "~/.config/gh",
    "**/.env",
    "**/.env.*",
    "/etc/shadow",
    "/etc/gshadow",
    "/etc/sudoers",
    "/etc/sudoers.d",
    "/etc/ssh/ssh_host_*_key",
];

/// Shell startup files, by name: every new shell of their kind runs them.
/// The profiles protect them ([`PROTECTED`] and these, inside every
/// writable path) and the `persist.shell-rc` detector flags writes to them.
pub const SHELL_RC_FILES: &[&str] = &[
    ".bashrc",
    ".bash_profile",
    ".bash_login",
    ".bash_logout",
    ".profile",
    ".zshrc",
    ".zprofile",
    ".zshenv",
    ".zlogin",
    ".zlogout",
    ".kshrc",
    ".mkshrc",
    ".cshrc",
    ".tcshrc",
];

/// Files that run code later, outside the sandbox, kept read-only even inside
/// writable paths: git hooks and config (`core.hooksPath`, `core.fsmonitor`
/// run programs), the shell start-up files ([`SHELL_RC_FILES`], added by
/// [`protected`]) and direnv's `.envrc`. Relative entries apply inside every
/// writable path (`**/` also in nested repositories); `~/` entries matter
/// when the home directory is writable.
const PROTECTED: &[&str] = &[
    // A `.git` *file* (worktree or submodule link) is read-only; a `.git`
    // directory is only pinned (it cannot be renamed or replaced) because
    // git must write objects, refs and the index in it.
    "**/.git",
    "**/.git/hooks",
    "**/.git/config",
    "**/.git/config.worktree",
    "**/.git/commondir",
    "**/.git/modules/**/hooks",
    "**/.git/modules/**/config",
    "**/.git/modules/**/commondir",
    "**/.git/worktrees/*/config.worktree",
    "**/.git/worktrees/*/commondir",
    ".envrc",
    "~/.bashrc",
    "~/.profile",
    "~/.zshrc",
    "~/.bash_profile",
    "~/.bash_aliases",
    "~/.gitconfig",
    "~/.config/git",
    "~/.config/autostart",
    "~/.config/systemd",
];

/// Variables removed from the command's environment: an SSH agent socket
/// would let the command sign with the user's keys; the others are cloud,
/// forge, registry and vault credentials, and anything named like a secret
/// or a password. Model API keys (`ANTHROPIC_API_KEY`, `OPENAI_API_KEY`)
/// pass: the agent under the sandbox needs them to work.
const ENV_DENY: &[&str] = &[
    "SSH_AUTH_SOCK",
    "AWS_*",
    "AZURE_*",
    "GOOGLE_APPLICATION_CREDENTIALS",
    "KUBECONFIG",
    "GITHUB_TOKEN",
    "GH_TOKEN",
    "GITLAB_TOKEN",
    "NPM_TOKEN",
    "NODE_AUTH_TOKEN",
    "VAULT_TOKEN",
    "DOCKER_AUTH_CONFIG",
    "*_SECRET",
    "*_SECRET_*",
    "*PASSWORD*",
];

/// `offline`, the default: the whole host readable (so compilers, package
/// caches and docs just work), only the workspace writable, no network, the
/// secrets above masked, the files above protected. Limits guard against
/// fork bombs (`pids = 4096`) while leaving room for builds (`open_files =
/// 65536`); memory, CPU and time are unlimited because an interactive agent's
/// work varies too much for one default. The workspace stays `None`: the
/// current directory, resolved by the plan builder.
fn offline() -> Policy {
    Policy {
        extends: None,
        filesystem: Filesystem {
            workspace: None,
            read: strings(&["/"]),
            write: Vec::new(),
            deny_read: strings(DENY_READ),
            protected: protected(),
        },
        network: Default::default(),
        limits: Limits {
            pids: Some(4096),
            open_files: Some(65536),
            ..Limits::default()
        },
        process: Process {
            env_deny: strings(ENV_DENY),
            ..Process::default()
        },
        sandbox: Default::default(),
        detect: Default::default(),
    }
}

/// What `coding-agent` may reach, all on port 443 (TLS or HTTP): the model
/// APIs an agent talks to, the package registries its builds fetch from,
/// and GitHub over HTTPS (clone, API, release downloads).
const CODING_AGENT_ALLOW: &[&str] = &[
    // Model APIs.
    "api.anthropic.com:443",
    "api.openai.com:443",
    "generativelanguage.googleapis.com:443",
    "api.mistral.ai:443",
    "openrouter.ai:443",
    // Package registries: PyPI, npm and yarn, crates.io, the Go module
    // proxy and checksum database, RubyGems, Maven Central.
    "pypi.org:443",
    "files.pythonhosted.org:443",
    "registry.npmjs.org:443",
    "registry.yarnpkg.com:443",
    "crates.io:443",
    "index.crates.io:443",
    "static.crates.io:443",
    "proxy.golang.org:443",
    "sum.golang.org:443",
    "rubygems.org:443",
    "repo.maven.apache.org:443",
    // GitHub over HTTPS.
    "github.com:443",
    "api.github.com:443",
    "codeload.github.com:443",
    "objects.githubusercontent.com:443",
    "raw.githubusercontent.com:443",
    "release-assets.githubusercontent.com:443",
];

/// Hosts `coding-agent` never reaches, even if a policy on top allows
/// `*.github.com` or `*.githubusercontent.com`: a gist is a one-request
/// way to publish the workspace.
const CODING_AGENT_DENY: &[&str] = &["gist.github.com", "gist.githubusercontent.com"];

/// `coding-agent`: for an agent editing a repository. The same as `offline`
/// (no timeout: sessions are long), plus the network above through the
/// egress proxy, with gists denied.
fn coding_agent() -> Policy {
    Policy {
        network: Network {
            allow: strings(CODING_AGENT_ALLOW),
            deny: CODING_AGENT_DENY
                .iter()
                .map(|host| NetDeny {
                    host: (*host).to_owned(),
                    reason: Some("code must not leave through gists".to_owned()),
                })
                .collect(),
            ..Network::default()
        },
        ..offline()
    }
}

/// `rollout`: strict, for the many short tool calls of reinforcement-learning
/// rollouts. Only system directories are readable (the plan builder skips
/// the ones a machine lacks), so nothing of the user's home leaks into a
/// rollout; the same secrets are masked and files protected. Tight limits
/// keep one bad rollout from starving the others: 2G of memory, 256
/// processes, one CPU, ten minutes, 1024 open files, files up to 1G.
fn rollout() -> Policy {
    let base = offline();
    Policy {
        filesystem: Filesystem {
            read: strings(&["/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/etc"]),
            ..base.filesystem
        },
        limits: Limits {
            memory: Some(ByteSize(2 << 30)),
            pids: Some(256),
            cpus: Some(1.0),
            timeout: Some(Duration(std::time::Duration::from_secs(600))),
            open_files: Some(1024),
            file_size: Some(ByteSize(1 << 30)),
        },
        ..base
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::validate;

    #[test]
    fn every_name_has_a_valid_profile() {
        for name in PROFILE_NAMES {
            let policy = profile(name).unwrap();
            assert_eq!(validate(&policy), Ok(()), "{name}");
            assert_eq!(policy.extends, None, "{name}");
        }
        assert_eq!(profile("offlne"), None);
        assert_eq!(profile(DEFAULT_PROFILE), Some(offline()));
    }

    #[test]
    fn every_shell_startup_file_is_protected_once() {
        let p = profile("offline").unwrap();
        for rc in SHELL_RC_FILES {
            let times = p.filesystem.protected.iter().filter(|d| d == rc).count();
            assert_eq!(times, 1, "{rc}");
        }
    }

    #[test]
    fn offline_reads_everything_writes_nothing_and_masks_secrets() {
        let p = profile("offline").unwrap();
        assert_eq!(p.filesystem.read, ["/"]);
        assert!(p.filesystem.write.is_empty());
        assert!(p.filesystem.deny_read.iter().any(|d| d == "~/.ssh"));
        assert!(p.filesystem.protected.iter().any(|d| d == "**/.git/hooks"));
        assert!(p.network.allow.is_empty());
        assert_eq!(p.limits.pids, Some(4096));
        assert_eq!(p.limits.memory, None);
        assert_eq!(p.limits.timeout, None);
        assert!(p.process.env_deny.iter().any(|e| e == "SSH_AUTH_SOCK"));
    }

    #[test]
    fn rollout_is_strict_and_keeps_the_protections() {
        let offline = profile("offline").unwrap();
        let r = profile("rollout").unwrap();
        assert!(!r.filesystem.read.iter().any(|p| p == "/"));
        assert_eq!(r.filesystem.deny_read, offline.filesystem.deny_read);
        assert_eq!(r.filesystem.protected, offline.filesystem.protected);
        assert_eq!(r.process.env_deny, offline.process.env_deny);
        assert_eq!(r.limits.memory, Some("2G".parse().unwrap()));
        assert_eq!(r.limits.timeout, Some("10m".parse().unwrap()));
        assert_eq!(r.limits.file_size, Some("1G".parse().unwrap()));
        assert_eq!((r.limits.pids, r.limits.cpus), (Some(256), Some(1.0)));
        assert_eq!(r.network, Network::default(), "rollouts have no network");
    }

    #[test]
    fn coding_agent_reaches_models_registries_and_github_but_not_gists() {
        use crate::net::{Dest, NetPolicy};
        let p = profile("coding-agent").unwrap();
        let offline = profile("offline").unwrap();
        assert_eq!(
            Policy {
                network: Network::default(),
                ..p.clone()
            },
            offline,
            "only the network differs from offline"
        );
        let net = NetPolicy::compile(&p.network).unwrap();
        for host in [
            "api.anthropic.com",
            "pypi.org",
            "index.crates.io",
            "github.com",
        ] {
            assert_eq!(net.allowed(Dest::Name(host), 443).len(), 1, "{host}");
            assert!(net.allowed(Dest::Name(host), 80).is_empty(), "{host}:80");
            assert!(net.name_visible(host), "{host}");
        }
        assert!(net.allowed(Dest::Name("example.com"), 443).is_empty());
        let gist = net.denied(Dest::Name("gist.github.com"), 443).unwrap();
        assert_eq!(
            gist.reason.as_deref(),
            Some("code must not leave through gists")
        );
        assert!(net
            .denied(Dest::Name("gist.githubusercontent.com"), 22)
            .is_some());
        assert!(!net.name_visible("gist.github.com"));
        assert!(net.pins.is_empty());
        assert!(net
            .allow
            .iter()
            .all(|r| r.protocols == crate::net::Protocol::DEFAULT));
        assert!(NetPolicy::compile(&offline.network).unwrap().is_empty());
    }
}
