//! The supervisor side of a run: clone the sandbox's init into fresh
//! namespaces, relay the terminal, forward signals, enforce the wall-clock
//! timeout, and collect the command's status.

use crate::cgroup::Cgroup;
use crate::ctl::{self, Msg, Stage};
pub use crate::ending::Ending;
use crate::exec::{self, Executor};
use crate::init::{self, InitCtx};
use crate::plan::SandboxPlan;
use crate::{idmap, seccomp, sys, tty};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{self, SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::unistd::Pid;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a timed-out command gets between SIGTERM and SIGKILL.
pub const TIMEOUT_GRACE: Duration = Duration::from_secs(2);

/// Signals the supervisor catches and forwards into the sandbox.
const FORWARDED: [Signal; 6] = [
    Signal::SIGINT,
    Signal::SIGTERM,
    Signal::SIGHUP,
    Signal::SIGQUIT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
];

/// Runs right after the clone (see [`Launch::after_clone`]).
pub type AfterClone<'a> = Box<dyn FnOnce(libc::pid_t) -> Result<(), String> + 'a>;

/// Serves a monitor's listener (one per command: the first, and each one
/// started by [`crate::exec::Executor`]); an error stops the sandbox.
pub type ServeMonitor<'a> = Box<dyn FnMut(OwnedFd) -> Result<(), String> + 'a>;

/// Serves the egress proxy's sockets; an error stops the sandbox.
pub type ServeNetwork<'a> = Box<dyn FnOnce(crate::net::Listeners) -> Result<(), String> + 'a>;

/// What the caller has prepared: the plan, the compiled filter, the cgroup
/// (if any) and which optional layers are in force.
pub struct Launch<'a> {
    pub plan: &'a SandboxPlan,
    pub filter: &'a seccomp::Filter,
    pub cgroup: Option<&'a Cgroup>,
    pub landlock: bool,
    pub memory_rlimit_fallback: bool,
    /// Called once right after the clone, with init's pid: the first
    /// moment the caller may start threads (the clone must happen while
    /// the process is single-threaded). An error stops the sandbox.
    pub after_clone: Option<AfterClone<'a>>,
    /// Called with each command's seccomp notification listener when the
    /// plan monitors it: the caller serves it (on a thread of its own). An
    /// error stops the sandbox.
    pub on_monitor: Option<ServeMonitor<'a>>,
    /// Called once with the egress proxy's listening sockets when the plan
    /// has a network (before the command starts): the caller serves them.
    /// An error stops the sandbox (fail closed).
    pub on_network: Option<ServeNetwork<'a>>,
}

/// The result of [`run`].
#[derive(Debug)]
pub struct LaunchOutcome {
    pub ending: Ending,
    pub wall_time: Duration,
}

/// Errors of the supervisor itself (before or around the sandbox).
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    #[error("cannot create the sandbox's namespaces (clone with user, mount, pid, net, ipc, uts namespaces): {0}; run `corral doctor` to see what this machine supports")]
    Clone(#[source] io::Error),
    #[error("cannot set up the supervisor's {what}: {source}")]
    Supervisor {
        what: &'static str,
        source: io::Error,
    },
    #[error("cannot prepare the writable paths for an unprivileged sandbox identity: {0}; run corral as an ordinary user, or pass a workspace on a filesystem that supports idmapped mounts")]
    Idmap(String),
    #[error("cannot place the sandbox in its cgroup: {0}")]
    Cgroup(String),
    /// The caller's own step right after the clone failed (its message).
    #[error("{0}")]
    Caller(String),
}

fn sup(what: &'static str) -> impl FnOnce(io::Error) -> LaunchError {
    move |source| LaunchError::Supervisor { what, source }
}

/// Runs the plan to completion: [`start`], then [`Started::wait`]. Must be
/// called while the process is single-threaded (the sandbox is forked from
/// it).
pub fn run(launch: Launch<'_>) -> Result<LaunchOutcome, LaunchError> {
    start(launch)?.wait()
}

