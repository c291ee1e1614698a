//! The fake GitHub API of the tests (tests/src/github.rs) as a process, for bench/github.py:
//! prints `{"origin": ..., "blob_origin": ...}` on one line, then serves until killed.
//!
//! Environment: `FAKE_GITHUB_TOKEN` (the bearer token it accepts), `FAKE_GITHUB_ISSUES` (how
//! many issues `octo/hello` lists; default 30).

use pier_e2e::github::FakeGithub;

fn main() {
    let token = std::env::var("FAKE_GITHUB_TOKEN").unwrap_or_else(|_| "bench-token".into());
    let gh = FakeGithub::start(&token);
    let issues = std::env::var("FAKE_GITHUB_ISSUES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(30);
    gh.set_issue_count(issues);
    println!(
        "{}",
        serde_json::json!({"origin": gh.origin(), "blob_origin": gh.blob_origin()})
    );
    loop {
        std::thread::park();
    }
}
