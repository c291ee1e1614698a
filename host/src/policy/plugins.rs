//! `[policy]` in pier.toml: which plugins may load at all.
//!
//! The administrator owns pier.toml; a plugin's manifest is written by whoever installs the
//! plugin, so nothing in a manifest can loosen the policy. Checked before a component is
//! compiled: a refused plugin costs nothing and `pier plugins` shows why it did not load, while
//! the others serve.
//!
//! ```toml
//! [policy]
//! require_approval = true            # only plugins listed below load
//! blocked = ["shell*"]               # never load (globs over plugin names); wins over allowed
//!
//! require_signature = true           # every plugin signed by a publisher below
//!
//! [[policy.publishers]]
//! name = "acme"
//! key = "ed25519:…"                  # from the publisher's `pier keygen`
//!
//! [[policy.allowed]]
//! name = "postgres"
//! sha256 = "…"                       # optional: only this build (sha256sum postgres.wasm)
//! publisher = "acme"                 # optional: any build acme signed
//! version = ">=1.0.0, <2"            # optional: only these versions
//! ```
//!
//! A plugin's version is the one its publisher signed (`pier sign --version`) when a pinned
//! publisher signed one, else the `[plugin].version` its manifest declares; the two must agree
//! when both are there. A range without `publisher` trusts the manifest's word.

use globset::{Glob, GlobMatcher};
use serde::Deserialize;

use super::signature::{self, PublicKey};

/// One approved plugin.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllowedPlugin {
    /// The plugin's name (the file stem, or `[plugin].name` of its manifest).
    pub name: String,
    /// Only the build with this SHA-256 (64 hex digits).
    pub sha256: Option<String>,
    /// Only builds signed by this publisher of `[[policy.publishers]]`.
    pub publisher: Option<String>,
    /// Only versions in this semver range (`">=1.0.0"`, `"^1.2"`, `">=1, <2"`).
    pub version: Option<String>,
}

/// An approval with its version range parsed.
#[derive(Debug, Clone)]
struct Approval {
    entry: AllowedPlugin,
    range: Option<semver::VersionReq>,
}

/// A publisher whose signatures pier trusts.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Publisher {
    pub name: String,
    /// `ed25519:` and the key in base64.
    pub key: String,
}

/// `[policy]` as written in pier.toml.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicySettings {
    #[serde(default)]
    pub require_approval: bool,
    #[serde(default)]
    pub blocked: Vec<String>,
    #[serde(default)]
    pub allowed: Vec<AllowedPlugin>,
    #[serde(default)]
    pub require_signature: bool,
    #[serde(default)]
    pub publishers: Vec<Publisher>,
}

/// The checked policy: globs compiled, digests and keys validated.
#[derive(Debug, Clone, Default)]
pub struct PluginPolicy {
    require_approval: bool,
    require_signature: bool,
    blocked: Vec<(String, GlobMatcher)>,
    allowed: Vec<Approval>,
    publishers: Vec<(String, PublicKey)>,
    /// Where it was written, for refusals.
    source: String,
}

impl PluginPolicy {
    /// Checks `[policy]` from `source` (the pier.toml path, for messages).
    pub fn new(settings: &PolicySettings, source: &str) -> Result<Self, String> {
        let mut blocked = Vec::new();
        for pattern in &settings.blocked {
            let glob = Glob::new(pattern)
                .map_err(|e| format!("[policy].blocked: {pattern:?} is not a glob: {e}"))?;
            blocked.push((pattern.clone(), glob.compile_matcher()));
        }
        let mut allowed = Vec::new();
        for a in &settings.allowed {
            if a.name.trim().is_empty() {
                return Err("[[policy.allowed]]: name is empty".into());
            }
            let sha256 = match &a.sha256 {
                Some(d) if d.len() == 64 && d.bytes().all(|b| b.is_ascii_hexdigit()) => {
                    Some(d.to_ascii_lowercase())
                }
                Some(d) => {
                    return Err(format!(
                        "[[policy.allowed]] {:?}: sha256 must be 64 hex digits (sha256sum NAME.wasm), not {d:?}",
                        a.name
                    ));
                }
                None => None,
            };
            if let Some(p) = &a.publisher
                && !settings.publishers.iter().any(|k| &k.name == p)
            {
                return Err(format!(
                    "[[policy.allowed]] {:?}: publisher {p:?} is not in [[policy.publishers]]",
                    a.name
                ));
            }
            let range = a
                .version
                .as_deref()
                .map(|v| {
                    semver::VersionReq::parse(v).map_err(|e| {
                        format!(
                            "[[policy.allowed]] {:?}: version {v:?} is not a range like \">=1.0.0\" or \"^1.2\": {e}",
                            a.name
                        )
                    })
                })
                .transpose()?;
            allowed.push(Approval {
                entry: AllowedPlugin {
                    name: a.name.clone(),
                    sha256,
                    publisher: a.publisher.clone(),
                    version: a.version.clone(),
                },
                range,
            });
        }
        let mut publishers = Vec::new();
        for p in &settings.publishers {
            let key = PublicKey::parse(&p.key)
                .map_err(|e| format!("[[policy.publishers]] {:?}: {e}", p.name))?;
            publishers.push((p.name.clone(), key));
        }
        if settings.require_signature && publishers.is_empty() {
            return Err(
                "[policy].require_signature is on but no [[policy.publishers]] key is pinned: nothing could load".into(),
            );
        }
        Ok(PluginPolicy {
            require_approval: settings.require_approval,
            require_signature: settings.require_signature,
            blocked,
            allowed,
            publishers,
            source: source.to_string(),
        })
    }

