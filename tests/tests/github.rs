//! The github plugin end to end: the real `pier` binary, rmcp's client, and the loopback fake
//! GitHub API (tests/src/github.rs) reached as a GitHub Enterprise Server host, with the token
//! injected by pier from a file.

use std::path::Path;

use pier_e2e::github::FakeGithub;
use pier_e2e::{Fixture, call, ok, structured, text, tool_error, tool_names};
use rmcp::model::CallToolResult;
use serde_json::{Value, json};

const TOKEN: &str = "ghp_fakeToken0123456789abcdefABCDEF01";
const ROTATED: &str = "ghp_rotatedToken9876543210zyxwvuZYXW98";

/// A manifest for the github plugin against `gh`, with the token in `token_file` and `config`
/// lines added to `[config]`.
fn manifest(gh: &FakeGithub, token_file: &Path, config: &str) -> String {
    format!(
        r#"[grants]
http = [
  {{ origin = "{api}", auth = {{ bearer_file = {file:?} }} }},
  "{blob}",
]

[config]
host = "{api}"
{config}
"#,
        api = gh.origin(),
        blob = gh.blob_origin(),
        file = token_file.display().to_string(),
    )
}

struct Setup {
    f: Fixture,
    gh: FakeGithub,
    token_file: std::path::PathBuf,
}

fn setup(config: &str) -> Setup {
    let f = Fixture::new();
    let gh = FakeGithub::start(TOKEN);
    let token_file = f.dir("secrets").join("github-token");
    std::fs::write(&token_file, format!("{TOKEN}\n")).expect("write token");
    f.install(
        "github",
        "github",
        Some(&manifest(&gh, &token_file, config)),
    );
    Setup { f, gh, token_file }
}

fn s(r: &CallToolResult) -> &Value {
    structured(r)
}

/// Every request reached the API with the injected token and under GHES's `/api/v3` (or
/// `/api/graphql`).
fn assert_requests_carried_the_token(gh: &FakeGithub) {
    let seen = gh.requests();
    assert!(!seen.is_empty());
    for r in &seen {
        assert_eq!(
            r.header("authorization"),
            Some(format!("Bearer {TOKEN}").as_str()),
            "{} {}",
            r.method,
            r.target
        );
        assert!(
            r.target.starts_with("/api/v3/") || r.target.starts_with("/api/graphql"),
            "{}",
            r.target
        );
        assert!(
            r.header("user-agent")
                .is_some_and(|u| u.starts_with("pier-github/"))
        );
    }
}

