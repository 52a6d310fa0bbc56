use super::*;
use crate::cgroup::create::{cpu_quota_us, summary, v1_files, v2_files};
use crate::cgroup::Controller::{Cpu, Memory, Pids};
use crate::plan::LimitsPlan;

/// A fake filesystem root in a temp dir.
struct Tree(PathBuf);

impl Tree {
    fn new(name: &str) -> Tree {
        let dir = std::env::temp_dir().join(format!("corral-cgtest-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("temp dir");
        Tree(dir)
    }

    /// Writes `contents` at `rel` (an absolute path inside the fake root).
    fn file(&self, rel: &str, contents: &str) -> &Tree {
        let path = self.path(rel);
        fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        fs::write(path, contents).expect("write");
        self
    }

    fn dir(&self, rel: &str) -> &Tree {
        fs::create_dir_all(self.path(rel)).expect("mkdir");
        self
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.0.join(rel.trim_start_matches('/'))
    }

    /// A non-root v2 cgroup directory.
    fn v2_cgroup(&self, rel: &str, controllers: &str, subtree: &str, procs: &str) -> &Tree {
        self.file(&format!("{rel}/cgroup.type"), "domain\n")
            .file(&format!("{rel}/cgroup.controllers"), controllers)
            .file(&format!("{rel}/cgroup.subtree_control"), subtree)
            .file(&format!("{rel}/cgroup.procs"), procs)
    }

    fn probe(
        &self,
        mountinfo: &str,
        self_cgroup: &str,
        euid: u32,
        writable: &dyn Fn(&Path) -> bool,
    ) -> CgroupSupport {
        probe_with(&Facts {
            mountinfo,
            self_cgroup,
            fs_root: &self.0,
            euid,
            writable,
        })
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

const V2_MOUNT: &str = "35 24 0:30 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n";
const HYBRID: &str = "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";
const HYBRID_SELF: &str = "8:pids:/\n6:freezer:/\n4:memory:/process_api/af66\n1:cpu:/\n0::/\n";

fn yes(_: &Path) -> bool {
    true
}

#[test]
fn v2_root_cgroup_is_the_base() {
    let t = Tree::new("v2root");
    t.file(
        "/sys/fs/cgroup/cgroup.controllers",
        "cpuset cpu io memory hugetlb pids\n",
    )
    .file("/sys/fs/cgroup/cgroup.subtree_control", "")
    .file("/sys/fs/cgroup/cgroup.procs", "1\n42\n");
    let got = t.probe(V2_MOUNT, "0::/\n", 0, &yes);
    assert_eq!(
        got,
        CgroupSupport::V2 {
            dir: t.path("/sys/fs/cgroup"),
            controllers: vec![Memory, Pids, Cpu]
        }
    );
}

#[test]
fn v2_root_user_in_a_session_uses_the_parent_slice() {
    let t = Tree::new("v2session");
    t.v2_cgroup(
        "/sys/fs/cgroup/user.slice/user-0.slice",
        "cpu memory pids",
        "memory pids",
        "",
    )
    .v2_cgroup(
        "/sys/fs/cgroup/user.slice/user-0.slice/session-3.scope",
        "memory pids",
        "",
        "4242\n",
    );
    let got = t.probe(
        V2_MOUNT,
        "0::/user.slice/user-0.slice/session-3.scope\n",
        0,
        &yes,
    );
    let dir = t.path("/sys/fs/cgroup/user.slice/user-0.slice");
    assert_eq!(
        got,
        CgroupSupport::V2 {
            dir,
            controllers: vec![Memory, Pids, Cpu]
        }
    );
}

#[test]
fn v2_delegated_user_scope_uses_its_writable_parent() {
    let t = Tree::new("v2deleg");
    let service = "/sys/fs/cgroup/user.slice/user-1000.slice/user@1000.service";
    t.v2_cgroup(
        &format!("{service}/app.slice"),
        "cpu memory pids",
        "cpu memory pids",
        "",
    )
    .v2_cgroup(
        &format!("{service}/app.slice/run-r1.scope"),
        "cpu memory pids",
        "",
        "777\n",
    );
    let delegated = t.path(service);
    let writable = move |p: &Path| p.starts_with(&delegated);
    let self_cgroup = "0::/user.slice/user-1000.slice/user@1000.service/app.slice/run-r1.scope\n";
    let got = t.probe(V2_MOUNT, self_cgroup, 1000, &writable);
    let dir = t.path(&format!("{service}/app.slice"));
    assert_eq!(
        got,
        CgroupSupport::V2 {
            dir,
            controllers: vec![Memory, Pids, Cpu]
        }
    );
}

#[test]
fn v2_unprivileged_login_session_is_unavailable_with_a_fix() {
    let t = Tree::new("v2user");
    t.v2_cgroup(
        "/sys/fs/cgroup/user.slice/user-1000.slice",
        "cpu memory pids",
        "memory pids",
        "",
    )
    .v2_cgroup(
        "/sys/fs/cgroup/user.slice/user-1000.slice/session-2.scope",
        "memory pids",
        "",
        "99\n",
    );
    let got = t.probe(
        V2_MOUNT,
        "0::/user.slice/user-1000.slice/session-2.scope\n",
        1000,
        &|_| false,
    );
    let CgroupSupport::Unavailable { reason, fix } = got else {
        panic!("expected unavailable, got {got:?}")
    };
    let slice = t.path("/sys/fs/cgroup/user.slice/user-1000.slice");
    assert!(
        reason.contains(&format!("{} is not writable by uid 1000", slice.display())),
        "{reason}"
    );
    assert!(
        fix.contains("systemd-run --user --scope -p Delegate=yes"),
        "{fix}"
    );
    assert!(fix.contains("--allow-degraded"), "{fix}");
}

#[test]
fn v2_parent_with_processes_cannot_enable_controllers() {
    let t = Tree::new("v2busy");
    // Parent holds a process and has nothing enabled: the kernel would
    // refuse "+memory" (no-internal-process rule).
    t.v2_cgroup("/sys/fs/cgroup/a", "cpu memory pids", "", "12\n")
        .v2_cgroup("/sys/fs/cgroup/a/b", "", "", "13\n");
    let got = t.probe(V2_MOUNT, "0::/a/b\n", 0, &yes);
    let CgroupSupport::Unavailable { reason, .. } = got else {
        panic!("expected unavailable, got {got:?}")
    };
    assert!(
        reason.contains("no memory, pids or cpu controller usable"),
        "{reason}"
    );
}

#[test]
fn v2_only_already_enabled_controllers_count_when_parent_is_busy() {
    let t = Tree::new("v2partial");
    t.v2_cgroup("/sys/fs/cgroup/a", "cpu memory pids", "pids", "12\n")
        .v2_cgroup("/sys/fs/cgroup/a/b", "pids", "", "13\n");
    let got = t.probe(V2_MOUNT, "0::/a/b\n", 0, &yes);
    assert_eq!(
        got,
        CgroupSupport::V2 {
            dir: t.path("/sys/fs/cgroup/a"),
            controllers: vec![Pids]
        }
    );
}

#[test]
fn v2_cgroup_namespace_top_is_unavailable() {
    let t = Tree::new("v2ns");
    t.v2_cgroup("/sys/fs/cgroup", "cpu memory pids", "", "1\n");
    let got = t.probe(V2_MOUNT, "0::/\n", 0, &yes);
    let CgroupSupport::Unavailable { reason, fix } = got else {
        panic!("expected unavailable, got {got:?}")
    };
    assert!(reason.contains("cgroup namespace"), "{reason}");
    assert!(fix.contains("--allow-degraded"), "{fix}");
}

fn hybrid_tree(name: &str) -> Tree {
    let t = Tree::new(name);
    t.dir("/sys/fs/cgroup/cpu")
        .dir("/sys/fs/cgroup/memory/process_api/af66")
        .dir("/sys/fs/cgroup/freezer")
        .dir("/sys/fs/cgroup/pids")
        .file("/sys/fs/cgroup/unified/cgroup.controllers", "")
        .file("/sys/fs/cgroup/unified/cgroup.subtree_control", "")
        .file("/sys/fs/cgroup/unified/cgroup.procs", "1\n");
    t
}

#[test]
fn hybrid_root_uses_v1_inside_our_own_cgroups() {
    let t = hybrid_tree("hybrid");
    let got = t.probe(HYBRID, HYBRID_SELF, 0, &yes);
    let expected = CgroupSupport::V1 {
        memory: Some(t.path("/sys/fs/cgroup/memory/process_api/af66")),
        pids: Some(t.path("/sys/fs/cgroup/pids")),
        cpu: Some(t.path("/sys/fs/cgroup/cpu")),
        freezer: Some(t.path("/sys/fs/cgroup/freezer")),
    };
    assert_eq!(got, expected);
    assert_eq!(got.controllers(), vec![Memory, Pids, Cpu]);
}

#[test]
fn hybrid_unprivileged_is_unavailable_naming_each_controller() {
    let t = hybrid_tree("hybriduser");
    let got = t.probe(HYBRID, HYBRID_SELF, 1000, &|_| false);
    let CgroupSupport::Unavailable { reason, fix } = got else {
        panic!("expected unavailable, got {got:?}")
    };
    let memory = t.path("/sys/fs/cgroup/memory/process_api/af66");
    assert!(
        reason.starts_with("cgroup v2: no memory, pids or cpu controller usable"),
        "{reason}"
    );
    assert!(
        reason.contains(&format!(
            "memory: {} is not writable by uid 1000",
            memory.display()
        )),
        "{reason}"
    );
    assert!(fix.contains("run as root"), "{fix}");
}

#[test]
fn v1_comounted_controllers_and_escaped_mount_points() {
    let t = Tree::new("v1co");
    t.dir("/sys/fs/cgroup/cpu,cpuacct/user")
        .dir("/sys/fs/cgroup/my pids/user");
    let mountinfo = "32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct
39 31 0:36 / /sys/fs/cgroup/my\\040pids rw - cgroup cgroup rw,pids
";
    let got = t.probe(mountinfo, "3:cpu,cpuacct:/user\n2:pids:/user\n", 0, &yes);
    let expected = CgroupSupport::V1 {
        memory: None,
        pids: Some(t.path("/sys/fs/cgroup/my pids/user")),
        cpu: Some(t.path("/sys/fs/cgroup/cpu,cpuacct/user")),
        freezer: None,
    };
    assert_eq!(got, expected);
}

#[test]
fn bind_mounted_subtree_strips_the_mount_root() {
    let t = Tree::new("v2bind");
    t.v2_cgroup("/cg/parent", "memory pids", "memory pids", "")
        .v2_cgroup("/cg/parent/me", "", "", "5\n");
    let mountinfo = "50 1 0:30 /outer /cg rw - cgroup2 cgroup2 rw\n";
    let got = t.probe(mountinfo, "0::/outer/parent/me\n", 0, &yes);
    assert_eq!(
        got,
        CgroupSupport::V2 {
            dir: t.path("/cg/parent"),
            controllers: vec![Memory, Pids]
        }
    );
}

#[test]
fn limit_files_have_the_kernel_formats() {
    let limits = LimitsPlan {
        memory_bytes: Some(64 << 20),
        pids: Some(16),
        cpus: Some(0.5),
        ..LimitsPlan::default()
    };
    let quota = limits.cpus.map(cpu_quota_us).transpose().expect("quota");
    let own = |v: &[(&'static str, &str, bool)]| {
        v.iter()
            .map(|(n, s, o)| (*n, s.to_string(), *o))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        v2_files(&limits, quota),
        own(&[
            ("memory.max", "67108864", false),
            ("memory.swap.max", "0", true),
            ("pids.max", "16", false),
            ("cpu.max", "50000 100000", false)
        ])
    );
    assert_eq!(
        v1_files(Memory, &limits, quota),
        own(&[
            ("memory.limit_in_bytes", "67108864", false),
            ("memory.memsw.limit_in_bytes", "67108864", true)
        ])
    );
    assert_eq!(
        v1_files(Pids, &limits, quota),
        own(&[("pids.max", "16", false)])
    );
    assert_eq!(
        v1_files(Cpu, &limits, quota),
        own(&[
            ("cpu.cfs_period_us", "100000", false),
            ("cpu.cfs_quota_us", "50000", false)
        ])
    );
    assert_eq!(summary(&limits), "memory=64M pids=16 cpus=0.5");
}

#[test]
fn cpu_quota_rounds_and_rejects_nonsense() {
    assert_eq!(cpu_quota_us(2.0).ok(), Some(200_000));
    assert_eq!(
        cpu_quota_us(0.001).ok(),
        Some(1_000),
        "kernel minimum quota is 1ms"
    );
    assert!(cpu_quota_us(0.0).is_err());
    assert!(cpu_quota_us(f64::NAN).is_err());
}

#[test]
fn create_fails_closed_on_a_missing_controller() {
    let support = CgroupSupport::V2 {
        dir: PathBuf::from("/nonexistent"),
        controllers: vec![Pids],
    };
    let limits = LimitsPlan {
        memory_bytes: Some(1 << 30),
        ..LimitsPlan::default()
    };
    let err = super::super::create(&support, "r1", &limits).expect_err("memory is missing");
    let msg = err.to_string();
    assert!(
        msg.contains("memory controller is not available") && msg.contains("--allow-degraded"),
        "{msg}"
    );
    let err =
        super::super::create(&support, "../x", &LimitsPlan::default()).expect_err("bad run id");
    assert!(
        matches!(err, super::super::CgroupError::InvalidRunId(_)),
        "{err}"
    );
}
