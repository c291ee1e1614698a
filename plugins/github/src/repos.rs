//! The `repos` toolset: contents, commits, branches, tags, releases, code and repository
//! search, and the writes (branches, files, commits, forks, new repositories).

use base64::Engine;
use pier_sdk::{CallResult, Content, Tool, ToolError, Tools, Value, json};
use serde::Deserialize;

use crate::contents::{self, Fetched};
use crate::settings::Settings;
use crate::shape::{self, LIST_BODY_CHARS, Page};
use crate::{Github, Paging, api, offer, paging, props, push_set, repo_schema};

#[derive(Deserialize)]
struct Repo {
    owner: String,
    repo: String,
    #[serde(flatten)]
    paging: Paging,
}

#[derive(Deserialize)]
struct GetFile {
    owner: String,
    repo: String,
    #[serde(default)]
    path: Option<String>,
    #[serde(default, rename = "ref")]
    reference: Option<String>,
    #[serde(default)]
    sha: Option<String>,
}

#[derive(Deserialize)]
struct ListCommits {
    owner: String,
    repo: String,
    #[serde(default)]
    sha: Option<String>,
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    author: Option<String>,
    #[serde(default)]
    since: Option<String>,
    #[serde(default)]
    until: Option<String>,
    #[serde(default)]
    fields: Option<Vec<String>>,
    #[serde(flatten)]
    paging: Paging,
}

#[derive(Deserialize)]
struct GetCommit {
    owner: String,
    repo: String,
    sha: String,
    #[serde(default)]
    detail: Option<String>,
    #[serde(flatten)]
    paging: Paging,
}

/// Arguments of the search tools.
#[derive(Deserialize)]
pub(crate) struct Search {
    pub(crate) query: String,
    #[serde(default)]
    sort: Option<String>,
    #[serde(default)]
    order: Option<String>,
    #[serde(default)]
    minimal_output: Option<bool>,
    #[serde(flatten)]
    paging: Paging,
}

#[derive(Deserialize)]
struct CreateBranch {
    owner: String,
    repo: String,
    branch: String,
    #[serde(default)]
    from_branch: Option<String>,
}

#[derive(Deserialize)]
struct PutFile {
    owner: String,
    repo: String,
    path: String,
    content: String,
    message: String,
    branch: String,
    #[serde(default)]
    sha: Option<String>,
}

#[derive(Deserialize)]
struct PushFile {
    path: String,
    content: String,
}

#[derive(Deserialize)]
struct PushFiles {
    owner: String,
    repo: String,
    branch: String,
    files: Vec<PushFile>,
    message: String,
}

#[derive(Deserialize)]
struct DeleteFile {
    owner: String,
    repo: String,
    path: String,
    message: String,
    branch: String,
}

#[derive(Deserialize)]
struct Fork {
    owner: String,
    repo: String,
    #[serde(default)]
    organization: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateRepo {
    name: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    organization: Option<String>,
    #[serde(default)]
    private: Option<bool>,
    #[serde(default, alias = "auto_init")]
    auto_init: Option<bool>,
}

/// A list tool that maps one endpoint to items: name, title, description, endpoint (also the
/// answer's key), the shape of an item.
type SimpleList = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    fn(&Value) -> Value,
);

fn file_schema() -> Value {
    // type: file | dir | symlink | submodule; files add sha, size, truncated; dirs entries.
    shape::object_schema(&["type", "path"])
}

