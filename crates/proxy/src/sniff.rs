//! Identify the protocol a client speaks from the first bytes it sends
//! through a tunnel (CONNECT or SOCKS5), so the proxy can check that a
//! tunnel opened "to example.com:443" really carries TLS for example.com,
//! and catch SSH or crypto-mining traffic on allowed ports.
//!
//! [`sniff`] is pure and total: it never panics, whatever the input, and
//! answers [`Sniffed::NeedMore`] while the bytes are a prefix of something it
//! recognises. The caller keeps reading, up to [`MAX_SNIFF`] bytes or a
//! timeout, and then treats a lingering `NeedMore` as [`Sniffed::Other`].
//!
//! The TLS ClientHello parser is written by hand: we need only record
//! reassembly and one extension (server_name), with strict bounds checks.
//! `tls-parser` would bring nom, rusticata-macros and phf for a parse that
//! is about a hundred lines here, and its fragment handling would still be
//! ours to write. HTTP uses `httparse`, Stratum uses `serde_json`.

use serde_json::{Map, Value};
use std::net::Ipv6Addr;

/// What the first bytes of a tunnel look like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sniffed {
    /// A prefix of something recognised: read more (the caller caps the
    /// wait at [`MAX_SNIFF`] bytes or a timeout).
    NeedMore,
    /// A complete TLS ClientHello, possibly spanning several handshake
    /// records. `sni` is lowercased, with any trailing dot stripped.
    Tls { sni: Option<String> },
    /// A complete HTTP/1.x request head. `host` is lowercased, with the port
    /// and the brackets of an IPv6 literal stripped. It comes from the
    /// request target when that is in absolute form (or authority form, for
    /// CONNECT), as an origin server would read it, else from the Host
    /// header. A target and a Host header that disagree are `Other`.
    Http {
        method: String,
        host: Option<String>,
    },
    /// An SSH identification line, e.g. "SSH-2.0-OpenSSH_9.2p1", without
    /// CR LF; bytes outside printable ASCII are shown escaped (`\xNN`).
    Ssh { banner: String },
    /// Crypto-mining JSON-RPC (Stratum, getwork, XMRig login). `agent` is
    /// the miner's user agent when it sends one (`params.agent` of a login,
    /// the first parameter of `mining.subscribe`).
    Stratum {
        method: String,
        agent: Option<String>,
    },
    /// Anything else, including malformed TLS or HTTP.
    Other,
}

/// The most bytes a caller should buffer before giving up on `NeedMore`.
pub const MAX_SNIFF: usize = 32 * 1024;

/// Classify the first bytes a client sent.
pub fn sniff(first: &[u8]) -> Sniffed {
    let Some(&lead) = first.first() else {
        return Sniffed::NeedMore;
    };
    if lead == TLS_HANDSHAKE {
        return sniff_tls(first);
    }
    if first.starts_with(b"SSH-") {
        return sniff_ssh(first);
    }
    if b"SSH-".starts_with(first) || UTF8_BOM.starts_with(first) {
        return Sniffed::NeedMore;
    }
    let body = first.strip_prefix(UTF8_BOM).unwrap_or(first);
    match body.iter().position(|b| !b.is_ascii_whitespace()) {
        None => Sniffed::NeedMore,
        Some(i) if matches!(body[i], b'{' | b'[') => sniff_json(&body[i..]),
        Some(_) => sniff_http(first),
    }
}

/// Some JSON writers start with a byte order mark; lenient readers skip it.
const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

// ---------------------------------------------------------------- TLS

const TLS_HANDSHAKE: u8 = 22;
const CLIENT_HELLO: u8 = 1;
/// RFC 8446 5.1: a plaintext record carries at most 2^14 bytes.
const MAX_RECORD: usize = 1 << 14;
/// version + random + three minimal length-prefixed vectors.
const MIN_HELLO: usize = 2 + 32 + 1 + 2 + 2 + 1 + 1;

fn sniff_tls(buf: &[u8]) -> Sniffed {
    let mut handshake: Vec<u8> = Vec::new();
    let mut rest = buf;
    loop {
        if handshake.first().is_some_and(|&t| t != CLIENT_HELLO) {
            return Sniffed::Other;
        }
        if let Some(len) = hello_len(&handshake) {
            if len < MIN_HELLO || 4 + len > MAX_SNIFF {
                return Sniffed::Other;
            }
            if let Some(body) = handshake.get(4..4 + len) {
                return match client_hello_sni(body) {
                    Some(sni) => Sniffed::Tls { sni },
                    None => Sniffed::Other,
                };
            }
        }
        // Every record until the hello is whole must be a handshake record.
        match rest {
            [] => return Sniffed::NeedMore,
            [t, ..] if *t != TLS_HANDSHAKE => return Sniffed::Other,
            [_, major, ..] if *major != 3 => return Sniffed::Other,
            [_, _, _, hi, lo, ..] => {
                let len = usize::from(u16::from_be_bytes([*hi, *lo]));
                if len == 0 || len > MAX_RECORD {
                    return Sniffed::Other;
                }
                let fragment = &rest[5..];
                if fragment.len() < len {
                    handshake.extend_from_slice(fragment);
                    rest = &[];
                } else {
                    handshake.extend_from_slice(&fragment[..len]);
                    rest = &fragment[len..];
                }
            }
            _ => return Sniffed::NeedMore,
        }
    }
}

/// The ClientHello's length from a handshake header, once 4 bytes are in.
fn hello_len(handshake: &[u8]) -> Option<usize> {
    match handshake {
        [_, a, b, c, ..] => Some(usize::from(*a) << 16 | usize::from(*b) << 8 | usize::from(*c)),
        _ => None,
    }
}

/// Bounds-checked reader over a byte slice; every read is `None` past the end.
struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.buf.len() {
            return None;
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Some(head)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }
    fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|b| u16::from_be_bytes([b[0], b[1]]))
    }
    fn vec8(&mut self) -> Option<&'a [u8]> {
        let n = self.u8()?;
        self.take(usize::from(n))
    }
    fn vec16(&mut self) -> Option<&'a [u8]> {
        let n = self.u16()?;
        self.take(usize::from(n))
    }
    fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }
}

