//! What `pier plugins`, the start-up log and `/metrics` say about each plugin: its status,
//! tools, grants, notes and live counters, as a table or as JSON.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::manifest::Manifest;
use crate::runtime::CacheOutcome;

#[derive(Debug, Clone)]
pub enum PluginStatus {
    Loaded,
    /// Being compiled in the background; its tools appear when it is ready.
    Compiling,
    Failed(String),
}

/// What `pier plugins` prints, and what `serve` logs at start.
#[derive(Debug, Clone)]
pub struct PluginReport {
    pub name: String,
    pub file: Option<PathBuf>,
    pub status: PluginStatus,
    pub tools: Vec<String>,
    pub grants: Vec<String>,
    pub notes: Vec<String>,
    /// Whether the compiled code came from the cache (loaded plugins only).
    pub cache: Option<CacheOutcome>,
    /// SHA-256 of the `.wasm` (loaded plugins only), for `[plugin].sha256` pins.
    pub sha256: Option<String>,
    /// Calls served and calls that crashed or timed out, since the plugin was loaded.
    pub calls: u64,
    pub failures: u64,
    /// The circuit breaker: `closed`, `half-open`, or `open (retry in N s)`.
    pub circuit: Option<String>,
}

impl PluginReport {
    /// The report of a plugin with no loaded code (compiling or failed): no tools, no counters.
    pub(crate) fn unloaded(name: String, file: Option<PathBuf>, status: PluginStatus) -> Self {
        PluginReport {
            name,
            file,
            status,
            tools: Vec::new(),
            grants: Vec::new(),
            notes: Vec::new(),
            cache: None,
            sha256: None,
            calls: 0,
            failures: 0,
            circuit: None,
        }
    }
}

/// One line per grant, in manifest syntax, for reports.
pub(crate) fn describe_grants(m: &Manifest) -> Vec<String> {
    let mut out: Vec<String> = m
        .files
        .iter()
        .map(|f| {
            if f.host.to_string_lossy() == f.guest {
                format!("files {} ({})", f.guest, f.mode.as_str())
            } else {
                format!(
                    "files {} as {} ({})",
                    f.host.display(),
                    f.guest,
                    f.mode.as_str()
                )
            }
        })
        .collect();
    out.extend(m.env.iter().map(|e| format!("env {e}")));
    out.extend(m.network.iter().map(|g| format!("network {}", g.text)));
    if m.block_private && !m.network.is_empty() {
        out.push("block_private".to_string());
    }
    // Where a credential comes from is the operator's business; reports say only that there is one.
    out.extend(m.http.iter().map(|g| match &g.credential {
        Some(_) => format!("http {} (credential injected for {})", g.text, g.text),
        None => format!("http {}", g.text),
    }));
    out
}

/// The `pier plugins` table: one row per plugin, then its digest and notes.
pub fn table(dir: &Path, reports: &[PluginReport]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "plugin folder: {}", dir.display());
    if reports.is_empty() {
        let _ = writeln!(
            out,
            "no plugins (drop NAME.wasm, and optionally NAME.toml, into the folder)"
        );
        return out;
    }
    let _ = writeln!(
        out,
        "{:<16} {:<9} {:>5}  grants / reason",
        "PLUGIN", "STATUS", "TOOLS"
    );
    for r in reports {
        match &r.status {
            PluginStatus::Compiling => {
                let _ = writeln!(out, "{:<16} {:<9} {:>5}", r.name, "compiling", "-");
            }
            PluginStatus::Loaded => {
                let grants = if r.grants.is_empty() {
                    "none".to_string()
                } else {
                    r.grants.join("; ")
                };
                let status = match r.circuit.as_deref() {
                    Some(c) if c.starts_with("open") => "circuit",
                    _ => "loaded",
                };
                let _ = writeln!(
                    out,
                    "{:<16} {:<9} {:>5}  {grants}",
                    r.name,
                    status,
                    r.tools.len()
                );
                if let Some(digest) = &r.sha256 {
                    let _ = writeln!(out, "{:<16} {:<9} {:>5}  sha256 {digest}", "", "", "");
                }
                for note in &r.notes {
                    let _ = writeln!(out, "{:<16} {:<9} {:>5}  note: {note}", "", "", "");
                }
            }
            PluginStatus::Failed(reason) => {
                let _ = writeln!(out, "{:<16} {:<9} {:>5}  {reason}", r.name, "failed", "-");
            }
        }
    }
    out
}

/// `pier plugins --json`: the reports as an array of objects.
pub fn json(reports: &[PluginReport]) -> serde_json::Value {
    serde_json::Value::Array(
        reports
            .iter()
            .map(|r| {
                let (status, reason) = match &r.status {
                    PluginStatus::Loaded => ("loaded", None),
                    PluginStatus::Compiling => ("compiling", None),
                    PluginStatus::Failed(e) => ("failed", Some(e.clone())),
                };
                serde_json::json!({
                    "name": r.name, "file": r.file, "status": status, "reason": reason,
                    "tools": r.tools, "grants": r.grants, "notes": r.notes,
                    "sha256": r.sha256, "calls": r.calls, "failures": r.failures,
                    "circuit": r.circuit,
                    "cache": r.cache.map(|c| match c {
                        CacheOutcome::Hit => "hit",
                        CacheOutcome::Compiled => "compiled",
                        CacheOutcome::CompiledUncached => "uncached",
                    }),
                })
            })
            .collect(),
    )
}
