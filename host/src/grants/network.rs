//! `[grants].network`: outgoing TCP to named destinations, with DNS answered by pier.
//!
//! A grant is `scheme://host:port`. The host is a name (`db.internal`), a wildcard name
//! (`*.internal`, or `*` for any host), an IP (`10.1.2.3`, `[::1]`) or a CIDR block
//! (`10.0.0.0/8`, `[fd00::]/8`); the port is a number, a range (`6379-6380`), or left out when the
//! scheme has a well-known one (`postgres://db` means port 5432).
//!
//! Names are pinned: the guest's name lookups are answered by pier, only for granted names, and a
//! connect is allowed only to an address that came from such an answer (or that a grant names
//! as an IP or block). A guest cannot look up an ungranted name (no query leaves pier for it) and
//! cannot reach a granted name's address on a port the grant does not give.

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Mutex;
use std::time::Duration;

use super::denials::Denials;

/// How long pier waits for its own resolver before telling the guest the name is unresolvable.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(5);
/// Addresses remembered from answers; old ones are forgotten past this many (a plugin that
/// looks up thousands of distinct names is not a use case worth unbounded memory).
const MAX_PINNED: usize = 4096;

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

    fn allows_port(&self, port: u16) -> bool {
        (self.ports.0..=self.ports.1).contains(&port)
    }

    /// Whether a name the guest looks up falls under this grant.
    fn covers_name(&self, name: &str) -> bool {
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
    fn is_wild(&self) -> bool {
        matches!(self.target, Target::Wildcard(_) | Target::Any)
    }

    /// Whether this grant covers more than one address (`*`, a wildcard name, a CIDR block
    /// wider than one host): `block_private` applies to every such grant.
    fn is_broad(&self) -> bool {
        match self.target {
            Target::Block { net, prefix } => prefix < if net.is_ipv4() { 32 } else { 128 },
            _ => self.is_wild(),
        }
    }
}

fn is_cidr_like(rest: &str) -> bool {
    rest.matches('/').count() == 1 && !rest.contains(['@', '?', '#'])
}

