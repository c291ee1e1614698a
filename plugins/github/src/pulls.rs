//! The `pull_requests` toolset. Diffs come back as text; bodies, comments and reviews are
//! fenced as other people's text.

use pier_sdk::{CallContext, CallResult, Content, Tool, ToolError, Tools, Value, json};
use serde::Deserialize;

use crate::issues::{search_issues, search_schema};
use crate::settings::Settings;
use crate::shape::{self, LIST_BODY_CHARS};
use crate::{Github, Paging, object_of, offer, paging, props, push_set, repo_schema};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PullRead {
    method: String,
    owner: String,
    repo: String,
    #[serde(alias = "pull_number")]
    pull_number: u64,
    #[serde(flatten)]
    paging: Paging,
}

#[derive(Deserialize)]
struct ListPulls {
    owner: String,
    repo: String,
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    head: Option<String>,
    #[serde(default)]
    base: Option<String>,
    #[serde(default)]
    sort: Option<String>,
    #[serde(default)]
    direction: Option<String>,
    #[serde(default)]
    fields: Option<Vec<String>>,
    #[serde(flatten)]
    paging: Paging,
}

#[derive(Deserialize)]
struct CreatePull {
    owner: String,
    repo: String,
    title: String,
    head: String,
    base: String,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    draft: Option<bool>,
    #[serde(default)]
    maintainer_can_modify: Option<bool>,
    #[serde(default)]
    reviewers: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UpdatePull {
    owner: String,
    repo: String,
    #[serde(alias = "pull_number")]
    pull_number: u64,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    base: Option<String>,
    #[serde(default)]
    draft: Option<bool>,
    #[serde(default, rename = "maintainer_can_modify")]
    maintainer_can_modify: Option<bool>,
    #[serde(default)]
    reviewers: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Merge {
    owner: String,
    repo: String,
    #[serde(alias = "pull_number")]
    pull_number: u64,
    #[serde(default, rename = "merge_method")]
    merge_method: Option<String>,
    #[serde(default, rename = "commit_title")]
    commit_title: Option<String>,
    #[serde(default, rename = "commit_message")]
    commit_message: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReviewWrite {
    method: String,
    owner: String,
    repo: String,
    #[serde(alias = "pull_number")]
    pull_number: u64,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    event: Option<String>,
    #[serde(default, alias = "commit_id")]
    commit_id: Option<String>,
    #[serde(default, alias = "thread_id")]
    thread_id: Option<String>,
}

const METHODS: &[&str] = &[
    "get",
    "get_diff",
    "get_status",
    "get_files",
    "get_commits",
    "get_reviews",
    "get_review_comments",
    "get_comments",
];

fn pull_schema(more: Value, required: &[&str]) -> Value {
    let mut req = vec!["pullNumber"];
    req.extend_from_slice(required);
    repo_schema(
        props(&[
            json!({"pullNumber": {"type": "integer", "minimum": 1, "description": "Pull request number"}}),
            more,
        ]),
        &req,
    )
}

pub fn declare(tools: &mut Tools<Github>, settings: &Settings) {
    offer(
        tools,
        settings,
        Tool::reads(
            "pull_request_read",
            "Read pull request",
            "One pull request and what belongs to it. method: get, get_diff (the unified diff \
             as text), get_status (combined commit status and check runs of the head), \
             get_files, get_commits, get_reviews, get_review_comments, get_comments.",
        )
        .input_schema(pull_schema(
            props(&[
                json!({"method": {"type": "string", "enum": METHODS}}),
                paging(),
            ]),
            &["method"],
        ))
        .output_schema(shape::object_schema(&[])),
        pull_request_read,
    );
    offer(
        tools,
        settings,
        Tool::reads(
            "list_pull_requests",
            "List pull requests",
            "Pull requests of a repository, filtered by state, head (user:branch) and base; \
             bodies cut to their start.",
        )
        .input_schema(repo_schema(
            props(&[
                json!({
                    "state": {"type": "string", "enum": ["open", "closed", "all"], "default": "open"},
                    "head": {"type": "string", "description": "user:branch"},
                    "base": {"type": "string"},
                    "sort": {"type": "string", "enum": ["created", "updated", "popularity", "long-running"]},
                    "direction": {"type": "string", "enum": ["asc", "desc"]},
                    "fields": {"type": "array", "items": {"type": "string"}, "description": "Keep only these fields per pull request"}
                }),
                paging(),
            ]),
            &[],
        ))
        .output_schema(shape::page_schema("pull_requests")),
        list_pull_requests,
    );
    offer(
        tools,
        settings,
        Tool::reads(
            "search_pull_requests",
            "Search pull requests",
            "Searches pull requests with GitHub's issue search syntax (e.g. 'is:open \
             review-requested:@me'); owner/repo narrow it. Within the configured scope only.",
        )
        .input_schema(search_schema("Pull request search query"))
        .output_schema(shape::page_schema("pull_requests")),
        |gh: &mut Github, _, a| search_issues(gh, a, " is:pr", "pull_requests"),
    );
    offer(
        tools,
        settings,
        Tool::writes(
            "create_pull_request",
            "Open pull request",
            "Opens a pull request from head into base, optionally as a draft and with reviewers.",
            false,
        )
        .input_schema(repo_schema(
            json!({
                "title": {"type": "string"},
                "head": {"type": "string", "description": "Branch with the changes (user:branch for a fork)"},
                "base": {"type": "string", "description": "Branch to merge into"},
                "body": {"type": "string"},
                "draft": {"type": "boolean"},
                "maintainer_can_modify": {"type": "boolean"},
                "reviewers": {"type": "array", "items": {"type": "string"}, "description": "Logins, or ORG/team for teams"}
            }),
            &["title", "head", "base"],
        ))
        .output_schema(shape::object_schema(&["number"])),
        create_pull_request,
    );
    offer(
        tools,
        settings,
        Tool::writes(
            "update_pull_request",
            "Update pull request",
            "Changes a pull request's title, body, state, base, draft state or reviewers.",
            true,
        )
        .input_schema(pull_schema(
            json!({
                "title": {"type": "string"},
                "body": {"type": "string"},
                "state": {"type": "string", "enum": ["open", "closed"]},
                "base": {"type": "string"},
                "draft": {"type": "boolean"},
                "maintainer_can_modify": {"type": "boolean"},
                "reviewers": {"type": "array", "items": {"type": "string"}}
            }),
            &[],
        ))
        .output_schema(shape::object_schema(&["number"])),
        update_pull_request,
    );
    offer(
        tools,
        settings,
        Tool::writes(
            "merge_pull_request",
            "Merge pull request",
            "Merges a pull request (merge, squash or rebase). It cannot be undone from here.",
            true,
        )
        .input_schema(pull_schema(
            json!({
                "merge_method": {"type": "string", "enum": ["merge", "squash", "rebase"]},
                "commit_title": {"type": "string"},
                "commit_message": {"type": "string"}
            }),
            &[],
        ))
        .output_schema(shape::object_schema(&["merged"])),
        |gh: &mut Github, _, a: Merge| {
            let base = gh.repo(&a.owner, &a.repo)?;
            let body = json!({
                "merge_method": a.merge_method.unwrap_or_else(|| "merge".into()),
                "commit_title": a.commit_title,
                "commit_message": a.commit_message,
            });
            let done = gh
                .api
                .send(
                    "PUT",
                    &format!("{base}/pulls/{}/merge", a.pull_number),
                    &[],
                    Some(&body),
                )?
                .json;
            Ok(gh.out(
                &json!({"merged": done["merged"], "sha": done["sha"], "message": done["message"]}),
                false,
            ))
        },
    );
    offer(
        tools,
        settings,
        Tool::writes(
            "pull_request_review_write",
            "Write pull request review",
            "method=create submits a review (event APPROVE, REQUEST_CHANGES or COMMENT; without \
             event it stays pending), submit_pending and delete_pending act on your pending \
             review, resolve_thread / unresolve_thread take a review thread id (PRRT_...).",
            true,
        )
        .input_schema(pull_schema(
            json!({
                "method": {"type": "string", "enum": ["create", "submit_pending", "delete_pending", "resolve_thread", "unresolve_thread"]},
                "body": {"type": "string"},
                "event": {"type": "string", "enum": ["APPROVE", "REQUEST_CHANGES", "COMMENT"]},
                "commitID": {"type": "string"},
                "threadId": {"type": "string"}
            }),
            &["method"],
        ))
        .output_schema(shape::object_schema(&[])),
        review_write,
    );
}

fn pull_request_read(
    gh: &mut Github,
    _: &CallContext,
    a: PullRead,
) -> Result<CallResult, ToolError> {
    let base = gh.repo(&a.owner, &a.repo)?;
    let path = format!("{base}/pulls/{}", a.pull_number);
    let max = gh.max_bytes();
    let list = |gh: &mut Github, url: String, key: &'static str, item: &dyn Fn(&Value) -> Value| {
        gh.list_page(&url, &a.paging, key, item)
    };
    let (value, untrusted) = match a.method.as_str() {
        "get" => (shape::pull(&gh.api.get(&path, &[])?.json, max), true),
        "get_diff" => {
            let diff = gh.api.get_raw(&path, "application/vnd.github.diff")?;
            let text = diff.text();
            let (kept, cut) = shape::cap(&text, max);
            let meta = json!({"pullNumber": a.pull_number, "bytes": text.len(), "truncated": cut,
                "note": if cut { format!("the diff is {} bytes; the first {} are shown: use get_files (with page) for the rest", text.len(), kept.len()) } else { String::new() }});
            return Ok(CallResult {
                content: vec![Content::Text(kept)],
                structured: Some(meta.to_string()),
                is_error: false,
            });
        }
        "get_status" => {
            let pr = gh.api.get(&path, &[])?.json;
            let sha = pr["head"]["sha"].as_str().unwrap_or_default().to_string();
            let status = gh
                .api
                .get(&format!("{base}/commits/{sha}/status"), &[])?
                .json;
            let checks = gh
                .api
                .get(
                    &format!("{base}/commits/{sha}/check-runs"),
                    &[("per_page", "100".into())],
                )?
                .json;
            let statuses: Vec<Value> = status["statuses"]
                .as_array()
                .map(|s| {
                    s.iter()
                        .map(|s| {
                            Value::Object(shape::pick(
                                s,
                                &["context", "state", "description", "target_url"],
                            ))
                        })
                        .collect()
                })
                .unwrap_or_default();
            let runs: Vec<Value> = checks["check_runs"]
                .as_array()
                .map(|c| {
                    c.iter()
                        .map(|c| {
                            Value::Object(shape::pick(
                                c,
                                &["name", "status", "conclusion", "html_url", "completed_at"],
                            ))
                        })
                        .collect()
                })
                .unwrap_or_default();
            (
                json!({"sha": sha, "state": status["state"], "statuses": statuses, "check_runs": runs, "total_check_runs": checks["total_count"]}),
                false,
            )
        }
        "get_files" => (
            list(gh, format!("{path}/files"), "files", &|f| {
                shape::changed_file(f, Some(max / 8))
            })?,
            false,
        ),
        "get_commits" => (
            list(gh, format!("{path}/commits"), "commits", &|c| {
                shape::commit(c, LIST_BODY_CHARS)
            })?,
            true,
        ),
        "get_reviews" => (
            list(gh, format!("{path}/reviews"), "reviews", &|r| {
                shape::comment(r, max / 8)
            })?,
            true,
        ),
        "get_review_comments" => (
            list(gh, format!("{path}/comments"), "review_comments", &|c| {
                shape::comment(c, max / 8)
            })?,
            true,
        ),
        "get_comments" => (
            list(
                gh,
                format!("{base}/issues/{}/comments", a.pull_number),
                "comments",
                &|c| shape::comment(c, max / 8),
            )?,
            true,
        ),
        other => {
            return Err(ToolError::Invalid(format!(
                "method must be one of {}, not {other:?}",
                METHODS.join(", ")
            )));
        }
    };
    Ok(gh.out(&value, untrusted))
}

fn list_pull_requests(
    gh: &mut Github,
    _: &CallContext,
    a: ListPulls,
) -> Result<CallResult, ToolError> {
    let base = gh.repo(&a.owner, &a.repo)?;
    let mut query = a.paging.query();
    push_set(
        &mut query,
        &[
            ("state", &a.state),
            ("head", &a.head),
            ("base", &a.base),
            ("sort", &a.sort),
            ("direction", &a.direction),
        ],
    );
    let page = gh.list_page_with(
        &format!("{base}/pulls"),
        &query,
        a.paging.page(),
        "pull_requests",
        &|p| shape::pull(p, LIST_BODY_CHARS),
        a.fields.as_deref(),
    )?;
    Ok(gh.out(&page, true))
}

/// Asks for reviewers: logins, and `ORG/team` (or a bare slug with a slash) for teams.
fn request_reviewers(
    gh: &mut Github,
    base: &str,
    number: u64,
    reviewers: &[String],
) -> Result<(), ToolError> {
    if reviewers.is_empty() {
        return Ok(());
    }
    let (teams, users): (Vec<&String>, Vec<&String>) =
        reviewers.iter().partition(|r| r.contains('/'));
    let teams: Vec<&str> = teams.iter().filter_map(|t| t.split('/').nth(1)).collect();
    gh.api.send(
        "POST",
        &format!("{base}/pulls/{number}/requested_reviewers"),
        &[],
        Some(&json!({"reviewers": users, "team_reviewers": teams})),
    )?;
    Ok(())
}

fn create_pull_request(
    gh: &mut Github,
    _: &CallContext,
    a: CreatePull,
) -> Result<CallResult, ToolError> {
    let base = gh.repo(&a.owner, &a.repo)?;
    let body = json!({
        "title": a.title, "head": a.head, "base": a.base, "body": a.body,
        "draft": a.draft.unwrap_or(false), "maintainer_can_modify": a.maintainer_can_modify.unwrap_or(true),
    });
    let pr = gh
        .api
        .send("POST", &format!("{base}/pulls"), &[], Some(&body))?
        .json;
    let number = pr["number"].as_u64().unwrap_or(0);
    request_reviewers(gh, &base, number, a.reviewers.as_deref().unwrap_or(&[]))?;
    Ok(gh.out(
        &json!({"number": number, "html_url": pr["html_url"], "draft": pr["draft"]}),
        false,
    ))
}

fn update_pull_request(
    gh: &mut Github,
    _: &CallContext,
    a: UpdatePull,
) -> Result<CallResult, ToolError> {
    let base = gh.repo(&a.owner, &a.repo)?;
    let body = object_of(vec![
        ("title", a.title.map(Value::from)),
        ("body", a.body.map(Value::from)),
        ("state", a.state.map(Value::from)),
        ("base", a.base.map(Value::from)),
        (
            "maintainer_can_modify",
            a.maintainer_can_modify.map(Value::from),
        ),
    ]);
    let path = format!("{base}/pulls/{}", a.pull_number);
    let mut pr = if body.is_empty() {
        gh.api.get(&path, &[])?.json
    } else {
        gh.api
            .send("PATCH", &path, &[], Some(&Value::Object(body)))?
            .json
    };
    // REST cannot change the draft state; GraphQL can.
    if let Some(draft) = a.draft
        && pr["draft"].as_bool() != Some(draft)
    {
        let id = pr["node_id"].as_str().unwrap_or_default().to_string();
        let mutation = if draft {
            "mutation($id: ID!) { convertPullRequestToDraft(input: {pullRequestId: $id}) { pullRequest { isDraft } } }"
        } else {
            "mutation($id: ID!) { markPullRequestReadyForReview(input: {pullRequestId: $id}) { pullRequest { isDraft } } }"
        };
        gh.api.graphql(mutation, json!({"id": id}))?;
        pr["draft"] = json!(draft);
    }
    request_reviewers(
        gh,
        &base,
        a.pull_number,
        a.reviewers.as_deref().unwrap_or(&[]),
    )?;
    Ok(gh.out(&json!({"number": pr["number"], "state": pr["state"], "draft": pr["draft"], "title": pr["title"], "html_url": pr["html_url"]}), false))
}

fn review_write(gh: &mut Github, _: &CallContext, a: ReviewWrite) -> Result<CallResult, ToolError> {
    let base = gh.repo(&a.owner, &a.repo)?;
    let reviews = format!("{base}/pulls/{}/reviews", a.pull_number);
    let value = match a.method.as_str() {
        "create" => {
            let mut body = json!({"body": a.body, "commit_id": a.commit_id});
            if let Some(event) = &a.event {
                body["event"] = json!(event);
            }
            let r = gh.api.send("POST", &reviews, &[], Some(&body))?.json;
            json!({"id": r["id"], "state": r["state"], "html_url": r["html_url"]})
        }
        "submit_pending" | "delete_pending" => {
            let me = gh.me()?;
            let all = gh.api.get(&reviews, &[("per_page", "100".into())])?.json;
            let pending = all
                .as_array()
                .and_then(|rs| rs.iter().find(|r| r["state"] == "PENDING" && r["user"]["login"].as_str().is_some_and(|l| l.eq_ignore_ascii_case(&me))))
                .and_then(|r| r["id"].as_u64())
                .ok_or_else(|| ToolError::Failed(format!("{me} has no pending review on pull request {}: create one first (method=create without event)", a.pull_number)))?;
            let r = if a.method == "submit_pending" {
                let event = a.event.clone().ok_or_else(|| {
                    ToolError::Invalid(
                        "submit_pending needs event (APPROVE, REQUEST_CHANGES or COMMENT)".into(),
                    )
                })?;
                gh.api
                    .send(
                        "POST",
                        &format!("{reviews}/{pending}/events"),
                        &[],
                        Some(&json!({"event": event, "body": a.body})),
                    )?
                    .json
            } else {
                gh.api
                    .send("DELETE", &format!("{reviews}/{pending}"), &[], None)?
                    .json
            };
            json!({"id": pending, "state": r["state"]})
        }
        "resolve_thread" | "unresolve_thread" => {
            let id = a
                .thread_id
                .as_deref()
                .filter(|t| !t.is_empty())
                .ok_or_else(|| {
                    ToolError::Invalid(format!("{} needs threadId (PRRT_...)", a.method))
                })?;
            // The thread id names no repository: check it belongs to this pull request, so the
            // scope holds for GraphQL too.
            let owner = gh
                .api
                .graphql(
                    "query($id: ID!) { node(id: $id) { ... on PullRequestReviewThread { pullRequest { number repository { nameWithOwner } } } } }",
                    json!({"id": id}),
                )?;
            let pr = &owner["node"]["pullRequest"];
            let full = pr["repository"]["nameWithOwner"]
                .as_str()
                .unwrap_or_default();
            if !full.eq_ignore_ascii_case(&format!("{}/{}", a.owner, a.repo))
                || pr["number"].as_u64() != Some(a.pull_number)
            {
                return Err(ToolError::Denied(format!(
                    "review thread {id} is not a thread of {}/{} pull request {}",
                    a.owner, a.repo, a.pull_number
                )));
            }
            let (field, mutation) = if a.method == "resolve_thread" {
                (
                    "resolveReviewThread",
                    "mutation($id: ID!) { resolveReviewThread(input: {threadId: $id}) { thread { id isResolved } } }",
                )
            } else {
                (
                    "unresolveReviewThread",
                    "mutation($id: ID!) { unresolveReviewThread(input: {threadId: $id}) { thread { id isResolved } } }",
                )
            };
            let data = gh.api.graphql(mutation, json!({"id": id}))?;
            data[field]["thread"].clone()
        }
        other => {
            return Err(ToolError::Invalid(format!(
                "method must be create, submit_pending, delete_pending, resolve_thread or unresolve_thread, not {other:?}"
            )));
        }
    };
    Ok(gh.out(&value, false))
}
