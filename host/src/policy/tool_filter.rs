//! `[tools] allow/deny`: which of a plugin's tools are listed and callable; and the globs over
//! tool names that other settings use (`[tools] confirm`, pier.toml's `confirm`).
//!
//! Filtering happens in the host, so a denied tool is invisible to clients and refused even if a
//! client guesses its name; the plugin cannot opt out.

use globset::{Glob, GlobSet, GlobSetBuilder};

/// A list of globs over tool names, kept with its text for messages.
#[derive(Debug, Clone, Default)]
pub struct ToolGlobs {
    set: GlobSet,
    patterns: Vec<String>,
}

impl ToolGlobs {
    /// `key` names the setting in the error for a bad glob.
    pub fn new(key: &str, patterns: &[String]) -> Result<Self, String> {
        let mut b = GlobSetBuilder::new();
        for p in patterns {
            b.add(Glob::new(p).map_err(|e| format!("{key}: bad glob {p:?}: {e}"))?);
        }
        let set = b.build().map_err(|e| format!("{key}: {e}"))?;
        Ok(ToolGlobs {
            set,
            patterns: patterns.to_vec(),
        })
    }

    pub fn matches(&self, tool: &str) -> bool {
        self.set.is_match(tool)
    }

    pub fn patterns(&self) -> &[String] {
        &self.patterns
    }
}

#[derive(Debug, Clone)]
pub struct ToolFilter {
    allow: Option<ToolGlobs>,
    deny: ToolGlobs,
}

impl ToolFilter {
    /// Everything allowed.
    pub fn allow_all() -> Self {
        ToolFilter {
            allow: None,
            deny: ToolGlobs::default(),
        }
    }

    /// `allow = None` means all tools; patterns are globs over un-prefixed tool names.
    pub fn new(allow: Option<&[String]>, deny: &[String]) -> Result<Self, String> {
        Ok(ToolFilter {
            allow: allow.map(|a| ToolGlobs::new("allow", a)).transpose()?,
            deny: ToolGlobs::new("deny", deny)?,
        })
    }

    pub fn permits(&self, tool: &str) -> bool {
        self.allow.as_ref().is_none_or(|a| a.matches(tool)) && !self.deny.matches(tool)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deny_beats_allow() {
        let f = ToolFilter::new(
            Some(&["read_*".into(), "list_*".into()]),
            &["read_media*".into()],
        )
        .expect("valid globs");
        assert!(f.permits("read_text_file"));
        assert!(f.permits("list_directory"));
        assert!(!f.permits("read_media_file"));
        assert!(!f.permits("write_file"));
        assert!(ToolFilter::allow_all().permits("anything"));
    }

    #[test]
    fn bad_glob_is_reported() {
        let e = ToolFilter::new(None, &["[".into()]).expect_err("bad glob");
        assert!(e.contains("deny"), "{e}");
    }
}
