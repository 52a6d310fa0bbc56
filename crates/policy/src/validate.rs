//! Semantic checks run after a policy parsed: values of the right type that
//! are still not allowed (an empty path, `cpus = 0`, a bad hostname...).
//! Each failure is an [`Issue`] naming the key; the loader turns it into a
//! `PolicyError` with file:line:col.

use crate::issue::{Issue, Seg};
use crate::model::{Limits, Policy};
use crate::profiles::PROFILE_NAMES;

/// The most CPU cores a policy may ask for.
pub(crate) const MAX_CPUS: f64 = 4096.0;
/// Linux's HOST_NAME_MAX.
const MAX_HOSTNAME: usize = 64;

/// A path entry: non-empty and free of NUL bytes.
pub(crate) fn check_path(value: &str) -> Result<(), String> {
    if value.is_empty() {
        Err("the path is empty".to_owned())
    } else if value.contains('\0') {
        Err(format!("path {value:?} contains a NUL character"))
    } else {
        Ok(())
    }
}

/// A built-in profile name, or `none`.
pub(crate) fn check_profile(name: &str) -> Result<(), String> {
    if PROFILE_NAMES.contains(&name) {
        Ok(())
    } else {
        Err(format!("unknown profile {name:?}"))
    }
}

/// Dot-separated RFC 1123 labels: letters, digits and `-`, no label empty,
/// longer than 63 or starting or ending with `-`; at most 64 in all.
fn check_hostname(name: &str) -> Result<(), String> {
    let label_ok = |label: &str| {
        !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    if name.len() > MAX_HOSTNAME {
        Err(format!(
            "hostname {name:?} is {} characters long",
            name.len()
        ))
    } else if !name.split('.').all(label_ok) {
        Err(format!("hostname {name:?} is not a valid hostname"))
    } else {
        Ok(())
    }
}

/// An environment variable name `[A-Za-z_][A-Za-z0-9_]*`; with `glob`, `*`
/// and `?` may stand for any characters too.
pub(crate) fn check_env_name(name: &str, glob: bool) -> Result<(), String> {
    let wild = |c: char| glob && (c == '*' || c == '?');
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || wild(c));
    if first_ok && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || wild(c)) {
        Ok(())
    } else {
        Err(format!(
            "{name:?} is not a valid environment variable name{}",
            if glob { " or glob" } else { "" }
        ))
    }
}

/// Limits that parsed but make no sense. Returns the field name.
pub(crate) fn check_limits(limits: &Limits) -> Result<(), (&'static str, String)> {
    if let Some(memory) = limits.memory.filter(|m| m.0 == 0) {
        return Err(("memory", format!("size {memory} is zero")));
    }
    if limits.pids == Some(0) {
        return Err(("pids", "0 processes is too few".to_owned()));
    }
    if let Some(cpus) = limits.cpus {
        if !(cpus > 0.0 && cpus <= MAX_CPUS) {
            return Err(("cpus", format!("{cpus} CPUs is out of range")));
        }
    }
    if limits.timeout.is_some_and(|t| t.0.is_zero()) {
        return Err(("timeout", "a timeout of 0s is too short".to_owned()));
    }
    if limits.open_files == Some(0) {
        return Err(("open_files", "0 open files is too few".to_owned()));
    }
    if let Some(size) = limits.file_size.filter(|s| s.0 == 0) {
        return Err(("file_size", format!("size {size} is zero")));
    }
    Ok(())
}

fn check_list(
    section: &'static str,
    key: &'static str,
    items: &[String],
    check: impl Fn(&str) -> Result<(), String>,
) -> Result<(), Issue> {
    for (index, item) in items.iter().enumerate() {
        check(item).map_err(|problem| {
            Issue::new(
                vec![Seg::Key(section), Seg::Key(key), Seg::Index(index)],
                problem,
            )
        })?;
    }
    Ok(())
}

/// Checks a policy as written (before merging); the first problem wins.
pub(crate) fn validate(policy: &Policy) -> Result<(), Issue> {
    if let Some(name) = &policy.extends {
        check_profile(name).map_err(|p| Issue::new(vec![Seg::Key("extends")], p))?;
    }
    let fs = &policy.filesystem;
    if let Some(workspace) = &fs.workspace {
        check_path(workspace)
            .map_err(|p| Issue::new(vec![Seg::Key("filesystem"), Seg::Key("workspace")], p))?;
    }
    check_list("filesystem", "read", &fs.read, check_path)?;
    check_list("filesystem", "write", &fs.write, check_path)?;
    check_list("filesystem", "deny_read", &fs.deny_read, check_path)?;
    check_list("filesystem", "protected", &fs.protected, check_path)?;
    crate::net::compile(&policy.network)?;
    check_limits(&policy.limits)
        .map_err(|(field, p)| Issue::new(vec![Seg::Key("limits"), Seg::Key(field)], p))?;
    let process = &policy.process;
    if let Some(hostname) = &process.hostname {
        check_hostname(hostname)
            .map_err(|p| Issue::new(vec![Seg::Key("process"), Seg::Key("hostname")], p))?;
    }
    check_list("process", "env_deny", &process.env_deny, |n| {
        check_env_name(n, true)
    })?;
    crate::detect::check(&policy.detect)?;
    for (name, value) in &process.env_set {
        let path = vec![
            Seg::Key("process"),
            Seg::Key("env_set"),
            Seg::Name(name.clone()),
        ];
        if let Err(problem) = check_env_name(name, false) {
            return Err(Issue {
                at_key: true,
                ..Issue::new(path, problem)
            });
        }
        if value.contains('\0') {
            return Err(Issue {
                expected: Some("expected a string without NUL characters".to_owned()),
                ..Issue::new(path, format!("value {value:?} contains a NUL character"))
            });
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "validate_tests.rs"]
mod tests;
