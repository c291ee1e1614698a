//! Reading what the manifest granted, with errors that say how to grant more.
//!
//! Environment variables and directories are given to a plugin up front (WASI has no "ask"
//! call), so pier never sees a plugin look for a variable it lacks or open a path outside its
//! directories: the lookup fails inside the plugin. These helpers turn such failures into the
//! same kind of message pier gives for refused sockets: what was tried and the manifest line
//! that would allow it.

use std::path::{Component, Path, PathBuf};

use crate::{Error, host};

/// A directory the manifest granted (a WASI preopen) as the plugin sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantedDir {
    pub path: PathBuf,
    pub writable: bool,
}

/// The granted directories, in manifest order.
pub fn directories() -> Vec<GrantedDir> {
    use wasi::filesystem::types::DescriptorFlags;
    wasi::filesystem::preopens::get_directories()
        .into_iter()
        .map(|(dir, path)| GrantedDir {
            writable: dir
                .get_flags()
                .map(|f| f.contains(DescriptorFlags::MUTATE_DIRECTORY))
                .unwrap_or(false),
            path: PathBuf::from(path),
        })
        .collect()
}

/// An environment variable, or an error naming the `[grants].env` line that would provide it.
pub fn env_var(name: &str) -> Result<String, Error> {
    std::env::var(name).map_err(|_| {
        Error::InvalidParams(format!(
            "{} cannot read the environment variable {name}: it is not granted (or not set in pier's environment). To allow it add \"{name}\" to [grants].env in {}",
            host::plugin_name(),
            host::manifest_path()
        ))
    })
}

/// Explains a failed file operation on `path`: outside every granted directory, under a
/// read-only one while `writing`, or led out of its directory by `..` or a symlink. Other errors
/// (a missing file inside a granted directory) are described as they are.
pub fn explain_file_error(path: &str, writing: bool, err: &std::io::Error) -> String {
    explain_with(&directories(), path, writing, err)
}

fn explain_with(dirs: &[GrantedDir], path: &str, writing: bool, err: &std::io::Error) -> String {
    let plugin = host::plugin_name();
    let manifest = host::manifest_path();
    let verb = if writing { "write" } else { "read" };
    let target = normalize(Path::new(path));
    let list = if dirs.is_empty() {
        "none".to_string()
    } else {
        dirs.iter()
            .map(|d| {
                format!(
                    "{} ({})",
                    d.path.display(),
                    if d.writable { "rw" } else { "ro" }
                )
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let Some(dir) = dirs.iter().find(|d| target.starts_with(&d.path)) else {
        let parent = target.parent().unwrap_or(Path::new("/"));
        let mode = if writing { "rw" } else { "ro" };
        return format!(
            "{plugin} cannot {verb} {path}: it is outside the directories granted to this plugin ({list}). To allow it add [[grants.files]] with host = \"{}\" and mode = \"{mode}\" to {manifest}",
            parent.display()
        );
    };
    if writing && !dir.writable {
        return format!(
            "{plugin} cannot write {path}: {} is granted read-only. To allow writes set mode = \"rw\" on its [[grants.files]] entry in {manifest}",
            dir.path.display()
        );
    }
    if err.kind() == std::io::ErrorKind::PermissionDenied || err.raw_os_error() == Some(76) {
        return format!(
            "{plugin} cannot {verb} {path}: the path leaves {} through `..` or a symlink, which the sandbox refuses. Grant the real target directory in [grants].files of {manifest} if it is meant to be reachable",
            dir.path.display()
        );
    }
    format!("{plugin} cannot {verb} {path}: {err}")
}

/// Resolves `.` and `..` lexically, never climbing above `/`; relative paths are taken from `/`
/// (WASI has no other cwd). For matching a path against granted directories; the sandbox, not
/// this function, is what enforces them.
pub fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for c in path.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(n) => out.push(n),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    out
}
