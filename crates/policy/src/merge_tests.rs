use super::*;
use crate::profiles::profile;

fn file(text: &str) -> Policy {
    Policy::from_toml_str(text, "p.toml").unwrap()
}

fn base(name: &str) -> Policy {
    profile(name).unwrap()
}

#[test]
fn deny_lists_are_appended_never_replaced() {
    let merged = file("[filesystem]\ndeny_read = [\"~/secrets\", \"~/.ssh\"]\nprotected = [\"Makefile\"]\n[process]\nenv_deny = [\"MY_DEPLOY_KEY\"]\n")
        .merged_onto(base("offline"));
    let offline = base("offline");
    // The profile's entries come first and stay; new ones follow, no repeats.
    assert_eq!(
        merged.filesystem.deny_read,
        [
            offline.filesystem.deny_read.clone(),
            vec!["~/secrets".to_owned()]
        ]
        .concat()
    );
    assert_eq!(merged.filesystem.protected.last().unwrap(), "Makefile");
    assert!(merged.filesystem.protected.len() == offline.filesystem.protected.len() + 1);
    assert_eq!(merged.process.env_deny.first().unwrap(), "SSH_AUTH_SOCK");
    assert_eq!(merged.process.env_deny.last().unwrap(), "MY_DEPLOY_KEY");
    assert_eq!(merged.extends, None);
}

#[test]
fn read_and_write_replace_the_base_when_given() {
    let merged = file("[filesystem]\nread = [\"/usr\"]\nwrite = [\"/tmp/out\"]\n")
        .merged_onto(base("offline"));
    assert_eq!(merged.filesystem.read, ["/usr"]);
    assert_eq!(merged.filesystem.write, ["/tmp/out"]);
    let untouched = file("[limits]\npids = 5\n").merged_onto(base("offline"));
    assert_eq!(untouched.filesystem.read, ["/"]);
    assert_eq!(untouched.limits.pids, Some(5));
}

#[test]
fn scalars_override_when_set_and_env_set_merges_by_name() {
    let mut with_env = base("rollout");
    with_env.process.env_set.insert("LANG".into(), "C".into());
    with_env.process.env_set.insert("TZ".into(), "UTC".into());
    let merged = file("[limits]\nmemory = \"4G\"\n[process]\nhostname = \"h\"\nenv_set = { LANG = \"C.UTF-8\" }\n[filesystem]\nworkspace = \"/w\"\n")
        .merged_onto(with_env);
    assert_eq!(merged.limits.memory, Some("4G".parse().unwrap()));
    assert_eq!(
        merged.limits.timeout,
        Some("10m".parse().unwrap()),
        "base kept"
    );
    assert_eq!(merged.process.hostname.as_deref(), Some("h"));
    assert_eq!(merged.process.env_set["LANG"], "C.UTF-8");
    assert_eq!(merged.process.env_set["TZ"], "UTC");
    assert_eq!(merged.filesystem.workspace.as_deref(), Some("/w"));
}

#[test]
fn dangerous_switches_stay_on_once_on() {
    let mut on = base("offline");
    on.sandbox.dangerously_allow_nested_namespaces = true;
    let merged = file("[sandbox]\ndangerously_allow_degraded = true\n").merged_onto(on);
    assert!(merged.sandbox.dangerously_allow_degraded);
    assert!(merged.sandbox.dangerously_allow_nested_namespaces);
}

