//! A session's live parts, started from the launcher's callbacks once the
//! sandbox exists (threads may start only after the clone): the trail, the
//! guard, the sampler, the monitor's thread and the egress proxy.

use crate::guard::Guard;
use crate::monitor_events::monitor_sink;
use crate::netreport::{AuditSink, Reporter};
use crate::sampler::CpuBudget;
use crate::sampler::Sampler;
use crate::trail::{RunTrail, TrailTarget};
use corral_detect::Engine;
use corral_event::{Event, RunStart};
use corral_policy::net::NetPolicy;
use corral_sandbox::writable::WritableMap;
use std::cell::{OnceCell, RefCell};
use std::collections::BTreeMap;
use std::fs::File;
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// What the guard and the sampler are built with (the session's).
pub(crate) struct LiveSettings<'a> {
    pub run_id: &'a str,
    pub cgroup: Option<corral_sandbox::cgroup::Cgroup>,
    pub webhook: Option<&'a str>,
    /// Hold explanation lines while the command owns the terminal.
    pub defer: bool,
    pub writable_roots: Vec<PathBuf>,
    /// Zero: no sampler.
    pub sample_interval: std::time::Duration,
    pub cpu: CpuBudget,
    /// The trail opens at the claim ([`Guard::claim`]).
    pub parked: bool,
}

pub(crate) struct Live {
    /// Taken when the trail starts.
    target: RefCell<Option<TrailTarget>>,
    engine: RefCell<Option<Engine>>,
    log: RefCell<Option<File>>,
    path: PathBuf,
    command: Vec<String>,
    labels: BTreeMap<String, String>,
    trail: RefCell<Option<RunTrail>>,
    guard: OnceCell<Arc<Guard>>,
    audit: OnceCell<AuditSink>,
    sampler: RefCell<Option<Sampler>>,
    served: RefCell<Option<(corral_proxy::Proxy, Reporter)>>,
}

impl Live {
    pub(crate) fn new(target: TrailTarget, engine: Engine, log: Option<File>) -> Live {
        Live {
            path: target.path.clone(),
            command: target.command.clone(),
            labels: target.labels.clone(),
            target: RefCell::new(Some(target)),
            engine: RefCell::new(Some(engine)),
            log: RefCell::new(log),
            trail: RefCell::new(None),
            guard: OnceCell::new(),
            audit: OnceCell::new(),
            sampler: RefCell::new(None),
            served: RefCell::new(None),
        }
    }

    pub(crate) fn trail_path(&self) -> PathBuf {
        self.path.clone()
    }

    pub(crate) fn command(&self) -> Vec<String> {
        self.command.clone()
    }

    /// Right after the clone: opens the trail with the run's start, builds
    /// the guard over it and starts the sampler.
    pub(crate) fn start(
        &self,
        start: RunStart,
        init_pid: libc::pid_t,
        settings: LiveSettings<'_>,
    ) -> Result<(), String> {
        let (Some(target), Some(engine)) = (
            self.target.borrow_mut().take(),
            self.engine.borrow_mut().take(),
        ) else {
            return Err("a session can be launched once".into());
        };
        let trail = RunTrail::start(target, start).map_err(|e| format!("{e:#}"))?;
        let guard = Guard::new(
            engine,
            settings.run_id,
            self.labels.clone(),
            trail.handle(),
            init_pid,
            settings.cgroup,
            settings.webhook,
            settings.defer,
        )
        .map_err(|e| format!("cannot start the detectors' alerts: {e}"))?
        .with_writable(&settings.writable_roots);
        let guard = Arc::new(match settings.parked {
            true => guard.parked(),
            false => guard,
        });
        let _ = self.guard.set(guard.clone());
        let _ = self.audit.set(AuditSink {
            guard: guard.clone(),
            critical: trail.critical_counter(),
            denied: Arc::default(),
        });
        let (interval, budget) = (settings.sample_interval, settings.cpu);
        if !interval.is_zero() {
            // A parked sandbox runs nothing: its samples are not kept.
            let record = move |event: Event| {
                if guard.is_claimed() {
                    guard.record(event);
                }
            };
            let sampler =
                Sampler::start(record, init_pid, interval, budget).map_err(|e| format!("{e:#}"))?;
            *self.sampler.borrow_mut() = Some(sampler);
        }
        *self.trail.borrow_mut() = Some(trail);
        Ok(())
    }

    /// Serves the egress proxy's sockets (fail closed: an error stops the
    /// sandbox).
    pub(crate) fn serve_network(
        &self,
        l: corral_sandbox::net::Listeners,
        net: NetPolicy,
        defer: bool,
    ) -> Result<(), String> {
        let sockets = corral_proxy::Sockets {
            http: l.http,
            socks: l.socks,
            dns_udp: l.dns_udp,
            dns_tcp: l.dns_tcp,
            peers: Some(corral_proxy::peer::Peers::new(
                l.init_pid,
                corral_sandbox::sample::descendants,
                l.diag,
            )),
        };
        let reporter =
            Reporter::start(self.log.borrow_mut().take(), defer).map_err(|e| format!("{e:#}"))?;
        let proxy = corral_proxy::start(sockets, net, reporter.sink(self.audit.get().cloned()))
            .map_err(|e| e.to_string())?;
        *self.served.borrow_mut() = Some((proxy, reporter));
        Ok(())
    }

    /// Serves the monitor's listener on a thread of its own.
    pub(crate) fn serve_monitor(
        &self,
        listener: OwnedFd,
        writable: WritableMap,
    ) -> Result<(), String> {
        let guard = self
            .guard
            .get()
            .cloned()
            .ok_or("the monitor arrived before the audit trail was open")?;
        std::thread::Builder::new()
            .name("corral-monitor".into())
            .stack_size(256 * 1024)
            .spawn(move || {
                let record = move |event: Event| {
                    guard.record(event);
                    !guard.is_ending()
                };
                corral_sandbox::seccomp::monitor::serve(listener, monitor_sink(record, writable))
            })
            .map(drop)
            .map_err(|e| format!("cannot start the monitor thread: {e}"))
    }

    pub(crate) fn guard(&self) -> Option<Arc<Guard>> {
        self.guard.get().cloned()
    }

    pub(crate) fn stop_sampler(&self) {
        if let Some(s) = self.sampler.borrow_mut().take() {
            s.finish();
        }
    }

    pub(crate) fn stop_proxy(&self) {
        if let Some((proxy, reporter)) = self.served.borrow_mut().take() {
            proxy.finish(std::time::Duration::from_millis(500));
            reporter.finish();
        }
    }

    pub(crate) fn take_trail(&self) -> Option<RunTrail> {
        self.trail.borrow_mut().take()
    }

    /// Network attempts the proxy denied.
    pub(crate) fn denied(&self) -> u64 {
        self.audit
            .get()
            .map_or(0, |a| a.denied.load(Ordering::Relaxed))
    }
}
