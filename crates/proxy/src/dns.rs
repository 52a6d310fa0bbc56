//! The sandbox's resolver speaks DNS: parse one query, build one reply.
//! Transport (UDP datagrams, TCP length prefixes) is handled by the caller.
//!
//! Written by hand rather than with `hickory-proto` or `simple-dns`: the
//! resolver never forwards or parses answers, it only reads one question
//! and writes A/AAAA answers, an OPT record and an Extended DNS Error
//! (RFC 8914). That is a couple of hundred lines with explicit bounds
//! checks, gives errors that name the byte offset, and renders names in
//! exactly the escaped form the policy matches against. hickory-proto is a
//! large compile on a 2-core CI machine, and simple-dns would still need
//! our own name escaping and EDE encoding.

use std::net::IpAddr;

/// One parsed DNS question with the header bits the reply echoes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    pub id: u16,
    /// Lowercase, no trailing dot, labels joined by '.'; a byte outside
    /// `[-_a-z0-9]` inside a label is written `\DDD` (decimal), as dig does
    /// (so a '.' inside a label is `\046`). The root name is ".".
    pub name: String,
    pub qtype: u16,
    pub qclass: u16,
    /// The query carried an OPT record (EDNS(0)).
    pub edns: bool,
    /// Recursion desired.
    pub rd: bool,
}

/// Why a message is not a query this resolver answers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DnsError {
    #[error(
        "truncated at byte {at}: the message ends before the field that starts or continues there"
    )]
    Truncated { at: usize },
    #[error("message is a response (QR=1), not a query")]
    Response,
    #[error("opcode {0} is not QUERY (0)")]
    Opcode(u8),
    #[error("query has {0} questions; exactly 1 is allowed")]
    QuestionCount(u16),
    #[error("compression pointer loop at byte {at}")]
    PointerLoop { at: usize },
    #[error(
        "compression pointer at byte {at} points past the end of the message, to byte {target}"
    )]
    PointerOutOfRange { at: usize, target: usize },
    #[error("label type 0x{kind:02x} at byte {at} is not supported")]
    LabelType { at: usize, kind: u8 },
    #[error("name starting at byte {at} is longer than 255 bytes")]
    NameTooLong { at: usize },
    #[error("query has more than one OPT record")]
    DuplicateOpt,
}

/// What the resolver decided for a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// Addresses for the name. Only those matching the query type become
    /// answers (A: IPv4, AAAA: IPv6, ANY: both); none matching is NODATA.
    Addrs {
        addrs: Vec<IpAddr>,
        ttl: u32,
    },
    /// NOERROR with no answers.
    NoData,
    NxDomain {
        text: Option<String>,
    },
    Refused {
        text: Option<String>,
    },
    ServFail {
        text: Option<String>,
    },
}

const TYPE_A: u16 = 1;
const TYPE_AAAA: u16 = 28;
const TYPE_OPT: u16 = 41;
const TYPE_ANY: u16 = 255;
const CLASS_IN: u16 = 1;
const CLASS_ANY: u16 = 255;

const QR: u16 = 0x8000;
const RD: u16 = 0x0100;
const RA: u16 = 0x0080;
const HEADER_LEN: usize = 12;
const MAX_NAME: usize = 255;
/// A name has at most 127 labels, so more jumps than that is a loop.
const MAX_POINTERS: usize = 127;
/// The UDP payload size advertised in our OPT record (DNS flag day 2020).
const EDNS_UDP_SIZE: u16 = 1232;
const EDE_OPTION: u16 = 15;
const EDE_OTHER: u16 = 0;
const EDE_PROHIBITED: u16 = 18;
const EDE_TEXT_MAX: usize = 200;
/// Keeps a reply within 65535 bytes whatever the address list.
const MAX_ANSWERS: usize = 2000;