/// `None`: malformed. `Some(None)`: a well-formed hello without SNI.
fn client_hello_sni(body: &[u8]) -> Option<Option<String>> {
    let mut r = Reader { buf: body };
    let legacy_version = r.u16()?;
    if legacy_version >> 8 != 3 {
        return None;
    }
    r.take(32)?; // random
    let session_id = r.vec8()?;
    let suites = r.vec16()?;
    let compression = r.vec8()?;
    if session_id.len() > 32 || suites.is_empty() || suites.len() % 2 != 0 || compression.is_empty()
    {
        return None;
    }
    if r.is_empty() {
        return Some(None); // no extensions at all (SSL 3 / TLS 1.0 style)
    }
    let mut exts = Reader { buf: r.vec16()? };
    if !r.is_empty() {
        return None;
    }
    let mut seen: Vec<u16> = Vec::new();
    let mut sni = None;
    while !exts.is_empty() {
        let kind = exts.u16()?;
        let data = exts.vec16()?;
        if seen.contains(&kind) {
            return None; // RFC 8446 4.2: no duplicate extensions
        }
        seen.push(kind);
        if kind == 0 {
            sni = Some(server_name(data)?);
        }
    }
    Some(sni)
}

/// RFC 6066 3: a ServerNameList holding exactly one host_name.
fn server_name(data: &[u8]) -> Option<String> {
    let mut r = Reader { buf: data };
    let mut list = Reader { buf: r.vec16()? };
    if !r.is_empty() {
        return None;
    }
    let mut name = None;
    while !list.is_empty() {
        let name_type = list.u8()?;
        let host = list.vec16()?;
        if name_type != 0 || name.is_some() {
            return None;
        }
        name = Some(hostname(host)?);
    }
    name
}

