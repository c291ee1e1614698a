//! pier's filesystem plugin: the tools of the reference filesystem MCP server, confined to the
//! directories the manifest grants, plus per-root read-only/read-write modes, ranged and capped
//! reads, unique-match edits that keep line endings and can check a content hash, bounded
//! traversal with `.gitignore` support, and a content search.

mod read;
mod roots;
mod tools;
mod util;
mod walk;
mod write;

use pier_sdk::{CallContext, CallResult, Error, Plugin, Tool, Value, json};

/// Why a tool did not do what was asked. `Invalid` becomes an invalid-params error (the call
/// itself was malformed); the others are tool errors the model reads and can act on.
#[derive(Debug)]
pub enum ToolError {
    Invalid(String),
    Denied(String),
    Failed(String),
}

impl ToolError {
    pub fn message(&self) -> String {
        match self {
            ToolError::Invalid(m) | ToolError::Denied(m) | ToolError::Failed(m) => m.clone(),
        }
    }
}

/// Deserialises arguments; a mismatch names the field and the expected type.
pub fn args<T: serde::de::DeserializeOwned>(args: Value) -> Result<T, ToolError> {
    serde_json::from_value(args).map_err(|e| ToolError::Invalid(e.to_string()))
}

/// A numeric `[config]` value, or the default when absent or unparsable.
pub fn config_usize(key: &str, default: usize) -> usize {
    pier_sdk::host::config(key)
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

fn list_allowed_directories() -> CallResult {
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

struct Filesystem;

impl Plugin for Filesystem {
    fn tools() -> Vec<Tool> {
        tools::all()
    }

    fn call(_cx: &CallContext, name: &str, args: Value) -> Result<CallResult, Error> {
        let result = match name {
            "read_text_file" | "read_file" => read::read_text_file(args),
            "read_media_file" => read::read_media_file(args),
            "read_multiple_files" => read::read_multiple_files(args),
            "write_file" => write::write_file(args),
            "edit_file" => write::edit_file(args),
            "create_directory" => write::create_directory(args),
            "list_directory" => walk::list_directory(args, false),
            "list_directory_with_sizes" => walk::list_directory(args, true),
            "directory_tree" => walk::directory_tree(args),
            "move_file" => write::move_file(args),
            "search_files" => walk::search_files(args),
            "grep" => walk::grep(args),
            "get_file_info" => read::get_file_info(args),
            "list_allowed_directories" => Ok(list_allowed_directories()),
            other => return Err(Error::unknown_tool(other)),
        };
        match result {
            Ok(r) => Ok(r),
            Err(ToolError::Invalid(m)) => Err(Error::InvalidParams(m)),
            Err(ToolError::Denied(m)) | Err(ToolError::Failed(m)) => Ok(CallResult::error(m)),
        }
    }
}

pier_sdk::export_plugin!(Filesystem);
