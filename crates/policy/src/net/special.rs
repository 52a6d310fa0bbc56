//! Address ranges that are not public destinations (loopback, private,
//! link-local, ...). The proxy refuses to connect to them when a name
//! resolves there (DNS rebinding, cloud metadata) unless the name is pinned.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// IPv4 ranges, most specific first where they overlap (255.255.255.255 is
/// inside 240.0.0.0/4).
const V4: &[(u32, u8, &str)] = &[
    (0x0000_0000, 8, "unspecified/this network"),
    (0x7f00_0000, 8, "loopback"),
    (0x0a00_0000, 8, "private (RFC 1918)"),
    (0xac10_0000, 12, "private (RFC 1918)"),
    (0xc0a8_0000, 16, "private (RFC 1918)"),
    (0xa9fe_0000, 16, "link-local (cloud metadata lives here)"),
    (0x6440_0000, 10, "carrier-grade NAT"),
    (0xc000_0000, 24, "IETF protocol assignments"),
    (0xc058_6300, 24, "6to4 relay anycast"),
    (0xc612_0000, 15, "benchmarking"),
    (0xe000_0000, 4, "multicast"),
    (0xf000_0000, 4, "reserved/broadcast"),
];

/// IPv6 ranges, most specific first where they overlap (`::` and `::1` are
/// handled first, as whole addresses, and an embedded special IPv4 address
/// decides before this table).
const V6: &[(u128, u8, &str)] = &[
    (0x0064_ff9b_0001 << 80, 48, "local-use NAT64"),
    (0x0100 << 112, 64, "discard-only"),
    (0x2001_0000 << 96, 32, "Teredo"),
    (0x2001 << 112, 23, "IETF protocol assignments"),
    (0xfc00 << 112, 7, "unique local"),
    (0xfe80 << 112, 10, "link-local"),
    (0xfec0 << 112, 10, "site-local"),
    (0xff00 << 112, 8, "multicast"),
];

/// Why an address is not a public destination: `None` for public unicast.
/// Unmaps IPv4-mapped (`::ffff:a.b.c.d`), IPv4-compatible (`::a.b.c.d`),
/// NAT64 (`64:ff9b::/96`, and `64:ff9b:1::/48` with the IPv4 address in the
/// last 32 bits) and 6to4 (`2002::/16`) addresses and classifies the
/// embedded IPv4 address; the local-use NAT64 prefix is special whatever it
/// embeds (it is not globally routable). Documentation ranges (TEST-NET,
/// 2001:db8::/32) count as public.
pub fn special_range(addr: IpAddr) -> Option<&'static str> {
    match addr {
        IpAddr::V4(v4) => special_v4(v4),
        IpAddr::V6(v6) if v6.is_unspecified() => Some("unspecified/this network"),
        IpAddr::V6(v6) if v6.is_loopback() => Some("loopback"),
        IpAddr::V6(v6) => embedded_v4(v6).and_then(special_v4).or_else(|| {
            let bits = u128::from(v6);
            V6.iter()
                .find(|(net, len, _)| bits >> (128 - len) == net >> (128 - len))
                .map(|(_, _, why)| *why)
        }),
    }
}

fn special_v4(addr: Ipv4Addr) -> Option<&'static str> {
    let bits = u32::from(addr);
    V4.iter()
        .find(|(net, len, _)| bits >> (32 - len) == net >> (32 - len))
        .map(|(_, _, why)| *why)
}

/// The IPv4 address inside an IPv4-mapped (`::ffff:0:0/96`),
/// IPv4-compatible (`::/96`, except `::` and `::1`), NAT64 (`64:ff9b::/96`,
/// last 32 bits of local-use `64:ff9b:1::/48`) or 6to4 (`2002::/16`, bits 16
/// to 47) address.
pub(crate) fn embedded_v4(addr: Ipv6Addr) -> Option<Ipv4Addr> {
    let bits = u128::from(addr);
    let low32 = Ipv4Addr::from(bits as u32);
    match bits >> 32 {
        0xffff => Some(low32),
        0 if bits > 1 => Some(low32),
        0x0064_ff9b_0000_0000_0000_0000 => Some(low32),
        _ if bits >> 80 == 0x0064_ff9b_0001 => Some(low32),
        _ if bits >> 112 == 0x2002 => Some(Ipv4Addr::from((bits >> 80) as u32)),
        _ => None,
    }
}