/// The mnemonic of a query type, or `TYPE<n>` (RFC 3597) for others.
pub fn qtype_name(qtype: u16) -> String {
    let name = match qtype {
        1 => "A",
        2 => "NS",
        5 => "CNAME",
        6 => "SOA",
        10 => "NULL",
        12 => "PTR",
        13 => "HINFO",
        15 => "MX",
        16 => "TXT",
        17 => "RP",
        18 => "AFSDB",
        24 => "SIG",
        25 => "KEY",
        28 => "AAAA",
        29 => "LOC",
        33 => "SRV",
        35 => "NAPTR",
        36 => "KX",
        37 => "CERT",
        39 => "DNAME",
        41 => "OPT",
        42 => "APL",
        43 => "DS",
        44 => "SSHFP",
        45 => "IPSECKEY",
        46 => "RRSIG",
        47 => "NSEC",
        48 => "DNSKEY",
        49 => "DHCID",
        50 => "NSEC3",
        51 => "NSEC3PARAM",
        52 => "TLSA",
        53 => "SMIMEA",
        55 => "HIP",
        59 => "CDS",
        60 => "CDNSKEY",
        61 => "OPENPGPKEY",
        62 => "CSYNC",
        63 => "ZONEMD",
        64 => "SVCB",
        65 => "HTTPS",
        99 => "SPF",
        108 => "EUI48",
        109 => "EUI64",
        249 => "TKEY",
        250 => "TSIG",
        251 => "IXFR",
        252 => "AXFR",
        253 => "MAILB",
        254 => "MAILA",
        255 => "ANY",
        256 => "URI",
        257 => "CAA",
        _ => return format!("TYPE{qtype}"),
    };
    name.to_string()
}

fn u16_at(msg: &[u8], at: usize) -> Result<u16, DnsError> {
    match msg.get(at..at + 2) {
        Some(&[hi, lo]) => Ok(u16::from_be_bytes([hi, lo])),
        _ => Err(DnsError::Truncated { at: msg.len() }),
    }
}

/// Parse one query: QR=0, opcode QUERY, exactly one question. The answer
/// and authority sections are skipped; the additional section is read for
/// an OPT record.
/// Bytes after the last record are ignored.
pub fn parse_query(msg: &[u8]) -> Result<Query, DnsError> {
    if msg.len() < HEADER_LEN {
        return Err(DnsError::Truncated { at: msg.len() });
    }
    let id = u16_at(msg, 0)?;
    let flags = u16_at(msg, 2)?;
    if flags & QR != 0 {
        return Err(DnsError::Response);
    }
    let opcode = ((flags >> 11) & 0xf) as u8;
    if opcode != 0 {
        return Err(DnsError::Opcode(opcode));
    }
    let questions = u16_at(msg, 4)?;
    if questions != 1 {
        return Err(DnsError::QuestionCount(questions));
    }
    let before_additional = u32::from(u16_at(msg, 6)?) + u32::from(u16_at(msg, 8)?);
    let records = before_additional + u32::from(u16_at(msg, 10)?);
    let (name, mut pos) = read_name(msg, HEADER_LEN)?;
    let qtype = u16_at(msg, pos)?;
    let qclass = u16_at(msg, pos + 2)?;
    pos += 4;
    let mut edns = false;
    // Each record takes at least 11 bytes, so a lying count ends in
    // `Truncated` after at most msg.len() / 11 rounds.
    for i in 0..records {
        let (_, after_name) = read_name(msg, pos)?;
        let rtype = u16_at(msg, after_name)?;
        let rdlen = usize::from(u16_at(msg, after_name + 8)?);
        pos = after_name + 10 + rdlen;
        if pos > msg.len() {
            return Err(DnsError::Truncated { at: msg.len() });
        }
        if i >= before_additional && rtype == TYPE_OPT {
            if edns {
                return Err(DnsError::DuplicateOpt);
            }
            edns = true;
        }
    }
    Ok(Query {
        id,
        name,
        qtype,
        qclass,
        edns,
        rd: flags & RD != 0,
    })
}

/// Read the (possibly compressed) name at `start`. Returns its presentation
/// form and the offset just past it where it starts.
fn read_name(msg: &[u8], start: usize) -> Result<(String, usize), DnsError> {
    let mut name = String::new();
    let mut pos = start;
    let mut end = None;
    let mut wire_len = 0;
    let mut pointers: Vec<usize> = Vec::new();
    loop {
        let len = *msg.get(pos).ok_or(DnsError::Truncated { at: msg.len() })?;
        match len & 0xc0 {
            0x00 => {
                let len = usize::from(len);
                wire_len += 1 + len;
                if wire_len > MAX_NAME {
                    return Err(DnsError::NameTooLong { at: start });
                }
                if len == 0 {
                    let end = end.unwrap_or(pos + 1);
                    if name.is_empty() {
                        name.push('.');
                    }
                    return Ok((name, end));
                }
                let label = msg
                    .get(pos + 1..pos + 1 + len)
                    .ok_or(DnsError::Truncated { at: msg.len() })?;
                if !name.is_empty() {
                    name.push('.');
                }
                push_label(&mut name, label);
                pos += 1 + len;
            }
            0xc0 => {
                let lo = *msg
                    .get(pos + 1)
                    .ok_or(DnsError::Truncated { at: msg.len() })?;
                let target = usize::from(len & 0x3f) << 8 | usize::from(lo);
                if pointers.contains(&pos) || pointers.len() >= MAX_POINTERS {
                    return Err(DnsError::PointerLoop { at: pos });
                }
                if target >= msg.len() {
                    return Err(DnsError::PointerOutOfRange { at: pos, target });
                }
                pointers.push(pos);
                end.get_or_insert(pos + 2);
                pos = target;
            }
            kind => return Err(DnsError::LabelType { at: pos, kind }),
        }
    }
}

