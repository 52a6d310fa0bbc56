//! Building the effective policy: a policy file on top of its base profile,
//! then the command-line flags on top of that.
//!
//! Rules, in one place:
//! - scalars (`Option`s) of the upper layer win when set;
//! - `read` and `write` of the upper layer replace the base's lists when
//!   non-empty (the loader refuses an explicit empty list unless
//!   `extends = "none"`, so a key in the file always means "replace");
//! - `deny_read`, `protected`, `env_deny` are appended: protections can
//!   only be added, and removed only by starting from `extends = "none"`;
//! - `network.allow`, `network.deny` and `network.resolve` are appended
//!   (the loader refuses an explicit empty `allow` over a profile that has
//!   network rules); `network.rules` merges by key, the upper layer winning;
//! - `env_set` merges by name, the upper layer winning;
//! - `dangerously_*` switches are on when either layer turns them on;
//! - `[detect]` merges key by key, its `rules` appended (see
//!   [`crate::Detect::merged_onto`]);
//! - lists are deduplicated, keeping the first occurrence.

use crate::error::{Location, PolicyError};
use crate::model::{ByteSize, Duration, Limits, NetDeny, Network, Policy};
use crate::net::Ports;
use crate::profiles::{profile, DEFAULT_PROFILE};
use crate::validate::{check_limits, check_path, check_profile};
use std::path::Path;

/// What the command-line flags carry. Empty means "no flag given".
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Overrides {
    /// `--profile`: replaces the policy file's `extends`.
    pub profile: Option<String>,
    /// `--workspace`.
    pub workspace: Option<String>,
    /// `--read`: appended to `filesystem.read`.
    pub read: Vec<String>,
    /// `--write`: appended to `filesystem.write`.
    pub write: Vec<String>,
    /// `--deny-read`: appended to `filesystem.deny_read` (deny wins).
    pub deny_read: Vec<String>,
    /// `--memory`: replaces `limits.memory`.
    pub memory: Option<ByteSize>,
    /// `--pids`: replaces `limits.pids`.
    pub pids: Option<u64>,
    /// `--cpus`: replaces `limits.cpus`.
    pub cpus: Option<f64>,
    /// `--timeout`: replaces `limits.timeout`.
    pub timeout: Option<Duration>,
    /// `--open-files`: replaces `limits.open_files`.
    pub open_files: Option<u64>,
    /// `--file-size`: replaces `limits.file_size`.
    pub file_size: Option<ByteSize>,
    /// `--allow-degraded`: same as `sandbox.dangerously_allow_degraded`.
    pub allow_degraded: bool,
    /// `--allow-net HOST[:PORT]`: appended to `network.allow`.
    pub allow_net: Vec<String>,
    /// `--deny-net HOST[:PORT]`: appended to `network.deny`, without a reason.
    pub deny_net: Vec<String>,
    /// `--resolve HOST:PORT:ADDR[,ADDR...]`: appended to `network.resolve`.
    pub resolve: Vec<String>,
}

/// The policy a command runs under: the file at `policy_file` (if any) on
/// top of its base profile (`--profile`, else the file's `extends`, else
/// `offline`), then the flags in `overrides`.
pub fn effective(policy_file: Option<&Path>, overrides: &Overrides) -> Result<Policy, PolicyError> {
    overrides.validate()?;
    let file = policy_file.map(Policy::load).transpose()?;
    let base_name = overrides
        .profile
        .as_deref()
        .or(file.as_ref().and_then(|f| f.extends.as_deref()))
        .unwrap_or(DEFAULT_PROFILE);
    // Both sources of the name were checked already; stay closed anyway.
    let base = profile(base_name).ok_or_else(|| PolicyError::Invalid {
        at: Location::command_line(),
        key: "--profile".to_owned(),
        problem: format!("unknown profile {base_name:?}"),
        expected: crate::schema::expected("extends"),
    })?;
    let policy = match file {
        Some(file) => file.merged_onto(base),
        None => base,
    };
    Ok(policy.apply(overrides))
}

impl Overrides {
    /// Checks the flags' values, naming the flag in errors.
    pub fn validate(&self) -> Result<(), PolicyError> {
        let invalid = |flag: &str, problem: String, expected: String| PolicyError::Invalid {
            at: Location::command_line(),
            key: flag.to_owned(),
            problem,
            expected,
        };
        if let Some(name) = &self.profile {
            check_profile(name)
                .map_err(|p| invalid("--profile", p, crate::schema::expected("extends")))?;
        }
        let paths = [
            ("--workspace", self.workspace.as_slice()),
            ("--read", self.read.as_slice()),
            ("--write", self.write.as_slice()),
            ("--deny-read", self.deny_read.as_slice()),
        ];
        for (flag, values) in paths {
            for value in values {
                check_path(value)
                    .map_err(|p| invalid(flag, p, "expected a non-empty path".to_owned()))?;
            }
        }
        let network = [
            ("--allow-net", self.allow_net.as_slice(), Ports::Web),
            ("--deny-net", self.deny_net.as_slice(), Ports::Every),
        ];
        for (flag, values, default) in network {
            for value in values {
                crate::net::parse_endpoint(value, default)
                    .map_err(|p| invalid(flag, p.problem, p.expected))?;
            }
        }
        for value in &self.resolve {
            crate::net::parse_pin(value)
                .map_err(|p| invalid("--resolve", p.problem, p.expected))?;
        }
        check_limits(&self.limits()).map_err(|(field, problem)| {
            let flag = format!("--{}", field.replace('_', "-"));
            invalid(
                &flag,
                problem,
                crate::schema::expected(&format!("limits.{field}")),
            )
        })
    }

