//! The host's modules form no cycles: neither between rooms (the top-level modules: `plugin`,
//! `grants`, `mcp`...) nor between the files of one room.
//!
//! Read from the sources: every `use` tree and every inline `crate::…` / `super::…` path is an
//! edge from the file it is written in to the module it names. A name re-exported by a room's
//! `mod.rs` counts as the file that defines it, so going through a re-export hides nothing. The
//! crate root (`lib.rs`, which re-exports the embedding API) and the binary are left out.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A module as a path of names from the crate root, e.g. `["plugin", "pool"]`.
type Module = Vec<String>;

struct Source {
    module: Module,
    /// Code with comments removed.
    code: String,
}

fn sources(dir: &Path, prefix: &[String], out: &mut Vec<Source>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("read src")
        .map(|e| e.expect("entry").path())
        .collect();
    entries.sort();
    for path in entries {
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .expect("utf-8 name")
            .to_string();
        if path.is_dir() {
            if name == "bin" && prefix.is_empty() {
                continue;
            }
            let mut p = prefix.to_vec();
            p.push(name);
            sources(&path, &p, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            if prefix.is_empty() && name == "lib" {
                continue;
            }
            let mut module = prefix.to_vec();
            if name != "mod" {
                module.push(name);
            }
            let text = std::fs::read_to_string(&path).expect("read file");
            let code = text
                .lines()
                .map(|l| match l.find("//") {
                    Some(i) => &l[..i],
                    None => l,
                })
                .collect::<Vec<_>>()
                .join("\n");
            out.push(Source { module, code });
        }
    }
}

/// Expands a `use` tree (`a::{b, c::{d, e}}`) into its paths.
fn expand(tree: &str) -> Vec<String> {
    let tree = tree.trim();
    let Some(open) = tree.find('{') else {
        return vec![tree.split(" as ").next().unwrap_or(tree).trim().to_string()];
    };
    let head = tree[..open].trim_end_matches("::").trim();
    let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&inner[start..]);
    parts
        .into_iter()
        .filter(|p| !p.trim().is_empty())
        .flat_map(expand)
        .map(|p| {
            if p == "self" {
                head.to_string()
            } else {
                format!("{head}::{p}")
            }
        })
        .collect()
}

/// Every path a file names: its `use` trees and inline `crate::`/`super::` paths.
fn paths(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(i) = rest.find("use ") {
        let before = rest[..i].chars().last();
        let after = &rest[i + 4..];
        let Some(end) = after.find(';') else { break };
        if before.is_none_or(|c| !(c.is_alphanumeric() || c == '_')) {
            let tree = after[..end].trim();
            if tree.starts_with("crate::") || tree.starts_with("super::") {
                out.extend(expand(tree));
            }
        }
        rest = &after[end..];
    }
    for anchor in ["crate::", "super::"] {
        let mut from = 0;
        while let Some(i) = code[from..].find(anchor) {
            let start = from + i;
            let preceded = code[..start]
                .chars()
                .last()
                .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':');
            let end = code[start..]
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .map_or(code.len(), |e| start + e);
            if !preceded {
                out.push(code[start..end].trim_end_matches(':').to_string());
            }
            from = end.max(start + anchor.len());
        }
    }
    out
}

/// The module a path leads to, from the file `here` (re-exports followed to their source).
fn resolve(
    path: &str,
    here: &Module,
    is_dir: bool,
    modules: &BTreeSet<Module>,
    reexports: &BTreeMap<(Module, String), Module>,
) -> Option<Module> {
    let mut segments: Vec<&str> = path.split("::").filter(|s| !s.is_empty()).collect();
    let mut base: Module = match segments.first() {
        Some(&"crate") => Vec::new(),
        Some(&"super") => {
            // `super` of a mod.rs is its parent's parent; of a file, its room.
            let mut b = here.clone();
            b.pop();
            if is_dir {
                b.pop();
            }
            b
        }
        _ => return None,
    };
    segments.remove(0);
    while segments.first() == Some(&"super") {
        base.pop();
        segments.remove(0);
    }
    let mut found = None;
    for s in segments {
        let mut next = base.clone();
        next.push(s.to_string());
        if modules.contains(&next) {
            base = next;
            found = Some(base.clone());
        } else {
            if let Some(source) = reexports.get(&(base.clone(), s.to_string())) {
                return Some(source.clone());
            }
            break;
        }
    }
    found.or(Some(base)).filter(|m| !m.is_empty())
}