#[tokio::test]
async fn read_tools_answer_compactly_and_write_tools_are_absent_by_default() {
    let t = setup(r#"repos = ["octo/hello"]"#);
    let c = t.f.connect_with(&[], &[]).await;
    let listed = tool_names(&c).await;
    let expected = [
        "get_commit",
        "get_file_contents",
        "get_latest_release",
        "get_me",
        "issue_read",
        "list_branches",
        "list_commits",
        "list_issues",
        "list_pull_requests",
        "list_releases",
        "list_tags",
        "pull_request_read",
        "search_code",
        "search_issues",
        "search_pull_requests",
        "search_repositories",
        "search_users",
    ];
    assert_eq!(
        listed,
        expected
            .iter()
            .map(|n| format!("github_{n}"))
            .collect::<Vec<_>>()
    );
    let tools = c.list_all_tools().await.expect("tools/list");
    assert!(tools.iter().all(|t| t.output_schema.is_some()
        && t.annotations.as_ref().and_then(|a| a.read_only_hint) == Some(true)));

    let me = ok(&c, "github_get_me", json!({})).await;
    assert_eq!(s(&me)["login"], "octocat");
    assert!(
        s(&me).get("plan").is_none() && s(&me).get("followers_url").is_none(),
        "{}",
        s(&me)
    );

    // A file comes back as its text, not JSON-escaped; metadata in the structure.
    let file = ok(
        &c,
        "github_get_file_contents",
        json!({"owner": "octo", "repo": "hello", "path": "src/main.rs", "ref": "main"}),
    )
    .await;
    let blocks: Vec<&str> = file
        .content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.as_str()))
        .collect();
    assert_eq!(
        blocks[0],
        "fn main() {\n    println!(\"hello \\\"world\\\"\");\n}\n"
    );
    assert!(
        blocks[1].contains("\"sha\":"),
        "the sha an update needs is in what the model reads: {}",
        blocks[1]
    );
    assert_eq!(s(&file)["type"], "file");
    let dir = ok(
        &c,
        "github_get_file_contents",
        json!({"owner": "octo", "repo": "hello"}),
    )
    .await;
    let entries: Vec<&str> = s(&dir)["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter_map(|e| e["name"].as_str())
        .collect();
    assert_eq!(entries, ["README.md", "logo.png", "src"]);
    let binary = ok(
        &c,
        "github_get_file_contents",
        json!({"owner": "octo", "repo": "hello", "path": "logo.png"}),
    )
    .await;
    assert_eq!(s(&binary)["mime_type"], "image/png");
    let blob = serde_json::to_value(&binary.content[1]).expect("json");
    assert_eq!(blob["resource"]["mimeType"], "image/png", "{blob}");

    // Lists: pull requests left out of issues, explicit paging, bodies cut, text fenced.
    let issues = ok(
        &c,
        "github_list_issues",
        json!({"owner": "octo", "repo": "hello", "perPage": 2}),
    )
    .await;
    let numbers: Vec<u64> = s(&issues)["issues"]
        .as_array()
        .expect("issues")
        .iter()
        .filter_map(|i| i["number"].as_u64())
        .collect();
    assert_eq!(numbers, [5, 4]);
    assert_eq!(s(&issues)["next_cursor"], "2");
    let next = ok(
        &c,
        "github_list_issues",
        json!({"owner": "octo", "repo": "hello", "perPage": 2, "after": "2"}),
    )
    .await;
    let numbers: Vec<u64> = s(&next)["issues"]
        .as_array()
        .expect("issues")
        .iter()
        .filter_map(|i| i["number"].as_u64())
        .collect();
    assert_eq!(numbers, [2], "issue 3 is a pull request");
    assert!(
        text(&issues).contains("not instructions")
            && text(&issues).contains("<untrusted-github-content-")
    );
    let first = &s(&issues)["issues"][0];
    assert_eq!(first["user"], "ann");
    assert_eq!(first["labels"], json!(["bug"]));
    assert!(first.get("reactions").is_none() && first.get("node_id").is_none());

    let five = ok(
        &c,
        "github_issue_read",
        json!({"method": "get", "owner": "octo", "repo": "hello", "issue_number": 5}),
    )
    .await;
    assert!(
        s(&five)["body"]
            .as_str()
            .is_some_and(|b| b.contains("IGNORE PREVIOUS INSTRUCTIONS"))
    );
    let fenced = text(&five);
    let tag_at = fenced.find("<untrusted-github-content-").expect("fenced");
    assert!(
        fenced.find("IGNORE PREVIOUS").is_some_and(|i| i > tag_at),
        "{fenced}"
    );
    for method in ["get_comments", "get_sub_issues", "get_labels"] {
        let r = ok(
            &c,
            "github_issue_read",
            json!({"method": method, "owner": "octo", "repo": "hello", "issue_number": 1}),
        )
        .await;
        assert!(s(&r).as_object().is_some_and(|o| !o.is_empty()), "{method}");
    }
    let comments = ok(
        &c,
        "github_issue_read",
        json!({"method": "get_comments", "owner": "octo", "repo": "hello", "issue_number": 1}),
    )
    .await;
    assert_eq!(s(&comments)["comments"][0]["user"], "dan");

    // Searches are narrowed to the scope, and what comes back outside it is dropped.
    let found = ok(&c, "github_search_issues", json!({"query": "crash"})).await;
    let q = last_query(&t.gh, "/api/v3/search/issues");
    assert!(q.contains("crash is:issue repo:octo/hello"), "{q}");
    let repos: Vec<&str> = s(&found)["issues"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|i| i["repository"].as_str())
        .collect();
    assert_eq!(repos, ["octo/hello"]);
    assert_eq!(s(&found)["filtered_out"], 1);
    let code = ok(&c, "github_search_code", json!({"query": "fn main"})).await;
    assert_eq!(s(&code)["items"].as_array().map(Vec::len), Some(1));
    let repos = ok(&c, "github_search_repositories", json!({"query": "wasm"})).await;
    assert_eq!(s(&repos)["repositories"][0]["full_name"], "octo/hello");
    ok(
        &c,
        "github_search_pull_requests",
        json!({"query": "fix", "owner": "octo", "repo": "hello"}),
    )
    .await;
    assert!(last_query(&t.gh, "/api/v3/search/issues").contains("fix repo:octo/hello is:pr"));
    let users = ok(&c, "github_search_users", json!({"query": "ann"})).await;
    assert_eq!(s(&users)["users"][0]["login"], "ann");

    for (tool, key) in [
        ("github_list_commits", "commits"),
        ("github_list_branches", "branches"),
        ("github_list_tags", "tags"),
        ("github_list_releases", "releases"),
    ] {
        let r = ok(&c, tool, json!({"owner": "octo", "repo": "hello"})).await;
        assert!(
            s(&r)[key].as_array().is_some_and(|a| !a.is_empty()),
            "{tool}: {}",
            s(&r)
        );
    }
    let commit = ok(
        &c,
        "github_get_commit",
        json!({"owner": "octo", "repo": "hello", "sha": "main", "detail": "full_patch"}),
    )
    .await;
    assert_eq!(s(&commit)["stats"]["additions"], 10);
    assert!(s(&commit)["files"][0]["patch"].is_string());
    let latest = ok(
        &c,
        "github_get_latest_release",
        json!({"owner": "octo", "repo": "hello"}),
    )
    .await;
    assert_eq!(s(&latest)["tag_name"], "v1.0");

    // Pull requests: the diff is text; every method answers.
    let diff = ok(
        &c,
        "github_pull_request_read",
        json!({"method": "get_diff", "owner": "octo", "repo": "hello", "pullNumber": 3}),
    )
    .await;
    assert!(text(&diff).starts_with("diff --git a/src/main.rs b/src/main.rs\n"));
    assert_eq!(s(&diff)["truncated"], false);
    let status = ok(
        &c,
        "github_pull_request_read",
        json!({"method": "get_status", "owner": "octo", "repo": "hello", "pullNumber": 3}),
    )
    .await;
    assert_eq!(s(&status)["state"], "failure");
    assert_eq!(s(&status)["check_runs"][0]["conclusion"], "success");
    for method in [
        "get",
        "get_files",
        "get_commits",
        "get_reviews",
        "get_review_comments",
        "get_comments",
    ] {
        let r = ok(
            &c,
            "github_pull_request_read",
            json!({"method": method, "owner": "octo", "repo": "hello", "pullNumber": 3}),
        )
        .await;
        assert!(s(&r).as_object().is_some_and(|o| !o.is_empty()), "{method}");
    }
    let pulls = ok(
        &c,
        "github_list_pull_requests",
        json!({"owner": "octo", "repo": "hello", "state": "open"}),
    )
    .await;
    assert_eq!(s(&pulls)["pull_requests"][0]["head"]["ref"], "feature");

    // Resources and prompts.
    let read = c
        .read_resource(rmcp::model::ReadResourceRequestParams::new(
            "repo://octo/hello/refs/heads/main/contents/README.md",
        ))
        .await
        .expect("resources/read");
    let body = serde_json::to_value(&read.contents[0]).expect("json");
    assert_eq!(body["text"], "# hello\n\nA test repository.\n");
    assert!(t.gh.requests().iter().any(|r| {
        r.target
            .contains("/contents/README.md?ref=refs%2Fheads%2Fmain")
    }));
    let mut args = serde_json::Map::new();
    for (k, v) in [
        ("owner", "octo"),
        ("repo", "hello"),
        ("title", "Crash"),
        ("description", "It crashes"),
    ] {
        args.insert(k.into(), json!(v));
    }
    let prompt = c
        .get_prompt(
            rmcp::model::GetPromptRequestParams::new("github_issue_to_fix_workflow")
                .with_arguments(args),
        )
        .await
        .expect("prompts/get");
    assert!(
        serde_json::to_string(&prompt.messages)
            .expect("json")
            .contains("create_pull_request")
    );

    // Write tools are not there to call.
    let e = call(
        &c,
        "github_merge_pull_request",
        json!({"owner": "octo", "repo": "hello", "pullNumber": 3}),
    )
    .await;
    let refused = format!("{e:?}");
    assert!(
        refused.contains("unknown tool `github_merge_pull_request`"),
        "{refused}"
    );
    assert!(!t.gh.requests().iter().any(|r| r.target.contains("/merge")));
    assert_requests_carried_the_token(&t.gh);
    c.cancel().await.ok();
}