/// A sandbox whose init is running (and, once its set-up is done, the
/// command): [`Started::wait`] supervises it to the end.
pub struct Started<'a> {
    supervisor: SupervisorLoop<'a>,
    signals: SignalFd,
    started: Instant,
    /// [`Started::wait`] ran: the sandbox is over (or going).
    waited: bool,
}

impl Drop for Started<'_> {
    /// A sandbox never waited for is killed and reaped, not left behind.
    fn drop(&mut self) {
        if !self.waited && !self.supervisor.init_done {
            let _ = signal::kill(self.supervisor.init, Signal::SIGKILL);
            let _ = nix::sys::wait::waitpid(self.supervisor.init, None);
        }
    }
}

impl Started<'_> {
    /// The sandbox's init, as the host sees it (killing it ends every
    /// process of the sandbox).
    pub fn init_pid(&self) -> libc::pid_t {
        self.supervisor.init.as_raw()
    }

    /// Starts further commands in this sandbox while it runs (see
    /// [`crate::exec`]).
    pub fn executor(&self) -> Executor {
        Executor::new(self.supervisor.exec.clone())
    }

    /// Relays the terminal, forwards signals, serves the monitor's and the
    /// proxy's hand-overs, enforces the timeout, and returns how the
    /// command ended.
    pub fn wait(mut self) -> Result<LaunchOutcome, LaunchError> {
        self.waited = true;
        let watcher = &mut self.supervisor;
        let ran = watcher.run(&self.signals);
        watcher.exec.close();
        ran?;
        drop(watcher.raw.take());
        let ending = if watcher.timed_out {
            Ending::TimedOut
        } else if let Some((stage, message)) = watcher.failure.take() {
            Ending::Failed { stage, message }
        } else {
            match watcher.status {
                Some(status) => Ending::of_status(status),
                None => Ending::Failed {
                    stage: Stage::Setup,
                    message: "the sandbox's init ended without reporting the command's status"
                        .into(),
                },
            }
        };
        Ok(LaunchOutcome {
            ending,
            wall_time: self.started.elapsed(),
        })
    }
}

