//! Policy -> plan on the real machine: the workspace, the command, the
//! environment, the writable places, the network.

mod common;

use common::scratch;
use corral_policy::Overrides;
use corral_runtime::resolve::{expand_tilde, proxy_environment, resolve};
use corral_sandbox::writable::{host_writable, WritableMap};
use std::ffi::OsString;
use std::path::Path;

fn policy(overrides: Overrides) -> corral_policy::Policy {
    corral_policy::effective(None, &overrides).expect("a policy")
}

fn env_of(plan: &corral_sandbox::plan::SandboxPlan, name: &str) -> Option<String> {
    plan.env.iter().find_map(|kv| {
        let kv = kv.to_string_lossy();
        kv.strip_prefix(&format!("{name}=")).map(str::to_owned)
    })
}

#[test]
fn the_workspace_is_the_writable_root_and_the_start() {
    let dir = scratch("resolve-ws");
    let ws = std::fs::canonicalize(&dir).expect("canonical");
    let p = policy(Overrides {
        workspace: Some(ws.to_string_lossy().into_owned()),
        ..Overrides::default()
    });
    let r = resolve(&p, &[OsString::from("make"), OsString::from("-j2")]).expect("resolve");
    assert_eq!(r.workspace, ws);
    assert_eq!(
        r.plan.cwd, ws,
        "corral's cwd is outside the workspace: the command starts in it"
    );
    let argv: Vec<String> = r
        .plan
        .argv
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    assert_eq!(argv, ["make", "-j2"]);
    assert!(
        host_writable(&r.plan).contains(&ws),
        "{:?}",
        host_writable(&r.plan)
    );
    let map = WritableMap::new(&r.plan);
    assert!(map.writable(&ws.join("src/main.rs").to_string_lossy()));
    assert!(!map.writable("/etc/passwd"));
    assert_eq!(
        map.roots().first(),
        Some(&ws),
        "the workspace is named first"
    );
    assert!(
        r.net.is_none() && r.plan.network.is_none(),
        "no network unless allowed"
    );
    assert_eq!(env_of(&r.plan, "CORRAL_SANDBOX").as_deref(), Some("1"));
    assert!(env_of(&r.plan, "PATH").is_some());
    assert_eq!(
        env_of(&r.plan, "HTTPS_PROXY"),
        None,
        "no proxy without a network"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_allowed_host_gives_a_network_and_the_proxy_variables() {
    let dir = scratch("resolve-net");
    let p = policy(Overrides {
        workspace: Some(dir.to_string_lossy().into_owned()),
        allow_net: vec!["pypi.test:443".into()],
        ..Overrides::default()
    });
    let r = resolve(&p, &[OsString::from("true")]).expect("resolve");
    assert!(r.net.is_some() && r.plan.network.is_some());
    for (name, value) in proxy_environment() {
        assert_eq!(env_of(&r.plan, &name), Some(value), "{name}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_whole_machine_is_never_a_workspace() {
    let p = policy(Overrides {
        workspace: Some("/".into()),
        ..Overrides::default()
    });
    let err = match resolve(&p, &[OsString::from("true")]) {
        Ok(_) => panic!("/ as the workspace is refused"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("cannot be /"), "{err}");
}

#[test]
fn a_missing_workspace_says_what_to_do() {
    let dir = scratch("resolve-missing");
    let missing = dir.join("nope");
    let p = policy(Overrides {
        workspace: Some(missing.to_string_lossy().into_owned()),
        ..Overrides::default()
    });
    let err = match resolve(&p, &[OsString::from("true")]) {
        Ok(_) => panic!("a missing workspace is refused"),
        Err(e) => e.to_string(),
    };
    assert!(
        err.contains("nope") && err.contains("--workspace DIR"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn tilde_is_the_home_and_only_at_the_start() {
    let home = Path::new("/home/a");
    assert_eq!(expand_tilde("~", Some(home)).expect("~"), "/home/a");
    assert_eq!(
        expand_tilde("~/.ssh", Some(home)).expect("~/"),
        "/home/a/.ssh"
    );
    assert_eq!(expand_tilde("/x/~/y", Some(home)).expect("abs"), "/x/~/y");
    assert_eq!(expand_tilde("~bob", Some(home)).expect("~user"), "~bob");
    let err = expand_tilde("~/x", None).expect_err("no HOME");
    assert!(err.to_string().contains("HOME"), "{err}");
}

#[test]
fn a_nul_in_the_command_is_refused() {
    let dir = scratch("resolve-nul");
    let p = policy(Overrides {
        workspace: Some(dir.to_string_lossy().into_owned()),
        ..Overrides::default()
    });
    use std::os::unix::ffi::OsStringExt;
    let bad = OsString::from_vec(b"a\0b".to_vec());
    let err = match resolve(&p, &[bad]) {
        Ok(_) => panic!("a NUL byte cannot reach exec"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("NUL"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