    /// Which publisher signed the component (and the version it signed), from its signature
    /// file's text: `Ok(None)` when unsigned (or signed by a key the policy does not pin, when
    /// no signature is required); a signature that does not verify is always a refusal.
    fn signer(
        &self,
        name: &str,
        digest: &str,
        signature_text: Option<&str>,
    ) -> Result<Option<(&str, Option<semver::Version>)>, String> {
        let src = &self.source;
        let Some(text) = signature_text else {
            if self.require_signature {
                return Err(format!(
                    "plugin {name} is not signed: [policy].require_signature is on in {src}; the publisher signs it with `pier sign {name}.wasm` and ships {name}.wasm.sig beside it"
                ));
            }
            return Ok(None);
        };
        let signed = signature::verify(text, digest).map_err(|e| {
            let instead = if self.require_signature {
                String::new()
            } else {
                format!("; to load it unsigned, remove {name}.wasm.sig")
            };
            format!("plugin {name}: {e}{instead}")
        })?;
        match self.publishers.iter().find(|(_, k)| *k == signed.key) {
            Some((publisher, _)) => Ok(Some((publisher, signed.version))),
            None if self.require_signature => Err(format!(
                "plugin {name} is signed by {}, which no [[policy.publishers]] in {src} pins; if you trust it, add [[policy.publishers]] name = \"…\" key = \"{}\"",
                signed.key.text(),
                signed.key.text()
            )),
            None => Ok(None),
        }
    }

