//! Encoding one line: the fixed keys, the details, the hash chain.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::AuditError;

/// The keys every line starts (and ends) with; a detail key among them is renamed.
pub(crate) const RESERVED: [&str; 7] = ["v", "ts", "run", "seq", "kind", "labels", "prev"];

/// The text whose hash is the `prev` of line 0.
const GENESIS_PREFIX: &str = "corral-audit-v1:";

/// A SHA-256 digest.
pub(crate) type Hash = [u8; 32];

/// The `prev` of a run's first line.
pub(crate) fn genesis(run: &str) -> Hash {
    let mut h = Sha256::new();
    h.update(GENESIS_PREFIX.as_bytes());
    h.update(run.as_bytes());
    h.finalize().into()
}

/// The SHA-256 of one line's bytes (without its newline).
pub(crate) fn hash(line: &[u8]) -> Hash {
    Sha256::digest(line).into()
}

/// Lowercase hex, as in `prev`.
pub(crate) fn hex(hash: &Hash) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(64);
    for b in hash {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    s
}

/// Whether `run` is a run id: 16 lowercase hex digits.
pub fn valid_run_id(run: &str) -> bool {
    run.len() == 16 && run.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// A fresh random run id (16 lowercase hex digits, from /dev/urandom).
pub fn new_run_id() -> Result<String, AuditError> {
    let mut bytes = [0u8; 8];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|source| AuditError::RandomRunId { source })?;
    let mut full = [0u8; 32];
    full[..8].copy_from_slice(&bytes);
    let mut s = hex(&full);
    s.truncate(16);
    Ok(s)
}

/// `ts` as written: RFC 3339 UTC with nanoseconds, clamped to what RFC 3339
/// can say (1970 to 9999) so that a wild clock cannot stop the log.
pub(crate) fn format_ts(out: &mut Vec<u8>, ts: SystemTime) -> io::Result<()> {
    let max = UNIX_EPOCH + Duration::from_secs(253_402_300_799);
    let ts = ts.clamp(UNIX_EPOCH, max);
    write!(out, "{}", humantime::format_rfc3339_nanos(ts))
}

/// `key`, or, when it is reserved, `key` with `_` appended until it is
/// neither reserved nor another key of `details`.
fn detail_key<'a>(
    key: &'a str,
    trailer: &[(&str, Value)],
    details: &Map<String, Value>,
) -> Cow<'a, str> {
    let reserved = |k: &str| RESERVED.contains(&k) || trailer.iter().any(|(t, _)| *t == k);
    if !reserved(key) {
        return Cow::Borrowed(key);
    }
    let mut renamed = format!("{key}_");
    while reserved(&renamed) || details.contains_key(&renamed) {
        renamed.push('_');
    }
    Cow::Owned(renamed)
}

/// Encodes the lines of one run, keeping `seq` and the chain.
pub(crate) struct Encoder {
    run: String,
    labels: Vec<u8>,
    seq: u64,
    prev: Hash,
}

impl Encoder {
    pub(crate) fn new(run: &str, labels: &BTreeMap<String, String>) -> io::Result<Encoder> {
        Ok(Encoder {
            run: run.to_owned(),
            labels: serde_json::to_vec(labels)?,
            seq: 0,
            prev: genesis(run),
        })
    }

    /// Lines encoded so far.
    pub(crate) fn lines(&self) -> u64 {
        self.seq
    }

    /// The hash of the last line encoded (the genesis hash before any).
    pub(crate) fn last_hash(&self) -> String {
        hex(&self.prev)
    }

