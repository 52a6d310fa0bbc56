//! Unit tests of the filesystem planner, on real temporary directories.
use super::*;
use std::os::unix::fs::PermissionsExt;

/// A fresh directory under the system temp dir, removed on drop.
struct Scratch(PathBuf);
impl Scratch {
    fn new(tag: &str) -> Scratch {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let p =
            std::env::temp_dir().join(format!("corral-fsplan-{tag}-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&p).unwrap();
        Scratch(std::fs::canonicalize(&p).unwrap())
    }
}
impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn request(ws: &Path) -> FsRequest {
    FsRequest {
        workspace: ws.to_path_buf(),
        read: vec!["/".into()],
        write: Vec::new(),
        deny_read: vec!["**/.env".into()],
        protected: vec!["**/.git".into(), "**/.git/hooks".into(), ".envrc".into()],
        home: None,
        switched_ids: None,
    }
}

#[test]
fn masks_protections_and_pins_come_from_the_workspace() {
    let s = Scratch::new("ops");
    let ws = &s.0;
    std::fs::create_dir_all(ws.join(".git/hooks")).unwrap();
    std::fs::create_dir_all(ws.join("wt")).unwrap();
    std::fs::write(ws.join("wt/.git"), "gitdir: ../.git\n").unwrap();
    std::fs::write(ws.join("sub.env"), "not matched\n").unwrap();
    std::fs::create_dir_all(ws.join("a")).unwrap();
    std::fs::write(ws.join("a/.env"), "SECRET\n").unwrap();
    let r = resolve(&request(ws)).unwrap();
    let ops = &r.fs.mounts;
    let has = |want: &MountOp| ops.contains(want);
    assert!(
        has(&MountOp::Mask {
            path: ws.join("a/.env"),
            is_dir: false
        }),
        "{ops:#?}"
    );
    assert!(!ops
        .iter()
        .any(|op| matches!(op, MountOp::Mask { path, .. } if path.ends_with("sub.env"))));
    assert!(has(&MountOp::Protect {
        path: ws.join(".git/hooks")
    }));
    // A `.git` file is read-only; a `.git` directory is only pinned.
    assert!(has(&MountOp::Protect {
        path: ws.join("wt/.git")
    }));
    assert!(!has(&MountOp::Protect {
        path: ws.join(".git")
    }));
    assert!(has(&MountOp::Pin {
        path: ws.join(".git")
    }));
    // Everything a protection sits on is mounted before it.
    let pos = |want: &MountOp| ops.iter().position(|op| op == want).unwrap();
    let workspace = pos(&MountOp::Bind {
        src: ws.clone(),
        dst: ws.clone(),
        writable: true,
    });
    assert!(
        workspace
            < pos(&MountOp::Mask {
                path: ws.join("a/.env"),
                is_dir: false
            })
    );
    assert!(
        pos(&MountOp::Pin {
            path: ws.join(".git")
        }) < pos(&MountOp::Protect {
            path: ws.join(".git/hooks")
        })
    );
    assert_eq!(r.protected.len(), 3, "{:?}", r.protected);
}

#[test]
fn a_hard_linked_protected_file_is_refused() {
    let s = Scratch::new("links");
    std::fs::write(s.0.join(".envrc"), "echo ok\n").unwrap();
    std::fs::hard_link(s.0.join(".envrc"), s.0.join("other")).unwrap();
    match resolve(&request(&s.0)) {
        Err(FsPlanError::HardLinked { path, links }) => {
            assert_eq!(path, s.0.join(".envrc"));
            assert_eq!(links, 2);
        }
        other => panic!("expected a hard-link refusal, got {other:?}"),
    }
}

#[test]
fn a_created_protected_path_shows_up_in_the_rescan() {
    let s = Scratch::new("rescan");
    let r = resolve(&request(&s.0)).unwrap();
    assert!(r.rescan.now().is_empty());
    std::fs::create_dir_all(s.0.join("new/.git/hooks")).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", s.0.join(".envrc")).unwrap();
    let now = r.rescan.now();
    for want in [
        s.0.join("new/.git"),
        s.0.join("new/.git/hooks"),
        s.0.join(".envrc"),
    ] {
        assert!(now.contains(&want), "{want:?} not in {now:?}");
    }
}

#[test]
fn untraversable_directories_are_found_from_the_top() {
    let s = Scratch::new("trav");
    let locked = s.0.join("locked");
    std::fs::create_dir_all(locked.join("inner/ws")).unwrap();
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o700)).unwrap();
    // An id that owns nothing here cannot pass `locked`.
    let found = untraversable(
        &[locked.join("inner/ws")],
        None,
        (2_000_000_000, 2_000_000_000),
    );
    assert_eq!(found, vec![locked.clone()]);
    // The home itself counts too.
    let found = untraversable(
        &[],
        Some(&locked.join("inner")),
        (2_000_000_000, 2_000_000_000),
    );
    assert_eq!(found, vec![locked.clone()]);
    // Its owner can.
    let me = (
        nix::unistd::getuid().as_raw(),
        nix::unistd::getgid().as_raw(),
    );
    assert!(untraversable(&[locked.join("inner/ws")], None, me).is_empty());
}

#[test]
fn printable_escapes_control_characters() {
    assert_eq!(
        printable(Path::new("/ws/x\r\u{1b}[2K/.git")),
        "/ws/x\\r\\u{1b}[2K/.git"
    );
    assert_eq!(printable(Path::new("/ws/ok é")), "/ws/ok é");
}

#[test]
fn a_secret_with_a_name_that_is_not_utf8_is_still_masked() {
    use std::os::unix::ffi::OsStrExt;
    let s = Scratch::new("utf8");
    let name = std::ffi::OsStr::from_bytes(b".env.\xff");
    std::fs::write(s.0.join(name), "SECRET\n").unwrap();
    let mut req = request(&s.0);
    req.deny_read = vec!["**/.env.*".into()];
    let r = resolve(&req).unwrap();
    assert!(r.masked.contains(&s.0.join(name)), "{:?}", r.masked);
}
