//! Turning a `.wasm` and its manifest into a ready plugin: verify the pin, compile (or load from
//! the cache), check the imports pier can satisfy and the exports pier needs, then ask the plugin
//! for its tools, templates and prompts once and describe it.

use std::path::Path;
use std::sync::{Arc, Weak};
use std::time::Instant;

use sha2::{Digest, Sha256};

use super::catalog::{PluginSource, Slot, SlotState};
use super::description::Description;
use super::manifest::{FileMode, Manifest, ManifestError};
use super::pool::{Code, CodeCell, Exports, Pool};
use crate::grants::{GrantSet, PluginGrants};
use crate::policy::PluginPolicy;
use crate::runtime::bindings::exports::pier::mcp::{about, completions, prompts, resources, tools};
use crate::runtime::{CacheOutcome, CompileCache, PluginIdentity, Runtime};
use wasmtime::component::Component;

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
    /// text of its `.wasm.sig`, when there is one). `load_for` says what the load is for (see
    /// [`LoadFor`]).
    // Each argument is one input of a load (a struct would only rename them).
    #[allow(clippy::too_many_arguments)]
    pub async fn load(
        runtime: Arc<Runtime>,
        cache: &CompileCache,
        policy: &PluginPolicy,
        name: String,
        wasm: Vec<u8>,
        manifest: Manifest,
        signature: Option<String>,
        load_for: LoadFor,
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

        let wasm = Arc::new(wasm);
        if load_for == LoadFor::Serving {
            match super::listing::read(&wasm) {
                // A component that describes itself (`about`) is compiled first: its
                // instructions, icons and confirmations are not in the listing.
                Ok(Some(listing)) if !listing.offers().about => {
                    return Ok(Self::listed_ahead(
                        runtime, cache, name, wasm, digest, manifest, listing,
                    ));
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(plugin = %name, "{e}; compiling it first"),
            }
        }

        let (code, outcome, upgrade) =
            compile_first(&runtime, cache, &wasm, &digest, &name).await?;
        let pool = Pool::new(
            code,
            identity(&name, &manifest),
            PluginGrants::new(grant_set(&name, &manifest)),
            manifest.limits,
        );
        let upgrade = upgrade.then(|| CompileJob {
            runtime: runtime.clone(),
            cache: cache.clone(),
            wasm: wasm.clone(),
            digest: digest.clone(),
            cell: pool.code(),
            name: name.clone(),
        });
        let mut description = Description::new(name, manifest, digest, outcome, pool.offers());

        let start = |e: super::call_error::CallError| LoadError::Start(e.to_string());
        description.add_tools(pool.list_tools().await.map_err(start)?);
        description.templates = pool.list_templates().await.map_err(start)?;
        description.add_prompts(pool.list_prompts().await.map_err(start)?);
        description.set_about(pool.describe().await.map_err(start)?);
        // After the first listing, so the optimising compile does not compete with it.
        if let Some(job) = upgrade
            && load_for != LoadFor::Looking
        {
            spawn_upgrade(job);
        }
        for p in &description.problems {
            tracing::warn!(plugin = %description.name, "{p}");
        }
        Ok(LoadedPlugin { description, pool })
    }

    /// Describes the plugin from its embedded listing, without compiling, and compiles in the
    /// background: calls wait for the code, which serves them only once what it lists matches
    /// the listing (a listing that claims other tools, annotations or schemas than the
    /// component's gets the plugin's calls refused, saying so).
    fn listed_ahead(
        runtime: Arc<Runtime>,
        cache: &CompileCache,
        name: String,
        wasm: Arc<Vec<u8>>,
        digest: String,
        manifest: Manifest,
        listing: super::listing::Listing,
    ) -> Self {
        let pool = Pool::compiling(
            listing.offers(),
            identity(&name, &manifest),
            PluginGrants::new(grant_set(&name, &manifest)),
            manifest.limits,
        );
        // What the background compile will find: baseline code for a large component is not
        // cached (see `compile_first`).
        let outcome = if cache.has(&runtime.engine, &digest) {
            CacheOutcome::Hit
        } else if cache.is_enabled() && wasm.len() < BASELINE_FROM {
            CacheOutcome::Compiled
        } else {
            CacheOutcome::CompiledUncached
        };
        let mut description = Description::new(
            name.clone(),
            manifest.clone(),
            digest.clone(),
            outcome,
            pool.offers(),
        );
        description.add_tools(listing.tools());
        description.templates = listing.templates();
        description.add_prompts(listing.prompts());
        for p in &description.problems {
            tracing::warn!(plugin = %description.name, "{p}");
        }
        let compile = BackgroundCompile {
            check: pool.checker(),
            job: CompileJob {
                runtime,
                cache: cache.clone(),
                wasm,
                digest,
                cell: pool.code(),
                name,
            },
        };
        tokio::spawn(compile.check_then_serve(listing));
        LoadedPlugin { description, pool }
    }
}

