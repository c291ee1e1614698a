//! Bearer tokens: where they come from, and checking a presented one.
//!
//! Only SHA-256 digests are kept in memory; a presented token is hashed and compared with every
//! configured digest in constant time (no early exit, so timing says nothing about which token or
//! how many bytes matched). Tokens are never logged or echoed, not even in error messages.

use std::sync::Arc;

use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::Scopes;

/// One `[[tokens]]` entry as written in the tokens file (or `[[http.tokens]]` in pier.toml).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenSpec {
    /// Who the caller is: plugins see this in their call context.
    pub identity: String,
    /// The token itself (keep the file private: mode 0600).
    pub token: Option<String>,
    /// An environment variable holding the token.
    pub token_env: Option<String>,
    /// The token's SHA-256 in hex, so the file holds no secret.
    pub token_sha256: Option<String>,
    /// What the token may list and call; absent means everything.
    pub scopes: Option<Vec<String>>,
    /// A proxy that authenticates users itself may name the user in the identity header.
    #[serde(default)]
    pub trusted_proxy: bool,
    /// Only tools annotated read-only are listed and callable with this token.
    #[serde(default)]
    pub read_only: bool,
}

/// A token that passed verification.
#[derive(Debug)]
pub struct TokenEntry {
    pub identity: String,
    pub scopes: Option<Arc<Scopes>>,
    pub trusted_proxy: bool,
    /// Set for a `read_only` token: the refusal's reason, written once at start.
    pub read_only: Option<Arc<str>>,
    digest: [u8; 32],
}

impl TokenEntry {
    /// The token's SHA-256 digest (what pier keeps instead of the token): binds HTTP sessions
    /// to the token that created them.
    pub fn digest(&self) -> &[u8; 32] {
        &self.digest
    }
}