pub fn declare(tools: &mut Tools<Github>, settings: &Settings) {
    offer(
        tools,
        settings,
        Tool::reads(
            "get_file_contents",
            "Get file or directory contents",
            "Reads a file (its text as text, not JSON; binary files as an embedded resource) or \
             lists a directory, at a branch, tag or commit. Long files are cut to max_bytes and \
             say so.",
        )
        .input_schema(repo_schema(
            json!({
                "path": {"type": "string", "default": "/", "description": "Path of the file or directory"},
                "ref": {"type": "string", "description": "Branch, tag or ref (refs/heads/x, refs/tags/x, refs/pull/N/head); default branch when omitted"},
                "sha": {"type": "string", "description": "Commit SHA; wins over ref"}
            }),
            &[],
        ))
        .output_schema(file_schema()),
        get_file_contents,
    );
    offer(
        tools,
        settings,
        Tool::reads(
            "list_commits",
            "List commits",
            "Commits of a branch, tag or SHA (default branch when omitted), newest first, \
             optionally only those touching a path or by an author, in a time window.",
        )
        .input_schema(repo_schema(
            props(&[
                json!({
                    "sha": {"type": "string", "description": "Branch, tag or commit SHA to start from"},
                    "path": {"type": "string", "description": "Only commits touching this path"},
                    "author": {"type": "string", "description": "Author login or email"},
                    "since": {"type": "string", "description": "ISO 8601 time: only after it"},
                    "until": {"type": "string", "description": "ISO 8601 time: only before it"},
                    "fields": {"type": "array", "items": {"type": "string"}, "description": "Keep only these fields per commit (sha, message, author, author_login, html_url, parents)"}
                }),
                paging(),
            ]),
            &[],
        ))
        .output_schema(shape::page_schema("commits")),
        list_commits,
    );
    offer(
        tools,
        settings,
        Tool::reads(
            "get_commit",
            "Get commit details",
            "One commit: message, author, parents, stats and changed files; detail=full_patch \
             adds each file's patch (cut to the byte budget), detail=none leaves files out.",
        )
        .input_schema(repo_schema(
            props(&[
                json!({
                    "sha": {"type": "string", "description": "Commit SHA, branch or tag"},
                    "detail": {"type": "string", "enum": ["none", "stats", "full_patch"], "default": "stats"}
                }),
                paging(),
            ]),
            &["sha"],
        ))
        .output_schema(shape::object_schema(&["commit"])),
        get_commit,
    );
    // (tool, title, description, the endpoint and answer key, item shape)
    let simple_list: [SimpleList; 3] = [
        (
            "list_branches",
            "List branches",
            "Branches with their head commit SHA and protection.",
            "branches",
            |b| json!({"name": b["name"], "sha": b["commit"]["sha"], "protected": b["protected"]}),
        ),
        (
            "list_tags",
            "List tags",
            "Tags with the commit SHA they point at.",
            "tags",
            |t| json!({"name": t["name"], "sha": t["commit"]["sha"]}),
        ),
        (
            "list_releases",
            "List releases",
            "Releases, newest first: tag, name, draft/prerelease, dates, assets and the start of \
             the notes.",
            "releases",
            |r| shape::release(r, LIST_BODY_CHARS),
        ),
    ];
    for (name, title, description, key, shape_item) in simple_list {
        offer(
            tools,
            settings,
            Tool::reads(name, title, description)
                .input_schema(repo_schema(paging(), &[]))
                .output_schema(shape::page_schema(key)),
            move |gh: &mut Github, _, a: Repo| {
                let base = gh.repo(&a.owner, &a.repo)?;
                let page = gh.list_page(&format!("{base}/{key}"), &a.paging, key, &shape_item)?;
                Ok(gh.out(&page, key == "releases"))
            },
        );
    }
    offer(
        tools,
        settings,
        Tool::reads(
            "get_latest_release",
            "Get latest release",
            "The latest published (not draft, not prerelease) release, with its notes.",
        )
        .input_schema(repo_schema(json!({}), &[]))
        .output_schema(shape::object_schema(&["tag_name"])),
        |gh: &mut Github, _, a: Repo| {
            let base = gh.repo(&a.owner, &a.repo)?;
            let r = gh.api.get(&format!("{base}/releases/latest"), &[])?.json;
            Ok(gh.out(&shape::release(&r, gh.max_bytes()), true))
        },
    );
    let search_props = |what: &str, sorts: &[&str]| {
        props(&[
            json!({
                "query": {"type": "string", "description": what},
                "sort": {"type": "string", "enum": sorts},
                "order": {"type": "string", "enum": ["asc", "desc"]}
            }),
            paging(),
        ])
    };
    offer(
        tools,
        settings,
        Tool::reads(
            "search_code",
            "Search code",
            "Searches file contents with GitHub's code search syntax (e.g. 'content:TODO \
             language:rust repo:owner/name'). Within the configured repository scope only.",
        )
        .input_schema(json!({"type": "object", "properties": search_props("Code search query", &["indexed"]), "required": ["query"]}))
        .output_schema(shape::page_schema("items")),
        |gh: &mut Github, _, a: Search| {
            let answer = search(gh, "/search/code", &a, "")?;
            let (items, filtered) = scoped(gh, &answer.json, |i| i["repository"]["full_name"].as_str());
            let items = items
                .iter()
                .map(|i| json!({"repository": i["repository"]["full_name"], "path": i["path"], "sha": i["sha"], "html_url": i["html_url"]}))
                .collect();
            Ok(gh.out(&search_page(gh, "items", items, &a, &answer, filtered), false))
        },
    );
    offer(
        tools,
        settings,
        Tool::reads(
            "search_repositories",
            "Search repositories",
            "Finds repositories with GitHub's repository search syntax (e.g. 'topic:mcp \
             language:rust stars:>100'). minimal_output (default true) keeps the main fields.",
        )
        .input_schema(json!({"type": "object", "properties": props(&[
            search_props("Repository search query", &["stars", "forks", "help-wanted-issues", "updated"]),
            json!({"minimal_output": {"type": "boolean", "default": true}})
        ]), "required": ["query"]}))
        .output_schema(shape::page_schema("repositories")),
        |gh: &mut Github, _, a: Search| {
            let answer = search(gh, "/search/repositories", &a, "")?;
            let (items, filtered) = scoped(gh, &answer.json, |i| i["full_name"].as_str());
            let minimal = a.minimal_output.unwrap_or(true);
            let items = items
                .iter()
                .map(|r| {
                    let mut v = shape::repository(r);
                    if !minimal && let Value::Object(m) = &mut v {
                        m.extend(shape::pick(r, &["homepage", "size", "watchers_count", "created_at", "pushed_at", "visibility", "license"]));
                    }
                    v
                })
                .collect();
            Ok(gh.out(&search_page(gh, "repositories", items, &a, &answer, filtered), false))
        },
    );
    declare_writes(tools, settings);
}

