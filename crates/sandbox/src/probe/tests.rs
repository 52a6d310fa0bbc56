use super::*;

fn knobs(euid: u32) -> UsernsKnobs {
    UsernsKnobs {
        euid,
        ..UsernsKnobs::default()
    }
}

fn no(s: Support) -> (String, String) {
    match s {
        Support::No { reason, fix } => (reason, fix),
        Support::Yes(d) => panic!("expected No, got Yes({d})"),
    }
}

const EPERM_AT_UNSHARE: TrialFailure = TrialFailure {
    step: "unshare(CLONE_NEWUSER)",
    errno: Errno::EPERM,
};

#[test]
fn userns_ubuntu_apparmor_restriction_is_named() {
    let k = UsernsKnobs {
        apparmor_restrict_unprivileged_userns: Some(1),
        ..knobs(1000)
    };
    // AppArmor lets unshare succeed and withholds capabilities: the mount
    // namespace step fails.
    let failure = TrialFailure {
        step: "unshare(CLONE_NEWNS)",
        errno: Errno::EPERM,
    };
    let (reason, fix) = no(explain_userns(&k, Some(Err(failure))));
    assert!(
        reason.starts_with("unshare(CLONE_NEWNS) failed: EPERM"),
        "{reason}"
    );
    assert!(
        reason.contains("apparmor_restrict_unprivileged_userns=1"),
        "{reason}"
    );
    assert_eq!(fix, "sudo sysctl kernel.apparmor_restrict_unprivileged_userns=0 or install an AppArmor profile for corral that allows `userns,`");
    // Untried, it may still work (an AppArmor profile for corral): a
    // warning, not a refusal.
    match explain_userns(&k, None) {
        Support::Yes(d) => assert!(d.contains("may fail") && d.contains("AppArmor"), "{d}"),
        other => panic!("expected a warning, got {other:?}"),
    }
}

#[test]
fn userns_debian_knob_is_named() {
    let k = UsernsKnobs {
        unprivileged_userns_clone: Some(0),
        ..knobs(1000)
    };
    let (reason, fix) = no(explain_userns(&k, Some(Err(EPERM_AT_UNSHARE))));
    assert!(
        reason.contains("kernel.unprivileged_userns_clone is 0"),
        "{reason}"
    );
    let untried = no(explain_userns(&k, None)).0;
    assert_eq!(
        untried,
        "kernel.unprivileged_userns_clone is 0: unprivileged user namespaces are disabled"
    );
    assert!(
        fix.starts_with("sudo sysctl kernel.unprivileged_userns_clone=1"),
        "{fix}"
    );
}

#[test]
fn userns_max_zero_applies_even_to_root() {
    let k = UsernsKnobs {
        max_user_namespaces: Some(0),
        unprivileged_userns_clone: Some(0),
        ..knobs(0)
    };
    let failure = TrialFailure {
        errno: Errno::ENOSPC,
        ..EPERM_AT_UNSHARE
    };
    let (reason, fix) = no(explain_userns(&k, Some(Err(failure))));
    assert!(reason.contains("user.max_user_namespaces is 0"), "{reason}");
    assert!(fix.contains("user.max_user_namespaces="), "{fix}");
}

#[test]
fn userns_root_ignores_the_unprivileged_knobs() {
    let k = UsernsKnobs {
        unprivileged_userns_clone: Some(0),
        apparmor_restrict_unprivileged_userns: Some(1),
        max_user_namespaces: Some(100),
        ..knobs(0)
    };
    assert!(explain_userns(&k, None).is_yes());
    assert!(explain_userns(&k, Some(Ok(()))).is_yes());
}

#[test]
fn userns_failure_without_a_knob_blames_seccomp_or_lsm() {
    let (reason, fix) = no(explain_userns(&knobs(1000), Some(Err(EPERM_AT_UNSHARE))));
    assert!(reason.contains("seccomp filter"), "{reason}");
    assert!(fix.contains("outside the container"), "{fix}");
    let failure = TrialFailure {
        errno: Errno::EINVAL,
        ..EPERM_AT_UNSHARE
    };
    assert!(no(explain_userns(&knobs(1000), Some(Err(failure))))
        .1
        .contains("CONFIG_USER_NS"));
}

