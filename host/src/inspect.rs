//! `pier inspect`: what a component wants, before anyone installs it.
//!
//! Imports are read from the component's type (no code runs for that); tools, prompts,
//! resources and resource templates are read by calling the component's lists in an instance
//! with no grants at all. Set against a manifest, each capability the component imports is shown as granted or not,
//! with the line that would grant it, so "this plugin wants sockets but has no network grant" is
//! visible up front.
//!
//! The component is compiled once, through the same on-disk cache `pier serve` uses: inspecting a
//! large Python or JavaScript component took its whole compile (seconds) on every run, and
//! inspecting before installing now also warms the cache for the first start.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::plugin::manifest::Manifest;
use crate::plugin::{LoadFor, LoadedPlugin};
use crate::runtime::{CacheOutcome, CompileCache, Runtime};
use serde::Serialize;

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
    /// True when the component embeds a language runtime that imports this whether the
    /// plugin's own code uses it or not (so an ungranted import is not by itself a want).
    pub from_runtime: bool,
}

/// A language runtime a component embeds, recognised by its build tool's marks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LanguageRuntime {
    /// CPython, by componentize-py (what `pier-py build` runs).
    Python,
    /// StarlingMonkey (SpiderMonkey), by componentize-js (what `pier-js build` runs).
    JavaScript,
}

impl LanguageRuntime {
    /// Finds the runtime from the names its build tool leaves in the component: the embedded
    /// CPython library, or the StarlingMonkey engine. A Rust (or C) component has neither.
    pub fn detect(wasm: &[u8]) -> Option<LanguageRuntime> {
        let has = |needle: &[u8]| memchr::memmem::find(wasm, needle).is_some();
        if has(b"componentize-py") || has(b"libpython3.") {
            Some(LanguageRuntime::Python)
        } else if has(b"StarlingMonkey") || has(b"starlingmonkey") || has(b"componentize-js") {
            Some(LanguageRuntime::JavaScript)
        } else {
            None
        }
    }

    fn label(self) -> &'static str {
        match self {
            LanguageRuntime::Python => "Python runtime (CPython, by componentize-py)",
            LanguageRuntime::JavaScript => {
                "JavaScript runtime (StarlingMonkey, by componentize-js)"
            }
        }
    }

    /// How to build without the imports the runtime adds.
    fn drop_hint(self, kind: &str) -> &'static str {
        match (self, kind) {
            (LanguageRuntime::Python, _) => "`pier-py build --stub-wasi` builds without them",
            (LanguageRuntime::JavaScript, "http") => {
                "`pier-js build` leaves WASI HTTP out unless given --enable http"
            }
            (LanguageRuntime::JavaScript, _) => {
                "componentize-js imports them whatever --disable says"
            }
        }
    }
}

/// A tool as the component lists it (un-prefixed name).
#[derive(Debug, Serialize)]
pub struct InspectedTool {
    pub name: String,
    pub description: String,
    pub read_only: bool,
    pub destructive: bool,
    pub open_world: bool,
    /// pier has the user confirm each call (the plugin's `about`, or the manifest's `confirm`).
    pub confirm: bool,
}

/// A prompt as the component lists it (un-prefixed name).
#[derive(Debug, Serialize)]
pub struct InspectedPrompt {
    pub name: String,
    pub description: Option<String>,
    /// Argument names, `?` after the optional ones.
    pub arguments: Vec<String>,
}

/// A resource template as the component lists it.
#[derive(Debug, Serialize)]
pub struct InspectedTemplate {
    pub uri_template: String,
    pub name: String,
    pub description: Option<String>,
}

/// A resource the component lists (at inspection time, with no grants: a plugin whose
/// resources come from what it is granted lists fewer or none here).
#[derive(Debug, Serialize)]
pub struct InspectedResource {
    pub uri: String,
    pub name: String,
    pub description: Option<String>,
    pub mime_type: Option<String>,
}

