//! Rendering a policy as TOML for `corral policy show`: every section and
//! key, in the model's order, lists one entry per line. The output starts
//! with `extends = "none"` so that it is complete on its own: loading it
//! back gives the same policy.

use crate::model::{NetDeny, Policy};
use std::fmt::Write as _;

impl Policy {
    /// The policy as a TOML document that [`Policy::from_toml_str`] reads back
    /// to the same policy (with `extends = "none"`). Unset limits and ids are
    /// left out (unlimited / default).
    pub fn to_toml(&self) -> String {
        let mut out = String::new();
        line(&mut out, "extends", &quote("none"));

        let fs = &self.filesystem;
        out.push_str("\n[filesystem]\n");
        if let Some(workspace) = &fs.workspace {
            line(&mut out, "workspace", &quote(workspace));
        }
        list(&mut out, "read", &fs.read);
        list(&mut out, "write", &fs.write);
        list(&mut out, "deny_read", &fs.deny_read);
        list(&mut out, "protected", &fs.protected);

        let net = &self.network;
        out.push_str("\n[network]\n");
        list(&mut out, "allow", &net.allow);
        let deny: Vec<String> = net.deny.iter().map(deny_entry).collect();
        raw_list(&mut out, "deny", &deny);
        list(&mut out, "resolve", &net.resolve);
        for (endpoint, rule) in &net.rules {
            let _ = writeln!(out, "\n[network.rules.{}]", quote(endpoint));
            if let Some(protocols) = &rule.protocols {
                let names: Vec<String> = protocols.iter().map(|p| quote(p.as_str())).collect();
                raw_list(&mut out, "protocols", &names);
            }
        }

        let limits = &self.limits;
        out.push_str("\n[limits]\n");
        optional(
            &mut out,
            "memory",
            limits.memory.map(|m| quote(&m.to_string())),
        );
        optional(&mut out, "pids", limits.pids.map(|n| n.to_string()));
        optional(
            &mut out,
            "cpus",
            limits.cpus.map(|c| toml::Value::Float(c).to_string()),
        );
        optional(
            &mut out,
            "timeout",
            limits.timeout.map(|t| quote(&t.to_string())),
        );
        optional(
            &mut out,
            "open_files",
            limits.open_files.map(|n| n.to_string()),
        );
        optional(
            &mut out,
            "file_size",
            limits.file_size.map(|s| quote(&s.to_string())),
        );

        let process = &self.process;
        out.push_str("\n[process]\n");
        optional(&mut out, "uid", process.uid.map(|n| n.to_string()));
        optional(&mut out, "gid", process.gid.map(|n| n.to_string()));
        optional(&mut out, "hostname", process.hostname.as_deref().map(quote));
        list(&mut out, "env_deny", &process.env_deny);
        out.push_str("\n[process.env_set]\n");
        for (name, value) in &process.env_set {
            line(&mut out, &key(name), &quote(value));
        }

        let sandbox = &self.sandbox;
        out.push_str("\n[sandbox]\n");
        line(
            &mut out,
            "dangerously_allow_degraded",
            &sandbox.dangerously_allow_degraded.to_string(),
        );
        line(
            &mut out,
            "dangerously_allow_nested_namespaces",
            &sandbox.dangerously_allow_nested_namespaces.to_string(),
        );
        crate::detect::render(&self.detect, &mut out);
        out
    }
}

fn line(out: &mut String, key: &str, value: &str) {
    let _ = writeln!(out, "{key} = {value}");
}

fn optional(out: &mut String, key: &str, value: Option<String>) {
    if let Some(value) = value {
        line(out, key, &value);
    }
}

/// `[]`, `["/"]`, or one entry per line for two or more.
fn list(out: &mut String, key: &str, items: &[String]) {
    let quoted: Vec<String> = items.iter().map(|item| quote(item)).collect();
    raw_list(out, key, &quoted);
}

