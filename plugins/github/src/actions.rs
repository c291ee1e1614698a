//! The `actions` toolset: workflows, runs, jobs, artifacts, and job logs (the tail, or only the
//! failed jobs of a run). Logs are served from another host by a signed link: the manifest must
//! grant that origin, and the token is never sent there.

use pier_sdk::{CallContext, CallResult, Tool, ToolError, Tools, Value, json};
use serde::Deserialize;

use crate::settings::Settings;
use crate::shape::{self, Page};
use crate::{Github, Paging, offer, paging, props, push_set, repo_schema};

#[derive(Deserialize, Default)]
struct RunsFilter {
    #[serde(default)]
    branch: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    event: Option<String>,
    #[serde(default)]
    actor: Option<String>,
}

#[derive(Deserialize, Default)]
struct JobsFilter {
    #[serde(default)]
    filter: Option<String>,
}

#[derive(Deserialize)]
struct ActionsList {
    method: String,
    owner: String,
    repo: String,
    #[serde(default)]
    resource_id: Option<Value>,
    #[serde(default)]
    workflow_runs_filter: Option<RunsFilter>,
    #[serde(default)]
    workflow_jobs_filter: Option<JobsFilter>,
    #[serde(flatten)]
    paging: Paging,
}

#[derive(Deserialize)]
struct ActionsGet {
    method: String,
    owner: String,
    repo: String,
    resource_id: Value,
}

#[derive(Deserialize)]
struct JobLogs {
    owner: String,
    repo: String,
    #[serde(default)]
    job_id: Option<u64>,
    #[serde(default)]
    run_id: Option<u64>,
    #[serde(default)]
    failed_only: Option<bool>,
    #[serde(default)]
    return_content: Option<bool>,
    #[serde(default)]
    tail_lines: Option<usize>,
}

const LIST_METHODS: &[&str] = &[
    "list_workflows",
    "list_workflow_runs",
    "list_workflow_jobs",
    "list_workflow_run_artifacts",
];
const GET_METHODS: &[&str] = &[
    "get_workflow",
    "get_workflow_run",
    "get_workflow_job",
    "get_workflow_run_usage",
];

fn run(r: &Value) -> Value {
    Value::Object(shape::pick(
        r,
        &[
            "id",
            "name",
            "run_number",
            "run_attempt",
            "event",
            "status",
            "conclusion",
            "head_branch",
            "head_sha",
            "workflow_id",
            "created_at",
            "updated_at",
            "html_url",
        ],
    ))
}

fn job(j: &Value) -> Value {
    let mut out = shape::pick(
        j,
        &[
            "id",
            "run_id",
            "name",
            "status",
            "conclusion",
            "started_at",
            "completed_at",
            "html_url",
        ],
    );
    if let Some(steps) = j["steps"].as_array() {
        let steps: Vec<Value> = steps
            .iter()
            .map(|s| Value::Object(shape::pick(s, &["number", "name", "status", "conclusion"])))
            .collect();
        out.insert("steps".into(), Value::Array(steps));
    }
    Value::Object(out)
}

fn id_text(v: &Option<Value>) -> Option<String> {
    match v {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    }
}

pub fn declare(tools: &mut Tools<Github>, settings: &Settings) {
    offer(
        tools,
        settings,
        Tool::reads(
            "actions_list",
            "List GitHub Actions",
            "Lists Actions items. method: list_workflows; list_workflow_runs (resource_id = a \
             workflow id or file name to narrow, workflow_runs_filter for branch/status/event/\
             actor); list_workflow_jobs (resource_id = run id); list_workflow_run_artifacts \
             (resource_id = run id).",
        )
        .input_schema(repo_schema(
            props(&[
                json!({
                    "method": {"type": "string", "enum": LIST_METHODS},
                    "resource_id": {"type": ["string", "integer"], "description": "Workflow id or file name, or run id (see method)"},
                    "workflow_runs_filter": {"type": "object", "properties": {"branch": {"type": "string"}, "status": {"type": "string"}, "event": {"type": "string"}, "actor": {"type": "string"}}},
                    "workflow_jobs_filter": {"type": "object", "properties": {"filter": {"type": "string", "enum": ["latest", "all"]}}}
                }),
                paging(),
            ]),
            &["method"],
        ))
        .output_schema(shape::object_schema(&["page"])),
        actions_list,
    );
    offer(
        tools,
        settings,
        Tool::reads(
            "actions_get",
            "Get a GitHub Actions item",
            "One Actions item by id. method: get_workflow (id or file name), get_workflow_run, \
             get_workflow_job, get_workflow_run_usage.",
        )
        .input_schema(repo_schema(
            json!({
                "method": {"type": "string", "enum": GET_METHODS},
                "resource_id": {"type": ["string", "integer"], "description": "The workflow, run or job id"}
            }),
            &["method", "resource_id"],
        ))
        .output_schema(shape::object_schema(&[])),
        actions_get,
    );
    offer(
        tools,
        settings,
        Tool::reads(
            "get_job_logs",
            "Get job logs",
            "The log of a job (job_id), or of every failed job of a run (run_id with \
             failed_only=true): its last tail_lines lines (default 500). return_content=false \
             gives the download links instead.",
        )
        .input_schema(repo_schema(
            json!({
                "job_id": {"type": "integer"},
                "run_id": {"type": "integer"},
                "failed_only": {"type": "boolean", "description": "With run_id: only failed jobs"},
                "return_content": {"type": "boolean", "default": true},
                "tail_lines": {"type": "integer", "minimum": 1, "default": 500}
            }),
            &[],
        ))
        .output_schema(shape::object_schema(&["logs"])),
        get_job_logs,
    );
}