#[test]
fn overrides_append_paths_and_replace_limits() {
    let overrides = Overrides {
        workspace: Some("/proj".into()),
        read: vec!["/opt/sdk".into(), "/opt/sdk".into()],
        write: vec!["/tmp/cache".into()],
        deny_read: vec!["/opt/sdk/keys".into(), "~/.ssh".into()],
        memory: Some("512M".parse().unwrap()),
        cpus: Some(2.0),
        timeout: Some("90s".parse().unwrap()),
        allow_degraded: true,
        ..Overrides::default()
    };
    let p = base("rollout").apply(&overrides);
    assert_eq!(p.filesystem.workspace.as_deref(), Some("/proj"));
    assert_eq!(p.filesystem.read.last().unwrap(), "/opt/sdk");
    assert_eq!(
        p.filesystem
            .read
            .iter()
            .filter(|r| *r == "/opt/sdk")
            .count(),
        1
    );
    assert_eq!(p.filesystem.write, ["/tmp/cache"]);
    assert_eq!(p.filesystem.deny_read.last().unwrap(), "/opt/sdk/keys");
    assert_eq!(
        p.filesystem
            .deny_read
            .iter()
            .filter(|r| *r == "~/.ssh")
            .count(),
        1
    );
    assert_eq!(p.limits.memory, Some("512M".parse().unwrap()));
    assert_eq!(p.limits.cpus, Some(2.0));
    assert_eq!(p.limits.timeout, Some("90s".parse().unwrap()));
    assert_eq!(
        p.limits.pids,
        Some(256),
        "unset flags keep the policy's limits"
    );
    assert!(p.sandbox.dangerously_allow_degraded);
}

#[test]
fn overrides_are_validated_naming_the_flag() {
    let bad = |o: Overrides| o.validate().unwrap_err().to_string();
    assert_eq!(
        bad(Overrides {
            profile: Some("strict".into()),
            ..Default::default()
        }),
        "command line: --profile: unknown profile \"strict\"; expected a built-in profile: \
         \"offline\", \"coding-agent\", \"rollout\" or \"none\""
    );
    assert_eq!(
        bad(Overrides {
            read: vec!["".into()],
            ..Default::default()
        }),
        "command line: --read: the path is empty; expected a non-empty path"
    );
    assert!(bad(Overrides {
        open_files: Some(0),
        ..Default::default()
    })
    .starts_with("command line: --open-files: 0 open files is too few; expected a whole number"));
    assert!(bad(Overrides {
        cpus: Some(0.0),
        ..Default::default()
    })
    .starts_with("command line: --cpus: 0 CPUs is out of range;"));
    assert_eq!(Overrides::default().validate().ok(), Some(()));
}

#[test]
fn network_lists_are_appended_and_rules_merge_by_key() {
    let mut agent = base("coding-agent");
    agent.network.resolve = vec!["git.test:*:127.0.0.1".into()];
    agent.network.rules.insert(
        "github.com:22".into(),
        crate::model::NetRule {
            protocols: Some(vec![crate::Protocol::Ssh]),
        },
    );
    agent
        .network
        .rules
        .insert("keep.test".into(), Default::default());
    let merged = file(
        "[network]\nallow = [\"pypi.org:443\", \"git.test:8080\"]\n\
         deny = [{ host = \"10.0.0.0/8\" }, { host = \"gist.github.com\", reason = \"code must not leave through gists\" }]\n\
         resolve = [\"git.test:8080:127.0.0.2\"]\n\
         [network.rules.\"github.com:22\"]\nprotocols = [\"ssh\", \"tls\"]\n",
    )
    .merged_onto(agent);
    let profile = base("coding-agent").network;
    // Appended after the profile's, repeats dropped.
    assert_eq!(
        merged.network.allow,
        [profile.allow.clone(), vec!["git.test:8080".to_owned()]].concat()
    );
    assert_eq!(merged.network.deny.len(), profile.deny.len() + 1);
    assert_eq!(merged.network.deny.last().unwrap().host, "10.0.0.0/8");
    assert_eq!(
        merged.network.resolve,
        ["git.test:*:127.0.0.1", "git.test:8080:127.0.0.2"]
    );
    // Rules merge by key, the file winning.
    assert_eq!(
        merged.network.rules["github.com:22"].protocols,
        Some(vec![crate::Protocol::Ssh, crate::Protocol::Tls])
    );
    assert!(merged.network.rules.contains_key("keep.test"));
}

