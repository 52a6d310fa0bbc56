//! What a live run's cgroup does: take processes, freeze, report limit
//! hits, kill everything and remove itself.

use super::create::write_value;
use super::{Cgroup, CgroupError, Layout};
use nix::errno::Errno;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::fs;
use std::path::{Path, PathBuf};
use std::thread::sleep;
use std::time::{Duration, Instant};

/// How long freezing, killing and removal wait for the kernel.
const SETTLE: Duration = Duration::from_secs(2);
const POLL: Duration = Duration::from_millis(2);

/// The number after `key` in a "key value" lines file (memory.events,
/// pids.events, memory.oom_control); None when absent or unreadable.
pub(crate) fn counter(path: &Path, key: &str) -> Option<u64> {
    let text = fs::read_to_string(path).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(' ')?.trim().parse().ok())
}

/// The pids in a cgroup.procs file. Only positive pids: a 0 or negative
/// pid given to kill(2) would signal a whole process group or everything.
fn procs(dir: &Path) -> Result<Vec<Pid>, CgroupError> {
    let path = dir.join("cgroup.procs");
    let text = fs::read_to_string(&path).map_err(|source| CgroupError::Read { path, source })?;
    Ok(text
        .split_whitespace()
        .filter_map(|w| w.parse::<i32>().ok())
        .filter(|&p| p > 0)
        .map(Pid::from_raw)
        .collect())
}

/// Polls until `done` or [`SETTLE`] passes; whether it got there.
fn wait_until(mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + SETTLE;
    loop {
        if done() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        sleep(POLL);
    }
}

impl Cgroup {
    /// The directory holding the freezer: the v2 cgroup or the v1 freezer.
    fn freezer_dir(&self) -> Option<&PathBuf> {
        match &self.layout {
            Layout::V2 { dir } => dir.as_ref(),
            Layout::V1 { freezer, .. } => freezer.as_ref(),
        }
    }

    /// Moves process `pid` (all its threads) into the run's cgroup(s):
    /// writes it to `cgroup.procs` of every directory.
    pub fn add_pid(&self, pid: Pid) -> Result<(), CgroupError> {
        let value = pid.as_raw().to_string();
        self.dirs()
            .into_iter()
            .try_for_each(|dir| write_value(&dir.join("cgroup.procs"), &value))
    }

    /// Stops every process of the run (cgroup v2 `cgroup.freeze`, v1
    /// freezer) and waits until the kernel reports them frozen.
    pub fn freeze(&self) -> Result<(), CgroupError> {
        self.request_freeze(true)?;
        let dir = self.freezer_dir().ok_or(CgroupError::NoFreezer)?;
        let frozen = match self.layout {
            Layout::V2 { .. } => {
                wait_until(|| counter(&dir.join("cgroup.events"), "frozen") == Some(1))
            }
            Layout::V1 { .. } => wait_until(|| {
                fs::read_to_string(dir.join("freezer.state")).is_ok_and(|s| s.trim() == "FROZEN")
            }),
        };
        if frozen {
            Ok(())
        } else {
            Err(CgroupError::FreezeTimeout {
                path: dir.clone(),
                state: "frozen",
            })
        }
    }

    /// Lets the run's processes continue after [`Cgroup::freeze`].
    pub fn thaw(&self) -> Result<(), CgroupError> {
        self.request_freeze(false)
    }

    fn request_freeze(&self, on: bool) -> Result<(), CgroupError> {
        let dir = self.freezer_dir().ok_or(CgroupError::NoFreezer)?;
        match self.layout {
            Layout::V2 { .. } => {
                write_value(&dir.join("cgroup.freeze"), if on { "1" } else { "0" })
            }
            Layout::V1 { .. } => write_value(
                &dir.join("freezer.state"),
                if on { "FROZEN" } else { "THAWED" },
            ),
        }
    }

