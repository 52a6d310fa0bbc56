//! The survivors walk: processes of a run still alive on the host after
//! the run ended (the daemon scenario's check).

use std::time::{Duration, Instant};

/// Host processes whose argv[0] is `name`, killed (by pid) once found.
pub(crate) fn survivors(name: &str) -> Vec<u32> {
    let find = || {
        let mut pids = Vec::new();
        if let Ok(rd) = std::fs::read_dir("/proc") {
            for e in rd.flatten() {
                let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
                    continue;
                };
                if let Ok(cmdline) = std::fs::read(e.path().join("cmdline")) {
                    if cmdline.split(|b| *b == 0).next() == Some(name.as_bytes()) {
                        pids.push(pid);
                    }
                }
            }
        }
        pids
    };
    // The sandbox's init kills what is left as the command ends; give the
    // kernel a moment to reap.
    let deadline = Instant::now() + Duration::from_millis(1500);
    let mut pids = find();
    while !pids.is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        pids = find();
    }
    for pid in &pids {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(*pid as i32),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    pids
}
