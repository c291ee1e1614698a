//! Bearer-token authentication and the caller's identity for HTTP requests.
//!
//! With tokens configured, every request to `/mcp` and `/metrics` must carry
//! `Authorization: Bearer <token>`; the token names the caller (and its scopes). Only a token
//! marked `trusted_proxy` may name someone else, through the configured identity header: a
//! gateway that has authenticated its users passes the user on, while an ordinary caller that
//! sends the same header is still itself.

use std::sync::Arc;

use crate::access::{Caller, Scopes, TOOLS_HEADER, Tokens};

/// How a request was judged.
pub enum Verdict {
    /// The caller, and the digest of the token it presented (none when no tokens are set).
    Allowed(Caller, Option<[u8; 32]>),
    /// No `Authorization: Bearer` header.
    Missing,
    /// A token was sent but is not one of ours.
    Unknown,
    /// A header pier reads is malformed: a trusted proxy's identity header that cannot be an
    /// identity, or an `X-MCP-Tools` that is not a list of scopes.
    BadHeader(String),
}

pub struct Authenticator {
    tokens: Tokens,
    /// Lower-cased header name, e.g. `x-rls-user-id`.
    identity_header: Option<String>,
    /// The identity of callers when no tokens are configured (loopback only).
    anonymous: Option<String>,
}

/// Longest identity a proxy may pass on.
const MAX_IDENTITY: usize = 256;

impl Authenticator {
    pub fn new(tokens: Tokens, identity_header: Option<String>, anonymous: Option<String>) -> Self {
        Authenticator {
            tokens,
            identity_header: identity_header.map(|h| h.to_ascii_lowercase()),
            anonymous,
        }
    }

    pub fn requires_tokens(&self) -> bool {
        !self.tokens.is_empty()
    }

    pub fn judge(&self, headers: &http::HeaderMap) -> Verdict {
        // Read only once the caller is known, so an unauthenticated request learns nothing.
        let selection = || selection(headers).map_err(Verdict::BadHeader);
        if self.tokens.is_empty() {
            let selection = match selection() {
                Ok(s) => s,
                Err(refused) => return refused,
            };
            return Verdict::Allowed(
                Caller {
                    identity: self.anonymous.clone(),
                    selection,
                    ..Caller::default()
                },
                None,
            );
        }
        let Some(token) = bearer(headers) else {
            return Verdict::Missing;
        };
        let Some(entry) = self.tokens.verify(token) else {
            return Verdict::Unknown;
        };
        let mut identity = entry.identity.clone();
        if let Some(name) = &self.identity_header
            && let Some(value) = headers.get(name.as_str())
        {
            if entry.trusted_proxy {
                match value.to_str().ok().filter(|v| valid_identity(v)) {
                    Some(v) => identity = v.to_string(),
                    None => {
                        return Verdict::BadHeader(format!(
                            "the {name} header must be 1 to {MAX_IDENTITY} printable characters"
                        ));
                    }
                }
            } else {
                tracing::debug!(
                    identity = %entry.identity,
                    "ignored the {name} header: the token is not marked trusted_proxy"
                );
            }
        }
        let selection = match selection() {
            Ok(s) => s,
            Err(refused) => return refused,
        };
        Verdict::Allowed(
            Caller {
                identity: Some(identity),
                scopes: entry.scopes.clone(),
                read_only: entry.read_only.clone(),
                selection,
            },
            Some(*entry.digest()),
        )
    }
}

/// The tools a request narrows itself to: `X-MCP-Tools: postgres, github:get_*`, comma-separated
/// entries in the syntax of token scopes (a plugin, or `plugin:tool-glob`). Without the header,
/// no narrowing.
fn selection(headers: &http::HeaderMap) -> Result<Option<Arc<Scopes>>, String> {
    let Some(value) = headers.get(TOOLS_HEADER) else {
        return Ok(None);
    };
    let text = value
        .to_str()
        .map_err(|_| format!("the {TOOLS_HEADER} header must be text"))?;
    parse_selection(text, &format!("the {TOOLS_HEADER} header")).map(Some)
}

/// Where a URL path selects tools: `/mcp/x/postgres,github:get_*`, optionally ending in
/// `/readonly` (github-mcp-server's `/x/{toolset}/readonly`), for clients that can set a URL
/// but no headers.
pub const SELECTION_PATH: &str = "/mcp/x/";

/// What a `/mcp/x/…` path selects: the tools, and whether it asks for read-only tools alone.
/// `None` for any other path.
pub fn path_selection(path: &str) -> Result<Option<(Arc<Scopes>, bool)>, String> {
    let Some(rest) = path.strip_prefix(SELECTION_PATH) else {
        return Ok(None);
    };
    let (entries, read_only) = match rest.strip_suffix("/readonly") {
        Some(entries) => (entries, true),
        None => (rest.trim_end_matches('/'), false),
    };
    if entries.contains('/') {
        return Err(format!(
            "{SELECTION_PATH}… takes one path segment of plugins or plugin:tool patterns, optionally followed by /readonly, as in /mcp/x/postgres,github:get_*/readonly"
        ));
    }
    let text = percent_decode(entries)
        .ok_or_else(|| format!("the {SELECTION_PATH}… path is not valid percent-encoded text"))?;
    parse_selection(&text, &format!("the {SELECTION_PATH}… path")).map(|s| Some((s, read_only)))
}