#[test]
fn trial_outcome_reports_the_first_failed_step() {
    let mut r = [0; 11];
    assert_eq!(userns::userns_outcome(&r), Ok(()));
    r[2] = libc::EPERM;
    r[3] = userns::NOT_TRIED;
    r[4] = userns::NOT_TRIED;
    let f = userns::userns_outcome(&r).expect_err("uid_map failed");
    assert_eq!(
        (f.step, f.errno),
        ("writing /proc/self/uid_map", Errno::EPERM)
    );
}

#[test]
fn mount_api_explanations() {
    assert!(explain_mount_api(Errno::EINVAL, None).is_yes());
    assert!(explain_mount_api(Errno::EINVAL, Some(0)).is_yes());
    let (reason, fix) = no(explain_mount_api(Errno::ENOSYS, None));
    assert!(
        reason.contains("Linux < 5.12") && fix.contains("5.12"),
        "{reason} / {fix}"
    );
    assert!(no(explain_mount_api(Errno::EPERM, None))
        .0
        .contains("seccomp"));
    assert!(no(explain_mount_api(Errno::EINVAL, Some(libc::EPERM)))
        .0
        .contains("open_tree"));
}

#[test]
fn landlock_and_seccomp_explanations() {
    assert_eq!(explain_landlock(Some(6)), Support::Yes("ABI 6".into()));
    assert!(no(explain_landlock(None)).1.contains("lsm=landlock"));
    let status = "Name:\tx\nSeccomp:\t0\nSeccomp_filters:\t0\n";
    assert!(explain_seccomp(status, Ok(0), true, true).is_yes());
    assert!(no(explain_seccomp("Name:\tx\n", Ok(0), true, true))
        .0
        .contains("CONFIG_SECCOMP"));
    assert!(no(explain_seccomp(status, Err(Errno::EINVAL), true, true))
        .0
        .contains("PR_GET_SECCOMP"));
    assert!(no(explain_seccomp(status, Ok(0), false, false))
        .0
        .contains("CONFIG_SECCOMP_FILTER"));
}

/// The real machine: asserts what can be known independently of the probe.
#[test]
fn real_probe_matches_this_machine() {
    let quick = Probe::quick();
    assert!(!quick.tried);
    assert!(!quick.kernel.is_empty());
    assert!(quick.no_new_privs.is_yes(), "{:?}", quick.no_new_privs);
    // The probe must agree with the Landlock syscall itself.
    assert_eq!(quick.landlock_abi, crate::landlock::abi_version());
    assert_eq!(quick.landlock.is_yes(), quick.landlock_abi.is_some());
    if quick.landlock_abi.is_none() {
        crate::test_support::skip(
            "real_probe_matches_this_machine (landlock part)",
            format_args!("Landlock unavailable here ({:?})", quick.landlock),
        );
    }
    let status = std::fs::read_to_string("/proc/self/status").expect("status");
    assert_eq!(
        quick.seccomp_filter.is_yes(),
        status.contains("Seccomp:"),
        "{:?}",
        quick.seccomp_filter
    );
    // Every namespace we run in is visible under /proc/self/ns.
    for (name, s) in [
        ("pid", &quick.pid_namespace),
        ("net", &quick.net_namespace),
        ("cgroup", &quick.cgroup_namespace),
    ] {
        assert_eq!(
            s.is_yes(),
            Path::new("/proc/self/ns").join(name).exists(),
            "{name}: {s:?}"
        );
    }

    let full = Probe::full();
    assert!(full.tried, "the forked trial must run");
    // Independent evidence: can a plain child create a user namespace?
    let code = crate::rlimit::tests::in_child(|| {
        // SAFETY: the forked test child changes only its own namespace.
        i32::from(unsafe { libc::unshare(libc::CLONE_NEWUSER) } != 0)
    });
    if code == 0 {
        assert!(full.user_namespaces.is_yes(), "{:?}", full.user_namespaces);
        assert!(full.mount_api.is_yes(), "{:?}", full.mount_api);
        assert!(
            full.pid_namespace.is_yes() && full.net_namespace.is_yes(),
            "{full:?}"
        );
    } else {
        crate::test_support::skip(
            "real_probe_matches_this_machine (user namespace part)",
            "unshare(CLONE_NEWUSER) fails here",
        );
        assert!(!full.user_namespaces.is_yes(), "{:?}", full.user_namespaces);
    }
    assert_eq!(full.items().len(), 11);
}
