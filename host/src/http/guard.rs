//! The DNS-rebinding defence: `Host` and `Origin` checked against allow-lists before anything
//! else. A web page the user visits can make the browser send requests to a loopback port under
//! the page's own host name (rebinding) or origin; both are refused with 403 and a reason.

use std::net::SocketAddr;

/// Which `Host` and `Origin` values are accepted.
#[derive(Debug, Clone)]
pub struct Guard {
    /// Lower-cased `host` or `host:port` entries; `None` accepts any Host.
    hosts: Option<Vec<String>>,
    /// Lower-cased `scheme://host[:port|:*]` entries, or `null`.
    origins: Vec<String>,
    /// Browser origins on a loopback host are accepted (pier itself listens on loopback).
    loopback_origins: bool,
}

const LOOPBACK_NAMES: &[&str] = &["localhost", "127.0.0.1", "::1"];

impl Guard {
    /// On loopback, the loopback names (any port) plus `hosts`. On a specific other address, that
    /// address too. On an unspecified one (0.0.0.0) with no `hosts` configured, any Host: pier
    /// cannot know the names it is reached by, and tokens are required there anyway.
    pub fn new(listen: SocketAddr, hosts: &[String], origins: &[String]) -> Self {
        let ip = listen.ip();
        let hosts = if ip.is_unspecified() && hosts.is_empty() {
            None
        } else {
            let mut list: Vec<String> = LOOPBACK_NAMES.iter().map(|s| s.to_string()).collect();
            if !ip.is_loopback() && !ip.is_unspecified() {
                list.push(ip.to_string());
            }
            list.extend(hosts.iter().map(|h| h.to_ascii_lowercase()));
            Some(list)
        };
        Guard {
            hosts,
            origins: origins
                .iter()
                .map(|o| o.trim_end_matches('/').to_ascii_lowercase())
                .collect(),
            loopback_origins: ip.is_loopback(),
        }
    }

    pub fn accepts_any_host(&self) -> bool {
        self.hosts.is_none()
    }

    /// `Err(reason)` if the Host header names a host not on the list.
    pub fn check_host(&self, host: Option<&str>) -> Result<(), String> {
        let Some(list) = &self.hosts else {
            return Ok(());
        };
        let Some(host) = host else {
            return Err("the request has no Host header".into());
        };
        let authority = host.to_ascii_lowercase();
        let name = host_name(&authority);
        if list.iter().any(|h| *h == authority || *h == name) {
            return Ok(());
        }
        Err(format!(
            "Host {host:?} is not allowed (DNS-rebinding defence); if clients reach pier by that name, add it to [http].allowed_hosts in pier.toml or pass --allow-host {name}"
        ))
    }

    /// `Err(reason)` if an Origin header is present and not allowed. No Origin (a non-browser
    /// client) is fine.
    pub fn check_origin(&self, origin: Option<&str>) -> Result<(), String> {
        let Some(origin) = origin else {
            return Ok(());
        };
        let o = origin.trim_end_matches('/').to_ascii_lowercase();
        let allowed = self.origins.iter().any(|entry| origin_matches(entry, &o))
            || (self.loopback_origins
                && o.split_once("://").is_some_and(|(scheme, rest)| {
                    matches!(scheme, "http" | "https") && LOOPBACK_NAMES.contains(&host_name(rest))
                }));
        if allowed {
            return Ok(());
        }
        Err(format!(
            "Origin {origin:?} is not allowed (DNS-rebinding defence); if a web app at that origin should use pier, add it to [http].allowed_origins in pier.toml or pass --allow-origin {origin}"
        ))
    }
}

/// `example.com:8080` → `example.com`; `[::1]:8080` → `::1`.
fn host_name(authority: &str) -> &str {
    if let Some(rest) = authority.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match authority.rsplit_once(':') {
        Some((name, port)) if port.chars().all(|c| c.is_ascii_digit()) => name,
        _ => authority,
    }
}

/// `https://app.example.com:*` matches any port; otherwise exact.
fn origin_matches(entry: &str, origin: &str) -> bool {
    match entry.strip_suffix(":*") {
        Some(base) => {
            origin == base
                || origin
                    .strip_prefix(base)
                    .and_then(|rest| rest.strip_prefix(':'))
                    .is_some_and(|port| {
                        !port.is_empty() && port.chars().all(|c| c.is_ascii_digit())
                    })
        }
        None => entry == origin,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().expect("address")
    }

    #[test]
    fn loopback_defaults() {
        let g = Guard::new(addr("127.0.0.1:8080"), &[], &[]);
        assert!(g.check_host(Some("127.0.0.1:8080")).is_ok());
        assert!(g.check_host(Some("localhost:9")).is_ok());
        assert!(g.check_host(Some("[::1]:8080")).is_ok());
        let e = g
            .check_host(Some("evil.example:8080"))
            .expect_err("rebinding");
        assert!(e.contains("--allow-host evil.example"), "{e}");
        assert!(g.check_host(None).is_err());
        assert!(g.check_origin(None).is_ok());
        assert!(g.check_origin(Some("http://localhost:6274")).is_ok());
        let e = g
            .check_origin(Some("https://evil.example"))
            .expect_err("foreign");
        assert!(e.contains("allowed_origins"), "{e}");
    }

    #[test]
    fn configured_lists() {
        let g = Guard::new(
            addr("0.0.0.0:8080"),
            &["pier.internal".into(), "api.example.com:443".into()],
            &[
                "https://app.example.com".into(),
                "http://dev.example:*".into(),
            ],
        );
        assert!(!g.accepts_any_host());
        assert!(g.check_host(Some("pier.internal:8080")).is_ok());
        assert!(g.check_host(Some("api.example.com:443")).is_ok());
        assert!(g.check_host(Some("api.example.com:80")).is_err());
        assert!(g.check_origin(Some("https://app.example.com")).is_ok());
        assert!(
            g.check_origin(Some("https://app.example.com:8443"))
                .is_err()
        );
        assert!(g.check_origin(Some("http://dev.example:3000")).is_ok());
        assert!(
            g.check_origin(Some("http://dev.example.evil:3000"))
                .is_err()
        );
        // Not bound to loopback: loopback origins are not trusted by default.
        assert!(g.check_origin(Some("http://localhost:3000")).is_err());
        assert!(Guard::new(addr("0.0.0.0:1"), &[], &[]).accepts_any_host());
    }
}
