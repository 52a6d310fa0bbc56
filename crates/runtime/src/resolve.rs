//! Policy -> plan: expands `~` and relative paths, resolves the workspace,
//! builds the command's environment and identity, and asks the sandbox
//! crate to resolve the filesystem against the real machine.

use anyhow::{bail, Context, Result};
use corral_policy::net::NetPolicy;
use corral_policy::Policy;
use corral_sandbox::fsplan::{self, FsRequest, FsResolved};
use corral_sandbox::plan::{
    Ids, LimitsPlan, MountOp, NetPlan, SandboxPlan, SeccompPlan, ISOLATED_HOST_ID,
};
use std::ffi::{CString, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// The default PATH when the caller's environment has none.
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The inside uid/gid used when the caller is root and the policy does not
/// choose one: the command never runs as root unless asked to.
pub const ROOT_CALLER_INSIDE_ID: u32 = 1000;

/// The resolved plan plus what the header and the post-run checks need.
pub struct Resolved {
    pub plan: SandboxPlan,
    pub fs: FsResolved,
    /// The compiled network rules; `None`: no network at all.
    pub net: Option<NetPolicy>,
    /// The workspace, canonical.
    pub workspace: PathBuf,
}

pub fn home_dir() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
}

/// `~` and `~/x` become the caller's home; other paths are left alone.
pub fn expand_tilde(s: &str, home: Option<&Path>) -> Result<String> {
    if s == "~" || s.starts_with("~/") {
        let home = home.context(
            "a path starts with `~` but $HOME is not set; set HOME or use an absolute path",
        )?;
        Ok(format!("{}{}", home.display(), &s[1..]))
    } else {
        Ok(s.to_string())
    }
}

fn absolute(s: &str, base: &Path, home: Option<&Path>) -> Result<PathBuf> {
    let expanded = expand_tilde(s, home)?;
    let p = Path::new(&expanded);
    Ok(fsplan::normalize(&if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    }))
}