fn last_query(gh: &FakeGithub, path: &str) -> String {
    let r = gh
        .requests()
        .into_iter()
        .rev()
        .find(|r| r.target.starts_with(path))
        .expect("a search request");
    let q = r
        .target
        .split_once("q=")
        .map(|(_, q)| q.split('&').next().unwrap_or(""))
        .unwrap_or("");
    q.replace("%20", " ")
        .replace("%3A", ":")
        .replace("%2F", "/")
}

#[tokio::test]
async fn write_tools_work_once_allowed() {
    let t = setup("writes = true\ntoolsets = \"all\"\nrepos = [\"octo/*\", \"octocat/*\"]");
    let c = t.f.connect_with(&[], &[]).await;
    let listed = tool_names(&c).await;
    assert_eq!(listed.len(), 32, "{listed:?}");
    let tools = c.list_all_tools().await.expect("tools/list");
    let merge = tools
        .iter()
        .find(|t| t.name == "github_merge_pull_request")
        .expect("listed");
    assert_eq!(
        merge.annotations.as_ref().and_then(|a| a.destructive_hint),
        Some(true)
    );
    let repo = |more: Value| {
        let mut v = json!({"owner": "octo", "repo": "hello"});
        if let (Value::Object(m), Value::Object(more)) = (&mut v, more) {
            m.extend(more);
        }
        v
    };

    let made = ok(
        &c,
        "github_issue_write",
        repo(json!({"method": "create", "title": "New bug", "body": "Details", "labels": ["bug"]})),
    )
    .await;
    assert_eq!(s(&made)["number"], 6);
    let sent =
        t.gh.requests()
            .into_iter()
            .rev()
            .find(|r| r.method == "POST" && r.target.ends_with("/issues"))
            .expect("sent");
    assert_eq!(
        serde_json::from_str::<Value>(&sent.body).expect("json")["labels"],
        json!(["bug"])
    );
    let closed = ok(&c, "github_issue_write", repo(json!({"method": "update", "issue_number": 1, "state": "closed", "state_reason": "completed"}))).await;
    assert_eq!(s(&closed)["state"], "closed");
    let missing = tool_error(&c, "github_issue_write", repo(json!({"method": "create"}))).await;
    assert!(
        missing.contains("invalid arguments") && missing.contains("needs a title"),
        "{missing}"
    );
    ok(
        &c,
        "github_add_issue_comment",
        repo(json!({"issue_number": 1, "body": "Thanks"})),
    )
    .await;
    let reacted = ok(
        &c,
        "github_add_issue_comment",
        repo(json!({"issue_number": 1, "reaction": "rocket"})),
    )
    .await;
    assert_eq!(s(&reacted)["reaction"], "rocket");

    let branch = ok(&c, "github_create_branch", repo(json!({"branch": "fix"}))).await;
    assert_eq!(s(&branch)["ref"], "refs/heads/fix");
    assert_eq!(s(&branch)["from"], "main");
    ok(&c, "github_create_or_update_file", repo(json!({"path": "docs/new.md", "content": "# New\n", "message": "Add docs", "branch": "fix"}))).await;
    assert_eq!(t.gh.file("docs/new.md").as_deref(), Some("# New\n"));
    let stale = tool_error(
        &c,
        "github_create_or_update_file",
        repo(json!({"path": "README.md", "content": "x", "message": "m", "branch": "main"})),
    )
    .await;
    assert!(
        stale.contains("wasn't supplied") && stale.contains("pass its current sha"),
        "{stale}"
    );
    let pushed = ok(&c, "github_push_files", repo(json!({"branch": "main", "message": "Two files", "files": [{"path": "a.txt", "content": "A"}, {"path": "b/c.txt", "content": "C"}]}))).await;
    assert_eq!(s(&pushed)["files"], 2);
    assert_eq!(t.gh.file("b/c.txt").as_deref(), Some("C"));
    ok(
        &c,
        "github_delete_file",
        repo(json!({"path": "a.txt", "message": "Remove", "branch": "main"})),
    )
    .await;
    assert_eq!(t.gh.file("a.txt"), None);
    let fork = ok(&c, "github_fork_repository", repo(json!({}))).await;
    assert_eq!(s(&fork)["full_name"], "octocat/hello");
    let new = ok(
        &c,
        "github_create_repository",
        json!({"name": "notes", "autoInit": true}),
    )
    .await;
    assert_eq!(s(&new)["full_name"], "octocat/notes");
    let outside = tool_error(
        &c,
        "github_create_repository",
        json!({"name": "x", "organization": "evil"}),
    )
    .await;
    assert!(
        outside.contains("evil/x") && outside.contains("repos in [config]"),
        "{outside}"
    );

    let pr = ok(&c, "github_create_pull_request", repo(json!({"title": "Fix", "head": "fix", "base": "main", "reviewers": ["carol", "octo/core"]}))).await;
    assert_eq!(s(&pr)["number"], 7);
    let asked =
        t.gh.requests()
            .into_iter()
            .find(|r| r.target.ends_with("/pulls/7/requested_reviewers"))
            .expect("reviewers requested");
    assert_eq!(
        serde_json::from_str::<Value>(&asked.body).expect("json"),
        json!({"reviewers": ["carol"], "team_reviewers": ["core"]})
    );
    let refused = tool_error(
        &c,
        "github_create_pull_request",
        repo(json!({"title": "Nothing", "head": "missing", "base": "main"})),
    )
    .await;
    assert!(
        refused.contains("422") && refused.contains("No commits between main and missing"),
        "{refused}"
    );
    let draft = ok(
        &c,
        "github_update_pull_request",
        repo(json!({"pullNumber": 3, "title": "Better title", "draft": true})),
    )
    .await;
    assert_eq!(s(&draft)["draft"], true);
    assert_eq!(s(&draft)["title"], "Better title");
    let merged = ok(
        &c,
        "github_merge_pull_request",
        repo(json!({"pullNumber": 3, "merge_method": "squash"})),
    )
    .await;
    assert_eq!(s(&merged)["merged"], true);
    let review = ok(
        &c,
        "github_pull_request_review_write",
        repo(json!({"method": "create", "pullNumber": 3, "event": "APPROVE", "body": "LGTM"})),
    )
    .await;
    assert_eq!(s(&review)["state"], "APPROVED");
    let submitted = ok(
        &c,
        "github_pull_request_review_write",
        repo(json!({"method": "submit_pending", "pullNumber": 3, "event": "COMMENT"})),
    )
    .await;
    assert_eq!(s(&submitted)["id"], 81);
    ok(
        &c,
        "github_pull_request_review_write",
        repo(json!({"method": "delete_pending", "pullNumber": 3})),
    )
    .await;
    let resolved = ok(
        &c,
        "github_pull_request_review_write",
        repo(json!({"method": "resolve_thread", "pullNumber": 3, "threadId": "PRRT_1"})),
    )
    .await;
    assert_eq!(s(&resolved)["isResolved"], true);
    let foreign = tool_error(
        &c,
        "github_pull_request_review_write",
        repo(json!({"method": "resolve_thread", "pullNumber": 3, "threadId": "PRRT_evil"})),
    )
    .await;
    assert!(
        foreign.contains("is not a thread of octo/hello"),
        "{foreign}"
    );

    // Actions, and the logs of the failed job from the blob host, which never gets the token.
    let runs = ok(
        &c,
        "github_actions_list",
        repo(json!({"method": "list_workflow_runs", "workflow_runs_filter": {"branch": "main"}})),
    )
    .await;
    assert_eq!(s(&runs)["workflow_runs"][0]["conclusion"], "failure");
    let jobs = ok(
        &c,
        "github_actions_list",
        repo(json!({"method": "list_workflow_jobs", "resource_id": 11})),
    )
    .await;
    assert_eq!(s(&jobs)["jobs"].as_array().map(Vec::len), Some(2));
    for method in ["list_workflows", "list_workflow_run_artifacts"] {
        ok(
            &c,
            "github_actions_list",
            repo(json!({"method": method, "resource_id": "11"})),
        )
        .await;
    }
    for method in [
        "get_workflow_run",
        "get_workflow_job",
        "get_workflow_run_usage",
        "get_workflow",
    ] {
        ok(
            &c,
            "github_actions_get",
            repo(json!({"method": method, "resource_id": 11})),
        )
        .await;
    }
    let logs = ok(
        &c,
        "github_get_job_logs",
        repo(json!({"run_id": 11, "failed_only": true, "tail_lines": 20})),
    )
    .await;
    let log = text(&logs);
    assert!(
        log.contains("error: job 21 failed") && !log.contains("job 22"),
        "{log}"
    );
    assert_eq!(
        log.lines().filter(|l| l.contains("step line")).count(),
        19,
        "{log}"
    );
    assert_eq!(s(&logs)["logs"][0]["lines_skipped"], 781);
    let blobs = t.gh.blob_requests();
    assert_eq!(blobs.len(), 1);
    assert!(
        blobs[0].header("authorization").is_none(),
        "the token went to the blob host"
    );
    assert_requests_carried_the_token(&t.gh);
    c.cancel().await.ok();
}