/// A DNS host name (letters, digits, '-', '_'; labels of 1..=63), lowercased,
/// trailing dot stripped. `None` for anything else.
fn hostname(raw: &[u8]) -> Option<String> {
    let raw = raw.strip_suffix(b".").unwrap_or(raw);
    if raw.is_empty() || raw.len() > 253 {
        return None;
    }
    let labels_ok = raw.split(|&b| b == b'.').all(|label| {
        (1..=63).contains(&label.len())
            && label
                .iter()
                .all(|&b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    });
    labels_ok.then(|| String::from_utf8_lossy(raw).to_ascii_lowercase())
}

// ---------------------------------------------------------------- HTTP

/// Longer than any registered method ("UPDATEREDIRECTREF" is 17).
const MAX_METHOD: usize = 32;

fn sniff_http(buf: &[u8]) -> Sniffed {
    let start = buf
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap_or(buf.len());
    let line = &buf[start..];
    let method_len = line.iter().position(|&b| b == b' ').unwrap_or(line.len());
    if method_len > MAX_METHOD || !line[..method_len].iter().all(|&b| is_tchar(b)) {
        return Sniffed::Other;
    }
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(buf) {
        Ok(httparse::Status::Complete(_)) => http_seen(&req),
        Ok(httparse::Status::Partial) => Sniffed::NeedMore,
        Err(httparse::Error::TooManyHeaders) => {
            // Rare; retry with room for every header the buffer can hold.
            let mut headers = vec![httparse::EMPTY_HEADER; buf.len() / 4 + 1];
            let mut req = httparse::Request::new(&mut headers);
            match req.parse(buf) {
                Ok(httparse::Status::Complete(_)) => http_seen(&req),
                Ok(httparse::Status::Partial) => Sniffed::NeedMore,
                Err(_) => Sniffed::Other,
            }
        }
        Err(_) => Sniffed::Other,
    }
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn http_seen(req: &httparse::Request<'_, '_>) -> Sniffed {
    let (Some(method), Some(target)) = (req.method, req.path) else {
        return Sniffed::Other;
    };
    let mut host_headers = req
        .headers
        .iter()
        .filter(|h| h.name.eq_ignore_ascii_case("host"));
    let header = host_headers.next();
    if host_headers.next().is_some() {
        return Sniffed::Other; // RFC 9112 3.2: more than one Host is a bad request
    }
    let from_header = match header {
        None => None,
        Some(h) if h.value.is_empty() => None,
        Some(h) => match host_of_authority(h.value) {
            Some(host) => Some(host),
            None => return Sniffed::Other,
        },
    };
    let from_target = if method == "CONNECT" {
        match host_of_authority(target.as_bytes()) {
            Some(host) => Some(host),
            None => return Sniffed::Other,
        }
    } else if let Some((scheme, rest)) = target.split_once("://") {
        let scheme_ok = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
        if !scheme_ok {
            None
        } else {
            let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
            let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
            match host_of_authority(authority.as_bytes()) {
                Some(host) => Some(host),
                None => return Sniffed::Other,
            }
        }
    } else {
        None
    };
    let host = match (from_target, from_header) {
        (Some(t), Some(h)) if t != h => return Sniffed::Other,
        (Some(t), _) => Some(t),
        (None, h) => h,
    };
    Sniffed::Http {
        method: method.to_string(),
        host,
    }
}

/// "Name", "name:port", "[v6]" or "[v6]:port" -> the name or address,
/// lowercased. `None` when malformed.
fn host_of_authority(value: &[u8]) -> Option<String> {
    let value = std::str::from_utf8(value).ok()?;
    let (host, port) = if let Some(inner) = value.strip_prefix('[') {
        let (v6, after) = inner.split_once(']')?;
        let addr: Ipv6Addr = v6.parse().ok()?;
        let port = match after {
            "" => "",
            _ => after.strip_prefix(':')?,
        };
        (addr.to_string(), port)
    } else {
        let (name, port) = value.split_once(':').unwrap_or((value, ""));
        (hostname(name.as_bytes())?, port)
    };
    if !port.is_empty() && port.parse::<u16>().is_err() {
        return None;
    }
    Some(host)
}

// ---------------------------------------------------------------- SSH

/// RFC 4253 4.2: the identification line is at most 255 bytes with CR LF.
const MAX_SSH_LINE: usize = 255;

fn sniff_ssh(buf: &[u8]) -> Sniffed {
    let window = &buf[..buf.len().min(MAX_SSH_LINE)];
    let line = match window.iter().position(|&b| b == b'\n') {
        Some(lf) => &window[..lf],
        None if buf.len() >= MAX_SSH_LINE => window,
        None => return Sniffed::NeedMore,
    };
    let end = line.iter().position(|&b| b == b'\r').unwrap_or(line.len());
    let mut banner = String::with_capacity(end);
    for &b in &line[..end] {
        if (0x20..0x7f).contains(&b) {
            banner.push(char::from(b));
        } else {
            banner.push_str(&format!("\\x{b:02x}"));
        }
    }
    Sniffed::Ssh { banner }
}

// ---------------------------------------------------------------- Stratum

/// Getwork / Ethereum stratum methods, compared case-insensitively.
const ETH_METHODS: [&str; 4] = [
    "eth_submitlogin",
    "eth_getwork",
    "eth_submitwork",
    "eth_submithashrate",
];

/// `buf` starts at '{' or '['. Stratum is newline-delimited, but a miner
/// may put an innocuous call first, or several calls on one line: judge
/// every complete JSON value in the buffer (up to [`MAX_SNIFF`] bytes),
/// whether separated by newlines, other whitespace or nothing. A value
/// that does not parse has the rest of its line skipped, as a line-based
/// server would. `NeedMore` while the last value is incomplete and no
/// earlier one was a mining call.
fn sniff_json(buf: &[u8]) -> Sniffed {
    let mut rest = &buf[..buf.len().min(MAX_SNIFF)];
    loop {
        let mut values = serde_json::Deserializer::from_slice(rest).into_iter::<Value>();
        let failed_at = loop {
            match values.next() {
                None => return Sniffed::Other,
                Some(Ok(value)) => {
                    if let Some(seen) = mining_call(&value) {
                        return seen;
                    }
                }
                Some(Err(e)) if e.is_eof() => return Sniffed::NeedMore,
                // The offset is where the value that failed began.
                Some(Err(_)) => break values.byte_offset(),
            }
        };
        let after = rest.get(failed_at..).unwrap_or_default();
        match after.iter().position(|&b| b == b'\n') {
            Some(lf) => rest = &after[lf + 1..],
            None => return Sniffed::Other,
        }
    }
}

/// A JSON-RPC call, or a batch of them (mining if any call in it is).
fn mining_call(value: &Value) -> Option<Sniffed> {
    match value {
        Value::Object(obj) => stratum(obj),
        Value::Array(items) => items.iter().filter_map(Value::as_object).find_map(stratum),
        _ => None,
    }
}

fn stratum(call: &Map<String, Value>) -> Option<Sniffed> {
    let method = call.get("method")?.as_str()?;
    let lower = method.to_ascii_lowercase();
    let params = call.get("params");
    let agent = if lower.starts_with("mining.") {
        match lower.as_str() {
            "mining.subscribe" => params.and_then(|p| p.get(0)).and_then(agent_text),
            _ => None,
        }
    } else if ETH_METHODS.contains(&lower.as_str()) {
        None
    } else if lower == "login" {
        // XMRig / Monero stratum. A plain API "login" has neither an agent
        // nor the login+pass pair.
        let params = params?.as_object()?;
        match params.get("agent").and_then(agent_text) {
            Some(agent) => Some(agent),
            None if params.contains_key("login") && params.contains_key("pass") => None,
            None => return None,
        }
    } else {
        return None;
    };
    Some(Sniffed::Stratum {
        method: method.to_string(),
        agent,
    })
}

fn agent_text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) if s.is_empty() => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// Captured on loopback: `openssl s_client -connect 127.0.0.1:PORT
    /// -servername example.com` (OpenSSL 3.0.19) against a listener that
    /// dumped the bytes. One record, 317 bytes, X25519 key share.
    const OPENSSL_HELLO: &str = concat!(
        "1603010138010001340303e3e96831439c8e98ab76aad509f5311227d7d0b267cfb5468ed095390d1e392d20f28b2277",
        "b7d75704228e50515b2803b65718d92c321ac453463f2e73b22c1ff6003e130213031301c02cc030009fcca9cca8ccaa",
        "c02bc02f009ec024c028006bc023c0270067c00ac0140039c009c0130033009d009c003d003c0035002f00ff010000ad",
        "00000010000e00000b6578616d706c652e636f6d000b000403000102000a00160014001d0017001e0019001801000101",
        "010201030104002300000016000000170000000d002a0028040305030603080708080809080a080b0804080508060401",
        "05010601030303010302040205020602002b0009080304030303020301002d00020101003300260024001d00200f9087",
        "74475c234e6976f60b170ac2b7c7ff33c14d56457ea9a21e5e4a073062",
    );

    /// Captured the same way from a rustls 0.23 (aws-lc-rs) client given
    /// the name "Example.COM": an X25519MLKEM768 post-quantum key share makes
    /// it 1486 bytes, more than one TCP segment on most links.
    const RUSTLS_PQ_HELLO: &str = concat!(
        "16030105c9010005c50303e0ac8303dde4fb267fd25ac9da571840ce52e557d97a1b96c6d49665aceec36e20dbb52f59",
        "e394397a9450aace950d735c70aeaf65ff6d09c2fd6d25af95ca601c0014130213011303c02cc02bcca9c030c02fcca8",
        "00ff0100056800000010000e00000b4578616d706c652e434f4d000a000a000811ec001d001700180005000501000000",
        "00002d00020101003304ea04e811ec04c00efb67af75ad0e63c387b109bb2a5de20b634aa815f2b6551b2c5ab9391ec2",
        "b10805a34a432bbf8becc05a954f30d5b718fcb121009067b7b587bc007ee32482dc2c751963b9ac4a272829d164b503",
        "db3975b74ad5536cdff21b39f347ce0b312b591d17009af7e735ce5695afb97498c9b7af345146a664c24b43d5658d91",
        "d5be6a72b910145dbde40330f5b3e3f423b5a59d37f267ff2a4d72b77a512512e028cedb80051e4a6dd1b41b9e219f77",
        "46c218a6178463cae5f60c4f840bcbd30d2af3cdfad6ade316c50c3c8582531920431f52675f6086719c571fa9203832",
        "b38e866b8527d3500c4ab9e8e523af321a8a694fc583cfe0511bff07282c718f080bb3ad6044501447b0a15bf555b842",
        "b13fbc2993e6aba3d359115cc6910e088ce4d9bdd8d2b108d13858275b962418606c51b8250c9f261faf7c2a46dbb1d5",
        "f7535d16b405aa5f8629982f96088eb5286ee2838bbaafb6b4633081c037898167cbc041362193552678199cafcc3874",
        "361b224a329a734e0ca3696ef984f3c1bf6e9898dd6c697518a79088162de8258c978fd70abc89a95847c51cdbe961c3",
        "340dda2338ba318c63c6c022f11be64ccf326a1208b1a4a980000241c36f740cca567fadd73b5a6a14ffd59acd615fa8",
        "dc1e1676c49222037b97cbe43962b1329ef85c6afbc27acaebcced146436b451d7f667f7eac5778288d7b74c7fd02f4a",
        "0b5c334803c706750cea96b4d47dc4574b7a81cb34498acdd60467354c647743165b0210a11ddd729a48f6a7d7439403",
        "2050fe460aaee029145b65f9003753f014c060146d9391ffab10e7e4c8901207c06536b9464ec82877d132b5e0523ea9",
        "1c572cc304df65b501a56017d673e685aa86ec3687341fa1e2696bd78ec1f1c24a423d21ac5be9421c4e07c770b1251f",
        "ca8b7a09132cb0a611739f86b942ba470aedf88fbeba6b4caa01c58b55cdaaa0fbb73e1873b354d1ba365a13ba157855",
        "5b7e79bc4318829397873fe9239772ca1c1ba54896115d33f99fd1e317b721072ebb4e7038b3655626086cb5f483380d",
        "6162fb8522bd83b0a67185b86b9d98b07635db919e471c065b68efb913de4a6f68bc847d6b0eaa26a03c740083e4a4b5",
        "a8c738aa76f0403898e2681af6a354622462c44c3f898d44156b2986534c87a9fd038f858c6477c1550061066ed7c89c",
        "c9415df5865ae05d099673c3825ac3d11deb876cb6930f6000314ff9b963430b9aec318a35bc0aaac9a5c3464736657d",
        "b6baf5777d5c066174981231a789e3cbc1161c77bd974741db03b372cd387c0a87f573907199c5f527dd7558f77ab077",
        "783f71931993c02d08e44064468d68cbaaba859ed9973cd4ac8641804e80f00620aba5b0aa9d051530f6c7749d346577",
        "d8008fea7d34e5ae4ae0083859ca196741fea966477254dc8916197125cf86cc8e023d3ab40b96bb5952db580148ab23",
        "70355d6cc1cc778d8f685f36ac72093acd33818c094473bc43330f62a4ddc60010bb3eff90321504055ac60a1fd9bbe9",
        "6a8a6a181c948845c340752a7aacbbb7a99fa1832b802fed13bd541c5aa34723debb176f5b3c8ccb86e8307e0404964d",
        "055d52fb7d1a4711b3e20636c96755b31defe8e4ca526cd8be5ca599b27ac5831237c68362419761fca3da9b438e168b",
        "8a62b6c9090c6abed92e0c98c426283ce66223ffe5d820bc6a366c9c0078d9cb02001d002062b6c9090c6abed92e0c98",
        "c426283ce66223ffe5d820bc6a366c9c0078d9cb02000b00020100002300000010000e000c02683208687474702f312e",
        "31000d001c001a0503040306030807080608050804060105010401090409050906002b0005040304030300170000",
    );

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn tls(sni: Option<&str>) -> Sniffed {
        Sniffed::Tls {
            sni: sni.map(str::to_string),
        }
    }

    /// The handshake message (without record header) of a one-record hello.
    fn handshake_of(record: &[u8]) -> Vec<u8> {
        record[5..].to_vec()
    }

    /// Split a handshake message into records of the given fragment sizes
    /// (the last size repeats).
    fn records(handshake: &[u8], sizes: &[usize]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut rest = handshake;
        let mut i = 0;
        while !rest.is_empty() {
            let n = sizes[i.min(sizes.len() - 1)].min(rest.len());
            out.extend_from_slice(&[22, 3, 1]);
            out.extend_from_slice(&u16::try_from(n).unwrap().to_be_bytes());
            out.extend_from_slice(&rest[..n]);
            rest = &rest[n..];
            i += 1;
        }
        out
    }

    /// A minimal ClientHello handshake message with these extensions.
    fn hello(exts: &[(u16, Vec<u8>)]) -> Vec<u8> {
        let mut body = vec![3, 3];
        body.extend_from_slice(&[7; 32]);
        body.extend_from_slice(&[0, 0, 2, 0x13, 0x01, 1, 0]);
        let mut ext_bytes = Vec::new();
        for (kind, data) in exts {
            ext_bytes.extend_from_slice(&kind.to_be_bytes());
            ext_bytes.extend_from_slice(&u16::try_from(data.len()).unwrap().to_be_bytes());
            ext_bytes.extend_from_slice(data);
        }
        body.extend_from_slice(&u16::try_from(ext_bytes.len()).unwrap().to_be_bytes());
        body.extend_from_slice(&ext_bytes);
        let len = u32::try_from(body.len()).unwrap().to_be_bytes();
        let mut msg = vec![1, len[1], len[2], len[3]];
        msg.extend_from_slice(&body);
        msg
    }

    /// server_name extension data holding these (type, name) entries.
    fn sni_ext(names: &[(u8, &[u8])]) -> Vec<u8> {
        let mut list = Vec::new();
        for (ty, name) in names {
            list.push(*ty);
            list.extend_from_slice(&u16::try_from(name.len()).unwrap().to_be_bytes());
            list.extend_from_slice(name);
        }
        let mut data = u16::try_from(list.len()).unwrap().to_be_bytes().to_vec();
        data.extend_from_slice(&list);
        data
    }

    fn one_record(exts: &[(u16, Vec<u8>)]) -> Vec<u8> {
        records(&hello(exts), &[MAX_RECORD])
    }

    #[test]
    fn real_openssl_hello() {
        let bytes = unhex(OPENSSL_HELLO);
        assert_eq!(bytes.len(), 317);
        assert_eq!(sniff(&bytes), tls(Some("example.com")));
    }

    #[test]
    fn real_post_quantum_hello_is_lowercased() {
        let bytes = unhex(RUSTLS_PQ_HELLO);
        assert!(bytes.len() > 1400);
        // The X25519MLKEM768 group (0x11ec) is in the key share.
        assert!(bytes.windows(2).any(|w| w == [0x11, 0xec]));
        assert_eq!(sniff(&bytes), tls(Some("example.com")));
    }

    #[test]
    fn every_proper_prefix_needs_more() {
        for hex in [OPENSSL_HELLO, RUSTLS_PQ_HELLO] {
            let bytes = unhex(hex);
            for n in 0..bytes.len() {
                assert_eq!(sniff(&bytes[..n]), Sniffed::NeedMore, "prefix of {n} bytes");
            }
        }
    }

    #[test]
    fn hello_fragmented_across_records() {
        let hs = handshake_of(&unhex(RUSTLS_PQ_HELLO));
        for sizes in [&[1][..], &[3], &[4, 1000], &[100, 1], &[700], &[1485]] {
            let bytes = records(&hs, sizes);
            assert_eq!(
                sniff(&bytes),
                tls(Some("example.com")),
                "fragments {sizes:?}"
            );
            for n in 0..bytes.len() {
                assert_eq!(
                    sniff(&bytes[..n]),
                    Sniffed::NeedMore,
                    "fragments {sizes:?}, prefix {n}"
                );
            }
        }
    }

    #[test]
    fn trailing_records_after_a_complete_hello_are_ignored() {
        let mut bytes = unhex(OPENSSL_HELLO);
        bytes.extend_from_slice(&[23, 3, 3, 0, 2, 0xaa, 0xbb]); // early data
        assert_eq!(sniff(&bytes), tls(Some("example.com")));
    }

    #[test]
    fn non_handshake_record_before_the_hello_is_whole() {
        let hs = handshake_of(&unhex(OPENSSL_HELLO));
        let mut bytes = records(&hs[..100], &[100]);
        bytes.extend_from_slice(&[21, 3, 3, 0, 2, 2, 40]); // an alert
        assert_eq!(sniff(&bytes), Sniffed::Other);
    }

    #[test]
    fn hello_without_sni_or_extensions() {
        assert_eq!(sniff(&one_record(&[(10, vec![0, 2, 0, 29])])), tls(None));
        // TLS 1.0 style: no extensions block at all.
        let mut hs = hello(&[]);
        hs.truncate(hs.len() - 2);
        hs[3] -= 2;
        assert_eq!(sniff(&records(&hs, &[MAX_RECORD])), tls(None));
    }

    #[test]
    fn sni_is_normalised() {
        let bytes = one_record(&[(0, sni_ext(&[(0, b"WWW.Example.org.")]))]);
        assert_eq!(sniff(&bytes), tls(Some("www.example.org")));
        let bytes = one_record(&[(0, sni_ext(&[(0, b"_acme.x-y.example")]))]);
        assert_eq!(sniff(&bytes), tls(Some("_acme.x-y.example")));
    }

    #[test]
    fn malformed_sni_is_other() {
        let bad: [Vec<u8>; 9] = [
            sni_ext(&[(0, b"a.example"), (0, b"b.example")]), // two names
            sni_ext(&[(1, b"a.example")]),                    // unknown name type
            sni_ext(&[(0, "bücher.example".as_bytes())]),     // not ASCII
            sni_ext(&[(0, b"a b.example")]),
            sni_ext(&[(0, b"a..example")]),
            sni_ext(&[(0, b"")]),
            sni_ext(&[(0, b".")]),
            sni_ext(&[]), // empty list
            vec![],       // empty extension (a server's form)
        ];
        for data in bad {
            assert_eq!(
                sniff(&one_record(&[(0, data.clone())])),
                Sniffed::Other,
                "{data:?}"
            );
        }
        let long_label = [b'a'; 64];
        assert_eq!(
            sniff(&one_record(&[(0, sni_ext(&[(0, &long_label)]))])),
            Sniffed::Other
        );
        // Duplicate extensions.
        let sni = sni_ext(&[(0, b"a.example")]);
        assert_eq!(
            sniff(&one_record(&[(0, sni.clone()), (0, sni)])),
            Sniffed::Other
        );
    }

    #[test]
    fn malformed_records_are_other() {
        let hs = hello(&[]);
        assert_eq!(sniff(&[22, 2]), Sniffed::Other); // not version 3.x
        assert_eq!(sniff(&[22, 3, 1, 0, 0]), Sniffed::Other); // empty record
        assert_eq!(sniff(&[22, 3, 1, 0x40, 1]), Sniffed::Other); // over 2^14
        let mut server_hello = hs.clone();
        server_hello[0] = 2;
        assert_eq!(sniff(&records(&server_hello, &[10])[..6]), Sniffed::Other);
        let mut tiny = hs.clone();
        tiny.truncate(4 + 20);
        tiny[1..4].copy_from_slice(&[0, 0, 20]);
        assert_eq!(sniff(&records(&tiny, &[100])), Sniffed::Other);
        let mut huge = hs;
        huge[1..4].copy_from_slice(&[0, 0x80, 0]);
        assert_eq!(sniff(&records(&huge, &[100])), Sniffed::Other);
        // The first byte alone is a prefix.
        assert_eq!(sniff(&[22]), Sniffed::NeedMore);
    }

    /// xorshift64*: deterministic noise without a dependency.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
        fn below(&mut self, n: usize) -> usize {
            usize::try_from(self.next() % u64::try_from(n).unwrap()).unwrap()
        }
    }

    #[test]
    fn mutated_hellos_never_panic() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for hex in [OPENSSL_HELLO, RUSTLS_PQ_HELLO] {
            let original = unhex(hex);
            for _ in 0..3000 {
                let mut bytes = original.clone();
                for _ in 0..1 + rng.below(4) {
                    let i = rng.below(bytes.len());
                    match rng.below(4) {
                        0 => bytes[i] = u8::try_from(rng.below(256)).unwrap(),
                        1 => bytes[i] ^= 1 << rng.below(8),
                        2 => bytes.truncate(i.max(1)),
                        _ => bytes.insert(i, u8::try_from(rng.below(256)).unwrap()),
                    }
                }
                let _ = sniff(&bytes);
            }
        }
        for _ in 0..3000 {
            let len = rng.below(300);
            let mut bytes: Vec<u8> = (0..len)
                .map(|_| u8::try_from(rng.below(256)).unwrap())
                .collect();
            if let Some(b) = bytes.first_mut() {
                *b = 22;
            }
            let _ = sniff(&bytes);
        }
    }

    fn http(method: &str, host: Option<&str>) -> Sniffed {
        Sniffed::Http {
            method: method.to_string(),
            host: host.map(str::to_string),
        }
    }

    #[test]
    fn http_request_heads() {
        let req = b"GET /index.html HTTP/1.1\r\nHost: Example.COM\r\nUser-Agent: curl/8\r\n\r\n";
        assert_eq!(sniff(req), http("GET", Some("example.com")));
        for n in 1..req.len() {
            assert_eq!(sniff(&req[..n]), Sniffed::NeedMore, "prefix {n}");
        }
        assert_eq!(sniff(b"POST / HTTP/1.0\r\n\r\nbody"), http("POST", None));
        assert_eq!(
            sniff(b"\r\nGET / HTTP/1.1\r\nhost: a.example\r\n\r\n"),
            http("GET", Some("a.example"))
        );
    }

    #[test]
    fn http_host_ports_and_ipv6() {
        let cases = [
            ("example.com:8080", Some("example.com")),
            ("example.com:", Some("example.com")),
            ("[::1]:8080", Some("::1")),
            ("[2001:DB8::1]", Some("2001:db8::1")),
            ("127.0.0.1:80", Some("127.0.0.1")),
            ("example.com.", Some("example.com")),
            ("", None),
        ];
        for (value, want) in cases {
            let req = format!("GET / HTTP/1.1\r\nHost: {value}\r\n\r\n");
            assert_eq!(sniff(req.as_bytes()), http("GET", want), "{value}");
        }
        for bad in [
            "::1",
            "[::1",
            "[nope]:80",
            "example.com:http",
            "a b",
            "x:99999",
            "[::1]x",
        ] {
            let req = format!("GET / HTTP/1.1\r\nHost: {bad}\r\n\r\n");
            assert_eq!(sniff(req.as_bytes()), Sniffed::Other, "{bad}");
        }
        let two = b"GET / HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\n\r\n";
        assert_eq!(sniff(two), Sniffed::Other);
    }

    #[test]
    fn http_absolute_and_authority_form() {
        let req = b"GET http://User@Example.com:8080/x?y=http://z HTTP/1.1\r\n\r\n";
        assert_eq!(sniff(req), http("GET", Some("example.com")));
        let req = b"GET http://example.com/ HTTP/1.1\r\nHost: example.com:80\r\n\r\n";
        assert_eq!(sniff(req), http("GET", Some("example.com")));
        // The target names one host and the Host header another: ambiguous.
        let req = b"GET http://evil.example/ HTTP/1.1\r\nHost: good.example\r\n\r\n";
        assert_eq!(sniff(req), Sniffed::Other);
        let req = b"CONNECT [::1]:443 HTTP/1.1\r\nHost: [::1]:443\r\n\r\n";
        assert_eq!(sniff(req), http("CONNECT", Some("::1")));
        // A query string with "://" in an origin-form target is just a path.
        let req = b"GET /r?u=http://evil.example HTTP/1.1\r\nHost: good.example\r\n\r\n";
        assert_eq!(sniff(req), http("GET", Some("good.example")));
    }

    #[test]
    fn not_http() {
        assert_eq!(sniff(b"\x00\x01\x02"), Sniffed::Other);
        assert_eq!(sniff(b"hello world\r\n\r\n"), Sniffed::Other);
        assert_eq!(sniff(b"PING\r\n"), Sniffed::Other); // redis
        assert_eq!(sniff(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), Sniffed::Other);
        assert_eq!(
            sniff(b"GET / HTTP/1.1\r\nBad Header: x\r\n\r\n"),
            Sniffed::Other
        );
        assert_eq!(sniff(&[b'A'; MAX_METHOD + 1]), Sniffed::Other);
        assert_eq!(sniff(b" GET / HTTP/1.1\r\n\r\n"), Sniffed::Other);
        assert_eq!(sniff(b"\r\n"), Sniffed::NeedMore);
    }

    #[test]
    fn many_headers_still_parse() {
        let mut req = b"GET / HTTP/1.1\r\nHost: a.example\r\n".to_vec();
        for i in 0..200 {
            req.extend_from_slice(format!("X-{i}: v\r\n").as_bytes());
        }
        req.extend_from_slice(b"\r\n");
        assert_eq!(sniff(&req), http("GET", Some("a.example")));
    }

    fn ssh(banner: &str) -> Sniffed {
        Sniffed::Ssh {
            banner: banner.to_string(),
        }
    }

    #[test]
    fn ssh_banners() {
        let line = b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n";
        assert_eq!(sniff(line), ssh("SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3"));
        for n in 1..line.len() {
            assert_eq!(sniff(&line[..n]), Sniffed::NeedMore, "prefix {n}");
        }
        // LF alone, and key exchange bytes right behind the line.
        assert_eq!(
            sniff(b"SSH-2.0-Go\n\x00\x00\x01\x0c\x0a\x14"),
            ssh("SSH-2.0-Go")
        );
        // No line end within 255 bytes: decide with what's there.
        let mut long = b"SSH-2.0-".to_vec();
        long.resize(400, b'x');
        match sniff(&long) {
            Sniffed::Ssh { banner } => assert_eq!(banner.len(), 255),
            other => panic!("{other:?}"),
        }
        assert_eq!(sniff(b"SSH-2.0-\x1b[31m\r\n"), ssh("SSH-2.0-\\x1b[31m"));
    }

    #[test]
    fn ssh_near_misses() {
        assert_eq!(sniff(b"SSH2.0-OpenSSH\r\n"), Sniffed::Other);
        assert_eq!(sniff(b"SSH 2.0\r\n"), Sniffed::Other);
        assert_eq!(sniff(b"ssh-2.0-x\r\n"), Sniffed::Other);
        // "SSH" as an HTTP method is HTTP.
        assert_eq!(sniff(b"SSH / HTTP/1.1\r\n\r\n"), http("SSH", None));
    }

    fn stratum(method: &str, agent: Option<&str>) -> Sniffed {
        Sniffed::Stratum {
            method: method.to_string(),
            agent: agent.map(str::to_string),
        }
    }

    #[test]
    fn stratum_methods() {
        let cases = [
            (
                r#"{"id":1,"method":"mining.subscribe","params":["cgminer/4.10.0"]}"#,
                stratum("mining.subscribe", Some("cgminer/4.10.0")),
            ),
            (
                r#"{"id":1,"method":"mining.subscribe","params":[]}"#,
                stratum("mining.subscribe", None),
            ),
            (
                r#"{"id":2,"method":"mining.authorize","params":["w","x"]}"#,
                stratum("mining.authorize", None),
            ),
            (
                r#"{"id":1,"method":"mining.configure","params":[["version-rolling"],{}]}"#,
                stratum("mining.configure", None),
            ),
            (
                r#"{"id":3,"method":"mining.extranonce.subscribe","params":[]}"#,
                stratum("mining.extranonce.subscribe", None),
            ),
            (
                r#"{"id":1,"jsonrpc":"2.0","method":"eth_submitLogin","params":["0xabc"]}"#,
                stratum("eth_submitLogin", None),
            ),
            (
                r#"{"id":1,"method":"eth_getWork","params":[]}"#,
                stratum("eth_getWork", None),
            ),
            (
                r#"{"id":1,"method":"eth_submitWork","params":[]}"#,
                stratum("eth_submitWork", None),
            ),
            (
                r#"{"id":1,"method":"eth_submitHashrate","params":[]}"#,
                stratum("eth_submitHashrate", None),
            ),
            (
                r#"{"id":1,"jsonrpc":"2.0","method":"login","params":{"login":"4A","pass":"x","agent":"XMRig/6.21.0 (Linux x86_64) libuv/1.44.2 gcc/12.2.0","algo":["rx/0"]}}"#,
                stratum(
                    "login",
                    Some("XMRig/6.21.0 (Linux x86_64) libuv/1.44.2 gcc/12.2.0"),
                ),
            ),
            (
                r#"{"id":1,"method":"login","params":{"login":"4A","pass":"x"}}"#,
                stratum("login", None),
            ),
            (
                r#"{"id":1,"method":"login","params":{"agent":"xmr-stak"}}"#,
                stratum("login", Some("xmr-stak")),
            ),
        ];
        for (line, want) in cases {
            assert_eq!(sniff(format!("{line}\n").as_bytes()), want, "{line}");
            // A complete JSON value without its newline is enough.
            assert_eq!(sniff(line.as_bytes()), want, "{line}");
            for n in 1..line.len() {
                assert_eq!(
                    sniff(&line.as_bytes()[..n]),
                    Sniffed::NeedMore,
                    "{line} prefix {n}"
                );
            }
        }
    }

    #[test]
    fn stratum_in_a_larger_first_chunk() {
        let chunk = concat!(
            "{\"id\":1,\"method\":\"mining.subscribe\",\"params\":[\"bmminer/2.0\"]}\r\n",
            "{\"id\":2,\"method\":\"mining.authorize\",\"params\":[\"w\",\"x\"]}\n",
            "{\"id\":3,"
        );
        assert_eq!(
            sniff(chunk.as_bytes()),
            stratum("mining.subscribe", Some("bmminer/2.0"))
        );
        let batch =
            r#"[{"id":1,"method":"ping"},{"id":2,"method":"mining.subscribe","params":[]}]"#;
        assert_eq!(sniff(batch.as_bytes()), stratum("mining.subscribe", None));
        assert_eq!(
            sniff(b"  \n{\"method\":\"eth_getWork\"}\n"),
            stratum("eth_getWork", None)
        );
    }

    #[test]
    fn json_that_is_not_mining() {
        let others = [
            // An ordinary API's login: no pass, no agent.
            r#"{"jsonrpc":"2.0","id":1,"method":"login","params":{"user":"alice","token":"t"}}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"login","params":{"login":"alice"}}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"login","params":["alice","pw"]}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}"#,
            r#"{"method":42}"#,
            r#"{"hello":"world"}"#,
            r#"[1,2,3]"#,
            r#"{"a":1} trailing"#,
            r#"{"a":1}{"b":2}"#,
        ];
        for line in others {
            assert_eq!(
                sniff(format!("{line}\n").as_bytes()),
                Sniffed::Other,
                "{line}"
            );
        }
        // A line that is not JSON, and nothing after it.
        assert_eq!(
            sniff(b"{\"method\":\"mining.subscribe\"\n]"),
            Sniffed::Other
        );
        // Deep nesting is rejected by serde_json's recursion limit, not the stack.
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        assert_eq!(sniff(deep.as_bytes()), Sniffed::Other);
    }

    #[test]
    fn stratum_behind_innocuous_json() {
        let sub = r#"{"id":1,"method":"mining.subscribe","params":["cpuminer/2.5"]}"#;
        let want = stratum("mining.subscribe", Some("cpuminer/2.5"));
        let chunks = [
            // An innocuous first line.
            format!("{{}}\n{sub}\n"),
            format!("{{\"id\":0,\"method\":\"ping\"}}\r\n{sub}"),
            format!("[]\n[1,2]\n\"x\"\n42\nnull\n{sub}\n"),
            // Values back to back on one line, or separated by spaces.
            format!("{{\"id\":0}}{sub}"),
            format!("{{\"id\":0}} \t {sub}"),
            format!("[{{\"id\":0}}]{sub}\n"),
            // A leading BOM, whitespace, blank lines.
            format!("\u{feff}{sub}\n"),
            format!("\u{feff}\r\n\n  {sub}\n"),
            format!("\n\n\t{sub}\n"),
            format!("\u{feff}{{}}\n\n{sub}"),
            // Pretty-printed over several lines.
            sub.replace(',', ",\n  "),
            // A line that is not JSON, then a mining call on the next.
            format!("{{\"id\":0}} junk\n{sub}\n"),
            format!("{{\"id\":1,\n{sub}\n"),
            format!("{{]\n{sub}"),
        ];
        for chunk in &chunks {
            assert_eq!(sniff(chunk.as_bytes()), want, "{chunk:?}");
        }
        // Found in a complete value: an incomplete one after it is no reason
        // to wait.
        let chunk = format!("{{}}\n{sub}\n{{\"id\":2,\"method\":\"mining.auth");
        assert_eq!(sniff(chunk.as_bytes()), want);
        // A call that straddles the sniff window is not judged: the caller
        // stops reading at MAX_SNIFF and takes NeedMore as Other.
        let mut late = "{}\n".repeat(MAX_SNIFF / 3);
        late.push_str(sub);
        assert_eq!(sniff(late.as_bytes()), Sniffed::NeedMore);
        let mut early = "{}\n".repeat(MAX_SNIFF / 3 - 30);
        early.push_str(sub);
        early.push_str(&"{}\n".repeat(100));
        assert_eq!(sniff(early.as_bytes()), want);
    }

    #[test]
    fn incomplete_json_after_innocuous_values_needs_more() {
        let sub = br#"{"id":1,"method":"mining.subscribe","params":[]}"#;
        for lead in [&b"{}\n"[..], b"{\"id\":0}", b"\xEF\xBB\xBF", b" \r\n[1]\n"] {
            let mut chunk = lead.to_vec();
            chunk.extend_from_slice(sub);
            assert_eq!(
                sniff(&chunk),
                stratum("mining.subscribe", None),
                "{}",
                String::from_utf8_lossy(&chunk)
            );
            // The innocuous values are complete, the call is not yet.
            for n in lead.len() + 1..chunk.len() {
                let prefix = &chunk[..n];
                let shown = String::from_utf8_lossy(prefix);
                assert_eq!(sniff(prefix), Sniffed::NeedMore, "{shown}");
            }
        }
        assert_eq!(sniff(b"{}\n{\"id\":3,"), Sniffed::NeedMore);
        assert_eq!(sniff(b"{\"id\":0}{\"method\":\"min"), Sniffed::NeedMore);
        assert_eq!(sniff(b"{}\n\"unterminated"), Sniffed::NeedMore);
        assert_eq!(sniff(b"{\"id\":3,\n"), Sniffed::NeedMore);
        // Prefixes of a BOM, and a BOM with only whitespace so far.
        assert_eq!(sniff(b"\xEF"), Sniffed::NeedMore);
        assert_eq!(sniff(b"\xEF\xBB"), Sniffed::NeedMore);
        assert_eq!(sniff(b"\xEF\xBB\xBF"), Sniffed::NeedMore);
        assert_eq!(sniff(b"\xEF\xBB\xBF \r\n"), Sniffed::NeedMore);
    }

    #[test]
    fn json_values_none_of_them_mining() {
        let others = [
            "{}\n{}\n",
            "{}",
            "{\"id\":0}{\"id\":1}",
            "\u{feff}{\"hello\":\"world\"}\n",
            "\n\n  {\"jsonrpc\":\"2.0\",\"method\":\"initialize\"}\n",
            "[{\"id\":0},{\"method\":\"eth_blockNumber\"}]{\"method\":\"login\",\"params\":{}}",
            // Mining words in the wrong places.
            "{\"id\":0}\n{\"params\":{\"method\":\"mining.subscribe\"}}\n",
            "{\"id\":0}\n{\"result\":\"mining.subscribe\"}\n",
            "{}\n[[{\"method\":\"mining.subscribe\"}]]\n",
            "{}\n\"mining.subscribe\"\n",
            "{}\n{\"method\":\"mining\"}\n",
            "{}\n{\"method\":\"eth_getWorkX\"}\n",
            "{}\n{\"method\":\"login\",\"params\":{\"login\":\"a\"}}\n",
            // A mining call that is not valid JSON on its own line.
            "{}\n{\"method\":\"mining.subscribe\"]\n",
            "{}x{\"method\":\"mining.subscribe\"}\n",
            "{}\n\u{feff}{\"method\":\"mining.subscribe\"}\n",
        ];
        for chunk in others {
            assert_eq!(sniff(chunk.as_bytes()), Sniffed::Other, "{chunk:?}");
        }
        // A BOM before something that is not JSON.
        assert_eq!(sniff(b"\xEF\xBB\xBFGET / HTTP/1.1\r\n\r\n"), Sniffed::Other);
        assert_eq!(sniff(b"\xEF\xBB\xBF\xEF\xBB\xBF{}"), Sniffed::Other);
        assert_eq!(sniff(b"\xEF\xBC"), Sniffed::Other);
    }

    #[test]
    fn empty_and_whitespace_need_more() {
        assert_eq!(sniff(b""), Sniffed::NeedMore);
        assert_eq!(sniff(b"S"), Sniffed::NeedMore);
        assert_eq!(sniff(b"SSH"), Sniffed::NeedMore);
        assert_eq!(sniff(b"  \n"), Sniffed::NeedMore);
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut rng = Rng(42);
        let seeds: [&[u8]; 4] = [
            b"GET / HTTP/1.1\r\nHost: [::1]:80\r\n\r\n",
            b"SSH-2.0-x\r\n",
            br#"{"method":"login","params":{"agent":"a"}}"#,
            b"CONNECT a:1 HTTP/1.1\r\n\r\n",
        ];
        for seed in seeds {
            for _ in 0..2000 {
                let mut bytes = seed.to_vec();
                for _ in 0..1 + rng.below(3) {
                    let i = rng.below(bytes.len());
                    bytes[i] = u8::try_from(rng.below(256)).unwrap();
                }
                let _ = sniff(&bytes);
            }
        }
    }
}
