//! Reading a policy file: TOML syntax, then the model's shape (unknown keys,
//! wrong types), then the values (`validate.rs`). Every error carries
//! FILE:LINE:COL and the dotted key.

use crate::error::{Location, PolicyError};
use crate::issue::{Issue, Seg};
use crate::model::Policy;
use crate::schema;
use crate::validate::validate;
use std::fmt::Write as _;
use std::path::Path;
use toml::de::{DeTable, DeValue};
use toml::Spanned;

impl Policy {
    /// Reads and checks the policy file at `path` (see [`Policy::from_toml_str`]).
    pub fn load(path: &Path) -> Result<Policy, PolicyError> {
        let text = std::fs::read_to_string(path).map_err(|source| PolicyError::Read {
            path: path.to_owned(),
            error: source,
        })?;
        Policy::from_toml_str(&text, &path.display().to_string())
    }

    /// Parses and checks a policy written in TOML. `origin` names the text
    /// in errors (usually the file path). The result is the file as written:
    /// merge it onto its base with [`Policy::merged_onto`].
    ///
    /// Besides the value checks, an explicitly empty `filesystem.read` or
    /// `filesystem.write` is refused unless `extends = "none"`, and an
    /// explicitly empty `network.allow` when the base profile allows some
    /// network: merging keeps (or appends to) the base profile's list, so
    /// such a line would silently do nothing.
    pub fn from_toml_str(text: &str, origin: &str) -> Result<Policy, PolicyError> {
        let document = DeTable::parse(text).map_err(|e| syntax_error(e, text, origin))?;
        let deserializer = toml::Deserializer::from(document.clone());
        let policy: Policy = serde_path_to_error::deserialize(deserializer)
            .map_err(|e| shape_error(e, text, origin))?;
        let root = DeValue::Table(document.into_inner());
        validate(&policy).map_err(|issue| issue_error(&issue, &root, text, origin))?;
        let base = policy
            .extends
            .as_deref()
            .unwrap_or(crate::profiles::DEFAULT_PROFILE);
        let base_allows =
            crate::profiles::profile(base).is_some_and(|p| !p.network.allow.is_empty());
        let guarded = [
            ("filesystem", "read", base != "none"),
            ("filesystem", "write", base != "none"),
            ("network", "allow", base_allows),
        ];
        for (section, key, guarded) in guarded {
            let path = [Seg::Key(section), Seg::Key(key)];
            match locate(&root, &path) {
                Some(value)
                    if guarded && value.get_ref().as_array().is_some_and(|a| a.is_empty()) =>
                {
                    return Err(empty_list_error(
                        section,
                        key,
                        base,
                        value.span(),
                        text,
                        origin,
                    ));
                }
                _ => {}
            }
        }
        Ok(policy)
    }
}

fn syntax_error(error: toml::de::Error, text: &str, origin: &str) -> PolicyError {
    let offset = error.span().map_or(0, |s| s.start);
    PolicyError::Syntax {
        at: Location::in_text(origin, text, offset),
        message: one_line(error.message()),
    }
}

/// An unknown key or a value of the wrong type, as serde reported it.
fn shape_error(
    error: serde_path_to_error::Error<toml::de::Error>,
    text: &str,
    origin: &str,
) -> PolicyError {
    let key = dotted(error.path());
    let inner = error.into_inner();
    let at = Location::in_text(origin, text, inner.span().map_or(0, |s| s.start));
    let message = one_line(inner.message());
    if message.starts_with("unknown field `") {
        return PolicyError::Invalid {
            at,
            expected: schema::allowed_text(&key),
            key,
            problem: "unknown key".to_owned(),
        };
    }
    // serde words these "invalid type: string \"x\", expected u64"; the
    // unit parsers "invalid size \"2X\": expected ...". Keep what is wrong
    // and say what is expected in the user's terms.
    let problem = [", expected ", ": expected "]
        .iter()
        .filter_map(|sep| message.find(sep))
        .min()
        .map_or(message.as_str(), |end| &message[..end])
        .to_owned();
    PolicyError::Invalid {
        at,
        expected: schema::expected(&key),
        key,
        problem,
    }
}

