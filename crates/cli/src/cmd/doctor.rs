//! `corral doctor`: which isolation layers this machine supports, and how
//! to fix what is missing.

use anyhow::Result;
use corral_sandbox::probe::{Probe, Support};

/// Layers every run needs; without them `corral run` refuses to start.
const REQUIRED: [&str; 9] = [
    "user namespaces",
    "mount API",
    "pid namespace",
    "net namespace",
    "ipc namespace",
    "uts namespace",
    "cgroup namespace",
    "seccomp filter",
    "no_new_privs",
];

pub fn doctor() -> Result<i32> {
    let probe = Probe::full();
    println!("corral doctor: kernel {}", probe.kernel);
    let mut blocking = 0;
    for (name, support) in probe.items() {
        let required = REQUIRED.contains(&name);
        match support {
            Support::Yes(detail) => println!("  ok    {name:<17} {detail}"),
            Support::No { reason, fix } => {
                let tag = if required {
                    blocking += 1;
                    "FAIL"
                } else {
                    "off"
                };
                println!("  {tag:<5} {name:<17} {reason}");
                println!("        {:<17} fix: {fix}", "");
            }
        }
    }
    let uid = nix::unistd::getuid().as_raw();
    if uid == 0 {
        println!(
            "  note  running as root: each sandbox runs under an unprivileged host uid (the workspace owner's, or {}), with root-owned writable paths idmapped",
            corral_sandbox::plan::ISOLATED_HOST_ID
        );
    }
    if blocking > 0 {
        println!("corral cannot run sandboxes here: {blocking} required layer(s) missing (see FAIL above)");
        Ok(1)
    } else {
        println!("corral can run sandboxes here; `off` layers are refused unless --allow-degraded is given when a policy needs them");
        Ok(0)
    }
}