    /// How many processes the kernel OOM-killed for the memory limit: v2
    /// `memory.events` oom_kill; v1 `memory.oom_control` oom_kill, or
    /// `memory.failcnt` (times the limit was hit) on kernels before 4.13.
    /// 0 when there is no memory limit or the counter cannot be read.
    pub fn oom_kills(&self) -> u64 {
        match &self.layout {
            Layout::V2 { dir: Some(dir) } => {
                counter(&dir.join("memory.events"), "oom_kill").unwrap_or(0)
            }
            Layout::V1 {
                memory: Some(dir), ..
            } => counter(&dir.join("memory.oom_control"), "oom_kill")
                .or_else(|| {
                    fs::read_to_string(dir.join("memory.failcnt"))
                        .ok()?
                        .trim()
                        .parse()
                        .ok()
                })
                .unwrap_or(0),
            _ => 0,
        }
    }

    /// How many forks failed on the pids limit (`pids.events` max). 0 when
    /// there is no pids limit or the counter cannot be read.
    pub fn pids_max_hit(&self) -> u64 {
        match &self.layout {
            Layout::V2 { dir: Some(dir) }
            | Layout::V1 {
                pids: Some(dir), ..
            } => counter(&dir.join("pids.events"), "max").unwrap_or(0),
            _ => 0,
        }
    }

    /// SIGKILLs every process of the run and waits until none is left.
    /// Cgroup v2 with `cgroup.kill` (Linux 5.14) does it atomically.
    /// Otherwise the run is frozen first so nothing forks while the pids in
    /// `cgroup.procs` are signalled, then thawed so the kills land, and the
    /// pids are signalled again until the cgroup is empty.
    pub fn kill_all(&self) -> Result<(), CgroupError> {
        let dirs = self.dirs();
        let Some(&first) = dirs.first() else {
            return Ok(());
        };
        let kill_file = first.join("cgroup.kill");
        if matches!(self.layout, Layout::V2 { .. }) && kill_file.exists() {
            write_value(&kill_file, "1")?;
        } else {
            let frozen = self.request_freeze(true).is_ok();
            if frozen {
                // A v1 freeze is asynchronous; waiting bounds a fork race.
                let _ = self.freeze();
            }
            let signalled = self.signal_all();
            if frozen {
                self.thaw()?;
            }
            signalled?;
        }
        let mut last_error = None;
        let empty = wait_until(|| match self.signal_all() {
            Ok(0) => true,
            Ok(_) => false,
            Err(e) => {
                last_error = Some(e);
                true
            }
        });
        if let Some(e) = last_error {
            return Err(e);
        }
        if empty {
            return Ok(());
        }
        let left = dirs
            .iter()
            .map(|d| procs(d).map_or(0, |p| p.len()))
            .max()
            .unwrap_or(0);
        Err(CgroupError::StillPopulated {
            path: first.to_path_buf(),
            left,
        })
    }

    /// SIGKILLs every pid listed in the run's cgroup(s); how many there were.
    fn signal_all(&self) -> Result<usize, CgroupError> {
        let me = Pid::this();
        let mut count = 0;
        for dir in self.dirs() {
            for pid in procs(dir)?.into_iter().filter(|&p| p != me) {
                count += 1;
                match kill(pid, Signal::SIGKILL) {
                    Ok(()) | Err(Errno::ESRCH) => {}
                    Err(source) => {
                        return Err(CgroupError::Kill {
                            pid: pid.as_raw(),
                            path: dir.to_path_buf(),
                            source,
                        });
                    }
                }
            }
        }
        Ok(count)
    }

    /// Kills what is left and removes the run's directories (the shared
    /// `corral` parent stays). Removal is retried briefly: a cgroup stays
    /// busy for a moment after its last process was killed.
    pub fn destroy(mut self) -> Result<(), CgroupError> {
        self.destroyed = true;
        self.destroy_in_place()
    }

    pub(super) fn destroy_in_place(&mut self) -> Result<(), CgroupError> {
        let killed = self.kill_all();
        let mut first_error = killed.err();
        for dir in self.dirs() {
            let mut result = Ok(());
            let _ = wait_until(|| {
                result = fs::remove_dir(dir);
                match &result {
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                        result = Ok(());
                        true
                    }
                    // Busy: exiting processes still count; anything else is final.
                    Err(e) => e.raw_os_error() != Some(libc::EBUSY),
                    Ok(()) => true,
                }
            });
            if let Err(source) = result {
                first_error.get_or_insert(CgroupError::Remove {
                    path: dir.to_path_buf(),
                    source,
                });
            }
        }
        self.destroyed = true;
        first_error.map_or(Ok(()), Err)
    }
}