/// What a load is for, which decides the shortcuts it may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LoadFor {
    /// `pier serve`: a component with an embedded listing is described from the listing at
    /// once and compiled (or loaded from the cache) in the background.
    Serving,
    /// Loaded means compiled (`HostBuilder::build`, `pier plugins`): the lists come from the
    /// code; a large component still moves to optimised code in the background.
    Compiled,
    /// One look at the component (`pier inspect`, `pier seal`): the lists come from the code,
    /// and nothing is compiled in the background.
    Looking,
}

fn identity(name: &str, manifest: &Manifest) -> Arc<PluginIdentity> {
    Arc::new(PluginIdentity {
        name: name.to_string(),
        manifest_path: manifest.path.clone(),
        config: manifest.config.clone(),
    })
}

/// A compile that runs in the background and hands its code to a plugin's cell (held weakly:
/// an unloaded plugin is not kept alive by its compile).
struct CompileJob {
    runtime: Arc<Runtime>,
    cache: CompileCache,
    wasm: Arc<Vec<u8>>,
    digest: String,
    cell: Weak<CodeCell>,
    name: String,
}

/// The compile of a plugin that was listed ahead of its code, and the pool that checks it.
struct BackgroundCompile {
    job: CompileJob,
    check: Pool,
}

impl BackgroundCompile {
    /// Compiles (baseline code first for a large component, as a first load does), checks what
    /// the code lists against `claimed`, and then hands the code to the plugin's calls; for
    /// baseline code, the optimising compile follows.
    async fn check_then_serve(self, claimed: super::listing::Listing) {
        let BackgroundCompile { job, check } = self;
        let started = Instant::now();
        let compiled =
            compile_first(&job.runtime, &job.cache, &job.wasm, &job.digest, &job.name).await;
        let Some(cell) = job.cell.upgrade() else {
            return;
        };
        let (code, on_baseline) = match compiled {
            Ok((code, _, on_baseline)) => (code, on_baseline),
            Err(e) => {
                tracing::error!(plugin = %job.name, "listed from its embedded listing, but it does not compile: {e}");
                cell.fail(e.to_string());
                return;
            }
        };
        let tier = code.runtime.tier;
        // What the component exports, from its code (the check pool's `offers` are the claim).
        let exported = code.exports.offers();
        // The check runs in a pool of its own, so no call reaches the code before it passed.
        check.set_code(code);
        let answered = async {
            let tools = check.list_tools().await?;
            let templates = check.list_templates().await?;
            let prompts = check.list_prompts().await?;
            Ok::<_, super::call_error::CallError>(super::listing::Listing::of(
                exported, &tools, &templates, &prompts,
            ))
        }
        .await;
        let listed = match answered {
            Ok(listed) => listed,
            Err(e) => {
                tracing::error!(plugin = %job.name, "listed from its embedded listing, but it fails to start: {e}");
                cell.fail(LoadError::Start(e.to_string()).to_string());
                return;
            }
        };
        if let Some(difference) = claimed.difference(&listed) {
            let reason = format!(
                "its embedded listing does not match the component: {difference}. Seal it again (`pier seal FILE.wasm`) or rebuild it with its SDK; pier refuses its calls until then"
            );
            tracing::error!(plugin = %job.name, "{reason}");
            cell.fail(reason);
            return;
        }
        let Some(code) = check.take_code() else {
            return;
        };
        cell.replace_shared(code);
        tracing::info!(
            plugin = %job.name,
            code = ?tier,
            seconds = started.elapsed().as_secs_f64(),
            "code ready and matches the embedded listing; calls run on it"
        );
        if on_baseline {
            spawn_upgrade(job);
        }
    }
}

/// Components at least this large start on baseline (Winch) code when the cache has no
/// Cranelift code for them: the size of a Python or JavaScript plugin (15-20 MB, an interpreter
/// inside), far above a Rust plugin's 1-3 MB, which Cranelift compiles in about a second.
pub const BASELINE_FROM: usize = 8 << 20;

