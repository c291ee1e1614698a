//! Streamable HTTP end to end: the real pier binary serving `/mcp`, rmcp's HTTP client and
//! plain HTTP requests. Tokens, scopes, trusted-proxy identity, the Host/Origin guard, rate
//! limits, the audit log, metrics and health endpoints.

use std::time::Duration;

use pier_e2e::http::{HttpServer, http_client, initialize_body, post_mcp};
use pier_e2e::{Fixture, call, ok, structured, text, tool_error, tool_names};
use serde_json::{Value, json};

const ALICE: &str = "alice-token-0123456789abcdef";
const NARROW: &str = "narrow-token-0123456789abcdef";
const OTHER: &str = "other-token-0123456789abcdef";
const GATEWAY: &str = "gateway-token-0123456789abcdef";
const READER: &str = "reader-token-0123456789abcdef";

/// A probe plugin, four tokens and a pier.toml with an identity header, an audit log and a rate
/// limit on alice's `probe_count`.
fn setup(f: &Fixture) -> String {
    f.install("probe", "probe", None);
    let tokens = f.path().join("tokens.toml");
    std::fs::write(
        &tokens,
        format!(
            r#"
[[tokens]]
identity = "alice"
token = "{ALICE}"

[[tokens]]
identity = "narrow"
token_env = "NARROW_TOKEN"
scopes = ["probe:echo"]

[[tokens]]
identity = "other"
token = "{OTHER}"
scopes = ["filesystem"]

[[tokens]]
identity = "gateway"
token_sha256 = "{}"
trusted_proxy = true

[[tokens]]
identity = "reader"
token = "{READER}"
read_only = true
"#,
            sha256_hex(GATEWAY)
        ),
    )
    .expect("tokens file");
    let config = f.path().join("pier.toml");
    std::fs::write(
        &config,
        r#"
[http]
identity_header = "x-rls-user-id"
tokens_file = "tokens.toml"

[audit]
file = "audit/audit.jsonl"

[[rate_limits]]
identity = "alice"
tool = "probe_count"
rate = 5
burst = 2
"#,
    )
    .expect("pier.toml");
    config.display().to_string()
}

fn sha256_hex(s: &str) -> String {
    let out = std::process::Command::new("sha256sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().expect("stdin").write_all(s.as_bytes())?;
            c.wait_with_output()
        })
        .expect("sha256sum");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .expect("digest")
        .to_string()
}

async fn start(f: &Fixture) -> HttpServer {
    let config = setup(f);
    f.serve_http(&["--config", &config], &[("NARROW_TOKEN", NARROW)])
        .await
}