/// `%2C` and friends back to text (a client may encode the commas and stars of a selection).
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Comma-separated selection entries from `source` (for messages), bounded: each entry is a
/// glob compiled for this request.
fn parse_selection(text: &str, source: &str) -> Result<Arc<Scopes>, String> {
    const MAX_BYTES: usize = 4096;
    const MAX_ENTRIES: usize = 64;
    if text.len() > MAX_BYTES {
        return Err(format!(
            "{source} is longer than {MAX_BYTES} bytes: select plugins or tool patterns, not tools one by one"
        ));
    }
    let entries: Vec<String> = text
        .split(',')
        .map(|e| e.trim().to_string())
        .filter(|e| !e.is_empty())
        .collect();
    if entries.len() > MAX_ENTRIES {
        return Err(format!(
            "{source} lists {} entries; at most {MAX_ENTRIES} (use patterns such as github:get_*)",
            entries.len()
        ));
    }
    if entries.is_empty() {
        return Err(format!(
            "{source} is empty: list plugins or plugin:tool patterns, as in \"postgres, github:get_*\""
        ));
    }
    Scopes::parse(&entries)
        .map(Arc::new)
        .map_err(|e| format!("{source}: {e}"))
}

fn bearer(headers: &http::HeaderMap) -> Option<&str> {
    let value = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

fn valid_identity(v: &str) -> bool {
    !v.is_empty() && v.len() <= MAX_IDENTITY && !v.chars().any(char::is_control)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::TokenSpec;

    #[test]
    fn a_path_selects_tools_and_may_ask_for_read_only() {
        assert!(path_selection("/mcp").expect("ok").is_none());
        let (s, read_only) = path_selection("/mcp/x/probe:echo%2Cfiles")
            .expect("ok")
            .expect("selected");
        assert!(!read_only && s.permits_tool("probe", "echo") && s.permits_tool("files", "x"));
        assert!(!s.permits_tool("probe", "count"));
        let (_, read_only) = path_selection("/mcp/x/files/readonly")
            .expect("ok")
            .expect("selected");
        assert!(read_only);
        assert!(
            path_selection("/mcp/x/a/b")
                .expect_err("two")
                .contains("/readonly")
        );
        assert!(
            path_selection("/mcp/x/%zz")
                .expect_err("bad")
                .contains("percent")
        );
        assert!(
            path_selection("/mcp/x/")
                .expect_err("empty")
                .contains("empty")
        );
    }

    fn auth() -> Authenticator {
        let spec = |identity: &str, token: &str, trusted: bool| TokenSpec {
            identity: identity.into(),
            token: Some(token.into()),
            token_env: None,
            token_sha256: None,
            scopes: None,
            trusted_proxy: trusted,
            read_only: false,
        };
        let tokens = Tokens::from_specs(
            &[
                spec("alice", "alice-token-0123456789", false),
                spec("gateway", "gateway-token-0123456789", true),
            ],
            "test",
            |_| None,
        )
        .expect("tokens");
        Authenticator::new(tokens, Some("X-RLS-User-Id".into()), None)
    }

    fn headers(pairs: &[(&str, &str)]) -> http::HeaderMap {
        let mut h = http::HeaderMap::new();
        for (k, v) in pairs {
            h.insert(
                http::HeaderName::from_bytes(k.as_bytes()).expect("name"),
                http::HeaderValue::from_str(v).expect("value"),
            );
        }
        h
    }

    fn identity(v: Verdict) -> Option<String> {
        match v {
            Verdict::Allowed(c, _) => c.identity,
            _ => None,
        }
    }

    #[test]
    fn identity_header_only_from_trusted_proxies() {
        let a = auth();
        let claim = ("x-rls-user-id", "mallory");
        let alice = headers(&[("authorization", "Bearer alice-token-0123456789"), claim]);
        assert_eq!(identity(a.judge(&alice)).as_deref(), Some("alice"));
        let proxy = headers(&[("authorization", "bearer gateway-token-0123456789"), claim]);
        assert_eq!(identity(a.judge(&proxy)).as_deref(), Some("mallory"));
        let proxy_alone = headers(&[("authorization", "Bearer gateway-token-0123456789")]);
        assert_eq!(identity(a.judge(&proxy_alone)).as_deref(), Some("gateway"));
        assert!(matches!(a.judge(&headers(&[])), Verdict::Missing));
        let wrong = headers(&[("authorization", "Bearer nope")]);
        assert!(matches!(a.judge(&wrong), Verdict::Unknown));
        let basic = headers(&[("authorization", "Basic YWxpY2U6eA==")]);
        assert!(matches!(a.judge(&basic), Verdict::Missing));
    }

    #[test]
    fn the_tools_header_is_read_after_authentication() {
        let a = auth();
        let bad = ("x-mcp-tools", ":x");
        // Without a token the answer is 401, whatever else the request says.
        assert!(matches!(a.judge(&headers(&[bad])), Verdict::Missing));
        let alice = ("authorization", "Bearer alice-token-0123456789");
        assert!(
            matches!(a.judge(&headers(&[alice, bad])), Verdict::BadHeader(m) if m.contains("x-mcp-tools"))
        );
        let many = vec!["p"; 65].join(",");
        assert!(
            matches!(a.judge(&headers(&[alice, ("x-mcp-tools", &many)])), Verdict::BadHeader(m) if m.contains("at most 64"))
        );
        let long = "p".repeat(5000);
        assert!(
            matches!(a.judge(&headers(&[alice, ("x-mcp-tools", &long)])), Verdict::BadHeader(m) if m.contains("4096"))
        );
        match a.judge(&headers(&[alice, ("x-mcp-tools", "probe:echo, files")])) {
            Verdict::Allowed(c, _) => {
                let s = c.selection.expect("a selection");
                assert!(s.permits_tool("probe", "echo") && s.permits_tool("files", "x"));
                assert!(!s.permits_tool("probe", "count"));
            }
            _ => panic!("alice is allowed"),
        }
    }
}
