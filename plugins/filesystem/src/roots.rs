//! The granted directories and how a requested path maps onto them.
//!
//! Containment is enforced by WASI itself: the guest holds preopened directory handles and the
//! host resolves every path relative to one of them, refusing `..` and symlinks that leave it.
//! The lexical checks here exist to give a precise, teaching message before the sandbox would
//! give a bare "permission denied" — they are not the security boundary.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use pier_sdk::grants::normalize;

use crate::ToolError;

/// One granted directory as the guest sees it.
#[derive(Debug, Clone)]
pub struct Root {
    pub path: PathBuf,
    pub writable: bool,
}

impl Root {
    pub fn mode(&self) -> &'static str {
        if self.writable {
            "read-write"
        } else {
            "read-only"
        }
    }
}

/// A request path resolved to an absolute guest path inside a root.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub path: PathBuf,
    pub root: Root,
}

/// The preopens, read once: grants cannot change while an instance lives.
pub fn roots() -> &'static [Root] {
    static ROOTS: OnceLock<Vec<Root>> = OnceLock::new();
    ROOTS.get_or_init(|| {
        use wasi::filesystem::types::DescriptorFlags;
        wasi::filesystem::preopens::get_directories()
            .into_iter()
            .map(|(dir, path)| {
                let writable = dir
                    .get_flags()
                    .map(|f| f.contains(DescriptorFlags::MUTATE_DIRECTORY))
                    .unwrap_or(false);
                Root {
                    path: PathBuf::from(path),
                    writable,
                }
            })
            .collect()
    })
}

thread_local! {
    /// Handles to the preopened directories, for the tools that use the raw WASI API.
    static HANDLES: Vec<(PathBuf, wasi::filesystem::types::Descriptor)> =
        wasi::filesystem::preopens::get_directories()
            .into_iter()
            .map(|(d, p)| (PathBuf::from(p), d))
            .collect();
}

/// Opens the directory `path` (already resolved inside a root) relative to its preopen. The
/// runtime confines the lookup to the preopen, symlinks included.
pub fn open_dir(path: &Path) -> std::io::Result<wasi::filesystem::types::Descriptor> {
    use wasi::filesystem::types::{DescriptorFlags, OpenFlags, PathFlags};
    HANDLES.with(|handles| {
        let (root, dir) = handles
            .iter()
            .filter(|(root, _)| path.starts_with(root))
            .max_by_key(|(root, _)| root.components().count())
            .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::PermissionDenied))?;
        let rel = path.strip_prefix(root).unwrap_or(Path::new(""));
        let rel = if rel.as_os_str().is_empty() {
            Path::new(".")
        } else {
            rel
        };
        dir.open_at(
            PathFlags::SYMLINK_FOLLOW,
            &rel.to_string_lossy(),
            OpenFlags::DIRECTORY,
            DescriptorFlags::READ,
        )
        .map_err(wasi_error)
    })
}

/// Maps a raw WASI error onto the std error kinds `io_error` explains.
pub fn wasi_error(code: wasi::filesystem::types::ErrorCode) -> std::io::Error {
    use std::io::ErrorKind as K;
    use wasi::filesystem::types::ErrorCode as E;
    let kind = match code {
        E::Access | E::NotPermitted | E::Loop => K::PermissionDenied,
        E::NoEntry => K::NotFound,
        E::NotDirectory => K::NotADirectory,
        E::IsDirectory => K::IsADirectory,
        E::Exist => K::AlreadyExists,
        E::ReadOnly => K::ReadOnlyFilesystem,
        E::NotEmpty => K::DirectoryNotEmpty,
        _ => K::Other,
    };
    std::io::Error::new(kind, format!("{code:?}"))
}

fn manifest() -> String {
    pier_sdk::host::manifest_path()
}

fn describe_roots(roots: &[Root]) -> String {
    roots
        .iter()
        .map(|r| format!("{} ({})", r.path.display(), r.mode()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Maps a user-supplied path to a granted root, or explains what to grant.
pub fn resolve(input: &str) -> Result<Resolved, ToolError> {
    let roots = roots();
    if roots.is_empty() {
        return Err(ToolError::Denied(format!(
            "no directories are granted to this plugin; add one to [grants].files in {}, e.g. files = [{{ host = \"~/notes\", mode = \"ro\" }}]",
            manifest()
        )));
    }
    if input.is_empty() {
        return Err(ToolError::Invalid("path must not be empty".into()));
    }
    if input.contains('\0') {
        return Err(ToolError::Invalid("path must not contain NUL bytes".into()));
    }
    if input.starts_with('~') {
        return Err(ToolError::Invalid(format!(
            "`~` is not expanded here; use an absolute path under one of: {}",
            describe_roots(roots)
        )));
    }
    let raw = Path::new(input);
    let joined = if raw.is_absolute() {
        raw.to_path_buf()
    } else {
        roots[0].path.join(raw)
    };
    let path = normalize(&joined);
    // Longest matching root wins, compared component by component (so `/x/allowed_evil` is not
    // inside `/x/allowed`).
    let root = roots
        .iter()
        .filter(|r| path.starts_with(&r.path))
        .max_by_key(|r| r.path.components().count());
    match root {
        Some(root) => Ok(Resolved {
            path,
            root: root.clone(),
        }),
        None => {
            let suggestion = path.parent().unwrap_or(Path::new("/"));
            Err(ToolError::Denied(format!(
                "access denied: {} is outside the directories granted to this plugin ({}); to allow it, add {{ host = \"{}\", mode = \"ro\" }} to [grants].files in {}",
                path.display(),
                describe_roots(roots),
                suggestion.display(),
                manifest()
            )))
        }
    }
}

/// Like [`resolve`], and the root must be writable.
pub fn resolve_writable(input: &str) -> Result<Resolved, ToolError> {
    let r = resolve(input)?;
    if !r.root.writable {
        return Err(ToolError::Denied(format!(
            "refused: {} is in {}, which is granted read-only; to allow writes, set mode = \"rw\" for that directory in [grants].files in {}",
            r.path.display(),
            r.root.path.display(),
            manifest()
        )));
    }
    Ok(r)
}

/// Turns an I/O error on `path` into a message that says what happened in the sandbox's terms.
pub fn io_error(path: &Path, e: std::io::Error) -> ToolError {
    use std::io::ErrorKind::*;
    let p = path.display();
    ToolError::Failed(match e.kind() {
        NotFound => format!("not found: {p}"),
        PermissionDenied => format!(
            "access denied by the sandbox: {p} (paths and symlinks that lead outside a granted directory are never followed); if its target should be reachable, grant the target's directory in [grants].files in {}",
            manifest()
        ),
        AlreadyExists => format!("already exists: {p}"),
        ReadOnlyFilesystem => format!(
            "refused: {p} is in a directory granted read-only; set mode = \"rw\" in [grants].files in {}",
            manifest()
        ),
        IsADirectory => format!("{p} is a directory"),
        NotADirectory => format!("{p} is not a directory (or a parent of it is a file)"),
        DirectoryNotEmpty => format!("{p} is a directory that is not empty"),
        _ => format!("{p}: {e}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_never_climbs_above_root() {
        assert_eq!(
            normalize(Path::new("/a/b/../../../etc")),
            PathBuf::from("/etc")
        );
        assert_eq!(normalize(Path::new("/a/./b/")), PathBuf::from("/a/b"));
    }

    #[test]
    fn sibling_prefix_is_not_inside() {
        assert!(!Path::new("/x/allowed_evil/f").starts_with("/x/allowed"));
        assert!(Path::new("/x/allowed/f").starts_with("/x/allowed"));
    }
}
