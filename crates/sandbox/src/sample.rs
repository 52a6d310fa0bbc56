//! Resource samples of a running sandbox: every process below its init
//! (CPU time, resident memory, threads), read from `/proc` on the host
//! side. Telemetry for the audit trail and the detectors; the limits
//! themselves are enforced by cgroups and rlimits.

use corral_event::{ResourceSample, SampleProcess};
use std::collections::HashMap;

/// At most this many processes are read per sample.
const MAX_PROCESSES: usize = 4096;
/// Processes listed per `resource.sample` (the busiest by CPU); the totals
/// count all.
const SAMPLE_TOP: usize = 8;

/// One process at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcSample {
    /// Host pid.
    pub pid: u32,
    pub comm: String,
    /// User + system CPU time, milliseconds.
    pub cpu_ms: u64,
    pub rss_kib: u64,
    pub threads: u64,
}

/// Every process of the sandbox (init excluded) at one moment.
pub fn sample(init_pid: i32) -> Vec<ProcSample> {
    let tick_ms = 1000 / clock_ticks().max(1);
    let page_kib = page_size() / 1024;
    descendants(init_pid)
        .into_iter()
        .filter_map(|pid| read_proc(pid, tick_ms, page_kib))
        .collect()
}

/// CPU use between two samples, in percent of one core, per pid: the
/// processes of `now` that were already in `before`, or new since.
pub fn cpu_percent(
    before: &[ProcSample],
    now: &[ProcSample],
    elapsed_ms: u64,
) -> HashMap<u32, f64> {
    let old: HashMap<u32, u64> = before.iter().map(|p| (p.pid, p.cpu_ms)).collect();
    now.iter()
        .map(|p| {
            let used = p
                .cpu_ms
                .saturating_sub(old.get(&p.pid).copied().unwrap_or(0));
            (p.pid, 100.0 * used as f64 / elapsed_ms.max(1) as f64)
        })
        .collect()
}

/// The `resource.sample` event for two samples `elapsed_ms` apart: the
/// whole sandbox as `now` has it, and its busiest processes (their I/O read
/// now). `budget`: the sandbox's CPU budget in percent of one core (its
/// `cpus` limit when `limited`, else all the machine's cores).
pub fn resource_sample(
    before: &[ProcSample],
    now: &[ProcSample],
    elapsed_ms: u64,
    budget: f64,
    limited: bool,
) -> ResourceSample {
    let pct = cpu_percent(before, now, elapsed_ms);
    let mut procs: Vec<_> = now
        .iter()
        .map(|p| (pct.get(&p.pid).copied().unwrap_or(0.0), p))
        .collect();
    procs.sort_by(|a, b| b.0.total_cmp(&a.0));
    let round = |v: f64| (v * 10.0).round() / 10.0;
    ResourceSample {
        cpu_budget_percent: budget,
        cpu_limit_percent: limited.then_some(budget),
        cpu_percent: round(procs.iter().map(|(c, _)| c).sum::<f64>()),
        interval_ms: elapsed_ms,
        processes: now.len() as u64,
        rss_kib: now.iter().map(|p| p.rss_kib).sum(),
        threads: now.iter().map(|p| p.threads).sum(),
        top: procs
            .iter()
            .take(SAMPLE_TOP)
            .map(|(cpu, p)| SampleProcess {
                comm: p.comm.clone(),
                cpu_ms: p.cpu_ms,
                cpu_percent: round(*cpu),
                io_kib: io_bytes(p.pid).map(|b| b / 1024),
                pid: p.pid,
                rss_kib: p.rss_kib,
                threads: p.threads,
            })
            .collect(),
    }
}

fn clock_ticks() -> u64 {
    nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .and_then(|v| u64::try_from(v).ok())
        .unwrap_or(100)
}

fn page_size() -> u64 {
    nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE)
        .ok()
        .flatten()
        .and_then(|v| u64::try_from(v).ok())
        .unwrap_or(4096)
}

/// `/proc/PID/stat` as the command name and the fields after it (state,
/// ppid, ...); `None` once the process is gone. The name is in
/// parentheses and may hold spaces or ')'.
fn stat(pid: u32) -> Option<(String, Vec<String>)> {
    // One open and one read (the file is a few hundred bytes; procfs
    // returns it whole): the monitor reads it for every exec.
    let mut buf = [0u8; 2048];
    let n = std::io::Read::read(
        &mut std::fs::File::open(format!("/proc/{pid}/stat")).ok()?,
        &mut buf,
    )
    .ok()?;
    let stat = std::str::from_utf8(&buf[..n]).ok()?;
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let comm = stat.get(open + 1..close)?.to_owned();
    let fields = stat
        .get(close + 2..)?
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    Some((comm, fields))
}

/// The parent (host pid) of `pid`.
pub fn ppid(pid: u32) -> Option<u32> {
    stat(pid)?.1.get(1)?.parse().ok()
}

