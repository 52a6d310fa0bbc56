//! The sandbox side: pid 1 of the new pid namespace ("init") and the
//! command it starts.
//!
//! init writes its own uid/gid maps, builds the root, brings loopback up,
//! applies rlimits, optionally opens a pty, then forks the command. The
//! command drops every capability, sets no_new_privs, enters Landlock, loads
//! the seccomp filter (last: it forbids mount and friends) and execs. init
//! stays behind to reap orphans and forward signals, and starts further
//! commands the supervisor asks for ([`crate::exec`]), each confined the
//! same way; when the first command exits it kills everything left in the
//! namespace and reports the status.

use crate::ctl::{self, Msg, Stage};
use crate::mounts;
use crate::plan::SandboxPlan;
use crate::{landlock, rlimit, seccomp, sys};
use nix::sys::signal::{self, SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::waitpid;
use nix::unistd::Pid;
use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;

/// Everything init needs, prepared by the supervisor before the clone.
pub(crate) struct InitCtx<'a> {
    pub plan: &'a SandboxPlan,
    pub filter: &'a seccomp::Filter,
    pub ctl: RawFd,
    /// Wait for the supervisor's "go" (it is placing init in cgroups), then
    /// enter a new cgroup namespace rooted there.
    pub wait_for_go: bool,
    /// Which of stdin/stdout/stderr become the pty's slave (pty mode).
    pub pty_fds: [bool; 3],
    pub winsize: Option<libc::winsize>,
    /// Apply RLIMIT_DATA for memory (no cgroup available).
    pub memory_rlimit_fallback: bool,
    /// Landlock is available and required.
    pub landlock: bool,
    /// Signals the supervisor blocked and init forwards.
    pub signals: SigSet,
    /// Per mount op, a detached clone the supervisor made (idmapped binds).
    pub premade: Vec<Option<RawFd>>,
}

/// The sandbox's pid 1. Never returns.
pub(crate) fn main(ctx: &InitCtx<'_>) -> ! {
    let code = match run(ctx) {
        Ok(status) => {
            let _ = ctl::send(ctx.ctl, &Msg::Exited(status));
            0
        }
        Err((stage, message)) => {
            let _ = ctl::send(ctx.ctl, &Msg::Failed { stage, message });
            125
        }
    };
    sys::exit_now(code)
}

type StepResult<T> = Result<T, (Stage, String)>;

fn setup_err<'a>(what: &'a str) -> impl FnOnce(io::Error) -> (Stage, String) + use<'a> {
    move |e| (Stage::Setup, format!("{what}: {e}"))
}

