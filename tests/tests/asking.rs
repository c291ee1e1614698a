//! What pier asks and tells the client around a call, through rmcp's client over stdio and the
//! `probe` plugin (whose `about` gives instructions, an icon for `echo` and `confirm =
//! ["wipe"]`): confirmation of a destructive call (accepted, declined, a client that cannot
//! ask, turned off by the manifest, added by pier.toml), the plugin's instructions and icons,
//! cancellation reaching the plugin, and `host.resource-updated` reaching a subscriber.

// resources/subscribe is what 2025-11-25 clients send (rmcp marks it legacy).
#![allow(deprecated)]

use std::time::Duration;

use pier_e2e::{Consenting, Fixture, ok, text, tool_error};
use serde_json::json;

#[tokio::test(flavor = "multi_thread")]
async fn a_destructive_call_runs_only_after_the_user_accepts() {
    let f = Fixture::new();
    f.install("probe", "probe", None);
    let client = f.connect_with(&[], &[]).await;
    let wiped = ok(
        &client,
        "probe_wipe",
        json!({"what": "the staging db", "password": "hunter2"}),
    )
    .await;
    assert_eq!(text(&wiped), "wiped \"the staging db\"");
    let asked = client.service().asked();
    assert_eq!(asked.len(), 1, "{asked:?}");
    assert!(asked[0].contains("Run probe_wipe?"), "{}", asked[0]);
    assert!(asked[0].contains("the staging db"), "{}", asked[0]);
    assert!(
        !asked[0].contains("hunter2"),
        "a secret argument was shown: {}",
        asked[0]
    );
    // Tools not on the list run without asking (echo is destructive by MCP's defaults).
    ok(&client, "probe_echo", json!({})).await;
    assert_eq!(client.service().asked().len(), 1);

    let declining = f.connect_as(Consenting::declining(), &[], &[]).await;
    let refused = tool_error(&declining, "probe_wipe", json!({"what": "x"})).await;
    assert_eq!(refused, "probe_wipe did not run: the user declined it.");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_that_cannot_ask_is_told_how_to_allow_the_call() {
    let f = Fixture::new();
    f.install("probe", "probe", None);
    let plain = f.connect_plain(&[], &[]).await;
    let r = pier_e2e::call(&plain, "probe_wipe", json!({"what": "x"}))
        .await
        .expect("tools/call");
    assert_eq!(r.is_error, Some(true));
    let why = text(&r);
    let manifest = f.plugins().join("probe.toml");
    assert!(
        why.contains("did not declare the elicitation capability"),
        "{why}"
    );
    assert!(
        why.contains(&manifest.display().to_string()) && why.contains("confirm = []"),
        "{why}"
    );

    // The manifest's list replaces the plugin's: `confirm = []` asks for nothing.
    f.install("probe", "probe", Some("[tools]\nconfirm = []\n"));
    let plain = f.connect_plain(&[], &[]).await;
    let r = pier_e2e::call(&plain, "probe_wipe", json!({"what": "x"}))
        .await
        .expect("tools/call");
    assert_ne!(r.is_error, Some(true), "{}", text(&r));
}

#[tokio::test(flavor = "multi_thread")]
async fn pier_toml_adds_tools_to_confirm() {
    let f = Fixture::new();
    f.install("probe", "probe", Some("[tools]\nconfirm = []\n"));
    let config = f.path().join("pier.toml");
    std::fs::write(&config, "confirm = [\"probe_ec*\"]\n").expect("write pier.toml");
    let config = config.display().to_string();
    let client = f.connect_with(&["--config", &config], &[]).await;
    ok(&client, "probe_echo", json!({})).await;
    ok(&client, "probe_wipe", json!({"what": "x"})).await;
    let asked = client.service().asked();
    assert_eq!(asked.len(), 1, "{asked:?}");
    assert!(asked[0].contains("Run probe_echo?"), "{}", asked[0]);

    let plain = f.connect_plain(&["--config", &config], &[]).await;
    let r = pier_e2e::call(&plain, "probe_echo", json!({}))
        .await
        .expect("tools/call");
    assert!(
        text(&r).contains("take it out of `confirm` in pier.toml"),
        "{}",
        text(&r)
    );

    std::fs::write(f.path().join("bad.toml"), "confirm = [\"[\"]\n").expect("write");
    let bad = f.path().join("bad.toml").display().to_string();
    let err = f.serve_fails(&["--config", &bad], &[]).await;
    assert!(err.contains("confirm") && err.contains("bad glob"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn instructions_and_icons_come_from_the_plugin() {
    let f = Fixture::new();
    f.install("probe", "probe", None);
    let client = f.connect_with(&[], &[]).await;
    let tools = client.list_all_tools().await.expect("tools/list");
    let echo = tools
        .iter()
        .find(|t| t.name == "probe_echo")
        .expect("probe_echo");
    let icons = echo.icons.as_ref().expect("echo has icons");
    // The http: icon was dropped (only https: and data: are passed on).
    assert_eq!(icons.len(), 1, "{icons:?}");
    assert!(icons[0].src.starts_with("data:image/svg+xml"));
    let wipe = tools
        .iter()
        .find(|t| t.name == "probe_wipe")
        .expect("probe_wipe");
    assert!(wipe.icons.is_none());

    // initialize waited for the first load, so the plugin's instructions are in it.
    let info = client.peer_info().expect("server info");
    let instructions = info.instructions.as_deref().unwrap_or("");
    assert!(
        instructions.contains("## probe\nProbe answers the end-to-end tests."),
        "{instructions}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cancelled_call_is_seen_by_the_plugin() {
    use rmcp::model::{CallToolRequest, CallToolRequestParams, ClientRequest};
    let f = Fixture::new();
    f.install("probe", "probe", Some("[limits]\ninstances = 1\n"));
    let client = f.connect_with(&[], &[]).await;
    ok(&client, "probe_last_cancel", json!({})).await;
    let mut args = serde_json::Map::new();
    args.insert("ms".into(), json!(20_000));
    let request = ClientRequest::CallToolRequest(CallToolRequest::new(
        CallToolRequestParams::new("probe_wait_cancel").with_arguments(args),
    ));
    let handle = client
        .send_cancellable_request(request, Default::default())
        .await
        .expect("send tools/call");
    tokio::time::sleep(Duration::from_millis(300)).await;
    handle
        .cancel(Some("the test".into()))
        .await
        .expect("cancel");
    // The plugin stopped waiting at once; its instance (the only one) answers the next call.
    let seen = tokio::time::timeout(
        Duration::from_secs(10),
        ok(&client, "probe_last_cancel", json!({})),
    )
    .await
    .expect("the cancelled call freed its instance");
    assert_eq!(text(&seen), "Some(true)");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_subscriber_hears_that_a_resource_changed() {
    use rmcp::model::{SubscribeRequestParams, UnsubscribeRequestParams};
    let f = Fixture::new();
    f.install("probe", "probe", None);
    let client = f.connect_with(&[], &[]).await;
    let info = client.peer_info().expect("server info");
    let subscribe = info
        .capabilities
        .resources
        .as_ref()
        .and_then(|r| r.subscribe);
    assert_eq!(subscribe, Some(true));
    client
        .subscribe(SubscribeRequestParams::new("probe://hello"))
        .await
        .expect("resources/subscribe");
    ok(&client, "probe_touch", json!({})).await;
    let heard = async {
        loop {
            if !client
                .service()
                .updated
                .lock()
                .map(|u| u.is_empty())
                .unwrap_or(true)
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(10), heard)
        .await
        .expect("notifications/resources/updated");
    let updated = client
        .service()
        .updated
        .lock()
        .map(|u| u.clone())
        .unwrap_or_default();
    assert_eq!(updated, vec!["probe://hello".to_string()]);

    client
        .unsubscribe(UnsubscribeRequestParams::new("probe://hello"))
        .await
        .expect("resources/unsubscribe");
    ok(&client, "probe_touch", json!({})).await;
    // A call after the touch is answered after its notifications would have been; none came.
    ok(&client, "probe_echo", json!({})).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        client
            .service()
            .updated
            .lock()
            .map(|u| u.len())
            .unwrap_or(0),
        1
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_sdk_executor_wakes_for_timers_while_other_tasks_wait() {
    // rt::sleep once re-subscribed a fresh timer on every poll, which the host had not fired
    // yet, so a sleep beside another waiting task never ended (this call ran to its limit).
    let f = Fixture::new();
    f.install("probe", "probe", None);
    let client = f.connect_with(&[], &[]).await;
    let r = ok(&client, "probe_ticks", json!({"ms": 200})).await;
    let ticks: u32 = text(&r)
        .trim_end_matches(" ticks")
        .parse()
        .expect("a count");
    assert!(ticks >= 1, "{}", text(&r));
}
