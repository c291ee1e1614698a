//! `[tools] allow/deny`: which of a plugin's tools are listed and callable.
//!
//! Filtering happens in the host, so a denied tool is invisible to clients and refused even if a
//! client guesses its name; the plugin cannot opt out.

use globset::{Glob, GlobSet, GlobSetBuilder};

#[derive(Debug, Clone)]
pub struct ToolFilter {
    allow: Option<GlobSet>,
    deny: GlobSet,
}

impl ToolFilter {
    /// Everything allowed.
    pub fn allow_all() -> Self {
        ToolFilter {
            allow: None,
            deny: GlobSet::empty(),
        }
    }

    /// `allow = None` means all tools; patterns are globs over un-prefixed tool names.
    pub fn new(allow: Option<&[String]>, deny: &[String]) -> Result<Self, String> {
        let build = |key: &str, patterns: &[String]| -> Result<GlobSet, String> {
            let mut b = GlobSetBuilder::new();
            for p in patterns {
                b.add(Glob::new(p).map_err(|e| format!("{key}: bad glob {p:?}: {e}"))?);
            }
            b.build().map_err(|e| format!("{key}: {e}"))
        };
        Ok(ToolFilter {
            allow: allow.map(|a| build("allow", a)).transpose()?,
            deny: build("deny", deny)?,
        })
    }

    pub fn permits(&self, tool: &str) -> bool {
        self.allow.as_ref().is_none_or(|a| a.is_match(tool)) && !self.deny.is_match(tool)
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
