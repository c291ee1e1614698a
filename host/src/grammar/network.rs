//! The grammar of `[grants].network` entries: `scheme://host[:port[-port]]`.
//!
//! The host is a name (`db.internal`), a wildcard name (`*.internal`, or `*` for any host), an
//! IP (`10.1.2.3`, `[::1]`) or a CIDR block (`10.0.0.0/8`, `[fd00::]/8`); the port is a number, a
//! range (`6379-6380`), or left out when the scheme has a well-known one (`postgres://db` means
//! port 5432). Parsing only: what a grant lets through is decided in `grants::network`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Schemes that imply a port, so `postgres://db` needs no `:5432`.
const DEFAULT_PORTS: &[(&str, u16)] = &[
    ("postgres", 5432),
    ("postgresql", 5432),
    ("mysql", 3306),
    ("mariadb", 3306),
    ("redis", 6379),
    ("rediss", 6379),
    ("mongodb", 27017),
    ("amqp", 5672),
    ("nats", 4222),
    ("memcached", 11211),
    ("kafka", 9092),
    ("clickhouse", 9000),
    ("smtp", 25),
];

/// Where a grant points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// An exact name, lower-case, without a trailing dot.
    Name(String),
    /// `*.suffix`: any name ending in `.suffix` (not `suffix` itself).
    Wildcard(String),
    /// `*`: any host, name or address.
    Any,
    /// An address block; a single IP is a /32 or /128.
    Block { net: IpAddr, prefix: u8 },
}

/// One parsed entry of `[grants].network`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkGrant {
    /// As written in the manifest, quoted back in messages.
    pub text: String,
    pub scheme: String,
    pub target: Target,
    pub ports: (u16, u16),
}

impl NetworkGrant {
    /// Parses `scheme://host[:port[-port]]`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let (scheme, rest) = text.split_once("://").ok_or_else(|| {
            format!("{text:?} needs a scheme, e.g. \"tcp://{text}\" or \"postgres://{text}\"")
        })?;
        let scheme = scheme.to_ascii_lowercase();
        if scheme.is_empty()
            || !scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '+' || c == '-')
        {
            return Err(format!("{text:?}: {scheme:?} is not a scheme"));
        }
        if rest.contains(['/', '@', '?', '#']) && !is_cidr_like(rest) {
            return Err(format!(
                "{text:?}: write only scheme://host:port (no user, path or query); a block is written like tcp://10.0.0.0/8:5432"
            ));
        }
        let (host, port) = split_host_port(rest);
        let default = DEFAULT_PORTS
            .iter()
            .find(|(s, _)| *s == scheme)
            .map(|(_, p)| *p);
        let ports = match (port, default) {
            (Some(p), _) => parse_ports(p).map_err(|e| format!("{text:?}: {e}"))?,
            (None, Some(d)) => (d, d),
            (None, None) => {
                return Err(format!(
                    "{text:?}: the scheme {scheme:?} has no default port; add one, e.g. \"{scheme}://{host}:443\""
                ));
            }
        };
        let target = parse_target(host).map_err(|e| format!("{text:?}: {e}"))?;
        Ok(NetworkGrant {
            text: text.to_string(),
            scheme,
            target,
            ports,
        })
    }

    pub(crate) fn allows_port(&self, port: u16) -> bool {
        (self.ports.0..=self.ports.1).contains(&port)
    }

    /// Whether a name the guest looks up falls under this grant.
    pub(crate) fn covers_name(&self, name: &str) -> bool {
        match &self.target {
            Target::Name(n) => n == name,
            // `suffix` keeps its leading dot (`.test`); what comes before it must be one or
            // more whole labels (`x`, `a.b`), never empty ones (`x.`, `.`).
            Target::Wildcard(suffix) => name
                .strip_suffix(suffix.as_str())
                .is_some_and(|head| !head.is_empty() && head.split('.').all(valid_label)),
            Target::Any => true,
            Target::Block { .. } => false,
        }
    }

    /// Whether answers for this grant are filtered by `block_private`: only grants that do not
    /// name their destination exactly.
    pub(crate) fn is_wild(&self) -> bool {
        matches!(self.target, Target::Wildcard(_) | Target::Any)
    }

    /// Whether this grant covers more than one address (`*`, a wildcard name, a CIDR block
    /// wider than one host): `block_private` applies to every such grant.
    pub(crate) fn is_broad(&self) -> bool {
        match self.target {
            Target::Block { net, prefix } => prefix < if net.is_ipv4() { 32 } else { 128 },
            _ => self.is_wild(),
        }
    }
}