    /// Appends one line (with its newline) to `out`: the fixed keys, then
    /// `details` (reserved keys renamed), then `trailer` (the writer's own
    /// keys, reserved for this line), then `prev`.
    pub(crate) fn push(
        &mut self,
        out: &mut Vec<u8>,
        ts: SystemTime,
        kind: &str,
        details: &Map<String, Value>,
        trailer: &[(&str, Value)],
    ) -> io::Result<()> {
        let start = out.len();
        out.extend_from_slice(b"{\"v\":");
        write!(out, "{}", crate::SCHEMA_VERSION)?;
        out.extend_from_slice(b",\"ts\":\"");
        format_ts(out, ts)?;
        out.extend_from_slice(b"\",\"run\":");
        serde_json::to_writer(&mut *out, &self.run)?;
        write!(out, ",\"seq\":{},\"kind\":", self.seq)?;
        serde_json::to_writer(&mut *out, kind)?;
        out.extend_from_slice(b",\"labels\":");
        out.extend_from_slice(&self.labels);
        for (key, value) in details {
            out.push(b',');
            serde_json::to_writer(&mut *out, &detail_key(key, trailer, details))?;
            out.push(b':');
            serde_json::to_writer(&mut *out, value)?;
        }
        for (key, value) in trailer {
            out.push(b',');
            serde_json::to_writer(&mut *out, key)?;
            out.push(b':');
            serde_json::to_writer(&mut *out, value)?;
        }
        out.extend_from_slice(b",\"prev\":\"");
        out.extend_from_slice(hex(&self.prev).as_bytes());
        out.extend_from_slice(b"\"}");
        self.prev = hash(&out[start..]);
        self.seq += 1;
        out.push(b'\n');
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn genesis_is_the_hash_of_the_prefixed_run_id() {
        let run = "0123456789abcdef";
        assert_eq!(genesis(run), hash(b"corral-audit-v1:0123456789abcdef"));
        // The SHA-256 of the empty string, to pin the hex encoding.
        assert_eq!(
            hex(&hash(b"")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn run_ids() {
        assert!(valid_run_id("0123456789abcdef"));
        assert!(!valid_run_id("0123456789ABCDEF"));
        assert!(!valid_run_id("0123456789abcde"));
        assert!(!valid_run_id("../../etc/passwd"));
        let a = new_run_id().expect("run id");
        let b = new_run_id().expect("run id");
        assert!(valid_run_id(&a), "{a}");
        assert_ne!(a, b);
    }

    #[test]
    fn line_layout_and_renamed_keys() {
        let labels = BTreeMap::from([("episode".to_owned(), "17".to_owned())]);
        let mut enc = Encoder::new("0123456789abcdef", &labels).expect("encoder");
        let mut details = Map::new();
        // Inserted in sorted order: the same with or without serde_json's preserve_order.
        details.insert("events".into(), json!(1));
        details.insert("path".into(), json!("/tmp/x"));
        details.insert("seq".into(), json!(99));
        details.insert("seq_".into(), json!("mine"));
        let ts = UNIX_EPOCH + Duration::new(1_795_329_612, 123_456_789);
        let mut out = Vec::new();
        enc.push(&mut out, ts, "file.open", &details, &[])
            .expect("push");
        let line = String::from_utf8(out.clone()).expect("utf8");
        let genesis = hex(&genesis("0123456789abcdef"));
        assert_eq!(
            line,
            format!(
                "{{\"v\":1,\"ts\":\"2026-11-22T06:40:12.123456789Z\",\"run\":\"0123456789abcdef\",\"seq\":0,\
                 \"kind\":\"file.open\",\"labels\":{{\"episode\":\"17\"}},\"events\":1,\"path\":\"/tmp/x\",\
                 \"seq__\":99,\"seq_\":\"mine\",\"prev\":\"{genesis}\"}}\n"
            )
        );
        // A trailer key reserves its name among the details.
        let mut second = Vec::new();
        enc.push(
            &mut second,
            ts,
            "verdict",
            &details,
            &[("events", json!(1))],
        )
        .expect("push");
        let v: Value = serde_json::from_slice(&second).expect("json");
        assert_eq!(v["events"], json!(1));
        assert_eq!(v["events_"], json!(1));
        assert_eq!(v["seq"], json!(1));
        assert_eq!(v["prev"], json!(hex(&hash(&out[..out.len() - 1]))));
        assert_eq!(enc.lines(), 2);
        assert_eq!(enc.last_hash(), hex(&hash(&second[..second.len() - 1])));
    }

    #[test]
    fn wild_clocks_are_clamped() {
        let mut out = Vec::new();
        format_ts(&mut out, UNIX_EPOCH - Duration::from_secs(5)).expect("ts");
        assert_eq!(out, b"1970-01-01T00:00:00.000000000Z");
        out.clear();
        format_ts(&mut out, UNIX_EPOCH + Duration::from_secs(300_000_000_000)).expect("ts");
        assert_eq!(out, b"9999-12-31T23:59:59.000000000Z");
    }
}