/// What the component listed in an instance with no grants.
#[derive(Debug, Default, Serialize)]
pub struct Listed {
    pub tools: Vec<InspectedTool>,
    pub prompts: Vec<InspectedPrompt>,
    pub resources: Vec<InspectedResource>,
    pub resource_templates: Vec<InspectedTemplate>,
    /// Why the resources could not be listed (the tools and the rest still were).
    pub resources_error: Option<String>,
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
    /// The language runtime the component embeds (none for Rust and other compiled code).
    pub runtime: Option<LanguageRuntime>,
    /// Tools, prompts and resource templates as the component lists them with no grants.
    #[serde(flatten)]
    pub listed: Listed,
    /// Why they could not be listed (then all three are empty).
    pub tools_error: Option<String>,
    pub capabilities: Vec<Capability>,
    /// The compile cache used (none with `--no-cache`), and whether it already held this
    /// component.
    pub cache_dir: Option<PathBuf>,
    pub cache_hit: bool,
}

/// Where `pier serve` and `pier inspect` cache compiled components unless told otherwise.
pub fn default_cache_dir() -> Option<PathBuf> {
    CompileCache::default_dir()
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
/// Compiles through the cache in `cache_dir` (none: compile once into a scratch folder that is
/// removed afterwards).
pub async fn inspect(
    wasm: &Path,
    manifest: Option<&Path>,
    cache_dir: Option<PathBuf>,
) -> Result<Inspection, InspectError> {
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
    let sha256 = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes));
    // Without a cache, a throwaway one: listing the tools loads the component a second time,
    // which then does not compile it again.
    let scratch = match &cache_dir {
        Some(_) => None,
        None => Some(
            tempfile::Builder::new()
                .prefix("pier-inspect-")
                .tempdir()
                .map_err(|e| InspectError::Engine(format!("cannot make a scratch folder: {e}")))?,
        ),
    };
    let cache = CompileCache::new(
        cache_dir
            .clone()
            .or_else(|| scratch.as_ref().map(|d| d.path().to_path_buf())),
    );
    let (component, outcome) = cache
        .load_or_compile_off_thread(&runtime.engine, std::sync::Arc::new(bytes.clone()), &sha256)
        .await
        .map_err(|e| InspectError::Engine(e.to_string()))?
        .map_err(not_component)?;
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
    drop(component);
    let size = bytes.len() as u64;
    let runtime_kind = LanguageRuntime::detect(&bytes);
    // The second load is a cache hit (or, without a cache, a second compile).
    let (listed, tools_error) = match list(runtime, &cache, bytes, wasm, &manifest).await {
        Ok(l) => (l, None),
        Err(e) => (Listed::default(), Some(e)),
    };
    Ok(Inspection {
        file: wasm.to_path_buf(),
        sha256,
        size,
        manifest: manifest_path,
        exports,
        listed,
        tools_error,
        capabilities: capabilities(&imports, &manifest, runtime_kind),
        runtime: runtime_kind,
        cache_hit: outcome == CacheOutcome::Hit,
        cache_dir,
    })
}

/// Lists tools, prompts and templates in an instance with no grants (config is kept: it is not
/// a capability, and some plugins shape their lists from it).
async fn list(
    runtime: Arc<Runtime>,
    cache: &CompileCache,
    bytes: Vec<u8>,
    wasm: &Path,
    manifest: &Manifest,
) -> Result<Listed, String> {
    let mut bare = Manifest::empty(manifest.path.clone());
    bare.config = manifest.config.clone();
    let name = wasm
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .filter(|n| crate::plugin::manifest::validate_plugin_name(n).is_ok())
        .unwrap_or_else(|| "inspected".to_string());
    // Inspecting is looking, not serving: no policy applies.
    let open = crate::policy::PluginPolicy::default();
    let plugin = LoadedPlugin::load(
        runtime,
        cache,
        &open,
        name,
        bytes,
        bare,
        None,
        LoadFor::Looking,
    )
    .await
    .map_err(|e| e.to_string())?;
    let d = &plugin.description;
    let tools = d
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
                confirm: d.confirms(&t.local),
            }
        })
        .collect();
    let prompts = d
        .prompts
        .iter()
        .map(|p| InspectedPrompt {
            name: p.local.clone(),
            description: p.definition.description.clone(),
            arguments: p
                .definition
                .arguments
                .iter()
                .map(|a| {
                    if a.required {
                        a.name.clone()
                    } else {
                        format!("{}?", a.name)
                    }
                })
                .collect(),
        })
        .collect();
    let resource_templates = d
        .templates
        .iter()
        .map(|t| InspectedTemplate {
            uri_template: t.uri_template.clone(),
            name: t.name.clone(),
            description: t.description.clone(),
        })
        .collect();
    let cx = crate::runtime::bindings::pier::mcp::types::CallContext {
        request_id: "inspect".into(),
        session: None,
        identity: None,
        meta: Vec::new(),
    };
    let (resources, resources_error) = match plugin.pool.list_resources(cx).await {
        Ok(Ok(list)) => (
            list.into_iter()
                .map(|r| InspectedResource {
                    uri: r.uri,
                    name: r.name,
                    description: r.description,
                    mime_type: r.mime_type,
                })
                .collect(),
            None,
        ),
        Ok(Err(e)) => (Vec::new(), Some(format!("{e:?}"))),
        Err(e) => (Vec::new(), Some(e.to_string())),
    };
    Ok(Listed {
        tools,
        prompts,
        resources,
        resource_templates,
        resources_error,
    })
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

