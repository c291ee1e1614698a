//! `pier.toml`: how the host itself is run (as opposed to a plugin's manifest, which says what
//! one plugin may touch). Everything in it is optional; flags given to `pier serve` win.
//!
//! ```toml
//! identity = "alice"                 # the caller plugins see on stdio
//! read_only = false                  # true: only tools annotated read-only, for every caller
//! confirm = ["github_merge_*"]       # tools (exposed names) the user confirms before each call
//!
//! [http]
//! listen = "127.0.0.1:8080"
//! allowed_hosts = ["pier.internal"]  # Host header names (besides the loopback ones)
//! allowed_origins = ["https://app.example.com"]
//! stateless = false
//! identity_header = "x-rls-user-id"  # honoured only from tokens with trusted_proxy = true
//! tokens_file = "tokens.toml"        # [[tokens]] entries, as below
//!
//! [[http.tokens]]
//! identity = "ci"
//! token_env = "PIER_CI_TOKEN"
//! scopes = ["filesystem:read_*"]
//! read_only = true                   # this token: read-only tools only
//!
//! [audit]
//! file = "/var/log/pier/audit.jsonl"
//!
//! [[rate_limits]]
//! identity = "*"
//! tool = "postgres_*"
//! rate = 5      # calls per second
//! burst = 10
//!
//! [policy]                           # which plugins may load at all
//! require_approval = true
//! blocked = ["shell*"]
//! [[policy.allowed]]
//! name = "postgres"
//! sha256 = "…"
//! ```

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::access::{TokenSpec, Tokens};
use crate::http::{DEFAULT_HEADER_TIMEOUT, DEFAULT_MAX_CONNECTIONS, HttpOptions};
use crate::ops::{AuditConfig, AuditLog, Operations, RateLimits, RateRule};
use crate::plugin::manifest::parse_duration;
use crate::policy::{PluginPolicy, PolicySettings};

/// The plugin folder when none is given: `pier/plugins` in the per-user data folder.
pub fn default_plugin_dir() -> PathBuf {
    dirs::data_dir()
        .unwrap_or_else(|| PathBuf::from("."))
        .join("pier")
        .join("plugins")
}

