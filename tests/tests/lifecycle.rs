//! Plugins come and go while a client stays connected: dropped in, replaced (while a call runs),
//! broken, removed; a crashing plugin trips its circuit; a cold start answers `initialize` before
//! compiling. All through the real `pier` binary with rmcp's client listening for list_changed.

use std::path::Path;
use std::time::Duration;

use pier_e2e::{
    Changes, Fixture, WatchingClient, call, ok, plugin_wasm, structured, text, tool_error,
    tool_names,
};
use serde_json::{Value, json};

/// Long enough for a cold compile on a busy CI machine; only reached if something is broken.
const PATIENCE: Duration = Duration::from_secs(90);

/// Writes `bytes` beside `dest` and renames it into place, as an installer should.
fn put(dest: &Path, bytes: &[u8]) {
    let tmp = dest.with_extension("part");
    std::fs::write(&tmp, bytes).expect("write temp file");
    std::fs::rename(&tmp, dest).expect("rename into place");
}

/// Waits for list_changed notifications until the tool list satisfies `want`.
async fn until_tools(c: &WatchingClient, changes: &mut Changes, want: impl Fn(&[String]) -> bool) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let names = tool_names(c.peer()).await;
        if want(&names) {
            return;
        }
        match tokio::time::timeout_at(deadline, changes.recv()).await {
            Ok(Some(())) => {}
            _ => panic!("the tool list never changed as expected; last: {names:?}"),
        }
    }
}

fn config_version(r: &rmcp::model::CallToolResult) -> Option<String> {
    structured(r)["config"]
        .as_array()?
        .iter()
        .find(|pair| pair[0] == "version")
        .and_then(|pair| pair[1].as_str().map(str::to_string))
}

#[tokio::test]
async fn plugins_dropped_in_replaced_broken_and_removed_while_a_client_is_connected() {
    let f = Fixture::new();
    f.install("probe", "base", None);
    let (c, mut changes) = f.connect_watching(&[]).await;
    assert!(
        tool_names(c.peer())
            .await
            .contains(&"base_echo".to_string())
    );

    // Drop in a new plugin: the client is told, and its tools work.
    let dir = f.plugins();
    put(
        &dir.join("late.wasm"),
        &std::fs::read(plugin_wasm("hostile")).expect("read"),
    );
    let heard = tokio::time::timeout(PATIENCE, changes.recv()).await;
    assert!(
        matches!(heard, Ok(Some(()))),
        "no list_changed after a drop-in"
    );
    until_tools(&c, &mut changes, |t| t.iter().any(|n| n == "late_big")).await;
    assert_eq!(text(&ok(&c, "late_big", json!({"bytes": 3})).await), "xxx");

    // A plugin with a manifest; then its manifest is edited while a slow call runs.
    put(&dir.join("p.toml"), b"[config]\nversion = \"1\"\n");
    put(
        &dir.join("p.wasm"),
        &std::fs::read(plugin_wasm("probe")).expect("read"),
    );
    until_tools(&c, &mut changes, |t| t.iter().any(|n| n == "p_echo")).await;
    let r = ok(&c, "p_echo", json!({})).await;
    assert_eq!(config_version(&r).as_deref(), Some("1"));

    let peer = c.peer().clone();
    let slow = tokio::spawn(async move { call(&peer, "p_sleep", json!({"ms": 2500})).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    put(&dir.join("p.toml"), b"[config]\nversion = \"2\"\n");
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let r = ok(&c, "p_echo", json!({})).await;
        if config_version(&r).as_deref() == Some("2") {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the edited manifest never took effect"
        );
        let _ = tokio::time::timeout(Duration::from_secs(1), changes.recv()).await;
    }
    let slow = slow
        .await
        .expect("slow call task")
        .expect("slow call answered");
    assert_ne!(
        slow.is_error,
        Some(true),
        "the running call finished on the old version"
    );
    assert_eq!(text(&slow), "slept");

    // A broken update is not applied: the previous version keeps serving, and pier says why.
    put(&dir.join("p.wasm"), b"\0asm this is not a component");
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !f.stderr().contains("update not applied") {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no report of the failed update:\n{}",
            f.stderr()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        f.stderr().contains("not a valid WebAssembly component"),
        "{}",
        f.stderr()
    );
    let r = ok(&c, "p_echo", json!({})).await;
    assert_eq!(config_version(&r).as_deref(), Some("2"));

    // Removing the file unloads the plugin.
    std::fs::remove_file(dir.join("p.wasm")).expect("remove");
    until_tools(&c, &mut changes, |t| !t.iter().any(|n| n.starts_with("p_"))).await;
    let gone = call(&c, "p_echo", json!({})).await;
    assert!(
        gone.is_err(),
        "a removed plugin's tool is unknown: {gone:?}"
    );
    ok(&c, "base_echo", json!({})).await;
    c.cancel().await.ok();
}

#[tokio::test]
async fn a_hanging_plugin_trips_its_circuit_fails_fast_and_recovers() {
    let f = Fixture::new();
    f.install(
        "probe",
        "probe",
        Some("[limits]\nfailures = 2\nfailure_window = \"60s\"\ncooldown = \"1s\"\ntimeout = \"300ms\"\n"),
    );
    let c = f.connect().await;
    // Traps are the input's fault and answered at once: however many, the circuit stays closed.
    for _ in 0..5 {
        let e = tool_error(&c, "probe_panic", json!({})).await;
        assert!(e.contains("crashed"), "{e}");
    }
    ok(&c, "probe_echo", json!({})).await;
    for _ in 0..2 {
        let e = tool_error(&c, "probe_spin", json!({})).await;
        assert!(e.contains("time limit"), "{e}");
    }
    let e = tool_error(&c, "probe_echo", json!({})).await;
    assert!(
        e.contains("is failing")
            && e.contains("retry in")
            && e.contains("[limits].failures")
            && e.contains("probe.toml"),
        "{e}"
    );
    tokio::time::sleep(Duration::from_millis(1200)).await;
    // Half-open: one trial call goes through, succeeds, and the circuit closes.
    ok(&c, "probe_echo", json!({})).await;
    ok(&c, "probe_echo", json!({})).await;
    c.cancel().await.ok();
}

#[tokio::test]
async fn initialize_is_answered_before_a_cold_compile_and_calls_wait_for_it() {
    let f = Fixture::new();
    let docs = f.dir("docs");
    std::fs::write(docs.join("a.txt"), "hello").expect("write");
    f.install(
        "filesystem",
        "filesystem",
        Some(&pier_e2e::files_manifest(&[(&docs, "ro")])),
    );
    // No compile cache: the 2.8 MB component is compiled after `initialize` is answered.
    let (c, _changes) = f.connect_watching(&["--no-cache"]).await;
    // A call made at once waits for the compile instead of failing as an unknown tool.
    let r = ok(
        &c,
        "filesystem_read_text_file",
        json!({"path": docs.join("a.txt").display().to_string()}),
    )
    .await;
    assert!(text(&r).contains("hello"), "{}", text(&r));
    // pier's log shows the order: the client finished initializing before the plugin was ready.
    let log = f.stderr();
    let initialized = log.find("client initialized");
    let loaded = log.find("loaded plugin=filesystem");
    assert!(
        matches!((initialized, loaded), (Some(i), Some(l)) if i < l),
        "initialize should be answered before the compile ends:\n{log}"
    );
    let report: Value = f.plugins_report();
    assert_eq!(report[0]["status"], "loaded");
    c.cancel().await.ok();
}
