//! Further commands in a running sandbox: the supervisor's side.
//!
//! An [`Executor`] (from [`crate::launch::Started::executor`]) asks the
//! sandbox's init, over the control channel, to start another command
//! confined exactly as the first (the same namespaces, root, limits,
//! cgroup, Landlock rules and seccomp filter, each applied by the new
//! command to itself before it execs, as the first did), with its own
//! argv, environment, working directory and standard descriptors. init
//! answers with the command's wait status, which the supervisor's loop
//! (running [`crate::launch::Started::wait`]) hands to the waiting
//! [`Spawned`]. Usable from any thread while the sandbox runs; when the
//! sandbox ends (its first command does, or [`Executor::stop`] is called),
//! every command still running in it ends too and its wait says so. A
//! plan with an empty argv has no first command: its sandbox holds open
//! for further commands until it is stopped.

use crate::ctl::{self, Msg, SpawnRequest, Stage};
use crate::ending::Ending;
use nix::sys::signal::Signal;
use std::collections::HashMap;
use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// Starts further commands in a running sandbox (cheap to clone).
#[derive(Clone)]
pub struct Executor {
    shared: Arc<Shared>,
}

pub(crate) struct Shared {
    /// A copy of the supervisor's end of the control channel; `None` once
    /// the sandbox has ended.
    ctl: Mutex<Option<OwnedFd>>,
    next: AtomicU64,
    waiting: Mutex<HashMap<u64, SyncSender<Ending>>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

impl Shared {
    pub(crate) fn new(ctl: Option<OwnedFd>) -> Arc<Shared> {
        Arc::new(Shared {
            ctl: Mutex::new(ctl),
            next: AtomicU64::new(1),
            waiting: Mutex::new(HashMap::new()),
        })
    }

    fn send(&self, msg: &Msg) -> io::Result<()> {
        match lock(&self.ctl).as_ref() {
            Some(fd) => ctl::send(fd.as_raw_fd(), msg),
            None => Err(io::Error::new(
                io::ErrorKind::NotConnected,
                "the sandbox has ended; start a new one",
            )),
        }
    }

    /// init's answer for command `id`.
    pub(crate) fn answer(&self, id: u64, ending: Ending) {
        if let Some(tx) = lock(&self.waiting).remove(&id) {
            let _ = tx.try_send(ending);
        }
    }

    /// The sandbox has ended: no more commands, and every wait still
    /// pending learns that its command ended with it.
    pub(crate) fn close(&self) {
        lock(&self.ctl).take();
        lock(&self.waiting).clear();
    }
}

impl Executor {
    pub(crate) fn new(shared: Arc<Shared>) -> Executor {
        Executor { shared }
    }

    /// Starts `argv` in the sandbox with this environment (`KEY=VALUE`),
    /// working directory (a sandbox path) and stdin, stdout, stderr. The
    /// descriptors are the command's from here on (the caller keeps the
    /// other ends of its pipes).
    pub fn spawn(
        &self,
        argv: Vec<CString>,
        env: Vec<CString>,
        cwd: CString,
        stdio: [OwnedFd; 3],
    ) -> io::Result<Spawned> {
        if argv.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "no command to run: argv is empty",
            ));
        }
        let id = self.shared.next.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = sync_channel(1);
        lock(&self.shared.waiting).insert(id, tx);
        let sent = self.shared.send(&Msg::Exec(SpawnRequest {
            id,
            argv,
            env,
            cwd,
            stdio,
        }));
        if let Err(e) = sent {
            lock(&self.shared.waiting).remove(&id);
            return Err(e);
        }
        Ok(Spawned {
            id,
            rx,
            shared: self.shared.clone(),
        })
    }

    /// Asks init to end the sandbox: every process in it is killed, and a
    /// sandbox started with no command of its own (an empty plan argv)
    /// reports status 0 to [`crate::launch::Started::wait`].
    pub fn stop(&self) -> io::Result<()> {
        self.shared.send(&Msg::Stop)
    }
}

/// A command started by [`Executor::spawn`].
pub struct Spawned {
    id: u64,
    rx: Receiver<Ending>,
    shared: Arc<Shared>,
}

impl Spawned {
    /// Sends `signal` to the command's process group (it leads one).
    pub fn signal(&self, signal: Signal) -> io::Result<()> {
        self.shared.send(&Msg::ExecSignal {
            id: self.id,
            signal: signal as i32,
        })
    }

    /// Waits for the command's end, at most `timeout` (`None`: until it
    /// ends). `None` back: still running.
    pub fn wait(&self, timeout: Option<Duration>) -> Option<Ending> {
        let got = match timeout {
            Some(t) => self.rx.recv_timeout(t),
            None => self.rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
        };
        match got {
            Ok(ending) => Some(ending),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => Some(Ending::Failed {
                stage: Stage::Setup,
                message: "the sandbox ended before the command did (its first command exited, or it was killed)".into(),
            }),
        }
    }
}
