//! The built-in detectors' ids.

/// The ids of the built-in detectors (the `baseline.*` findings and the
/// user's `custom.*` rules come on top). `[detect.detectors]` keys must be
/// one of these, a family of them (`miner`, `miner.*`), or under `custom`
/// or `baseline`. corral-detect's tests check that this is exactly the set
/// of ids its detectors raise.
pub const DETECTOR_IDS: &[&str] = &[
    "miner.stratum",
    "miner.argv",
    "miner.exec",
    "miner.pool",
    "miner.port",
    "miner.cpu",
    "tunnel.ssh",
    "tunnel.ssh-proxy",
    "tunnel.autossh",
    "tunnel.ssh-egress",
    "shell.reverse",
    "shell.bind",
    "net.scan",
    "net.metadata",
    "net.listen",
    "persist.shell-rc",
    "persist.cron",
    "persist.at",
    "persist.systemd",
    "persist.ssh-keys",
    "persist.git-hook",
    "persist.preload",
    "persist.sudoers",
    "persist.account",
    "persist.etc",
    "evasion.history",
    "evasion.logs",
    "evasion.audit",
    "evasion.memfd",
    "evasion.shm",
    "evasion.written-exec",
    "escape.ptrace",
    "escape.process_vm_readv",
    "escape.process_vm_writev",
    "escape.pidfd_getfd",
    "escape.mount",
    "escape.umount2",
    "escape.pivot_root",
    "escape.chroot",
    "escape.move_mount",
    "escape.open_tree",
    "escape.fsopen",
    "escape.fsconfig",
    "escape.fsmount",
    "escape.fspick",
    "escape.mount_setattr",
    "escape.open_by_handle_at",
    "escape.name_to_handle_at",
    "escape.unshare",
    "escape.setns",
    "escape.clone",
    "escape.bpf",
    "escape.perf_event_open",
    "escape.keyctl",
    "escape.add_key",
    "escape.request_key",
    "escape.kexec_load",
    "escape.kexec_file_load",
    "escape.init_module",
    "escape.finit_module",
    "escape.delete_module",
    "escape.io_uring_setup",
    "escape.io_uring_enter",
    "escape.io_uring_register",
    "escape.userfaultfd",
    "escape.socket",
    "escape.ioctl",
    "escape.setid",
    "exfil.dns",
    "exfil.dns-burst",
    "exfil.upload",
    "resource.memory",
    "resource.pids",
    "resource.cpu",
    "resource.timeout",
];

/// Families whose ids are open-ended: the user's rules and the baselines'.
pub(super) const OPEN_FAMILIES: [&str; 2] = ["custom", "baseline"];
#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::check::check_detector_key;

    #[test]
    fn the_id_list_has_no_repeats_and_valid_ids() {
        let mut seen = std::collections::HashSet::new();
        for id in DETECTOR_IDS {
            assert!(seen.insert(id), "{id} twice");
            assert!(check_detector_key(id).is_ok(), "{id}");
            assert!(id.contains('.'), "{id}");
        }
    }
}