fn actions_list(gh: &mut Github, _: &CallContext, a: ActionsList) -> Result<CallResult, ToolError> {
    let base = gh.repo(&a.owner, &a.repo)?;
    let id = id_text(&a.resource_id);
    let need_id = |what: &str| {
        id.clone()
            .ok_or_else(|| ToolError::Invalid(format!("{} needs resource_id ({what})", a.method)))
    };
    let mut query = a.paging.query();
    let (url, key, list_key, item): (String, &'static str, &str, fn(&Value) -> Value) =
        match a.method.as_str() {
            "list_workflows" => (
                format!("{base}/actions/workflows"),
                "workflows",
                "workflows",
                |w| Value::Object(shape::pick(w, &["id", "name", "path", "state", "html_url"])),
            ),
            "list_workflow_runs" => {
                if let Some(f) = &a.workflow_runs_filter {
                    push_set(
                        &mut query,
                        &[
                            ("branch", &f.branch),
                            ("status", &f.status),
                            ("event", &f.event),
                            ("actor", &f.actor),
                        ],
                    );
                }
                let url = match &id {
                    Some(w) => format!("{base}/actions/workflows/{}/runs", crate::api::encode(w)),
                    None => format!("{base}/actions/runs"),
                };
                (url, "workflow_runs", "workflow_runs", run)
            }
            "list_workflow_jobs" => {
                let run_id = need_id("the run id")?;
                let filter = a
                    .workflow_jobs_filter
                    .as_ref()
                    .and_then(|f| f.filter.clone())
                    .unwrap_or_else(|| "latest".into());
                query.push(("filter", filter));
                (
                    format!("{base}/actions/runs/{}/jobs", crate::api::encode(&run_id)),
                    "jobs",
                    "jobs",
                    job,
                )
            }
            "list_workflow_run_artifacts" => {
                let run_id = need_id("the run id")?;
                (
                    format!(
                        "{base}/actions/runs/{}/artifacts",
                        crate::api::encode(&run_id)
                    ),
                    "artifacts",
                    "artifacts",
                    |x| {
                        Value::Object(shape::pick(
                            x,
                            &[
                                "id",
                                "name",
                                "size_in_bytes",
                                "expired",
                                "created_at",
                                "expires_at",
                            ],
                        ))
                    },
                )
            }
            other => {
                return Err(ToolError::Invalid(format!(
                    "method must be one of {}, not {other:?}",
                    LIST_METHODS.join(", ")
                )));
            }
        };
    let answer = gh.api.get(&url, &query)?;
    let items = answer.json[list_key]
        .as_array()
        .map(|v| v.iter().map(item).collect())
        .unwrap_or_default();
    let page = Page {
        key,
        items,
        page: a.paging.page(),
        next_page: answer.next_page,
        total_count: answer.json["total_count"].as_u64(),
    };
    Ok(gh.out(&page.value(None, gh.max_bytes()), false))
}

fn actions_get(gh: &mut Github, _: &CallContext, a: ActionsGet) -> Result<CallResult, ToolError> {
    let base = gh.repo(&a.owner, &a.repo)?;
    let id = id_text(&Some(a.resource_id.clone()))
        .map(|i| crate::api::encode(&i))
        .ok_or_else(|| {
            ToolError::Invalid("resource_id must be an id or a workflow file name".into())
        })?;
    let value = match a.method.as_str() {
        "get_workflow" => {
            let w = gh
                .api
                .get(&format!("{base}/actions/workflows/{id}"), &[])?
                .json;
            Value::Object(shape::pick(
                &w,
                &[
                    "id",
                    "name",
                    "path",
                    "state",
                    "created_at",
                    "updated_at",
                    "html_url",
                ],
            ))
        }
        "get_workflow_run" => run(&gh.api.get(&format!("{base}/actions/runs/{id}"), &[])?.json),
        "get_workflow_job" => job(&gh.api.get(&format!("{base}/actions/jobs/{id}"), &[])?.json),
        "get_workflow_run_usage" => {
            gh.api
                .get(&format!("{base}/actions/runs/{id}/timing"), &[])?
                .json
        }
        other => {
            return Err(ToolError::Invalid(format!(
                "method must be one of {}, not {other:?}",
                GET_METHODS.join(", ")
            )));
        }
    };
    Ok(gh.out(&value, false))
}

/// The last `n` lines of `text`, and whether lines were left out.
/// Scans back from the end, so a log of millions of lines costs no list of them.
fn tail(text: &str, n: usize) -> (String, usize) {
    let body = text.strip_suffix('\n').unwrap_or(text);
    match body.rmatch_indices('\n').nth(n.saturating_sub(1)) {
        Some((at, _)) if n > 0 => {
            let skipped = body[..at].matches('\n').count() + 1;
            (body[at + 1..].to_string(), skipped)
        }
        _ => (body.to_string(), 0),
    }
}

fn get_job_logs(gh: &mut Github, _: &CallContext, a: JobLogs) -> Result<CallResult, ToolError> {
    let base = gh.repo(&a.owner, &a.repo)?;
    let jobs: Vec<Value> = match (a.job_id, a.run_id) {
        (Some(id), _) => vec![json!({"id": id})],
        (None, Some(run_id)) => {
            let all = gh
                .api
                .get(
                    &format!("{base}/actions/runs/{run_id}/jobs"),
                    &[("per_page", "100".into())],
                )?
                .json;
            let jobs = all["jobs"].as_array().cloned().unwrap_or_default();
            if a.failed_only.unwrap_or(false) {
                jobs.into_iter()
                    .filter(|j| j["conclusion"] == "failure")
                    .collect()
            } else {
                jobs
            }
        }
        (None, None) => {
            return Err(ToolError::Invalid(
                "give job_id, or run_id (with failed_only=true for the failed jobs)".into(),
            ));
        }
    };
    let tail_lines = a.tail_lines.unwrap_or(500).max(1);
    let content = a.return_content.unwrap_or(true);
    let budget = gh.max_bytes() / jobs.len().max(1);
    let mut logs = Vec::new();
    let mut texts = Vec::new();
    for j in &jobs {
        let id = j["id"].as_u64().unwrap_or(0);
        let location = gh
            .api
            .get_location(&format!("{base}/actions/jobs/{id}/logs"))?;
        let mut entry = json!({"job_id": id});
        if let Some(name) = j["name"].as_str() {
            entry["name"] = json!(name);
        }
        if content {
            let log = gh.api.download(&location)?.text();
            let (tailed, skipped) = tail(&log, tail_lines);
            let (kept, cut) = shape::cap_end(&tailed, budget);
            entry["lines_skipped"] = json!(skipped);
            entry["truncated"] = json!(cut || skipped > 0);
            texts.push(format!(
                "=== job {id} {} (last {tail_lines} lines) ===\n{kept}",
                j["name"].as_str().unwrap_or("")
            ));
        } else {
            entry["logs_url"] = json!(location);
        }
        logs.push(entry);
    }
    let value = json!({"logs": logs, "jobs": jobs.len()});
    if !content || texts.is_empty() {
        if jobs.is_empty() {
            return Ok(gh.out(&json!({"logs": [], "jobs": 0, "note": "no job matched (failed_only leaves only jobs that failed)"}), false));
        }
        return Ok(gh.out(&value, false));
    }
    // Logs as text (not JSON-escaped); the structured copy has the same lines.
    Ok(CallResult {
        content: vec![pier_sdk::Content::Text(texts.join("\n\n"))],
        structured: Some(value.to_string()),
        is_error: false,
    })
}

#[cfg(test)]
mod tests {
    use super::tail;

    #[test]
    fn the_tail_keeps_the_last_lines_and_counts_the_rest() {
        assert_eq!(tail("a\nb\nc\nd\n", 2), ("c\nd".to_string(), 2));
        assert_eq!(tail("a\nb", 5), ("a\nb".to_string(), 0));
        assert_eq!(tail("a\nb\nc", 1), ("c".to_string(), 2));
        assert_eq!(tail("", 3), (String::new(), 0));
    }
}
