//! The resource sampler: the sandbox's processes every interval, as
//! `resource.sample` events (the whole sandbox, and its busiest processes).

use anyhow::{Context, Result};
use corral_event::{Event, ResourceSample, SampleProcess};
use corral_sandbox::sample::{cpu_percent, io_bytes, sample};
use std::sync::mpsc::{channel, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Processes listed per sample (the busiest by CPU); the totals count all.
const SAMPLE_TOP: usize = 8;

/// Samples the sandbox's processes into the trail until told to stop.
pub struct Sampler {
    stop: Sender<()>,
    thread: JoinHandle<()>,
}

/// What the samples say about the sandbox's CPU allowance.
#[derive(Debug, Clone, Copy)]
pub struct CpuBudget {
    /// In percent of one core: the `cpus` limit, else all the machine's
    /// cores.
    pub percent: f64,
    /// Whether it is a limit (the policy's `cpus`).
    pub limited: bool,
}

fn round(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

impl Sampler {
    /// Starts sampling the sandbox whose init is `init_pid` every
    /// `interval`, handing each sample to `record`.
    pub fn start(
        record: impl Fn(Event) + Send + 'static,
        init_pid: i32,
        interval: Duration,
        budget: CpuBudget,
    ) -> Result<Sampler> {
        let (stop, stopped) = channel::<()>();
        let thread = std::thread::Builder::new()
            .name("corral-sampler".into())
            .stack_size(256 * 1024)
            .spawn(move || {
                let mut before = sample(init_pid);
                let mut at = Instant::now();
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(interval) {
                    let now = sample(init_pid);
                    let elapsed = at.elapsed().as_millis() as u64;
                    at = Instant::now();
                    let pct = cpu_percent(&before, &now, elapsed);
                    let mut procs: Vec<_> = now
                        .iter()
                        .map(|p| (pct.get(&p.pid).copied().unwrap_or(0.0), p))
                        .collect();
                    procs.sort_by(|a, b| b.0.total_cmp(&a.0));
                    let top = procs
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
                        .collect();
                    record(
                        ResourceSample {
                            cpu_budget_percent: budget.percent,
                            cpu_limit_percent: budget.limited.then_some(budget.percent),
                            cpu_percent: round(procs.iter().map(|(c, _)| c).sum::<f64>()),
                            interval_ms: elapsed,
                            processes: now.len() as u64,
                            rss_kib: now.iter().map(|p| p.rss_kib).sum::<u64>(),
                            threads: now.iter().map(|p| p.threads).sum::<u64>(),
                            top,
                        }
                        .into(),
                    );
                    before = now;
                }
            })
            .context("cannot start the resource sampler")?;
        Ok(Sampler { stop, thread })
    }

    /// Stops sampling (at once, not at the next tick) and waits for it.
    pub fn finish(self) {
        let _ = self.stop.send(());
        let _ = self.thread.join();
    }
}