fn capabilities(
    imports: &[String],
    m: &Manifest,
    runtime: Option<LanguageRuntime>,
) -> Vec<Capability> {
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
                from_runtime: false,
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
            "stdio" => {
                "what it prints goes to pier's log, tagged with the plugin; input is empty".into()
            }
            "clocks" | "random" | "io" | "exit" => "always available".into(),
            "pier-host" => "pier's host API (log, progress, config, read-directory)".into(),
            "unknown" => {
                "pier does not provide this interface: the plugin will fail to load".into()
            }
            "sockets" | "http" | "filesystem" | "environment" if granted.is_empty() => {
                match runtime {
                    Some(r) => {
                        c.from_runtime = true;
                        format!(
                            "imported by the {}, whether the plugin's code uses it or not; nothing is granted, so every use is refused ({}). If the plugin's code does need it: {wanted_note}",
                            r.label(),
                            r.drop_hint(c.kind)
                        )
                    }
                    None => wanted_note,
                }
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
        if let Some(r) = self.runtime {
            out.push_str(&format!("runtime:   {}, embedded\n", r.label()));
        }
        match (&self.cache_dir, self.cache_hit) {
            (Some(dir), true) => {
                out.push_str(&format!("compiled:  from the cache in {}\n", dir.display()))
            }
            (Some(dir), false) => out.push_str(&format!(
                "compiled:  now, and cached in {} for `pier serve` and the next inspect\n",
                dir.display()
            )),
            (None, _) => out.push_str("compiled:  now (no cache)\n"),
        }
        match &self.tools_error {
            None => {
                let l = &self.listed;
                out.push_str(&format!("tools ({}):\n", l.tools.len()));
                for t in &l.tools {
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
                    if t.confirm {
                        flags.push("asks the user first");
                    }
                    let first = t.description.lines().next().unwrap_or("");
                    out.push_str(&format!("  {:<24} {first}", t.name));
                    if !flags.is_empty() {
                        out.push_str(&format!(" [{}]", flags.join(", ")));
                    }
                    out.push('\n');
                }
                if !l.prompts.is_empty() {
                    out.push_str(&format!("prompts ({}):\n", l.prompts.len()));
                    for p in &l.prompts {
                        let first = p.description.as_deref().unwrap_or("");
                        let first = first.lines().next().unwrap_or("");
                        let args = format!("({})", p.arguments.join(", "));
                        out.push_str(&format!("  {:<24} {first}\n", format!("{}{args}", p.name)));
                    }
                }
                if !l.resources.is_empty() {
                    out.push_str(&format!("resources ({}):\n", l.resources.len()));
                    for r in &l.resources {
                        let about = r.description.as_deref().unwrap_or(&r.name);
                        let first = about.lines().next().unwrap_or("");
                        out.push_str(&format!("  {:<24} {first}\n", r.uri));
                    }
                }
                if let Some(e) = &l.resources_error {
                    out.push_str(&format!(
                        "resources: could not be listed without grants: {e}\n"
                    ));
                }
                if !l.resource_templates.is_empty() {
                    out.push_str(&format!(
                        "resource templates ({}):\n",
                        l.resource_templates.len()
                    ));
                    for t in &l.resource_templates {
                        let about = t.description.as_deref().unwrap_or(&t.name);
                        let first = about.lines().next().unwrap_or("");
                        out.push_str(&format!("  {:<24} {first}\n", t.uri_template));
                    }
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
            let kind = if c.from_runtime {
                format!("{} (runtime)", c.kind)
            } else {
                c.kind.to_string()
            };
            out.push_str(&format!("  {kind:<12} {}{granted}\n", c.note));
        }
        out
    }
}
