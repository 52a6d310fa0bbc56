//! The guard over a real process and a real trail: events are recorded
//! typed, refusals are explained, a critical finding kills.

mod common;

use common::{scratch, trail_events, verdict};
use corral_event::{Event, Outcome, ProcExec, RunExit, RunStart, SysDenied};
use corral_runtime::trail::{RunTrail, TrailTarget};
use corral_runtime::Guard;
use std::process::{Child, Command, Stdio};

fn trail(dir: &std::path::Path) -> RunTrail {
    let target = TrailTarget::new(
        Some(dir.join("trail.jsonl")),
        "00000000000000aa",
        &[("episode".into(), "3".into())],
        &["agent".into()],
    )
    .expect("a new trail's place");
    RunTrail::start(target, RunStart::default()).expect("start the trail")
}

fn guard(trail: &RunTrail, init: &Child) -> Guard {
    let policy = corral_policy::effective(None, &corral_policy::Overrides::default())
        .expect("the default policy");
    let engine =
        corral_detect::Engine::new(&policy.detect, corral_detect::Context::default(), None);
    Guard::new(
        engine,
        "00000000000000aa",
        Default::default(),
        trail.handle(),
        init.id() as i32,
        None,
        None,
        true,
    )
    .expect("a guard")
}

fn sleeper() -> Child {
    Command::new("sleep")
        .arg("30")
        .stdin(Stdio::null())
        .spawn()
        .expect("spawn sleep")
}

fn finish(trail: RunTrail, killed: bool) -> Vec<Event> {
    let done = trail
        .finish(RunExit::default(), verdict(killed, None))
        .expect("finish the trail");
    trail_events(&done.path)
}

#[test]
fn a_critical_finding_kills_the_sandbox_and_is_recorded() {
    let dir = scratch("guard-kill");
    let mut init = sleeper();
    let trail = trail(&dir);
    let g = guard(&trail, &init);
    g.record(
        ProcExec {
            argv: vec!["/tmp/xmrig".into()],
            path: "/tmp/xmrig".into(),
            pid: init.id(),
            ..ProcExec::default()
        }
        .into(),
    );
    let ended = g.ended().expect("a critical finding ends the run");
    assert!(ended.finding.starts_with("miner."), "{ended:?}");
    assert!(g.is_ending());
    let status = init.wait().expect("wait for the killed process");
    assert!(!status.success(), "killed: {status:?}");
    g.sandbox_gone();
    g.finish();
    let events = finish(trail, true);
    let kinds: Vec<&str> = events.iter().map(Event::kind).collect();
    assert_eq!(
        kinds,
        [
            "run.start",
            "proc.exec",
            "finding",
            "response.kill",
            "run.exit",
            "verdict"
        ],
        "the finding is recorded, then the kill"
    );
    assert!(matches!(&events[2], Event::Finding(f) if f.id == ended.finding));
    assert!(
        matches!(&events[3], Event::ResponseKill(k) if !k.frozen && k.finding == ended.finding)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_refused_call_is_recorded_and_nothing_is_killed() {
    let dir = scratch("guard-denied");
    let mut init = sleeper();
    let trail = trail(&dir);
    let g = guard(&trail, &init);
    g.record(
        SysDenied {
            args: vec![0; 6],
            consistent: None,
            errno: "EPERM".into(),
            pid: init.id(),
            reason: "loading kernel modules is refused".into(),
            syscall: "init_module".into(),
        }
        .into(),
    );
    assert!(
        matches!(init.try_wait(), Ok(None)),
        "a refusal the kernel already made kills nothing"
    );
    let _ = init.kill();
    let _ = init.wait();
    g.sandbox_gone();
    g.finish();
    let events = finish(trail, false);
    assert!(events
        .iter()
        .any(|e| matches!(e, Event::SysDenied(d) if d.syscall == "init_module")));
    assert!(matches!(events.last(), Some(Event::Verdict(v)) if v.outcome == Outcome::Clean));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_caller_kill_is_not_a_finding() {
    let dir = scratch("guard-caller");
    let mut init = sleeper();
    let trail = trail(&dir);
    let g = guard(&trail, &init);
    g.kill();
    assert!(g.killed_by_caller() && g.is_ending());
    assert!(g.ended().is_none(), "no finding ended it");
    assert!(!init.wait().expect("wait").success());
    g.sandbox_gone();
    g.kill(); // the pid may be reused now: nothing is sent
    g.finish();
    let events = finish(trail, true);
    assert!(matches!(events.last(), Some(Event::Verdict(v)) if v.outcome == Outcome::Killed));
    let _ = std::fs::remove_dir_all(&dir);
}