fn push_label(name: &mut String, label: &[u8]) {
    for &b in label {
        let b = b.to_ascii_lowercase();
        if b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_' {
            name.push(char::from(b));
        } else {
            name.push_str(&format!("\\{b:03}"));
        }
    }
}

/// The query's id, to answer FORMERR to a message `parse_query` rejected.
/// `None` when there is no whole header or the message is itself a
/// response: those get no reply at all (no reply loops, no reflection).
pub fn query_id(msg: &[u8]) -> Option<u16> {
    if msg.len() < HEADER_LEN || msg[2] & 0x80 != 0 {
        return None;
    }
    Some(u16::from_be_bytes([msg[0], msg[1]]))
}

/// A FORMERR reply with no sections.
pub fn formerr(id: u16) -> Vec<u8> {
    header(id, QR | RA | 1, [0, 0, 0, 0])
}

fn header(id: u16, flags: u16, counts: [u16; 4]) -> Vec<u8> {
    let mut out = Vec::with_capacity(512);
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(&flags.to_be_bytes());
    for count in counts {
        out.extend_from_slice(&count.to_be_bytes());
    }
    out
}

/// The reply to `q`: QR=1, RA=1, id and RD echoed, the question echoed,
/// answers pointing at the question's name (0xC00C), and an OPT record
/// (with an Extended DNS Error when the reply has text) if the query had
/// one. A hand-built `Query` whose name cannot be encoded gets SERVFAIL
/// without a question.
pub fn build_reply(q: &Query, reply: &Reply) -> Vec<u8> {
    let rd = if q.rd { RD } else { 0 };
    let Some(qname) = encode_name(&q.name) else {
        return header(q.id, QR | RA | rd | 2, [0, 0, 0, 0]);
    };
    let (rcode, ede) = match reply {
        Reply::Addrs { .. } | Reply::NoData => (0, None),
        Reply::NxDomain { text } => (3, text.as_deref().map(|t| (EDE_PROHIBITED, t))),
        Reply::Refused { text } => (5, text.as_deref().map(|t| (EDE_PROHIBITED, t))),
        Reply::ServFail { text } => (2, text.as_deref().map(|t| (EDE_OTHER, t))),
    };
    let answers: Vec<IpAddr> = match reply {
        Reply::Addrs { addrs, .. } if q.qclass == CLASS_IN || q.qclass == CLASS_ANY => addrs
            .iter()
            .filter(|a| match a {
                IpAddr::V4(_) => q.qtype == TYPE_A || q.qtype == TYPE_ANY,
                IpAddr::V6(_) => q.qtype == TYPE_AAAA || q.qtype == TYPE_ANY,
            })
            .take(MAX_ANSWERS)
            .copied()
            .collect(),
        _ => Vec::new(),
    };
    let ttl = match reply {
        Reply::Addrs { ttl, .. } => *ttl,
        _ => 0,
    };
    let an = u16::try_from(answers.len()).unwrap_or(u16::MAX);
    let mut out = header(q.id, QR | RA | rd | rcode, [1, an, 0, u16::from(q.edns)]);
    out.extend_from_slice(&qname);
    out.extend_from_slice(&q.qtype.to_be_bytes());
    out.extend_from_slice(&q.qclass.to_be_bytes());
    for addr in &answers {
        out.extend_from_slice(&[0xc0, 0x0c]);
        let (rtype, rdata) = match addr {
            IpAddr::V4(v4) => (TYPE_A, v4.octets().to_vec()),
            IpAddr::V6(v6) => (TYPE_AAAA, v6.octets().to_vec()),
        };
        out.extend_from_slice(&rtype.to_be_bytes());
        out.extend_from_slice(&CLASS_IN.to_be_bytes());
        out.extend_from_slice(&ttl.to_be_bytes());
        out.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        out.extend_from_slice(&rdata);
    }
    if q.edns {
        push_opt(&mut out, ede);
    }
    out
}

