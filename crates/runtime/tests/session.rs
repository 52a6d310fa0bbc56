//! `Session` end to end: real sandboxes, real processes, real trails.
//!
//! The sandbox is forked from its supervisor, which must then have no
//! other threads: the test harness has some, so this file is its own
//! harness (`harness = false`) and runs each case in a fresh process of
//! this binary (`CORRAL_SESSION_CASE=NAME`).

mod common;

use common::trail_events;
use corral_event::{Event, Outcome};
use corral_runtime::{Report, Session, SessionOptions};
use corral_sandbox::launch::Ending;
use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

type Case = fn(&Scratch);

const CASES: &[(&str, Case)] = &[
    ("a_clean_command_gets_a_clean_verified_trail", clean_run),
    ("the_command_exit_status_is_the_reports", exit_status),
    (
        "control_kill_ends_the_sandbox_and_the_verdict_says_killed",
        control_kill,
    ),
    ("control_freeze_snapshot_thaw", control_freeze),
    (
        "a_trail_inside_the_workspace_is_refused_before_launch",
        trail_inside,
    ),
    ("a_session_dropped_unwaited_leaves_nothing_running", dropped),
    (
        "further_commands_run_confined_in_the_same_sandbox",
        further_commands,
    ),
    (
        "a_parked_session_holds_open_and_its_trail_begins_at_the_claim",
        parked_session,
    ),
    (
        "a_parked_session_never_claimed_leaves_no_trail",
        parked_unclaimed,
    ),
];

fn main() {
    if let Ok(case) = std::env::var("CORRAL_SESSION_CASE") {
        let Some((_, run)) = CASES.iter().find(|(n, _)| *n == case) else {
            panic!("no case {case}");
        };
        if let Ok(uid) = std::env::var("CORRAL_SESSION_UID") {
            assert_eq!(
                nix::unistd::getuid().as_raw().to_string(),
                uid,
                "the case runs as the identity it is reported under"
            );
        }
        let scratch = Scratch::new(&case);
        run(&scratch);
        scratch.remove();
        return;
    }
    if let Some(reason) = cannot_sandbox() {
        skip(&format!("corral-runtime session tests: {reason}"));
        return;
    }
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let me = std::env::current_exe().expect("the test binary's path");
    let mut identities = vec![Identity::Me];
    match unprivileged(&me) {
        Ok(who) => identities.push(who),
        Err(reason) => skip(&format!(
            "corral-runtime session tests, unprivileged: {reason}"
        )),
    }
    let mut failed = Vec::new();
    let mut ran = 0;
    for who in &identities {
        for (name, _) in CASES {
            if !filter.is_empty() && !filter.iter().any(|f| name.contains(f.as_str())) {
                continue;
            }
            ran += 1;
            let shown = format!("{name} ({})", who.name());
            let out = who
                .command(&me)
                .env("CORRAL_SESSION_CASE", name)
                .stdin(std::process::Stdio::null())
                .output()
                .expect("run a case");
            if out.status.success() {
                println!("test {shown} ... ok");
            } else {
                println!("test {shown} ... FAILED ({})", out.status);
                println!("{}", String::from_utf8_lossy(&out.stdout));
                println!("{}", String::from_utf8_lossy(&out.stderr));
                failed.push(shown);
            }
        }
    }
    for who in &identities {
        if let Identity::Unprivileged { exe, .. } = who {
            if let Some(dir) = exe.parent() {
                let _ = std::fs::remove_dir_all(dir);
            }
        }
    }
    println!(
        "\ntest result: {}. {} passed; {} failed",
        if failed.is_empty() { "ok" } else { "FAILED" },
        ran - failed.len(),
        failed.len()
    );
    if !failed.is_empty() {
        std::process::exit(1);
    }
}

/// Prints a skip, and appends it to `$CORRAL_SKIP_LOG` for the summary.
fn skip(what: &str) {
    let line = format!("SKIP: {what}");
    println!("{line}");
    if let Some(path) = std::env::var_os("CORRAL_SKIP_LOG") {
        use std::io::Write;
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
        {
            let _ = writeln!(f, "{line}");
        }
    }
}

/// Who runs a case: this user, or (when this is root) the unprivileged
/// `CORRAL_TEST_USER` (else `nobody`), with a copy of this binary it can
/// execute.
enum Identity {
    Me,
    Unprivileged {
        name: String,
        uid: u32,
        gid: u32,
        home: String,
        exe: PathBuf,
    },
}

