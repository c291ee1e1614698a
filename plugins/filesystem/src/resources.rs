//! The granted files as resources: `file:///{+path}` reads a text file (as `read_text_file`
//! does, capped at `max_read_bytes`), and the tools that change a file tell pier, which tells
//! the clients that subscribed to its URI (`notifications/resources/updated`). Nothing is listed
//! (a tree can be huge; `list_directory` and the template address any file), and changes made
//! outside pier (an editor, another program) are not seen: a plugin runs only during calls.

use std::path::Path;

use pier_sdk::{
    CallContext, Error, ResourceBody, ResourceContents, ResourceInfo, ResourceTemplate,
};

use crate::read::{ReadArgs, read_text};

pub const TEMPLATE: &str = "file:///{+path}";

/// `file://` followed by the absolute path, with bytes outside the URI path alphabet
/// percent-encoded.
pub fn uri_of(path: &Path) -> String {
    let mut uri = String::from("file://");
    for b in path.display().to_string().bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'/' | b'-' | b'.' | b'_' | b'~' => {
                uri.push(b as char)
            }
            _ => uri.push_str(&format!("%{b:02X}")),
        }
    }
    uri
}

/// The path a `file://` URI names, or `None` for another scheme or a bad escape.
pub fn path_of(uri: &str) -> Option<String> {
    let rest = uri.strip_prefix("file://")?;
    if !rest.starts_with('/') {
        return None;
    }
    let bytes = rest.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = rest.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Tells subscribers that the file at `path` changed.
pub fn changed(path: &Path) {
    pier_sdk::host::resource_updated(&uri_of(path));
}

pub fn templates() -> Vec<ResourceTemplate> {
    vec![ResourceTemplate {
        uri_template: TEMPLATE.into(),
        name: "file".into(),
        title: Some("File".into()),
        description: Some(
            "A text file inside the granted directories (capped at max_read_bytes). Subscribe to \
             hear when a tool of this plugin changes it."
                .into(),
        ),
        mime_type: Some("text/plain".into()),
    }]
}

pub fn list(_cx: &CallContext) -> Vec<ResourceInfo> {
    Vec::new()
}

pub fn read(uri: &str) -> Result<Vec<ResourceContents>, Error> {
    let Some(path) = path_of(uri) else {
        return Err(Error::NotFound(format!("{uri} is not a file:// URI")));
    };
    let args: ReadArgs = serde_json::from_value(serde_json::json!({ "path": path }))
        .map_err(|e| Error::InvalidParams(e.to_string()))?;
    let read = read_text(&args).map_err(|e| Error::InvalidParams(e.message().to_string()))?;
    Ok(vec![ResourceContents {
        uri: uri.to_string(),
        mime_type: Some("text/plain".into()),
        body: ResourceBody::Text(read.content),
    }])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_round_trip() {
        let uri = uri_of(Path::new("/notes/a b%.md"));
        assert_eq!(uri, "file:///notes/a%20b%25.md");
        assert_eq!(path_of(&uri).as_deref(), Some("/notes/a b%.md"));
        assert_eq!(path_of("postgres://x"), None);
        assert_eq!(path_of("file://relative"), None);
        assert_eq!(path_of("file:///bad%zz"), None);
    }
}
