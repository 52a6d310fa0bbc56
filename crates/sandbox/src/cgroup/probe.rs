//! Which cgroup hierarchy corral can use, decided from injected facts: the
//! mount table, `/proc/self/cgroup`, a filesystem root (a temp dir in unit
//! tests) and a writability check. The probe only reads; it never creates.

use super::{CgroupSupport, Controller, FIX_PRIVILEGE};
use std::fs;
use std::path::{Path, PathBuf};

/// The kernel facts the cgroup probe needs, injectable for tests.
pub struct Facts<'a> {
    /// The text of `/proc/self/mountinfo`.
    pub mountinfo: &'a str,
    /// The text of `/proc/self/cgroup`.
    pub self_cgroup: &'a str,
    /// Prefix for every path read (`/` on a real system).
    pub fs_root: &'a Path,
    /// The effective uid (only shapes the fix hint).
    pub euid: u32,
    /// Whether the caller may create entries in / write to `path`.
    pub writable: &'a dyn Fn(&Path) -> bool,
}

/// One line of mountinfo, only the fields the probe needs.
#[derive(Debug)]
struct Mount {
    root: String,
    mount_point: String,
    fstype: String,
    super_options: String,
}

/// Undoes mountinfo's octal escapes (`\040` for a space, etc.).
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|d| d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match (bytes[i], octal) {
            (b'\\', Some(d)) => {
                let v = d.iter().fold(0u32, |acc, c| acc * 8 + u32::from(c - b'0'));
                out.push(u8::try_from(v).unwrap_or(b'?'));
                i += 4;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn parse_mountinfo(text: &str) -> Vec<Mount> {
    text.lines()
        .filter_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            let left: Vec<&str> = left.split(' ').collect();
            let mut right = right.split(' ');
            Some(Mount {
                root: unescape(left.get(3)?),
                mount_point: unescape(left.get(4)?),
                fstype: right.next()?.to_owned(),
                super_options: right.nth(1).unwrap_or("").to_owned(),
            })
        })
        .collect()
}

/// `/proc/self/cgroup`: the v2 path (`0::/path`) and the v1 lines.
fn parse_self_cgroup(text: &str) -> (Option<String>, Vec<(Vec<String>, String)>) {
    let mut v2 = None;
    let mut v1 = Vec::new();
    for line in text.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(id), Some(ctrls), Some(path)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        if id == "0" && ctrls.is_empty() {
            v2 = Some(path.to_owned());
        } else {
            v1.push((
                ctrls.split(',').map(str::to_owned).collect(),
                path.to_owned(),
            ));
        }
    }
    (v2, v1)
}

/// The directory of our cgroup `path` inside `mount`, or None when the
/// mount does not show it.
fn cgroup_dir(fs_root: &Path, mount: &Mount, path: &str) -> Option<PathBuf> {
    let rel = if mount.root == "/" {
        path
    } else {
        let rest = path.strip_prefix(mount.root.as_str())?;
        if !rest.is_empty() && !rest.starts_with('/') {
            return None;
        }
        rest
    };
    let mut dir = fs_root.join(mount.mount_point.trim_start_matches('/'));
    let rel = rel.trim_start_matches('/');
    if !rel.is_empty() {
        dir.push(rel);
    }
    Some(dir)
}

fn read_words(path: &Path) -> Vec<String> {
    fs::read_to_string(path)
        .map(|s| s.split_whitespace().map(str::to_owned).collect())
        .unwrap_or_default()
}

/// Cgroup v2: the base under which `corral/<run_id>` goes, and the
/// controllers usable there; or why there is none.
fn probe_v2(
    facts: &Facts<'_>,
    mounts: &[Mount],
    path: Option<&str>,
) -> Result<CgroupSupport, String> {
    let path = path.ok_or("no cgroup v2 entry (0::) in /proc/self/cgroup")?;
    let (mount, ours) = mounts
        .iter()
        .filter(|m| m.fstype == "cgroup2")
        .find_map(|m| Some((m, cgroup_dir(facts.fs_root, m, path)?)))
        .ok_or("no cgroup2 filesystem mounted that shows our cgroup")?;
    let mount_dir = facts
        .fs_root
        .join(mount.mount_point.trim_start_matches('/'));
    // The root cgroup has no cgroup.type and is exempt from the
    // no-internal-process rule, so children may hold controllers even
    // though it holds processes. Any other cgroup we run in holds our own
    // process, so its controllers cannot be handed to children: use its
    // parent (a slice without processes, or the delegated subtree's).
    let base = if !ours.join("cgroup.type").exists() {
        ours.clone()
    } else if ours == mount_dir {
        return Err(format!(
            "our cgroup {} is the top of the visible hierarchy (a cgroup namespace) and holds our own process; cgroup v2 gives no controllers to children of a cgroup with processes",
            ours.display()
        ));
    } else {
        ours.parent().map(Path::to_path_buf).unwrap_or(ours.clone())
    };
    let available = read_words(&base.join("cgroup.controllers"));
    let enabled = read_words(&base.join("cgroup.subtree_control"));
    let is_root = !base.join("cgroup.type").exists();
    let empty = fs::read_to_string(base.join("cgroup.procs"))
        .map(|s| s.trim().is_empty())
        .unwrap_or(false);
    let has = |list: &[String], c: Controller| list.iter().any(|w| w == c.name());
    let controllers: Vec<Controller> = Controller::ALL
        .into_iter()
        .filter(|&c| has(&enabled, c) || (has(&available, c) && (is_root || empty)))
        .collect();
    if controllers.is_empty() {
        return Err(format!(
            "no memory, pids or cpu controller usable at {} (cgroup.controllers: \"{}\", subtree_control: \"{}\")",
            base.display(),
            available.join(" "),
            enabled.join(" ")
        ));
    }
    let needs_enable = controllers.iter().any(|&c| !has(&enabled, c));
    let corral = base.join("corral");
    let unwritable = [
        Some(base.clone()),
        needs_enable.then(|| base.join("cgroup.subtree_control")),
        corral.exists().then(|| corral.clone()),
    ]
    .into_iter()
    .flatten()
    .find(|p| !(facts.writable)(p));
    if let Some(p) = unwritable {
        return Err(format!(
            "{} is not writable by uid {}",
            p.display(),
            facts.euid
        ));
    }
    Ok(CgroupSupport::V2 {
        dir: base,
        controllers,
    })
}