pub(crate) fn is_cidr_like(rest: &str) -> bool {
    rest.matches('/').count() == 1 && !rest.contains(['@', '?', '#'])
}

/// Splits `host:port`, `[v6]:port`, `[v6]/n:port`, `10.0.0.0/8:port`; the port may be absent.
pub(crate) fn split_host_port(rest: &str) -> (&str, Option<&str>) {
    if rest.starts_with('[') {
        if let Some(close) = rest.find(']') {
            let after = &rest[close + 1..];
            let (suffix, port) = match after.rfind(':') {
                Some(i) => (&after[..i], Some(&after[i + 1..])),
                None => (after, None),
            };
            return (&rest[..close + 1 + suffix.len()], port);
        }
        return (rest, None);
    }
    match rest.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (rest, None),
    }
}

pub(crate) fn parse_ports(text: &str) -> Result<(u16, u16), String> {
    let one = |t: &str| -> Result<u16, String> {
        match t.trim().parse::<u16>() {
            Ok(p) if p > 0 => Ok(p),
            _ => Err(format!("{t:?} is not a port (1 to 65535)")),
        }
    };
    match text.split_once('-') {
        Some((a, b)) => {
            let (a, b) = (one(a)?, one(b)?);
            if a > b {
                return Err(format!("port range {text:?} runs backwards"));
            }
            Ok((a, b))
        }
        None => {
            let p = one(text)?;
            Ok((p, p))
        }
    }
}

pub(crate) fn parse_target(host: &str) -> Result<Target, String> {
    if host == "*" {
        return Ok(Target::Any);
    }
    let (addr, prefix) = match host.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (host, None),
    };
    let bare = addr.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<IpAddr>() {
        if addr.contains(':') && !addr.starts_with('[') {
            return Err("write IPv6 addresses in brackets, e.g. [::1]:5432".into());
        }
        let ip = ip.to_canonical();
        let max = if ip.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => match p.parse::<u8>() {
                Ok(n) if n <= max => n,
                _ => return Err(format!("/{p} is not a prefix length (0 to {max})")),
            },
        };
        return Ok(Target::Block {
            net: mask(ip, prefix),
            prefix,
        });
    }
    if prefix.is_some() {
        return Err(format!(
            "{addr:?} is not an IP address, so it cannot have a /prefix"
        ));
    }
    let name = host.trim_end_matches('.').to_ascii_lowercase();
    let (wild, body) = match name.strip_prefix("*.") {
        Some(rest) => (true, rest.to_string()),
        None => (false, name.clone()),
    };
    if body.is_empty() || body.len() > 253 || !body.split('.').all(valid_label) {
        return Err(format!(
            "{host:?} is not a host name, IP address, CIDR block, `*.domain` or `*`"
        ));
    }
    Ok(if wild {
        Target::Wildcard(format!(".{body}"))
    } else {
        Target::Name(body)
    })
}

/// One DNS label as grants and lookups accept it.
pub(crate) fn valid_label(l: &str) -> bool {
    !l.is_empty()
        && l.len() <= 63
        && l.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

pub(crate) fn mask(ip: IpAddr, prefix: u8) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => {
            let bits = u32::from(v4);
            let m = if prefix == 0 {
                0
            } else {
                u32::MAX << (32 - prefix)
            };
            IpAddr::V4(Ipv4Addr::from(bits & m))
        }
        IpAddr::V6(v6) => {
            let bits = u128::from(v6);
            let m = if prefix == 0 {
                0
            } else {
                u128::MAX << (128 - prefix)
            };
            IpAddr::V6(Ipv6Addr::from(bits & m))
        }
    }
}

pub(crate) fn block_contains(net: IpAddr, prefix: u8, ip: IpAddr) -> bool {
    net.is_ipv4() == ip.is_ipv4() && mask(ip, prefix) == net
}

/// Loopback, private, link-local, shared (CGNAT), unspecified, multicast and documentation
/// ranges: where a wildcard grant must not lead when `block_private` is on.
pub fn is_private(ip: IpAddr) -> bool {
    match ip.to_canonical() {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || (o[0] == 100 && (o[1] & 0xc0) == 64)
                || o[0] == 0
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
        }
    }
}
