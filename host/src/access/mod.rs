//! Who is calling and what they may use: bearer tokens, scopes, and the caller record that
//! travels with each request from the transport to the handler.

mod scopes;
mod tokens;

use std::sync::Arc;

pub use scopes::Scopes;
pub use tokens::{TokenEntry, TokenSpec, Tokens};

/// The authenticated caller of one request. The HTTP layer puts it in the request's extensions;
/// on stdio it is built from the configured identity.
#[derive(Debug, Clone, Default)]
pub struct Caller {
    /// What plugins see as `call-context.identity`.
    pub identity: Option<String>,
    /// `None`: everything is visible and callable.
    pub scopes: Option<Arc<Scopes>>,
    /// Set when only tools annotated read-only may be listed and called: which switch says so
    /// (pier's `--read-only`, or the token's `read_only`), for the refusal.
    pub read_only: Option<Arc<str>>,
    /// The tools this request narrowed itself to (HTTP `X-MCP-Tools` or a `/mcp/x/…` path, in
    /// the syntax of scopes).
    /// It only narrows: a tool outside the token's scopes stays out.
    pub selection: Option<Arc<Scopes>>,
}

/// A tool as access decisions see it: its plugin, its own (un-prefixed) name, and whether it is
/// annotated read-only.
#[derive(Debug, Clone, Copy)]
pub struct ToolRef<'a> {
    pub plugin: &'a str,
    pub tool: &'a str,
    pub read_only: bool,
}

/// Why a caller may not use a tool.
enum Denial {
    Scopes,
    ReadOnly,
    Selection,
}

/// The header in which an HTTP request narrows the tools it sees.
pub const TOOLS_HEADER: &str = "x-mcp-tools";

impl Caller {
    fn denial(&self, t: ToolRef<'_>) -> Option<Denial> {
        if !self
            .scopes
            .as_ref()
            .is_none_or(|s| s.permits_tool(t.plugin, t.tool))
        {
            return Some(Denial::Scopes);
        }
        if self.read_only.is_some() && !t.read_only {
            return Some(Denial::ReadOnly);
        }
        if !self
            .selection
            .as_ref()
            .is_none_or(|s| s.permits_tool(t.plugin, t.tool))
        {
            return Some(Denial::Selection);
        }
        None
    }

    /// Whether the tool is listed to this caller and may be called.
    pub fn may_call(&self, t: ToolRef<'_>) -> bool {
        self.denial(t).is_none()
    }

    pub fn may_see_plugin(&self, plugin: &str) -> bool {
        self.scopes.as_ref().is_none_or(|s| s.covers_plugin(plugin))
    }

    /// Why a call to `exposed` is refused, and what would let it through; `None` when it may go.
    pub fn refusal(&self, exposed: &str, t: ToolRef<'_>) -> Option<String> {
        let (plugin, tool) = (t.plugin, t.tool);
        Some(match self.denial(t)? {
            Denial::Scopes => {
                let scopes = self
                    .scopes
                    .as_ref()
                    .map(|s| s.describe())
                    .unwrap_or_default();
                format!(
                    "tool `{exposed}` is outside the scopes of identity `{}` ({scopes}); a token whose scopes include \"{plugin}\" or \"{plugin}:{tool}\" can call it",
                    self.label(),
                )
            }
            Denial::ReadOnly => format!(
                "tool `{exposed}` may change things (it is not annotated read-only) and {}: only read-only tools are listed and callable",
                self.read_only.as_deref().unwrap_or("pier serves read-only")
            ),
            Denial::Selection => format!(
                "tool `{exposed}` is not among the tools this request selected ({TOOLS_HEADER}: {}, or the /mcp/x/… path); add \"{plugin}\" or \"{plugin}:{tool}\" to the selection to use it",
                self.selection
                    .as_ref()
                    .map(|s| s.describe())
                    .unwrap_or_default()
            ),
        })
    }

    /// For logs, metrics and audit lines: the identity, or `-` when there is none.
    pub fn label(&self) -> &str {
        self.identity.as_deref().unwrap_or("-")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tool(tool: &str, read_only: bool) -> ToolRef<'_> {
        ToolRef {
            plugin: "files",
            tool,
            read_only,
        }
    }

    #[test]
    fn read_only_and_selection_narrow_and_say_why() {
        let everything = Caller::default();
        assert!(everything.may_call(tool("write_file", false)));
        let ro = Caller {
            read_only: Some("pier serves read-only (--read-only)".into()),
            ..Caller::default()
        };
        assert!(ro.may_call(tool("read_file", true)));
        let why = ro
            .refusal("files_write_file", tool("write_file", false))
            .expect("refused");
        assert!(
            why.contains("not annotated read-only") && why.contains("--read-only"),
            "{why}"
        );
        let picked = Caller {
            selection: Some(Arc::new(
                Scopes::parse(&["files:read_*".into()]).expect("valid"),
            )),
            ..Caller::default()
        };
        assert!(picked.may_call(tool("read_file", true)));
        let why = picked
            .refusal("files_list", tool("list", true))
            .expect("refused");
        assert!(
            why.contains("x-mcp-tools: files:read_*") && why.contains("\"files:list\""),
            "{why}"
        );
        // The selection never widens the token's scopes.
        let scoped = Caller {
            scopes: Some(Arc::new(
                Scopes::parse(&["files:read_*".into()]).expect("valid"),
            )),
            selection: Some(Arc::new(Scopes::parse(&["files".into()]).expect("valid"))),
            ..Caller::default()
        };
        assert!(!scoped.may_call(tool("write_file", false)));
    }
}
