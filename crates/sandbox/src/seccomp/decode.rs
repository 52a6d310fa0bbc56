//! Names for the raw arguments of the calls the monitor reports: open
//! flags, socket address families, and the write targets that are noise.

/// Writes to these are noise, not evidence (`2>/dev/null` in every shell
/// script): not worth recording.
pub fn is_noise(path: &str) -> bool {
    matches!(
        path,
        "/dev/null" | "/dev/zero" | "/dev/full" | "/dev/tty" | "/dev/stdout" | "/dev/stderr"
    ) || path.starts_with("/dev/pts/")
        || path.starts_with("pipe:")
        || path.starts_with("socket:")
}

/// The names of an `open` call's flags that say how it writes: the access
/// mode, then `O_CREAT`, `O_TRUNC`, `O_APPEND`, `O_EXCL`, `O_TMPFILE`.
pub fn open_flags(flags: u32) -> Vec<&'static str> {
    let f = flags as i32;
    let mut out = Vec::new();
    match f & libc::O_ACCMODE {
        libc::O_WRONLY => out.push("O_WRONLY"),
        libc::O_RDWR => out.push("O_RDWR"),
        _ => out.push("O_RDONLY"),
    }
    for (bit, name) in [
        (libc::O_CREAT, "O_CREAT"),
        (libc::O_TRUNC, "O_TRUNC"),
        (libc::O_APPEND, "O_APPEND"),
        (libc::O_EXCL, "O_EXCL"),
    ] {
        if f & bit != 0 {
            out.push(name);
        }
    }
    if f & libc::O_TMPFILE == libc::O_TMPFILE {
        out.push("O_TMPFILE");
    }
    out
}

/// A socket address family's short name (`inet`, `unix`, `netlink`...),
/// or `family N` for one without a name here.
pub fn family_name(family: u16) -> String {
    match i32::from(family) {
        libc::AF_UNIX => "unix".into(),
        libc::AF_INET => "inet".into(),
        libc::AF_INET6 => "inet6".into(),
        libc::AF_NETLINK => "netlink".into(),
        libc::AF_PACKET => "packet".into(),
        libc::AF_VSOCK => "vsock".into(),
        libc::AF_ALG => "alg".into(),
        libc::AF_BLUETOOTH => "bluetooth".into(),
        libc::AF_XDP => "xdp".into(),
        libc::AF_CAN => "can".into(),
        libc::AF_TIPC => "tipc".into(),
        libc::AF_RDS => "rds".into(),
        other => format!("family {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_flags_name_the_write_bits() {
        let f = (libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC) as u32;
        assert_eq!(open_flags(f), ["O_WRONLY", "O_CREAT", "O_TRUNC"]);
        assert_eq!(
            open_flags((libc::O_RDWR | libc::O_APPEND) as u32),
            ["O_RDWR", "O_APPEND"]
        );
        assert_eq!(open_flags(libc::O_RDONLY as u32), ["O_RDONLY"]);
        assert_eq!(
            open_flags((libc::O_TMPFILE | libc::O_WRONLY) as u32),
            ["O_WRONLY", "O_TMPFILE"],
            "O_TMPFILE includes O_DIRECTORY and is named once"
        );
    }

    #[test]
    fn families_have_names() {
        assert_eq!(family_name(libc::AF_INET as u16), "inet");
        assert_eq!(family_name(libc::AF_NETLINK as u16), "netlink");
        assert_eq!(family_name(250), "family 250");
    }

    #[test]
    fn noise_is_the_null_devices_pipes_and_ttys() {
        for p in [
            "/dev/null",
            "/dev/pts/0",
            "pipe:[1]",
            "socket:[2]",
            "/dev/stderr",
        ] {
            assert!(is_noise(p), "{p}");
        }
        for p in ["/dev/sda", "/tmp/x", "/home/a/.bashrc"] {
            assert!(!is_noise(p), "{p}");
        }
    }
}
