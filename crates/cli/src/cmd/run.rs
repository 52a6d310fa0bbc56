//! `corral run [flags] -- COMMAND...`: run a command in a sandbox.

use super::effective;
use crate::cli::RunArgs;
use crate::netreport::{self, AuditSink, Reporter};
use crate::trail::{self, Trail};
use crate::watch::{self, Watch};
use crate::{layers, resolve};
use anyhow::Result;
use corral_sandbox::fsplan;
use corral_sandbox::launch::{self, Ending, Launch};
use std::cell::OnceCell;
use std::sync::Arc;

pub fn run(args: RunArgs) -> Result<i32> {
    let mut policy = effective(&args.policy)?;
    let run_id = new_run_id();
    let trail_plan = trail::Plan::new(args.audit.clone(), &run_id, &args.labels, &args.command)?;
    if let Some(dir) = &trail_plan.state_dir {
        // Every run's trail is out of the command's sight.
        policy
            .filesystem
            .deny_read
            .push(dir.to_string_lossy().into_owned());
    }
    let mut resolved = resolve::resolve(&policy, &args.command)?;
    // The monitor: denials and watched calls reported by the filter.
    resolved.plan.seccomp.notify = !args.no_monitor;
    let plan = &resolved.plan;
    // The host paths the sandbox can write (its private /tmp is not one).
    let writable: Vec<std::path::PathBuf> = plan
        .fs
        .mounts
        .iter()
        .filter_map(|op| match op {
            corral_sandbox::plan::MountOp::Bind {
                src,
                writable: true,
                ..
            } => Some(src.clone()),
            _ => None,
        })
        .collect();
    match &trail_plan.state_dir {
        // An explicit file must be out of the command's reach.
        None => trail::check_outside(&trail_plan.path, &writable)?,
        // The state directory is masked (a mount point the command can
        // neither read, write, remove nor rename); one inside a writable
        // tree (HOME as the workspace) still has parents it could rename.
        Some(dir) => {
            if trail::check_outside(&dir.join("runs").join("x"), &writable).is_err() {
                say!(
                    "corral: warning: the audit trails' directory {} is inside a path the sandbox can write; it is hidden from the command, but set XDG_STATE_HOME outside the workspace (or pass --audit FILE) to keep its parents out of reach too",
                    dir.display()
                );
            }
        }
    }
    let baseline = args
        .baseline
        .as_deref()
        .map(corral_detect::Baseline::load)
        .transpose()?;
    let layers = layers::prepare(plan, &run_id)?;
    // What the sandbox may write, as it sees it: for the monitor's
    // `file.write` events and the refusals' explanations.
    let writable_map = trail::WritableMap::new(plan);
    let writable_roots = writable_map.roots();
    let header = layers.header(plan, resolved.net.as_ref(), &args.labels);
    if !args.quiet {
        say!("{header}");
    }
    let log = netreport::open_log(args.net_log.as_deref())?;
    // Lines about refused connections wait while the command owns the
    // terminal's screen.
    let defer = corral_sandbox::tty::pty_fds()[2];
    // The CPU the sandbox may use, in percent of one core.
    let cpu_budget =
        policy.limits.cpus.unwrap_or_else(|| {
            std::thread::available_parallelism().map_or(1.0, |n| n.get() as f64)
        }) * 100.0;
    // Started from the launcher's callback, once the sandbox exists: the
    // proxy and the event writer are threads, and the clone must happen
    // while corral is single-threaded.
    let trail: OnceCell<Trail> = OnceCell::new();
    // Every event passes the detectors on its way into the trail.
    let watch: OnceCell<Arc<Watch>> = OnceCell::new();
    let context = corral_detect::Context {
        workspace: Some(resolved.workspace.clone()),
        audit_paths: std::iter::once(trail_plan.path.clone())
            .chain(trail_plan.state_dir.clone())
            .collect(),
        cpu_budget_percent: cpu_budget,
    };
    let engine = corral_detect::Engine::new(&policy.detect, context, baseline);
    let labels = trail_plan.labels.clone();
    let sampler: OnceCell<trail::Sampler> = OnceCell::new();
    let interval = args
        .sample_interval
        .as_deref()
        .map(|s| {
            s.parse::<corral_policy::Duration>()
                .map_err(|e| anyhow::anyhow!("--sample-interval {s:?}: {e}"))
        })
        .transpose()?
        .map_or(std::time::Duration::from_secs(1), |d| d.0);
    let audit_sink: OnceCell<AuditSink> = OnceCell::new();
    let start_details = json_map(serde_json::json!({
        "command": &trail_plan.command,
        "cwd": plan.cwd,
        "workspace": resolved.workspace,
        "writable": &writable,
        "profile": policy.extends.as_deref().unwrap_or(corral_policy::DEFAULT_PROFILE),
        "header": &header,
        "network": resolved.net.is_some(),
        "monitor": plan.seccomp.notify,
    }));
    let after_clone = Box::new(|init_pid: libc::pid_t| {
        let mut details = start_details;
        details.insert("init_pid".into(), init_pid.into());
        let started = Trail::start(trail_plan, details).map_err(|e| format!("{e:#}"))?;
        let w = Arc::new(
            Watch::new(
                engine,
                &run_id,
                labels,
                started.handle(),
                init_pid,
                layers.cgroup.as_ref().map(|c| c.control()),
                policy.detect.webhook.as_deref(),
                defer,
            )
            .map_err(|e| format!("cannot start the detectors' alerts: {e}"))?
            .with_writable(&writable_roots),
        );
        let _ = watch.set(w.clone());
        let _ = audit_sink.set(AuditSink {
            watch: w.clone(),
            critical: started.critical_counter(),
            denied: std::sync::Arc::default(),
        });
        if !interval.is_zero() {
            let record = move |kind: &str, details| w.record(kind, details);
            let s = trail::Sampler::start(
                record,
                init_pid,
                interval,
                cpu_budget,
                policy.limits.cpus.is_some(),
            )
            .map_err(|e| format!("{e:#}"))?;
            let _ = sampler.set(s);
        }
        let _ = trail.set(started);
        Ok(())
    }) as launch::AfterClone<'_>;
    let mut served: Option<(corral_proxy::Proxy, Reporter)> = None;
    let on_network = resolved.net.clone().map(|net| {
        let served = &mut served;
        let audit_sink = &audit_sink;
        Box::new(move |l: corral_sandbox::net::Listeners| {
            // Set by `after_clone`, which has run by now.
            let audit = audit_sink.get().cloned();
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
            let reporter = Reporter::start(log, defer).map_err(|e| format!("{e:#}"))?;
            let proxy = corral_proxy::start(sockets, net, reporter.sink(audit))
                .map_err(|e| e.to_string())?;
            *served = Some((proxy, reporter));
            Ok(())
        }) as launch::ServeNetwork<'_>
    });
    let on_monitor = plan.seccomp.notify.then(|| {
        let watch = &watch;
        Box::new(move |listener: std::os::fd::OwnedFd| {
            let w = watch
                .get()
                .cloned()
                .ok_or("the monitor arrived before the audit trail was open")?;
            std::thread::Builder::new()
                .name("corral-monitor".into())
                .stack_size(256 * 1024)
                .spawn(move || {
                    let record = move |kind: &str, details| {
                        w.record(kind, details);
                        !w.is_ending()
                    };
                    corral_sandbox::seccomp::monitor::serve(
                        listener,
                        trail::monitor_sink(record, writable_map),
                    )
                })
                .map(drop)
                .map_err(|e| format!("cannot start the monitor thread: {e}"))
        }) as launch::ServeMonitor<'_>
    });
    let outcome = launch::run(Launch {
        plan,
        filter: &layers.filter,
        cgroup: layers.cgroup.as_ref(),
        landlock: layers.landlock_abi.is_some(),
        memory_rlimit_fallback: layers.memory_rlimit_fallback,
        after_clone: Some(after_clone),
        on_monitor,
        on_network,
    });
    if let Some(s) = sampler.into_inner() {
        s.finish();
    }
    // The sandbox's pids may be reused from now on: findings made of what
    // is recorded after this point are reported, never acted on.
    if let Some(w) = watch.get() {
        w.sandbox_gone();
    }
    // The command shared this stderr and may have left it non-blocking;
    // what corral prints now must not fail (or panic) for that.
    corral_sandbox::tty::set_blocking(libc::STDERR_FILENO);
    if let Some((proxy, reporter)) = served {
        proxy.finish(std::time::Duration::from_millis(500));
        reporter.finish();
    }
    let record = |kind: &str, details: serde_json::Value| {
        if let Some(w) = watch.get() {
            w.record(kind, json_map(details));
        }
    };
    let outcome = match outcome {
        Ok(o) => o,
        Err(e) => {
            record("run.error", serde_json::json!({ "message": e.to_string() }));
            finish_trail(
                trail.into_inner(),
                watch.get().map(Arc::as_ref),
                &audit_sink,
                serde_json::json!({ "exit_code": 125 }),
                &header,
                false,
                args.quiet,
            );
            return Err(explain_launch_error(e));
        }
    };
    match &outcome.ending {
        Ending::Failed { message, .. } => say!("corral: {message}"),
        Ending::TimedOut => {
            let secs = plan.limits.timeout.map_or(0, |t| t.as_secs());
            say!("corral: the command ran past its timeout ({secs}s) and the sandbox was stopped");
            record(
                "resource.limit",
                serde_json::json!({ "limit": "timeout", "detail": format!("ran past its {secs}s timeout") }),
            );
        }
        _ => {}
    }
    for (path, what) in report_new_protected(&resolved) {
        record(
            "fs.protected",
            serde_json::json!({ "path": path, "change": what }),
        );
    }
    if let Some(cg) = layers.cgroup {
        let oom = cg.oom_kills();
        if oom > 0 {
            say!("corral: the sandbox hit its memory limit: the kernel killed {oom} process(es)");
            record(
                "resource.limit",
                serde_json::json!({ "limit": "memory", "oom_kills": oom,
                                    "detail": format!("the kernel killed {oom} process(es) at the memory limit") }),
            );
        }
        let pids = cg.pids_max_hit();
        if pids > 0 {
            say!("corral: the sandbox hit its process limit {pids} time(s)");
            record(
                "resource.limit",
                serde_json::json!({ "limit": "pids", "refused_forks": pids,
                                    "detail": format!("{pids} fork(s) refused at the process limit") }),
            );
        }
        if let Err(e) = cg.destroy() {
            say!("corral: warning: {e}");
        }
    }
    let ended = watch.get().and_then(|w| w.ended());
    let code = match &ended {
        Some(_) => watch::EXIT_FINDING,
        None => outcome.ending.exit_code(),
    };
    let mut end = serde_json::json!({
        "exit_code": code,
        "ending": ending_name(&outcome.ending),
        "wall_ms": outcome.wall_time.as_secs_f64() * 1000.0,
    });
    if let Some(e) = &ended {
        end["ending"] = format!("stopped by corral for {}", e.finding).into();
        say!(
            "corral: the run was stopped ({}) for finding {}; exit status {}",
            match e.response {
                corral_detect::Response::Freeze => "frozen, snapshot taken, killed",
                _ => "killed",
            },
            e.finding,
            watch::EXIT_FINDING
        );
    }
    let killed = matches!(outcome.ending, Ending::TimedOut) || ended.is_some();
    finish_trail(
        trail.into_inner(),
        watch.get().map(Arc::as_ref),
        &audit_sink,
        end,
        &header,
        killed,
        args.quiet,
    );
    Ok(code)
}