/// Clones the sandbox's init and hands it the go: the caller's
/// [`Launch::after_clone`] has run when this returns. Must be called while
/// the process is single-threaded (the sandbox is forked from it).
pub fn start(launch: Launch<'_>) -> Result<Started<'_>, LaunchError> {
    let started = Instant::now();
    let plan = launch.plan;
    let pty_fds = tty::pty_fds();
    let pty_mode = pty_fds.iter().any(|b| *b);
    let mut signals = SigSet::empty();
    for sig in FORWARDED.iter().chain(&[Signal::SIGCHLD, Signal::SIGWINCH]) {
        signals.add(*sig);
    }
    signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&signals), None)
        .map_err(|e| sup("signal mask")(e.into()))?;
    let (ctl_sup, ctl_box) = ctl::pair().map_err(sup("control channel"))?;

    let mut flags = libc::CLONE_NEWUSER
        | libc::CLONE_NEWNS
        | libc::CLONE_NEWPID
        | libc::CLONE_NEWNET
        | libc::CLONE_NEWIPC
        | libc::CLONE_NEWUTS;
    if launch.cgroup.is_none() {
        flags |= libc::CLONE_NEWCGROUP;
    }
    let premade = idmap::prepare(plan).map_err(|e| LaunchError::Idmap(e.to_string()))?;
    let ctx = InitCtx {
        premade: premade
            .iter()
            .map(|fd| fd.as_ref().map(|f| f.as_raw_fd()))
            .collect(),
        plan,
        filter: launch.filter,
        ctl: ctl_box.as_raw_fd(),
        wait_for_go: launch.cgroup.is_some(),
        pty_fds,
        winsize: if pty_mode { tty::winsize() } else { None },
        memory_rlimit_fallback: launch.memory_rlimit_fallback,
        landlock: launch.landlock,
        signals,
    };
    let pid = clone_sandbox(plan, flags)?;
    if pid == 0 {
        drop(ctl_sup);
        init::main(&ctx);
    }
    drop(ctl_box);
    drop(premade);
    let init_pid = Pid::from_raw(pid);
    if let Some(started) = launch.after_clone {
        if let Err(message) = started(pid) {
            let _ = signal::kill(init_pid, Signal::SIGKILL);
            let _ = nix::sys::wait::waitpid(init_pid, None);
            return Err(LaunchError::Caller(message));
        }
    }
    if let Some(cg) = launch.cgroup {
        if let Err(e) = cg.add_pid(init_pid) {
            let _ = signal::kill(init_pid, Signal::SIGKILL);
            let _ = nix::sys::wait::waitpid(init_pid, None);
            return Err(LaunchError::Cgroup(e.to_string()));
        }
        ctl::send(ctl_sup.as_raw_fd(), &Msg::Go).map_err(sup("control channel"))?;
    }
    let sfd = SignalFd::with_flags(&signals, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)
        .map_err(|e| sup("signalfd")(e.into()))?;
    let exec = exec::Shared::new(ctl_sup.try_clone().ok());
    let supervisor = SupervisorLoop {
        init: init_pid,
        exec,
        ctl: Some(ctl_sup),
        master: None,
        raw: None,
        stdin_open: pty_fds[0],
        output: tty::output_fd(pty_fds),
        to_master: Vec::new(),
        status: None,
        failure: None,
        init_done: false,
        deadline: plan.limits.timeout.map(|t| started + t),
        kill_at: None,
        timed_out: false,
        on_network: launch.on_network,
        on_monitor: launch.on_monitor,
    };
    Ok(Started {
        supervisor,
        signals: sfd,
        started,
        waited: false,
    })
}

/// Clones the sandbox's init. A root caller takes the sandbox's host
/// identity for the clone, so the new user namespace belongs to it and
/// init can map its own uid; supplementary groups are dropped for good.
fn clone_sandbox(plan: &SandboxPlan, flags: libc::c_int) -> Result<libc::pid_t, LaunchError> {
    let ids = plan.ids;
    if !ids.from_root {
        return sys::clone_fork(flags).map_err(LaunchError::Clone);
    }
    sys::set_effective_ids(ids.outside_uid, ids.outside_gid).map_err(sup("identity switch"))?;
    let pid = sys::clone_fork(flags);
    if matches!(pid, Ok(0)) {
        return Ok(0);
    }
    sys::restore_effective_root().map_err(sup("identity switch"))?;
    pid.map_err(LaunchError::Clone)
}

/// The supervisor's event loop state.
struct SupervisorLoop<'a> {
    init: Pid,
    /// Further commands: their answers, and the channel they are sent on.
    exec: Arc<exec::Shared>,
    ctl: Option<OwnedFd>,
    master: Option<OwnedFd>,
    raw: Option<tty::RawMode>,
    stdin_open: bool,
    /// Where the pty's output is copied (see [`tty::output_fd`]).
    output: Option<i32>,
    /// Input read but not yet taken by the pty (which is non-blocking).
    to_master: Vec<u8>,
    status: Option<i32>,
    failure: Option<(Stage, String)>,
    init_done: bool,
    deadline: Option<Instant>,
    kill_at: Option<Instant>,
    timed_out: bool,
    on_network: Option<ServeNetwork<'a>>,
    on_monitor: Option<ServeMonitor<'a>>,
}