impl Identity {
    fn name(&self) -> &str {
        match self {
            Identity::Me => "as me",
            Identity::Unprivileged { name, .. } => name,
        }
    }

    fn command(&self, me: &std::path::Path) -> std::process::Command {
        use std::os::unix::process::CommandExt;
        match self {
            Identity::Me => std::process::Command::new(me),
            Identity::Unprivileged {
                uid,
                gid,
                home,
                exe,
                ..
            } => {
                let mut c = std::process::Command::new(exe);
                // std drops the supplementary groups when root sets a uid.
                c.uid(*uid).gid(*gid).env_clear();
                c.env("PATH", "/usr/local/bin:/usr/bin:/bin")
                    .env("HOME", home);
                c.current_dir("/tmp")
                    .env("CORRAL_SESSION_UID", uid.to_string());
                c
            }
        }
    }
}

fn unprivileged(me: &std::path::Path) -> Result<Identity, String> {
    if !nix::unistd::geteuid().is_root() {
        return Err("not running as root, cannot switch to another user".into());
    }
    let name = std::env::var("CORRAL_TEST_USER").unwrap_or_else(|_| "nobody".into());
    let passwd = std::fs::read_to_string("/etc/passwd").map_err(|e| format!("/etc/passwd: {e}"))?;
    let fields: Vec<&str> = passwd
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.len() >= 6 && f[0] == name)
        .ok_or_else(|| format!("no user {name}"))?;
    let uid: u32 = fields[2].parse().map_err(|_| format!("{name}: bad uid"))?;
    let gid: u32 = fields[3].parse().map_err(|_| format!("{name}: bad gid"))?;
    if uid == 0 {
        return Err(format!("CORRAL_TEST_USER={name} is root"));
    }
    // A copy it can execute (the build directory may be closed to it).
    use std::os::unix::fs::PermissionsExt;
    let dir = PathBuf::from(format!("/tmp/corral-session-bin-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let exe = dir.join("session");
    std::fs::copy(me, &exe).map_err(|e| format!("copy the test binary: {e}"))?;
    for (p, mode) in [(&dir, 0o755), (&exe, 0o755)] {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode))
            .map_err(|e| format!("{}: {e}", p.display()))?;
    }
    Ok(Identity::Unprivileged {
        name: format!("as {name}"),
        uid,
        gid,
        home: fields[5].to_owned(),
        exe,
    })
}

/// Why no sandbox can be made here, if none can.
fn cannot_sandbox() -> Option<String> {
    use corral_sandbox::probe::{explain_userns, Support, UsernsKnobs};
    match explain_userns(&UsernsKnobs::read(), None) {
        Support::No { reason, .. } => Some(reason),
        _ => None,
    }
}

/// A workspace and, beside it (out of the sandbox's reach), the trail.
struct Scratch {
    dir: PathBuf,
    workspace: PathBuf,
    trail: PathBuf,
}

impl Scratch {
    fn new(case: &str) -> Scratch {
        let dir =
            std::env::temp_dir().join(format!("corral-session-{}-{case}", std::process::id()));
        let workspace = dir.join("ws");
        std::fs::create_dir_all(&workspace).expect("create the workspace");
        Scratch {
            trail: dir.join("trail.jsonl"),
            dir,
            workspace,
        }
    }

    fn options(&self, command: &[&str]) -> SessionOptions {
        let overrides = corral_policy::Overrides {
            workspace: Some(self.workspace.to_string_lossy().into_owned()),
            ..Default::default()
        };
        SessionOptions {
            policy: corral_policy::effective(None, &overrides).expect("the default policy"),
            command: command.iter().map(OsString::from).collect(),
            labels: vec![("episode".into(), "7".into())],
            audit: Some(self.trail.clone()),
            baseline: None,
            monitor: true,
            sample_interval: Duration::from_millis(100),
            net_log: None,
            quiet: true,
            park: false,
        }
    }

