//! Writing: whole files, exact edits, directories, moves. All refuse read-only roots up front.

use pier_sdk::{CallResult, json};
use serde::Deserialize;
use similar::TextDiff;

use crate::ToolError;
use crate::roots::{io_error, resolve_writable};
use crate::util::{sha256_hex, write_atomic};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WriteArgs {
    path: String,
    content: String,
}

pub fn write_file(a: WriteArgs) -> Result<CallResult, ToolError> {
    let r = resolve_writable(&a.path)?;
    let existed = match std::fs::symlink_metadata(&r.path) {
        Ok(m) if m.is_dir() => {
            return Err(ToolError::Failed(format!(
                "{} is a directory",
                r.path.display()
            )));
        }
        Ok(_) => true,
        Err(_) => false,
    };
    write_atomic(&r.path, a.content.as_bytes()).map_err(|e| io_error(&r.path, e))?;
    crate::resources::changed(&r.path);
    let path = r.path.display().to_string();
    let out = json!({
        "path": path, "bytes": a.content.len(), "created": !existed,
        "sha256": sha256_hex(a.content.as_bytes()),
    });
    Ok(CallResult::structured(
        format!("Successfully wrote {} bytes to {path}", a.content.len()),
        &out,
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Edit {
    old_text: String,
    new_text: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct EditArgs {
    path: String,
    edits: Vec<Edit>,
    #[serde(default)]
    dry_run: bool,
    expected_sha256: Option<String>,
}

/// Where an edit's old text matches. Exact matches are preferred; if there is none, a match
/// that ignores each line's leading and trailing whitespace is accepted, but only if unique.
enum Found {
    Exact(usize),
    Lines { start: usize, end: usize },
}

fn find(content: &str, old: &str, n: usize) -> Result<Found, ToolError> {
    if old.is_empty() {
        return Err(ToolError::Invalid(format!(
            "edit {n}: oldText must not be empty"
        )));
    }
    let exact: Vec<usize> = content.match_indices(old).map(|(i, _)| i).collect();
    match exact.len() {
        1 => return Ok(Found::Exact(exact[0])),
        0 => {}
        k => {
            return Err(ToolError::Failed(format!(
                "edit {n}: oldText matches {k} places; include more surrounding lines so it matches exactly one"
            )));
        }
    }
    // Whitespace-tolerant: compare trimmed lines.
    let old_lines: Vec<&str> = old
        .trim_end_matches('\n')
        .split('\n')
        .map(str::trim)
        .collect();
    let lines: Vec<&str> = content.split_inclusive('\n').collect();
    let mut hits = Vec::new();
    if old_lines.len() <= lines.len() {
        for s in 0..=lines.len() - old_lines.len() {
            if (0..old_lines.len()).all(|i| lines[s + i].trim() == old_lines[i]) {
                hits.push(s);
            }
        }
    }
    match hits.len() {
        1 => {
            let start: usize = lines[..hits[0]].iter().map(|l| l.len()).sum();
            let end: usize = start
                + lines[hits[0]..hits[0] + old_lines.len()]
                    .iter()
                    .map(|l| l.len())
                    .sum::<usize>();
            Ok(Found::Lines { start, end })
        }
        0 => Err(ToolError::Failed(format!(
            "edit {n}: oldText was not found (not even ignoring indentation); read the file again and copy the exact lines"
        ))),
        k => Err(ToolError::Failed(format!(
            "edit {n}: oldText matches {k} places when indentation is ignored; include more surrounding lines so it matches exactly one"
        ))),
    }
}

/// Re-indents `new` by the indentation of the first matched line, for whitespace-tolerant
/// matches where the model's snippet lost its indentation.
fn reindent(matched: &str, old: &str, new: &str) -> String {
    let indent_of = |s: &str| -> String {
        s.lines()
            .next()
            .map(|l| l[..l.len() - l.trim_start().len()].to_string())
            .unwrap_or_default()
    };
    let have = indent_of(matched);
    let gave = indent_of(old);
    let mut out: String = new
        .split('\n')
        .map(|l| {
            let rest = l.strip_prefix(gave.as_str()).unwrap_or(l);
            if l.trim().is_empty() {
                String::new()
            } else {
                format!("{have}{rest}")
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    if matched.ends_with('\n') && !out.ends_with('\n') {
        out.push('\n');
    }
    out
}

pub fn edit_file(a: EditArgs) -> Result<CallResult, ToolError> {
    if a.edits.is_empty() {
        return Err(ToolError::Invalid(
            "edits must hold at least one edit".into(),
        ));
    }
    let r = resolve_writable(&a.path)?;
    let raw = crate::util::read_regular(&r.path).map_err(|e| io_error(&r.path, e))?;
    let before_hash = sha256_hex(&raw);
    if let Some(expected) = &a.expected_sha256
        && !expected.eq_ignore_ascii_case(&before_hash)
    {
        return Err(ToolError::Failed(format!(
            "{} changed since it was read: its sha256 is {before_hash}, not {expected}; read it again before editing",
            r.path.display()
        )));
    }
    let original = String::from_utf8(raw).map_err(|_| {
        ToolError::Failed(format!(
            "{} is not UTF-8 text; edit_file edits text only",
            r.path.display()
        ))
    })?;
    // Work in LF; write back with the file's own line ending.
    let crlf = original.contains("\r\n") && !original.replace("\r\n", "").contains('\n');
    let mut content = if crlf {
        original.replace("\r\n", "\n")
    } else {
        original.clone()
    };
    let before = content.clone();
    for (i, e) in a.edits.iter().enumerate() {
        let old = e.old_text.replace("\r\n", "\n");
        let new = e.new_text.replace("\r\n", "\n");
        match find(&content, &old, i + 1)? {
            Found::Exact(at) => content.replace_range(at..at + old.len(), &new),
            Found::Lines { start, end } => {
                let replacement = reindent(&content[start..end], &old, &new);
                content.replace_range(start..end, &replacement);
            }
        }
    }
    let path = r.path.display().to_string();
    let diff = TextDiff::from_lines(&before, &content)
        .unified_diff()
        .context_radius(3)
        .header(&path, &path)
        .to_string();
    let output = if crlf {
        content.replace('\n', "\r\n")
    } else {
        content
    };
    let after_hash = sha256_hex(output.as_bytes());
    if !a.dry_run {
        write_atomic(&r.path, output.as_bytes()).map_err(|e| io_error(&r.path, e))?;
        crate::resources::changed(&r.path);
    }
    let mut fence = "```".to_string();
    while diff.contains(&fence) {
        fence.push('`');
    }
    let text = format!(
        "{}{fence}diff\n{diff}{fence}",
        if a.dry_run {
            "Dry run, nothing written:\n"
        } else {
            ""
        }
    );
    let out = json!({
        "path": path, "diff": diff, "applied": a.edits.len(), "dryRun": a.dry_run,
        "lineEnding": if crlf { "crlf" } else { "lf" },
        "sha256": if a.dry_run { before_hash } else { after_hash },
    });
    Ok(CallResult::structured(text, &out))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PathArgs {
    path: String,
}

pub fn create_directory(a: PathArgs) -> Result<CallResult, ToolError> {
    let r = resolve_writable(&a.path)?;
    let existed = r.path.is_dir();
    std::fs::create_dir_all(&r.path).map_err(|e| io_error(&r.path, e))?;
    let path = r.path.display().to_string();
    let text = if existed {
        format!("Directory already exists: {path}")
    } else {
        format!("Successfully created directory {path}")
    };
    Ok(CallResult::structured(
        text,
        &json!({"path": path, "created": !existed}),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MoveArgs {
    source: String,
    destination: String,
}

pub fn move_file(a: MoveArgs) -> Result<CallResult, ToolError> {
    let from = resolve_writable(&a.source)?;
    let to = resolve_writable(&a.destination)?;
    std::fs::symlink_metadata(&from.path).map_err(|e| io_error(&from.path, e))?;
    if std::fs::symlink_metadata(&to.path).is_ok() {
        return Err(ToolError::Failed(format!(
            "destination {} already exists; move_file never overwrites",
            to.path.display()
        )));
    }
    std::fs::rename(&from.path, &to.path).map_err(|e| io_error(&from.path, e))?;
    crate::resources::changed(&from.path);
    crate::resources::changed(&to.path);
    let (s, d) = (
        from.path.display().to_string(),
        to.path.display().to_string(),
    );
    Ok(CallResult::structured(
        format!("Successfully moved {s} to {d}"),
        &json!({"source": s, "destination": d}),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ambiguous_exact_match_is_refused_with_count() {
        let err = find("a\nb\na\n", "a", 1)
            .err()
            .map(|e| e.message().to_string())
            .unwrap_or_default();
        assert!(err.contains("matches 2 places"), "{err}");
    }

    #[test]
    fn whitespace_tolerant_match_reindents() {
        let content = "fn f() {\n    let x = 1;\n}\n";
        match find(content, "let x = 1;\n", 1) {
            Ok(Found::Exact(_)) => {}
            _ => panic!("expected exact match inside the line"),
        }
        match find(content, "  let x = 1;  \n", 1) {
            Ok(Found::Lines { start, end }) => {
                let r = reindent(&content[start..end], "  let x = 1;  \n", "  let x = 2;\n");
                assert_eq!(r, "    let x = 2;\n");
            }
            _ => panic!("expected a line match"),
        }
    }
}
