//! The plugin folder as pier itself reads it: through a cap-std `Dir`, so that neither a
//! manifest nor a component can be a symlink leading out of the folder, and every file's type is
//! checked before it is opened (opening a FIFO named `x.toml` would wait for a writer; a
//! directory or a dangling symlink is no manifest, and must not silently mean "no grants, no
//! pin, no deny list").

use std::collections::BTreeSet;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use cap_std::ambient_authority;
use cap_std::fs::{Dir, FileTypeExt, Metadata};

/// Opens `path` as a capability: what is read through it stays inside it.
pub fn open(path: &Path) -> std::io::Result<Dir> {
    Dir::open_ambient_dir(path, ambient_authority())
}

/// The folder and file name of `path` (a file directly inside the plugin folder).
fn split(path: &Path) -> Result<(Dir, String), String> {
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| format!("{} has no usable file name", path.display()))?
        .to_string();
    let dir = open(parent).map_err(|e| format!("cannot open {}: {e}", parent.display()))?;
    Ok((dir, name))
}

/// What a non-regular file is, in words.
fn kind(meta: &Metadata) -> &'static str {
    let t = meta.file_type();
    if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO (named pipe)"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_block_device() || t.is_char_device() {
        "a device"
    } else if t.is_symlink() {
        "a symlink"
    } else {
        "not a regular file"
    }
}

/// Why `name` in `dir` cannot be read as a regular file, if it cannot. `Ok(false)` when there is
/// no such entry at all.
fn check_regular(dir: &Dir, name: &str) -> Result<bool, String> {
    match dir.symlink_metadata(name) {
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(format!("cannot read {name}: {e}")),
        Ok(_) => {}
    }
    // Follows symlinks, but only within the folder.
    let meta = dir.metadata(name).map_err(|e| {
        format!(
            "{name} is a symlink that leads nowhere or outside the plugin folder ({e}); pier reads \
             only files inside the folder: copy the file in instead"
        )
    })?;
    if !meta.is_file() {
        return Err(format!("{name} is {}, not a regular file", kind(&meta)));
    }
    Ok(true)
}

/// The text of the manifest at `path`, `None` if there is none. A manifest that exists in any
/// other form than a readable regular file inside the folder is an error: the plugin must not
/// load without the grants, pin and deny list its author wrote.
pub fn manifest_text(path: &Path) -> Result<Option<String>, String> {
    let (dir, name) = split(path)?;
    if !check_regular(&dir, &name)? {
        return Ok(None);
    }
    dir.read_to_string(&name)
        .map(Some)
        .map_err(|e| format!("cannot read {name}: {e}"))
}

/// The bytes of the component at `path`, if it is a regular file inside its folder.
pub fn read_component(path: &Path) -> Result<Vec<u8>, String> {
    let (dir, name) = split(path)?;
    if !check_regular(&dir, &name)? {
        return Err(format!("{} is gone", path.display()));
    }
    dir.read(&name)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))
}

/// Names already warned about, so a rescan every two seconds does not repeat itself.
static WARNED: Mutex<BTreeSet<PathBuf>> = Mutex::new(BTreeSet::new());

/// The `*.wasm` files of the folder, sorted. Entries named `*.wasm` that are not regular files
/// inside the folder are skipped with a warning (once per entry).
pub fn components(path: &Path) -> std::io::Result<Vec<PathBuf>> {
    let dir = open(path)?;
    let mut found = Vec::new();
    for entry in dir.entries()? {
        let Ok(entry) = entry else { continue };
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if !name.ends_with(".wasm") {
            continue;
        }
        let full = path.join(name);
        match check_regular(&dir, name) {
            Ok(true) => {
                if let Ok(mut warned) = WARNED.lock() {
                    warned.remove(&full);
                }
                found.push(full);
            }
            Ok(false) => {}
            Err(reason) => {
                let first = WARNED.lock().map(|mut w| w.insert(full)).unwrap_or(true);
                if first {
                    tracing::warn!("skipping {}: {reason}", path.join(name).display());
                }
            }
        }
    }
    found.sort();
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifests_must_be_regular_files_inside_the_folder() {
        let root = tempfile::tempdir().expect("tempdir");
        let plugins = root.path().join("plugins");
        std::fs::create_dir_all(&plugins).expect("mkdir");
        std::fs::write(root.path().join("outside.toml"), "[grants]\n").expect("write");
        std::fs::write(plugins.join("ok.toml"), "[grants]\n").expect("write");
        std::os::unix::fs::symlink("ok.toml", plugins.join("inside.toml")).expect("symlink");
        std::os::unix::fs::symlink("../outside.toml", plugins.join("escape.toml"))
            .expect("symlink");
        std::os::unix::fs::symlink("missing.toml", plugins.join("dangling.toml")).expect("symlink");
        std::fs::create_dir(plugins.join("dir.toml")).expect("mkdir");
        let fifo = std::process::Command::new("mkfifo")
            .arg(plugins.join("fifo.toml"))
            .status()
            .expect("mkfifo");
        assert!(fifo.success());

        assert!(matches!(
            manifest_text(&plugins.join("ok.toml")),
            Ok(Some(_))
        ));
        assert!(matches!(
            manifest_text(&plugins.join("inside.toml")),
            Ok(Some(_))
        ));
        assert!(matches!(
            manifest_text(&plugins.join("none.toml")),
            Ok(None)
        ));
        for (name, says) in [
            ("escape.toml", "outside the plugin folder"),
            ("dangling.toml", "leads nowhere"),
            ("dir.toml", "a directory"),
            ("fifo.toml", "a FIFO"),
        ] {
            let e = manifest_text(&plugins.join(name)).expect_err(name);
            assert!(e.contains(says), "{name}: {e}");
        }
    }

    #[test]
    fn only_regular_components_are_listed() {
        let root = tempfile::tempdir().expect("tempdir");
        let plugins = root.path().join("plugins");
        std::fs::create_dir_all(&plugins).expect("mkdir");
        std::fs::write(plugins.join("a.wasm"), b"\0asm").expect("write");
        std::fs::write(root.path().join("far.wasm"), b"\0asm").expect("write");
        std::os::unix::fs::symlink("../far.wasm", plugins.join("b.wasm")).expect("symlink");
        std::fs::create_dir(plugins.join("c.wasm")).expect("mkdir");
        let listed = components(&plugins).expect("scan");
        assert_eq!(listed, vec![plugins.join("a.wasm")]);
        let e = read_component(&plugins.join("b.wasm")).expect_err("escapes");
        assert!(e.contains("outside the plugin folder"), "{e}");
    }
}
