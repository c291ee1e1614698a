//! pier.toml on stdio: the caller identity from the file (the flag wins), rate limits and the
//! audit log apply as they do over HTTP, and a bad pier.toml stops pier with the line at fault.

use std::time::Duration;

use pier_e2e::{Fixture, ok, structured, tool_error};
use serde_json::{Value, json};

fn write_config(f: &Fixture) -> String {
    let path = f.path().join("pier.toml");
    std::fs::write(
        &path,
        r#"
identity = "from-config"

[audit]
file = "audit.jsonl"

[[rate_limits]]
tool = "probe_count"
rate = 0.5
burst = 1
"#,
    )
    .expect("pier.toml");
    path.display().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn identity_rate_limits_and_audit_on_stdio() {
    let f = Fixture::new();
    f.install("probe", "probe", None);
    let config = write_config(&f);
    let client = f.connect_with(&["--config", &config], &[]).await;
    let r = ok(&client, "probe_echo", json!({"token": "s3cret-value"})).await;
    assert_eq!(structured(&r)["identity"], "from-config");
    ok(&client, "probe_count", json!({})).await;
    let limited = tool_error(&client, "probe_count", json!({})).await;
    assert!(
        limited.contains("`from-config`") && limited.contains("retry in"),
        "{limited}"
    );
    // Ending the session drains the audit queue before pier exits.
    client.cancel().await.expect("close");

    let path = f.path().join("audit.jsonl");
    let mut text = String::new();
    for _ in 0..100 {
        text = std::fs::read_to_string(&path).unwrap_or_default();
        if text.lines().count() >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(!text.contains("s3cret-value"), "{text}");
    assert_eq!(lines[0]["args"]["token"], "[redacted]");
    assert!(
        lines.iter().all(|l| l["identity"] == "from-config"),
        "{text}"
    );
    assert_eq!(lines[2]["outcome"], "rate_limited");
    assert!(
        lines[0].get("session").is_none(),
        "stdio has no session: {text}"
    );

    // --identity beats the file.
    let client = f
        .connect_with(&["--config", &config, "--identity", "from-flag"], &[])
        .await;
    let r = ok(&client, "probe_echo", json!({})).await;
    assert_eq!(structured(&r)["identity"], "from-flag");
}

/// Starts `pier serve --config` on `text` and returns what it printed on failing to start.
async fn refused(f: &Fixture, text: &str) -> String {
    let path = f.path().join("pier.toml");
    std::fs::write(&path, text).expect("write pier.toml");
    f.serve_fails(&["--config", path.to_str().expect("utf-8")], &[])
        .await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_pier_toml_stops_pier_with_the_line() {
    let f = Fixture::new();
    let err = refused(
        &f,
        "identity = \"x\"\n[[rate_limits]]\ntool = \"*\"\nrate = 0\nburst = 1\n",
    )
    .await;
    assert!(err.contains("rate must be a positive number"), "{err}");
    let err = refused(&f, "[http]\nlisten = \"127.0.0.1:0\"\nstatless = true\n").await;
    assert!(err.contains("statless") && err.contains("line 3"), "{err}");
    // An HTTP-only flag without --http is a mistake, not something to ignore.
    let err = f.serve_fails(&["--stateless"], &[]).await;
    assert!(err.contains("applies to HTTP only"), "{err}");
}