    /// Whether plugin `name`, whose component has SHA-256 `digest` (and the signature file
    /// `signature` beside it, if any; `declared`: its manifest's `[plugin].version`), may
    /// load; the refusal says which rule refused it and what to change.
    pub fn check(
        &self,
        name: &str,
        digest: &str,
        signature: Option<&str>,
        declared: Option<&semver::Version>,
    ) -> Result<(), String> {
        let src = &self.source;
        if let Some((pattern, _)) = self.blocked.iter().find(|(_, g)| g.is_match(name)) {
            return Err(format!(
                "plugin {name} is blocked by [policy].blocked ({pattern:?}) in {src}"
            ));
        }
        let signed = self.signer(name, digest, signature)?;
        let signer = signed.as_ref().map(|(p, _)| *p);
        let signed_version = signed.as_ref().and_then(|(_, v)| v.as_ref());
        if let (Some(s), Some(d)) = (signed_version, declared)
            && s != d
        {
            return Err(format!(
                "plugin {name}: its manifest declares version {d} but {} signed version {s}; correct [plugin].version in the manifest",
                signer.unwrap_or("its publisher")
            ));
        }
        let version = signed_version.or(declared);
        let entries: Vec<&Approval> = self
            .allowed
            .iter()
            .filter(|a| a.entry.name == name)
            .collect();
        if entries.is_empty() {
            if self.require_approval {
                return Err(format!(
                    "plugin {name} is not approved: [policy].require_approval is on in {src} and no [[policy.allowed]] names it; to approve this build add [[policy.allowed]] name = \"{name}\" sha256 = \"{digest}\""
                ));
            }
            return Ok(());
        }
        if entries.iter().any(|a| {
            a.entry.sha256.as_deref().is_none_or(|d| d == digest)
                && a.entry
                    .publisher
                    .as_deref()
                    .is_none_or(|p| Some(p) == signer)
                && a.range
                    .as_ref()
                    .is_none_or(|r| version.is_some_and(|v| r.matches(v)))
        }) {
            return Ok(());
        }
        let approved: Vec<String> = entries
            .iter()
            .map(|a| {
                let mut parts = Vec::new();
                if let Some(d) = &a.entry.sha256 {
                    parts.push(format!("sha256 {d}"));
                }
                if let Some(p) = &a.entry.publisher {
                    parts.push(format!("signed by {p}"));
                }
                if let Some(v) = &a.entry.version {
                    parts.push(format!("version {v}"));
                }
                if parts.is_empty() {
                    "any build".to_string()
                } else {
                    parts.join(", ")
                }
            })
            .collect();
        let signed_by = match signer {
            Some(p) => format!("signed by {p}"),
            None => "signed by no pinned publisher".to_string(),
        };
        let versioned = match (signed_version, declared) {
            (Some(v), _) => format!("version {v} (signed)"),
            (None, Some(v)) => format!("version {v} (declared by its manifest)"),
            (None, None) => "no version (set [plugin].version in its manifest, or sign one with pier sign --version)".to_string(),
        };
        Err(format!(
            "plugin {name} is approved in {src} only as {}; this file's digest is {digest}, {signed_by}, {versioned}; if you trust this build, add it to [[policy.allowed]]",
            approved.join(" or ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(text: &str) -> PluginPolicy {
        let s: PolicySettings = toml::from_str(text).expect("toml");
        PluginPolicy::new(&s, "pier.toml").expect("valid")
    }

    impl PluginPolicy {
        fn check_unsigned(&self, name: &str, digest: &str) -> Result<(), String> {
            self.check(name, digest, None, None)
        }
    }

    #[test]
    fn blocked_beats_allowed_and_approval_names_the_line_to_add() {
        let d1 = "a".repeat(64);
        let d2 = "b".repeat(64);
        let p = policy(&format!(
            "require_approval = true\nblocked = [\"shell*\"]\n[[allowed]]\nname = \"postgres\"\nsha256 = \"{d1}\"\n[[allowed]]\nname = \"files\"\n[[allowed]]\nname = \"shellish\"\n"
        ));
        assert!(p.check_unsigned("postgres", &d1).is_ok());
        let e = p.check_unsigned("postgres", &d2).expect_err("other build");
        assert!(e.contains(&d1) && e.contains(&d2), "{e}");
        assert!(p.check_unsigned("files", &d2).is_ok(), "no pin: any build");
        let e = p.check_unsigned("shellish", &d1).expect_err("blocked");
        assert!(
            e.contains("[policy].blocked") && e.contains("shell*"),
            "{e}"
        );
        let e = p.check_unsigned("github", &d1).expect_err("unlisted");
        assert!(
            e.contains("require_approval")
                && e.contains(&format!("name = \"github\" sha256 = \"{d1}\"")),
            "{e}"
        );
        // Without require_approval an unlisted plugin loads; a listed one is still pinned.
        let open = policy(&format!(
            "[[allowed]]\nname = \"postgres\"\nsha256 = \"{d1}\"\n"
        ));
        assert!(open.check_unsigned("github", &d1).is_ok());
        assert!(open.check_unsigned("postgres", &d2).is_err());
        assert!(
            PluginPolicy::default()
                .check_unsigned("anything", &d1)
                .is_ok()
        );
    }

    #[test]
    fn signatures_are_verified_and_publishers_approve_their_builds() {
        let (secret, key) = signature::generate().expect("key");
        let (_, stranger) = signature::generate().expect("key");
        let d1 = "a".repeat(64);
        let d2 = "b".repeat(64);
        let (sig1, _) = signature::sign(&secret, &d1, None).expect("signed");
        let p = policy(&format!(
            "require_signature = true\n[[publishers]]\nname = \"acme\"\nkey = \"{}\"\n[[allowed]]\nname = \"postgres\"\npublisher = \"acme\"\n",
            key.text()
        ));
        assert!(p.check("postgres", &d1, Some(&sig1), None).is_ok());
        assert!(
            p.check("other", &d1, Some(&sig1), None).is_ok(),
            "signed, and approval is off"
        );
        let e = p
            .check("postgres", &d2, Some(&sig1), None)
            .expect_err("another build");
        assert!(e.contains("does not match"), "{e}");
        let e = p.check("postgres", &d1, None, None).expect_err("unsigned");
        assert!(
            e.contains("not signed") && e.contains("pier sign postgres.wasm"),
            "{e}"
        );
        let e = p
            .check(
                "postgres",
                &d1,
                Some(&sig1.replace(&key.text(), &stranger.text())),
                None,
            )
            .expect_err("forged");
        assert!(e.contains("does not match"), "{e}");
        // Signed by a key nobody pinned.
        let other = policy(&format!(
            "require_signature = true\n[[publishers]]\nname = \"other\"\nkey = \"{}\"\n",
            stranger.text()
        ));
        let e = other
            .check("postgres", &d1, Some(&sig1), None)
            .expect_err("unpinned");
        assert!(
            e.contains(&key.text()) && e.contains("[[policy.publishers]]"),
            "{e}"
        );
        // Without require_signature an unsigned plugin loads, but a publisher-only approval
        // still needs the publisher's signature.
        let open = policy(&format!(
            "[[publishers]]\nname = \"acme\"\nkey = \"{}\"\n[[allowed]]\nname = \"postgres\"\npublisher = \"acme\"\n",
            key.text()
        ));
        assert!(open.check("github", &d1, None, None).is_ok());
        let e = open
            .check("postgres", &d1, None, None)
            .expect_err("needs acme");
        assert!(
            e.contains("signed by acme") && e.contains("no pinned publisher"),
            "{e}"
        );
    }

    #[test]
    fn version_ranges_trust_the_publisher_over_the_manifest() {
        let (secret, key) = signature::generate().expect("key");
        let d1 = "a".repeat(64);
        let v = |t: &str| signature::parse_version(t).expect("version");
        let (signed_1_4, _) = signature::sign(&secret, &d1, Some("1.4.0")).expect("signed");
        let (signed_0_9, _) = signature::sign(&secret, &d1, Some("0.9.0")).expect("signed");
        let p = policy(&format!(
            "require_approval = true
[[publishers]]
name = \"acme\"
key = \"{}\"
\
             [[allowed]]
name = \"postgres\"
publisher = \"acme\"
version = \">=1.0.0, <2\"
\
             [[allowed]]
name = \"files\"
version = \"^2.1\"
",
            key.text()
        ));
        assert!(p.check("postgres", &d1, Some(&signed_1_4), None).is_ok());
        assert!(
            p.check("postgres", &d1, Some(&signed_1_4), Some(&v("1.4.0")))
                .is_ok()
        );
        let e = p
            .check("postgres", &d1, Some(&signed_0_9), None)
            .expect_err("out of range");
        assert!(
            e.contains("version >=1.0.0, <2") && e.contains("version 0.9.0 (signed)"),
            "{e}"
        );
        // The manifest cannot claim another version than the publisher signed.
        let e = p
            .check("postgres", &d1, Some(&signed_0_9), Some(&v("1.5.0")))
            .expect_err("disagreeing");
        assert!(
            e.contains("declares version 1.5.0") && e.contains("signed version 0.9.0"),
            "{e}"
        );
        // A range without a publisher reads the manifest's version; none at all is refused.
        assert!(p.check("files", &d1, None, Some(&v("2.3.1"))).is_ok());
        let e = p
            .check("files", &d1, None, Some(&v("3.0.0")))
            .expect_err("major");
        assert!(e.contains("(declared by its manifest)"), "{e}");
        let e = p.check("files", &d1, None, None).expect_err("no version");
        assert!(
            e.contains("no version") && e.contains("[plugin].version"),
            "{e}"
        );
    }

    #[test]
    fn bad_policies_are_refused() {
        assert!(
            bad_policy("[[allowed]]\nname = \"x\"\nversion = \"one\"\n").contains("not a range")
        );
        let bad = |text: &str| {
            let s: PolicySettings = toml::from_str(text).expect("toml");
            PluginPolicy::new(&s, "pier.toml").expect_err("invalid")
        };
        assert!(bad("blocked = [\"[\"]").contains("not a glob"));
        assert!(bad("[[allowed]]\nname = \"x\"\nsha256 = \"abc\"\n").contains("64 hex"));
        assert!(bad("[[allowed]]\nname = \" \"\n").contains("empty"));
        assert!(bad("require_signature = true\n").contains("no [[policy.publishers]]"));
        assert!(
            bad("[[allowed]]\nname = \"x\"\npublisher = \"nobody\"\n")
                .contains("not in [[policy.publishers]]")
        );
        assert!(bad("[[publishers]]\nname = \"x\"\nkey = \"ed25519:abc\"\n").contains("32 bytes"));
    }

    fn bad_policy(text: &str) -> String {
        let s: PolicySettings = toml::from_str(text).expect("toml");
        PluginPolicy::new(&s, "pier.toml").expect_err("invalid")
    }
}