fn declare_writes(tools: &mut Tools<Github>, settings: &Settings) {
    offer(
        tools,
        settings,
        Tool::writes(
            "create_branch",
            "Create branch",
            "Creates a branch from another (default: the repository's default branch).",
            false,
        )
        .input_schema(repo_schema(
            json!({
                "branch": {"type": "string", "description": "Name of the new branch"},
                "from_branch": {"type": "string", "description": "Branch to start from (default branch when omitted)"}
            }),
            &["branch"],
        ))
        .output_schema(shape::object_schema(&["ref", "sha"])),
        |gh: &mut Github, _, a: CreateBranch| {
            let base = gh.repo(&a.owner, &a.repo)?;
            let from = match a.from_branch {
                Some(b) => b,
                None => default_branch(gh, &base)?,
            };
            let sha = head_of(gh, &base, &from)?;
            let body = json!({"ref": format!("refs/heads/{}", a.branch), "sha": sha});
            let made = gh.api.send("POST", &format!("{base}/git/refs"), &[], Some(&body))?.json;
            Ok(gh.out(&json!({"ref": made["ref"], "sha": made["object"]["sha"], "from": from}), false))
        },
    );
    offer(
        tools,
        settings,
        Tool::writes(
            "create_or_update_file",
            "Create or update file",
            "Writes one file in one commit. To replace an existing file pass its current blob \
             sha (from get_file_contents), so a file changed meanwhile is not overwritten.",
            true,
        )
        .input_schema(repo_schema(
            json!({
                "path": {"type": "string"},
                "content": {"type": "string", "description": "The new content, as text"},
                "message": {"type": "string", "description": "Commit message"},
                "branch": {"type": "string"},
                "sha": {"type": "string", "description": "Blob SHA of the file being replaced (required when it exists)"}
            }),
            &["path", "content", "message", "branch"],
        ))
        .output_schema(shape::object_schema(&["path", "commit"])),
        |gh: &mut Github, _, a: PutFile| {
            let base = gh.repo(&a.owner, &a.repo)?;
            let mut body = json!({
                "message": a.message,
                "content": base64::engine::general_purpose::STANDARD.encode(a.content.as_bytes()),
                "branch": a.branch,
            });
            if let Some(sha) = &a.sha {
                body["sha"] = json!(sha);
            }
            let url = format!("{base}/contents/{}", api::encode_path(&a.path));
            let made = gh.api.send("PUT", &url, &[], Some(&body)).map_err(|e| {
                if a.sha.is_none() && e.to_string().contains("sha") {
                    ToolError::Failed(format!(
                        "{e}. The file exists: pass its current sha (get_file_contents shows it)"
                    ))
                } else {
                    e
                }
            })?;
            let j = made.json;
            Ok(gh.out(
                &json!({"path": a.path, "sha": j["content"]["sha"], "commit": {"sha": j["commit"]["sha"], "html_url": j["commit"]["html_url"]}}),
                false,
            ))
        },
    );
    offer(
        tools,
        settings,
        Tool::writes(
            "push_files",
            "Push files",
            "Writes several files to a branch in one commit (replacing files of the same path).",
            true,
        )
        .input_schema(repo_schema(
            json!({
                "branch": {"type": "string"},
                "files": {"type": "array", "items": {"type": "object", "properties": {"path": {"type": "string"}, "content": {"type": "string"}}, "required": ["path", "content"]}},
                "message": {"type": "string", "description": "Commit message"}
            }),
            &["branch", "files", "message"],
        ))
        .output_schema(shape::object_schema(&["branch", "commit"])),
        push_files,
    );
    offer(
        tools,
        settings,
        Tool::writes(
            "delete_file",
            "Delete file",
            "Deletes a file from a branch in one commit.",
            true,
        )
        .input_schema(repo_schema(
            json!({
                "path": {"type": "string"},
                "message": {"type": "string", "description": "Commit message"},
                "branch": {"type": "string"}
            }),
            &["path", "message", "branch"],
        ))
        .output_schema(shape::object_schema(&["path", "commit"])),
        |gh: &mut Github, _, a: DeleteFile| {
            let base = gh.repo(&a.owner, &a.repo)?;
            let url = format!("{base}/contents/{}", api::encode_path(&a.path));
            let current = gh.api.get(&url, &[("ref", a.branch.clone())])?.json;
            let sha = current["sha"].as_str().ok_or_else(|| {
                ToolError::Invalid(format!("{} is a directory, not a file", a.path))
            })?;
            let body = json!({"message": a.message, "sha": sha, "branch": a.branch});
            let done = gh.api.send("DELETE", &url, &[], Some(&body))?.json;
            Ok(gh.out(&json!({"path": a.path, "commit": {"sha": done["commit"]["sha"], "html_url": done["commit"]["html_url"]}}), false))
        },
    );
    offer(
        tools,
        settings,
        Tool::writes(
            "fork_repository",
            "Fork repository",
            "Forks a repository to your account or an organization. Both the source and the \
             fork must be inside the configured scope.",
            false,
        )
        .input_schema(repo_schema(
            json!({"organization": {"type": "string", "description": "Organization to fork into (default: your account)"}}),
            &[],
        ))
        .output_schema(shape::object_schema(&["full_name"])),
        |gh: &mut Github, _, a: Fork| {
            let base = gh.repo(&a.owner, &a.repo)?;
            let target = match &a.organization {
                Some(org) => org.clone(),
                None => gh.me()?,
            };
            gh.repo(&target, &a.repo)?;
            let body = a.organization.as_ref().map(|o| json!({"organization": o}));
            let fork = gh.api.send("POST", &format!("{base}/forks"), &[], body.as_ref().or(Some(&json!({}))))?.json;
            Ok(gh.out(&shape::repository(&fork), false))
        },
    );
    offer(
        tools,
        settings,
        Tool::writes(
            "create_repository",
            "Create repository",
            "Creates a repository in your account or an organization (private unless \
             private=false). It must be inside the configured scope.",
            false,
        )
        .input_schema(json!({"type": "object", "properties": {
            "name": {"type": "string"},
            "description": {"type": "string"},
            "organization": {"type": "string", "description": "Organization to create it in (default: your account)"},
            "private": {"type": "boolean", "default": true},
            "autoInit": {"type": "boolean", "description": "Start with a README"}
        }, "required": ["name"]}))
        .output_schema(shape::object_schema(&["full_name"])),
        |gh: &mut Github, _, a: CreateRepo| {
            let owner = match &a.organization {
                Some(org) => org.clone(),
                None => gh.me()?,
            };
            gh.repo(&owner, &a.name)?;
            let body = json!({
                "name": a.name,
                "description": a.description,
                "private": a.private.unwrap_or(true),
                "auto_init": a.auto_init.unwrap_or(false),
            });
            let path = match &a.organization {
                Some(org) => format!("/orgs/{}/repos", api::encode(org)),
                None => "/user/repos".to_string(),
            };
            let made = gh.api.send("POST", &path, &[], Some(&body))?.json;
            Ok(gh.out(&shape::repository(&made), false))
        },
    );
}

