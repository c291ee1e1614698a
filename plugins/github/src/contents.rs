//! Reading a path of a repository at a ref: a file's text (as text, never JSON-escaped twice),
//! a binary file's bytes, or a directory listing. Shared by `get_file_contents` and the
//! `repo://` resources.

use base64::Engine;
use pier_sdk::ToolError;
use serde_json::{Value, json};

use crate::Github;
use crate::api::encode_path;
use crate::shape;

pub enum Fetched {
    /// A text file, cut to the byte budget when longer.
    Text {
        meta: Value,
        text: String,
    },
    Binary {
        meta: Value,
        bytes: Vec<u8>,
        mime: String,
    },
    Dir {
        value: Value,
    },
}

/// Reads `path` of `owner/repo` at `reference` (a branch, tag, `refs/...` or a commit SHA).
pub fn fetch(
    gh: &mut Github,
    owner: &str,
    repo: &str,
    path: &str,
    reference: Option<&str>,
) -> Result<Fetched, ToolError> {
    let base = gh.repo(owner, repo)?;
    let clean = encode_path(path);
    let mut url = if clean.is_empty() {
        format!("{base}/contents")
    } else {
        format!("{base}/contents/{clean}")
    };
    let query: Vec<(&str, String)> = reference
        .filter(|r| !r.is_empty())
        .map(|r| ("ref", r.to_string()))
        .into_iter()
        .collect();
    let answer = gh.api.get(&url, &query)?.json;
    if let Value::Array(entries) = &answer {
        let entries: Vec<Value> = entries
            .iter()
            .map(|e| Value::Object(shape::pick(e, &["name", "type", "size", "path", "sha"])))
            .collect();
        return Ok(Fetched::Dir {
            value: json!({"type": "dir", "path": format!("/{clean}"), "entries": entries}),
        });
    }
    let kind = answer["type"].as_str().unwrap_or("file");
    if kind == "symlink" {
        let target = answer["target"].as_str().unwrap_or("");
        return Ok(Fetched::Text {
            meta: json!({"type": "symlink", "path": format!("/{clean}"), "target": target}),
            text: format!("/{clean} is a symbolic link to {target}"),
        });
    }
    if kind == "submodule" {
        let url = answer["submodule_git_url"].as_str().unwrap_or("");
        return Ok(Fetched::Text {
            meta: json!({"type": "submodule", "path": format!("/{clean}"), "target": url}),
            text: format!(
                "/{clean} is a submodule: {url} at {}",
                answer["sha"].as_str().unwrap_or("?")
            ),
        });
    }
    let bytes = match answer["encoding"].as_str() {
        Some("base64") => {
            let packed: String = answer["content"]
                .as_str()
                .unwrap_or("")
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect();
            base64::engine::general_purpose::STANDARD
                .decode(packed)
                .map_err(|e| ToolError::Failed(format!("GitHub sent undecodable content: {e}")))?
        }
        // Files over 1 MB come without content: ask for the raw bytes.
        _ => {
            if let Some(r) = query.first() {
                url.push_str(&format!("?ref={}", crate::api::encode(&r.1)));
            }
            gh.api
                .get_raw(&url, "application/vnd.github.raw+json")?
                .body
        }
    };
    let size = answer["size"].as_u64().unwrap_or(bytes.len() as u64);
    let sha = answer["sha"].clone();
    let binary = bytes.contains(&0) || std::str::from_utf8(&bytes).is_err();
    if binary {
        let mime = mime_of(path);
        return Ok(Fetched::Binary {
            meta: json!({"type": "file", "path": format!("/{clean}"), "sha": sha, "size": size, "binary": true, "mime_type": mime}),
            bytes,
            mime: mime.to_string(),
        });
    }
    let text = String::from_utf8_lossy(&bytes);
    let (text, truncated) = shape::cap(&text, gh.max_bytes());
    let mut meta = json!({"type": "file", "path": format!("/{clean}"), "sha": sha, "size": size, "truncated": truncated});
    if truncated {
        meta["note"] = json!(format!(
            "only the first {} bytes of {size} are shown (max_bytes in [config])",
            text.len()
        ));
    }
    Ok(Fetched::Text { meta, text })
}

fn mime_of(path: &str) -> &'static str {
    let ext = path.rsplit('.').next().unwrap_or("").to_ascii_lowercase();
    match ext.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "svg" => "image/svg+xml",
        "pdf" => "application/pdf",
        "zip" => "application/zip",
        "gz" | "tgz" => "application/gzip",
        "wasm" => "application/wasm",
        _ => "application/octet-stream",
    }
}
