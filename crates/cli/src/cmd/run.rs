//! `corral run [flags] -- COMMAND...`: run a command in a sandbox.

use super::effective;
use crate::cli::RunArgs;
use crate::netreport::{self, Reporter};
use crate::{layers, resolve};
use anyhow::Result;
use corral_sandbox::fsplan;
use corral_sandbox::launch::{self, Ending, Launch};

pub fn run(args: RunArgs) -> Result<i32> {
    let policy = effective(&args.policy)?;
    let resolved = resolve::resolve(&policy, &args.command)?;
    let plan = &resolved.plan;
    let run_id = new_run_id();
    let layers = layers::prepare(plan, &run_id)?;
    if !args.quiet {
        say!(
            "{}",
            layers.header(plan, resolved.net.as_ref(), &args.labels)
        );
    }
    let log = netreport::open_log(args.net_log.as_deref())?;
    // Lines about refused connections wait while the command owns the
    // terminal's screen.
    let defer = corral_sandbox::tty::pty_fds()[2];
    // Started from the launcher's callback, once the sandbox exists: the
    // proxy and the event writer are threads, and the clone must happen
    // while corral is single-threaded.
    let mut served: Option<(corral_proxy::Proxy, Reporter)> = None;
    let on_network = resolved.net.clone().map(|net| {
        let served = &mut served;
        Box::new(move |l: corral_sandbox::net::Listeners| {
            let sockets = corral_proxy::Sockets {
                http: l.http,
                socks: l.socks,
                dns_udp: l.dns_udp,
                dns_tcp: l.dns_tcp,
                peers: Some(corral_proxy::peer::Peers::new(l.init_pid, l.diag)),
            };
            let reporter = Reporter::start(log, defer).map_err(|e| format!("{e:#}"))?;
            let proxy =
                corral_proxy::start(sockets, net, reporter.sink()).map_err(|e| e.to_string())?;
            *served = Some((proxy, reporter));
            Ok(())
        }) as launch::ServeNetwork<'_>
    });
    let outcome = launch::run(Launch {
        plan,
        filter: &layers.filter,
        cgroup: layers.cgroup.as_ref(),
        landlock: layers.landlock_abi.is_some(),
        memory_rlimit_fallback: layers.memory_rlimit_fallback,
        on_network,
    });
    // The command shared this stderr and may have left it non-blocking;
    // what corral prints now must not fail (or panic) for that.
    corral_sandbox::tty::set_blocking(libc::STDERR_FILENO);
    if let Some((proxy, reporter)) = served {
        proxy.finish(std::time::Duration::from_millis(500));
        reporter.finish();
    }
    let outcome = outcome.map_err(explain_launch_error)?;
    match &outcome.ending {
        Ending::Failed { message, .. } => say!("corral: {message}"),
        Ending::TimedOut => say!(
            "corral: the command ran past its timeout ({}s) and the sandbox was stopped",
            plan.limits.timeout.map_or(0, |t| t.as_secs())
        ),
        _ => {}
    }
    report_new_protected(&resolved);
    if let Some(cg) = layers.cgroup {
        let oom = cg.oom_kills();
        if oom > 0 {
            say!("corral: the sandbox hit its memory limit: the kernel killed {oom} process(es)");
        }
        let pids = cg.pids_max_hit();
        if pids > 0 {
            say!("corral: the sandbox hit its process limit {pids} time(s)");
        }
        if let Err(e) = cg.destroy() {
            say!("corral: warning: {e}");
        }
    }
    Ok(outcome.ending.exit_code())
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
fn report_new_protected(resolved: &resolve::Resolved) {
    for (path, what) in resolved.fs.rescan.replaced() {
        say!(
            "corral: warning: protected path {} {what} during the run; review it before a tool on this machine uses it",
            fsplan::printable(&path)
        );
    }
    let now = resolved.fs.rescan.now();
    for path in now.iter().filter(|p| !resolved.fs.protected.contains(p)) {
        let link = match std::fs::read_link(path) {
            Ok(target) => format!(" (a symbolic link to {})", fsplan::printable(&target)),
            Err(_) => String::new(),
        };
        say!(
            "corral: warning: protected path {}{link} was created during the run; review it before a tool on this machine uses it (git runs hooks and reads its config, shells source rc files)",
            fsplan::printable(path)
        );
    }
}

/// 16 hex digits from the kernel's random pool.
fn new_run_id() -> String {
    use std::io::Read;
    let mut buf = [0u8; 8];
    let random = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut buf));
    if random.is_err() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        buf = (nanos ^ u64::from(std::process::id())).to_le_bytes();
    }
    buf.iter().map(|b| format!("{b:02x}")).collect()
}
