//! The resource sampler: the sandbox's processes every interval, as
//! `resource.sample` events (the whole sandbox, and its busiest processes).

use anyhow::{Context, Result};
use corral_event::Event;
use corral_sandbox::sample::{resource_sample, sample};
use std::sync::mpsc::{channel, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

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
                    record(
                        resource_sample(&before, &now, elapsed, budget.percent, budget.limited)
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
