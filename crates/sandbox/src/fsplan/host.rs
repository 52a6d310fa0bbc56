//! What the plan reads from the host beyond the policy's own paths: which
//! directories the sandbox's uid cannot traverse, hard links on protected
//! files, and the unix sockets bound on the machine.

use super::FsPlanError;
use std::path::{Path, PathBuf};

/// The highest directories that `ids` cannot traverse on the way to each
/// bound path (its ancestors) and to `home` (itself included). Behind such
/// a directory the sandbox could not reach the bind at all; a private
/// tmpfs in its place holds just the path down to the bind, or (root's
/// own) an idmapped read-only view of it.
pub(super) fn untraversable(
    bound: &[PathBuf],
    home: Option<&Path>,
    ids: (u32, u32),
) -> Vec<PathBuf> {
    use std::os::unix::fs::MetadataExt;
    let traversable = |dir: &Path| {
        std::fs::metadata(dir).is_ok_and(|m| {
            let mode = m.mode();
            mode & 0o001 != 0
                || (m.uid() == ids.0 && mode & 0o100 != 0)
                || (m.gid() == ids.1 && mode & 0o010 != 0)
        })
    };
    let mut out: Vec<PathBuf> = Vec::new();
    let targets = bound
        .iter()
        .map(|b| (b.as_path(), false))
        .chain(home.map(|h| (h, true)));
    for (target, include_self) in targets {
        let mut chain: Vec<&Path> = target.ancestors().collect();
        chain.reverse();
        if !include_self {
            chain.pop();
        }
        if let Some(dir) = chain
            .into_iter()
            .find(|d| *d != Path::new("/") && !traversable(d))
        {
            if !out.iter().any(|o| dir.starts_with(o)) {
                out.retain(|o| !o.starts_with(dir));
                out.push(dir.to_path_buf());
            }
        }
    }
    out
}

/// Refuses a protected file (or a file directly inside a protected
/// directory) with more than one hard link: the read-only mount protects a
/// path, and another name for the same inode would stay writable.
pub(super) fn check_links(path: &Path) -> Result<(), FsPlanError> {
    use std::os::unix::fs::MetadataExt;
    let check = |p: &Path| match std::fs::symlink_metadata(p) {
        Ok(m) if m.is_file() && m.nlink() > 1 => Err(FsPlanError::HardLinked {
            path: p.to_path_buf(),
            links: m.nlink(),
        }),
        _ => Ok(()),
    };
    check(path)?;
    if path.is_dir() {
        if let Ok(entries) = std::fs::read_dir(path) {
            for entry in entries.flatten() {
                check(&entry.path())?;
            }
        }
    }
    Ok(())
}

/// Pathname unix sockets bound in the caller's network namespace
/// (`/proc/net/unix`). `connect()` needs no write access to the mount, so a
/// read-only bind does not stop it: each visible one is masked (a Docker
/// or LXD socket outside /run would otherwise hand the command the host).
pub(super) fn host_unix_sockets() -> Vec<PathBuf> {
    let Ok(text) = std::fs::read_to_string("/proc/net/unix") else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = Vec::new();
    for line in text.lines().skip(1) {
        // Num RefCount Protocol Flags Type St Inode Path
        // The path is the last column and may contain spaces.
        let path = line
            .split_whitespace()
            .nth(7)
            .and_then(|first| line.find(first).map(|at| &line[at..]));
        if let Some(path) = path.filter(|p| p.starts_with('/')) {
            let path = PathBuf::from(path);
            if !out.contains(&path) && path.exists() {
                out.push(path);
            }
        }
    }
    out
}