pub fn resolve(policy: &Policy, argv: &[OsString]) -> Result<Resolved> {
    // Canonical: the mounts refuse symlinks on their paths.
    let home = home_dir().map(|h| std::fs::canonicalize(&h).unwrap_or(h));
    let home = home.as_deref();
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    let ws_given = policy
        .filesystem
        .workspace
        .as_deref()
        .map(|w| absolute(w, &cwd, home))
        .transpose()?;
    let ws_path = ws_given.unwrap_or_else(|| cwd.clone());
    let workspace = std::fs::canonicalize(&ws_path).map_err(|e| {
        anyhow::anyhow!(
            "workspace {}: {e}; create it (or fix its permissions) or pass --workspace DIR",
            ws_path.display()
        )
    })?;
    if workspace == Path::new("/") {
        bail!("the workspace cannot be / (the whole machine would be writable); run corral in a project directory or pass --workspace DIR");
    }
    if !workspace.is_dir() {
        bail!(
            "workspace {} is not a directory; pass --workspace DIR",
            workspace.display()
        );
    }
    let fs = &policy.filesystem;
    let abs_list = |list: &[String]| -> Result<Vec<PathBuf>> {
        list.iter().map(|s| absolute(s, &workspace, home)).collect()
    };
    // Secrets and protected files are looked for in the caller's home and,
    // when root runs corral, in root's own home (whatever $HOME says) and
    // in the workspace owner's (their ~/.ssh is as secret as root's).
    let ids = identity(policy);
    let mut homes: Vec<PathBuf> = home.into_iter().map(Path::to_path_buf).collect();
    if ids.from_root {
        let owner = std::fs::metadata(&workspace).map(|m| m.uid()).ok();
        for uid in std::iter::once(0).chain(owner) {
            if let Some(h) = passwd_home(uid) {
                let h = std::fs::canonicalize(&h).unwrap_or(h);
                if !homes.contains(&h) {
                    homes.push(h);
                }
            }
        }
    }
    let pattern_list = |list: &[String]| -> Result<Vec<String>> {
        let mut out = Vec::with_capacity(list.len());
        for s in list {
            if s == "~" || s.starts_with("~/") {
                if homes.is_empty() {
                    expand_tilde(s, None)?;
                }
                for h in &homes {
                    out.push(expand_tilde(s, Some(h))?);
                }
            } else {
                out.push(s.clone());
            }
        }
        Ok(out)
    };
    let req = FsRequest {
        workspace: workspace.clone(),
        read: abs_list(&fs.read)?,
        write: abs_list(&fs.write)?,
        deny_read: pattern_list(&fs.deny_read)?,
        protected: pattern_list(&fs.protected)?,
        home: home.map(Path::to_path_buf),
        switched_ids: ids.from_root.then_some((ids.outside_uid, ids.outside_gid)),
    };
    let fs_resolved = fsplan::resolve(&req)?;

    // getcwd(3) gives a canonical path, as the workspace is: the command
    // starts where corral was started when that is inside the workspace.
    let cwd_inside = if cwd.starts_with(&workspace) {
        cwd
    } else {
        workspace.clone()
    };
    let l = &policy.limits;
    let net = NetPolicy::compile(&policy.network)?;
    let net = (!net.is_empty()).then_some(net);
    let mut fs_plan = fs_resolved.fs.clone();
    if net.is_some() {
        if let Some(dst) = corral_sandbox::net::resolv_conf_target() {
            fs_plan.mounts.push(MountOp::File {
                dst,
                contents: corral_sandbox::net::RESOLV_CONF.as_bytes().to_vec(),
            });
        }
    }
    let plan = SandboxPlan {
        argv: argv
            .iter()
            .map(|a| cstring(a.as_bytes(), "command argument"))
            .collect::<Result<_>>()?,
        env: environment(policy, net.is_some())?,
        cwd: cwd_inside,
        fs: fs_plan,
        ids,
        hostname: policy
            .process
            .hostname
            .clone()
            .unwrap_or_else(|| "corral".into()),
        seccomp: SeccompPlan {
            allow_nested_namespaces: policy.sandbox.dangerously_allow_nested_namespaces,
            deny_affinity_changes: false,
            notify: true,
        },
        landlock: fs_resolved.landlock.clone(),
        limits: LimitsPlan {
            memory_bytes: l.memory.map(|m| m.0),
            pids: l.pids,
            cpus: l.cpus,
            timeout: l.timeout.map(|t| t.0),
            open_files: l.open_files,
            file_size_bytes: l.file_size.map(|f| f.0),
        },
        allow_degraded: policy.sandbox.dangerously_allow_degraded,
        network: net.as_ref().map(|_| NetPlan),
    };
    Ok(Resolved {
        plan,
        fs: fs_resolved,
        net,
        workspace,
    })
}

/// The sandbox's ids. An unprivileged caller's sandbox has the caller's
/// host ids. A root caller's sandbox has [`ISOLATED_HOST_ID`], never uid 0
/// nor a real user's uid (writable paths are bound through idmaps).
/// Inside, the uid is the caller's own, or 1000 for a root caller, unless
/// the policy sets `process.uid`.
fn identity(policy: &Policy) -> Ids {
    let caller_uid = nix::unistd::getuid().as_raw();
    let caller_gid = nix::unistd::getgid().as_raw();
    let from_root = caller_uid == 0;
    let (outside_uid, outside_gid) = if from_root {
        (ISOLATED_HOST_ID, ISOLATED_HOST_ID)
    } else {
        (caller_uid, caller_gid)
    };
    let default_id = |caller: u32| {
        if from_root {
            ROOT_CALLER_INSIDE_ID
        } else {
            caller
        }
    };
    Ids {
        inside_uid: policy.process.uid.unwrap_or_else(|| default_id(caller_uid)),
        inside_gid: policy.process.gid.unwrap_or_else(|| default_id(caller_gid)),
        outside_uid,
        outside_gid,
        from_root,
    }
}

