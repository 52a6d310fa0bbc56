//! The names the unit enums are written as (their serde names), as
//! `as_str` and `Display`: for messages and evidence lines that quote a
//! field without serialising the event.

use crate::{Decision, FileOp, Limit, NetSeverity, Outcome, Response, Severity, Stdio, Via};
use std::fmt;

/// Gives each enum `as_str` (its serde name) and a `Display` of it.
macro_rules! names {
    ($($ty:ident { $($variant:ident => $name:literal,)* })*) => {
        $(
            impl $ty {
                /// The name it is written as in the trail.
                pub const fn as_str(self) -> &'static str {
                    match self {
                        $($ty::$variant => $name,)*
                    }
                }
            }

            impl fmt::Display for $ty {
                fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str(self.as_str())
                }
            }
        )*

        /// Every variant of every enum named here, with its name.
        #[cfg(test)]
        fn every_name() -> Vec<(serde_json::Value, &'static str)> {
            vec![$($(
                (
                    serde_json::to_value($ty::$variant).expect("a unit variant serialises"),
                    $ty::$variant.as_str(),
                ),
            )*)*]
        }
    };
}

names! {
    Via {
        HttpConnect => "http-connect",
        HttpForward => "http-forward",
        Socks5 => "socks5",
        DnsUdp => "dns-udp",
        DnsTcp => "dns-tcp",
    }
    Decision {
        Allow => "allow",
        Deny => "deny",
        Error => "error",
    }
    NetSeverity {
        Info => "info",
        Warning => "warning",
        Critical => "critical",
    }
    Stdio {
        Socket => "socket",
        Pipe => "pipe",
        Tty => "tty",
        Null => "null",
        File => "file",
        Closed => "closed",
    }
    FileOp {
        Open => "open",
        Create => "create",
        Truncate => "truncate",
        Rename => "rename",
        Unlink => "unlink",
    }
    Limit {
        Memory => "memory",
        Pids => "pids",
        Timeout => "timeout",
    }
    Severity {
        Low => "low",
        Medium => "medium",
        High => "high",
        Critical => "critical",
    }
    Response {
        Log => "log",
        Alert => "alert",
        Deny => "deny",
        Freeze => "freeze",
        Kill => "kill",
    }
    Outcome {
        Clean => "clean",
        Flagged => "flagged",
        Killed => "killed",
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_are_the_serde_names() {
        for (written, name) in super::every_name() {
            assert_eq!(written, serde_json::Value::from(name));
        }
    }
}