/// Cgroup v1: our own cgroup directory in each controller's hierarchy,
/// when it is mounted and writable; the reasons for the missing ones.
fn probe_v1(
    facts: &Facts<'_>,
    mounts: &[Mount],
    lines: &[(Vec<String>, String)],
) -> (CgroupSupport, Vec<String>) {
    let mut why = Vec::new();
    let mut find = |name: &str| -> Option<PathBuf> {
        let Some((_, path)) = lines.iter().find(|(c, _)| c.iter().any(|c| c == name)) else {
            why.push(format!("{name}: not in /proc/self/cgroup"));
            return None;
        };
        let dir = mounts
            .iter()
            .filter(|m| m.fstype == "cgroup" && m.super_options.split(',').any(|o| o == name))
            .find_map(|m| cgroup_dir(facts.fs_root, m, path));
        match dir {
            None => why.push(format!("{name}: not mounted")),
            Some(d) if !d.is_dir() => why.push(format!("{name}: {} does not exist", d.display())),
            Some(d) if !(facts.writable)(&d) => why.push(format!(
                "{name}: {} is not writable by uid {}",
                d.display(),
                facts.euid
            )),
            Some(d) => return Some(d),
        }
        None
    };
    let support = CgroupSupport::V1 {
        memory: find("memory"),
        pids: find("pids"),
        cpu: find("cpu"),
        freezer: find("freezer"),
    };
    (support, why)
}

/// Decides which cgroup hierarchy to use. Prefers whichever offers more of
/// memory, pids and cpu; v2 on a tie.
pub fn probe_with(facts: &Facts<'_>) -> CgroupSupport {
    let mounts = parse_mountinfo(facts.mountinfo);
    let (v2_path, v1_lines) = parse_self_cgroup(facts.self_cgroup);
    let v2 = probe_v2(facts, &mounts, v2_path.as_deref());
    let (v1, v1_why) = probe_v1(facts, &mounts, &v1_lines);
    let v1_count = v1.controllers().len();
    match v2 {
        Ok(v2) if v2.controllers().len() >= v1_count => v2,
        _ if v1_count > 0 => v1,
        Ok(v2) => v2,
        Err(v2_why) => {
            let v1_why = if v1_lines.is_empty() {
                "not in use".to_owned()
            } else {
                v1_why.join(", ")
            };
            let fix = if facts.euid == 0 {
                "mount cgroup v2 with the memory, pids and cpu controllers (or the v1 controllers) read-write, or pass --allow-degraded to run without these limits"
            } else {
                FIX_PRIVILEGE
            };
            CgroupSupport::Unavailable {
                reason: format!("cgroup v2: {v2_why}; cgroup v1: {v1_why}"),
                fix: fix.to_owned(),
            }
        }
    }
}

/// Probes the running system: `/proc/self/mountinfo`,
/// `/proc/self/cgroup`, the effective uid and `access(W_OK)`.
pub fn probe() -> CgroupSupport {
    let read = |p: &str| fs::read_to_string(p).map_err(|e| format!("cannot read {p}: {e}"));
    let (mountinfo, self_cgroup) = match (read("/proc/self/mountinfo"), read("/proc/self/cgroup")) {
        (Ok(m), Ok(c)) => (m, c),
        (Err(reason), _) | (_, Err(reason)) => {
            return CgroupSupport::Unavailable {
                reason,
                fix: "mount /proc, or pass --allow-degraded to run without these limits".to_owned(),
            }
        }
    };
    let writable = |p: &Path| nix::unistd::access(p, nix::unistd::AccessFlags::W_OK).is_ok();
    probe_with(&Facts {
        mountinfo: &mountinfo,
        self_cgroup: &self_cgroup,
        fs_root: Path::new("/"),
        euid: nix::unistd::geteuid().as_raw(),
        writable: &writable,
    })
}

#[cfg(test)]
#[path = "probe_tests.rs"]
mod tests;