/// The identity the probe plugin sees in its call context.
async fn identity_seen(client: &pier_e2e::Client) -> Value {
    structured(&ok(client, "probe_echo", json!({})).await)["identity"].clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn token_opens_the_door_and_its_absence_is_401() {
    let f = Fixture::new();
    let server = start(&f).await;

    let client = server.connect(Some(ALICE), &[]).await;
    let names = tool_names(&client).await;
    assert!(names.contains(&"probe_echo".to_string()), "{names:?}");
    let r = ok(&client, "probe_echo", json!({"q": 1})).await;
    assert_eq!(structured(&r)["identity"], "alice");
    // The session id reaches the plugin's call context too.
    assert!(structured(&r)["session"].is_string(), "{}", text(&r));

    // No token, a wrong token, another scheme: 401 with a Bearer challenge, and MCP never runs.
    let missing = post_mcp(&server, &initialize_body(), &[]).await;
    assert_eq!(missing.status(), 401);
    let challenge = missing.headers()["www-authenticate"]
        .to_str()
        .expect("ascii")
        .to_string();
    assert!(
        challenge.starts_with("Bearer realm=\"pier\""),
        "{challenge}"
    );
    assert!(
        missing
            .text()
            .await
            .expect("body")
            .contains("Authorization: Bearer")
    );
    let wrong_token = format!("Bearer {ALICE}x");
    let wrong = post_mcp(
        &server,
        &initialize_body(),
        &[("authorization", &wrong_token)],
    )
    .await;
    assert_eq!(wrong.status(), 401);
    let challenge = wrong.headers()["www-authenticate"]
        .to_str()
        .expect("ascii")
        .to_string();
    assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
    let basic = post_mcp(
        &server,
        &initialize_body(),
        &[("authorization", "Basic YWxpY2U6eA==")],
    )
    .await;
    assert_eq!(basic.status(), 401);
    let Err(e) = server.try_connect(None, &[]).await else {
        panic!("an rmcp client without a token was let in");
    };
    assert!(
        e.contains("401") || e.to_lowercase().contains("auth"),
        "{e}"
    );

    // The token is never written to the log, even when it was the wrong one.
    let log = f.stderr();
    assert!(log.contains("unauthorized"), "{log}");
    assert!(!log.contains(ALICE), "a token leaked into the log");

    // The session survives the refused requests.
    ok(&client, "probe_echo", json!({})).await;
    client.cancel().await.expect("close");
}

#[tokio::test(flavor = "multi_thread")]
async fn foreign_origin_and_host_are_refused_with_403() {
    let f = Fixture::new();
    let server = start(&f).await;
    let auth = format!("Bearer {ALICE}");
    let evil = post_mcp(
        &server,
        &initialize_body(),
        &[("authorization", &auth), ("origin", "https://evil.example")],
    )
    .await;
    assert_eq!(evil.status(), 403);
    let body = evil.text().await.expect("body");
    assert!(
        body.contains("https://evil.example") && body.contains("allowed_origins"),
        "{body}"
    );

    // DNS rebinding: the browser sends the attacker's host name in Host.
    let port = server.base.rsplit(':').next().expect("port");
    let rebinding_host = format!("evil.example:{port}");
    let rebound = post_mcp(
        &server,
        &initialize_body(),
        &[("authorization", &auth), ("host", &rebinding_host)],
    )
    .await;
    assert_eq!(rebound.status(), 403);
    assert!(
        rebound
            .text()
            .await
            .expect("body")
            .contains("allowed_hosts")
    );

    // A local web app (the MCP Inspector, say) is fine, and so is no Origin at all.
    let local = post_mcp(
        &server,
        &initialize_body(),
        &[
            ("authorization", &auth),
            ("origin", "http://localhost:6274"),
        ],
    )
    .await;
    assert_eq!(local.status(), 200);
    // Even the health check is guarded against rebinding.
    let health = http_client()
        .get(format!("{}/healthz", server.base))
        .header("origin", "https://evil.example")
        .send()
        .await
        .expect("GET");
    assert_eq!(health.status(), 403);
}

#[tokio::test(flavor = "multi_thread")]
async fn scopes_hide_and_refuse_tools() {
    let f = Fixture::new();
    let server = start(&f).await;
    let narrow = server.connect(Some(NARROW), &[]).await;
    assert_eq!(tool_names(&narrow).await, vec!["probe_echo".to_string()]);
    assert_eq!(identity_seen(&narrow).await, "narrow");
    let refused = call(&narrow, "probe_count", json!({}))
        .await
        .expect_err("out of scope");
    let msg = refused.to_string();
    assert!(
        msg.contains("outside the scopes") && msg.contains("probe:count"),
        "{msg}"
    );
    // The plugin is in scope, so its prompt is visible.
    let prompts = narrow.list_all_prompts().await.expect("prompts");
    assert_eq!(prompts.len(), 1);

    // A token scoped to another plugin sees nothing of probe: tools, prompts or resources.
    let other = server.connect(Some(OTHER), &[]).await;
    assert!(tool_names(&other).await.is_empty());
    assert!(other.list_all_prompts().await.expect("prompts").is_empty());
    assert!(
        other
            .list_all_resources()
            .await
            .expect("resources")
            .is_empty()
    );
    assert!(call(&other, "probe_echo", json!({})).await.is_err());

    // An unscoped token sees every tool.
    let alice = server.connect(Some(ALICE), &[]).await;
    assert!(tool_names(&alice).await.len() > 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn read_only_tokens_and_selected_tools_narrow_what_is_served() {
    let f = Fixture::new();
    let files = f.dir("files");
    f.install(
        "filesystem",
        "filesystem",
        Some(&pier_e2e::files_manifest(&[(&files, "rw")])),
    );
    let server = start(&f).await;

    // A read-only token: write tools of every plugin are hidden and refused, reads work.
    let reader = server.connect(Some(READER), &[]).await;
    let listed = tool_names(&reader).await;
    assert!(
        listed.contains(&"filesystem_read_text_file".to_string())
            && listed.contains(&"probe_echo".to_string()),
        "{listed:?}"
    );
    assert!(
        !listed.contains(&"filesystem_write_file".to_string()),
        "{listed:?}"
    );
    let refused = call(
        &reader,
        "filesystem_write_file",
        json!({"path": files.join("x.txt").display().to_string(), "content": "x"}),
    )
    .await
    .expect_err("a write with a read-only token");
    let msg = refused.to_string();
    assert!(
        msg.contains("not annotated read-only")
            && msg.contains("read_only = true in its [[tokens]] entry"),
        "{msg}"
    );
    assert!(!files.join("x.txt").exists());
    // The same token without read_only writes.
    let alice = server.connect(Some(ALICE), &[]).await;
    ok(
        &alice,
        "filesystem_write_file",
        json!({"path": files.join("x.txt").display().to_string(), "content": "x"}),
    )
    .await;

    // X-MCP-Tools narrows one connection's tools to a subset, in the syntax of scopes.
    let picked = server
        .connect(
            Some(ALICE),
            &[("x-mcp-tools", "probe:echo, filesystem:list_*")],
        )
        .await;
    let mut listed = tool_names(&picked).await;
    listed.sort();
    assert!(
        listed
            .iter()
            .all(|t| t == "probe_echo" || t.starts_with("filesystem_list_")),
        "{listed:?}"
    );
    assert!(listed.contains(&"probe_echo".to_string()) && listed.len() >= 2);
    let msg = call(&picked, "probe_count", json!({}))
        .await
        .expect_err("not selected")
        .to_string();
    assert!(
        msg.contains("x-mcp-tools: probe:echo, filesystem:list_*")
            && msg.contains("\"probe:count\""),
        "{msg}"
    );
    // A URL path selects the same way, for clients that set a URL but no headers; a trailing
    // /readonly keeps only read-only tools.
    let by_path = server
        .try_connect_at("/mcp/x/probe:echo,filesystem:list_%2A", Some(ALICE), &[])
        .await
        .expect("connect at /mcp/x/");
    let mut from_path = tool_names(&by_path).await;
    from_path.sort();
    assert_eq!(from_path, listed, "path and header select alike");
    let reading = server
        .try_connect_at("/mcp/x/filesystem/readonly", Some(ALICE), &[])
        .await
        .expect("connect at /mcp/x/…/readonly");
    let readable = tool_names(&reading).await;
    assert!(
        readable.contains(&"filesystem_read_text_file".to_string())
            && !readable.contains(&"filesystem_write_file".to_string())
            && readable.iter().all(|t| t.starts_with("filesystem_")),
        "{readable:?}"
    );
    let msg = call(
        &reading,
        "filesystem_write_file",
        json!({"path": files.join("y.txt").display().to_string(), "content": "y"}),
    )
    .await
    .expect_err("read-only path")
    .to_string();
    assert!(msg.contains("/readonly"), "{msg}");
    assert!(!files.join("y.txt").exists());
    let twice = server
        .try_connect_at("/mcp/x/probe", Some(ALICE), &[("x-mcp-tools", "probe")])
        .await
        .expect_err("selected twice");
    assert!(twice.contains("400") || twice.contains("twice"), "{twice}");
    // The header never widens a token's scopes.
    let narrow = server
        .connect(Some(NARROW), &[("x-mcp-tools", "probe, filesystem")])
        .await;
    assert_eq!(tool_names(&narrow).await, vec!["probe_echo".to_string()]);
    // A malformed header is a 400 that says what the header takes.
    let bad = post_mcp(
        &server,
        &initialize_body(),
        &[
            ("authorization", &format!("Bearer {ALICE}")),
            ("x-mcp-tools", " , "),
        ],
    )
    .await;
    assert_eq!(bad.status(), 400);
    let body = bad.text().await.expect("body");
    assert!(
        body.contains("x-mcp-tools") && body.contains("github:get_*"),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn identity_header_is_honoured_only_from_trusted_proxies() {
    let f = Fixture::new();
    let server = start(&f).await;
    let claim = [("x-rls-user-id", "user-42")];
    let gateway = server.connect(Some(GATEWAY), &claim).await;
    assert_eq!(identity_seen(&gateway).await, "user-42");

    // The same header from an ordinary token changes nothing: alice stays alice.
    let alice = server.connect(Some(ALICE), &claim).await;
    assert_eq!(identity_seen(&alice).await, "alice");

    // A proxy that names nobody is itself.
    let bare = server.connect(Some(GATEWAY), &[]).await;
    assert_eq!(identity_seen(&bare).await, "gateway");
}

#[tokio::test(flavor = "multi_thread")]
async fn rate_limit_trips_and_recovers() {
    let f = Fixture::new();
    let server = start(&f).await;
    let alice = server.connect(Some(ALICE), &[]).await;
    // burst 2: two calls pass at once, the third is refused with a time to retry.
    ok(&alice, "probe_count", json!({})).await;
    ok(&alice, "probe_count", json!({})).await;
    let refused = tool_error(&alice, "probe_count", json!({})).await;
    assert!(
        refused.contains("rate limit") && refused.contains("retry in"),
        "{refused}"
    );
    let wait: f64 = refused
        .rsplit("retry in ")
        .next()
        .and_then(|s| s.trim_end_matches(" s").parse().ok())
        .unwrap_or_else(|| panic!("no retry time in {refused:?}"));
    assert!(wait > 0.0 && wait <= 0.2, "{wait}");
    // Other tools, and other callers, are not limited by alice's bucket.
    ok(&alice, "probe_echo", json!({})).await;
    let narrow = server.connect(Some(NARROW), &[]).await;
    ok(&narrow, "probe_echo", json!({})).await;
    // After the time it named, alice may call again (rate 5/s: one call per 0.2 s).
    tokio::time::sleep(Duration::from_secs_f64(wait + 0.05)).await;
    ok(&alice, "probe_count", json!({})).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn audit_lines_record_calls_with_secrets_redacted() {
    let f = Fixture::new();
    let server = start(&f).await;
    let alice = server.connect(Some(ALICE), &[]).await;
    let args =
        json!({"q": "hello", "password": "hunter2-secret", "nested": {"api_key": "k-98765"}});
    ok(&alice, "probe_echo", args).await;
    ok(&alice, "probe_count", json!({})).await;
    ok(&alice, "probe_count", json!({})).await;
    tool_error(&alice, "probe_count", json!({})).await;
    let gateway = server
        .connect(Some(GATEWAY), &[("x-rls-user-id", "user-7")])
        .await;
    ok(&gateway, "probe_echo", json!({})).await;

    let path = f.path().join("audit/audit.jsonl");
    let lines = wait_for_lines(&path, 5).await;
    let text = lines.join("\n");
    assert!(
        !text.contains("hunter2") && !text.contains("k-98765"),
        "secret in audit: {text}"
    );
    let first: Value = serde_json::from_str(&lines[0]).expect("JSON line");
    assert_eq!(first["identity"], "alice");
    assert_eq!(first["tool"], "probe_echo");
    assert_eq!(first["plugin"], "probe");
    assert_eq!(first["args"]["q"], "hello");
    assert_eq!(first["args"]["password"], "[redacted]");
    assert_eq!(first["args"]["nested"]["api_key"], "[redacted]");
    assert_eq!(first["args_sha256"].as_str().map(str::len), Some(64));
    assert_eq!(first["outcome"], "ok");
    assert!(
        first["result_bytes"].as_u64().is_some_and(|n| n > 0),
        "{first}"
    );
    assert!(first["duration_ms"].as_f64().is_some());
    assert!(
        first["time"].as_str().is_some_and(|t| t.ends_with('Z')),
        "{first}"
    );
    let outcomes: Vec<Value> = lines
        .iter()
        .map(|l| serde_json::from_str::<Value>(l).expect("JSON line")["outcome"].clone())
        .collect();
    assert_eq!(outcomes, vec!["ok", "ok", "ok", "rate_limited", "ok"]);
    let last: Value = serde_json::from_str(&lines[4]).expect("JSON line");
    assert_eq!(last["identity"], "user-7");

    // `pier audit` reads it back, filtered, with [audit].file taken from the same pier.toml.
    let config = f.path().join("pier.toml").display().to_string();
    let audit = |args: &[&str]| {
        let out = std::process::Command::new(pier_e2e::pier_bin())
            .args(["audit", "--config", &config])
            .args(args)
            .output()
            .expect("pier audit");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (json_lines, summary) = audit(&["--identity", "alice", "--tool", "probe_count", "--json"]);
    let picked: Vec<Value> = json_lines
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(picked.len(), 3, "{json_lines}");
    assert!(
        picked
            .iter()
            .all(|e| e["tool"] == "probe_count" && e["identity"] == "alice")
    );
    assert!(summary.contains("3 of 5 calls"), "{summary}");
    let (table, _) = audit(&["--outcome", "rate_limited", "--since", "1h"]);
    let rows: Vec<&str> = table.lines().collect();
    assert_eq!(rows.len(), 2, "a header and one row: {table}");
    assert!(
        rows[1].contains("alice") && rows[1].contains("rate_limited"),
        "{table}"
    );
    let (none, _) = audit(&["--until", "2020-01-01"]);
    assert_eq!(none.lines().count(), 1, "only the header: {none}");
    let bad = std::process::Command::new(pier_e2e::pier_bin())
        .args(["audit", "--config", &config, "--since", "yesterday"])
        .output()
        .expect("pier audit");
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("7d"));
}

async fn wait_for_lines(path: &std::path::Path, n: usize) -> Vec<String> {
    for _ in 0..100 {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let lines: Vec<String> = text.lines().map(str::to_string).collect();
        if lines.len() >= n {
            return lines;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "fewer than {n} audit lines in {}: {:?}",
        path.display(),
        std::fs::read_to_string(path)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_count_the_calls_made_and_health_endpoints_answer() {
    let f = Fixture::new();
    let server = start(&f).await;
    let alice = server.connect(Some(ALICE), &[]).await;
    for i in 0..3 {
        ok(&alice, "probe_echo", json!({"i": i})).await;
    }
    assert!(call(&alice, "no_such_tool", json!({})).await.is_err());
    let narrow = server.connect(Some(NARROW), &[]).await;
    assert!(call(&narrow, "probe_count", json!({})).await.is_err());
    let _ = post_mcp(&server, &initialize_body(), &[]).await;

    let get = |path: &str, token: Option<&str>| {
        let mut req = http_client().get(format!("{}{path}", server.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send()
    };
    assert_eq!(get("/metrics", None).await.expect("GET").status(), 401);
    let metrics = get("/metrics", Some(ALICE)).await.expect("GET");
    assert_eq!(metrics.status(), 200);
    let body = metrics.text().await.expect("body");
    for line in [
        "pier_tool_calls_total{plugin=\"probe\",tool=\"echo\",outcome=\"ok\"} 3",
        "pier_tool_calls_total{plugin=\"-\",tool=\"-\",outcome=\"unknown_tool\"} 1",
        "pier_tool_calls_total{plugin=\"probe\",tool=\"count\",outcome=\"forbidden\"} 1",
        "pier_tool_call_duration_seconds_count{plugin=\"probe\",tool=\"echo\"} 3",
        "pier_http_rejected_total{reason=\"unauthorized\"} 2",
        "pier_plugins{status=\"loaded\"} 1",
        "pier_instances{plugin=\"probe\",state=\"busy\"} 0",
        "pier_queue_waiting{plugin=\"probe\"} 0",
        "pier_denials_total{plugin=\"probe\"} 0",
    ] {
        assert!(body.contains(line), "missing {line:?} in:\n{body}");
    }
    let health = get("/healthz", None).await.expect("GET");
    assert_eq!(health.status(), 200);
    let ready = get("/readyz", None).await.expect("GET");
    assert_eq!(ready.status(), 200);
    assert!(ready.text().await.expect("body").contains("1 loaded"));
}

#[tokio::test(flavor = "multi_thread")]
async fn stateless_mode_answers_without_sessions() {
    let f = Fixture::new();
    let config = setup(&f);
    let server = f
        .serve_http(
            &["--config", &config, "--stateless"],
            &[("NARROW_TOKEN", NARROW)],
        )
        .await;
    let auth = format!("Bearer {ALICE}");
    let init = post_mcp(&server, &initialize_body(), &[("authorization", &auth)]).await;
    assert_eq!(init.status(), 200);
    assert!(
        init.headers().get("mcp-session-id").is_none(),
        "a session in stateless mode"
    );
    // Any replica can answer the next request: no session, no initialize needed before it.
    let list = post_mcp(
        &server,
        &json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}),
        &[
            ("authorization", &auth),
            ("mcp-protocol-version", "2025-06-18"),
        ],
    )
    .await;
    assert_eq!(list.status(), 200);
    let body = list.text().await.expect("body");
    assert!(body.contains("probe_echo"), "{body}");
    // And rmcp's client works against it end to end.
    let client = server.connect(Some(ALICE), &[]).await;
    assert_eq!(identity_seen(&client).await, "alice");
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_bodies_get_json_rpc_errors_and_pier_keeps_serving() {
    let f = Fixture::new();
    let server = start(&f).await;
    let alice = server.connect(Some(ALICE), &[]).await;
    let auth = format!("Bearer {ALICE}");
    let raw = |body: &'static str, content_type: &'static str| {
        http_client()
            .post(server.mcp_url())
            .header("authorization", &auth)
            .header("accept", "application/json, text/event-stream")
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    for (body, code) in [
        ("{not json", -32700),
        ("", -32700),
        ("{\"foo\": 1}", -32600),
        ("[1, 2]", -32600),
    ] {
        let r = raw(body, "application/json").await.expect("POST");
        assert_eq!(r.status(), 400, "{body:?}");
        let v: Value = r.json().await.expect("a JSON-RPC error body");
        assert_eq!(v["jsonrpc"], "2.0");
        assert!(v["id"].is_null(), "{v}");
        assert_eq!(v["error"]["code"], code, "{body:?}: {v}");
        assert!(
            v["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
    }
    // A wrong content type stays 415, with rmcp's reason.
    let r = raw("{}", "text/plain").await.expect("POST");
    assert_eq!(r.status(), 415);
    // The open session is unharmed.
    assert_eq!(identity_seen(&alice).await, "alice");
}

#[tokio::test(flavor = "multi_thread")]
async fn listening_beyond_loopback_needs_tokens() {
    let f = Fixture::new();
    f.install("probe", "probe", None);
    let err = f.serve_fails(&["--http", "0.0.0.0:0"], &[]).await;
    assert!(
        err.contains("refusing to listen on 0.0.0.0") && err.contains("tokens"),
        "{err}"
    );

    // A weak token is refused at start, without echoing it.
    let err = f
        .serve_fails(
            &["--http", "127.0.0.1:0"],
            &[("PIER_TOKEN", "short-secret")],
        )
        .await;
    assert!(
        err.contains("shorter than 16") && !err.contains("short-secret"),
        "{err}"
    );
}

/// The session id from a raw `initialize` POSTed with `token`.
async fn raw_session(server: &HttpServer, token: &str) -> String {
    let auth = format!("Bearer {token}");
    let r = post_mcp(server, &initialize_body(), &[("authorization", &auth)]).await;
    assert_eq!(r.status(), 200);
    let id = r.headers()["mcp-session-id"]
        .to_str()
        .expect("ascii")
        .to_string();
    let _ = r.text().await;
    let done = post_mcp(
        server,
        &json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        &[("authorization", &auth), ("mcp-session-id", &id)],
    )
    .await;
    assert!(done.status().is_success(), "{}", done.status());
    id
}

#[tokio::test(flavor = "multi_thread")]
async fn a_session_belongs_to_the_token_that_created_it() {
    let f = Fixture::new();
    let server = start(&f).await;
    let session = raw_session(&server, ALICE).await;
    let list = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"});
    let alice = format!("Bearer {ALICE}");
    let other = format!("Bearer {OTHER}");

    // Another token naming alice's session: 404 on POST, GET (with Last-Event-ID, which would
    // re-point alice's answers) and DELETE, as for a session that does not exist.
    let posted = post_mcp(
        &server,
        &list,
        &[("authorization", &other), ("mcp-session-id", &session)],
    )
    .await;
    assert_eq!(posted.status(), 404);
    let resumed = http_client()
        .get(server.mcp_url())
        .header("authorization", &other)
        .header("accept", "text/event-stream")
        .header("mcp-session-id", &session)
        .header("last-event-id", "0/1")
        .send()
        .await
        .expect("GET");
    assert_eq!(resumed.status(), 404);
    let deleted = http_client()
        .delete(server.mcp_url())
        .header("authorization", &other)
        .header("mcp-session-id", &session)
        .send()
        .await
        .expect("DELETE");
    assert_eq!(deleted.status(), 404);

    // The same token with a trusted proxy's other end user is someone else too.
    let gateway = format!("Bearer {GATEWAY}");
    let proxied = raw_session(&server, GATEWAY).await;
    let as_bob = post_mcp(
        &server,
        &list,
        &[
            ("authorization", &gateway),
            ("x-rls-user-id", "bob"),
            ("mcp-session-id", &proxied),
        ],
    )
    .await;
    assert_eq!(as_bob.status(), 404);

    // Alice's session is untouched and still hers; her own DELETE ends it.
    let mine = post_mcp(
        &server,
        &list,
        &[("authorization", &alice), ("mcp-session-id", &session)],
    )
    .await;
    assert_eq!(mine.status(), 200);
    assert!(mine.text().await.expect("body").contains("probe_echo"));
    let ended = http_client()
        .delete(server.mcp_url())
        .header("authorization", &alice)
        .header("mcp-session-id", &session)
        .send()
        .await
        .expect("DELETE");
    assert!(ended.status().is_success(), "{}", ended.status());
    let log = f.stderr();
    assert!(log.contains("another caller's session"), "{log}");
}

#[tokio::test(flavor = "multi_thread")]
async fn idle_and_slow_connections_cannot_lock_callers_out() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let f = Fixture::new();
    let config = setup(&f);
    let mut text = std::fs::read_to_string(&config).expect("pier.toml");
    text = text.replace(
        "[http]\n",
        "[http]\nmax_connections = 20\nheader_timeout = \"1s\"\n",
    );
    std::fs::write(&config, text).expect("pier.toml");
    let mut server = f
        .serve_http(&["--config", &config], &[("NARROW_TOKEN", NARROW)])
        .await;
    let addr = server.base.trim_start_matches("http://").to_string();

    // 60 connections that send one byte of a request and then nothing (slow loris).
    let mut flood = Vec::new();
    for _ in 0..60 {
        let mut s = tokio::net::TcpStream::connect(&addr)
            .await
            .expect("connect");
        s.write_all(b"P").await.expect("one byte");
        flood.push(s);
    }
    // Health checks and callers with a token are still served.
    for _ in 0..3 {
        let health = http_client()
            .get(format!("{}/healthz", server.base))
            .send()
            .await
            .expect("healthz during the flood");
        assert_eq!(health.status(), 200);
    }
    let client = server.connect(Some(ALICE), &[]).await;
    assert_eq!(identity_seen(&client).await, "alice");

    // Within the header timeout every flood connection has been closed by pier.
    let mut closed = 0;
    for s in &mut flood {
        let mut buf = [0u8; 256];
        let read = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf)).await;
        if matches!(read, Ok(Ok(_)) | Ok(Err(_))) {
            closed += 1;
        }
    }
    assert_eq!(closed, 60, "pier must close idle connections");
    // The proven caller's session carries on, and pier is still up.
    assert_eq!(identity_seen(&client).await, "alice");
    assert!(server.is_running());
    let metrics = http_client()
        .get(format!("{}/metrics", server.base))
        .header("authorization", format!("Bearer {ALICE}"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("body");
    assert!(
        metrics.contains("pier_http_rejected_total{reason=\"connection_limit\"}"),
        "{metrics}"
    );
    client.cancel().await.ok();
}