fn json_map(v: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
    match v {
        serde_json::Value::Object(m) => m,
        _ => serde_json::Map::new(),
    }
}

fn ending_name(ending: &Ending) -> String {
    match ending {
        Ending::Exited(c) => format!("exited {c}"),
        Ending::Signaled(s) => format!("killed by signal {s}"),
        Ending::TimedOut => "timed out".into(),
        Ending::Failed { message, .. } => format!("failed: {message}"),
    }
}

/// Closes the trail with its verdict (what ended the run, the counts, the
/// layers in force) and says where it is.
fn finish_trail(
    trail: Option<Trail>,
    watch: Option<&Watch>,
    audit: &OnceCell<AuditSink>,
    end: serde_json::Value,
    header: &str,
    killed: bool,
    quiet: bool,
) {
    let Some(trail) = trail else { return };
    if let Some(w) = watch {
        w.finish();
    }
    let denied = audit
        .get()
        .map_or(0, |a| a.denied.load(std::sync::atomic::Ordering::Relaxed));
    let findings = watch.map(Watch::findings).unwrap_or_default();
    let ended = watch.and_then(Watch::ended);
    let mut verdict = json_map(serde_json::json!({
        "killed": killed,
        "denied": denied,
        "findings": findings.iter().map(|f| &f.id).collect::<Vec<_>>(),
        "severity": findings.iter().map(|f| f.severity).max(),
        "ended_by": ended.as_ref().map(|e| &e.finding),
        "response_ms": ended.as_ref().map(|e| (e.latency.as_secs_f64() * 1e6).round() / 1e3),
        "layers": header.strip_prefix("corral: sandbox: ").unwrap_or(header),
        "exit_code": end.get("exit_code").cloned().unwrap_or_default(),
    }));
    verdict.retain(|_, v| !v.is_null());
    match trail.finish(json_map(end), verdict) {
        Ok((path, lines)) if !quiet => {
            say!("corral: audit trail: {} ({lines} events)", path.display())
        }
        Ok(_) => {}
        Err(e) => say!("corral: error: the audit trail could not be completed: {e:#}"),
    }
}