fn cycles(edges: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    // Depth-first search; each back edge closes a cycle.
    fn visit(
        node: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
        found: &mut Vec<Vec<String>>,
    ) {
        if let Some(i) = stack.iter().position(|n| n == node) {
            let mut cycle = stack[i..].to_vec();
            cycle.push(node.to_string());
            found.push(cycle);
            return;
        }
        if done.contains(node) {
            return;
        }
        stack.push(node.to_string());
        for next in edges.get(node).into_iter().flatten() {
            visit(next, edges, stack, done, found);
        }
        stack.pop();
        done.insert(node.to_string());
    }
    let mut found = Vec::new();
    let mut done = BTreeSet::new();
    for node in edges.keys() {
        visit(node, edges, &mut Vec::new(), &mut done, &mut found);
    }
    found
}

#[test]
fn no_cycles_between_rooms_or_between_the_files_of_a_room() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &[], &mut files);
    let modules: BTreeSet<Module> = files.iter().map(|f| f.module.clone()).collect();
    let dirs: BTreeSet<Module> = modules
        .iter()
        .filter(|m| {
            modules
                .iter()
                .any(|o| o.len() > m.len() && o.starts_with(m))
        })
        .cloned()
        .collect();

    // `pub use child::Name` in a room's mod.rs: Name comes from child.
    let mut reexports = BTreeMap::new();
    for f in files.iter().filter(|f| dirs.contains(&f.module)) {
        for line in f.code.split(';') {
            let line = line.trim();
            let Some(tree) = line
                .strip_prefix("pub use ")
                .or_else(|| line.strip_prefix("pub(crate) use "))
            else {
                continue;
            };
            for path in expand(tree) {
                let segs: Vec<&str> = path.split("::").collect();
                if let (Some(first), Some(last)) = (segs.first(), segs.last()) {
                    let mut child = f.module.clone();
                    child.push((*first).to_string());
                    if modules.contains(&child) {
                        reexports.insert((f.module.clone(), (*last).to_string()), child);
                    }
                }
            }
        }
    }

    let mut rooms: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut files_in_room: BTreeMap<String, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    let mut seen = 0;
    for f in &files {
        let is_dir = dirs.contains(&f.module);
        for path in paths(&f.code) {
            let Some(target) = resolve(&path, &f.module, is_dir, &modules, &reexports) else {
                continue;
            };
            seen += 1;
            let (from_room, to_room) = (&f.module[0], &target[0]);
            if from_room != to_room {
                rooms
                    .entry(from_room.clone())
                    .or_default()
                    .insert(to_room.clone());
            } else if f.module.len() == 2 && target.len() >= 2 && f.module[1] != target[1] {
                files_in_room
                    .entry(from_room.clone())
                    .or_default()
                    .entry(f.module[1].clone())
                    .or_default()
                    .insert(target[1].clone());
            }
        }
    }
    assert!(seen > 100, "the scan found only {seen} module references");
    assert!(
        rooms.get("mcp").is_some_and(|r| r.contains("plugin")),
        "the scan should see mcp using plugin: {rooms:?}"
    );

    let mut problems = Vec::new();
    for cycle in cycles(&rooms) {
        problems.push(format!("rooms: {}", cycle.join(" -> ")));
    }
    for (room, edges) in &files_in_room {
        for cycle in cycles(edges) {
            problems.push(format!("in {room}/: {}", cycle.join(" -> ")));
        }
    }
    assert!(
        problems.is_empty(),
        "module cycles:\n{}",
        problems.join("\n")
    );
}

#[test]
fn use_trees_expand_to_every_path() {
    assert_eq!(
        expand("super::{a::X, b::{Y, self}, c as d}"),
        ["super::a::X", "super::b::Y", "super::b", "super::c"]
    );
    assert_eq!(
        paths("let x = crate::grants::instance_sandbox(&g);\nuse super::pool::Pool;"),
        [
            "super::pool::Pool",
            "crate::grants::instance_sandbox",
            "super::pool::Pool"
        ]
    );
}
