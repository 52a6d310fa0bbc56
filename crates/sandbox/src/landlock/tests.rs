//! Landlock enforced for real, in forked children (Landlock needs no
//! privileges, so these run the same as root and as `nobody`).

use std::io::Write;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;

use super::*;
use crate::seccomp::tests::child::{err, in_child, show};

/// A fresh directory under the temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir =
            std::env::temp_dir().join(format!("corral-landlock-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn io_outcome<T>(r: io::Result<T>) -> i64 {
    match r {
        Ok(_) => 0,
        Err(e) => -i64::from(e.raw_os_error().unwrap_or(i32::MAX)),
    }
}

fn write_file(path: &Path) -> i64 {
    io_outcome(File::create(path).and_then(|mut f| f.write_all(b"corral")))
}

fn open_for_write(path: &str) -> i64 {
    io_outcome(OpenOptions::new().write(true).open(path))
}

/// `None` (and a printed reason) when the kernel has no Landlock.
fn landlock_or_skip() -> Option<u32> {
    let abi = abi_version();
    if abi.is_none() {
        eprintln!("skipped: Landlock is not available on this kernel (not built in or not enabled at boot)");
    }
    abi
}

fn expected_enforcement(abi: u32) -> Enforcement {
    if abi >= TARGET_ABI as u32 {
        Enforcement::FullyEnforced
    } else {
        Enforcement::PartiallyEnforced
    }
}

#[test]
fn writes_are_confined_to_the_write_paths() {
    let Some(abi) = landlock_or_skip() else {
        return;
    };
    let (inside, outside) = (TempDir::new("inside"), TempDir::new("outside"));
    // Without Landlock, both are writable: the denial below is Landlock's.
    assert_eq!(write_file(&outside.0.join("before")), 0);
    let plan = LandlockPlan {
        read: vec!["/".into(), "/nonexistent-corral-test".into()],
        write: vec![inside.0.clone()],
        devices: vec![],
    };
    let [status, abi_seen, in_ok, out_denied, mkdir_out, dev_null, read_dir, remove_out] =
        in_child(|| {
            let s = restrict(&plan).map_err(|_| "restrict")?;
            Ok([
                s.enforced as i64,
                i64::from(s.abi),
                write_file(&inside.0.join("file")),
                write_file(&outside.0.join("file")),
                io_outcome(std::fs::create_dir(outside.0.join("dir"))),
                open_for_write("/dev/null"),
                io_outcome(std::fs::read_dir(&outside.0)),
                io_outcome(std::fs::remove_file(outside.0.join("before"))),
            ])
        });
    assert_eq!(
        status,
        expected_enforcement(abi) as i64,
        "enforcement on ABI {abi}"
    );
    assert_eq!(abi_seen, i64::from(abi));
    assert_eq!(in_ok, 0, "write inside the write path: {}", show(in_ok));
    assert_eq!(
        out_denied,
        err(libc::EACCES),
        "write outside: {}",
        show(out_denied)
    );
    assert_eq!(
        mkdir_out,
        err(libc::EACCES),
        "mkdir outside: {}",
        show(mkdir_out)
    );
    assert_eq!(
        dev_null,
        err(libc::EACCES),
        "/dev/null is not a device path here: {}",
        show(dev_null)
    );
    assert_eq!(
        read_dir,
        0,
        "reading beneath / stays allowed: {}",
        show(read_dir)
    );
    assert_eq!(
        remove_out,
        err(libc::EACCES),
        "unlink outside: {}",
        show(remove_out)
    );
    assert!(inside.0.join("file").exists() && !outside.0.join("file").exists());
}

#[test]
fn device_paths_are_read_write_without_execute() {
    let Some(_) = landlock_or_skip() else { return };
    let plan = LandlockPlan {
        read: vec!["/usr".into()],
        write: vec![],
        devices: vec!["/dev/null".into(), "/dev/zero".into()],
    };
    let [null_w, zero_r, tty] = in_child(|| {
        restrict(&plan).map_err(|_| "restrict")?;
        Ok([
            open_for_write("/dev/null"),
            io_outcome(File::open("/dev/zero")),
            io_outcome(File::open("/dev/full")), // not listed
        ])
    });
    assert_eq!(
        (null_w, zero_r),
        (0, 0),
        "device access: {} {}",
        show(null_w),
        show(zero_r)
    );
    assert_eq!(tty, err(libc::EACCES), "unlisted device: {}", show(tty));
}

#[test]
fn loopback_tcp_stays_open_and_signals_and_abstract_sockets_are_scoped() {
    let Some(abi) = landlock_or_skip() else {
        return;
    };
    let tcp = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let tcp_addr = tcp.local_addr().expect("local addr");
    let name = format!("corral-landlock-test-{}", std::process::id());
    let abstract_addr = {
        use std::os::linux::net::SocketAddrExt;
        std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).expect("abstract name")
    };
    let _unix = UnixListener::bind_addr(&abstract_addr).expect("bind abstract socket");
    let plan = LandlockPlan {
        read: vec!["/".into()],
        ..Default::default()
    };
    let probe = |restricted: bool| {
        in_child(|| {
            if restricted {
                restrict(&plan).map_err(|_| "restrict")?;
            }
            // SAFETY: signal 0 only checks permission; getppid has no preconditions.
            let kill = unsafe { libc::kill(libc::getppid(), 0) };
            Ok([
                io_outcome(std::net::TcpStream::connect(tcp_addr)),
                crate::seccomp::tests::child::outcome(kill.into()),
                io_outcome(UnixStream::connect_addr(&abstract_addr)),
            ])
        })
    };
    assert_eq!(probe(false), [0, 0, 0], "without Landlock everything works");
    let [tcp_r, kill_r, unix_r] = probe(true);
    assert_eq!(tcp_r, 0, "loopback TCP under Landlock: {}", show(tcp_r));
    if abi >= 6 {
        assert_eq!(
            kill_r,
            err(libc::EPERM),
            "signal to a process outside: {}",
            show(kill_r)
        );
        assert_eq!(
            unix_r,
            err(libc::EPERM),
            "abstract socket outside: {}",
            show(unix_r)
        );
    } else {
        eprintln!("skipped: scoping needs Landlock ABI 6, this kernel has {abi}");
    }
}

#[test]
fn errors_name_the_path() {
    let Some(_) = landlock_or_skip() else { return };
    let [named] = in_child(|| {
        let plan = LandlockPlan {
            write: vec!["/etc/passwd/not-a-dir".into()],
            ..Default::default()
        };
        Ok(match restrict(&plan) {
            Err(e @ LandlockError::Open { .. }) => {
                i64::from(!e.to_string().contains("/etc/passwd/not-a-dir"))
            }
            _ => 2,
        })
        .map(|v| [v])
    });
    assert_eq!(
        named, 0,
        "a path that cannot be opened (ENOTDIR) fails naming it"
    );
}
