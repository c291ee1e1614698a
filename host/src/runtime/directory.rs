//! `host.read-directory`: a whole directory listing in one host call.
//!
//! Through `wasi:filesystem` a listing costs a host call per entry, and wasmtime-wasi `stat`s
//! every entry to learn its type although `getdents` already gives it: for 1,000 entries that
//! `stat` was a third of the listing's time and the per-entry calls most of the rest. Here the
//! directory is opened by wasmtime-wasi itself (the same preopens, permissions and path
//! resolution a guest's `open-at` gets, so nothing becomes reachable that was not), and only the
//! reading of the opened directory is ours.
//!
//! The reads block the calling thread. That is what wasmtime-wasi does for these instances too
//! (`allow_blocking_current_thread`): an instance with file grants runs its calls on a thread of
//! its own (see `plugin::pool`), and without file grants there is nothing to open.

use std::path::Path;

use wasmtime::component::Resource;
use wasmtime_wasi::filesystem::{Descriptor, WasiFilesystemCtxView};
use wasmtime_wasi::p2::bindings::filesystem::preopens::Host as _;
use wasmtime_wasi::p2::bindings::filesystem::types::{
    DescriptorFlags, ErrorCode, HostDescriptor as _, OpenFlags, PathFlags,
};

use super::bindings::pier::mcp::host::{DirectoryEntry, DirectoryError, EntryKind};

/// Lists `path` (a guest path) sorted by name; with `sizes`, regular files carry their size.
///
/// Takes the instance's filesystem view rather than its whole state, so that this module knows
/// only wasmtime-wasi's preopens and table, not how an instance is put together.
pub async fn read(
    mut view: WasiFilesystemCtxView<'_>,
    path: String,
    sizes: bool,
) -> Result<Vec<DirectoryEntry>, DirectoryError> {
    let preopens = view
        .get_directories()
        .map_err(|e| DirectoryError::Other(e.to_string()))?;
    let chosen = closest_preopen(
        preopens.iter().map(|(_, guest)| guest.as_str()),
        Path::new(&path),
    );
    let opened = match chosen {
        None => Err(DirectoryError::NotGranted),
        Some((index, rel)) => {
            let root = Resource::<Descriptor>::new_borrow(preopens[index].0.rep());
            view.open_at(
                root,
                PathFlags::SYMLINK_FOLLOW,
                rel,
                OpenFlags::DIRECTORY,
                DescriptorFlags::READ,
            )
            .await
            .map_err(|e| match e.downcast() {
                Ok(code) => from_code(code),
                Err(e) => DirectoryError::Other(e.to_string()),
            })
        }
    };
    // `get-directories` handed out a descriptor per preopen; they are ours to drop.
    for (descriptor, _) in preopens {
        let _ = view.table.delete(descriptor);
    }
    let opened = opened?;
    let dir = match view.table.get(&opened) {
        Ok(Descriptor::Dir(d)) => Ok(d.dir.clone()),
        Ok(Descriptor::File(_)) => Err(DirectoryError::NotDirectory),
        Err(e) => Err(DirectoryError::Other(e.to_string())),
    };
    let _ = view.table.delete(opened);
    list(dir?.as_ref(), sizes)
}

/// The preopen whose guest path is the longest prefix of `path`, and the rest of `path` below
/// it (`.` for the preopen itself): how a guest's wasi-libc picks one.
fn closest_preopen<'a>(
    guests: impl Iterator<Item = &'a str>,
    path: &Path,
) -> Option<(usize, String)> {
    let (index, guest) = guests
        .enumerate()
        .filter(|(_, guest)| path.starts_with(guest))
        .max_by_key(|(_, guest)| Path::new(guest).components().count())?;
    let rel = path.strip_prefix(guest).ok()?;
    let rel = if rel.as_os_str().is_empty() {
        ".".to_string()
    } else {
        rel.to_str()?.to_string()
    };
    Some((index, rel))
}

fn from_code(code: ErrorCode) -> DirectoryError {
    match code {
        ErrorCode::NoEntry => DirectoryError::NotFound,
        ErrorCode::NotDirectory => DirectoryError::NotDirectory,
        ErrorCode::Access | ErrorCode::NotPermitted | ErrorCode::Loop => {
            DirectoryError::AccessDenied
        }
        other => DirectoryError::Other(format!("{other:?}")),
    }
}

