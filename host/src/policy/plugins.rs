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
//! [[policy.allowed]]
//! name = "postgres"
//! sha256 = "…"                       # optional: only this build (sha256sum postgres.wasm)
//! ```

use globset::{Glob, GlobMatcher};
use serde::Deserialize;

/// One approved plugin.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllowedPlugin {
    /// The plugin's name (the file stem, or `[plugin].name` of its manifest).
    pub name: String,
    /// Only the build with this SHA-256 (64 hex digits).
    pub sha256: Option<String>,
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
}

/// The checked policy: globs compiled, digests validated.
#[derive(Debug, Clone, Default)]
pub struct PluginPolicy {
    require_approval: bool,
    blocked: Vec<(String, GlobMatcher)>,
    allowed: Vec<AllowedPlugin>,
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
            allowed.push(AllowedPlugin {
                name: a.name.clone(),
                sha256,
            });
        }
        Ok(PluginPolicy {
            require_approval: settings.require_approval,
            blocked,
            allowed,
            source: source.to_string(),
        })
    }

    /// Whether plugin `name`, whose component has SHA-256 `digest`, may load; the refusal says
    /// which rule refused it and what to change.
    pub fn check(&self, name: &str, digest: &str) -> Result<(), String> {
        let src = &self.source;
        if let Some((pattern, _)) = self.blocked.iter().find(|(_, g)| g.is_match(name)) {
            return Err(format!(
                "plugin {name} is blocked by [policy].blocked ({pattern:?}) in {src}"
            ));
        }
        let entries: Vec<&AllowedPlugin> = self.allowed.iter().filter(|a| a.name == name).collect();
        if entries.is_empty() {
            if self.require_approval {
                return Err(format!(
                    "plugin {name} is not approved: [policy].require_approval is on in {src} and no [[policy.allowed]] names it; to approve this build add [[policy.allowed]] name = \"{name}\" sha256 = \"{digest}\""
                ));
            }
            return Ok(());
        }
        if entries
            .iter()
            .any(|a| a.sha256.as_deref().is_none_or(|d| d == digest))
        {
            return Ok(());
        }
        let approved: Vec<&str> = entries.iter().filter_map(|a| a.sha256.as_deref()).collect();
        Err(format!(
            "plugin {name} is approved in {src} only as sha256 {}, and this file's digest is {digest}; if you trust this build, add it to [[policy.allowed]]",
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

    #[test]
    fn blocked_beats_allowed_and_approval_names_the_line_to_add() {
        let d1 = "a".repeat(64);
        let d2 = "b".repeat(64);
        let p = policy(&format!(
            "require_approval = true\nblocked = [\"shell*\"]\n[[allowed]]\nname = \"postgres\"\nsha256 = \"{d1}\"\n[[allowed]]\nname = \"files\"\n[[allowed]]\nname = \"shellish\"\n"
        ));
        assert!(p.check("postgres", &d1).is_ok());
        let e = p.check("postgres", &d2).expect_err("other build");
        assert!(e.contains(&d1) && e.contains(&d2), "{e}");
        assert!(p.check("files", &d2).is_ok(), "no pin: any build");
        let e = p.check("shellish", &d1).expect_err("blocked");
        assert!(
            e.contains("[policy].blocked") && e.contains("shell*"),
            "{e}"
        );
        let e = p.check("github", &d1).expect_err("unlisted");
        assert!(
            e.contains("require_approval")
                && e.contains(&format!("name = \"github\" sha256 = \"{d1}\"")),
            "{e}"
        );
        // Without require_approval an unlisted plugin loads; a listed one is still pinned.
        let open = policy(&format!(
            "[[allowed]]\nname = \"postgres\"\nsha256 = \"{d1}\"\n"
        ));
        assert!(open.check("github", &d1).is_ok());
        assert!(open.check("postgres", &d2).is_err());
        assert!(PluginPolicy::default().check("anything", &d1).is_ok());
    }

    #[test]
    fn bad_policies_are_refused() {
        let bad = |text: &str| {
            let s: PolicySettings = toml::from_str(text).expect("toml");
            PluginPolicy::new(&s, "pier.toml").expect_err("invalid")
        };
        assert!(bad("blocked = [\"[\"]").contains("not a glob"));
        assert!(bad("[[allowed]]\nname = \"x\"\nsha256 = \"abc\"\n").contains("64 hex"));
        assert!(bad("[[allowed]]\nname = \" \"\n").contains("empty"));
    }
}
