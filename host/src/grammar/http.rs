//! The grammar of `[grants].http` entries: an origin, `scheme://host[:port]`, with scheme `http`
//! or `https`; the host may be `*.domain`. Parsing and matching only: the gate that applies
//! grants to requests is `grants::http`.

/// One parsed entry of `[grants].http`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpGrant {
    pub text: String,
    pub https: bool,
    /// Lower-case host; a leading `*.` matches any subdomain (not the bare domain).
    pub host: String,
    pub port: u16,
}

impl HttpGrant {
    pub fn parse(text: &str) -> Result<Self, String> {
        let (scheme, rest) = text.split_once("://").ok_or_else(|| {
            format!("{text:?} is not an origin; write e.g. \"https://api.example.com\"")
        })?;
        let https = match scheme.to_ascii_lowercase().as_str() {
            "https" => true,
            "http" => false,
            other => {
                return Err(format!(
                    "{text:?}: scheme {other:?} is not http or https (sockets go in [grants].network)"
                ));
            }
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.contains(['/', '?', '#', '@']) {
            return Err(format!(
                "{text:?}: grant an origin (scheme://host[:port]) without user, path or query"
            ));
        }
        let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
            let (h, after) = v6
                .split_once(']')
                .ok_or_else(|| format!("{text:?}: unclosed [ in IPv6 address"))?;
            (format!("[{h}]"), after.strip_prefix(':'))
        } else {
            match rest.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), Some(p)),
                None => (rest.to_string(), None),
            }
        };
        let port = match port {
            None => {
                if https {
                    443
                } else {
                    80
                }
            }
            Some(p) => match p.parse::<u16>() {
                Ok(n) if n > 0 => n,
                _ => return Err(format!("{text:?}: {p:?} is not a port")),
            },
        };
        let host = host.to_ascii_lowercase();
        let body = host.strip_prefix("*.").unwrap_or(&host);
        let ok = !body.is_empty()
            && (body.starts_with('[')
                || body.split('.').all(|l| {
                    !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                }));
        if !ok {
            return Err(format!(
                "{text:?}: {host:?} is not a host name, IP or *.domain"
            ));
        }
        Ok(HttpGrant {
            text: text.to_string(),
            https,
            host,
            port,
        })
    }

    pub(crate) fn matches(&self, https: bool, host: &str, port: u16) -> bool {
        if self.https != https || self.port != port {
            return false;
        }
        match self.host.strip_prefix("*.") {
            Some(suffix) => host
                .strip_suffix(suffix)
                .is_some_and(|head| head.len() > 1 && head.ends_with('.')),
            None => self.host == host,
        }
    }
}