#[cfg(unix)]
fn list(dir: &std::fs::File, sizes: bool) -> Result<Vec<DirectoryEntry>, DirectoryError> {
    use rustix::fs::{AtFlags, FileType};
    let errno = |e: rustix::io::Errno| match e {
        rustix::io::Errno::NOENT => DirectoryError::NotFound,
        rustix::io::Errno::NOTDIR => DirectoryError::NotDirectory,
        rustix::io::Errno::ACCESS | rustix::io::Errno::PERM => DirectoryError::AccessDenied,
        other => DirectoryError::Other(std::io::Error::from(other).to_string()),
    };
    let kind_of = |t: FileType| match t {
        FileType::RegularFile => EntryKind::File,
        FileType::Directory => EntryKind::Directory,
        FileType::Symlink => EntryKind::Symlink,
        _ => EntryKind::Other,
    };
    let mut entries = Vec::new();
    let mut reader = rustix::fs::Dir::read_from(dir).map_err(errno)?;
    while let Some(entry) = reader.read() {
        let entry = entry.map_err(errno)?;
        let raw = entry.file_name().to_bytes();
        if raw == b"." || raw == b".." {
            continue;
        }
        let Ok(name) = std::str::from_utf8(raw) else {
            return Err(DirectoryError::Other(format!(
                "the directory holds a name that is not UTF-8 ({})",
                String::from_utf8_lossy(raw)
            )));
        };
        let stat = || rustix::fs::statat(dir, entry.file_name(), AtFlags::SYMLINK_NOFOLLOW);
        let kind = match entry.file_type() {
            // Some filesystems leave the type out of the directory; ask the entry itself.
            FileType::Unknown => match stat() {
                Ok(s) => kind_of(FileType::from_raw_mode(s.st_mode)),
                Err(_) => EntryKind::Other,
            },
            t => kind_of(t),
        };
        let size = match (sizes, kind) {
            // An entry removed since the read is listed without a size, not failed.
            (true, EntryKind::File) => stat().ok().map(|s| s.st_size as u64),
            _ => None,
        };
        entries.push(DirectoryEntry {
            name: name.to_string(),
            kind,
            size,
        });
    }
    entries.sort_unstable_by(|a, b| a.name.cmp(&b.name));
    Ok(entries)
}

#[cfg(not(unix))]
fn list(_dir: &std::fs::File, _sizes: bool) -> Result<Vec<DirectoryEntry>, DirectoryError> {
    Err(DirectoryError::Unsupported)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_longest_preopen_holding_the_path_is_chosen() {
        let guests = ["/data", "/data/inner", "/other"];
        let pick = |p: &str| closest_preopen(guests.iter().copied(), Path::new(p));
        assert_eq!(pick("/data/inner/x"), Some((1, "x".into())));
        assert_eq!(pick("/data/innerx"), Some((0, "innerx".into())));
        assert_eq!(pick("/data"), Some((0, ".".into())));
        assert_eq!(pick("/elsewhere"), None);
    }

    #[cfg(unix)]
    #[test]
    fn entries_arrive_sorted_typed_and_sized() {
        let tmp = tempfile::tempdir().expect("tempdir");
        std::fs::write(tmp.path().join("b.txt"), "12345").expect("write");
        std::fs::create_dir(tmp.path().join("a")).expect("mkdir");
        std::os::unix::fs::symlink("b.txt", tmp.path().join("c")).expect("symlink");
        let dir = std::fs::File::open(tmp.path()).expect("open");
        let got = list(&dir, true).expect("list");
        let seen: Vec<_> = got
            .iter()
            .map(|e| (e.name.as_str(), e.kind, e.size))
            .collect();
        assert_eq!(
            seen,
            [
                ("a", EntryKind::Directory, None),
                ("b.txt", EntryKind::File, Some(5)),
                ("c", EntryKind::Symlink, None),
            ]
        );
        let unsized_ = list(&dir, false).expect("list");
        assert!(unsized_.iter().all(|e| e.size.is_none()));
    }
}
