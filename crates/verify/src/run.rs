//! One scenario, both runs: the runner's additions to the user's policy
//! (its servers' names, the resource caps), the check that nothing would
//! leave the machine, the run itself, and the steps only the runner can
//! settle.

use crate::judge::{self, Observed, Run};
use crate::servers;
use crate::suite::Scenario;
use crate::survivors::survivors;
use crate::{fixtures, spawn, Ctx, Mode, Outcome, EXIT_CORRAL_ERROR};
use anyhow::Result;
use corral_policy::net::{Dest, NetPolicy};
use corral_policy::Overrides;
use std::path::Path;
use std::time::Instant;

/// The runner's caps for the resource scenario (the policy's own limits
/// when smaller).
const PIDS_CAP: u64 = 64;
const MEMORY_CAP: u64 = 128 << 20;

/// Both runs of a scenario, judged.
pub(crate) fn run_scenario(ctx: &Ctx, sc: &'static Scenario) -> Outcome {
    let clock = Instant::now();
    let mut flags = Vec::new();
    let attack = run_once(ctx, sc, Mode::Attack, &mut flags);
    let twin = run_once(ctx, sc, Mode::Twin, &mut Vec::new());
    let mut judged = judge::judge(sc, &attack, &twin, ctx.detect_enabled);
    if sc.limits {
        let unenforced = attack
            .corral_lines
            .iter()
            .any(|l| l.contains("cannot enforce a memory limit"));
        for (what, had) in [
            ("process", ctx.limits.pids.is_some()),
            ("memory", ctx.limits.memory.is_some() || unenforced),
        ] {
            if !had {
                judged.notes.push(format!(
                    "the policy sets no {what} limit: corral verify supplied one for this scenario; without it a real grab would meet no {what} limit"
                ));
            }
        }
    }
    for run in [&attack, &twin] {
        for note in run_notes(run) {
            if !judged.notes.contains(&note) {
                judged.notes.push(note);
            }
        }
    }
    Outcome {
        scenario: sc,
        attack,
        twin,
        judged,
        flags,
        wall: clock.elapsed(),
    }
}

fn run_notes(run: &Run) -> Vec<String> {
    run.corral_lines
        .iter()
        .filter(|l| l.contains("cannot enforce") || l.contains("supplied"))
        .cloned()
        .collect()
}

/// One run of a scenario's program; never fails: what went wrong is in
/// the result.
fn run_once(ctx: &Ctx, sc: &'static Scenario, mode: Mode, shown: &mut Vec<String>) -> Run {
    match try_run_once(ctx, sc, mode, shown) {
        Ok(run) => run,
        Err(e) => Run {
            error: Some(format!("{e:#}")),
            ..Run::default()
        },
    }
}

fn try_run_once(
    ctx: &Ctx,
    sc: &'static Scenario,
    mode: Mode,
    shown: &mut Vec<String>,
) -> Result<Run> {
    let n = ctx.counter.get() + 1;
    ctx.counter.set(n);
    let token = format!("{}x{n}", std::process::id());
    let dir = ctx.tmp.join(format!("{}-{}", sc.id, mode.name()));
    let ws = dir.join("ws");
    let home = dir.join("home");
    fixtures::make_dir(&dir)?;
    fixtures::workspace(&ws, sc)?;
    fixtures::home(&home)?;
    let trail = ctx.trails.join(format!("{}-{}.jsonl", sc.id, mode.name()));
    // The runner's additions to the user's policy.
    let mut extra: Vec<String> = Vec::new();
    let servers = match mode {
        Mode::Attack => sc.servers,
        Mode::Twin => sc.twin_servers,
    };
    // The same flags, as the policy's overrides (what `corral run` will
    // make of them), for the check below.
    let mut net = Overrides {
        profile: ctx.profile.clone(),
        ..Overrides::default()
    };
    for s in servers {
        let port = ctx.servers.port(*s);
        let allow = format!("{}:{port}", s.host());
        let pin = format!("{}:{port}:127.0.0.1", s.host());
        extra.extend(["--allow-net".into(), allow.clone()]);
        extra.extend(["--resolve".into(), pin.clone()]);
        net.allow_net.push(allow);
        net.resolve.push(pin);
    }
    if sc.limits {
        let pids = ctx.limits.pids.map_or(PIDS_CAP, |p| p.min(PIDS_CAP));
        let memory = ctx
            .limits
            .memory
            .map_or(MEMORY_CAP, |m| m.0.min(MEMORY_CAP));
        extra.extend(["--pids".into(), pids.to_string()]);
        extra.extend(["--memory".into(), format!("{}M", memory >> 20)]);
    }
    if mode == Mode::Attack {
        *shown = extra.clone();
        if let Some(why) = unsafe_destination(sc, ctx.policy_file.as_deref(), &net)? {
            return Ok(Run {
                not_run: Some(why),
                ..Run::default()
            });
        }
    }
    let mut run = spawn::spawn_run(ctx, sc, mode, &ws, &home, &trail, &token, &extra)?;
    // No writable cgroup (an unprivileged user without delegation): the
    // memory cap cannot be had; run without it and say so.
    if run.exit_code == Some(EXIT_CORRAL_ERROR) && sc.limits && ctx.limits.memory.is_none() {
        let reason = run
            .corral_lines
            .iter()
            .chain(&run.stderr_tail)
            .map(|l| l.trim().trim_start_matches("corral: error: "))
            .collect::<Vec<_>>()
            .join(" ")
            .chars()
            .take(300)
            .collect::<String>();
        if let Some(i) = extra.iter().position(|a| a == "--memory") {
            extra.drain(i..i + 2);
        }
        let _ = std::fs::remove_file(&trail);
        fixtures::workspace(&ws, sc)?;
        run = spawn::spawn_run(ctx, sc, mode, &ws, &home, &trail, &token, &extra)?;
        run.corral_lines.insert(
            0,
            format!(
                "corral verify cannot enforce a memory limit on this machine, so none was supplied: the memory balloon and the /tmp fill ran to their caps (see `corral doctor`; {reason})"
            ),
        );
        if mode == Mode::Attack {
            *shown = extra.clone();
        }
    }
    // The runner's own view of breaches.
    let seen = ctx.servers.take();
    resolve_pending(&mut run, &seen, &token);
    // A breach only the runner's servers saw (no step claimed one).
    if mode == Mode::Attack
        && !run
            .program
            .steps
            .iter()
            .any(|st| st.result == Observed::Done)
    {
        for s in servers {
            run.runner_breaches.extend(seen.breaches(*s));
        }
    }
    Ok(run)
}

