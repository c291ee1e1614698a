//! The grammar of `[grants].http` entries: an origin, `scheme://host[:port]`, with scheme `http`
//! or `https`; the host may be `*.domain`. An exact origin may carry a credential pier adds to
//! every request to it (the plugin never sees it): a bearer token, basic auth, a named header or
//! a query parameter, its value from one of pier's environment variables or from a file.
//! Parsing and matching only: the gate that applies grants to requests is `grants::http`.

use std::path::PathBuf;

/// One parsed entry of `[grants].http`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpGrant {
    pub text: String,
    pub https: bool,
    /// Lower-case host; a leading `*.` matches any subdomain (not the bare domain).
    pub host: String,
    pub port: u16,
    /// What pier adds to each request to this origin.
    pub credential: Option<Credential>,
}

/// A secret pier injects: how it goes on the request, and where its value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    pub injection: Injection,
    pub source: SecretSource,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Injection {
    /// `Authorization: Bearer <value>`.
    Bearer,
    /// `Authorization: Basic base64(user:<value>)`.
    Basic { user: String },
    /// `<name>: <prefix><value>`.
    Header { name: String, prefix: String },
    /// `?<name>=<value>` in the query string.
    Query { name: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// One of pier's environment variables (the plugin needs no `[grants].env` for it).
    Env(String),
    /// A file, read again when it changes (so a renewed token is used without a restart).
    File(PathBuf),
}

impl SecretSource {
    /// Where the value is, for messages: `$NAME` or `file PATH`. Never the value.
    pub fn describe(&self) -> String {
        match self {
            SecretSource::Env(name) => format!("${name}"),
            SecretSource::File(path) => format!("file {}", path.display()),
        }
    }
}

/// The keys of an `auth` table, each optional; [`Credential::from_keys`] checks the combination.
#[derive(Debug, Default)]
pub struct AuthKeys {
    pub bearer_env: Option<String>,
    pub bearer_file: Option<PathBuf>,
    pub basic_user: Option<String>,
    pub password_env: Option<String>,
    pub password_file: Option<PathBuf>,
    pub header: Option<String>,
    pub prefix: Option<String>,
    pub query: Option<String>,
    pub value_env: Option<String>,
    pub value_file: Option<PathBuf>,
}

/// What `auth` may say, for messages.
const AUTH_FORMS: &str = "bearer_env or bearer_file; basic_user with password_env or password_file; header (and prefix) with value_env or value_file; or query with value_env or value_file";

impl Credential {
    /// One credential from an `auth` table: exactly one way to inject, and exactly one source.
    pub fn from_keys(k: AuthKeys) -> Result<Self, String> {
        let one = |env: Option<String>, file: Option<PathBuf>, what: &str| match (env, file) {
            (Some(e), None) => Ok(SecretSource::Env(e)),
            (None, Some(f)) => Ok(SecretSource::File(f)),
            (Some(_), Some(_)) => Err(format!("give {what}_env or {what}_file, not both")),
            (None, None) => Err(format!("{what}_env or {what}_file is missing")),
        };
        let kinds = [
            k.bearer_env.is_some() || k.bearer_file.is_some(),
            k.basic_user.is_some(),
            k.header.is_some(),
            k.query.is_some(),
        ];
        if kinds.iter().filter(|k| **k).count() != 1 {
            return Err(format!("say one way to send the credential: {AUTH_FORMS}"));
        }
        let unused = |present: bool, key: &str| {
            if present {
                Err(format!(
                    "{key} does not belong with this kind of credential ({AUTH_FORMS})"
                ))
            } else {
                Ok(())
            }
        };
        if k.bearer_env.is_some() || k.bearer_file.is_some() {
            unused(
                k.password_env.is_some() || k.password_file.is_some(),
                "password_env/password_file",
            )?;
            unused(
                k.value_env.is_some() || k.value_file.is_some() || k.prefix.is_some(),
                "value_env/value_file/prefix",
            )?;
            let source = one(k.bearer_env, k.bearer_file, "bearer")?;
            return Ok(Credential {
                injection: Injection::Bearer,
                source,
            });
        }
        if let Some(user) = k.basic_user {
            unused(
                k.value_env.is_some() || k.value_file.is_some() || k.prefix.is_some(),
                "value_env/value_file/prefix",
            )?;
            if user.contains(':') {
                return Err("basic_user cannot contain ':'".into());
            }
            let source = one(k.password_env, k.password_file, "password")?;
            return Ok(Credential {
                injection: Injection::Basic { user },
                source,
            });
        }
        unused(
            k.password_env.is_some() || k.password_file.is_some(),
            "password_env/password_file",
        )?;
        let source = one(k.value_env, k.value_file, "value")?;
        if let Some(name) = k.header {
            let valid = !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
            if !valid {
                return Err(format!("header {name:?} is not a header name"));
            }
            if ["host", "content-length", "transfer-encoding", "connection"]
                .contains(&name.to_ascii_lowercase().as_str())
            {
                return Err(format!("header {name:?} cannot carry a credential"));
            }
            let prefix = k.prefix.unwrap_or_default();
            return Ok(Credential {
                injection: Injection::Header { name, prefix },
                source,
            });
        }
        unused(k.prefix.is_some(), "prefix")?;
        let name = k.query.unwrap_or_default();
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
        {
            return Err(format!(
                "query {name:?} is not a parameter name (letters, digits, - . _ ~)"
            ));
        }
        Ok(Credential {
            injection: Injection::Query { name },
            source,
        })
    }
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
            credential: None,
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
