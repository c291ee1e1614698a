//! Turning a `.wasm` and its manifest into a ready plugin: verify the pin, compile (or load from
//! the cache), check the imports pier can satisfy and the exports pier needs, then ask the plugin
//! for its tools, templates and prompts once and describe it.

use std::path::Path;
use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::catalog::{PluginSource, Slot, SlotState};
use super::description::Description;
use super::manifest::{FileMode, Manifest, ManifestError};
use super::pool::{Exports, Pool};
use crate::grants::{GrantSet, PluginGrants};
use crate::policy::PluginPolicy;
use crate::runtime::bindings::exports::pier::mcp::{completions, prompts, resources, tools};
use crate::runtime::{CompileCache, PluginIdentity, Runtime};

/// A plugin that failed to load, with the reason the user needs to fix it.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{0}")]
    Manifest(#[from] super::manifest::ManifestError),
    #[error(
        "sha256 mismatch: {manifest} pins {pinned} but the file's digest is {actual}; if you trust the new binary, set [plugin].sha256 to the new digest"
    )]
    PinMismatch {
        manifest: String,
        pinned: String,
        actual: String,
    },
    #[error("not a valid WebAssembly component: {0}")]
    Compile(String),
    /// The component file itself could not be read (see `folder`).
    #[error("{0}")]
    Read(String),
    #[error("cannot link: {0} (pier provides WASI 0.2 and pier:mcp/host@0.1.0)")]
    Link(String),
    #[error(
        "does not export pier:mcp/tools@0.1.0; build it against the WIT contract in wit/ (see docs/plugin-guide.md)"
    )]
    NoToolsExport,
    #[error("{0}")]
    Start(String),
    #[error("invalid plugin name: {0}")]
    Name(String),
    /// Refused by `[policy]` in pier.toml (the text names the rule and what to change).
    #[error("{0}")]
    Policy(String),
}

/// A loaded plugin: what it offers, and the pool that runs its calls (with its health).
pub(crate) struct LoadedPlugin {
    pub description: Description,
    pub pool: Pool,
}

impl AsRef<Description> for LoadedPlugin {
    fn as_ref(&self) -> &Description {
        &self.description
    }
}

impl LoadedPlugin {
    pub fn name(&self) -> &str {
        &self.description.name
    }

    /// Loads `wasm` as plugin `name` under `manifest`, if `policy` lets it (`signature`: the
    /// text of its `.wasm.sig`, when there is one).
    pub async fn load(
        runtime: Arc<Runtime>,
        cache: &CompileCache,
        policy: &PluginPolicy,
        name: String,
        wasm: Vec<u8>,
        manifest: Manifest,
        signature: Option<String>,
    ) -> Result<Self, LoadError> {
        super::manifest::validate_plugin_name(&name).map_err(LoadError::Name)?;
        let digest = hex::encode(Sha256::digest(&wasm));
        // Before anything is compiled: a refused plugin costs nothing.
        policy
            .check(
                &name,
                &digest,
                signature.as_deref(),
                manifest.version.as_ref(),
            )
            .map_err(LoadError::Policy)?;
        if let Some(pinned) = &manifest.sha256
            && *pinned != digest
        {
            return Err(LoadError::PinMismatch {
                manifest: manifest.path.display().to_string(),
                pinned: pinned.clone(),
                actual: digest,
            });
        }

        for grant in &manifest.files {
            if grant.mode == FileMode::ReadWrite && grant.host.parent().is_none() {
                tracing::warn!(
                    plugin = %name,
                    "{} grants {} read-write: the plugin may change any file pier itself may; grant the folders it needs instead",
                    manifest.path.display(),
                    grant.host.display()
                );
            }
        }

        // Compilation is CPU-bound; keep it off the async workers.
        let (component, outcome) = {
            let engine = runtime.engine.clone();
            let cache = cache.clone();
            let digest = digest.clone();
            tokio::task::spawn_blocking(move || cache.load_or_compile(&engine, &wasm, &digest))
                .await
                .map_err(|e| LoadError::Compile(e.to_string()))?
                .map_err(|e| LoadError::Compile(one_line(&format!("{e:#}"))))?
        };

        let pre = runtime
            .linker
            .instantiate_pre(&component)
            .map_err(|e| LoadError::Link(one_line(&format!("{e:#}"))))?;
        let exports = Exports {
            tools: tools::GuestIndices::new(&pre).map_err(|_| LoadError::NoToolsExport)?,
            resources: resources::GuestIndices::new(&pre).ok(),
            prompts: prompts::GuestIndices::new(&pre).ok(),
            completions: completions::GuestIndices::new(&pre).ok(),
        };
        let identity = Arc::new(PluginIdentity {
            name: name.clone(),
            manifest_path: manifest.path.clone(),
            config: manifest.config.clone(),
        });
        let grants = PluginGrants::new(grant_set(&name, &manifest));
        let pool = Pool::new(runtime, pre, exports, identity, grants, manifest.limits);
        let mut description = Description::new(name, manifest, digest, outcome, pool.offers());

        let start = |e: super::call_error::CallError| LoadError::Start(e.to_string());
        description.add_tools(pool.list_tools().await.map_err(start)?);
        description.templates = pool.list_templates().await.map_err(start)?;
        description.add_prompts(pool.list_prompts().await.map_err(start)?);
        for p in &description.problems {
            tracing::warn!(plugin = %description.name, "{p}");
        }
        Ok(LoadedPlugin { description, pool })
    }
}