#[test]
fn network_flags_are_appended_and_validated_naming_the_flag() {
    let overrides = Overrides {
        allow_net: vec!["git.test:8080".into(), "pypi.org:443".into()],
        deny_net: vec!["10.0.0.0/8".into(), "10.0.0.0/8".into()],
        resolve: vec!["git.test:8080:127.0.0.1".into()],
        ..Overrides::default()
    };
    assert_eq!(overrides.validate().ok(), Some(()));
    let p = base("coding-agent").apply(&overrides);
    assert_eq!(p.network.allow.last().unwrap(), "git.test:8080");
    assert_eq!(
        p.network
            .allow
            .iter()
            .filter(|a| *a == "pypi.org:443")
            .count(),
        1
    );
    assert_eq!(
        p.network.deny.last().unwrap(),
        &crate::model::NetDeny {
            host: "10.0.0.0/8".into(),
            reason: None
        }
    );
    assert_eq!(p.network.deny.len(), 3);
    assert_eq!(p.network.resolve, ["git.test:8080:127.0.0.1"]);
    let bad = |o: Overrides| o.validate().unwrap_err().to_string();
    assert_eq!(
        bad(Overrides {
            allow_net: vec!["pypi.org:0".into()],
            ..Default::default()
        }),
        "command line: --allow-net: \"pypi.org:0\": port 0 is out of range; expected a port \
         from 1 to 65535, a range such as 8000-8100, or * for every port"
    );
    assert!(bad(Overrides {
        deny_net: vec!["*evil.test".into()],
        ..Default::default()
    })
    .starts_with(
        "command line: --deny-net: \"*evil.test\": '*' may only be the whole first label;"
    ));
    assert_eq!(
        bad(Overrides {
            resolve: vec!["git.test:127.0.0.1".into()],
            ..Default::default()
        }),
        "command line: --resolve: \"git.test:127.0.0.1\" is not HOST:PORT:ADDR[,ADDR...]; \
         expected HOST:PORT:ADDR[,ADDR...] as for curl --resolve, e.g. \
         \"git.test:8080:127.0.0.1\" or \"mirror.local:*:10.0.0.5,10.0.0.6\" (PORT may be *)"
    );
}

fn temp_policy(name: &str, text: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("corral-policy-merge-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn effective_picks_the_base_and_applies_flags() {
    // No file, no flag: offline.
    assert_eq!(
        effective(None, &Overrides::default()).unwrap(),
        base("offline")
    );
    // No file, --profile.
    let rollout = Overrides {
        profile: Some("rollout".into()),
        ..Default::default()
    };
    assert_eq!(effective(None, &rollout).unwrap(), base("rollout"));
    // A file without extends starts from offline.
    let path = temp_policy("plain.toml", "[limits]\nmemory = \"1G\"\n");
    let p = effective(Some(&path), &Overrides::default()).unwrap();
    assert_eq!(p.filesystem.read, ["/"]);
    assert_eq!(p.limits.memory, Some("1G".parse().unwrap()));
    // extends = "none" starts from nothing: no protections at all.
    let path = temp_policy(
        "none.toml",
        "extends = \"none\"\n[filesystem]\nread = [\"/usr\"]\n",
    );
    let p = effective(Some(&path), &Overrides::default()).unwrap();
    assert!(p.filesystem.deny_read.is_empty());
    // --profile wins over the file's extends; flags win over both.
    let flags = Overrides {
        profile: Some("rollout".into()),
        pids: Some(64),
        ..Default::default()
    };
    let p = effective(Some(&path), &flags).unwrap();
    assert_eq!(p.filesystem.read, ["/usr"]);
    assert_eq!(p.filesystem.deny_read, base("rollout").filesystem.deny_read);
    assert_eq!((p.limits.pids, p.limits.cpus), (Some(64), Some(1.0)));
    // Errors in the file or the flags surface.
    let path = temp_policy("bad.toml", "[limits]\nmemroy = 1\n");
    let e = effective(Some(&path), &Overrides::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains(":2:1: limits.memroy: unknown key"), "{e}");
    let e = effective(
        None,
        &Overrides {
            pids: Some(0),
            ..Default::default()
        },
    )
    .unwrap_err();
    assert_eq!(e.key(), Some("--pids"));
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}