fn get_file_contents(
    gh: &mut Github,
    _: &pier_sdk::CallContext,
    a: GetFile,
) -> Result<CallResult, ToolError> {
    let path = a.path.unwrap_or_default();
    let reference = a.sha.as_deref().or(a.reference.as_deref());
    Ok(
        match contents::fetch(gh, &a.owner, &a.repo, &path, reference)? {
            Fetched::Dir { value } => gh.out(&value, false),
            // The file as it is, then its metadata (the sha an update needs) for clients that
            // show the model only the content blocks.
            Fetched::Text { meta, text } => {
                let about = meta.to_string();
                CallResult {
                    content: vec![Content::Text(text), Content::Text(about.clone())],
                    structured: Some(about),
                    is_error: false,
                }
            }
            Fetched::Binary { meta, bytes, mime } => {
                let uri = format!(
                    "repo://{}/{}/contents/{}",
                    a.owner,
                    a.repo,
                    path.trim_start_matches('/')
                );
                let size = bytes.len();
                CallResult {
                    content: vec![
                        Content::Text(format!(
                            "binary file /{} ({size} bytes, {mime})",
                            path.trim_start_matches('/')
                        )),
                        Content::blob(&uri, bytes, &mime),
                    ],
                    structured: Some(meta.to_string()),
                    is_error: false,
                }
            }
        },
    )
}