/// The manifest's grants, as the sandbox takes them.
fn grant_set(plugin: &str, m: &Manifest) -> GrantSet {
    GrantSet {
        plugin: plugin.to_string(),
        manifest_path: m.path.display().to_string(),
        files: m.files.clone(),
        env: m.env.clone(),
        network: m.network.clone(),
        block_private: m.block_private,
        http: m.http.clone(),
        http_timeout: m.limits.http_timeout,
        http_response_size: m.limits.http_response_size,
    }
}

/// wasmtime's messages can span lines (byte dumps); reports and logs want one line.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Loads one source into a slot (ready or failed), logging the outcome.
pub(crate) async fn load_source(
    runtime: Arc<Runtime>,
    cache: &CompileCache,
    policy: &PluginPolicy,
    source: PluginSource,
) -> Slot<LoadedPlugin> {
    let (name, file, loaded) = match source {
        PluginSource::File(path) => {
            let stem = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            let result = load_file(runtime, cache, policy, &path, &stem).await;
            (stem, Some(path), result)
        }
        PluginSource::Memory {
            name,
            wasm,
            manifest,
        } => {
            let r = LoadedPlugin::load(runtime, cache, policy, name.clone(), wasm, *manifest, None)
                .await;
            (name, None, r)
        }
    };
    let state = match loaded {
        Ok(plugin) => {
            tracing::info!(
                plugin = %plugin.name(),
                tools = plugin.description.tools.len(),
                cache = ?plugin.description.cache,
                "loaded"
            );
            SlotState::Ready(Arc::new(plugin))
        }
        Err(e) => {
            tracing::error!(plugin = %name, file = ?file, "not loaded: {e}");
            SlotState::Failed(e.to_string())
        }
    };
    Slot {
        name,
        file,
        state,
        note: None,
    }
}

async fn load_file(
    runtime: Arc<Runtime>,
    cache: &CompileCache,
    policy: &PluginPolicy,
    path: &Path,
    stem: &str,
) -> Result<LoadedPlugin, LoadError> {
    let manifest_path = path.with_extension("toml");
    let manifest = match super::folder::manifest_text(&manifest_path) {
        Ok(Some(text)) => {
            let base = manifest_path.parent().unwrap_or(Path::new("."));
            Manifest::parse(&text, &manifest_path, base)?
        }
        Ok(None) => Manifest::empty(manifest_path),
        Err(message) => {
            return Err(ManifestError {
                path: manifest_path.display().to_string(),
                message,
            }
            .into());
        }
    };
    let file = path.to_path_buf();
    let wasm = tokio::task::spawn_blocking(move || super::folder::read_component(&file))
        .await
        .map_err(|e| LoadError::Read(e.to_string()))?
        .map_err(LoadError::Read)?;
    let name = manifest.name.clone().unwrap_or_else(|| stem.to_string());
    let signature = read_signature(&signature_path(path))?;
    LoadedPlugin::load(runtime, cache, policy, name, wasm, manifest, signature).await
}

/// `NAME.wasm.sig`: the publisher's signature of `NAME.wasm` (see `policy::signature`).
pub(crate) fn signature_path(wasm: &Path) -> std::path::PathBuf {
    wasm.with_extension("wasm.sig")
}

/// The signature file's text, if there is one: a regular file inside the folder, as for
/// manifests (a symlink out of the folder is refused, so no other file's text is read), and
/// short (a signature is one line).
fn read_signature(path: &Path) -> Result<Option<String>, LoadError> {
    const MAX: usize = 4096;
    let text = super::folder::manifest_text(path).map_err(LoadError::Read)?;
    if text.as_ref().is_some_and(|t| t.len() > MAX) {
        return Err(LoadError::Read(format!(
            "{} is not a signature file (one line of at most {MAX} bytes)",
            path.display()
        )));
    }
    Ok(text)
}
