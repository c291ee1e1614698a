//! `[grants].files`: each granted directory becomes a WASI preopen. Containment is structural:
//! the guest holds a handle to the directory, and wasmtime-wasi (cap-std underneath) resolves
//! every path relative to it, refusing `..` and symlinks that would leave it. There is no string
//! prefix check to get wrong.

use wasmtime_wasi::{FsPerms, WasiCtxBuilder};

use super::GrantError;
use crate::grammar::files::{FileGrant, FileMode};

pub fn apply(
    b: &mut WasiCtxBuilder,
    files: &[FileGrant],
    manifest: &str,
) -> Result<(), GrantError> {
    for grant in files {
        let perms = match grant.mode {
            FileMode::ReadOnly => FsPerms::ReadOnly,
            FileMode::ReadWrite => FsPerms::ReadWrite,
        };
        b.preopened_dir(&grant.host, &grant.guest, perms)
            .map_err(|e| GrantError::Directory {
                host: grant.host.display().to_string(),
                manifest: manifest.to_string(),
                reason: e.to_string(),
            })?;
    }
    Ok(())
}
