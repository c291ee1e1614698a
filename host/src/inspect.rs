//! `pier inspect`: what a component wants, before anyone installs it.
//!
//! Imports are read from the component's type (no code runs for that); tools are read by calling
//! `list-tools` in an instance with no grants at all. Set against a manifest, each capability the
//! component imports is shown as granted or not, with the line that would grant it, so "this
//! plugin wants sockets but has no network grant" is visible up front.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;
use wasmtime::component::Component;

use crate::plugin::LoadedPlugin;
use crate::plugin::manifest::Manifest;
use crate::runtime::{CompileCache, Runtime};

/// One capability a component may import, and whether the manifest grants it.
#[derive(Debug, Serialize)]
pub struct Capability {
    /// `sockets`, `http`, `filesystem`, `environment`, `stdio`, `clocks`, `random`, `pier-host`,
    /// or `unknown`.
    pub kind: &'static str,
    /// The imported interfaces of this kind.
    pub interfaces: Vec<String>,
    /// What the manifest grants for it (empty when nothing).
    pub granted: Vec<String>,
    /// What to do about it: the manifest key to add, or why nothing is needed.
    pub note: String,
}

/// A tool as the component lists it (un-prefixed name).
#[derive(Debug, Serialize)]
pub struct InspectedTool {
    pub name: String,
    pub description: String,
    pub read_only: bool,
    pub destructive: bool,
    pub open_world: bool,
}

/// Everything `pier inspect` reports.
#[derive(Debug, Serialize)]
pub struct Inspection {
    pub file: PathBuf,
    pub sha256: String,
    pub size: u64,
    /// The manifest used for the grant column, if any.
    pub manifest: Option<PathBuf>,
    /// `pier:mcp` interfaces the component exports.
    pub exports: Vec<String>,
    /// Tools as the component lists them with no grants.
    pub tools: Vec<InspectedTool>,
    /// Why the tools could not be listed (then `tools` is empty).
    pub tools_error: Option<String>,
    pub capabilities: Vec<Capability>,
}

#[derive(Debug, thiserror::Error)]
pub enum InspectError {
    #[error("cannot read {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("{path} is not a valid WebAssembly component: {reason}")]
    NotComponent { path: String, reason: String },
    #[error(transparent)]
    Manifest(#[from] crate::ManifestError),
    #[error("cannot start the WebAssembly engine: {0}")]
    Engine(String),
}

/// Inspects the component at `wasm`; grants come from `manifest`, or the `NAME.toml` beside it.
pub async fn inspect(wasm: &Path, manifest: Option<&Path>) -> Result<Inspection, InspectError> {
    let bytes = std::fs::read(wasm).map_err(|e| InspectError::Read {
        path: wasm.display().to_string(),
        reason: e.to_string(),
    })?;
    let sibling = wasm.with_extension("toml");
    let manifest_path = match manifest {
        Some(p) => Some(p.to_path_buf()),
        None if sibling.is_file() => Some(sibling.clone()),
        None => None,
    };
    let manifest = match &manifest_path {
        Some(p) => Manifest::load(p)?,
        None => Manifest::empty(sibling),
    };
    let runtime = Runtime::new().map_err(|e| InspectError::Engine(e.to_string()))?;
    let not_component = |e: wasmtime::Error| InspectError::NotComponent {
        path: wasm.display().to_string(),
        // wasmparser appends the expected/actual bytes over several lines; keep the sentence.
        reason: format!("{e:#}")
            .lines()
            .next()
            .and_then(|l| l.split(" - ").next())
            .unwrap_or_default()
            .to_string(),
    };
    let component = {
        let engine = runtime.engine.clone();
        let bytes = bytes.clone();
        tokio::task::spawn_blocking(move || Component::new(&engine, &bytes))
            .await
            .map_err(|e| InspectError::Engine(e.to_string()))?
            .map_err(not_component)?
    };
    let ty = component.component_type();
    let imports: Vec<String> = ty
        .imports(&runtime.engine)
        .map(|(name, _)| name.to_string())
        .collect();
    let exports: Vec<String> = ty
        .exports(&runtime.engine)
        .map(|(name, _)| name.to_string())
        .filter(|n| n.starts_with("pier:mcp/"))
        .collect();
    let (tools, tools_error) = match list_tools(runtime, bytes.clone(), wasm, &manifest).await {
        Ok(t) => (t, None),
        Err(e) => (Vec::new(), Some(e)),
    };
    Ok(Inspection {
        file: wasm.to_path_buf(),
        sha256: hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes)),
        size: bytes.len() as u64,
        manifest: manifest_path,
        exports,
        tools,
        tools_error,
        capabilities: capabilities(&imports, &manifest),
    })
}

/// Lists tools in an instance with no grants (config is kept: it is not a capability, and some
/// plugins shape their tool list from it).
async fn list_tools(
    runtime: Arc<Runtime>,
    bytes: Vec<u8>,
    wasm: &Path,
    manifest: &Manifest,
) -> Result<Vec<InspectedTool>, String> {
    let mut bare = Manifest::empty(manifest.path.clone());
    bare.config = manifest.config.clone();
    let name = wasm
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .filter(|n| crate::plugin::manifest::validate_plugin_name(n).is_ok())
        .unwrap_or_else(|| "inspected".to_string());
    // Inspecting is looking, not serving: no policy applies.
    let open = crate::policy::PluginPolicy::default();
    let cache = CompileCache::new(None);
    let plugin = LoadedPlugin::load(runtime, &cache, &open, name, bytes, bare, None)
        .await
        .map_err(|e| e.to_string())?;
    Ok(plugin
        .description
        .tools
        .iter()
        .map(|t| {
            let a = &t.definition.annotations;
            InspectedTool {
                name: t.local.clone(),
                description: t.definition.description.clone(),
                read_only: a.read_only,
                destructive: a.destructive,
                open_world: a.open_world,
            }
        })
        .collect())
}

