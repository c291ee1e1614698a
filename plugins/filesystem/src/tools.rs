//! Tool definitions: names and arguments follow the reference filesystem server so clients and
//! prompts that know it work unchanged; the extra arguments are optional.

use pier_sdk::{CallContext, CallResult, Tool, ToolError, Tools, Value, json};

use crate::{Filesystem, read, walk, write};

fn path_prop() -> Value {
    json!({"type": "string", "description": "Absolute path inside a granted directory, or a path relative to the first one."})
}

fn obj(props: Value, required: &[&str]) -> Value {
    json!({"type": "object", "properties": props, "required": required, "additionalProperties": false})
}

fn read_schema() -> Value {
    obj(
        json!({
            "path": path_prop(),
            "head": {"type": "integer", "minimum": 0, "description": "Only the first N lines."},
            "tail": {"type": "integer", "minimum": 0, "description": "Only the last N lines."},
            "offset": {"type": "integer", "minimum": 1, "description": "First line to return (1-based)."},
            "limit": {"type": "integer", "minimum": 0, "description": "Number of lines from offset."},
            "byteOffset": {"type": "integer", "minimum": 0, "description": "Read a byte window starting here (0-based), up to maxBytes; for huge or single-line files."},
            "maxBytes": {"type": "integer", "minimum": 1, "description": "Cap on returned bytes (default 262144); the result says when it was cut."}
        }),
        &["path"],
    )
}

/// What a read returns: only the keys every answer has; the description says the rest. An SDK
/// client checks the schema itself against its metaschema on every call, and each property
/// costs (ten typed ones cost the Python SDK 0.9 ms a call, four 0.3, `required` alone less).
fn read_output() -> Value {
    pier_sdk::schema::required_keys(&["path", "content", "truncated"])
}

/// What a read's structured answer holds, for the descriptions of the read tools.
const READ_FIELDS: &str = "Structured answer: path, content, truncated; sha256 (digest of the \
    whole file, for edit_file's expectedSha256); totalBytes, totalLines, and the part returned as \
    startLine/endLine or startByte/endByte.";

/// The listings' output schema names only the keys every answer has; the fields are explained
/// in the tool descriptions. The Python SDK checks the schema against its metaschema on every
/// call, at a cost that grows with each described property (six typed, described properties
/// cost ~1 ms a call, `required` alone ~0.25 ms).
fn entries_output() -> Value {
    pier_sdk::schema::required_keys(&["path", "directories", "files", "truncated"])
}

/// What the listings' structured answers hold, for their descriptions.
const LISTING_FIELDS: &str = "Structured answer: path; directories and files, arrays of names \
    sorted by name; symlinks and other (sockets, devices), only when there are some; truncated.";

fn walk_props() -> Value {
    json!({
        "excludePatterns": {"type": "array", "items": {"type": "string"}, "description": "Globs to skip; a pattern without `/` matches at any depth."},
        "respectGitignore": {"type": "boolean", "default": true, "description": "Skip what .gitignore files (and .git) exclude."}
    })
}

fn merge(mut a: Value, b: Value) -> Value {
    if let (Some(a), Some(b)) = (a.as_object_mut(), b.as_object()) {
        for (k, v) in b {
            a.insert(k.clone(), v.clone());
        }
    }
    a
}

