//! Sockets inside the sandbox, as the seccomp monitor sees them:
//! `sock.connect`, `sock.bind`, `sock.sendto`, `sock.listen`,
//! `sock.socket`.
//!
//! `family` is the address family's name: `unix`, `inet`, `inet6`,
//! `netlink`, `packet`, `vsock`, `alg`, `bluetooth`, `xdp`, `can`, `tipc`,
//! `rds`, or `family N` for any other number. `addr` is `IP:PORT` for
//! IPv4/IPv6 (`[IP]:PORT` for IPv6), the path for a unix socket (`@name`
//! when abstract), absent when it could not be read.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// `sock.connect`: a `connect` inside the sandbox, recorded before it is
/// let go (so attempts that then fail are recorded too).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct SockConnect {
    /// The address connected to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub addr: Option<String>,
    /// `Some(false)` when the call was no longer pending after its memory
    /// was read; absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consistent: Option<bool>,
    /// The address family's name.
    pub family: String,
    /// The socket's descriptor in the caller.
    pub fd: i32,
    /// The caller's host pid.
    pub pid: u32,
}

/// `sock.bind`: a `bind` inside the sandbox.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct SockBind {
    /// The address bound.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub addr: Option<String>,
    /// `Some(false)` when the call was no longer pending after its memory
    /// was read; absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consistent: Option<bool>,
    /// The address family's name.
    pub family: String,
    /// The socket's descriptor in the caller.
    pub fd: i32,
    /// The caller's host pid.
    pub pid: u32,
}

/// `sock.sendto`: a `sendto` that names a destination (a datagram; `send`
/// without one stays in the kernel). Detectors count it as a connection
/// attempt.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct SockSendTo {
    /// The destination.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub addr: Option<String>,
    /// The datagram's length in bytes.
    pub bytes: u64,
    /// `Some(false)` when the call was no longer pending after its memory
    /// was read; absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consistent: Option<bool>,
    /// The address family's name.
    pub family: String,
    /// The socket's descriptor in the caller.
    pub fd: i32,
    /// The caller's host pid.
    pub pid: u32,
}

/// `sock.listen`: a `listen` inside the sandbox.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct SockListen {
    /// The address the socket was bound to, when the same process bound it
    /// (as its `sock.bind` said).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub addr: Option<String>,
    /// The `listen` backlog.
    pub backlog: i32,
    /// `Some(false)` when the call was no longer pending after its memory
    /// was read; absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consistent: Option<bool>,
    /// The socket's descriptor in the caller.
    pub fd: i32,
    /// The caller's host pid.
    pub pid: u32,
}

/// `sock.socket`: a `socket` of a family other than unix, IPv4, IPv6 and
/// netlink (vsock, alg, bluetooth, xdp, ...).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct SockSocket {
    /// `Some(false)` when the call was no longer pending after its memory
    /// was read; absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consistent: Option<bool>,
    /// The address family's name.
    pub family: String,
    /// The caller's host pid.
    pub pid: u32,
    /// The socket type (`SOCK_STREAM` 1, `SOCK_DGRAM` 2, `SOCK_RAW` 3, ...),
    /// without the `SOCK_NONBLOCK`/`SOCK_CLOEXEC` flags. Written `type`.
    #[serde(rename = "type")]
    pub socket_type: i32,
}
