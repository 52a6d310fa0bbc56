use super::*;
use serde_json::{json, Value};

/// The details as the cli made them by hand before the typed events:
/// the object without its nulls, then `pid` and (when false) `consistent`.
fn by_hand(mut details: Value, pid: u32, consistent: bool) -> String {
    let Value::Object(map) = &mut details else {
        panic!("details are an object");
    };
    map.retain(|_, v| !v.is_null());
    map.insert("pid".into(), pid.into());
    if !consistent {
        map.insert("consistent".into(), false.into());
    }
    details.to_string()
}

fn typed(
    events: &mut MonitorEvents<impl Fn(&str) -> bool>,
    pid: u32,
    call: Call,
    consistent: bool,
) -> (String, String) {
    let event = events
        .event(Observed {
            pid,
            call,
            consistent,
        })
        .expect("an event");
    assert!(!event.is_unknown(), "{event:?}");
    let (kind, details) = event.to_details();
    (kind.to_owned(), Value::Object(details).to_string())
}

#[test]
fn typed_events_are_the_details_made_by_hand() {
    let mut events = MonitorEvents::new(|p: &str| p.starts_with("/work"));
    let cases = [
        (
            Call::Exec {
                path: "ls".into(),
                argv: vec!["ls".into(), "-l".into()],
                dirfd: None,
                found: false,
            },
            "proc.exec",
            json!({ "path": "ls", "argv": ["ls", "-l"], "dirfd": null, "found": false }),
        ),
        (Call::Exit { code: 3 }, "proc.exit", json!({ "code": 3 })),
        (
            Call::Connect {
                fd: 3,
                addr: Some("192.0.2.1:22".into()),
                family: libc::AF_INET as u16,
            },
            "sock.connect",
            json!({ "fd": 3, "family": "inet", "addr": "192.0.2.1:22" }),
        ),
        (
            Call::Bind {
                fd: 4,
                addr: Some("0.0.0.0:8080".into()),
                family: libc::AF_INET as u16,
            },
            "sock.bind",
            json!({ "fd": 4, "family": "inet", "addr": "0.0.0.0:8080" }),
        ),
        (
            Call::Listen { fd: 4, backlog: 16 },
            "sock.listen",
            json!({ "fd": 4, "backlog": 16, "addr": "0.0.0.0:8080" }),
        ),
        (
            Call::Listen { fd: 5, backlog: 1 },
            "sock.listen",
            json!({ "fd": 5, "backlog": 1, "addr": null }),
        ),
        (
            Call::SendTo {
                fd: 6,
                addr: None,
                family: 0,
                len: 512,
            },
            "sock.sendto",
            json!({ "fd": 6, "family": "family 0", "addr": null, "bytes": 512 }),
        ),
        (
            Call::Socket {
                family: libc::AF_VSOCK as u16,
                kind: libc::SOCK_STREAM | libc::SOCK_CLOEXEC,
            },
            "sock.socket",
            json!({ "family": "vsock", "type": 1 }),
        ),
        (
            Call::File {
                op: corral_event::FileOp::Open,
                syscall: "openat",
                path: Some("/work/a".into()),
                to: None,
                flags: Some((libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC) as u32),
            },
            "file.write",
            json!({ "op": "open", "syscall": "openat", "path": "/work/a", "to": null,
                    "flags": ["O_WRONLY", "O_CREAT", "O_TRUNC"], "writable": true }),
        ),
        (
            Call::File {
                op: corral_event::FileOp::Rename,
                syscall: "renameat2",
                path: Some("/work/a".into()),
                to: Some("/etc/a".into()),
                flags: None,
            },
            "file.write",
            json!({ "op": "rename", "syscall": "renameat2", "path": "/work/a", "to": "/etc/a",
                    "flags": null, "writable": false }),
        ),
        (
            Call::File {
                op: corral_event::FileOp::Unlink,
                syscall: "unlinkat",
                path: None,
                to: None,
                flags: None,
            },
            "file.write",
            json!({ "op": "unlink", "syscall": "unlinkat", "path": null, "to": null,
                    "flags": null, "writable": false }),
        ),
        (
            Call::Denied {
                syscall: "ptrace",
                reason: "tracing other processes is refused",
                args: [16, 1, 0, 0, 0, u64::MAX],
            },
            "sys.denied",
            json!({ "syscall": "ptrace", "reason": "tracing other processes is refused",
                    "args": [16u64, 1, 0, 0, 0, u64::MAX], "errno": "EPERM" }),
        ),
    ];
    for (i, (call, kind, details)) in cases.into_iter().enumerate() {
        let consistent = i % 3 != 1;
        assert_eq!(
            typed(&mut events, 4242, call, consistent),
            (kind.to_owned(), by_hand(details, 4242, consistent))
        );
    }
}

#[test]
fn an_exec_says_where_and_from_what() {
    // Our own process: its cwd, parent and descriptors, as /proc says.
    let me = std::process::id();
    let mut events = MonitorEvents::new(|_: &str| true);
    let call = Call::Exec {
        path: "/bin/true".into(),
        argv: vec!["true".into()],
        dirfd: Some(3),
        found: true,
    };
    let cwd = std::fs::read_link("/proc/self/cwd")
        .map(|p| p.to_string_lossy().into_owned())
        .ok();
    let expected = json!({ "path": "/bin/true", "argv": ["true"], "dirfd": 3, "cwd": cwd,
                           "ppid": crate::sample::ppid(me), "stdio": crate::process::stdio(me) });
    assert_eq!(
        typed(&mut events, me, call, true),
        ("proc.exec".to_owned(), by_hand(expected, me, true))
    );
}

#[test]
fn writes_to_noise_are_not_events() {
    let mut events = MonitorEvents::new(|_: &str| true);
    for path in ["/dev/null", "/dev/pts/3", "pipe:[123]"] {
        let call = Call::File {
            op: corral_event::FileOp::Open,
            syscall: "openat",
            path: Some(path.into()),
            to: None,
            flags: Some(libc::O_WRONLY as u32),
        };
        assert_eq!(
            events.event(Observed {
                pid: 1,
                call,
                consistent: true
            }),
            None,
            "{path}"
        );
    }
}