/// Capabilities in the order a reviewer cares about: what reaches out first.
const ORDER: &[&str] = &[
    "unknown",
    "sockets",
    "http",
    "filesystem",
    "environment",
    "stdio",
    "clocks",
    "random",
    "io",
    "exit",
    "pier-host",
];

fn kind_of(interface: &str) -> &'static str {
    let bare = interface.split('@').next().unwrap_or(interface);
    match bare {
        b if b.starts_with("wasi:sockets/") => "sockets",
        b if b.starts_with("wasi:http/") => "http",
        b if b.starts_with("wasi:filesystem/") => "filesystem",
        "wasi:cli/environment" => "environment",
        "wasi:cli/stdin" | "wasi:cli/stdout" | "wasi:cli/stderr" => "stdio",
        b if b.starts_with("wasi:cli/terminal") => "stdio",
        "wasi:cli/exit" => "exit",
        b if b.starts_with("wasi:clocks/") => "clocks",
        b if b.starts_with("wasi:random/") => "random",
        b if b.starts_with("wasi:io/") => "io",
        b if b.starts_with("pier:mcp/") => "pier-host",
        _ => "unknown",
    }
}

fn capabilities(imports: &[String], m: &Manifest) -> Vec<Capability> {
    let manifest = m.path.display().to_string();
    let mut caps: Vec<Capability> = Vec::new();
    for interface in imports {
        let kind = kind_of(interface);
        match caps.iter_mut().find(|c| c.kind == kind) {
            Some(c) => c.interfaces.push(interface.clone()),
            None => caps.push(Capability {
                kind,
                interfaces: vec![interface.clone()],
                granted: Vec::new(),
                note: String::new(),
            }),
        }
    }
    for c in &mut caps {
        let (granted, wanted_note) = match c.kind {
            "sockets" => (
                m.network.iter().map(|g| g.text.clone()).collect(),
                format!(
                    "wants sockets but has no network grant: add e.g. \"tcp://HOST:PORT\" to [grants].network in {manifest} (or `pier grant NAME network tcp://HOST:PORT`)"
                ),
            ),
            "http" => (
                m.http
                    .iter()
                    .map(|g| match &g.credential {
                        Some(_) => format!("{} (credential injected for {})", g.text, g.text),
                        None => g.text.clone(),
                    })
                    .collect(),
                format!(
                    "wants HTTP but has no origin grant: add e.g. \"https://api.example.com\" to [grants].http in {manifest}"
                ),
            ),
            "filesystem" => (
                m.files
                    .iter()
                    .map(|f| format!("{} ({})", f.guest, f.mode.as_str()))
                    .collect(),
                format!(
                    "wants files but has no directory grant: add [[grants.files]] with host = \"DIR\" to {manifest}"
                ),
            ),
            "environment" => (
                m.env.clone(),
                format!(
                    "may read environment variables; none are granted, so it sees an empty environment (add names to [grants].env in {manifest} if it needs some)"
                ),
            ),
            _ => (Vec::new(), String::new()),
        };
        c.note = match c.kind {
            "stdio" => "output is discarded and input is empty: plugins log through pier".into(),
            "clocks" | "random" | "io" | "exit" => "always available".into(),
            "pier-host" => "pier's host API (log, progress, config)".into(),
            "unknown" => {
                "pier does not provide this interface: the plugin will fail to load".into()
            }
            _ if granted.is_empty() => wanted_note,
            _ => "granted".into(),
        };
        c.granted = granted;
    }
    caps.sort_by_key(|c| ORDER.iter().position(|k| *k == c.kind));
    caps
}

impl Inspection {
    /// The human-readable report `pier inspect` prints.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let kib = self.size.div_ceil(1024);
        out.push_str(&format!(
            "component: {} ({kib} KiB, sha256 {})\n",
            self.file.display(),
            self.sha256
        ));
        match &self.manifest {
            Some(m) => out.push_str(&format!("manifest:  {}\n", m.display())),
            None => out.push_str("manifest:  none (nothing is granted)\n"),
        }
        out.push_str(&format!("exports:   {}\n", self.exports.join(", ")));
        match &self.tools_error {
            None => {
                out.push_str(&format!("tools ({}):\n", self.tools.len()));
                for t in &self.tools {
                    let mut flags = Vec::new();
                    if t.read_only {
                        flags.push("read-only");
                    }
                    if t.destructive {
                        flags.push("destructive");
                    }
                    if t.open_world {
                        flags.push("open-world");
                    }
                    let first = t.description.lines().next().unwrap_or("");
                    out.push_str(&format!("  {:<24} {first}", t.name));
                    if !flags.is_empty() {
                        out.push_str(&format!(" [{}]", flags.join(", ")));
                    }
                    out.push('\n');
                }
            }
            Some(e) => out.push_str(&format!("tools: could not be listed: {e}\n")),
        }
        out.push_str("capabilities:\n");
        for c in &self.capabilities {
            let granted = if c.granted.is_empty() {
                String::new()
            } else {
                format!(" [{}]", c.granted.join(", "))
            };
            out.push_str(&format!("  {:<12} {}{granted}\n", c.kind, c.note));
        }
        out
    }
}