/// A uid's home directory, from /etc/passwd.
fn passwd_home(uid: u32) -> Option<PathBuf> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        (fields.len() >= 6 && fields[2].parse() == Ok(uid) && fields[5].starts_with('/'))
            .then(|| PathBuf::from(fields[5]))
    })
}

/// `bytes` as a C string; `what` names it in the error for a NUL byte.
pub(crate) fn cstring(bytes: &[u8], what: &str) -> Result<CString> {
    CString::new(bytes).with_context(|| format!("{what} contains a NUL byte"))
}

/// What tools need to find the egress proxy: the usual variables in both
/// cases, plus those of tools that read their own (npm, cargo, pip) and
/// Node's switch for honouring them.
pub fn proxy_environment() -> Vec<(String, String)> {
    use corral_sandbox::net::{HTTP_PORT, PROXY_ADDR, SOCKS_PORT};
    let http = format!("http://{PROXY_ADDR}:{HTTP_PORT}");
    let socks = format!("socks5h://{PROXY_ADDR}:{SOCKS_PORT}");
    let no_proxy = "localhost,127.0.0.1,::1".to_string();
    let mut vars = Vec::new();
    for (name, value) in [
        ("HTTP_PROXY", &http),
        ("HTTPS_PROXY", &http),
        ("ALL_PROXY", &socks),
        ("NO_PROXY", &no_proxy),
    ] {
        vars.push((name.to_string(), value.clone()));
        vars.push((name.to_ascii_lowercase(), value.clone()));
    }
    for name in [
        "npm_config_proxy",
        "npm_config_https_proxy",
        "CARGO_HTTP_PROXY",
        "PIP_PROXY",
    ] {
        vars.push((name.to_string(), http.clone()));
    }
    vars.push(("NODE_USE_ENV_PROXY".into(), "1".into()));
    vars
}

/// The caller's environment minus `process.env_deny` (globs on names), plus
/// `process.env_set`, plus `CORRAL_SANDBOX=1` and a PATH.
fn environment(policy: &Policy, network: bool) -> Result<Vec<CString>> {
    let deny: Vec<glob::Pattern> = policy
        .process
        .env_deny
        .iter()
        .map(|p| {
            glob::Pattern::new(p)
                .with_context(|| format!("process.env_deny: invalid pattern {p:?}"))
        })
        .collect::<Result<_>>()?;
    let mut vars: Vec<(OsString, OsString)> = std::env::vars_os()
        .filter(|(k, _)| {
            let name = k.to_string_lossy();
            !deny.iter().any(|g| g.matches(name.as_ref()))
        })
        .collect();
    // The host's proxy settings point where the sandbox cannot go: with a
    // network the sandbox gets corral's, without one none at all.
    let corral_vars = proxy_environment();
    vars.retain(|(k, _)| !corral_vars.iter().any(|(name, _)| k == name.as_str()));
    if network {
        vars.extend(corral_vars.into_iter().map(|(k, v)| (k.into(), v.into())));
    }
    for (k, v) in &policy.process.env_set {
        vars.retain(|(name, _)| name.as_bytes() != k.as_bytes());
        vars.push((k.into(), v.into()));
    }
    vars.retain(|(k, _)| k != "CORRAL_SANDBOX");
    vars.push(("CORRAL_SANDBOX".into(), "1".into()));
    if !vars.iter().any(|(k, _)| k == "PATH") {
        vars.push(("PATH".into(), DEFAULT_PATH.into()));
    }
    vars.into_iter()
        .map(|(k, v)| {
            let mut kv = k.into_vec();
            kv.push(b'=');
            kv.extend(v.into_vec());
            cstring(&kv, "environment variable")
        })
        .collect()
}
