//! `pier seal`: writes a component's listing (tools, resource templates, prompts, optional
//! exports) into the component itself, so `pier serve` answers `tools/list` for it before its
//! code is compiled (see `plugin::listing`).
//!
//! The listing is what the component answers in an instance with the manifest's `[config]`
//! and no grants, exactly as the check at serve time reads it. The file is rewritten in place
//! (through a temporary file and a rename, so a folder pier watches never sees half a file).

use std::path::{Path, PathBuf};

use crate::plugin::listing::{self, Listing};
use crate::plugin::manifest::Manifest;
use crate::plugin::{LoadFor, LoadedPlugin};
use crate::runtime::{CompileCache, Runtime};

/// What `seal` wrote.
#[derive(Debug)]
pub struct Sealed {
    pub file: PathBuf,
    pub tools: usize,
    pub prompts: usize,
    pub templates: usize,
    /// The file's size before and after.
    pub size_before: u64,
    pub size_after: u64,
    /// A signature beside the file that no longer matches it (sign again).
    pub stale_signature: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("cannot read {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("cannot write {path}: {reason}")]
    Write { path: String, reason: String },
    #[error(transparent)]
    Manifest(#[from] crate::ManifestError),
    #[error("cannot start the WebAssembly engine: {0}")]
    Engine(String),
    #[error("{path}: {reason}")]
    Component { path: String, reason: String },
}

/// Removes the listing from the component at `wasm` (for a plugin whose lists depend on its
/// `[config]`, which a listing cannot follow). Returns whether there was one.
pub fn unseal(wasm: &Path) -> Result<bool, SealError> {
    let shown = wasm.display().to_string();
    let bytes = std::fs::read(wasm).map_err(|e| SealError::Read {
        path: shown.clone(),
        reason: e.to_string(),
    })?;
    let component = |e: listing::SectionError| SealError::Component {
        path: shown.clone(),
        reason: e.to_string(),
    };
    let stripped = listing::strip(&bytes).map_err(component)?;
    if stripped.len() == bytes.len() {
        return Ok(false);
    }
    replace_file(wasm, &stripped)?;
    Ok(true)
}

/// Writes `bytes` over `path` through a temporary file beside it and a rename.
fn replace_file(path: &Path, bytes: &[u8]) -> Result<(), SealError> {
    let write_failed = |e: std::io::Error| SealError::Write {
        path: path.display().to_string(),
        reason: e.to_string(),
    };
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut temp = tempfile::Builder::new()
        .prefix(".pier-seal-")
        .tempfile_in(dir)
        .map_err(write_failed)?;
    std::io::Write::write_all(&mut temp, bytes).map_err(write_failed)?;
    temp.persist(path).map_err(|e| write_failed(e.error))?;
    Ok(())
}

/// Seals the component at `wasm`; `[config]` comes from `manifest`, or the `NAME.toml` beside
/// it when there is one.
pub async fn seal(wasm: &Path, manifest: Option<&Path>) -> Result<Sealed, SealError> {
    let shown = wasm.display().to_string();
    let bytes = std::fs::read(wasm).map_err(|e| SealError::Read {
        path: shown.clone(),
        reason: e.to_string(),
    })?;
    let component = |reason: String| SealError::Component {
        path: shown.clone(),
        reason,
    };
    // An earlier listing is replaced; a malformed file is refused before anything compiles.
    listing::read(&bytes).map_err(|e| component(e.to_string()))?;
    let sibling = wasm.with_extension("toml");
    let mut bare = match manifest {
        Some(p) => Manifest::load(p)?,
        None if sibling.is_file() => Manifest::load(&sibling)?,
        None => Manifest::empty(sibling.clone()),
    };
    // Lists are read with the config and nothing granted, as `pier inspect` reads them.
    let config = std::mem::take(&mut bare.config);
    let mut bare = Manifest::empty(bare.path.clone());
    bare.config = config;

    let runtime = Runtime::new().map_err(|e| SealError::Engine(e.to_string()))?;
    let scratch = tempfile::Builder::new()
        .prefix("pier-seal-")
        .tempdir()
        .map_err(|e| SealError::Engine(format!("cannot make a scratch folder: {e}")))?;
    let cache = CompileCache::new(Some(scratch.path().to_path_buf()));
    let open = crate::policy::PluginPolicy::default();
    let plugin = LoadedPlugin::load(
        runtime,
        &cache,
        &open,
        "sealed".to_string(),
        bytes.clone(),
        bare,
        None,
        LoadFor::Looking,
    )
    .await
    .map_err(|e| component(e.to_string()))?;
    let failed = |e: crate::plugin::CallError| component(e.to_string());
    let tools = plugin.pool.list_tools().await.map_err(failed)?;
    let templates = plugin.pool.list_templates().await.map_err(failed)?;
    let prompts = plugin.pool.list_prompts().await.map_err(failed)?;
    let listing = Listing::of(plugin.pool.offers(), &tools, &templates, &prompts);
    let sealed = listing::write(&bytes, &listing).map_err(|e| component(e.to_string()))?;

    replace_file(wasm, &sealed)?;

    let signature = wasm.with_extension("wasm.sig");
    Ok(Sealed {
        file: wasm.to_path_buf(),
        tools: tools.len(),
        prompts: prompts.len(),
        templates: templates.len(),
        size_before: bytes.len() as u64,
        size_after: sealed.len() as u64,
        stale_signature: signature.is_file().then_some(signature),
    })
}

impl Sealed {
    /// What `pier seal` prints.
    pub fn render(&self) -> String {
        let mut out = format!(
            "sealed {}: its tools ({}), prompts ({}) and resource templates ({}) are listed before it compiles ({} bytes added)\n",
            self.file.display(),
            self.tools,
            self.prompts,
            self.templates,
            self.size_after.saturating_sub(self.size_before),
        );
        if let Some(sig) = &self.stale_signature {
            out.push_str(&format!(
                "{} signed the file before sealing and no longer matches it: sign it again (`pier sign`)\n",
                sig.display()
            ));
        }
        out
    }
}
