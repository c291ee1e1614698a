//! pier's filesystem plugin: the tools of the reference filesystem MCP server, confined to the
//! directories the manifest grants, plus per-root read-only/read-write modes, ranged and capped
//! reads, unique-match edits that keep line endings and can check a content hash, bounded
//! traversal with `.gitignore` support, and a content search.

mod read;
mod resources;
mod roots;
mod tools;
mod util;
mod walk;
mod write;

use pier_sdk::{
    CallContext, CallResult, Error, Plugin, ResourceContents, ResourceInfo, ResourceTemplate,
    Resources, Tools, Value, json,
};

/// Why a tool did not do what was asked: `Invalid` becomes an invalid-params error (the call
/// itself was malformed); `Denied` and `Failed` are tool errors the model reads and can act on.
pub use pier_sdk::ToolError;

/// A numeric `[config]` value, or the default when absent or unparsable.
pub fn config_usize(key: &str, default: usize) -> usize {
    pier_sdk::host::config(key)
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

pub(crate) fn list_allowed_directories() -> CallResult {
    let roots = roots::roots();
    let dirs: Vec<Value> = roots
        .iter()
        .map(|r| json!({"path": r.path.display().to_string(), "mode": if r.writable { "rw" } else { "ro" }}))
        .collect();
    let text = if roots.is_empty() {
        format!(
            "No directories are granted. Add one to [grants].files in {}",
            pier_sdk::host::manifest_path()
        )
    } else {
        let lines: Vec<String> = roots
            .iter()
            .map(|r| format!("{} ({})", r.path.display(), r.mode()))
            .collect();
        format!("Allowed directories:\n{}", lines.join("\n"))
    };
    CallResult::structured(text, &json!({"directories": dirs}))
}

/// The plugin's state: nothing of its own (the granted roots are read once, in `roots`).
pub struct Filesystem;

impl Plugin for Filesystem {
    fn new() -> Self {
        Filesystem
    }

    fn tools(&self, tools: &mut Tools<Self>) {
        tools::declare(tools);
    }
}

impl Resources for Filesystem {
    fn resources(&mut self, cx: &CallContext) -> Result<Vec<ResourceInfo>, Error> {
        Ok(resources::list(cx))
    }

    fn resource_templates(&self) -> Vec<ResourceTemplate> {
        resources::templates()
    }

    fn read_resource(
        &mut self,
        _cx: &CallContext,
        uri: &str,
    ) -> Result<Vec<ResourceContents>, Error> {
        resources::read(uri)
    }
}

pier_sdk::export_plugin!(Filesystem, resources);
