//! Where the egress proxy's events go until the audit trail exists: every
//! event to the `--net-log` file (JSON Lines), and each distinct denial or
//! failure as one line on corral's stderr. While the command owns the
//! terminal (a pty relay is running) those lines wait until it ends, so
//! they cannot garble a full-screen program.

use anyhow::{Context, Result};
use corral_proxy::event::{Decision, NetEvent, Sink};
use std::collections::HashSet;
use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

#[derive(Default)]
struct State {
    log: Option<File>,
    log_error: Option<String>,
    seen: HashSet<String>,
    deferred: Vec<String>,
    repeats: usize,
}

/// Collects the proxy's events for one run.
#[derive(Clone)]
pub struct Reporter {
    state: Arc<Mutex<State>>,
    defer: bool,
}

impl Reporter {
    /// `log`: the `--net-log` file (created or appended to). `defer`: hold
    /// stderr lines until [`Reporter::finish`].
    pub fn new(log: Option<&Path>, defer: bool) -> Result<Reporter> {
        let log = log
            .map(|p| {
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(p)
                    .with_context(|| {
                        format!("--net-log: cannot open {} for appending", p.display())
                    })
            })
            .transpose()?;
        Ok(Reporter {
            state: Arc::new(Mutex::new(State {
                log,
                ..State::default()
            })),
            defer,
        })
    }

    /// The sink handed to the proxy.
    pub fn sink(&self) -> Sink {
        let this = self.clone();
        Box::new(move |ev| this.record(&ev))
    }

    fn record(&self, ev: &NetEvent) {
        let mut st = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(file) = st.log.as_mut() {
            let mut line = serde_json::to_vec(ev).unwrap_or_default();
            line.push(b'\n');
            if let Err(e) = file.write_all(&line) {
                st.log_error.get_or_insert(e.to_string());
                st.log = None;
            }
        }
        if ev.decision == Decision::Allow {
            return;
        }
        let line = format!("corral: {}", ev.line());
        if !st.seen.insert(line.clone()) {
            st.repeats += 1;
            return;
        }
        if self.defer {
            st.deferred.push(line);
        } else {
            eprintln!("{line}");
        }
    }

    /// Prints what waited, and any trouble with the log file.
    pub fn finish(&self) {
        let st = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        for line in &st.deferred {
            eprintln!("{line}");
        }
        if st.repeats > 0 {
            eprintln!(
                "corral: ({} repeated network refusal(s) not shown again)",
                st.repeats
            );
        }
        if let Some(e) = &st.log_error {
            eprintln!("corral: warning: writing the --net-log file failed ({e}); events after that were not recorded there");
        }
    }
}