fn list_commits(
    gh: &mut Github,
    _: &pier_sdk::CallContext,
    a: ListCommits,
) -> Result<CallResult, ToolError> {
    let base = gh.repo(&a.owner, &a.repo)?;
    let mut query = a.paging.query();
    push_set(
        &mut query,
        &[
            ("sha", &a.sha),
            ("path", &a.path),
            ("author", &a.author),
            ("since", &a.since),
            ("until", &a.until),
        ],
    );
    let page = gh.list_page_with(
        &format!("{base}/commits"),
        &query,
        a.paging.page(),
        "commits",
        &|c| shape::commit(c, LIST_BODY_CHARS),
        a.fields.as_deref(),
    )?;
    Ok(gh.out(&page, true))
}

fn get_commit(
    gh: &mut Github,
    _: &pier_sdk::CallContext,
    a: GetCommit,
) -> Result<CallResult, ToolError> {
    let base = gh.repo(&a.owner, &a.repo)?;
    let detail = a.detail.as_deref().unwrap_or("stats");
    if !matches!(detail, "none" | "stats" | "full_patch") {
        return Err(ToolError::Invalid(format!(
            "detail must be none, stats or full_patch, not {detail:?}"
        )));
    }
    let answer = gh.api.get(
        &format!("{base}/commits/{}", api::encode(&a.sha)),
        &a.paging.query(),
    )?;
    let c = &answer.json;
    let max = gh.max_bytes();
    let mut value = json!({"commit": shape::commit(c, max / 4)});
    if detail != "none" {
        value["stats"] = c["stats"].clone();
        let patch = (detail == "full_patch").then_some(max / 2);
        let files: Vec<Value> = c["files"]
            .as_array()
            .map(|f| f.iter().map(|f| shape::changed_file(f, patch)).collect())
            .unwrap_or_default();
        let page = Page {
            key: "files",
            items: files,
            page: a.paging.page(),
            next_page: answer.next_page,
            total_count: None,
        }
        .value(None, max * 3 / 4);
        if let Value::Object(m) = page {
            for (k, v) in m {
                let key = if k == "files" {
                    k
                } else {
                    format!("files_{k}")
                };
                value[key] = v;
            }
        }
    }
    Ok(gh.out(&value, true))
}