/// serde's path as a dotted key, `(document)` for the root. The keys of
/// `network.rules` and `detect.detectors` are quoted, since they contain
/// dots and colons: `network.rules."github.com:22".protocols[0]`.
fn dotted(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    let mut names = Vec::new();
    for segment in path.iter() {
        let name = match segment {
            Segment::Seq { index } => {
                let _ = write!(out, "[{index}]");
                continue;
            }
            Segment::Map { key } => key.as_str(),
            Segment::Enum { variant } => variant.as_str(),
            Segment::Unknown => "?",
        };
        if !out.is_empty() {
            out.push('.');
        }
        if names == ["network", "rules"] || names == ["detect", "detectors"] {
            let _ = write!(out, "{name:?}");
        } else {
            out.push_str(name);
        }
        names.push(name);
    }
    if out.is_empty() {
        "(document)".to_owned()
    } else {
        out
    }
}

fn issue_error(issue: &Issue, root: &DeValue<'_>, text: &str, origin: &str) -> PolicyError {
    let offset = if issue.at_key {
        locate_key(root, &issue.path)
    } else {
        locate(root, &issue.path).map(|v| v.span().start)
    };
    PolicyError::Invalid {
        at: match offset {
            Some(offset) => Location::in_text(origin, text, offset),
            None => Location {
                origin: origin.to_owned(),
                line_col: None,
            },
        },
        key: issue.dotted(),
        problem: issue.problem.clone(),
        expected: issue.expected_text(),
    }
}

fn empty_list_error(
    section: &str,
    key: &str,
    base: &str,
    span: std::ops::Range<usize>,
    text: &str,
    origin: &str,
) -> PolicyError {
    let (what, expected) = if section == "network" {
        (
            "network rules".to_owned(),
            "leave the key out to keep the profile's rules, add deny entries for what must stay \
             unreachable, or set extends = \"offline\" for no network at all",
        )
    } else {
        (
            format!("{key} paths"),
            "leave the key out to keep the profile's list, list the paths you want instead, or \
             set extends = \"none\" to start from nothing",
        )
    };
    PolicyError::Invalid {
        at: Location::in_text(origin, text, span.start),
        key: format!("{section}.{key}"),
        problem: format!("an empty list cannot remove the {what} of the base profile {base:?}"),
        expected: expected.to_owned(),
    }
}

/// The value at `path` in the parsed document, with its span.
fn locate<'a, 'i>(root: &'a DeValue<'i>, path: &[Seg]) -> Option<&'a Spanned<DeValue<'i>>> {
    let (last, parents) = path.split_last()?;
    let mut current = root;
    for seg in parents {
        current = child(current, seg)?.get_ref();
    }
    child(current, last)
}

fn child<'a, 'i>(value: &'a DeValue<'i>, seg: &Seg) -> Option<&'a Spanned<DeValue<'i>>> {
    match seg {
        Seg::Key(key) => find_entry(value.as_table()?, key).map(|(_, v)| v),
        Seg::Name(name) | Seg::Quoted(name) => find_entry(value.as_table()?, name).map(|(_, v)| v),
        Seg::Index(index) => value.get(*index),
    }
}

fn find_entry<'a, 'i>(
    table: &'a DeTable<'i>,
    key: &str,
) -> Option<(
    &'a Spanned<std::borrow::Cow<'i, str>>,
    &'a Spanned<DeValue<'i>>,
)> {
    table.iter().find(|(k, _)| k.get_ref() == key)
}

/// The byte offset of the last key of `path` (for errors about a name).
fn locate_key(root: &DeValue<'_>, path: &[Seg]) -> Option<usize> {
    let (last, parents) = path.split_last()?;
    let parent = match parents {
        [] => root,
        _ => locate(root, parents)?.get_ref(),
    };
    let name = match last {
        Seg::Key(key) => *key,
        Seg::Name(name) | Seg::Quoted(name) => name.as_str(),
        Seg::Index(_) => return None,
    };
    find_entry(parent.as_table()?, name).map(|(k, _)| k.span().start)
}

fn one_line(message: &str) -> String {
    message.trim().replace('\n', "; ")
}

#[cfg(test)]
#[path = "load_tests.rs"]
mod tests;
