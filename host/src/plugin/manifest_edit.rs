//! `pier grant`: adds one grant to a manifest in place, keeping its comments, order and layout.
//!
//! The value is validated with the same parser the loader uses, and the whole edited manifest is
//! parsed again before it replaces the old file (write to a temporary file, then rename), so a
//! grant that pier would refuse never lands on disk.

use std::path::{Path, PathBuf};

use toml_edit::{Array, ArrayOfTables, DocumentMut, Item, Table, value};

use super::manifest::{FileMode, Manifest, ManifestError};
use crate::grammar::http::HttpGrant;
use crate::grammar::network::NetworkGrant;

/// One grant to add.
#[derive(Debug, Clone)]
pub enum Grant {
    Network(String),
    Http(String),
    Env(String),
    Files {
        host: PathBuf,
        guest: Option<String>,
        mode: FileMode,
    },
}

impl Grant {
    /// Where the grant goes in the manifest, as messages name it.
    pub fn key(&self) -> &'static str {
        match self {
            Grant::Network(_) => "[grants].network",
            Grant::Http(_) => "[grants].http",
            Grant::Env(_) => "[grants].env",
            Grant::Files { .. } => "[grants].files",
        }
    }
}

/// The manifest `pier grant` edits: a path to a `.toml` (or the `.toml` beside a `.wasm`) given
/// directly, or `NAME.toml` in the plugin folder `dir` when a plugin of that name is there.
pub fn manifest_for(plugin: &str, dir: &Path) -> Result<PathBuf, ManifestError> {
    let as_path = PathBuf::from(plugin);
    if plugin.ends_with(".toml") {
        return Ok(as_path);
    }
    if plugin.ends_with(".wasm") {
        return Ok(as_path.with_extension("toml"));
    }
    let wasm = dir.join(format!("{plugin}.wasm"));
    let toml = dir.join(format!("{plugin}.toml"));
    if !wasm.exists() && !toml.exists() {
        return Err(ManifestError {
            path: toml.display().to_string(),
            message: format!(
                "no plugin {plugin:?} in {} (give a path to its .toml or .wasm, or --plugins DIR)",
                dir.display()
            ),
        });
    }
    Ok(toml)
}

/// What `grant` did.
#[derive(Debug, PartialEq, Eq)]
pub enum Edit {
    Added,
    /// The manifest already granted exactly this; nothing was written.
    AlreadyGranted,
}

/// Adds `grant` to the manifest at `path`, creating the file if it does not exist.
pub fn grant(path: &Path, grant: &Grant) -> Result<Edit, ManifestError> {
    let err = |message: String| ManifestError {
        path: path.display().to_string(),
        message,
    };
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(err(format!("cannot read: {e}"))),
    };
    // Refuse to edit a manifest that is already broken: the user should see that error first.
    let base = path.parent().unwrap_or(Path::new("."));
    Manifest::parse(&text, path, base)?;
    let mut doc: DocumentMut = text
        .parse()
        .map_err(|e| err(format!("cannot parse as TOML: {e}")))?;

    let grants = doc
        .entry("grants")
        .or_insert_with(|| Item::Table(Table::new()))
        .as_table_mut()
        .ok_or_else(|| err("`grants` is not a table".into()))?;

    let added = match grant {
        Grant::Network(v) => {
            NetworkGrant::parse(v).map_err(|e| err(format!("network grant: {e}")))?;
            push_unique(grants, "network", v).map_err(err)?
        }
        Grant::Http(v) => {
            HttpGrant::parse(v).map_err(|e| err(format!("http grant: {e}")))?;
            push_unique(grants, "http", v).map_err(err)?
        }
        Grant::Env(v) => push_unique(grants, "env", v).map_err(err)?,
        Grant::Files { host, guest, mode } => {
            let host = host
                .canonicalize()
                .map_err(|e| err(format!("cannot grant {}: {e}", host.display())))?;
            let host_text = host.to_string_lossy().into_owned();
            let files = grants
                .entry("files")
                .or_insert_with(|| Item::ArrayOfTables(ArrayOfTables::new()));
            // Either form the manifest already uses: `[[grants.files]]` tables, or the inline
            // `files = [{ host = …, mode = … }]` the docs teach.
            let same = |h: Option<&str>, m: Option<&str>, g: Option<&str>| {
                h == Some(host_text.as_str())
                    && m.unwrap_or("ro") == mode.as_str()
                    && g == guest.as_deref()
            };
            match files {
                Item::ArrayOfTables(tables) => {
                    let exists = tables.iter().any(|t| {
                        same(
                            t.get("host").and_then(Item::as_str),
                            t.get("mode").and_then(Item::as_str),
                            t.get("guest").and_then(Item::as_str),
                        )
                    });
                    if !exists {
                        let mut t = Table::new();
                        t.insert("host", value(host_text.as_str()));
                        if let Some(g) = &guest {
                            t.insert("guest", value(g.as_str()));
                        }
                        t.insert("mode", value(mode.as_str()));
                        tables.push(t);
                    }
                    !exists
                }
                Item::Value(toml_edit::Value::Array(list)) => {
                    let exists = list.iter().any(|v| {
                        v.as_inline_table().is_some_and(|t| {
                            same(
                                t.get("host").and_then(|x| x.as_str()),
                                t.get("mode").and_then(|x| x.as_str()),
                                t.get("guest").and_then(|x| x.as_str()),
                            )
                        })
                    });
                    if !exists {
                        let mut t = toml_edit::InlineTable::new();
                        t.insert("host", host_text.as_str().into());
                        if let Some(g) = &guest {
                            t.insert("guest", g.as_str().into());
                        }
                        t.insert("mode", mode.as_str().into());
                        list.push(t);
                    }
                    !exists
                }
                _ => {
                    return Err(err(
                        "[grants].files is neither [[grants.files]] tables nor a list of { host, mode } tables"
                            .into(),
                    ));
                }
            }
        }
    };
    if !added {
        return Ok(Edit::AlreadyGranted);
    }
    let new_text = doc.to_string();
    Manifest::parse(&new_text, path, base)?;
    write_atomically(path, &new_text).map_err(|e| err(format!("cannot write: {e}")))?;
    Ok(Edit::Added)
}