/// Runs a search narrowed to the scope (`kind` adds `is:issue`/`is:pr`).
pub(crate) fn search(
    gh: &mut Github,
    endpoint: &str,
    a: &Search,
    kind: &str,
) -> Result<api::Answer, ToolError> {
    let q = format!("{}{kind}", a.query.trim());
    let q = gh.settings()?.scope.narrow(&q).map_err(ToolError::Denied)?;
    let mut query = vec![("q", q)];
    query.extend(a.sort.clone().map(|s| ("sort", s)));
    query.extend(a.order.clone().map(|o| ("order", o)));
    query.extend(a.paging.query());
    gh.api.get(endpoint, &query)
}

/// The search items inside the scope, and how many were dropped.
pub(crate) fn scoped<'a>(
    gh: &Github,
    json: &'a Value,
    full_name: impl Fn(&Value) -> Option<&str>,
) -> (Vec<&'a Value>, usize) {
    let scope = gh
        .settings
        .as_ref()
        .map(|s| s.scope.clone())
        .unwrap_or_default();
    let all = json["items"]
        .as_array()
        .map(|a| a.iter().collect::<Vec<_>>())
        .unwrap_or_default();
    let total = all.len();
    let kept: Vec<&Value> = all
        .into_iter()
        .filter(|i| full_name(i).is_some_and(|n| scope.allows_full_name(n)) || !scope.is_limited())
        .collect();
    let dropped = total - kept.len();
    (kept, dropped)
}

pub(crate) fn search_page(
    gh: &Github,
    key: &'static str,
    items: Vec<Value>,
    a: &Search,
    answer: &api::Answer,
    filtered: usize,
) -> Value {
    let mut value = Page {
        key,
        items,
        page: a.paging.page(),
        next_page: answer.next_page,
        total_count: answer.json["total_count"].as_u64(),
    }
    .value(None, gh.max_bytes());
    if filtered > 0 {
        value["filtered_out"] = json!(filtered);
        value["filtered_note"] = json!(format!(
            "{filtered} results outside the configured repository scope were left out"
        ));
    }
    value
}

pub fn default_branch(gh: &mut Github, base: &str) -> Result<String, ToolError> {
    let repo = gh.api.get(base, &[])?.json;
    repo["default_branch"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| {
            ToolError::Failed(format!("GitHub did not say the default branch of {base}"))
        })
}

/// The commit SHA a branch points at.
pub fn head_of(gh: &mut Github, base: &str, branch: &str) -> Result<String, ToolError> {
    let r = gh
        .api
        .get(
            &format!("{base}/git/ref/heads/{}", api::encode_path(branch)),
            &[],
        )?
        .json;
    r["object"]["sha"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| ToolError::Failed(format!("branch {branch} has no commit")))
}

fn push_files(
    gh: &mut Github,
    _: &pier_sdk::CallContext,
    a: PushFiles,
) -> Result<CallResult, ToolError> {
    let base = gh.repo(&a.owner, &a.repo)?;
    if a.files.is_empty() {
        return Err(ToolError::Invalid("files is empty: nothing to push".into()));
    }
    let parent = head_of(gh, &base, &a.branch)?;
    let commit = gh
        .api
        .get(&format!("{base}/git/commits/{parent}"), &[])?
        .json;
    let base_tree = commit["tree"]["sha"].clone();
    let entries: Vec<Value> = a
        .files
        .iter()
        .map(|f| json!({"path": f.path.trim_start_matches('/'), "mode": "100644", "type": "blob", "content": f.content}))
        .collect();
    let tree = gh
        .api
        .send(
            "POST",
            &format!("{base}/git/trees"),
            &[],
            Some(&json!({"base_tree": base_tree, "tree": entries})),
        )?
        .json;
    let made = gh
        .api
        .send(
            "POST",
            &format!("{base}/git/commits"),
            &[],
            Some(&json!({"message": a.message, "tree": tree["sha"], "parents": [parent]})),
        )?
        .json;
    let sha = made["sha"].clone();
    gh.api.send(
        "PATCH",
        &format!("{base}/git/refs/heads/{}", api::encode_path(&a.branch)),
        &[],
        Some(&json!({"sha": sha, "force": false})),
    )?;
    Ok(gh.out(
        &json!({"branch": a.branch, "commit": {"sha": sha, "html_url": made["html_url"]}, "files": a.files.len()}),
        false,
    ))
}
