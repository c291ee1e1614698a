//! Reading: text with line/byte ranges and a size cap, media, several files, file info.

use std::io::{Read, Seek, SeekFrom};

use pier_sdk::{CallResult, Content, Value, json};
use serde::Deserialize;

use crate::roots::{io_error, resolve};
use crate::util::{cut, iso8601, looks_binary, open_regular, read_regular, sha256_hex};
use crate::{ToolError, config_usize};

/// Files larger than this are not read whole (no hash, no line count): only the requested part.
const WHOLE_FILE_LIMIT: u64 = 64 * 1024 * 1024;

pub fn max_read_bytes() -> usize {
    config_usize("max_read_bytes", 256 * 1024)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ReadArgs {
    pub path: String,
    pub head: Option<usize>,
    pub tail: Option<usize>,
    /// 1-based first line.
    pub offset: Option<usize>,
    /// Number of lines from `offset`.
    pub limit: Option<usize>,
    /// 0-based byte offset: read a byte window of up to `max_bytes` from here.
    pub byte_offset: Option<u64>,
    pub max_bytes: Option<usize>,
}

/// The result of reading one text file, shared by the single and multiple read tools.
pub struct TextRead {
    pub path: String,
    pub content: String,
    pub truncated: bool,
    pub total_bytes: u64,
    pub total_lines: Option<usize>,
    pub start_line: usize,
    pub end_line: usize,
    pub sha256: Option<String>,
    /// For byte-window reads: the bytes `[start, end)` returned.
    pub bytes: Option<(u64, u64)>,
}

impl TextRead {
    pub fn to_json(&self) -> Value {
        json!({
            "path": self.path, "content": self.content, "truncated": self.truncated,
            "totalBytes": self.total_bytes, "totalLines": self.total_lines,
            "startLine": self.start_line, "endLine": self.end_line, "sha256": self.sha256,
            "startByte": self.bytes.map(|b| b.0), "endByte": self.bytes.map(|b| b.1),
        })
    }

    /// The content, plus a closing note that says how to continue when it was cut.
    pub fn text(&self) -> String {
        if !self.truncated {
            return self.content.clone();
        }
        if let Some((_, end)) = self.bytes {
            return format!(
                "{}\n[truncated: {} of {} bytes shown; call again with byteOffset={end} to continue]",
                self.content, end, self.total_bytes
            );
        }
        let total = self
            .total_lines
            .map_or_else(|| "?".to_string(), |n| n.to_string());
        format!(
            "{}\n[truncated: showing lines {}-{} of {total}; call again with offset={} to continue, or raise maxBytes]",
            self.content.trim_end_matches('\n'),
            self.start_line,
            self.end_line,
            self.end_line + 1
        )
    }
}

pub fn read_text(a: &ReadArgs) -> Result<TextRead, ToolError> {
    if a.head.is_some() && a.tail.is_some() {
        return Err(ToolError::Invalid("give head or tail, not both".into()));
    }
    if (a.head.is_some() || a.tail.is_some()) && (a.offset.is_some() || a.limit.is_some()) {
        return Err(ToolError::Invalid(
            "head/tail cannot be combined with offset/limit".into(),
        ));
    }
    if a.byte_offset.is_some()
        && (a.head.is_some() || a.tail.is_some() || a.offset.is_some() || a.limit.is_some())
    {
        return Err(ToolError::Invalid(
            "byteOffset cannot be combined with head/tail/offset/limit".into(),
        ));
    }
    if a.offset == Some(0) {
        return Err(ToolError::Invalid(
            "offset is 1-based; the first line is 1".into(),
        ));
    }
    let r = resolve(&a.path)?;
    let max = a.max_bytes.unwrap_or_else(max_read_bytes).max(1);
    let (file, meta) = open_regular(&r.path).map_err(|e| io_error(&r.path, e))?;
    let total_bytes = meta.len();
    let path = r.path.display().to_string();

    if let Some(start) = a.byte_offset {
        return read_window(file, &r.path, path, start, max, total_bytes);
    }

    if total_bytes > WHOLE_FILE_LIMIT {
        // Huge file: read only a window from the start (or the end, for tail).
        let mut f = file;
        let window = max as u64;
        if a.tail.is_some() {
            f.seek(SeekFrom::End(-(window.min(total_bytes) as i64)))
                .map_err(|e| io_error(&r.path, e))?;
        }
        let mut buf = Vec::new();
        f.take(window)
            .read_to_end(&mut buf)
            .map_err(|e| io_error(&r.path, e))?;
        if looks_binary(&buf) {
            return Err(binary(&path));
        }
        let text = String::from_utf8_lossy(&buf);
        let content = cut(&text, max).to_string();
        let lines = content.lines().count();
        return Ok(TextRead {
            path,
            content,
            truncated: true,
            total_bytes,
            total_lines: None,
            start_line: 1,
            end_line: lines,
            sha256: None,
            bytes: None,
        });
    }

    let mut data = Vec::with_capacity(total_bytes as usize);
    let mut file = file;
    file.read_to_end(&mut data)
        .map_err(|e| io_error(&r.path, e))?;
    if looks_binary(&data) {
        return Err(binary(&path));
    }
    let sha256 = Some(sha256_hex(&data));
    let text = String::from_utf8_lossy(&data);
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let total_lines = lines.len();
    let (start, end) = if let Some(h) = a.head {
        (0, h.min(total_lines))
    } else if let Some(t) = a.tail {
        (total_lines.saturating_sub(t), total_lines)
    } else {
        let s = a.offset.unwrap_or(1) - 1;
        let s = s.min(total_lines);
        let e = a.limit.map_or(total_lines, |l| (s + l).min(total_lines));
        (s, e)
    };
    let selected: String = lines[start..end].concat();
    let content = cut(&selected, max).to_string();
    let truncated = content.len() < selected.len();
    let shown = content.split_inclusive('\n').count();
    Ok(TextRead {
        path,
        content,
        truncated,
        total_bytes,
        total_lines: Some(total_lines),
        start_line: start + 1,
        end_line: start + shown,
        sha256,
        bytes: None,
    })
}

/// Reads bytes `[start, start + max)`, widened or narrowed to UTF-8 character boundaries.
fn read_window(
    mut f: std::fs::File,
    file: &std::path::Path,
    path: String,
    start: u64,
    max: usize,
    total_bytes: u64,
) -> Result<TextRead, ToolError> {
    if start > total_bytes {
        return Err(ToolError::Invalid(format!(
            "byteOffset {start} is past the end of the file ({total_bytes} bytes)"
        )));
    }
    f.seek(SeekFrom::Start(start))
        .map_err(|e| io_error(file, e))?;
    let mut buf = Vec::new();
    f.take(max as u64)
        .read_to_end(&mut buf)
        .map_err(|e| io_error(file, e))?;
    if looks_binary(&buf) {
        return Err(binary(&path));
    }
    // Skip continuation bytes at the front, drop an incomplete character at the back.
    let lead = buf
        .iter()
        .take(3)
        .take_while(|b| (**b & 0xC0) == 0x80)
        .count();
    let text = match std::str::from_utf8(&buf[lead..]) {
        Ok(t) => t.to_string(),
        Err(e) if e.error_len().is_none() => {
            String::from_utf8_lossy(&buf[lead..lead + e.valid_up_to()]).into_owned()
        }
        Err(_) => String::from_utf8_lossy(&buf[lead..]).into_owned(),
    };
    let begin = start + lead as u64;
    let end = begin + text.len() as u64;
    Ok(TextRead {
        path,
        truncated: end < total_bytes,
        total_bytes,
        total_lines: None,
        start_line: 0,
        end_line: 0,
        sha256: None,
        bytes: Some((begin, end)),
        content: text,
    })
}

fn binary(path: &str) -> ToolError {
    ToolError::Failed(format!(
        "{path} looks binary (it contains NUL bytes); use read_media_file for images, audio and other binary files"
    ))
}

pub fn read_text_file(a: ReadArgs) -> Result<CallResult, ToolError> {
    let r = read_text(&a)?;
    Ok(CallResult::structured(r.text(), &r.to_json()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct MultiArgs {
    paths: Vec<String>,
    max_bytes: Option<usize>,
}

pub fn read_multiple_files(a: MultiArgs) -> Result<CallResult, ToolError> {
    if a.paths.is_empty() || a.paths.len() > 100 {
        return Err(ToolError::Invalid("paths must hold 1 to 100 paths".into()));
    }
    // One budget for the whole answer, shared evenly, so many files cannot flood the context.
    let budget = a.max_bytes.unwrap_or_else(max_read_bytes);
    let each = (budget / a.paths.len()).max(1024);
    let mut text = Vec::new();
    let mut files = Vec::new();
    for p in &a.paths {
        let args = ReadArgs {
            path: p.clone(),
            head: None,
            tail: None,
            offset: None,
            limit: None,
            byte_offset: None,
            max_bytes: Some(each),
        };
        match read_text(&args) {
            Ok(r) => {
                text.push(format!("{}:\n{}\n", r.path, r.text()));
                files.push(r.to_json());
            }
            Err(e) => {
                text.push(format!("{p}: Error - {}", e.message()));
                files.push(json!({"path": p, "error": e.message()}));
            }
        }
    }
    Ok(CallResult::structured(
        text.join("\n---\n"),
        &json!({"files": files}),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PathArgs {
    path: String,
}

fn media_kind(path: &str) -> (&'static str, &'static str) {
    let ext = path.rsplit('.').next().unwrap_or("").to_ascii_lowercase();
    match ext.as_str() {
        "png" => ("image", "image/png"),
        "jpg" | "jpeg" => ("image", "image/jpeg"),
        "gif" => ("image", "image/gif"),
        "webp" => ("image", "image/webp"),
        "bmp" => ("image", "image/bmp"),
        "svg" => ("image", "image/svg+xml"),
        "mp3" => ("audio", "audio/mpeg"),
        "wav" => ("audio", "audio/wav"),
        "ogg" => ("audio", "audio/ogg"),
        "flac" => ("audio", "audio/flac"),
        "pdf" => ("blob", "application/pdf"),
        _ => ("blob", "application/octet-stream"),
    }
}

pub fn read_media_file(a: PathArgs) -> Result<CallResult, ToolError> {
    let r = resolve(&a.path)?;
    let cap = config_usize("max_media_bytes", 10 * 1024 * 1024) as u64;
    let meta = std::fs::metadata(&r.path).map_err(|e| io_error(&r.path, e))?;
    if meta.len() > cap {
        return Err(ToolError::Failed(format!(
            "{} is {} bytes, over the {cap}-byte cap for media (config key max_media_bytes)",
            r.path.display(),
            meta.len()
        )));
    }
    let data = read_regular(&r.path).map_err(|e| io_error(&r.path, e))?;
    let path = r.path.display().to_string();
    let (kind, mime) = media_kind(&path);
    let size = data.len();
    let block = match kind {
        "image" => Content::image(data, mime),
        "audio" => Content::audio(data, mime),
        _ => Content::blob(&format!("file://{path}"), data, mime),
    };
    let summary = json!({"path": path, "mimeType": mime, "kind": kind, "size": size});
    Ok(CallResult {
        content: vec![block],
        structured: Some(summary.to_string()),
        is_error: false,
    })
}

pub fn get_file_info(a: PathArgs) -> Result<CallResult, ToolError> {
    let r = resolve(&a.path)?;
    let link = std::fs::symlink_metadata(&r.path).map_err(|e| io_error(&r.path, e))?;
    let meta = if link.file_type().is_symlink() {
        std::fs::metadata(&r.path).unwrap_or(link.clone())
    } else {
        link.clone()
    };
    let kind = crate::walk::kind_of(&link.file_type());
    let info = json!({
        "path": r.path.display().to_string(),
        "type": kind,
        "size": meta.len(),
        "modified": meta.modified().ok().and_then(iso8601),
        "accessed": meta.accessed().ok().and_then(iso8601),
        "created": meta.created().ok().and_then(iso8601),
        "isDirectory": meta.is_dir(),
        "isFile": meta.is_file(),
        "isSymlink": link.file_type().is_symlink(),
        "readOnlyFile": meta.permissions().readonly(),
        "root": r.root.path.display().to_string(),
        "writable": r.root.writable,
    });
    let text = info
        .as_object()
        .map(|o| {
            o.iter()
                .map(|(k, v)| match v {
                    Value::String(s) => format!("{k}: {s}"),
                    other => format!("{k}: {other}"),
                })
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default();
    Ok(CallResult::structured(text, &info))
}