/// [`list`] of values already written as TOML.
fn raw_list(out: &mut String, key: &str, values: &[String]) {
    match values {
        [] => line(out, key, "[]"),
        [one] => line(out, key, &format!("[{one}]")),
        _ => {
            let _ = writeln!(out, "{key} = [");
            for value in values {
                let _ = writeln!(out, "    {value},");
            }
            out.push_str("]\n");
        }
    }
}

/// `{ host = "gist.github.com", reason = "..." }`.
fn deny_entry(entry: &NetDeny) -> String {
    match &entry.reason {
        Some(reason) => format!(
            "{{ host = {}, reason = {} }}",
            quote(&entry.host),
            quote(reason)
        ),
        None => format!("{{ host = {} }}", quote(&entry.host)),
    }
}

/// A TOML string literal, escaped as needed.
fn quote(text: &str) -> String {
    toml::Value::String(text.to_owned()).to_string()
}

/// A bare key when TOML allows one, else a quoted key.
fn key(name: &str) -> String {
    let bare = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if bare {
        name.to_owned()
    } else {
        quote(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profiles::{profile, PROFILE_NAMES};

    #[test]
    fn every_profile_round_trips() {
        for name in PROFILE_NAMES {
            let policy = profile(name).unwrap();
            let text = policy.to_toml();
            let back = Policy::from_toml_str(&text, "shown.toml")
                .unwrap_or_else(|e| panic!("{name}: {e}\n{text}"));
            assert_eq!(back.extends.as_deref(), Some("none"), "{name}");
            assert_eq!(back.merged_onto(profile("none").unwrap()), policy, "{name}");
        }
    }

    #[test]
    fn a_full_policy_round_trips() {
        let text = r#"
            extends = "none"
            [filesystem]
            workspace = "/work/space with \"quotes\""
            read = ["/usr", "C:\\odd"]
            [limits]
            memory = "1536"
            cpus = 0.5
            timeout = "1h30m"
            [process]
            uid = 0
            hostname = "box-1.local"
            env_set = { LANG = "C.UTF-8", PATH = "/usr/bin:/bin" }
            [network]
            allow = ["api.anthropic.com:443", "*.githubusercontent.com", "[::1]:8080"]
            deny = [{ host = "gist.github.com", reason = "no \"gists\"" }, { host = "10.0.0.0/8" }]
            resolve = ["git.test:8080:127.0.0.1"]
            [network.rules."github.com:22"]
            protocols = ["ssh"]
            [network.rules.plain]
            [sandbox]
            dangerously_allow_nested_namespaces = true
        "#;
        let policy = Policy::from_toml_str(text, "full.toml").unwrap();
        let shown = policy.to_toml();
        assert_eq!(Policy::from_toml_str(&shown, "shown.toml").unwrap(), policy);
        assert!(shown.contains("cpus = 0.5\n"), "{shown}");
        assert!(shown.contains("timeout = \"1h30m\"\n"), "{shown}");
        assert!(
            shown.contains(
                "deny = [\n    { host = \"gist.github.com\", reason = 'no \"gists\"' },\n    \
                 { host = \"10.0.0.0/8\" },\n]\n"
            ),
            "{shown}"
        );
        assert!(
            shown.contains(
                "resolve = [\"git.test:8080:127.0.0.1\"]\n\n\
                 [network.rules.\"github.com:22\"]\nprotocols = [\"ssh\"]\n\n\
                 [network.rules.\"plain\"]\n\n[limits]\n"
            ),
            "{shown}"
        );
    }

    #[test]
    fn rollout_renders_readably() {
        let shown = profile("rollout").unwrap().to_toml();
        assert!(
            shown.starts_with("extends = \"none\"\n\n[filesystem]\n"),
            "{shown}"
        );
        assert!(shown.contains("memory = \"2G\"\n"), "{shown}");
        assert!(shown.contains("cpus = 1.0\n"), "{shown}");
        assert!(
            shown.contains("deny_read = [\n    \"~/.ssh\",\n"),
            "{shown}"
        );
    }
}
