//! How a command in the sandbox ended: the first (the run's) or a further
//! one ([`crate::exec`]).

use crate::ctl::Stage;

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// The command exited with this code.
    Exited(i32),
    /// The command was killed by this signal.
    Signaled(i32),
    /// The wall-clock timeout expired and the sandbox was stopped.
    TimedOut,
    /// The sandbox could not be set up or the command not executed.
    Failed { stage: Stage, message: String },
}

impl Ending {
    /// The ending a raw `waitpid` status says.
    pub fn of_status(status: i32) -> Ending {
        if libc::WIFSIGNALED(status) {
            Ending::Signaled(libc::WTERMSIG(status))
        } else {
            Ending::Exited(libc::WEXITSTATUS(status))
        }
    }

    /// The conventional exit status for corral itself: the command's code,
    /// 128+N for signal N, 124 on timeout, 125 for corral's own failures,
    /// 126/127 for a command that cannot be executed or found.
    pub fn exit_code(&self) -> i32 {
        match self {
            Ending::Exited(code) => *code,
            Ending::Signaled(sig) => 128 + sig,
            Ending::TimedOut => 124,
            Ending::Failed {
                stage: Stage::NotFound,
                ..
            } => 127,
            Ending::Failed {
                stage: Stage::NotExecutable,
                ..
            } => 126,
            Ending::Failed { .. } => 125,
        }
    }
}