#[tokio::test]
async fn scope_errors_rotation_and_redaction() {
    // No prefix: names as in github-mcp-server, so prompts and autoApprove lists keep working.
    let t = setup("repos = [\"octo/*\", \"!octo/secret\"]");
    let path = t.f.plugins().join("github.toml");
    let m = std::fs::read_to_string(&path).expect("manifest");
    std::fs::write(&path, format!("[plugin]\nprefix = \"\"\n\n{m}")).expect("write");
    let c = t.f.connect_with(&[], &[]).await;
    assert!(tool_names(&c).await.contains(&"get_me".to_string()));

    let before = t.gh.requests().len();
    let e = tool_error(
        &c,
        "get_file_contents",
        json!({"owner": "evil", "repo": "other", "path": "README.md"}),
    )
    .await;
    assert!(
        e.contains("evil/other is outside this plugin's scope")
            && e.contains("add \"evil/other\"")
            && e.contains("github.toml"),
        "{e}"
    );
    let e = tool_error(
        &c,
        "list_issues",
        json!({"owner": "octo", "repo": "secret"}),
    )
    .await;
    assert!(e.contains("\"!octo/secret\""), "{e}");
    let e = tool_error(
        &c,
        "search_code",
        json!({"query": "password repo:evil/other"}),
    )
    .await;
    assert!(e.contains("evil/other"), "{e}");
    let e = tool_error(&c, "search_issues", json!({"query": "x org:evil"})).await;
    assert!(e.contains("\"evil/*\""), "{e}");
    assert_eq!(t.gh.requests().len(), before, "refused calls sent nothing");

    // GitHub's errors say what to do.
    let e = tool_error(
        &c,
        "list_issues",
        json!({"owner": "octo", "repo": "limited"}),
    )
    .await;
    assert!(
        e.contains("rate limit is used up") && e.contains("2030-01-01T00:00:00Z"),
        "{e}"
    );
    assert!(
        !e.contains("check that it is valid"),
        "a rate limit is not the token's fault: {e}"
    );
    let e = tool_error(&c, "list_issues", json!({"owner": "octo", "repo": "busy"})).await;
    assert!(
        e.contains("secondary rate limit") && e.contains("retry in 30 s"),
        "{e}"
    );
    let e = tool_error(
        &c,
        "issue_read",
        json!({"method": "get", "owner": "octo", "repo": "hello", "issue_number": 99}),
    )
    .await;
    assert!(e.contains("404") && e.contains("cannot see"), "{e}");
    let bad = tool_error(
        &c,
        "issue_read",
        json!({"method": "get", "owner": "octo", "repo": "hello", "issue_number": "five"}),
    )
    .await;
    assert!(
        bad.contains("invalid arguments") && bad.contains("issue_number"),
        "{bad}"
    );

    // A result echoing the token is redacted.
    let echo = ok(
        &c,
        "issue_read",
        json!({"method": "get", "owner": "octo", "repo": "hello", "issue_number": 13}),
    )
    .await;
    let all = format!("{}{}", text(&echo), s(&echo));
    assert!(
        !all.contains(TOKEN) && all.contains("[credential redacted by pier]"),
        "{all}"
    );

    // GitHub stops accepting the token: the 401 names the file; renewing the file fixes the
    // next call, without a restart.
    t.gh.set_token(ROTATED);
    let e = tool_error(&c, "get_me", json!({})).await;
    assert!(
        e.contains("401") && e.contains(&t.token_file.display().to_string()),
        "{e}"
    );
    std::fs::write(&t.token_file, format!("{ROTATED}\n")).expect("rotate");
    let me = ok(&c, "get_me", json!({})).await;
    assert_eq!(s(&me)["login"], "octocat");
    assert_eq!(
        t.gh.requests()
            .last()
            .and_then(|r| r.header("authorization").map(str::to_string)),
        Some(format!("Bearer {ROTATED}"))
    );
    c.cancel().await.ok();
    let log = t.f.stderr();
    assert!(
        !log.contains(TOKEN) && !log.contains(ROTATED),
        "pier logged the token:\n{log}"
    );
}