    fn limits(&self) -> Limits {
        Limits {
            memory: self.memory,
            pids: self.pids,
            cpus: self.cpus,
            timeout: self.timeout,
            open_files: self.open_files,
            file_size: self.file_size,
        }
    }
}

impl Policy {
    /// This policy's settings on top of `base` (see the module docs for the
    /// rules). The result has no `extends`: it is complete.
    pub fn merged_onto(self, base: Policy) -> Policy {
        let (fs, bfs) = (self.filesystem, base.filesystem);
        let mut env_set = base.process.env_set;
        env_set.extend(self.process.env_set);
        let merged = Policy {
            extends: None,
            filesystem: crate::model::Filesystem {
                workspace: fs.workspace.or(bfs.workspace),
                read: replace_unless_empty(fs.read, bfs.read),
                write: replace_unless_empty(fs.write, bfs.write),
                deny_read: [bfs.deny_read, fs.deny_read].concat(),
                protected: [bfs.protected, fs.protected].concat(),
            },
            network: merged_network(self.network, base.network),
            limits: overlay_limits(&self.limits, base.limits),
            process: crate::model::Process {
                uid: self.process.uid.or(base.process.uid),
                gid: self.process.gid.or(base.process.gid),
                hostname: self.process.hostname.or(base.process.hostname),
                env_deny: [base.process.env_deny, self.process.env_deny].concat(),
                env_set,
            },
            sandbox: crate::model::SandboxSection {
                dangerously_allow_degraded: self.sandbox.dangerously_allow_degraded
                    || base.sandbox.dangerously_allow_degraded,
                dangerously_allow_nested_namespaces: self
                    .sandbox
                    .dangerously_allow_nested_namespaces
                    || base.sandbox.dangerously_allow_nested_namespaces,
            },
            detect: self.detect.merged_onto(base.detect),
        };
        merged.deduplicated()
    }

    /// The flags on top of this policy: paths appended, limits replaced.
    /// `overrides.profile` is not used here (see [`effective`]); call
    /// [`Overrides::validate`] first.
    pub fn apply(mut self, overrides: &Overrides) -> Policy {
        let fs = &mut self.filesystem;
        if let Some(workspace) = &overrides.workspace {
            fs.workspace = Some(workspace.clone());
        }
        fs.read.extend(overrides.read.iter().cloned());
        fs.write.extend(overrides.write.iter().cloned());
        fs.deny_read.extend(overrides.deny_read.iter().cloned());
        let net = &mut self.network;
        net.allow.extend(overrides.allow_net.iter().cloned());
        net.deny
            .extend(overrides.deny_net.iter().map(|host| NetDeny {
                host: host.clone(),
                reason: None,
            }));
        net.resolve.extend(overrides.resolve.iter().cloned());
        self.limits = overlay_limits(&overrides.limits(), self.limits);
        self.sandbox.dangerously_allow_degraded |= overrides.allow_degraded;
        self.deduplicated()
    }

    /// Every list without repeats, first occurrence kept.
    fn deduplicated(mut self) -> Policy {
        let fs = &mut self.filesystem;
        for list in [
            &mut fs.read,
            &mut fs.write,
            &mut fs.deny_read,
            &mut fs.protected,
            &mut self.network.allow,
            &mut self.network.resolve,
            &mut self.process.env_deny,
        ] {
            dedup_keep_first(list);
        }
        dedup_keep_first(&mut self.network.deny);
        self
    }
}

fn replace_unless_empty(upper: Vec<String>, base: Vec<String>) -> Vec<String> {
    if upper.is_empty() {
        base
    } else {
        upper
    }
}

fn overlay_limits(upper: &Limits, base: Limits) -> Limits {
    Limits {
        memory: upper.memory.or(base.memory),
        pids: upper.pids.or(base.pids),
        cpus: upper.cpus.or(base.cpus),
        timeout: upper.timeout.or(base.timeout),
        open_files: upper.open_files.or(base.open_files),
        file_size: upper.file_size.or(base.file_size),
    }
}

fn merged_network(upper: Network, base: Network) -> Network {
    let mut rules = base.rules;
    rules.extend(upper.rules);
    Network {
        allow: [base.allow, upper.allow].concat(),
        deny: [base.deny, upper.deny].concat(),
        resolve: [base.resolve, upper.resolve].concat(),
        rules,
    }
}

fn dedup_keep_first<T: Clone + Eq + std::hash::Hash>(list: &mut Vec<T>) {
    let mut seen = std::collections::HashSet::new();
    list.retain(|item| seen.insert(item.clone()));
}

#[cfg(test)]
#[path = "merge_tests.rs"]
mod tests;
