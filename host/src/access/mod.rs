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
}

impl Caller {
    pub fn may_call(&self, plugin: &str, tool: &str) -> bool {
        self.scopes
            .as_ref()
            .is_none_or(|s| s.permits_tool(plugin, tool))
    }

    pub fn may_see_plugin(&self, plugin: &str) -> bool {
        self.scopes.as_ref().is_none_or(|s| s.covers_plugin(plugin))
    }

    /// Why a call to `exposed` (tool `tool` of `plugin`) is refused, and which scope would let
    /// it through.
    pub fn refusal(&self, exposed: &str, plugin: &str, tool: &str) -> String {
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

    /// For logs, metrics and audit lines: the identity, or `-` when there is none.
    pub fn label(&self) -> &str {
        self.identity.as_deref().unwrap_or("-")
    }
}