/// Splits `host:port`, `[v6]:port`, `[v6]/n:port`, `10.0.0.0/8:port`; the port may be absent.
fn split_host_port(rest: &str) -> (&str, Option<&str>) {
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

fn parse_ports(text: &str) -> Result<(u16, u16), String> {
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

fn parse_target(host: &str) -> Result<Target, String> {
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
fn valid_label(l: &str) -> bool {
    !l.is_empty()
        && l.len() <= 63
        && l.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn mask(ip: IpAddr, prefix: u8) -> IpAddr {
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

fn block_contains(net: IpAddr, prefix: u8, ip: IpAddr) -> bool {
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

/// What a plugin may reach, plus the answers pier gave it. Shared by all instances of a plugin.
pub struct NetworkPolicy {
    plugin: String,
    manifest: String,
    grants: Vec<NetworkGrant>,
    block_private: bool,
    /// Address -> the names whose answers contained it.
    pinned: Mutex<HashMap<IpAddr, Vec<String>>>,
}

/// A refused network operation, worded for the person who can grant it.
#[derive(Debug, Clone)]
pub struct Refusal(pub String);

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl NetworkPolicy {
    pub fn new(
        plugin: &str,
        manifest: &str,
        grants: Vec<NetworkGrant>,
        block_private: bool,
    ) -> Self {
        NetworkPolicy {
            plugin: plugin.to_string(),
            manifest: manifest.to_string(),
            grants,
            block_private,
            pinned: Mutex::new(HashMap::new()),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.grants.is_empty()
    }

    /// Answers a guest's name lookup. IP literals are returned as they are (the connect check
    /// judges them); names must be granted, are resolved by pier, and the answer is pinned.
    pub async fn lookup(&self, name: &str, denials: &Denials) -> Result<Vec<IpAddr>, LookupError> {
        let trimmed = name.trim_end_matches('.');
        let bare = trimmed.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = bare.parse::<IpAddr>() {
            return Ok(vec![ip.to_canonical()]);
        }
        let lower = trimmed.to_ascii_lowercase();
        if lower.is_empty() || lower.len() > 253 || !lower.split('.').all(valid_label) {
            denials.record(
                &self.plugin,
                Refusal(format!(
                    "{} tried to look up {name:?}, which is not a valid host name",
                    self.plugin
                )),
            );
            return Err(LookupError::Denied);
        }
        let covering: Vec<&NetworkGrant> = self
            .grants
            .iter()
            .filter(|g| g.covers_name(&lower))
            .collect();
        if covering.is_empty() {
            denials.record(&self.plugin, self.refuse_lookup(&lower));
            return Err(LookupError::Denied);
        }
        let resolved =
            tokio::time::timeout(LOOKUP_TIMEOUT, tokio::net::lookup_host((lower.as_str(), 0)))
                .await
                .map_err(|_| LookupError::Unresolvable)?
                .map_err(|_| LookupError::Unresolvable)?;
        let mut answer: Vec<IpAddr> = Vec::new();
        let mut filtered = Vec::new();
        // Private answers are dropped only when every grant covering the name is a wildcard;
        // a name written out exactly was chosen by whoever wrote the manifest.
        let filter = self.block_private && covering.iter().all(|g| g.is_wild());
        for addr in resolved {
            let ip = addr.ip().to_canonical();
            if answer.contains(&ip) || filtered.contains(&ip) {
                continue;
            }
            if filter && is_private(ip) {
                filtered.push(ip);
            } else {
                answer.push(ip);
            }
        }
        if answer.is_empty() && !filtered.is_empty() {
            denials.record(
                &self.plugin,
                Refusal(format!(
                    "{} looked up {lower}, which resolves only to private addresses ({}); block_private = true in [grants] of {} refuses those for wildcard grants. Grant the name exactly (e.g. \"tcp://{lower}:{}\") if it is meant to be reached",
                    self.plugin,
                    list(&filtered),
                    self.manifest,
                    covering[0].ports.0
                )),
            );
            return Err(LookupError::Denied);
        }
        if let Ok(mut pinned) = self.pinned.lock() {
            if pinned.len() > MAX_PINNED {
                pinned.clear();
            }
            for ip in &answer {
                let names = pinned.entry(*ip).or_default();
                if !names.contains(&lower) {
                    names.push(lower.clone());
                }
            }
        }
        Ok(answer)
    }

    /// Judges one outgoing TCP connect (and the implicit bind that precedes it).
    pub fn check_connect(&self, addr: SocketAddr) -> Result<(), Refusal> {
        let ip = addr.ip().to_canonical();
        let port = addr.port();
        let names = self
            .pinned
            .lock()
            .map(|p| p.get(&ip).cloned().unwrap_or_default())
            .unwrap_or_default();
        let mut private_refused = false;
        for g in &self.grants {
            if !g.allows_port(port) {
                continue;
            }
            match &g.target {
                Target::Block { net, prefix } => {
                    if block_contains(*net, *prefix, ip) {
                        if self.block_private && g.is_broad() && is_private(ip) {
                            private_refused = true;
                        } else {
                            return Ok(());
                        }
                    }
                }
                Target::Name(_) | Target::Wildcard(_) => {
                    if names.iter().any(|n| g.covers_name(n)) {
                        return Ok(());
                    }
                }
                Target::Any => {
                    if self.block_private && is_private(ip) {
                        private_refused = true;
                    } else {
                        return Ok(());
                    }
                }
            }
        }
        let shown = SocketAddr::new(ip, port);
        if private_refused && names.is_empty() {
            return Err(Refusal(format!(
                "{} tried to connect to {shown}, a private address; block_private = true in [grants] of {} refuses private addresses for grants that cover more than one address (`*`, `*.domain`, CIDR blocks). To allow it add \"tcp://{}\" to [grants].network in {}",
                self.plugin, self.manifest, shown, self.manifest
            )));
        }
        // Suggest the grant the user most likely means: the name the guest looked up, with the
        // scheme of an existing grant for that host.
        let host = match (names.first(), ip) {
            (Some(name), _) => name.clone(),
            (None, IpAddr::V6(v6)) => format!("[{v6}]"),
            (None, IpAddr::V4(v4)) => v4.to_string(),
        };
        let scheme = self
            .grants
            .iter()
            .find(|g| match &g.target {
                Target::Name(n) => names.contains(n),
                Target::Block { net, prefix } => block_contains(*net, *prefix, ip),
                _ => false,
            })
            .map_or("tcp", |g| g.scheme.as_str());
        let via = match names.first() {
            Some(n) => format!(" ({n})"),
            None => String::new(),
        };
        Err(Refusal(format!(
            "{} tried to connect to {shown}{via}; to allow it add \"{scheme}://{host}:{port}\" to [grants].network in {}",
            self.plugin, self.manifest
        )))
    }

    /// The refusal for anything but an outgoing TCP connect.
    pub fn refuse_use(&self, what: &str, addr: SocketAddr) -> Refusal {
        Refusal(format!(
            "{} tried to {what} {addr}; pier grants plugins outgoing TCP connections only ([grants].network in {}), never listening sockets or UDP",
            self.plugin, self.manifest
        ))
    }

    fn refuse_lookup(&self, name: &str) -> Refusal {
        // A lookup carries no port, so the suggestion leaves it for the reader to fill in.
        Refusal(format!(
            "{} tried to look up {name}, which no grant names, so pier did not resolve it; to allow it add \"tcp://{name}:PORT\" (PORT being the port it connects to) to [grants].network in {}",
            self.plugin, self.manifest
        ))
    }
}

/// Why a lookup produced no addresses, in the guest's terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LookupError {
    Denied,
    Unresolvable,
}

fn list(ips: &[IpAddr]) -> String {
    ips.iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(grants: &[&str], block_private: bool) -> NetworkPolicy {
        let grants = grants
            .iter()
            .map(|g| NetworkGrant::parse(g).expect("valid grant"))
            .collect();
        NetworkPolicy::new("p", "plugins/p.toml", grants, block_private)
    }

    fn sa(text: &str) -> SocketAddr {
        text.parse().expect("socket address")
    }

    #[test]
    fn parses_the_documented_forms() {
        let g = NetworkGrant::parse("postgres://db.internal").expect("default port");
        assert_eq!(g.ports, (5432, 5432));
        assert_eq!(g.target, Target::Name("db.internal".into()));
        let g = NetworkGrant::parse("redis://cache:6379-6380").expect("range");
        assert_eq!(g.ports, (6379, 6380));
        let g = NetworkGrant::parse("tcp://10.0.0.0/8:5432").expect("cidr");
        assert_eq!(
            g.target,
            Target::Block {
                net: "10.0.0.0".parse().expect("ip"),
                prefix: 8
            }
        );
        let g = NetworkGrant::parse("tcp://[fd00::1]/16:80").expect("v6 cidr");
        assert!(matches!(g.target, Target::Block { prefix: 16, .. }));
        let g = NetworkGrant::parse("tcp://[::1]:9").expect("v6");
        assert!(matches!(g.target, Target::Block { prefix: 128, .. }));
        assert!(matches!(
            NetworkGrant::parse("tcp://*.svc.local:1")
                .expect("wild")
                .target,
            Target::Wildcard(_)
        ));
        for bad in [
            "db:5432",
            "tcp://db",
            "tcp://db:0",
            "tcp://db:9-1",
            "tcp://user@db:1",
            "tcp://db:1/path",
            "tcp://::1:5",
            "tcp://10.0.0.0/33:1",
            "tcp://bad name:1",
        ] {
            assert!(NetworkGrant::parse(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn blocks_and_ports_are_enforced() {
        let p = policy(
            &["tcp://10.0.0.0/8:5432", "tcp://127.0.0.1:7000-7001"],
            false,
        );
        assert!(p.check_connect(sa("10.9.8.7:5432")).is_ok());
        assert!(p.check_connect(sa("127.0.0.1:7001")).is_ok());
        assert!(p.check_connect(sa("[::ffff:127.0.0.1]:7000")).is_ok());
        let e = p.check_connect(sa("10.9.8.7:5433")).expect_err("port");
        assert!(e.0.contains("\"tcp://10.9.8.7:5433\""), "{e}");
        assert!(e.0.contains("plugins/p.toml"), "{e}");
        assert!(p.check_connect(sa("11.0.0.1:5432")).is_err());
    }

    #[tokio::test]
    async fn names_are_pinned_and_only_granted_names_resolve() {
        let p = policy(&["postgres://localhost"], false);
        let denials = Denials::default();
        let ips = p.lookup("localhost", &denials).await.expect("granted name");
        assert!(!ips.is_empty());
        let ip = ips[0];
        assert!(p.check_connect(SocketAddr::new(ip, 5432)).is_ok());
        let e = p
            .check_connect(SocketAddr::new(ip, 5433))
            .expect_err("port+1");
        assert!(e.0.contains("\"postgres://localhost:5433\""), "{e}");
        assert_eq!(
            p.lookup("example.org", &denials).await,
            Err(LookupError::Denied)
        );
        assert!(denials.take().iter().any(|d| d.contains("example.org")));
        // An address never handed out by pier is not reachable through a name grant.
        assert!(p.check_connect(sa("192.0.2.1:5432")).is_err());
    }

    #[tokio::test]
    async fn block_private_filters_wildcards_only() {
        let p = policy(&["tcp://*:9"], true);
        let denials = Denials::default();
        assert_eq!(
            p.lookup("localhost", &denials).await,
            Err(LookupError::Denied)
        );
        assert!(p.check_connect(sa("127.0.0.1:9")).is_err());
        assert!(p.check_connect(sa("[::ffff:10.0.0.1]:9")).is_err());
        assert!(p.check_connect(sa("93.184.216.34:9")).is_ok());
        let exact = policy(&["tcp://localhost:9", "tcp://*:9"], true);
        assert!(exact.lookup("localhost", &denials).await.is_ok());
    }

    #[test]
    fn wildcards_match_whole_labels_only() {
        let g = NetworkGrant::parse("tcp://*.test:1").expect("wild");
        assert!(g.covers_name("x.test"));
        assert!(g.covers_name("a.b.test"));
        for bad in ["test", "x..test", ".test", "..test", "xtest", "x.test."] {
            assert!(!g.covers_name(bad), "{bad} must not match *.test");
        }
    }

    #[tokio::test]
    async fn malformed_names_are_not_looked_up() {
        let p = policy(&["tcp://*.test:1"], false);
        let denials = Denials::default();
        assert_eq!(
            p.lookup("x..test", &denials).await,
            Err(LookupError::Denied)
        );
        assert!(
            denials
                .take()
                .iter()
                .any(|d| d.contains("not a valid host name"))
        );
    }

    #[test]
    fn block_private_applies_to_wide_blocks() {
        for any in ["tcp://0.0.0.0/0:5432", "tcp://[::]/0:5432"] {
            let p = policy(&[any], true);
            assert!(p.check_connect(sa("127.0.0.1:5432")).is_err(), "{any}");
            assert!(p.check_connect(sa("[::1]:5432")).is_err(), "{any}");
            assert!(p.check_connect(sa("10.1.2.3:5432")).is_err(), "{any}");
        }
        let p = policy(&["tcp://0.0.0.0/0:5432"], true);
        assert!(p.check_connect(sa("93.184.216.34:5432")).is_ok());
        let e = p.check_connect(sa("127.0.0.1:5432")).expect_err("private");
        assert!(e.0.contains("\"tcp://127.0.0.1:5432\""), "{e}");
        // A single address written out is the manifest author's choice.
        let exact = policy(&["tcp://127.0.0.1:5432"], true);
        assert!(exact.check_connect(sa("127.0.0.1:5432")).is_ok());
        // Without block_private a wide block reaches private addresses as before.
        let open = policy(&["tcp://0.0.0.0/0:5432"], false);
        assert!(open.check_connect(sa("127.0.0.1:5432")).is_ok());
    }

    #[test]
    fn private_ranges() {
        for ip in [
            "127.0.0.1",
            "10.1.1.1",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.1.1",
            "100.64.0.1",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:192.168.0.1",
            "0.0.0.0",
        ] {
            assert!(is_private(ip.parse().expect("ip")), "{ip}");
        }
        for ip in ["8.8.8.8", "2606:4700::1111", "100.128.0.1"] {
            assert!(!is_private(ip.parse().expect("ip")), "{ip}");
        }
    }
}
