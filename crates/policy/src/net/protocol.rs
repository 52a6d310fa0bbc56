//! The protocols a rule lets through, as written in `protocols = [...]`.

use std::fmt;
use std::str::FromStr;

/// What a connection may speak once the destination is allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Protocol {
    /// TLS, with the name in the ClientHello (SNI) checked against the rule.
    Tls,
    /// Plain HTTP, with the `Host` header checked against the rule.
    Http,
    /// SSH (e.g. `git` over `ssh://`).
    Ssh,
    /// Any bytes: only the destination and the port are checked.
    Any,
}

impl Protocol {
    /// The protocols of an `allow` entry, and of a rule without `protocols`.
    pub const DEFAULT: [Protocol; 2] = [Protocol::Tls, Protocol::Http];

    /// The name as written in a policy: `tls`, `http`, `ssh`, `any`.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tls => "tls",
            Protocol::Http => "http",
            Protocol::Ssh => "ssh",
            Protocol::Any => "any",
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A protocol name that is not `tls`, `http`, `ssh` or `any`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown protocol {input:?}: expected \"tls\", \"http\", \"ssh\" or \"any\"")]
pub struct ProtocolError {
    pub input: String,
}

impl FromStr for Protocol {
    type Err = ProtocolError;

    /// Exactly the lowercase names.
    fn from_str(input: &str) -> Result<Self, Self::Err> {
        [Protocol::Tls, Protocol::Http, Protocol::Ssh, Protocol::Any]
            .into_iter()
            .find(|p| p.as_str() == input)
            .ok_or_else(|| ProtocolError {
                input: input.to_owned(),
            })
    }
}

impl serde::Serialize for Protocol {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for Protocol {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        /// Parses inside the deserializer, so that errors carry the value's
        /// position.
        struct ProtocolVisitor;

        impl serde::de::Visitor<'_> for ProtocolVisitor {
            type Value = Protocol;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("\"tls\", \"http\", \"ssh\" or \"any\"")
            }

            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Protocol, E> {
                text.parse().map_err(E::custom)
            }
        }

        deserializer.deserialize_str(ProtocolVisitor)
    }
}
