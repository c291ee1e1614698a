//! The `issues` toolset. Bodies and comments are other people's text: answers carrying them
//! are fenced (unless `fence_untrusted = false`).

use pier_sdk::{CallContext, CallResult, Tool, ToolError, Tools, Value, json};
use serde::Deserialize;

use crate::repos::{Search, scoped, search, search_page};
use crate::settings::Settings;
use crate::shape::{self, LIST_BODY_CHARS, Page, RawIssue};
use crate::{Github, Paging, object_of, offer, paging, props, repo_schema};

#[derive(Deserialize)]
struct IssueRead {
    method: String,
    owner: String,
    repo: String,
    issue_number: u64,
    #[serde(flatten)]
    paging: Paging,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListIssues {
    owner: String,
    repo: String,
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    labels: Option<Vec<String>>,
    #[serde(default)]
    order_by: Option<String>,
    #[serde(default)]
    direction: Option<String>,
    #[serde(default)]
    since: Option<String>,
    /// The cursor a previous answer gave as `next_cursor` (a page number here).
    #[serde(default)]
    after: Option<String>,
    #[serde(default)]
    fields: Option<Vec<String>>,
    #[serde(default)]
    page: Option<u32>,
    #[serde(default, alias = "per_page")]
    per_page: Option<u32>,
}

/// Arguments of search_issues and search_pull_requests.
#[derive(Deserialize)]
pub(crate) struct SearchScoped {
    #[serde(flatten)]
    search: Search,
    #[serde(default)]
    owner: Option<String>,
    #[serde(default)]
    repo: Option<String>,
}

#[derive(Deserialize)]
struct IssueWrite {
    method: String,
    owner: String,
    repo: String,
    #[serde(default)]
    issue_number: Option<u64>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    assignees: Option<Vec<String>>,
    #[serde(default)]
    labels: Option<Vec<String>>,
    #[serde(default)]
    milestone: Option<u64>,
    #[serde(default, rename = "type")]
    kind: Option<Value>,
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    state_reason: Option<String>,
}

#[derive(Deserialize)]
struct AddComment {
    owner: String,
    repo: String,
    issue_number: u64,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    reaction: Option<String>,
    #[serde(default)]
    comment_id: Option<u64>,
}

const REACTIONS: &[&str] = &[
    "+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes",
];

pub fn declare(tools: &mut Tools<Github>, settings: &Settings) {
    offer(
        tools,
        settings,
        Tool::reads(
            "issue_read",
            "Read issue",
            "One issue and what belongs to it. method: get (the issue with its whole body), \
             get_comments, get_sub_issues, get_labels.",
        )
        .input_schema(repo_schema(
            props(&[
                json!({
                    "method": {"type": "string", "enum": ["get", "get_comments", "get_sub_issues", "get_labels"]},
                    "issue_number": {"type": "integer", "minimum": 1}
                }),
                paging(),
            ]),
            &["method", "issue_number"],
        ))
        .output_schema(shape::object_schema(&[])),
        issue_read,
    );
    offer(
        tools,
        settings,
        Tool::reads(
            "list_issues",
            "List issues",
            "Issues of a repository (pull requests left out), newest first unless ordered \
             otherwise; bodies are cut to their start (issue_read get has the whole). Pass \
             next_cursor back as after to continue.",
        )
        .input_schema(repo_schema(
            json!({
                "state": {"type": "string", "enum": ["OPEN", "CLOSED"], "description": "Omit for both"},
                "labels": {"type": "array", "items": {"type": "string"}},
                "orderBy": {"type": "string", "enum": ["CREATED_AT", "UPDATED_AT", "COMMENTS"]},
                "direction": {"type": "string", "enum": ["ASC", "DESC"]},
                "since": {"type": "string", "description": "ISO 8601 time: only issues updated after it"},
                "after": {"type": "string", "description": "Cursor from a previous answer's next_cursor"},
                "fields": {"type": "array", "items": {"type": "string"}, "description": "Keep only these fields per issue (number, title, state, user, labels, assignees, comments, created_at, updated_at, body, html_url)"},
                "perPage": {"type": "integer", "minimum": 1, "maximum": 100}
            }),
            &[],
        ))
        .output_schema(shape::object_schema(&["issues", "next_cursor"])),
        list_issues,
    );
    offer(
        tools,
        settings,
        Tool::reads(
            "search_issues",
            "Search issues",
            "Searches issues (not pull requests) with GitHub's issue search syntax (e.g. \
             'is:open label:bug crash'); owner/repo narrow it. Within the configured scope only.",
        )
        .input_schema(search_schema("Issue search query"))
        .output_schema(shape::page_schema("issues")),
        |gh: &mut Github, _, a: SearchScoped| search_issues(gh, a, " is:issue", "issues"),
    );
    offer(
        tools,
        settings,
        Tool::writes(
            "issue_write",
            "Create or update issue",
            "method=create opens an issue (title required); method=update changes an issue's \
             title, body, labels, assignees, milestone, state (with state_reason).",
            true,
        )
        .input_schema(repo_schema(
            json!({
                "method": {"type": "string", "enum": ["create", "update"]},
                "issue_number": {"type": "integer", "description": "Issue to update (method=update)"},
                "title": {"type": "string"},
                "body": {"type": "string"},
                "assignees": {"type": "array", "items": {"type": "string"}},
                "labels": {"type": "array", "items": {"type": "string"}},
                "milestone": {"type": "integer"},
                "type": {"type": ["string", "null"], "description": "Issue type name; null clears it"},
                "state": {"type": "string", "enum": ["open", "closed"]},
                "state_reason": {"type": "string", "enum": ["completed", "not_planned", "duplicate", "reopened"]}
            }),
            &["method"],
        ))
        .output_schema(shape::object_schema(&["number"])),
        issue_write,
    );
    offer(
        tools,
        settings,
        Tool::writes(
            "add_issue_comment",
            "Comment on issue",
            "Adds a comment to an issue or pull request, or a reaction (to it, or to one of its \
             comments with comment_id).",
            false,
        )
        .input_schema(repo_schema(
            json!({
                "issue_number": {"type": "integer"},
                "body": {"type": "string"},
                "reaction": {"type": "string", "enum": REACTIONS},
                "comment_id": {"type": "integer", "description": "React to this comment instead"}
            }),
            &["issue_number"],
        ))
        .output_schema(shape::object_schema(&[])),
        add_issue_comment,
    );
}

pub fn search_schema(what: &str) -> Value {
    json!({"type": "object", "properties": props(&[json!({
        "query": {"type": "string", "description": what},
        "owner": {"type": "string", "description": "Only repositories of this owner"},
        "repo": {"type": "string", "description": "Only this repository (with owner)"},
        "sort": {"type": "string", "enum": ["comments", "reactions", "interactions", "created", "updated"]},
        "order": {"type": "string", "enum": ["asc", "desc"]}
    }), paging()]), "required": ["query"]})
}

/// search_issues and search_pull_requests: `kind` is ` is:issue` or ` is:pr`.
pub fn search_issues(
    gh: &mut Github,
    mut a: SearchScoped,
    kind: &str,
    key: &'static str,
) -> Result<CallResult, ToolError> {
    match (&a.owner, &a.repo) {
        (Some(owner), Some(repo)) => a.search.query.push_str(&format!(" repo:{owner}/{repo}")),
        (Some(owner), None) => a.search.query.push_str(&format!(" user:{owner}")),
        (None, Some(_)) => return Err(ToolError::Invalid("repo needs owner".into())),
        (None, None) => {}
    }
    let answer = search(gh, "/search/issues", &a.search, kind)?;
    let (items, filtered) = scoped(gh, &answer.json, repository_of);
    let items = items
        .iter()
        .map(|i| {
            let mut v = shape::issue(i, LIST_BODY_CHARS);
            if let (Value::Object(m), Some(name)) = (&mut v, repository_of(i)) {
                m.insert("repository".into(), json!(name));
            }
            v
        })
        .collect();
    Ok(gh.out(
        &search_page(gh, key, items, &a.search, &answer, filtered),
        true,
    ))
}

/// `owner/repo` of a search result's `repository_url`.
fn repository_of(item: &Value) -> Option<&str> {
    let url = item["repository_url"].as_str()?;
    let i = url.find("/repos/")?;
    Some(&url[i + "/repos/".len()..])
}

fn issue_read(gh: &mut Github, _: &CallContext, a: IssueRead) -> Result<CallResult, ToolError> {
    let base = gh.repo(&a.owner, &a.repo)?;
    let path = format!("{base}/issues/{}", a.issue_number);
    let max = gh.max_bytes();
    let list =
        |gh: &mut Github, suffix: &str, key: &'static str, item: &dyn Fn(&Value) -> Value| {
            gh.list_page(&format!("{path}/{suffix}"), &a.paging, key, item)
        };
    let value = match a.method.as_str() {
        "get" => shape::issue(&gh.api.get(&path, &[])?.json, max),
        "get_comments" => list(gh, "comments", "comments", &|c| shape::comment(c, max / 4))?,
        "get_sub_issues" => list(gh, "sub_issues", "sub_issues", &|i| {
            shape::issue(i, LIST_BODY_CHARS)
        })?,
        "get_labels" => list(gh, "labels", "labels", &|l| {
            Value::Object(shape::pick(l, &["name", "color", "description"]))
        })?,
        other => {
            return Err(ToolError::Invalid(format!(
                "method must be get, get_comments, get_sub_issues or get_labels, not {other:?}"
            )));
        }
    };
    Ok(gh.out(&value, a.method != "get_labels"))
}