    fn remove(&self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn run(s: &Scratch, command: &[&str]) -> Report {
    Session::prepare(s.options(command))
        .expect("prepare")
        .run()
        .expect("run")
}

fn clean_run(s: &Scratch) {
    let report = run(s, &["sh", "-c", "echo hello > out.txt"]);
    assert_eq!(report.exit_code, 0);
    let verdict = report.verdict.expect("a verdict");
    assert_eq!(verdict.outcome, Outcome::Clean, "{verdict:?}");
    assert!(!verdict.killed);
    assert!(verdict.findings.is_empty(), "{verdict:?}");
    assert_eq!(
        std::fs::read_to_string(s.workspace.join("out.txt")).expect("the command wrote its file"),
        "hello\n"
    );
    let (path, lines) = report.trail.expect("the trail");
    assert_eq!(path, s.trail);
    let events = trail_events(&path);
    assert_eq!(events.len() as u64, lines);
    let unknown: Vec<_> = events.iter().filter(|e| e.is_unknown()).collect();
    assert!(
        unknown.is_empty(),
        "every event the session writes is typed: {unknown:?}"
    );
    let Some(Event::RunStart(start)) = events.first() else {
        panic!("the first event is run.start: {:?}", events.first());
    };
    assert!(start.monitor && !start.network);
    assert_eq!(start.command, ["sh", "-c", "echo hello > out.txt"]);
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::ProcExec(x) if x.argv.first().is_some_and(|a| a == "sh"))),
        "the monitor saw the exec"
    );
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::FileWrite(w) if w.writable
            && w.path.as_deref().is_some_and(|p| p.ends_with("out.txt")))),
        "the monitor saw the write, allowed"
    );
    assert!(matches!(events.last(), Some(Event::Verdict(v)) if v.outcome == Outcome::Clean));
}

fn exit_status(s: &Scratch) {
    let report = run(s, &["sh", "-c", "exit 3"]);
    assert_eq!(report.exit_code, 3);
    let events = trail_events(&s.trail);
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::RunExit(x) if x.exit_code == 3
            && x.ending.as_deref() == Some("exited 3"))),
        "run.exit says how it ended"
    );
}

fn control_kill(s: &Scratch) {
    let session = Session::prepare(s.options(&["sleep", "60"])).expect("prepare");
    let running = session.launch().expect("launch");
    let control = running.control().expect("a control once launched");
    let killer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        control.kill();
    });
    let outcome = running.wait().expect("wait");
    killer.join().expect("the killer thread");
    assert!(
        !matches!(outcome.ending, Ending::Exited(0) | Ending::TimedOut),
        "ended early, by the kill: {:?}",
        outcome.ending
    );
    let report = session.finish(Ok(outcome)).expect("finish");
    assert_eq!(report.exit_code, corral_runtime::session::EXIT_KILLED);
    let verdict = report.verdict.expect("a verdict");
    assert!(verdict.killed, "{verdict:?}");
    assert_eq!(verdict.outcome, Outcome::Killed);
    let events = trail_events(&s.trail);
    assert!(
        events.iter().any(|e| matches!(e, Event::RunExit(x)
            if x.ending.as_deref() == Some("killed at the caller's request"))),
        "run.exit says who ended it"
    );
}

fn control_freeze(s: &Scratch) {
    let session = Session::prepare(s.options(&["sh", "-c", "sleep 1; echo done > done.txt"]))
        .expect("prepare");
    let running = session.launch().expect("launch");
    let control = running.control().expect("a control once launched");
    let checker = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        control.freeze();
        let procs = control.snapshot();
        control.thaw();
        procs
    });
    let outcome = running.wait().expect("wait");
    let procs = checker.join().expect("the checker thread");
    assert_eq!(
        outcome.ending,
        Ending::Exited(0),
        "thawed, it ran to its end"
    );
    assert!(
        procs
            .iter()
            .any(|p| p.argv.first().is_some_and(|a| a == "sleep")),
        "the snapshot lists the sandbox's sleep: {procs:?}"
    );
    assert!(procs.iter().all(|p| p.cwd.is_some() || p.argv.is_empty()));
    let report = session.finish(Ok(outcome)).expect("finish");
    assert_eq!(report.exit_code, 0);
    assert!(s.workspace.join("done.txt").exists());
}

fn trail_inside(s: &Scratch) {
    let mut options = s.options(&["true"]);
    options.audit = Some(s.workspace.join("trail.jsonl"));
    let err = match Session::prepare(options) {
        Ok(_) => panic!("a trail the command could delete is refused"),
        Err(e) => format!("{e:#}"),
    };
    assert!(err.contains("which the sandbox can write"), "{err}");
    assert!(
        !s.workspace.join("trail.jsonl").exists(),
        "nothing was started"
    );
}

