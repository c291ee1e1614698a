//! Listing and searching: directory listings, a bounded tree, name search and content search.
//! Every walk has a depth and entry bound, skips what `excludePatterns` name, can honour
//! `.gitignore` files, and never follows a symlinked directory.

use std::path::{Path, PathBuf};

use globset::{Glob, GlobSet, GlobSetBuilder};
use ignore::Match;
use ignore::gitignore::{Gitignore, GitignoreBuilder};
use pier_sdk::{CallResult, Value, json};
use serde::{Deserialize, Serialize};

use crate::ToolError;
use crate::roots::{io_error, resolve};
use crate::util::looks_binary;

/// One entry of a directory read.
struct Listed {
    name: String,
    kind: &'static str,
    size: u64,
}

/// One directory entry as the walks see it: a [`Listed`] with its paths.
struct Entry {
    path: PathBuf,
    rel: PathBuf,
    name: String,
    kind: &'static str,
    size: u64,
}

impl Entry {
    fn new(dir: &Path, rel: &Path, l: Listed) -> Entry {
        Entry {
            path: dir.join(&l.name),
            rel: rel.join(&l.name),
            name: l.name,
            kind: l.kind,
            size: l.size,
        }
    }
}

pub(crate) fn kind_of(ft: &std::fs::FileType) -> &'static str {
    if ft.is_symlink() {
        "symlink"
    } else if ft.is_dir() {
        "directory"
    } else if ft.is_file() {
        "file"
    } else {
        "other"
    }
}

/// Reads one directory, sorted by name. `size` is 0 unless `with_size` (a `stat` per file).
///
/// pier lists it in one host call (`host.read-directory`: entry types straight from the
/// directory, sorting and sizes native); where it cannot, the raw WASI API does it, an entry and
/// a host call at a time, which is still cheaper than std's `read_dir` (wasi-libc stats every
/// entry).
fn read_dir(dir: &Path, with_size: bool) -> Result<Vec<Listed>, ToolError> {
    use pier_sdk::host::{DirectoryError as E, EntryKind as K};
    let path = dir.to_string_lossy();
    let listed = match pier_sdk::host::read_directory(&path, with_size) {
        Ok(listed) => listed,
        Err(E::Unsupported) => return read_dir_wasi(dir, with_size),
        Err(e) => {
            use std::io::ErrorKind as IoKind;
            let (kind, words) = match e {
                E::NotGranted | E::AccessDenied => (IoKind::PermissionDenied, String::new()),
                E::NotFound => (IoKind::NotFound, String::new()),
                E::NotDirectory => (IoKind::NotADirectory, String::new()),
                E::Unsupported => (IoKind::Unsupported, String::new()),
                E::Other(words) => (IoKind::Other, words),
            };
            return Err(io_error(dir, std::io::Error::new(kind, words)));
        }
    };
    Ok(listed
        .into_iter()
        .map(|e| Listed {
            kind: match e.kind {
                K::Directory => "directory",
                K::File => "file",
                K::Symlink => "symlink",
                K::Other => "other",
            },
            size: e.size.unwrap_or(0),
            name: e.name,
        })
        .collect())
}