impl SupervisorLoop<'_> {
    fn run(&mut self, sfd: &SignalFd) -> Result<(), LaunchError> {
        // Finished when the pty (if any) is drained and either init has
        // reported the command's status (it sends it only after killing and
        // reaping everything else in the sandbox, so waiting for init's own
        // exit, the namespaces' teardown, would only add latency; it dies
        // with us at the latest, by its parent-death signal) or init is gone.
        while !(self.master.is_none()
            && (self.status.is_some() || (self.init_done && self.ctl.is_none())))
        {
            let timeout = self.next_timeout();
            let stdin = io::stdin();
            let mut fds = vec![PollFd::new(sfd.as_fd(), PollFlags::POLLIN)];
            let ctl_idx = self.ctl.as_ref().map(|fd| {
                fds.push(PollFd::new(fd.as_fd(), PollFlags::POLLIN));
                fds.len() - 1
            });
            let master_idx = self.master.as_ref().map(|fd| {
                let mut events = PollFlags::POLLIN;
                if !self.to_master.is_empty() {
                    events |= PollFlags::POLLOUT;
                }
                fds.push(PollFd::new(fd.as_fd(), events));
                fds.len() - 1
            });
            // Input is read only when the last of it has reached the pty.
            let stdin_idx = (self.stdin_open && self.master.is_some() && self.to_master.is_empty())
                .then(|| {
                    fds.push(PollFd::new(stdin.as_fd(), PollFlags::POLLIN));
                    fds.len() - 1
                });
            match poll(&mut fds, timeout) {
                Ok(_) => {}
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(sup("poll")(e.into())),
            }
            let ready = |idx: Option<usize>| {
                idx.and_then(|i| fds[i].revents())
                    .is_some_and(|r| !r.is_empty())
            };
            let master_writable = master_idx
                .and_then(|i| fds[i].revents())
                .is_some_and(|r| r.contains(PollFlags::POLLOUT));
            let master_readable = master_idx.and_then(|i| fds[i].revents()).is_some_and(|r| {
                r.intersects(PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR)
            });
            let (sig_ready, ctl_ready, stdin_ready) =
                (ready(Some(0)), ready(ctl_idx), ready(stdin_idx));
            drop(fds);
            if sig_ready {
                self.on_signals(sfd);
            }
            if ctl_ready {
                self.on_ctl();
            }
            if master_writable {
                self.flush_master();
            }
            if master_readable {
                self.on_master();
            }
            if stdin_ready {
                self.on_stdin();
            }
            self.on_time();
        }
        Ok(())
    }

    fn next_timeout(&self) -> PollTimeout {
        let next = match (self.deadline, self.kill_at) {
            (_, Some(k)) => Some(k),
            (Some(d), None) if !self.timed_out => Some(d),
            _ => None,
        };
        match next {
            None => PollTimeout::NONE,
            Some(at) => {
                let ms = at
                    .saturating_duration_since(Instant::now())
                    .as_millis()
                    .min(i32::MAX as u128 - 1);
                PollTimeout::try_from(ms as i32 + 1).unwrap_or(PollTimeout::NONE)
            }
        }
    }

    fn on_time(&mut self) {
        let now = Instant::now();
        if let (Some(d), false) = (self.deadline, self.timed_out) {
            if now >= d && !self.init_done {
                self.timed_out = true;
                let _ = signal::kill(self.init, Signal::SIGTERM);
                self.kill_at = Some(now + TIMEOUT_GRACE);
            }
        }
        if let Some(k) = self.kill_at {
            if now >= k && !self.init_done {
                let _ = signal::kill(self.init, Signal::SIGKILL);
                self.kill_at = None;
            }
        }
    }

    fn on_signals(&mut self, sfd: &SignalFd) {
        while let Ok(Some(info)) = sfd.read_signal() {
            match Signal::try_from(info.ssi_signo as i32) {
                Ok(Signal::SIGCHLD) => self.reap_init(),
                Ok(Signal::SIGWINCH) => {
                    if let (Some(master), Some(ws)) = (&self.master, tty::winsize()) {
                        tty::set_winsize(master, &ws);
                    }
                }
                Ok(sig) => {
                    let _ = signal::kill(self.init, sig);
                }
                Err(_) => {}
            }
        }
    }

    fn reap_init(&mut self) {
        if let Ok(status) =
            nix::sys::wait::waitpid(self.init, Some(nix::sys::wait::WaitPidFlag::WNOHANG))
        {
            if status != nix::sys::wait::WaitStatus::StillAlive {
                self.init_done = true;
                self.kill_at = None;
                // Collect whatever init sent before it exited.
                while self.ctl.is_some() {
                    self.on_ctl();
                }
            }
        }
    }

    fn on_ctl(&mut self) {
        let Some(fd) = &self.ctl else { return };
        match ctl::recv(fd.as_raw_fd()) {
            Ok(Some(Msg::PtyMaster(master))) => {
                if self.output.is_some() {
                    self.raw = tty::RawMode::enter();
                }
                if let Some(ws) = tty::winsize() {
                    tty::set_winsize(&master, &ws);
                }
                tty::set_nonblocking(master.as_fd());
                self.master = Some(master);
            }
            Ok(Some(Msg::Failed { stage, message })) => {
                self.failure.get_or_insert((stage, message));
            }
            Ok(Some(Msg::Listeners(fds))) => {
                let listeners = crate::net::Listeners::from_fds(fds, self.init.as_raw());
                let served = match (listeners, self.on_network.take()) {
                    (Some(listeners), Some(serve)) => serve(listeners),
                    _ => Err("the egress proxy's sockets did not arrive as expected".into()),
                };
                if let Err(message) = served {
                    let _ = signal::kill(self.init, Signal::SIGKILL);
                    self.failure.get_or_insert((Stage::Setup, message));
                }
            }
            Ok(Some(Msg::Monitor(listener))) => {
                let served = match self.on_monitor.as_mut() {
                    Some(serve) => serve(listener),
                    None => Err("the command sent a monitor nobody asked for".into()),
                };
                if let Err(message) = served {
                    let _ = signal::kill(self.init, Signal::SIGKILL);
                    self.failure.get_or_insert((Stage::Setup, message));
                }
            }
            Ok(Some(Msg::Exited(status))) => self.status = Some(status),
            Ok(Some(Msg::ExecExited { id, status })) => {
                self.exec.answer(id, Ending::of_status(status));
            }
            Ok(Some(Msg::ExecFailed { id, stage, message })) => {
                self.exec.answer(id, Ending::Failed { stage, message });
            }
            // Only the supervisor sends these.
            Ok(Some(Msg::Go | Msg::Exec(_) | Msg::ExecSignal { .. } | Msg::Stop)) => {}
            Ok(None) | Err(_) => self.ctl = None,
        }
    }

    fn on_master(&mut self) {
        let Some(master) = &self.master else { return };
        match tty::read_some(master.as_fd()) {
            tty::ReadResult::Data(data) => {
                let (stdout, stderr) = (io::stdout(), io::stderr());
                let to = match self.output {
                    Some(2) => Some(stderr.as_fd()),
                    Some(_) => Some(stdout.as_fd()),
                    None => None,
                };
                if let Some(to) = to {
                    if !tty::write_all(to, &data) {
                        self.output = None;
                    }
                }
            }
            tty::ReadResult::Later => {}
            tty::ReadResult::End => self.master = None,
        }
    }

    fn on_stdin(&mut self) {
        match tty::read_some(io::stdin().as_fd()) {
            tty::ReadResult::Data(data) => {
                self.to_master = data;
                self.flush_master();
            }
            tty::ReadResult::Later => {}
            tty::ReadResult::End => self.stdin_open = false,
        }
    }

    fn flush_master(&mut self) {
        let Some(master) = &self.master else { return };
        if !tty::write_some(master.as_fd(), &mut self.to_master) {
            self.to_master.clear();
        }
    }
}