fn dropped(s: &Scratch) {
    use corral_sandbox::process::{wait_gone, ArgvMatch};
    let argv = ["sleep", "61.25"];
    let session = Session::prepare(s.options(&argv)).expect("prepare");
    let running = session.launch().expect("launch");
    let init = running.init_pid();
    assert!(init > 0);
    drop(running);
    assert!(
        !std::path::Path::new(&format!("/proc/{init}")).exists(),
        "the sandbox's init was killed and reaped, not left a zombie"
    );
    drop(session);
    let left = wait_gone(ArgvMatch::Exact(&argv), Duration::from_secs(5));
    assert!(
        left.is_empty(),
        "the sandbox's command outlived its session: {left:?}"
    );
}

fn further_commands(s: &Scratch) {
    use corral_runtime::ExecRequest;
    let session = Session::prepare(s.options(&["sleep", "60"])).expect("prepare");
    let running = session.launch().expect("launch");
    let control = running.control().expect("a control once launched");
    let ws = s.workspace.clone();
    let driver = std::thread::spawn(move || {
        let mut echo = ExecRequest::new(["sh", "-c", "echo out; echo err >&2; cat; pwd; exit 4"]);
        echo.stdin = b"from stdin\n".to_vec();
        let out = control.exec(echo).expect("exec");
        assert_eq!(out.exit_code, 4, "{out:?}");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            format!("out\nfrom stdin\n{}\n", ws.display())
        );
        assert_eq!(String::from_utf8_lossy(&out.stderr), "err\n");
        assert!(!out.stdout_truncated && !out.timed_out);

        // The same filesystem state as the first command, the same limits
        // on what it may write.
        let mut write = ExecRequest::new([
            "sh",
            "-c",
            "echo kept > state.txt; echo x > /etc/corral-exec-test",
        ]);
        write.env = vec![("STEP".into(), "2".into())];
        let out = control.exec(write).expect("exec");
        assert_ne!(
            out.exit_code, 0,
            "/etc is read-only in the sandbox: {out:?}"
        );
        assert!(ws.join("state.txt").exists());
        assert!(!std::path::Path::new("/etc/corral-exec-test").exists());
        let out = control
            .exec(ExecRequest::new([
                "sh",
                "-c",
                "cat state.txt; echo $STEP; echo $CORRAL_SANDBOX",
            ]))
            .expect("exec");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "kept\n\n1\n",
            "env is per command"
        );

        let missing = control
            .exec(ExecRequest::new(["no-such-program-corral"]))
            .expect("exec");
        assert_eq!(missing.exit_code, 127, "{missing:?}");

        let mut slow = ExecRequest::new(["sleep", "30"]);
        slow.timeout = Some(Duration::from_millis(300));
        let out = control.exec(slow).expect("exec");
        assert!(out.timed_out && out.exit_code == 137, "{out:?}");

        let mut chatty = ExecRequest::new(["sh", "-c", "head -c 100000 /dev/zero"]);
        chatty.output_limit = 1000;
        let out = control.exec(chatty).expect("exec");
        assert_eq!(out.stdout.len(), 1000);
        assert!(out.stdout_truncated && out.exit_code == 0);

        control.kill();
        control
    });
    let outcome = running.wait().expect("wait");
    let control = driver.join().expect("the driver thread");
    assert!(
        control.exec(ExecRequest::new(["true"])).is_err(),
        "no command runs in an ended sandbox"
    );
    let report = session.finish(Ok(outcome)).expect("finish");
    assert!(report.verdict.expect("a verdict").killed);
    let events = trail_events(&s.trail);
    assert!(
        events.iter().any(
            |e| matches!(e, Event::ProcExec(x) if x.argv.iter().any(|a| a.contains("state.txt")))
        ),
        "the further commands' execs are in the same trail"
    );
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::FileWrite(w) if !w.writable
            && w.path.as_deref() == Some("/etc/corral-exec-test"))),
        "and their refused writes"
    );
}

