//! `[grants].network`: outgoing TCP to named destinations, with DNS answered by pier.
//!
//! The grammar of a grant is in `grammar::network`; this is what a grant lets through.
//!
//! Names are pinned: the guest's name lookups are answered by pier, only for granted names, and a
//! connect is allowed only to an address that came from such an answer (or that a grant names
//! as an IP or block). A guest cannot look up an ungranted name (no query leaves pier for it) and
//! cannot reach a granted name's address on a port the grant does not give.

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::Duration;

use super::denials::Denials;
use crate::grammar::network::{NetworkGrant, Target, block_contains, is_private, valid_label};

/// How long pier waits for its own resolver before telling the guest the name is unresolvable.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(5);
/// Addresses remembered from answers; old ones are forgotten past this many (a plugin that
/// looks up thousands of distinct names is not a use case worth unbounded memory).
const MAX_PINNED: usize = 4096;

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