/// Appends `v` to the array `grants.key`, creating it; false when it was already there.
fn push_unique(grants: &mut Table, key: &str, v: &str) -> Result<bool, String> {
    let arr = grants
        .entry(key)
        .or_insert_with(|| value(Array::new()))
        .as_array_mut()
        .ok_or_else(|| format!("[grants].{key} is not a list"))?;
    if arr.iter().any(|x| x.as_str() == Some(v)) {
        return Ok(false);
    }
    arr.push(v);
    Ok(true)
}

fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    let tmp = path.with_extension("toml.pier-tmp");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_added_in_the_form_the_manifest_uses() {
        let dir = tempfile::tempdir().expect("tempdir");
        let notes = dir.path().join("notes");
        let scratch = dir.path().join("scratch");
        std::fs::create_dir_all(&notes).expect("mkdir");
        std::fs::create_dir_all(&scratch).expect("mkdir");
        let notes = notes.canonicalize().expect("canonical");
        let path = dir.path().join("files.toml");
        let original = format!(
            "[grants]\nfiles = [{{ host = {:?}, mode = \"ro\" }}] # inline, as the docs show\n",
            notes.display().to_string()
        );
        std::fs::write(&path, &original).expect("write");
        let g = Grant::Files {
            host: scratch.clone(),
            guest: None,
            mode: FileMode::ReadWrite,
        };
        assert_eq!(grant(&path, &g).expect("inline form"), Edit::Added);
        let text = std::fs::read_to_string(&path).expect("read");
        assert!(text.contains("# inline, as the docs show"), "{text}");
        assert!(!text.contains("[[grants.files]]"), "{text}");
        let m = Manifest::load(&path).expect("still valid");
        assert_eq!(m.files.len(), 2);
        assert_eq!(grant(&path, &g).expect("again"), Edit::AlreadyGranted);
        // The table form keeps the table form.
        let tables = dir.path().join("tables.toml");
        std::fs::write(&tables, "[[grants.files]]\nhost = \"/\"\nmode = \"ro\"\n").expect("write");
        assert_eq!(grant(&tables, &g).expect("table form"), Edit::Added);
        let text = std::fs::read_to_string(&tables).expect("read");
        assert_eq!(text.matches("[[grants.files]]").count(), 2, "{text}");
    }

    #[test]
    fn keeps_comments_and_order_and_is_idempotent() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("db.toml");
        let original = "# the database plugin\n[plugin]\nname = \"db\" # short\n\n[grants]\n# sockets\nnetwork = [\"postgres://db\"]\n\n[config]\nurl = \"x\"\n";
        std::fs::write(&path, original).expect("write");
        let g = Grant::Network("tcp://10.0.0.5:5433".into());
        assert_eq!(grant(&path, &g).expect("grant"), Edit::Added);
        let text = std::fs::read_to_string(&path).expect("read");
        assert!(
            text.starts_with("# the database plugin\n[plugin]\nname = \"db\" # short\n"),
            "{text}"
        );
        assert!(
            text.contains("# sockets\nnetwork = [\"postgres://db\", \"tcp://10.0.0.5:5433\"]"),
            "{text}"
        );
        assert!(text.find("[grants]") < text.find("[config]"), "{text}");
        assert_eq!(grant(&path, &g).expect("again"), Edit::AlreadyGranted);

        grant(&path, &Grant::Http("https://api.github.com".into())).expect("http");
        grant(&path, &Grant::Env("TOKEN".into())).expect("env");
        let files = Grant::Files {
            host: dir.path().to_path_buf(),
            guest: Some("/data".into()),
            mode: FileMode::ReadWrite,
        };
        grant(&path, &files).expect("files");
        assert_eq!(
            grant(&path, &files).expect("files again"),
            Edit::AlreadyGranted
        );
        let m = Manifest::load(&path).expect("still valid");
        assert_eq!(m.network.len(), 2);
        assert_eq!(m.http.len(), 1);
        assert_eq!(m.env, vec!["TOKEN".to_string()]);
        assert_eq!(m.files[0].guest, "/data");
    }

    #[test]
    fn bad_values_and_broken_manifests_are_refused_untouched() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("p.toml");
        let e = grant(&path, &Grant::Network("db:5432".into())).expect_err("no scheme");
        assert!(e.to_string().contains("needs a scheme"), "{e}");
        assert!(!path.exists(), "nothing written for a refused grant");
        let e = grant(&path, &Grant::Env("A=B".into())).expect_err("bad env");
        assert!(e.to_string().contains("[grants].env"), "{e}");
        assert!(!path.exists());
        std::fs::write(&path, "[grants]\nbogus = 1\n").expect("write");
        assert!(grant(&path, &Grant::Env("A".into())).is_err());
        assert_eq!(
            std::fs::read_to_string(&path).expect("read"),
            "[grants]\nbogus = 1\n"
        );
        // A new file is created with just the grant.
        let fresh = dir.path().join("new.toml");
        grant(&fresh, &Grant::Http("https://a.example".into())).expect("create");
        assert_eq!(Manifest::load(&fresh).expect("valid").http.len(), 1);
    }
}