/// A warm pool's session: no command of its own, the trail opened at the
/// claim with the caller's labels, commands framed by exec.start/exec.exit,
/// a finding attributed to the command that raised it, an orderly stop.
fn parked_session(s: &Scratch) {
    use corral_runtime::ExecRequest;
    let mut options = s.options(&[]);
    options.park = true;
    options.labels = Vec::new();
    let session = Session::prepare(options).expect("prepare");
    let running = session.launch().expect("launch");
    let control = running.control().expect("a control once launched");
    let trail = s.trail.clone();
    let driver = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(200));
        assert!(
            !trail.exists(),
            "a parked session's trail exists before its claim"
        );
        assert!(
            control.exec(ExecRequest::new(["true"])).is_err(),
            "a parked session runs nothing before its claim"
        );
        let labels = [("trajectory".to_owned(), "t-1".to_owned())].into();
        control.claim(labels).expect("claim");
        assert!(control.claim(Default::default()).is_err(), "claimed twice");
        let mut step = ExecRequest::new(["sh", "-c", "echo one > f; cat f"]);
        step.labels = [("step".to_owned(), "1".to_owned())].into();
        let out = control.exec(step).expect("exec");
        assert_eq!((out.exit_code, out.stdout.as_slice()), (0, &b"one\n"[..]));
        assert!(out.findings.is_empty(), "{:?}", out.findings);
        // Still there for the next command (nothing of its own ended it).
        std::thread::sleep(Duration::from_millis(100));
        let out = control.exec(ExecRequest::new(["cat", "f"])).expect("exec");
        assert_eq!(out.stdout, b"one\n");
        // A git hook planted is a finding of this command's.
        let out = control
            .exec(ExecRequest::new([
                "sh",
                "-c",
                "mkdir -p .git/hooks; echo x > .git/hooks/post-checkout; true",
            ]))
            .expect("exec");
        assert!(
            out.findings.iter().any(|f| f.id == "persist.git-hook"),
            "the command's findings: {:?}",
            out.findings
        );
        assert_eq!(control.exec_count(), 3);
        // Ended in order, unless the finding's response ended it already.
        let _ = control.stop();
        control
    });
    let outcome = running.wait().expect("wait");
    let _control = driver.join().expect("the driver thread");
    let report = session.finish(Ok(outcome)).expect("finish");
    let verdict = report.verdict.expect("a verdict");
    assert!(
        verdict.findings.iter().any(|f| f == "persist.git-hook"),
        "{verdict:?}"
    );
    let lines = corral_audit::read(&s.trail).expect("read the trail");
    for line in &lines {
        assert_eq!(
            line["labels"]["trajectory"], "t-1",
            "every line has the claim's labels: {line}"
        );
    }
    assert_eq!(
        corral_audit::verify(&s.trail).expect("verify").problem,
        None,
        "the trail verifies"
    );
    let events = trail_events(&s.trail);
    let kinds: Vec<&str> = events.iter().map(Event::kind).take(2).collect();
    assert_eq!(kinds, ["run.start", "run.claim"]);
    let starts: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            Event::ExecStart(x) => Some(x),
            _ => None,
        })
        .collect();
    assert_eq!(starts.len(), 3);
    assert_eq!(starts[0].exec, 1);
    assert_eq!(
        starts[0].exec_labels.get("step").map(String::as_str),
        Some("1")
    );
    let exits: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            Event::ExecExit(x) => Some(x),
            _ => None,
        })
        .collect();
    assert_eq!(exits.len(), 3);
    assert_eq!((exits[0].exit_code, exits[0].stdout_bytes), (0, 4));
    assert_eq!(exits[2].findings, ["persist.git-hook"]);
    assert!(
        events.iter().any(|e| matches!(e, Event::RunExit(x)
            if x.ending.as_deref() == Some("ended at the caller's request")
            || x.ending.as_deref().is_some_and(|e| e.starts_with("stopped by corral")))),
        "run.exit says who ended it"
    );
}

fn parked_unclaimed(s: &Scratch) {
    let mut options = s.options(&[]);
    options.park = true;
    let session = Session::prepare(options).expect("prepare");
    let running = session.launch().expect("launch");
    let control = running.control().expect("a control once launched");
    let stopper = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(200));
        control.stop().expect("stop");
    });
    let outcome = running.wait().expect("wait");
    stopper.join().expect("the stopper");
    let report = session.finish(Ok(outcome)).expect("finish");
    assert!(
        report.trail.is_none() && report.verdict.is_none(),
        "{report:?}"
    );
    assert!(!s.trail.exists(), "a session never claimed left a trail");
}