fn list_issues(gh: &mut Github, _: &CallContext, a: ListIssues) -> Result<CallResult, ToolError> {
    let base = gh.repo(&a.owner, &a.repo)?;
    let page = match &a.after {
        Some(cursor) => cursor.parse::<u32>().map_err(|_| {
            ToolError::Invalid(format!(
                "after must be a next_cursor this tool returned, not {cursor:?}"
            ))
        })?,
        None => a.page.unwrap_or(1).max(1),
    };
    let mut query = vec![
        (
            "state",
            match a.state.as_deref().map(str::to_ascii_lowercase).as_deref() {
                Some("open") => "open".to_string(),
                Some("closed") => "closed".to_string(),
                None => "all".to_string(),
                Some(other) => {
                    return Err(ToolError::Invalid(format!(
                        "state must be OPEN or CLOSED, not {other:?}"
                    )));
                }
            },
        ),
        ("page", page.to_string()),
        (
            "per_page",
            a.per_page.unwrap_or(30).clamp(1, 100).to_string(),
        ),
    ];
    if let Some(labels) = a.labels.filter(|l| !l.is_empty()) {
        query.push(("labels", labels.join(",")));
    }
    if let Some(order) = &a.order_by {
        let sort = match order.as_str() {
            "CREATED_AT" => "created",
            "UPDATED_AT" => "updated",
            "COMMENTS" => "comments",
            other => {
                return Err(ToolError::Invalid(format!(
                    "orderBy must be CREATED_AT, UPDATED_AT or COMMENTS, not {other:?}"
                )));
            }
        };
        query.push(("sort", sort.to_string()));
    }
    if let Some(d) = &a.direction {
        query.push(("direction", d.to_ascii_lowercase()));
    }
    if let Some(since) = &a.since {
        query.push(("since", since.clone()));
    }
    let (raw, next_page) = gh
        .api
        .get_as::<Vec<RawIssue>>(&format!("{base}/issues"), &query)?;
    // The REST listing includes pull requests; this tool is about issues.
    let items = raw
        .into_iter()
        .filter(|i| !i.is_pull_request())
        .map(|i| i.shaped(LIST_BODY_CHARS))
        .collect();
    let mut value = Page {
        key: "issues",
        items,
        page,
        next_page,
        total_count: None,
    }
    .value(a.fields.as_deref(), gh.max_bytes());
    value["next_cursor"] = json!(next_page.map(|n| n.to_string()));
    if let Some(n) = next_page {
        value["note"] = json!(format!("more issues: call again with after=\"{n}\""));
    }
    Ok(gh.out(&value, true))
}