/// `/proc/PID/stat` and `statm`; `None` once the process is gone.
fn read_proc(pid: u32, tick_ms: u64, page_kib: u64) -> Option<ProcSample> {
    let (comm, fields) = stat(pid)?;
    // After the name: state(0) ppid(1) ... utime(11) stime(12) ... num_threads(17).
    let num = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok());
    let cpu_ms = (num(11)? + num(12)?) * tick_ms;
    let threads = num(17)?;
    let statm = std::fs::read_to_string(format!("/proc/{pid}/statm")).ok()?;
    let rss_pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(ProcSample {
        pid,
        comm,
        cpu_ms,
        rss_kib: rss_pages * page_kib,
        threads,
    })
}

/// Every process below `init_pid` (not init itself), at most 4096, from
/// the `children` lists of `/proc`.
pub fn descendants(init_pid: i32) -> Vec<u32> {
    let mut found: Vec<u32> = Vec::new();
    let mut queue = vec![u32::try_from(init_pid).unwrap_or(0)];
    while let Some(pid) = queue.pop() {
        let tasks = std::fs::read_dir(format!("/proc/{pid}/task"));
        for task in tasks.into_iter().flatten().flatten() {
            let children =
                std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
            for child in children.split_whitespace().filter_map(|c| c.parse().ok()) {
                if found.len() >= MAX_PROCESSES {
                    return found;
                }
                found.push(child);
                queue.push(child);
            }
        }
    }
    found
}

/// Bytes a process has read and written through any file descriptor
/// (`rchar` + `wchar` of `/proc/PID/io`): progress that is not CPU. `None`
/// once the process is gone or when the file cannot be read.
pub fn io_bytes(pid: u32) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/io")).ok()?;
    let field = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(key)?.trim().parse::<u64>().ok())
    };
    Some(field("rchar:")?.saturating_add(field("wchar:")?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_a_child_that_burns_cpu() {
        let mut child = std::process::Command::new("sh")
            .args(["-c", "while :; do :; done"])
            .spawn()
            .expect("spawn a busy child");
        std::thread::sleep(std::time::Duration::from_millis(300));
        let me = std::process::id() as i32;
        let first = sample(me);
        std::thread::sleep(std::time::Duration::from_millis(300));
        let second = sample(me);
        let _ = child.kill();
        let _ = child.wait();
        let busy = second
            .iter()
            .find(|p| p.pid == child.id())
            .expect("the child is sampled");
        assert_eq!(busy.comm, "sh");
        assert!(busy.threads >= 1);
        assert!(busy.rss_kib > 0);
        assert!(busy.cpu_ms > 0, "{busy:?}");
        let pct = cpu_percent(&first, &second, 300);
        assert!(pct.contains_key(&child.id()));
    }

    #[test]
    fn names_with_parentheses_and_spaces_parse() {
        // Our own stat, whatever our name: the parser must not depend on it.
        let me = std::process::id();
        let s = read_proc(me, 10, 4).expect("our own stat");
        assert_eq!(s.pid, me);
        assert!(s.threads >= 1);
        assert_eq!(ppid(me), Some(std::os::unix::process::parent_id()));
    }

    #[test]
    fn a_resource_sample_is_the_details_made_by_hand() {
        let proc = |pid: u32, cpu_ms: u64| ProcSample {
            pid,
            comm: format!("p{pid}"),
            cpu_ms,
            rss_kib: 100 + u64::from(pid),
            threads: 2,
        };
        // Pids past pid_max: no /proc/PID/io, so `io_kib` is null.
        let before = [proc(4_194_305, 10), proc(4_194_306, 0)];
        let now = [proc(4_194_305, 30), proc(4_194_306, 70), proc(4_194_307, 1)];
        let sample = resource_sample(&before, &now, 300, 200.0, false);
        // As the cli built it by hand, nulls dropped at the top level only.
        let expected = serde_json::json!({
            "interval_ms": 300, "processes": 3, "threads": 6, "cpu_percent": 30.3,
            "rss_kib": 12_583_218, "cpu_budget_percent": 200.0,
            "top": [
                {"pid": 4_194_306, "comm": "p4194306", "cpu_percent": 23.3, "cpu_ms": 70,
                 "rss_kib": 4_194_406, "threads": 2, "io_kib": null},
                {"pid": 4_194_305, "comm": "p4194305", "cpu_percent": 6.7, "cpu_ms": 30,
                 "rss_kib": 4_194_405, "threads": 2, "io_kib": null},
                {"pid": 4_194_307, "comm": "p4194307", "cpu_percent": 0.3, "cpu_ms": 1,
                 "rss_kib": 4_194_407, "threads": 2, "io_kib": null},
            ],
        });
        let (kind, details) = corral_event::Event::from(sample).into_details();
        assert_eq!(kind, "resource.sample");
        assert_eq!(
            serde_json::Value::Object(details).to_string(),
            expected.to_string()
        );
        let limited = resource_sample(&before, &now, 300, 150.0, true);
        assert_eq!(limited.cpu_limit_percent, Some(150.0));
    }
}
