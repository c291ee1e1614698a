//! Token scopes: which plugins and tools a caller may list and call.
//!
//! A scope is `PLUGIN` (all of the plugin: its tools, resources and prompts) or `PLUGIN:GLOB`
//! (the plugin's tools whose own, un-prefixed names match GLOB; its resources and prompts too,
//! since those belong to the plugin as a whole). Scopes are written in the plugin's terms rather
//! than as globs over exposed names, so `files` cannot accidentally match a plugin `files2`.

use globset::{Glob, GlobMatcher};

#[derive(Debug, Clone)]
struct Entry {
    plugin: String,
    tools: Option<GlobMatcher>,
}

/// A parsed scope list. No `Scopes` (an `Option::None` at the call sites) means everything.
#[derive(Debug, Clone)]
pub struct Scopes {
    entries: Vec<Entry>,
    /// The list as written, for error messages.
    text: Vec<String>,
}

impl Scopes {
    pub fn parse(list: &[String]) -> Result<Self, String> {
        let mut entries = Vec::with_capacity(list.len());
        for s in list {
            let (plugin, tools) = match s.split_once(':') {
                Some((p, g)) => {
                    let glob = Glob::new(g)
                        .map_err(|e| format!("scope {s:?}: bad tool pattern {g:?}: {e}"))?;
                    (p, Some(glob.compile_matcher()))
                }
                None => (s.as_str(), None),
            };
            if plugin.is_empty() {
                return Err(format!(
                    "scope {s:?}: name a plugin, as in \"filesystem\" or \"postgres:query\""
                ));
            }
            entries.push(Entry {
                plugin: plugin.to_string(),
                tools,
            });
        }
        Ok(Scopes {
            entries,
            text: list.to_vec(),
        })
    }

    /// Whether any scope names the plugin (its resources and prompts are then visible).
    pub fn covers_plugin(&self, plugin: &str) -> bool {
        self.entries
            .iter()
            .any(|e| e.plugin == plugin || e.plugin == "*")
    }

    /// Whether the plugin's tool (its own name, not the exposed one) may be listed and called.
    pub fn permits_tool(&self, plugin: &str, tool: &str) -> bool {
        self.entries.iter().any(|e| {
            (e.plugin == plugin || e.plugin == "*")
                && e.tools.as_ref().is_none_or(|g| g.is_match(tool))
        })
    }

    pub fn describe(&self) -> String {
        self.text.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plugin_and_tool_scopes() {
        let s = Scopes::parse(&["filesystem".into(), "postgres:list_*".into()]).expect("valid");
        assert!(s.permits_tool("filesystem", "write_file"));
        assert!(s.permits_tool("postgres", "list_tables"));
        assert!(!s.permits_tool("postgres", "query"));
        assert!(!s.permits_tool("filesystem2", "read"));
        assert!(s.covers_plugin("postgres"));
        assert!(!s.covers_plugin("github"));
    }

    #[test]
    fn bad_scopes_are_reported() {
        assert!(Scopes::parse(&[":x".into()]).is_err());
        let e = Scopes::parse(&["p:[".into()]).expect_err("bad glob");
        assert!(e.contains("bad tool pattern"), "{e}");
    }
}