#[derive(Debug, Default)]
pub struct Tokens {
    entries: Vec<TokenEntry>,
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Equal in time independent of where the digests differ.
fn same(a: &[u8; 32], b: &[u8; 32]) -> bool {
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

impl Tokens {
    /// Resolves each spec's secret (inline, from `env`, or a digest). `origin` names where the
    /// specs came from, for errors.
    pub fn from_specs(
        specs: &[TokenSpec],
        origin: &str,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, String> {
        let mut entries = Vec::with_capacity(specs.len());
        for (i, spec) in specs.iter().enumerate() {
            let at = format!("{origin}: token {} (identity {:?})", i + 1, spec.identity);
            if spec.identity.trim().is_empty() {
                return Err(format!("{origin}: token {} has an empty identity", i + 1));
            }
            let given = [
                spec.token.is_some(),
                spec.token_env.is_some(),
                spec.token_sha256.is_some(),
            ];
            if given.iter().filter(|g| **g).count() != 1 {
                return Err(format!(
                    "{at}: give exactly one of token, token_env or token_sha256"
                ));
            }
            let digest = if let Some(t) = &spec.token {
                check_strength(t, &at)?;
                digest(t)
            } else if let Some(var) = &spec.token_env {
                let t = env(var).ok_or_else(|| {
                    format!("{at}: the environment variable {var} (token_env) is not set")
                })?;
                check_strength(&t, &at)?;
                digest(&t)
            } else {
                let hex_text = spec.token_sha256.as_deref().unwrap_or_default();
                hex::decode(hex_text.trim())
                    .ok()
                    .and_then(|b| <[u8; 32]>::try_from(b).ok())
                    .ok_or_else(|| {
                        format!("{at}: token_sha256 must be 64 hex digits (sha256sum of the token)")
                    })?
            };
            let scopes = match &spec.scopes {
                Some(list) => Some(Arc::new(
                    Scopes::parse(list).map_err(|e| format!("{at}: {e}"))?,
                )),
                None => None,
            };
            entries.push(TokenEntry {
                identity: spec.identity.clone(),
                scopes,
                trusted_proxy: spec.trusted_proxy,
                read_only: spec.read_only.then(|| {
                    Arc::from(format!(
                        "the token of identity `{}` is read-only (read_only = true in its [[tokens]] entry; a token without it can call the tool)",
                        spec.identity
                    ))
                }),
                digest,
            });
        }
        let mut seen = std::collections::HashSet::new();
        if entries.iter().any(|e| !seen.insert(e.digest)) {
            return Err(format!(
                "{origin}: two entries have the same token; each identity needs its own"
            ));
        }
        Ok(Tokens { entries })
    }

    /// One all-access token from the environment (`PIER_TOKEN`), under `identity`.
    pub fn single(token: &str, identity: &str) -> Result<Self, String> {
        check_strength(token, "PIER_TOKEN")?;
        Ok(Tokens {
            entries: vec![TokenEntry {
                identity: identity.to_string(),
                scopes: None,
                trusted_proxy: false,
                read_only: None,
                digest: digest(token),
            }],
        })
    }

    /// Adds tokens from another source; a token both already hold is refused, as within one.
    pub fn extend(&mut self, other: Tokens) -> Result<(), String> {
        for e in other.entries {
            if self
                .entries
                .iter()
                .any(|have| same(&have.digest, &e.digest))
            {
                return Err(format!(
                    "the token for identity {:?} is also configured elsewhere (tokens file, [[http.tokens]] or PIER_TOKEN); each identity needs its own",
                    e.identity
                ));
            }
            self.entries.push(e);
        }
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// The entry whose token this is. Every entry is compared, match or not.
    pub fn verify(&self, presented: &str) -> Option<&TokenEntry> {
        let d = digest(presented);
        let mut found = None;
        for e in &self.entries {
            if same(&e.digest, &d) && found.is_none() {
                found = Some(e);
            }
        }
        found
    }
}

/// Short tokens can be guessed; refuse them at start rather than serve with one.
fn check_strength(token: &str, at: &str) -> Result<(), String> {
    if token.chars().count() < 16 {
        return Err(format!(
            "{at}: the token is shorter than 16 characters; use a random one (e.g. `openssl rand -hex 32`)"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(identity: &str) -> TokenSpec {
        TokenSpec {
            identity: identity.into(),
            token: None,
            token_env: None,
            token_sha256: None,
            scopes: None,
            trusted_proxy: false,
            read_only: false,
        }
    }

    #[test]
    fn tokens_from_each_source_verify() {
        let inline = TokenSpec {
            token: Some("a".repeat(20)),
            ..spec("alice")
        };
        let env = TokenSpec {
            token_env: Some("BOB_TOKEN".into()),
            scopes: Some(vec!["probe".into()]),
            ..spec("bob")
        };
        let hashed = TokenSpec {
            token_sha256: Some(hex::encode(digest(&"c".repeat(20)))),
            trusted_proxy: true,
            ..spec("proxy")
        };
        let tokens = Tokens::from_specs(&[inline, env, hashed], "t.toml", |v| {
            (v == "BOB_TOKEN").then(|| "b".repeat(20))
        })
        .expect("valid");
        assert_eq!(
            tokens.verify(&"a".repeat(20)).map(|e| e.identity.as_str()),
            Some("alice")
        );
        let bob = tokens.verify(&"b".repeat(20)).expect("bob");
        assert!(bob.scopes.is_some());
        assert!(tokens.verify(&"c".repeat(20)).expect("proxy").trusted_proxy);
        assert!(tokens.verify("nope").is_none());
        assert!(tokens.verify(&"a".repeat(21)).is_none());
    }

    #[test]
    fn bad_specs_say_what_is_wrong_without_the_secret() {
        let weak = TokenSpec {
            token: Some("short".into()),
            ..spec("a")
        };
        let e = Tokens::from_specs(&[weak], "t.toml", |_| None).expect_err("weak");
        assert!(
            e.contains("shorter than 16") && !e.contains("short\""),
            "{e}"
        );
        let missing = TokenSpec {
            token_env: Some("NOPE".into()),
            ..spec("a")
        };
        let e = Tokens::from_specs(&[missing], "t.toml", |_| None).expect_err("unset");
        assert!(e.contains("NOPE"), "{e}");
        let e = Tokens::from_specs(&[spec("a")], "t.toml", |_| None).expect_err("none");
        assert!(e.contains("exactly one"), "{e}");
        let dup = TokenSpec {
            token: Some("d".repeat(20)),
            ..spec("x")
        };
        let e = Tokens::from_specs(
            &[
                dup.clone(),
                TokenSpec {
                    identity: "y".into(),
                    ..dup
                },
            ],
            "t",
            |_| None,
        )
        .expect_err("duplicate");
        assert!(e.contains("same token"), "{e}");
    }
}