/// Adds the likely reason (and fix) when the namespaces could not be made.
fn explain_launch_error(err: launch::LaunchError) -> anyhow::Error {
    use corral_sandbox::probe::{explain_userns, Support, UsernsKnobs};
    let clone_failed = matches!(err, launch::LaunchError::Clone(_));
    let err = anyhow::Error::new(err).context("the sandbox could not be started");
    match (clone_failed, explain_userns(&UsernsKnobs::read(), None)) {
        (true, Support::No { reason, fix }) => err.context(format!("{reason}; fix: {fix}")),
        _ => err,
    }
}

/// Protected paths (git hooks, shell rc files...) that did not exist when
/// the sandbox started could not be mounted read-only; the command may have
/// created them. The sandbox is gone now, so this check cannot be raced.
/// Returns what changed (path, change) for the audit trail.
fn report_new_protected(resolved: &resolve::Resolved) -> Vec<(String, String)> {
    let mut changed = Vec::new();
    for (path, what) in resolved.fs.rescan.replaced() {
        changed.push((path.to_string_lossy().into_owned(), what.to_string()));
        say!(
            "corral: warning: protected path {} {what} during the run; review it before a tool on this machine uses it",
            fsplan::printable(&path)
        );
    }
    let now = resolved.fs.rescan.now();
    for path in now.iter().filter(|p| !resolved.fs.protected.contains(p)) {
        changed.push((path.to_string_lossy().into_owned(), "created".to_string()));
        let link = match std::fs::read_link(path) {
            Ok(target) => format!(" (a symbolic link to {})", fsplan::printable(&target)),
            Err(_) => String::new(),
        };
        say!(
            "corral: warning: protected path {}{link} was created during the run; review it before a tool on this machine uses it (git runs hooks and reads its config, shells source rc files)",
            fsplan::printable(path)
        );
    }
    changed
}

/// The audit crate's run id (16 hex digits from the kernel's random pool),
/// or, without /dev/urandom, one from the clock and the pid.
fn new_run_id() -> String {
    corral_audit::new_run_id().unwrap_or_else(|_| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        format!("{:016x}", nanos ^ u64::from(std::process::id()))
    })
}