fn issue_write(gh: &mut Github, _: &CallContext, a: IssueWrite) -> Result<CallResult, ToolError> {
    let base = gh.repo(&a.owner, &a.repo)?;
    let mut fields = vec![
        ("title", a.title.clone().map(Value::from)),
        ("body", a.body.map(Value::from)),
        ("assignees", a.assignees.map(|v| json!(v))),
        ("labels", a.labels.map(|v| json!(v))),
        ("milestone", a.milestone.map(Value::from)),
        ("type", a.kind),
    ];
    if a.method == "update" {
        fields.push(("state", a.state.map(Value::from)));
        fields.push(("state_reason", a.state_reason.map(Value::from)));
    }
    let body = object_of(fields);
    let made = match a.method.as_str() {
        "create" => {
            if a.title.as_deref().is_none_or(str::is_empty) {
                return Err(ToolError::Invalid("method=create needs a title".into()));
            }
            gh.api.send(
                "POST",
                &format!("{base}/issues"),
                &[],
                Some(&Value::Object(body)),
            )?
        }
        "update" => {
            let n = a
                .issue_number
                .ok_or_else(|| ToolError::Invalid("method=update needs issue_number".into()))?;
            gh.api.send(
                "PATCH",
                &format!("{base}/issues/{n}"),
                &[],
                Some(&Value::Object(body)),
            )?
        }
        other => {
            return Err(ToolError::Invalid(format!(
                "method must be create or update, not {other:?}"
            )));
        }
    };
    let i = made.json;
    Ok(gh.out(
        &json!({"number": i["number"], "state": i["state"], "html_url": i["html_url"]}),
        false,
    ))
}

fn add_issue_comment(
    gh: &mut Github,
    _: &CallContext,
    a: AddComment,
) -> Result<CallResult, ToolError> {
    let base = gh.repo(&a.owner, &a.repo)?;
    if let Some(reaction) = &a.reaction {
        if !REACTIONS.contains(&reaction.as_str()) {
            return Err(ToolError::Invalid(format!(
                "reaction must be one of {}",
                REACTIONS.join(", ")
            )));
        }
        let path = match a.comment_id {
            Some(id) => format!("{base}/issues/comments/{id}/reactions"),
            None => format!("{base}/issues/{}/reactions", a.issue_number),
        };
        let r = gh
            .api
            .send("POST", &path, &[], Some(&json!({"content": reaction})))?
            .json;
        return Ok(gh.out(&json!({"reaction": r["content"], "id": r["id"]}), false));
    }
    let body = a
        .body
        .filter(|b| !b.trim().is_empty())
        .ok_or_else(|| ToolError::Invalid("give a body (the comment) or a reaction".into()))?;
    let c = gh
        .api
        .send(
            "POST",
            &format!("{base}/issues/{}/comments", a.issue_number),
            &[],
            Some(&json!({"body": body})),
        )?
        .json;
    Ok(gh.out(&json!({"id": c["id"], "html_url": c["html_url"]}), false))
}