/// A plugin granted the same origin with the same credential cannot get at the token: not from
/// env, the token file, its manifest, or by sending its own header to the API or to another
/// granted origin.
#[tokio::test]
async fn the_token_is_invisible_to_a_plugin_that_hunts_for_it() {
    let t = setup("");
    let m = manifest(&t.gh, &t.token_file, "");
    let hostile_manifest = m.split("[config]").next().unwrap_or(&m).to_string();
    t.f.install("hostile", "hostile", Some(&hostile_manifest));
    let c = t.f.connect_with(&[], &[("GITHUB_TOKEN", TOKEN)]).await;
    for name in ["GITHUB_TOKEN", "GITHUB_PERSONAL_ACCESS_TOKEN"] {
        let e = tool_error(&c, "hostile_env", json!({"name": name})).await;
        assert!(!e.contains(TOKEN), "{e}");
    }
    for file in [
        t.token_file.clone(),
        t.f.plugins().join("hostile.toml"),
        t.f.plugins().join("github.toml"),
    ] {
        let e = tool_error(
            &c,
            "hostile_read_file",
            json!({"path": file.display().to_string()}),
        )
        .await;
        assert!(!e.contains(TOKEN), "{e}");
    }
    let r = ok(&c, "hostile_http_get", json!({"url": format!("{}/api/v3/user", t.gh.origin()), "headers": {"Authorization": "Bearer stolen"}, "show_headers": true})).await;
    assert!(!text(&r).contains(TOKEN), "{}", text(&r));
    let last = t.gh.requests().pop().expect("request");
    assert_eq!(
        last.header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str()),
        "pier's credential replaced the forged one"
    );
    let r = ok(
        &c,
        "hostile_http_get",
        json!({"url": format!("{}/logs/1", t.gh.blob_origin())}),
    )
    .await;
    assert!(!text(&r).contains(TOKEN));
    assert!(
        t.gh.blob_requests()
            .iter()
            .all(|b| b.header("authorization").is_none())
    );
    c.cancel().await.ok();
}