/// What `pier serve` flags say about HTTP; each wins over `[http]` in `pier.toml`.
#[derive(Debug, Default)]
pub struct HttpFlags {
    pub tokens_file: Option<PathBuf>,
    pub allow_host: Vec<String>,
    pub allow_origin: Vec<String>,
    pub stateless: bool,
    pub identity_header: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("--http {addr}: {reason}")]
    Listen { addr: String, reason: String },
    #[error("cannot read {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("{path} is not valid: {reason}")]
    Invalid { path: String, reason: String },
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// The caller identity on stdio (where no token says who is calling).
    pub identity: Option<String>,
    /// Serve only tools annotated read-only, to every caller (`pier serve --read-only`).
    #[serde(default)]
    pub read_only: bool,
    /// Globs over exposed tool names whose calls the user confirms first, for every plugin (on
    /// top of each plugin's own list).
    #[serde(default)]
    pub confirm: Vec<String>,
    #[serde(default)]
    pub http: HttpSettings,
    pub audit: Option<AuditConfig>,
    #[serde(default)]
    pub rate_limits: Vec<RateRule>,
    /// Which plugins may load at all.
    #[serde(default)]
    pub policy: PolicySettings,
    /// The file these settings came from (relative paths in it are resolved against its folder).
    #[serde(skip)]
    pub source: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSettings {
    pub listen: Option<String>,
    #[serde(default)]
    pub allowed_hosts: Vec<String>,
    #[serde(default)]
    pub allowed_origins: Vec<String>,
    #[serde(default)]
    pub stateless: bool,
    pub identity_header: Option<String>,
    pub tokens_file: Option<PathBuf>,
    #[serde(default)]
    pub tokens: Vec<TokenSpec>,
    /// Open connections at most (default 512); see `http::HttpOptions::max_connections`.
    pub max_connections: Option<usize>,
    /// Time a client has to send a request's headers, and the longest an idle kept-alive
    /// connection stays open (default "10s").
    pub header_timeout: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokensFile {
    #[serde(default)]
    tokens: Vec<TokenSpec>,
}

impl Settings {
    /// `path` (from `--config` or `$PIER_CONFIG`), else `pier.toml` in the per-user config folder
    /// if it exists, else the defaults.
    pub fn find(path: Option<&Path>) -> Result<Self, SettingsError> {
        if let Some(p) = path {
            return Self::load(p);
        }
        match dirs::config_dir().map(|d| d.join("pier").join("pier.toml")) {
            Some(p) if p.exists() => Self::load(&p),
            _ => Ok(Settings::default()),
        }
    }

    /// The HTTP server's options for `addr`: flags over `[http]`, tokens resolved (so a bad
    /// tokens file stops pier before any plugin loads).
    pub fn http_options(
        &self,
        addr: &str,
        flags: &HttpFlags,
        identity: Option<String>,
    ) -> Result<HttpOptions, SettingsError> {
        use std::net::ToSocketAddrs;
        let listen_error = |reason: &str| SettingsError::Listen {
            addr: addr.to_string(),
            reason: reason.to_string(),
        };
        let listen = addr
            .to_socket_addrs()
            .map_err(|_| listen_error("give an address such as 127.0.0.1:8080"))?
            .next()
            .ok_or_else(|| listen_error("the name resolves to no address"))?;
        let tokens = self.tokens(flags.tokens_file.as_deref(), |k| std::env::var(k).ok())?;
        let http = &self.http;
        let header_timeout = match &http.header_timeout {
            Some(t) => parse_duration(t).map_err(|e| SettingsError::Invalid {
                path: self.origin(),
                reason: format!("[http].header_timeout: {e}"),
            })?,
            None => DEFAULT_HEADER_TIMEOUT,
        };
        Ok(HttpOptions {
            listen,
            allowed_hosts: [&http.allowed_hosts[..], &flags.allow_host[..]].concat(),
            allowed_origins: [&http.allowed_origins[..], &flags.allow_origin[..]].concat(),
            stateless: flags.stateless || http.stateless,
            identity_header: flags
                .identity_header
                .clone()
                .or_else(|| http.identity_header.clone()),
            tokens,
            identity,
            max_connections: http.max_connections.unwrap_or(DEFAULT_MAX_CONNECTIONS),
            header_timeout,
        })
    }

    /// Reads `path`; relative paths inside are made relative to its folder.
    pub fn load(path: &Path) -> Result<Self, SettingsError> {
        let text = std::fs::read_to_string(path).map_err(|e| SettingsError::Read {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        let mut s = Self::parse(&text).map_err(|reason| SettingsError::Invalid {
            path: path.display().to_string(),
            reason,
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        if let Some(f) = &s.http.tokens_file {
            s.http.tokens_file = Some(base.join(f));
        }
        if let Some(a) = &mut s.audit {
            a.file = base.join(&a.file);
        }
        s.source = Some(path.to_path_buf());
        Ok(s)
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|e| e.to_string().trim_end().to_string())
    }

    /// `[policy]`, checked (a bad glob or digest stops pier before any plugin loads).
    pub fn plugin_policy(&self) -> Result<PluginPolicy, SettingsError> {
        PluginPolicy::new(&self.policy, &self.origin()).map_err(|reason| SettingsError::Invalid {
            path: self.origin(),
            reason,
        })
    }

    fn origin(&self) -> String {
        self.source
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "pier.toml".into())
    }

    /// Every token: `[[http.tokens]]`, the tokens file (or `tokens_file` given here, which wins),
    /// and `PIER_TOKEN` from `env` (identity `PIER_TOKEN_IDENTITY`, default "default").
    pub fn tokens(
        &self,
        tokens_file: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Tokens, SettingsError> {
        let invalid = |path: String, reason: String| SettingsError::Invalid { path, reason };
        let mut all = Tokens::from_specs(&self.http.tokens, &self.origin(), &env)
            .map_err(|r| invalid(self.origin(), r))?;
        if let Some(file) = tokens_file.or(self.http.tokens_file.as_deref()) {
            let shown = file.display().to_string();
            let text = std::fs::read_to_string(file).map_err(|e| SettingsError::Read {
                path: shown.clone(),
                reason: e.to_string(),
            })?;
            warn_if_readable_by_others(file);
            let parsed: TokensFile = toml::from_str(&text)
                .map_err(|e| invalid(shown.clone(), e.to_string().trim_end().to_string()))?;
            let more = Tokens::from_specs(&parsed.tokens, &shown, &env)
                .map_err(|r| invalid(shown.clone(), r))?;
            all.extend(more).map_err(|r| invalid(shown, r))?;
        }
        if let Some(token) = env("PIER_TOKEN").filter(|t| !t.is_empty()) {
            let identity = env("PIER_TOKEN_IDENTITY").unwrap_or_else(|| "default".into());
            let single =
                Tokens::single(&token, &identity).map_err(|r| invalid("PIER_TOKEN".into(), r))?;
            all.extend(single)
                .map_err(|r| invalid("PIER_TOKEN".into(), r))?;
        }
        Ok(all)
    }

    /// Metrics, and the audit log and rate limits this file configures.
    pub fn operations(&self) -> Result<Operations, SettingsError> {
        let invalid = |reason| SettingsError::Invalid {
            path: self.origin(),
            reason,
        };
        let audit = self
            .audit
            .as_ref()
            .map(AuditLog::open)
            .transpose()
            .map_err(invalid)?;
        let limits = RateLimits::new(&self.rate_limits).map_err(invalid)?;
        Ok(Operations {
            metrics: Default::default(),
            audit,
            limits,
        })
    }
}

/// A tokens file others can read leaks every token in it; say so (it still loads).
fn warn_if_readable_by_others(file: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(file)
            && meta.permissions().mode() & 0o077 != 0
        {
            tracing::warn!(
                "{} can be read by other users; `chmod 600` it (or use token_env / token_sha256)",
                file.display()
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_file_parses() {
        let s = Settings::parse(
            r#"
identity = "alice"
[http]
listen = "127.0.0.1:9000"
allowed_hosts = ["pier.internal"]
stateless = true
identity_header = "x-rls-user-id"
[[http.tokens]]
identity = "ci"
token = "0123456789abcdef0123"
scopes = ["probe:echo"]
[audit]
file = "audit.jsonl"
[[rate_limits]]
tool = "probe_*"
rate = 1.5
burst = 2
"#,
        )
        .expect("valid");
        assert_eq!(s.identity.as_deref(), Some("alice"));
        assert!(s.http.stateless);
        assert_eq!(s.rate_limits.len(), 1);
        let tokens = s.tokens(None, |_| None).expect("tokens");
        assert_eq!(tokens.len(), 1);
    }

    #[test]
    fn unknown_keys_are_refused_with_a_line() {
        let e = Settings::parse("[http]\nlisten = \"x\"\nlsiten = 1\n").expect_err("typo");
        assert!(e.contains("lsiten") && e.contains("line 3"), "{e}");
    }

    #[test]
    fn pier_token_from_env() {
        let s = Settings::default();
        let env = |k: &str| match k {
            "PIER_TOKEN" => Some("x".repeat(32)),
            "PIER_TOKEN_IDENTITY" => Some("ops".into()),
            _ => None,
        };
        let t = s.tokens(None, env).expect("tokens");
        assert_eq!(
            t.verify(&"x".repeat(32)).map(|e| e.identity.as_str()),
            Some("ops")
        );
    }
}