fn run(ctx: &InitCtx<'_>) -> StepResult<i32> {
    // If the supervisor dies, so does init, and with it the whole pid namespace.
    sys::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong)
        .map_err(setup_err("set parent-death signal"))?;
    if ctx.wait_for_go {
        match ctl::recv(ctx.ctl) {
            Ok(Some(Msg::Go)) => {}
            _ => {
                return Err((
                    Stage::Setup,
                    "supervisor went away before the sandbox started".into(),
                ))
            }
        }
        sys::unshare(libc::CLONE_NEWCGROUP).map_err(setup_err("create cgroup namespace"))?;
    } else if supervisor_gone(ctx.ctl) {
        return Err((
            Stage::Setup,
            "supervisor went away before the sandbox started".into(),
        ));
    }
    write_id_maps(ctx.plan).map_err(setup_err("write uid/gid maps"))?;
    // A root caller's init still has host uid 0 as its real and saved uid:
    // take the sandbox's ids for all three now. (Inside uid 0 is unmapped,
    // so the kernel's setuid rules keep init's capabilities in its
    // namespace, which it needs to build the root.)
    if ctx.plan.ids.from_root {
        sys::set_all_ids(ctx.plan.ids.inside_uid, ctx.plan.ids.inside_gid)
            .map_err(setup_err("take the sandbox's ids"))?;
    }
    sys::sethostname(&ctx.plan.hostname).map_err(setup_err("set hostname"))?;
    sys::loopback_up().map_err(setup_err("bring loopback up"))?;
    if ctx.plan.network.is_some() {
        let listeners = crate::net::bind().map_err(setup_err(
            "bind the egress proxy's sockets on the sandbox's loopback",
        ))?;
        // Sent, then closed here: the supervisor holds the only copies.
        ctl::send(ctx.ctl, &Msg::Listeners(listeners))
            .map_err(setup_err("send the proxy's sockets to the supervisor"))?;
    }
    let premade: Vec<Option<OwnedFd>> = ctx
        .premade
        .iter()
        .map(|fd| fd.map(crate::idmap::adopt))
        .collect();
    mounts::assemble(&ctx.plan.fs, premade).map_err(|e| (Stage::Setup, e.to_string()))?;
    rlimit::apply(&ctx.plan.limits, ctx.memory_rlimit_fallback)
        .map_err(|e| (Stage::Setup, e.to_string()))?;
    let pty = match ctx.pty_fds.iter().any(|b| *b) {
        true => Some(open_pty(ctx)?),
        false => None,
    };
    let sfd = SignalFd::with_flags(&ctx.signals, SfdFlags::SFD_CLOEXEC)
        .map_err(|e| setup_err("create signalfd")(e.into()))?;
    // A plan with no command of its own holds the sandbox open for the
    // further commands the supervisor sends, until it says stop.
    let cmd = match ctx.plan.argv.is_empty() {
        true => None,
        false => Some(spawn_command(ctx, pty.as_ref(), None)?),
    };
    drop(pty);
    // Nobody inside may read init's memory or ptrace it.
    let _ = sys::prctl(libc::PR_SET_DUMPABLE, 0);
    supervise(ctx, cmd, &sfd)
}

fn supervisor_gone(ctl: RawFd) -> bool {
    let mut pfd = libc::pollfd {
        fd: ctl,
        events: libc::POLLRDHUP,
        revents: 0,
    };
    // SAFETY: pfd is a valid pollfd array of length 1; zero timeout.
    let n = unsafe { libc::poll(&mut pfd, 1, 0) };
    n > 0 && pfd.revents & (libc::POLLRDHUP | libc::POLLHUP) != 0
}

fn write_id_maps(plan: &SandboxPlan) -> io::Result<()> {
    let ids = plan.ids;
    if ids.from_root {
        // The identity switch made this process non-dumpable, which hands
        // its /proc files to root; make them ours again to write the maps.
        sys::prctl(libc::PR_SET_DUMPABLE, 1)?;
    }
    sys::write_file_once(c"/proc/self/setgroups", b"deny")?;
    sys::write_file_once(
        c"/proc/self/uid_map",
        format!("{} {} 1", ids.inside_uid, ids.outside_uid).as_bytes(),
    )?;
    sys::write_file_once(
        c"/proc/self/gid_map",
        format!("{} {} 1", ids.inside_gid, ids.outside_gid).as_bytes(),
    )
}

