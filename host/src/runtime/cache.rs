//! On-disk cache of compiled components.
//!
//! Compiling a plugin with Cranelift costs 50-450 ms; loading the serialized result costs well
//! under a millisecond. Entries are keyed by the SHA-256 of the `.wasm`, pier's version and the
//! engine's compatibility hash, so a changed binary, a new pier or different engine settings never
//! reuse stale code. Files are written to a temporary name and renamed, so a crash leaves no
//! half-written entry; an unreadable entry is simply recompiled and replaced.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use wasmtime::Engine;
use wasmtime::component::Component;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheOutcome {
    /// Loaded from the cache: no compilation.
    Hit,
    /// Compiled and stored.
    Compiled,
    /// Compiled; caching is off or the entry could not be written.
    CompiledUncached,
}

#[derive(Debug, Clone)]
pub struct CompileCache {
    dir: Option<PathBuf>,
}

impl CompileCache {
    /// `None` disables caching.
    pub fn new(dir: Option<PathBuf>) -> Self {
        CompileCache { dir }
    }

    /// The per-user default: `$XDG_CACHE_HOME/pier/compiled` or the platform's equivalent.
    pub fn default_dir() -> Option<PathBuf> {
        dirs::cache_dir().map(|d| d.join("pier").join("compiled"))
    }

    /// Whether compiled code is kept between starts at all.
    pub fn is_enabled(&self) -> bool {
        self.dir.is_some()
    }

    /// Whether `engine`'s code for the component with SHA-256 `digest` is in the cache (a
    /// load would not compile).
    pub fn has(&self, engine: &Engine, digest: &str) -> bool {
        self.dir
            .as_deref()
            .is_some_and(|dir| is_entry(dir, &format!("{}.cwasm", entry_key(engine, digest))))
    }

    /// Returns the compiled component for `wasm` (whose SHA-256 is `digest`).
    pub fn load_or_compile(
        &self,
        engine: &Engine,
        wasm: &[u8],
        digest: &str,
    ) -> wasmtime::Result<(Component, CacheOutcome)> {
        let Some(dir) = &self.dir else {
            return Ok((
                Component::from_binary(engine, wasm)?,
                CacheOutcome::CompiledUncached,
            ));
        };
        let name = format!("{}.cwasm", entry_key(engine, digest));
        let path = dir.join(&name);
        if is_entry(dir, &name) {
            // SAFETY: the file was produced by `Component::serialize` of this same pier and
            // engine configuration (the key says so) and lives in the user's own cache folder;
            // wasmtime still checks its header and refuses an incompatible artifact.
            match unsafe { Component::deserialize_file(engine, &path) } {
                Ok(c) => return Ok((c, CacheOutcome::Hit)),
                Err(e) => {
                    tracing::warn!(path = %path.display(), "ignoring unusable cache entry: {e}")
                }
            }
        }
        // Compiling takes from a fraction of a second to a few seconds; say so, once.
        tracing::info!(
            "compiling a {} KiB component (sha256 {}...); the result is cached for next time",
            wasm.len().div_ceil(1024),
            &digest[..digest.len().min(12)]
        );
        let component = Component::from_binary(engine, wasm)?;
        let outcome = match store(dir, &name, &component) {
            Ok(()) => CacheOutcome::Compiled,
            Err(e) => {
                tracing::warn!(path = %path.display(), "cannot write compile cache: {e}");
                CacheOutcome::CompiledUncached
            }
        };
        Ok((component, outcome))
    }
}

impl CompileCache {
    /// [`Self::load_or_compile`] on a blocking thread: compiling is CPU-bound and must not hold
    /// an async worker. The outer error is a compile thread that panicked.
    pub async fn load_or_compile_off_thread(
        &self,
        engine: &Engine,
        wasm: std::sync::Arc<Vec<u8>>,
        digest: &str,
    ) -> Result<wasmtime::Result<(Component, CacheOutcome)>, tokio::task::JoinError> {
        let (cache, engine, digest) = (self.clone(), engine.clone(), digest.to_string());
        tokio::task::spawn_blocking(move || cache.load_or_compile(&engine, &wasm, &digest)).await
    }
}

fn entry_key(engine: &Engine, digest: &str) -> String {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut h);
    env!("CARGO_PKG_VERSION").hash(&mut h);
    format!("{digest}-{:016x}", h.finish())
}

/// Whether `name` in the cache folder is an entry pier wrote: a regular file, not a symlink
/// (pier never writes one) nor anything else. Read through a cap-std `Dir`, so the check cannot
/// be pointed outside the folder. (The entry is then mapped by path: wasmtime's
/// `deserialize_file` maps it lazily, which keeps warm starts fast; whoever could swap it between
/// the check and the map could as well write a malicious entry, the folder being the user's own.)
fn is_entry(dir: &Path, name: &str) -> bool {
    let Ok(d) = cap_std::fs::Dir::open_ambient_dir(dir, cap_std::ambient_authority()) else {
        return false;
    };
    d.symlink_metadata(name).is_ok_and(|m| m.is_file())
}

/// Writes an entry under a temporary name and renames it into place, in a folder only the user
/// can read (the entries are machine code pier will run).
fn store(dir: &Path, name: &str, component: &Component) -> anyhow::Result<()> {
    let bytes = component.serialize().map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)?;
    let d = cap_std::fs::Dir::open_ambient_dir(dir, cap_std::ambient_authority())?;
    let tmp = format!(".{name}.{}.tmp", std::process::id());
    d.write(&tmp, bytes)?;
    d.rename(&tmp, &d, name)?;
    Ok(())
}