/// An OPT pseudo-record: root name, our UDP size, extended RCODE 0,
/// version 0, no flags; with an EDE option when there is text.
fn push_opt(out: &mut Vec<u8>, ede: Option<(u16, &str)>) {
    let mut rdata = Vec::new();
    if let Some((code, text)) = ede {
        let text = cut_at_char(text, EDE_TEXT_MAX);
        rdata.extend_from_slice(&EDE_OPTION.to_be_bytes());
        rdata.extend_from_slice(&((2 + text.len()) as u16).to_be_bytes());
        rdata.extend_from_slice(&code.to_be_bytes());
        rdata.extend_from_slice(text.as_bytes());
    }
    out.push(0);
    out.extend_from_slice(&TYPE_OPT.to_be_bytes());
    out.extend_from_slice(&EDNS_UDP_SIZE.to_be_bytes());
    out.extend_from_slice(&0u32.to_be_bytes());
    out.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
    out.extend_from_slice(&rdata);
}

/// At most `max` bytes of `text`, cut at a char boundary.
fn cut_at_char(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// The wire form of a name in `Query::name` form (`\DDD` and `\X` escapes
/// undone). `None` for an empty label, a label over 63 bytes or a name over
/// 255 bytes.
fn encode_name(name: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(name.len() + 2);
    let name = name.strip_suffix('.').unwrap_or(name);
    if !name.is_empty() {
        let mut label: Vec<u8> = Vec::new();
        let mut chars = name.chars();
        loop {
            match chars.next() {
                next @ (Some('.') | None) => {
                    let len = u8::try_from(label.len())
                        .ok()
                        .filter(|n| (1..=63).contains(n))?;
                    out.push(len);
                    out.append(&mut label);
                    if next.is_none() {
                        break;
                    }
                }
                Some('\\') => {
                    let rest = chars.as_str();
                    match rest
                        .get(..3)
                        .and_then(|d| d.bytes().all(|b| b.is_ascii_digit()).then_some(d))
                    {
                        Some(digits) => {
                            label.push(digits.parse::<u8>().ok()?);
                            chars = rest[3..].chars();
                        }
                        None => {
                            let c = chars.next()?;
                            label.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
                        }
                    }
                }
                Some(c) => label.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes()),
            }
        }
    }
    out.push(0);
    (out.len() <= MAX_NAME).then_some(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    /// A query as a stub resolver sends it.
    fn query_bytes(id: u16, flags: u16, labels: &[&[u8]], qtype: u16, opt: bool) -> Vec<u8> {
        let mut msg = header(id, flags, [1, 0, 0, u16::from(opt)]);
        for label in labels {
            msg.push(u8::try_from(label.len()).unwrap());
            msg.extend_from_slice(label);
        }
        msg.push(0);
        msg.extend_from_slice(&qtype.to_be_bytes());
        msg.extend_from_slice(&CLASS_IN.to_be_bytes());
        if opt {
            // dig's OPT: UDP 1232, DO clear, a COOKIE option.
            msg.extend_from_slice(&[0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 12, 0, 10, 0, 8]);
            msg.extend_from_slice(&[0xa5; 8]);
        }
        msg
    }

    /// Resource record as the test decoder sees it.
    #[derive(Debug)]
    struct Rr {
        name: Vec<u8>,
        rtype: u16,
        class: u16,
        ttl: u32,
        rdata: Vec<u8>,
    }

    #[derive(Debug)]
    struct Decoded {
        id: u16,
        flags: u16,
        question: Vec<u8>,
        qtype: u16,
        qclass: u16,
        answers: Vec<Rr>,
        additional: Vec<Rr>,
    }

    fn be16(msg: &[u8], at: usize) -> u16 {
        u16::from_be_bytes([msg[at], msg[at + 1]])
    }

    /// An independent, minimal decoder: the wire name (pointers followed,
    /// the result in uncompressed wire form) and the offset past it.
    fn wire_name(msg: &[u8], mut pos: usize) -> (Vec<u8>, usize) {
        let mut out = Vec::new();
        let mut end = None;
        for _ in 0..10 {
            loop {
                let len = msg[pos];
                if len >= 0xc0 {
                    end.get_or_insert(pos + 2);
                    pos = usize::from(be16(msg, pos) & 0x3fff);
                    break;
                }
                out.push(len);
                if len == 0 {
                    return (out, end.unwrap_or(pos + 1));
                }
                out.extend_from_slice(&msg[pos + 1..=pos + usize::from(len)]);
                pos += 1 + usize::from(len);
            }
        }
        panic!("pointer chain");
    }

    fn decode(msg: &[u8]) -> Decoded {
        let counts: Vec<usize> = (0..4).map(|i| usize::from(be16(msg, 4 + 2 * i))).collect();
        assert_eq!(counts[0], 1, "one question");
        assert_eq!(counts[2], 0, "no authority");
        let (question, mut pos) = wire_name(msg, 12);
        let (qtype, qclass) = (be16(msg, pos), be16(msg, pos + 2));
        pos += 4;
        let mut records = Vec::new();
        for _ in 0..counts[1] + counts[3] {
            let (name, p) = wire_name(msg, pos);
            let rdlen = usize::from(be16(msg, p + 8));
            records.push(Rr {
                name,
                rtype: be16(msg, p),
                class: be16(msg, p + 2),
                ttl: u32::from_be_bytes(msg[p + 4..p + 8].try_into().unwrap()),
                rdata: msg[p + 10..p + 10 + rdlen].to_vec(),
            });
            pos = p + 10 + rdlen;
        }
        assert_eq!(pos, msg.len(), "no trailing bytes");
        let additional = records.split_off(counts[1]);
        Decoded {
            id: be16(msg, 0),
            flags: be16(msg, 2),
            question,
            qtype,
            qclass,
            answers: records,
            additional,
        }
    }

    fn addrs() -> Reply {
        Reply::Addrs {
            addrs: vec![
                IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7)),
                IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 7)),
                IpAddr::V4(Ipv4Addr::new(192, 0, 2, 8)),
            ],
            ttl: 60,
        }
    }

    const EXAMPLE: &[&[u8]] = &[b"Example", b"COM"];
    const EXAMPLE_WIRE: &[u8] = b"\x07example\x03com\x00";

    #[test]
    fn parses_a_query() {
        let msg = query_bytes(0xbeef, RD, EXAMPLE, TYPE_AAAA, true);
        let q = parse_query(&msg).unwrap();
        assert_eq!(
            q,
            Query {
                id: 0xbeef,
                name: "example.com".into(),
                qtype: TYPE_AAAA,
                qclass: CLASS_IN,
                edns: true,
                rd: true,
            }
        );
        let q = parse_query(&query_bytes(7, 0, EXAMPLE, 16, false)).unwrap();
        assert!(!q.edns && !q.rd);
        assert_eq!(q.qtype, 16);
    }

    fn answer_ips(d: &Decoded) -> Vec<IpAddr> {
        d.answers
            .iter()
            .map(|rr| {
                assert_eq!(rr.name, EXAMPLE_WIRE, "answer names the question");
                assert_eq!((rr.class, rr.ttl), (CLASS_IN, 60));
                match rr.rtype {
                    TYPE_A => IpAddr::from(<[u8; 4]>::try_from(rr.rdata.as_slice()).unwrap()),
                    TYPE_AAAA => IpAddr::from(<[u8; 16]>::try_from(rr.rdata.as_slice()).unwrap()),
                    other => panic!("answer type {other}"),
                }
            })
            .collect()
    }

    #[test]
    fn answers_match_the_query_type() {
        let v4a = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7));
        let v4b = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 8));
        let v6 = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 7));
        let cases = [
            (TYPE_A, vec![v4a, v4b]),
            (TYPE_AAAA, vec![v6]),
            (TYPE_ANY, vec![v4a, v6, v4b]),
            (16, vec![]),
        ];
        for (qtype, want) in cases {
            let msg = query_bytes(0x1234, RD, EXAMPLE, qtype, false);
            let q = parse_query(&msg).unwrap();
            let reply = build_reply(&q, &addrs());
            let d = decode(&reply);
            assert_eq!(d.id, 0x1234);
            assert_eq!(d.flags, QR | RD | RA, "NOERROR for {}", qtype_name(qtype));
            assert_eq!(
                (d.question.as_slice(), d.qtype, d.qclass),
                (EXAMPLE_WIRE, qtype, CLASS_IN)
            );
            assert_eq!(answer_ips(&d), want, "{}", qtype_name(qtype));
            assert!(d.additional.is_empty());
            // Every answer's name is the pointer to the question.
            assert_eq!(
                reply.windows(2).filter(|w| *w == [0xc0, 0x0c]).count(),
                want.len()
            );
        }
    }

    #[test]
    fn nodata_and_other_classes() {
        let q = parse_query(&query_bytes(1, RD, EXAMPLE, TYPE_A, false)).unwrap();
        let d = decode(&build_reply(&q, &Reply::NoData));
        assert_eq!((d.flags, d.answers.len()), (QR | RD | RA, 0));
        let chaos = Query { qclass: 3, ..q };
        assert!(decode(&build_reply(&chaos, &addrs())).answers.is_empty());
    }

    fn ede(d: &Decoded) -> Option<(u16, String)> {
        assert_eq!(d.additional.len(), 1);
        let opt = &d.additional[0];
        assert_eq!(
            (opt.name.as_slice(), opt.rtype, opt.class, opt.ttl),
            (&[0u8][..], TYPE_OPT, 1232, 0)
        );
        if opt.rdata.is_empty() {
            return None;
        }
        let data = &opt.rdata;
        assert_eq!(be16(data, 0), EDE_OPTION);
        assert_eq!(usize::from(be16(data, 2)), data.len() - 4);
        Some((
            be16(data, 4),
            String::from_utf8(data[6..].to_vec()).unwrap(),
        ))
    }

    #[test]
    fn refusals_carry_extended_errors() {
        let q = parse_query(&query_bytes(9, RD, EXAMPLE, TYPE_A, true)).unwrap();
        let text = "denied by rule network.deny[0] (\"*.example.com\")";
        let cases = [
            (
                Reply::NxDomain {
                    text: Some(text.into()),
                },
                3,
                EDE_PROHIBITED,
            ),
            (
                Reply::Refused {
                    text: Some(text.into()),
                },
                5,
                EDE_PROHIBITED,
            ),
            (
                Reply::ServFail {
                    text: Some(text.into()),
                },
                2,
                EDE_OTHER,
            ),
        ];
        for (reply, rcode, code) in cases {
            let bytes = build_reply(&q, &reply);
            assert!(
                bytes.windows(text.len()).any(|w| w == text.as_bytes()),
                "text visible in the bytes"
            );
            let d = decode(&bytes);
            assert_eq!(d.flags, QR | RD | RA | rcode);
            assert!(d.answers.is_empty());
            assert_eq!(ede(&d), Some((code, text.to_string())));
        }
        // No text: a bare OPT. No EDNS in the query: no OPT at all.
        let d = decode(&build_reply(&q, &Reply::NxDomain { text: None }));
        assert_eq!(ede(&d), None);
        let plain = Query {
            edns: false,
            ..q.clone()
        };
        let bytes = build_reply(
            &plain,
            &Reply::NxDomain {
                text: Some(text.into()),
            },
        );
        assert!(decode(&bytes).additional.is_empty());
        assert!(!bytes.windows(text.len()).any(|w| w == text.as_bytes()));
        // Addresses with EDNS: an OPT without EDE.
        let d = decode(&build_reply(&q, &addrs()));
        assert_eq!((d.answers.len(), ede(&d)), (2, None));
    }

    #[test]
    fn extra_text_is_cut_at_a_char_boundary() {
        let q = parse_query(&query_bytes(9, 0, EXAMPLE, TYPE_A, true)).unwrap();
        let text = format!("{}é and more", "a".repeat(199));
        let d = decode(&build_reply(&q, &Reply::Refused { text: Some(text) }));
        assert_eq!(ede(&d), Some((EDE_PROHIBITED, "a".repeat(199))));
        let text = "é".repeat(150);
        let d = decode(&build_reply(&q, &Reply::Refused { text: Some(text) }));
        assert_eq!(ede(&d), Some((EDE_PROHIBITED, "é".repeat(100))));
    }

    #[test]
    fn id_and_rd_are_echoed() {
        for (id, rd) in [(0, false), (0xffff, true), (0x0102, false)] {
            let msg = query_bytes(id, if rd { RD } else { 0 }, EXAMPLE, TYPE_A, false);
            let q = parse_query(&msg).unwrap();
            assert_eq!((q.id, q.rd), (id, rd));
            let d = decode(&build_reply(&q, &Reply::Refused { text: None }));
            assert_eq!(d.id, id);
            assert_eq!(d.flags & RD != 0, rd);
        }
    }

    #[test]
    fn weird_bytes_are_escaped_and_echoed() {
        let labels: &[&[u8]] = &[b"A.b c\\\x00\xff", b"x_Y-1"];
        let q = parse_query(&query_bytes(5, RD, labels, TYPE_A, false)).unwrap();
        assert_eq!(q.name, "a\\046b\\032c\\092\\000\\255.x_y-1");
        let d = decode(&build_reply(&q, &Reply::NoData));
        assert_eq!(d.question, b"\x08a.b c\\\x00\xff\x05x_y-1\x00");
        // The root name.
        let q = parse_query(&query_bytes(5, RD, &[], 2, false)).unwrap();
        assert_eq!(q.name, ".");
        assert_eq!(decode(&build_reply(&q, &Reply::NoData)).question, b"\x00");
    }

    #[test]
    fn unencodable_hand_built_name_is_servfail() {
        let q = Query {
            id: 3,
            name: "a..b".into(),
            qtype: TYPE_A,
            qclass: CLASS_IN,
            edns: false,
            rd: true,
        };
        assert_eq!(
            build_reply(&q, &Reply::NoData),
            header(3, QR | RD | RA | 2, [0; 4])
        );
        let long = Query {
            name: "a".repeat(64),
            ..q.clone()
        };
        assert_eq!(build_reply(&long, &Reply::NoData)[3] & 0xf, 2);
        // Unknown escapes stand for the character itself.
        let ok = Query {
            name: "a\\.b".into(),
            ..q
        };
        assert_eq!(
            decode(&build_reply(&ok, &Reply::NoData)).question,
            b"\x03a.b\x00"
        );
    }

    #[test]
    fn compression_pointers() {
        // The question name points at itself, and two pointers at each other.
        let mut msg = header(1, 0, [1, 0, 0, 0]);
        msg.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1]);
        assert_eq!(parse_query(&msg), Err(DnsError::PointerLoop { at: 12 }));
        let mut msg = header(1, 0, [1, 0, 0, 0]);
        msg.extend_from_slice(&[1, b'a', 0xc0, 20, 0, 1, 0, 1, 0xc0, 14]);
        assert_eq!(parse_query(&msg), Err(DnsError::PointerLoop { at: 14 }));
        assert_eq!(
            parse_query(&msg).unwrap_err().to_string(),
            "compression pointer loop at byte 14"
        );
        // Past the end.
        let mut msg = header(1, 0, [1, 0, 0, 0]);
        msg.extend_from_slice(&[0xc1, 0, 0, 1, 0, 1]);
        assert_eq!(
            parse_query(&msg),
            Err(DnsError::PointerOutOfRange {
                at: 12,
                target: 256
            })
        );
        // A forward pointer to a real name is followed.
        let mut msg = header(1, 0, [1, 0, 0, 0]);
        msg.extend_from_slice(&[0xc0, 18, 0, 1, 0, 1, 1, b'A', 0]);
        assert_eq!(parse_query(&msg).unwrap().name, "a");
        // An additional record whose name points at the question.
        let mut msg = query_bytes(1, 0, EXAMPLE, TYPE_A, false);
        msg[11] = 1;
        msg.extend_from_slice(&[0xc0, 12, 0, 16, 0, 1, 0, 0, 0, 0, 0, 2, 1, b'x']);
        assert_eq!(parse_query(&msg).unwrap().name, "example.com");
        // A chain of many distinct pointers is cut off.
        let mut msg = header(1, 0, [1, 0, 0, 0]);
        msg.extend_from_slice(&[0xc0, 18, 0, 1, 0, 1]);
        for i in 0..200u16 {
            msg.extend_from_slice(&(0xc000 | (20 + 2 * i)).to_be_bytes());
        }
        msg.push(0);
        assert!(matches!(
            parse_query(&msg),
            Err(DnsError::PointerLoop { .. })
        ));
    }

    #[test]
    fn bad_labels_and_long_names() {
        let mut msg = header(1, 0, [1, 0, 0, 0]);
        msg.extend_from_slice(&[0x41, 0, 0, 1, 0, 1]);
        assert_eq!(
            parse_query(&msg),
            Err(DnsError::LabelType { at: 12, kind: 0x40 })
        );
        let max: Vec<Vec<u8>> = [63, 63, 63, 61].iter().map(|&n| vec![b'a'; n]).collect();
        let refs: Vec<&[u8]> = max.iter().map(Vec::as_slice).collect();
        let q = parse_query(&query_bytes(1, 0, &refs, TYPE_A, false)).unwrap();
        assert_eq!(q.name.len(), 253);
        assert_eq!(decode(&build_reply(&q, &Reply::NoData)).question.len(), 255);
        let over: Vec<Vec<u8>> = [63, 63, 63, 62].iter().map(|&n| vec![b'a'; n]).collect();
        let refs: Vec<&[u8]> = over.iter().map(Vec::as_slice).collect();
        let err = parse_query(&query_bytes(1, 0, &refs, TYPE_A, false)).unwrap_err();
        assert_eq!(err, DnsError::NameTooLong { at: 12 });
        assert_eq!(
            err.to_string(),
            "name starting at byte 12 is longer than 255 bytes"
        );
    }

    #[test]
    fn rejects_what_is_not_one_plain_query() {
        let mut two = query_bytes(1, 0, EXAMPLE, TYPE_A, false);
        two[5] = 2;
        assert_eq!(parse_query(&two), Err(DnsError::QuestionCount(2)));
        assert!(parse_query(&two)
            .unwrap_err()
            .to_string()
            .starts_with("query has 2 questions"));
        let mut none = query_bytes(1, 0, EXAMPLE, TYPE_A, false);
        none[5] = 0;
        assert_eq!(parse_query(&none), Err(DnsError::QuestionCount(0)));
        let response = query_bytes(1, QR | RD, EXAMPLE, TYPE_A, false);
        assert_eq!(parse_query(&response), Err(DnsError::Response));
        assert_eq!(query_id(&response), None);
        let update = query_bytes(1, 5 << 11, EXAMPLE, 6, false);
        assert_eq!(parse_query(&update), Err(DnsError::Opcode(5)));
        assert_eq!(query_id(&update), Some(1));
        let mut two_opts = query_bytes(1, 0, EXAMPLE, TYPE_A, true);
        two_opts[11] = 2;
        two_opts.extend_from_slice(&[0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(parse_query(&two_opts), Err(DnsError::DuplicateOpt));
        // Our own reply is a response too.
        let q = parse_query(&query_bytes(1, 0, EXAMPLE, TYPE_A, true)).unwrap();
        assert_eq!(
            parse_query(&build_reply(&q, &addrs())),
            Err(DnsError::Response)
        );
    }

    #[test]
    fn every_truncation_is_an_error() {
        let msg = query_bytes(0x4242, RD, EXAMPLE, TYPE_A, true);
        assert!(parse_query(&msg).is_ok());
        for n in 0..msg.len() {
            assert_eq!(
                parse_query(&msg[..n]),
                Err(DnsError::Truncated { at: n }),
                "{n} bytes"
            );
            assert_eq!(query_id(&msg[..n]), (n >= 12).then_some(0x4242));
        }
        assert_eq!(
            parse_query(&msg[..14])
                .unwrap_err()
                .to_string()
                .split(':')
                .next(),
            Some("truncated at byte 14")
        );
    }

    #[test]
    fn mutations_never_panic() {
        let mut state: u64 = 0x0123_4567_89ab_cdef;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let base = query_bytes(0x4242, RD, EXAMPLE, TYPE_A, true);
        for _ in 0..20_000 {
            let mut msg = base.clone();
            for _ in 0..1 + next() % 4 {
                let i = usize::try_from(next() % msg.len() as u64).unwrap();
                msg[i] = next().to_le_bytes()[0];
            }
            msg.truncate(usize::try_from(next() % 64).unwrap().max(1));
            if let Ok(q) = parse_query(&msg) {
                // Whatever parses must round-trip into a decodable reply.
                let d = decode(&build_reply(&q, &addrs()));
                assert_eq!(d.id, q.id);
            }
        }
    }

    #[test]
    fn formerr_and_ids() {
        assert_eq!(
            formerr(0xabcd),
            vec![0xab, 0xcd, 0x80, 0x81, 0, 0, 0, 0, 0, 0, 0, 0]
        );
        assert_eq!(query_id(&[1, 2]), None);
        let garbage = [0x12, 0x34, 0x01, 0x00, 0, 9, 0, 0, 0, 0, 0, 0, 0xff];
        assert!(parse_query(&garbage).is_err());
        assert_eq!(query_id(&garbage), Some(0x1234));
    }

    #[test]
    fn type_names() {
        let names: Vec<String> = [1, 28, 16, 15, 255, 65, 33, 6, 65534]
            .into_iter()
            .map(qtype_name)
            .collect();
        assert_eq!(
            names,
            [
                "A",
                "AAAA",
                "TXT",
                "MX",
                "ANY",
                "HTTPS",
                "SRV",
                "SOA",
                "TYPE65534"
            ]
        );
    }
}