/// Opens a pty in the sandbox's own devpts and hands the master to the
/// supervisor; returns the slave.
fn open_pty(ctx: &InitCtx<'_>) -> StepResult<OwnedFd> {
    let err = setup_err("open pty");
    let master = nix::fcntl::open(
        "/dev/ptmx",
        nix::fcntl::OFlag::O_RDWR | nix::fcntl::OFlag::O_NOCTTY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(|e| err(e.into()))?;
    let unlock: libc::c_int = 0;
    // SAFETY: TIOCSPTLCK reads an int we own; 0 unlocks the slave.
    if unsafe {
        libc::ioctl(
            master.as_raw_fd(),
            libc::TIOCSPTLCK,
            &unlock as *const libc::c_int,
        )
    } < 0
    {
        return Err(setup_err("unlock pty")(io::Error::last_os_error()));
    }
    // SAFETY: TIOCGPTPEER on a pty master returns a new fd for its slave.
    let slave = unsafe {
        libc::ioctl(
            master.as_raw_fd(),
            libc::TIOCGPTPEER,
            libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
        )
    };
    if slave < 0 {
        return Err(setup_err("open pty slave")(io::Error::last_os_error()));
    }
    // SAFETY: the kernel returned a fresh descriptor that we now own.
    let slave = unsafe { OwnedFd::from_raw_fd(slave) };
    if let Some(ws) = ctx.winsize {
        // SAFETY: TIOCSWINSZ reads a valid winsize we own.
        unsafe {
            libc::ioctl(
                master.as_raw_fd(),
                libc::TIOCSWINSZ,
                &ws as *const libc::winsize,
            )
        };
    }
    ctl::send(ctx.ctl, &Msg::PtyMaster(master)).map_err(setup_err("send pty to supervisor"))?;
    Ok(slave)
}

/// Forks the command. In the child: new session, pty as controlling
/// terminal, working directory, then the confinement layers and exec.
/// What the command's child needs, passed through `clone`'s argument.
struct SpawnArgs<'a, 'b> {
    ctx: &'a InitCtx<'b>,
    pty: Option<&'a OwnedFd>,
    /// A further command ([`Msg::Exec`]) instead of the plan's own.
    exec: Option<&'a ExecSpawn>,
}

/// A further command: the plan with its argv, environment and working
/// directory, and its standard descriptors.
struct ExecSpawn {
    id: u64,
    plan: SandboxPlan,
    stdio: [OwnedFd; 3],
}

/// Starts the command with `clone(CLONE_VM | CLONE_VFORK)`, as posix_spawn
/// does: the child borrows init's memory instead of copying it, and init
/// sleeps until the child has exec'd or exited, so nothing runs beside it
/// in the shared memory. (Copying init's address space, then throwing the
/// copy away at exec, was a visible share of a launch.) The child runs on
/// a stack of its own with a guard page below it.
fn spawn_command(
    ctx: &InitCtx<'_>,
    pty: Option<&OwnedFd>,
    exec: Option<&ExecSpawn>,
) -> StepResult<Pid> {
    let stack =
        sys::ChildStack::new(COMMAND_STACK).map_err(setup_err("allocate the command's stack"))?;
    let args = SpawnArgs { ctx, pty, exec };
    let flags = libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD;
    // SAFETY: `command_main` only uses `args` (alive until clone returns,
    // which with CLONE_VFORK is after the child exec'd or exited) and ends
    // in execve or _exit; `stack` outlives the child for the same reason.
    let pid = unsafe {
        libc::clone(
            command_main,
            stack.top(),
            flags,
            (&args as *const SpawnArgs<'_, '_>).cast_mut().cast(),
        )
    };
    if pid < 0 {
        return Err(setup_err("start the command")(io::Error::last_os_error()));
    }
    Ok(Pid::from_raw(pid))
}

/// The command's stack: deep enough for Landlock's and the error paths.
const COMMAND_STACK: usize = 512 * 1024;

extern "C" fn command_main(arg: *mut libc::c_void) -> libc::c_int {
    // SAFETY: `spawn_command` passes a pointer to a live `SpawnArgs`.
    let args = unsafe { &*(arg as *const SpawnArgs<'_, '_>) };
    let (stage, message) = match exec_command(args.ctx, args.pty, args.exec) {
        Ok(never) => match never {},
        Err(e) => e,
    };
    let msg = match args.exec {
        Some(e) => Msg::ExecFailed {
            id: e.id,
            stage,
            message,
        },
        None => Msg::Failed { stage, message },
    };
    let _ = ctl::send(args.ctx.ctl, &msg);
    sys::exit_now(match stage {
        Stage::NotFound => 127,
        Stage::NotExecutable => 126,
        _ => 125,
    })
}

fn exec_command(
    ctx: &InitCtx<'_>,
    pty: Option<&OwnedFd>,
    further: Option<&ExecSpawn>,
) -> StepResult<std::convert::Infallible> {
    let plan = further.map_or(ctx.plan, |e| &e.plan);
    // Descriptors inherited from whoever started corral (a directory fd
    // would lead out of the new root) must not reach the command. The
    // control channel is already close-on-exec and is needed until exec.
    sys::cloexec_from(3).map_err(setup_err("mark inherited descriptors close-on-exec"))?;
    if let Some(e) = further {
        for (fd, from) in e.stdio.iter().enumerate() {
            // SAFETY: dup2 of a descriptor we own onto a standard number.
            if unsafe { libc::dup2(from.as_raw_fd(), fd as RawFd) } < 0 {
                return Err(setup_err("attach the command's standard descriptors")(
                    io::Error::last_os_error(),
                ));
            }
        }
    }
    reset_signals(&ctx.signals);
    nix::unistd::setsid().map_err(|e| setup_err("start a session")(e.into()))?;
    if let Some(slave) = pty {
        // SAFETY: TIOCSCTTY with arg 0 on our own pty slave; we are a session leader.
        if unsafe { libc::ioctl(slave.as_raw_fd(), libc::TIOCSCTTY, 0) } < 0 {
            return Err(setup_err("make the pty the controlling terminal")(
                io::Error::last_os_error(),
            ));
        }
        for (fd, on) in ctx.pty_fds.iter().enumerate() {
            if *on {
                // SAFETY: dup2 onto a standard descriptor number.
                if unsafe { libc::dup2(slave.as_raw_fd(), fd as RawFd) } < 0 {
                    return Err(setup_err("attach the pty")(io::Error::last_os_error()));
                }
            }
        }
    }
    std::env::set_current_dir(&plan.cwd).map_err(|e| {
        (
            Stage::Setup,
            format!("enter working directory {}: {e}", plan.cwd.display()),
        )
    })?;
    let confine = |what: &str, e: String| (Stage::Confine, format!("{what}: {e}"));
    // The command's real, effective and saved ids all become the inside
    // ones (a root caller's init still has real uid 0 on the host).
    sys::set_all_ids(plan.ids.inside_uid, plan.ids.inside_gid)
        .map_err(|e| confine("set user and group ids", e.to_string()))?;
    sys::prctl(libc::PR_SET_NO_NEW_PRIVS, 1)
        .map_err(|e| confine("set no_new_privs", e.to_string()))?;
    sys::drop_all_capabilities().map_err(|e| confine("drop capabilities", e.to_string()))?;
    if ctx.landlock {
        landlock::restrict(&plan.landlock).map_err(|e| confine("apply Landlock", e.to_string()))?;
    }
    let listener = ctx
        .filter
        .install()
        .map_err(|e| confine("load seccomp filter", e.to_string()))?;
    if let Some(listener) = listener {
        // Handed over at once: from here on the command's exec (and any
        // denied call) waits for the supervisor.
        ctl::send(ctx.ctl, &Msg::Monitor(listener))
            .map_err(|e| confine("hand the monitor to the supervisor", e.to_string()))?;
    }
    Err(exec(plan))
}

/// Restores default dispositions and an empty mask (Rust ignores SIGPIPE;
/// an ignored signal would survive exec).
fn reset_signals(blocked: &SigSet) {
    for sig in Signal::iterator() {
        if sig != Signal::SIGKILL && sig != Signal::SIGSTOP {
            // SAFETY: installing SIG_DFL is always sound.
            let _ = unsafe { signal::signal(sig, signal::SigHandler::SigDfl) };
        }
    }
    let _ = signal::sigprocmask(SigmaskHow::SIG_UNBLOCK, Some(blocked), None);
}

/// execvpe: a name without a slash is looked up in the command's PATH.
fn exec(plan: &SandboxPlan) -> (Stage, String) {
    let prog = &plan.argv[0];
    let shown = prog.to_string_lossy().into_owned();
    let candidates: Vec<CString> = if prog.as_bytes().contains(&b'/') {
        vec![prog.clone()]
    } else {
        let path = plan
            .env
            .iter()
            .find_map(|kv| kv.to_bytes().strip_prefix(b"PATH="))
            .unwrap_or(b"/usr/local/bin:/usr/bin:/bin");
        path.split(|b| *b == b':')
            .filter(|dir| !dir.is_empty())
            .filter_map(|dir| {
                let mut full = dir.to_vec();
                full.push(b'/');
                full.extend_from_slice(prog.as_bytes());
                CString::new(full).ok()
            })
            .collect()
    };
    let argv: Vec<&CStr> = plan.argv.iter().map(|a| a.as_c_str()).collect();
    let env: Vec<&CStr> = plan.env.iter().map(|a| a.as_c_str()).collect();
    let mut last = nix::errno::Errno::ENOENT;
    let mut saw_eacces = false;
    let mut missing_interpreter = false;
    // Does the file itself exist? (EACCES and ENOENT also come from a
    // directory on the way, or from a missing `#!` interpreter or loader.)
    let exists = |c: &CString| std::fs::metadata(std::ffi::OsStr::from_bytes(c.as_bytes())).is_ok();
    for candidate in &candidates {
        // A PATH entry whose file cannot even be looked up is skipped
        // without an execve (which would fail the same way, and such a
        // failure never counts, see `exists`), so the monitor records the
        // exec that runs, not every miss before it.
        if candidates.len() > 1 && !exists(candidate) {
            continue;
        }
        let err = match nix::unistd::execve(candidate, &argv, &env) {
            Ok(never) => match never {},
            Err(e) => e,
        };
        match err {
            // Like a shell: a PATH directory we cannot enter is skipped,
            // a file that is there but not executable is remembered.
            nix::errno::Errno::EACCES => saw_eacces |= exists(candidate),
            nix::errno::Errno::ENOENT if exists(candidate) => {
                missing_interpreter = true;
                break;
            }
            nix::errno::Errno::ENOENT | nix::errno::Errno::ENOTDIR => {}
            other => {
                last = other;
                break;
            }
        }
    }
    if missing_interpreter {
        return (
            Stage::NotExecutable,
            format!(
                "cannot execute {shown}: its interpreter (the #! line) or its dynamic loader was not found inside the sandbox; check that the policy lets the sandbox read it"
            ),
        );
    }
    if saw_eacces && last == nix::errno::Errno::ENOENT {
        last = nix::errno::Errno::EACCES;
    }
    let stage = if last == nix::errno::Errno::ENOENT {
        Stage::NotFound
    } else {
        Stage::NotExecutable
    };
    let hint = match stage {
        Stage::NotFound => " (is it installed and inside a path the policy lets the sandbox read?)",
        _ => "",
    };
    (
        stage,
        format!("cannot execute {shown}: {}{hint}", io::Error::from(last)),
    )
}

/// init's loop: forward signals to the command, reap orphans, start the
/// further commands the supervisor asks for and report how each ends, and
/// when the command exits (or the supervisor is gone, or asks to stop)
/// kill whatever is left in the namespace. With no command of its own
/// (`cmd` is `None`) the sandbox lasts until it is stopped, and reports 0.
fn supervise(ctx: &InitCtx<'_>, cmd: Option<Pid>, sfd: &SignalFd) -> StepResult<i32> {
    // Further commands running: pid -> the supervisor's id for it.
    let mut further: std::collections::HashMap<i32, u64> = Default::default();
    let mut ctl_open = true;
    loop {
        let mut fds = [
            libc::pollfd {
                fd: sfd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: if ctl_open { ctx.ctl } else { -1 },
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        // SAFETY: two valid pollfd entries (a negative fd is ignored).
        if unsafe { libc::poll(fds.as_mut_ptr(), 2, -1) } < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(setup_err("wait for signals and requests")(e));
        }
        if fds[1].revents != 0 {
            match ctl::recv_request(ctx.ctl) {
                Ok(Some(Msg::Exec(req))) => start_further(ctx, req, &mut further),
                Ok(Some(Msg::ExecSignal { id, signal })) => {
                    if let Some((&pid, _)) = further.iter().find(|(_, i)| **i == id) {
                        if let Ok(sig) = Signal::try_from(signal) {
                            // Its process group (it leads one), then itself.
                            let _ = signal::kill(Pid::from_raw(-pid), sig);
                            let _ = signal::kill(Pid::from_raw(pid), sig);
                        }
                    }
                }
                Ok(Some(Msg::Stop)) if cmd.is_none() => return Ok(end_all()),
                Ok(Some(Msg::Stop)) => {
                    let _ = signal::kill(Pid::from_raw(-1), Signal::SIGKILL);
                }
                Ok(Some(_)) => {}
                // The supervisor is gone: so is the sandbox.
                Ok(None) if cmd.is_none() => return Ok(end_all()),
                Ok(None) => {
                    ctl_open = false;
                    let _ = signal::kill(Pid::from_raw(-1), Signal::SIGKILL);
                }
                // A malformed request is dropped; a broken channel is not
                // read again.
                Err(e) if e.kind() == io::ErrorKind::InvalidData => {}
                Err(_) => ctl_open = false,
            }
        }
        if fds[0].revents == 0 {
            continue;
        }
        let info = match sfd.read_signal() {
            Ok(Some(info)) => info,
            Ok(None) => continue,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(setup_err("read signals")(e.into())),
        };
        let signo = info.ssi_signo as i32;
        if signo != libc::SIGCHLD {
            if let (Ok(sig), Some(cmd)) = (Signal::try_from(signo), cmd) {
                let _ = signal::kill(cmd, sig);
            }
            continue;
        }
        if let Some(status) = reap(cmd, |pid, status| {
            if let Some(id) = further.remove(&pid) {
                let _ = ctl::send(ctx.ctl, &Msg::ExecExited { id, status });
            }
        }) {
            // The command is gone: nothing else in the sandbox may outlive it.
            end_all();
            return Ok(status);
        }
    }
}

/// Kills every other process of the namespace and reaps them all; 0.
fn end_all() -> i32 {
    let _ = signal::kill(Pid::from_raw(-1), Signal::SIGKILL);
    while !matches!(waitpid(None, None), Err(nix::errno::Errno::ECHILD)) {}
    0
}

/// Starts a further command: the plan with the request's argv,
/// environment and working directory, confined as the first command was.
fn start_further(
    ctx: &InitCtx<'_>,
    req: ctl::SpawnRequest,
    further: &mut std::collections::HashMap<i32, u64>,
) {
    let mut plan = ctx.plan.clone();
    plan.argv = req.argv;
    plan.env = req.env;
    plan.cwd = std::path::PathBuf::from(std::ffi::OsStr::from_bytes(req.cwd.as_bytes()));
    let spawn = ExecSpawn {
        id: req.id,
        plan,
        stdio: req.stdio,
    };
    match spawn_command(ctx, None, Some(&spawn)) {
        // The child's failure before exec (not found, confinement) is its
        // own ExecFailed; its exit is then reaped like any other.
        Ok(pid) => {
            further.insert(pid.as_raw(), spawn.id);
        }
        Err((stage, message)) => {
            let _ = ctl::send(
                ctx.ctl,
                &Msg::ExecFailed {
                    id: spawn.id,
                    stage,
                    message,
                },
            );
        }
    }
    // `spawn` (and with it init's copies of the command's descriptors) is
    // dropped here: the command holds the only ones.
}

/// Reaps every exited child, handing each but the command to `other`;
/// returns the command's raw status once it exits.
fn reap(cmd: Option<Pid>, mut other: impl FnMut(i32, i32)) -> Option<i32> {
    loop {
        let mut status: libc::c_int = 0;
        // SAFETY: status is a valid out-pointer; WNOHANG never blocks.
        let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
        if pid <= 0 {
            return None;
        }
        if cmd.is_some_and(|c| c.as_raw() == pid) {
            return Some(status);
        }
        other(pid, status);
    }
}