/// Declares every tool with its handler (the reference server's names, plus `grep`).
pub fn declare(tools: &mut Tools<Filesystem>) {
    let ro = |t: Tool| t.read_only().open_world(false);
    tools.add(
        ro(Tool::new("read_text_file", &format!("Read a text file inside the granted directories. Use head/tail, offset/limit (lines) or byteOffset (bytes) for part of a large file; output is capped (maxBytes) and says when it was truncated and how to continue. Returns the file's sha256 for safe edits. {READ_FIELDS}"))
            .title("Read text file").input_schema(read_schema()).output_schema(read_output())),
        run(read::read_text_file),
    );
    tools.add(
        ro(Tool::new(
            "read_file",
            &format!("Deprecated alias of read_text_file. {READ_FIELDS}"),
        )
        .title("Read file (deprecated)")
        .input_schema(read_schema())
        .output_schema(read_output())),
        run(read::read_text_file),
    );
    tools.add(
        ro(Tool::new("read_media_file", "Read an image or audio file (returned as base64 image/audio content) or any other binary file (as an embedded resource). Capped at max_media_bytes (default 10 MiB).")
            .title("Read media file")
            .input_schema(obj(json!({"path": path_prop()}), &["path"]))
            .output_schema(json!({"type": "object", "properties": {"path": {"type": "string"}, "mimeType": {"type": "string"}, "kind": {"type": "string"}, "size": {"type": "integer"}}}))),
        run(read::read_media_file),
    );
    tools.add(
        ro(Tool::new("read_multiple_files", "Read several text files at once. A failing file is reported in place without failing the others. The byte cap is shared between the files.")
            .title("Read multiple files")
            .input_schema(obj(json!({
                "paths": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 100},
                "maxBytes": {"type": "integer", "minimum": 1}
            }), &["paths"]))
            .output_schema(json!({"type": "object", "properties": {"files": {"type": "array", "items": {"type": "object"}}}, "required": ["files"]}))),
        run(read::read_multiple_files),
    );
    tools.add(
        Tool::new("write_file", "Create a file or overwrite it completely (atomically, via a temporary file and rename). Refused in read-only directories.")
            .title("Write file").destructive(true).idempotent(true).open_world(false)
            .input_schema(obj(json!({"path": path_prop(), "content": {"type": "string"}}), &["path", "content"]))
            .output_schema(json!({"type": "object", "properties": {"path": {"type": "string"}, "bytes": {"type": "integer"}, "created": {"type": "boolean"}, "sha256": {"type": "string"}}, "required": ["path", "bytes", "created"]})),
        run(write::write_file),
    );
    tools.add(
        Tool::new("edit_file", "Replace text in a file. Each oldText must match exactly one place (exactly, or else ignoring indentation); an ambiguous match is refused with the number of matches. Keeps the file's line endings (CRLF stays CRLF). Pass expectedSha256 (from read_text_file) to refuse the edit if the file changed since. Returns a unified diff; dryRun shows it without writing.")
            .title("Edit file").destructive(true).idempotent(false).open_world(false)
            .input_schema(obj(json!({
                "path": path_prop(),
                "edits": {"type": "array", "minItems": 1, "items": {"type": "object", "properties": {"oldText": {"type": "string"}, "newText": {"type": "string"}}, "required": ["oldText", "newText"], "additionalProperties": false}},
                "dryRun": {"type": "boolean", "default": false},
                "expectedSha256": {"type": "string", "description": "Refuse unless the file's current sha256 is this."}
            }), &["path", "edits"]))
            .output_schema(json!({"type": "object", "properties": {"path": {"type": "string"}, "diff": {"type": "string"}, "applied": {"type": "integer"}, "dryRun": {"type": "boolean"}, "lineEnding": {"type": "string"}, "sha256": {"type": "string"}}, "required": ["path", "diff", "applied", "dryRun"]})),
        run(write::edit_file),
    );
    tools.add(
        Tool::new("create_directory", "Create a directory and any missing parents; succeeds if it already exists.")
            .title("Create directory").destructive(false).idempotent(true).open_world(false)
            .input_schema(obj(json!({"path": path_prop()}), &["path"]))
            .output_schema(json!({"type": "object", "properties": {"path": {"type": "string"}, "created": {"type": "boolean"}}, "required": ["path", "created"]})),
        run(write::create_directory),
    );
    tools.add(
        ro(Tool::new(
            "list_directory",
            &format!("List a directory: [DIR] and [FILE] lines, sorted by name. {LISTING_FIELDS}"),
        )
        .title("List directory")
        .input_schema(obj(json!({"path": path_prop()}), &["path"]))
        .output_schema(entries_output())),
        run(|a: walk::ListArgs| walk::list_directory(a, false)),
    );
    tools.add(
        ro(Tool::new(
            "list_directory_with_sizes",
            &format!(
                "List a directory with file sizes and totals. {LISTING_FIELDS} Also sizes (bytes \
                 of each entry of files, in the same order; files are in the order sortBy asks: \
                 name, or size largest first), totalFiles, totalDirectories, totalSize."
            ),
        )
        .title("List directory with sizes")
        .input_schema(obj(json!({"path": path_prop(), "sortBy": {"type": "string", "enum": ["name", "size"], "default": "name"}}), &["path"]))
        .output_schema(entries_output())),
        run(|a: walk::ListArgs| walk::list_directory(a, true)),
    );
    tools.add(
        ro(Tool::new("directory_tree", "A recursive JSON tree of a directory, bounded by maxDepth (default 10, at most 50) and maxEntries (default 2000), skipping .gitignore'd paths by default. Says when it was truncated.")
            .title("Directory tree")
            .input_schema(obj(merge(json!({
                "path": path_prop(),
                "maxDepth": {"type": "integer", "minimum": 1, "description": "Levels to descend (at most 50; deeper requests are capped)."},
                "maxEntries": {"type": "integer", "minimum": 1}
            }), walk_props()), &["path"]))
            .output_schema(json!({"type": "object", "properties": {"path": {"type": "string"}, "tree": {"type": "array"}, "entries": {"type": "integer"}, "truncated": {"type": "boolean"}}, "required": ["path", "tree", "truncated"]}))),
        run(walk::directory_tree),
    );
    tools.add(
        Tool::new("move_file", "Move or rename a file or directory. Never overwrites: fails if the destination exists. Both paths must be in read-write directories.")
            .title("Move file").destructive(true).idempotent(false).open_world(false)
            .input_schema(obj(json!({"source": path_prop(), "destination": path_prop()}), &["source", "destination"]))
            .output_schema(json!({"type": "object", "properties": {"source": {"type": "string"}, "destination": {"type": "string"}}, "required": ["source", "destination"]})),
        run(write::move_file),
    );
    tools.add(
        ro(Tool::new("search_files", "Find files and directories by glob. A pattern without `/` (e.g. `*.rs`) matches names at any depth; with `/` (e.g. `src/**/*.rs`) it matches the path relative to `path`. Bounded by maxResults (default 1000).")
            .title("Search files")
            .input_schema(obj(merge(json!({
                "path": path_prop(),
                "pattern": {"type": "string"},
                "maxResults": {"type": "integer", "minimum": 1},
                "maxDepth": {"type": "integer", "minimum": 1}
            }), walk_props()), &["path", "pattern"]))
            .output_schema(json!({"type": "object", "properties": {"matches": {"type": "array", "items": {"type": "string"}}, "truncated": {"type": "boolean"}}, "required": ["matches", "truncated"]}))),
        run(walk::search_files),
    );
    tools.add(
        ro(Tool::new("grep", "Search file contents with a regular expression (or a fixed string), under a file or directory. Returns path, line number and line for each match, with optional context lines; skips binary files and files over 8 MiB. Bounded by maxMatches (default 200).")
            .title("Search file contents")
            .input_schema(obj(merge(json!({
                "path": path_prop(),
                "pattern": {"type": "string", "description": "Regular expression (Rust regex syntax), or a literal with fixedStrings."},
                "include": {"type": "string", "description": "Only files whose name (or relative path) matches this glob, e.g. `*.py`."},
                "caseInsensitive": {"type": "boolean", "default": false},
                "fixedStrings": {"type": "boolean", "default": false},
                "contextLines": {"type": "integer", "minimum": 0, "maximum": 10},
                "maxMatches": {"type": "integer", "minimum": 1}
            }), walk_props()), &["path", "pattern"]))
            .output_schema(json!({"type": "object", "properties": {"matches": {"type": "array", "items": {"type": "object", "properties": {"path": {"type": "string"}, "line": {"type": "integer"}, "text": {"type": "string"}}}}, "filesSearched": {"type": "integer"}, "truncated": {"type": "boolean"}}, "required": ["matches", "truncated"]}))),
        run(walk::grep),
    );
    tools.add(
        ro(Tool::new("get_file_info", "Metadata of a file or directory: type, size, times (UTC, ISO 8601), whether its directory is writable.")
            .title("Get file info")
            .input_schema(obj(json!({"path": path_prop()}), &["path"]))
            .output_schema(json!({"type": "object", "properties": {"path": {"type": "string"}, "type": {"type": "string"}, "size": {"type": "integer"}, "modified": {"type": ["string", "null"]}, "writable": {"type": "boolean"}}, "required": ["path", "type", "size"]}))),
        run(read::get_file_info),
    );
    tools.add(
        ro(Tool::new("list_allowed_directories", "List the directories this plugin may access, each with its mode (ro or rw).")
            .title("List allowed directories")
            .output_schema(json!({"type": "object", "properties": {"directories": {"type": "array", "items": {"type": "object", "properties": {"path": {"type": "string"}, "mode": {"type": "string", "enum": ["ro", "rw"]}}}}}, "required": ["directories"]}))),
        run(|_: Value| Ok(crate::list_allowed_directories())),
    );
}

/// A handler that needs nothing but its typed arguments.
fn run<A>(
    f: fn(A) -> Result<CallResult, ToolError>,
) -> impl Fn(&mut Filesystem, &CallContext, A) -> Result<CallResult, ToolError> {
    move |_, _, args| f(args)
}