/// [`read_dir`] through the raw WASI API, for a pier that cannot list directories itself.
fn read_dir_wasi(dir: &Path, with_size: bool) -> Result<Vec<Listed>, ToolError> {
    use wasi::filesystem::types::{DescriptorType as T, PathFlags};
    let fail = |e: wasi::filesystem::types::ErrorCode| io_error(dir, crate::roots::wasi_error(e));
    let handle = crate::roots::open_dir(dir).map_err(|e| io_error(dir, e))?;
    let stream = handle.read_directory().map_err(fail)?;
    let mut out = Vec::new();
    while let Some(e) = stream.read_directory_entry().map_err(fail)? {
        let kind = match e.type_ {
            T::Directory => "directory",
            T::RegularFile => "file",
            T::SymbolicLink => "symlink",
            _ => "other",
        };
        let size = if with_size && kind == "file" {
            handle
                .stat_at(PathFlags::empty(), &e.name)
                .map(|s| s.size)
                .unwrap_or(0)
        } else {
            0
        };
        out.push(Listed {
            name: e.name,
            kind,
            size,
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// Globs in the reference server's style: a pattern without `/` matches at any depth.
fn exclude_set(patterns: &[String]) -> Result<GlobSet, ToolError> {
    let mut b = GlobSetBuilder::new();
    for p in patterns {
        let mut forms = vec![p.clone()];
        if !p.contains('/') {
            forms.push(format!("**/{p}"));
        }
        forms.push(format!("{}/**", p.trim_end_matches('/')));
        if !p.contains('/') {
            forms.push(format!("**/{p}/**"));
        }
        for f in forms {
            let g = Glob::new(&f)
                .map_err(|e| ToolError::Invalid(format!("bad exclude pattern {p:?}: {e}")))?;
            b.add(g);
        }
    }
    b.build()
        .map_err(|e| ToolError::Invalid(format!("bad exclude patterns: {e}")))
}

/// One open folder of a walk: what is left of its entries, its depth, whether it pushed a
/// `.gitignore`.
struct WalkFrame {
    entries: std::vec::IntoIter<Entry>,
    depth: usize,
    pushed: bool,
}

/// Walk bounds and filters.
struct Walk {
    exclude: GlobSet,
    gitignore: bool,
    max_depth: usize,
    max_entries: usize,
    seen: usize,
    truncated: bool,
}

impl Walk {
    fn new(
        exclude: &[String],
        gitignore: bool,
        max_depth: usize,
        max_entries: usize,
    ) -> Result<Self, ToolError> {
        Ok(Walk {
            exclude: exclude_set(exclude)?,
            gitignore,
            max_depth,
            max_entries,
            seen: 0,
            truncated: false,
        })
    }

    fn load_gitignore(&self, dir: &Path) -> Option<Gitignore> {
        if !self.gitignore {
            return None;
        }
        let file = dir.join(".gitignore");
        if !file.is_file() {
            return None;
        }
        let mut b = GitignoreBuilder::new(dir);
        b.add(&file);
        b.build().ok()
    }

    fn skipped(&self, e: &Entry, ignores: &[Gitignore]) -> bool {
        if self.exclude.is_match(&e.rel) {
            return true;
        }
        if self.gitignore {
            if e.name == ".git" && e.kind == "directory" {
                return true;
            }
            for gi in ignores.iter().rev() {
                match gi.matched(&e.path, e.kind == "directory") {
                    Match::Ignore(_) => return true,
                    Match::Whitelist(_) => return false,
                    Match::None => {}
                }
            }
        }
        false
    }

    /// Visits entries depth-first; `visit` gets each entry and its depth (1 = direct child) and
    /// says whether to descend into it. Iterative, with one frame per open folder, so a tree
    /// thousands of levels deep cannot exhaust the plugin's call stack.
    fn run(
        &mut self,
        dir: &Path,
        rel: &Path,
        depth: usize,
        ignores: &mut Vec<Gitignore>,
        visit: &mut dyn FnMut(&Entry, usize) -> bool,
    ) -> Result<(), ToolError> {
        let mut stack = vec![self.open(dir, rel, depth, ignores)?];
        while let Some(frame) = stack.last_mut() {
            let depth = frame.depth;
            let Some(e) = frame.entries.next() else {
                if frame.pushed {
                    ignores.pop();
                }
                stack.pop();
                continue;
            };
            if self.skipped(&e, ignores) {
                continue;
            }
            if self.seen >= self.max_entries {
                self.truncated = true;
                break;
            }
            self.seen += 1;
            let descend = visit(&e, depth);
            if descend && e.kind == "directory" {
                if depth < self.max_depth {
                    let child = self.open(&e.path, &e.rel, depth + 1, ignores)?;
                    stack.push(child);
                } else {
                    self.truncated = true;
                }
            }
        }
        for frame in stack {
            if frame.pushed {
                ignores.pop();
            }
        }
        Ok(())
    }

    /// Opens one folder for [`Walk::run`]: its `.gitignore` (pushed on `ignores`) and entries.
    /// A subfolder that cannot be read is walked as empty; the top level reports its error.
    fn open(
        &self,
        dir: &Path,
        rel: &Path,
        depth: usize,
        ignores: &mut Vec<Gitignore>,
    ) -> Result<WalkFrame, ToolError> {
        let entries = match read_dir(dir, false) {
            Ok(listed) => listed
                .into_iter()
                .map(|l| Entry::new(dir, rel, l))
                .collect::<Vec<_>>(),
            Err(_) if depth > 1 => Vec::new(),
            Err(e) => return Err(e),
        };
        let pushed = match self.load_gitignore(dir) {
            Some(gi) => {
                ignores.push(gi);
                true
            }
            None => false,
        };
        Ok(WalkFrame {
            entries: entries.into_iter(),
            depth,
            pushed,
        })
    }
}

/// Deepest `directory_tree` answer: each level nests two JSON values (a node and its children),
/// and clients (pier included) refuse JSON nested past 128.
const MAX_TREE_DEPTH: usize = 50;
/// Deepest folder `search_files` descends into.
const MAX_SEARCH_DEPTH: usize = 1_000;

fn default_true() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ListArgs {
    path: String,
    sort_by: Option<String>,
}

pub fn list_directory(a: ListArgs, with_sizes: bool) -> Result<CallResult, ToolError> {
    if !with_sizes && a.sort_by.is_some() {
        return Err(ToolError::Invalid(
            "sortBy belongs to list_directory_with_sizes".into(),
        ));
    }
    let r = resolve(&a.path)?;
    let mut entries = read_dir(&r.path, with_sizes)?;
    match a.sort_by.as_deref() {
        None | Some("name") => {}
        Some("size") => entries.sort_by_key(|e| std::cmp::Reverse(e.size)),
        Some(other) => {
            return Err(ToolError::Invalid(format!(
                "sortBy {other:?} is not supported; use \"name\" or \"size\""
            )));
        }
    }
    let cap = crate::config_usize("max_list_entries", 10_000);
    let truncated = entries.len() > cap;
    entries.truncate(cap);
    let tag = |k: &str| if k == "directory" { "[DIR]" } else { "[FILE]" };
    // One string written in place: a `format!` per line was a tenth of a 1,000-entry listing.
    let mut text = String::with_capacity(entries.len() * 32);
    for e in &entries {
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str(tag(e.kind));
        text.push(' ');
        if with_sizes && e.kind != "directory" {
            use std::fmt::Write as _;
            let _ = write!(text, "{:<40} {:>10}", e.name, human(e.size));
        } else {
            text.push_str(&e.name);
        }
    }
    let mut lines: Vec<String> = Vec::new();
    let files = entries.iter().filter(|e| e.kind != "directory").count();
    let dirs = entries.len() - files;
    let total: u64 = entries.iter().map(|e| e.size).sum();
    if with_sizes {
        lines.push(String::new());
        lines.push(format!("Total: {files} files, {dirs} directories"));
        lines.push(format!("Combined size: {}", human(total)));
    }
    if truncated {
        lines.push(format!("[truncated at {cap} entries]"));
    }
    // Lean for clients: names in flat arrays, one per kind, not an object per entry. An SDK
    // client parses and validates every node of structuredContent against the outputSchema on
    // every call (1,000 two-key objects cost the Python SDK ~19 ms; the same names as strings
    // a fraction of that). Sizes, when asked for, are a parallel array of `files`.
    let of_kind = |kind: &str| -> Vec<&str> {
        entries
            .iter()
            .filter(|e| e.kind == kind)
            .map(|e| e.name.as_str())
            .collect()
    };
    let sizes: Option<Vec<u64>> = with_sizes.then(|| {
        entries
            .iter()
            .filter(|e| e.kind == "file")
            .map(|e| e.size)
            .collect()
    });
    // Written straight from borrowed names (no `Value` tree of 1,000 strings to build and drop).
    let out = Listing {
        path: r.path.display().to_string(),
        directories: of_kind("directory"),
        files: of_kind("file"),
        symlinks: of_kind("symlink"),
        other: of_kind("other"),
        truncated,
        totals: sizes.map(|sizes| Totals {
            sizes,
            total_files: files,
            total_directories: dirs,
            total_size: total,
        }),
    };
    let structured = serde_json::to_string(&out).map_err(|e| ToolError::Failed(e.to_string()))?;
    for line in lines {
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str(&line);
    }
    if text.is_empty() {
        text.push_str("(empty directory)");
    }
    Ok(CallResult {
        content: vec![pier_sdk::Content::Text(text)],
        structured: Some(structured),
        is_error: false,
    })
}

/// `structuredContent` of the listings (see their output schemas in `tools.rs`).
#[derive(Serialize)]
struct Listing<'a> {
    path: String,
    directories: Vec<&'a str>,
    files: Vec<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    symlinks: Vec<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    other: Vec<&'a str>,
    truncated: bool,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    totals: Option<Totals>,
}

/// What `list_directory_with_sizes` adds: sizes parallel to `files`, and totals.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Totals {
    sizes: Vec<u64>,
    total_files: usize,
    total_directories: usize,
    total_size: u64,
}

fn human(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.2} {}", UNITS[u])
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TreeArgs {
    path: String,
    #[serde(default)]
    exclude_patterns: Vec<String>,
    max_depth: Option<usize>,
    max_entries: Option<usize>,
    #[serde(default = "default_true")]
    respect_gitignore: bool,
}

pub fn directory_tree(a: TreeArgs) -> Result<CallResult, ToolError> {
    let r = resolve(&a.path)?;
    let mut walk = Walk::new(
        &a.exclude_patterns,
        a.respect_gitignore,
        a.max_depth.unwrap_or(10).clamp(1, MAX_TREE_DEPTH),
        a.max_entries.unwrap_or(2_000).max(1),
    )?;
    // Build the nested tree from the depth-first visit order using a stack of open folders.
    let mut stack: Vec<(usize, Vec<Value>)> = vec![(0, Vec::new())];
    let mut visit = |e: &Entry, depth: usize| -> bool {
        while stack.len() > depth {
            close(&mut stack);
        }
        let mut node = json!({"name": e.name, "type": e.kind});
        if e.kind == "directory" {
            node["children"] = json!([]);
        }
        if let Some(top) = stack.last_mut() {
            top.1.push(node);
        }
        if e.kind == "directory" {
            stack.push((depth, Vec::new()));
        }
        true
    };
    walk.run(&r.path, Path::new(""), 1, &mut Vec::new(), &mut visit)?;
    while stack.len() > 1 {
        close(&mut stack);
    }
    let tree = stack.pop().map(|s| s.1).unwrap_or_default();
    let out = json!({"path": r.path.display().to_string(), "tree": tree, "entries": walk.seen, "truncated": walk.truncated});
    let mut text = serde_json::to_string_pretty(&out["tree"]).unwrap_or_default();
    if walk.truncated {
        text.push_str("\n[truncated: raise maxDepth or maxEntries, or narrow the path]");
    }
    Ok(CallResult::structured(text, &out))
}

/// Pops the innermost open folder and stores its children in its node.
fn close(stack: &mut Vec<(usize, Vec<Value>)>) {
    if let Some((_, children)) = stack.pop()
        && let Some(parent) = stack.last_mut()
        && let Some(node) = parent.1.last_mut()
    {
        node["children"] = Value::Array(children);
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SearchArgs {
    path: String,
    pattern: String,
    #[serde(default)]
    exclude_patterns: Vec<String>,
    max_results: Option<usize>,
    max_depth: Option<usize>,
    #[serde(default = "default_true")]
    respect_gitignore: bool,
}

pub fn search_files(a: SearchArgs) -> Result<CallResult, ToolError> {
    let r = resolve(&a.path)?;
    let glob = Glob::new(&a.pattern)
        .map_err(|e| ToolError::Invalid(format!("bad pattern {:?}: {e}", a.pattern)))?
        .compile_matcher();
    let by_path = a.pattern.contains('/');
    let max = a.max_results.unwrap_or(1_000).max(1);
    let mut walk = Walk::new(
        &a.exclude_patterns,
        a.respect_gitignore,
        a.max_depth.unwrap_or(64).min(MAX_SEARCH_DEPTH),
        100_000,
    )?;
    let mut found = Vec::new();
    let mut full = false;
    walk.run(&r.path, Path::new(""), 1, &mut Vec::new(), &mut |e, _| {
        if found.len() >= max {
            full = true;
            return false;
        }
        let hit = if by_path {
            glob.is_match(&e.rel)
        } else {
            glob.is_match(&e.name)
        };
        if hit {
            found.push(e.path.display().to_string());
        }
        true
    })?;
    let truncated = full || walk.truncated;
    let mut text = if found.is_empty() {
        "No matches found".to_string()
    } else {
        found.join("\n")
    };
    if truncated {
        text.push_str("\n[truncated: raise maxResults or narrow the path]");
    }
    Ok(CallResult::structured(
        text,
        &json!({"matches": found, "truncated": truncated}),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct GrepArgs {
    path: String,
    pattern: String,
    include: Option<String>,
    #[serde(default)]
    case_insensitive: bool,
    #[serde(default)]
    fixed_strings: bool,
    context_lines: Option<usize>,
    max_matches: Option<usize>,
    #[serde(default)]
    exclude_patterns: Vec<String>,
    #[serde(default = "default_true")]
    respect_gitignore: bool,
}

const GREP_MAX_FILE: u64 = 8 * 1024 * 1024;

pub fn grep(a: GrepArgs) -> Result<CallResult, ToolError> {
    let r = resolve(&a.path)?;
    let source = if a.fixed_strings {
        regex::escape(&a.pattern)
    } else {
        a.pattern.clone()
    };
    let re = regex::RegexBuilder::new(&source)
        .case_insensitive(a.case_insensitive)
        .size_limit(1 << 20)
        .build()
        .map_err(|e| ToolError::Invalid(format!("bad regular expression: {e}")))?;
    let include = match &a.include {
        Some(p) => Some(
            Glob::new(p)
                .map_err(|e| ToolError::Invalid(format!("bad include glob {p:?}: {e}")))?
                .compile_matcher(),
        ),
        None => None,
    };
    let ctx = a.context_lines.unwrap_or(0).min(10);
    let max = a.max_matches.unwrap_or(200).max(1);
    let mut matches: Vec<Value> = Vec::new();
    let mut text = Vec::new();
    let mut files_searched = 0usize;
    let mut full = false;

    // Returns true once the match budget is spent.
    let mut search_file = |path: &Path, matches: &mut Vec<Value>, text: &mut Vec<String>| -> bool {
        let Ok(data) = crate::util::read_regular(path) else {
            return false;
        };
        if looks_binary(&data) {
            return false;
        }
        files_searched += 1;
        let content = String::from_utf8_lossy(&data);
        let lines: Vec<&str> = content.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            if matches.len() >= max {
                return true;
            }
            if re.is_match(line) {
                let before: Vec<&str> = lines[i.saturating_sub(ctx)..i].to_vec();
                let after: Vec<&str> =
                    lines[(i + 1).min(lines.len())..(i + 1 + ctx).min(lines.len())].to_vec();
                let p = path.display().to_string();
                text.push(format!("{p}:{}: {line}", i + 1));
                let mut m = json!({"path": p, "line": i + 1, "text": line});
                if ctx > 0 {
                    m["before"] = json!(before);
                    m["after"] = json!(after);
                }
                matches.push(m);
            }
        }
        false
    };

    let meta = std::fs::metadata(&r.path).map_err(|e| io_error(&r.path, e))?;
    let mut walk = Walk::new(&a.exclude_patterns, a.respect_gitignore, 64, 200_000)?;
    if meta.is_file() {
        full = search_file(&r.path, &mut matches, &mut text);
    } else {
        walk.run(&r.path, Path::new(""), 1, &mut Vec::new(), &mut |e, _| {
            if full {
                return false;
            }
            if e.kind == "file"
                && e.size <= GREP_MAX_FILE
                && include
                    .as_ref()
                    .is_none_or(|g| g.is_match(&e.name) || g.is_match(&e.rel))
            {
                full = search_file(&e.path, &mut matches, &mut text);
            }
            !full
        })?;
    }
    let truncated = full || walk.truncated;
    let mut body = if text.is_empty() {
        "No matches found".to_string()
    } else {
        text.join("\n")
    };
    if truncated {
        body.push_str(&format!(
            "\n[stopped at {max} matches: raise maxMatches or narrow the search]"
        ));
    }
    Ok(CallResult::structured(
        body,
        &json!({"matches": matches, "filesSearched": files_searched, "truncated": truncated}),
    ))
}