/// Compiles for a first start. A large component seen for the first time starts on baseline
/// code (true in the answer: the optimising compile should follow, replacing it when ready, and
/// be what later starts load from the cache); anything else compiles through the cache.
async fn compile_first(
    runtime: &Arc<Runtime>,
    cache: &CompileCache,
    wasm: &Arc<Vec<u8>>,
    digest: &str,
    name: &str,
) -> Result<(Code, CacheOutcome, bool), LoadError> {
    let baseline =
        if wasm.len() >= BASELINE_FROM && cache.is_enabled() && !cache.has(&runtime.engine, digest)
        {
            runtime.baseline()
        } else {
            None
        };
    if let Some(fast) = baseline {
        // Baseline code is not cached: it serves one start, and writing it would delay the
        // first answer (the optimised code is what the cache is for).
        match compile(&fast, &CompileCache::new(None), wasm, digest).await {
            Ok((code, outcome)) => return Ok((code, outcome, true)),
            // Winch lacks a few proposals (tail calls, exceptions, GC); Cranelift has them.
            Err(e) => {
                tracing::info!(plugin = %name, "baseline compile failed ({e}); compiling with Cranelift")
            }
        }
    }
    let (code, outcome) = compile(runtime, cache, wasm, digest).await?;
    Ok((code, outcome, false))
}

/// Compiles (or loads from the cache) with `runtime`'s compiler and links the result, off the
/// async workers (compiling is CPU-bound).
async fn compile(
    runtime: &Arc<Runtime>,
    cache: &CompileCache,
    wasm: &Arc<Vec<u8>>,
    digest: &str,
) -> Result<(Code, CacheOutcome), LoadError> {
    let (component, outcome) = cache
        .load_or_compile_off_thread(&runtime.engine, wasm.clone(), digest)
        .await
        .map_err(|e| LoadError::Compile(e.to_string()))?
        .map_err(|e| LoadError::Compile(one_line(&format!("{e:#}"))))?;
    Ok((link(runtime, &component)?, outcome))
}

/// Links a compiled component against pier's imports and finds the exports pier calls.
fn link(runtime: &Arc<Runtime>, component: &Component) -> Result<Code, LoadError> {
    let pre = runtime
        .linker
        .instantiate_pre(component)
        .map_err(|e| LoadError::Link(one_line(&format!("{e:#}"))))?;
    let exports = Exports {
        tools: tools::GuestIndices::new(&pre).map_err(|_| LoadError::NoToolsExport)?,
        resources: resources::GuestIndices::new(&pre).ok(),
        prompts: prompts::GuestIndices::new(&pre).ok(),
        completions: completions::GuestIndices::new(&pre).ok(),
        about: about::GuestIndices::new(&pre).ok(),
    };
    Ok(Code {
        runtime: runtime.clone(),
        pre,
        exports,
    })
}

/// Compiles the component with Cranelift in the background, stores it in the cache, and moves
/// the plugin onto it: calls from then on get instances of the optimised code. If the plugin
/// was unloaded or replaced meanwhile, the code only goes to the cache.
fn spawn_upgrade(job: CompileJob) {
    let CompileJob {
        runtime,
        cache,
        wasm,
        digest,
        cell,
        name,
    } = job;
    tokio::spawn(async move {
        let started = Instant::now();
        let result = compile(&runtime, &cache, &wasm, &digest).await;
        match (result, cell.upgrade()) {
            (Ok((code, _)), Some(cell)) => {
                cell.replace(code);
                tracing::info!(
                    plugin = %name,
                    seconds = started.elapsed().as_secs_f64(),
                    "optimised code ready; new calls run on it"
                );
            }
            (Ok(_), None) => {}
            (Err(e), _) => tracing::warn!(
                plugin = %name,
                "the optimising compile failed, the plugin stays on baseline code: {e}"
            ),
        }
    });
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
    load_for: LoadFor,
) -> Slot<LoadedPlugin> {
    let (name, file, loaded) = match source {
        PluginSource::File(path) => {
            let stem = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            let result = load_file(runtime, cache, policy, &path, &stem, load_for).await;
            (stem, Some(path), result)
        }
        PluginSource::Memory {
            name,
            wasm,
            manifest,
        } => {
            let r = LoadedPlugin::load(
                runtime,
                cache,
                policy,
                name.clone(),
                wasm,
                *manifest,
                None,
                load_for,
            )
            .await;
            (name, None, r)
        }
    };
    let state = match loaded {
        Ok(plugin) => {
            match plugin.pool.tier() {
                Some(tier) => tracing::info!(
                    plugin = %plugin.name(),
                    tools = plugin.description.tools.len(),
                    cache = ?plugin.description.cache,
                    code = ?tier,
                    "loaded"
                ),
                None => tracing::info!(
                    plugin = %plugin.name(),
                    tools = plugin.description.tools.len(),
                    "listed from its embedded listing; compiling in the background (calls wait for the code)"
                ),
            }
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
    load_for: LoadFor,
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
    LoadedPlugin::load(
        runtime, cache, policy, name, wasm, manifest, signature, load_for,
    )
    .await
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
