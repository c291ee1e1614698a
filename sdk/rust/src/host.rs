//! Typed access to what pier offers every plugin: logging, progress, config, directory listings.

use crate::bindings::pier::mcp::host as raw;
pub use crate::bindings::pier::mcp::types::LogLevel;

/// Writes a line to pier's log (stderr), tagged with the plugin's name.
pub fn log(level: LogLevel, message: &str) {
    raw::log(level, message);
}

/// Logs at debug level.
pub fn debug(message: &str) {
    raw::log(LogLevel::Debug, message);
}

/// Logs at info level.
pub fn info(message: &str) {
    raw::log(LogLevel::Info, message);
}

/// Logs at warn level.
pub fn warn(message: &str) {
    raw::log(LogLevel::Warn, message);
}

/// Reports progress for the call identified by `request_id` (from the call context).
pub fn progress(request_id: &str, progress: f64, total: Option<f64>, message: Option<&str>) {
    raw::progress(request_id, progress, total, message);
}

/// One value from the manifest's `[config]` table.
pub fn config(key: &str) -> Option<String> {
    raw::config_get(key)
}

/// Every `[config]` entry.
pub fn config_all() -> Vec<(String, String)> {
    raw::config_list()
}

/// The name pier loaded this plugin under (its tool prefix).
pub fn plugin_name() -> String {
    raw::plugin_name()
}

/// Path of this plugin's manifest, for messages that tell the user what to grant.
pub fn manifest_path() -> String {
    raw::manifest_path()
}

pub use crate::bindings::pier::mcp::host::{DirectoryEntry, DirectoryError, EntryKind};

/// Lists a directory inside a `[grants].files` directory in one host call, sorted by name; with
/// `sizes`, regular files carry their size. Far cheaper than reading it through
/// `wasi:filesystem` (a host call and a `stat` per entry there), under the same sandbox. On
/// [`DirectoryError::Unsupported`] read it through `wasi:filesystem` instead.
pub fn read_directory(path: &str, sizes: bool) -> Result<Vec<DirectoryEntry>, DirectoryError> {
    raw::read_directory(path, sizes)
}