/// Is any of the scenario's off-machine destinations allowed by the
/// policy? Then it is not run: corral verify never sends a packet off
/// this machine.
fn unsafe_destination(
    sc: &Scenario,
    policy_file: Option<&Path>,
    overrides: &Overrides,
) -> Result<Option<String>> {
    if sc.proxied.is_empty() && sc.looked_up.is_empty() {
        return Ok(None);
    }
    let policy = corral_policy::effective(policy_file, overrides)?;
    let net = NetPolicy::compile(&policy.network)?;
    for (host, port) in sc.proxied {
        let ip = host.parse::<std::net::IpAddr>().ok();
        let dest = ip.map_or(Dest::Name(host), Dest::Ip);
        if net.denied(dest, *port).is_none() && !net.allowed(dest, *port).is_empty() {
            return Ok(Some(format!(
                "the policy allows {host}:{port}, which is off this machine (rule {}); corral verify does not send it a packet, and counts it as not contained",
                net.allowed(dest, *port)
                    .first()
                    .map_or("?", |r| r.text.as_str())
            )));
        }
    }
    for name in sc.looked_up {
        if net.name_visible(name) {
            return Ok(Some(format!(
                "the policy lets names like {name} reach the host's resolver (off this machine); corral verify does not send the queries, and counts it as not contained"
            )));
        }
    }
    Ok(None)
}

/// Settles the steps only the runner can judge.
fn resolve_pending(run: &mut Run, seen: &servers::ServerContacts, token: &str) {
    let daemon_name = format!("corral-verify-daemon-{token}");
    let survivors = if run
        .program
        .steps
        .iter()
        .any(|s| s.check.as_deref() == Some("daemon"))
    {
        survivors(&daemon_name)
    } else {
        Vec::new()
    };
    for step in &mut run.program.steps {
        if step.result != Observed::Pending {
            continue;
        }
        match step.check.as_deref() {
            Some("c2") => {
                if seen.shells.is_empty() {
                    step.result = Observed::Refused;
                    step.by.get_or_insert_with(|| "proxy".into());
                    step.detail = Some(
                        "the listener got no answer: the shell's bytes never reached it".into(),
                    );
                } else {
                    step.result = Observed::Done;
                    step.detail = Some(format!("the listener saw {}", servers::C2_MARKER));
                }
            }
            Some("daemon") => {
                if survivors.is_empty() {
                    step.result = Observed::Refused;
                    step.by = Some("lifecycle".into());
                    step.detail = Some(
                        "gone after the run: the sandbox's init killed it when the command ended"
                            .into(),
                    );
                } else {
                    step.result = Observed::Done;
                    step.detail = Some(format!(
                        "still running on the host after the run (pids {}); corral verify killed it",
                        survivors
                            .iter()
                            .map(u32::to_string)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
            }
            _ => {
                step.result = Observed::Done;
                step.detail = Some("the runner has no check for this step".into());
            }
        }
    }
}
