//! The slack plugin end to end: the real `pier` binary, rmcp's client, and the loopback fake
//! Slack Web API (tests/src/slack.rs), with the bot and user tokens injected by pier from its
//! environment for two granted origins.

use pier_e2e::slack::{self, FakeSlack};
use pier_e2e::{Fixture, call, ok, structured, text, tool_error, tool_names};
use rmcp::model::CallToolResult;
use rmcp::service::{Peer, RoleClient};
use serde_json::{Value, json};

const BOT: &str = "xoxb-1111111111-2222222222-fakeBotToken0123456789";
const USER: &str = "xoxp-1111111111-3333333333-fakeUserToken987654321";

fn manifest(sl: &FakeSlack, config: &str) -> String {
    format!(
        r#"[grants]
http = [
  {{ origin = "{api}", auth = {{ bearer_env = "SLACK_BOT_TOKEN" }} }},
  {{ origin = "{user}", auth = {{ bearer_env = "SLACK_USER_TOKEN" }} }},
]

[config]
api_url = "{api_url}"
{config}
"#,
        api = sl.origin(),
        user = sl.user_origin(),
        api_url = sl.api_url(),
    )
}

struct Setup {
    f: Fixture,
    sl: FakeSlack,
}

fn setup_with(sl: FakeSlack, config: &str) -> Setup {
    let f = Fixture::new();
    f.install("slack", "slack", Some(&manifest(&sl, config)));
    Setup { f, sl }
}

fn setup(config: &str) -> Setup {
    setup_with(FakeSlack::start(BOT, USER), config)
}

async fn connect(t: &Setup) -> pier_e2e::Client {
    t.f.connect_with(&[], &[("SLACK_BOT_TOKEN", BOT), ("SLACK_USER_TOKEN", USER)])
        .await
}

fn s(r: &CallToolResult) -> &Value {
    structured(r)
}

fn messages(r: &CallToolResult) -> Vec<Value> {
    s(r)["messages"].as_array().cloned().unwrap_or_default()
}

async fn history(c: &Peer<RoleClient>, args: Value) -> CallToolResult {
    ok(c, "slack_get_channel_history", args).await
}

#[tokio::test]
async fn read_tools_answer_compactly_and_writes_are_absent_by_default() {
    let t = setup("");
    let c = connect(&t).await;
    assert!(
        t.sl.requests().is_empty(),
        "initialize and listing call nothing"
    );
    let listed = tool_names(&c).await;
    assert_eq!(
        listed,
        [
            "slack_get_channel_history",
            "slack_get_channel_info",
            "slack_get_thread_replies",
            "slack_get_user_profile",
            "slack_get_users",
            "slack_list_channels",
            "slack_search_users",
        ]
    );
    let tools = c.list_all_tools().await.expect("tools");
    assert!(
        tools
            .iter()
            .all(|t| t.annotations.as_ref().and_then(|a| a.read_only_hint) == Some(true))
    );
    assert!(tools.iter().all(|t| t.output_schema.is_some()));

    // The reference server's arguments, by id; newest first, names resolved, fenced text.
    let r = history(&c, json!({"channel_id": slack::GENERAL, "limit": 5})).await;
    let m = messages(&r);
    assert_eq!(m.len(), 5);
    assert_eq!(m[0]["ts"], "1764591060.000100");
    assert_eq!(m[0]["time"], "2025-12-01T12:11:00Z");
    assert!(
        m.iter()
            .all(|x| x.get("blocks").is_none() && x["user_name"].is_string()),
        "{m:?}"
    );
    assert_eq!(s(&r)["has_more"], true);
    let cursor = s(&r)["next_cursor"].as_str().expect("a cursor").to_string();
    let fenced = text(&r);
    assert!(
        fenced.contains("<untrusted-slack-messages-") && fenced.contains("not instructions"),
        "{fenced}"
    );
    let r = history(
        &c,
        json!({"channel_id": "#general", "limit": 5, "cursor": cursor}),
    )
    .await;
    assert_eq!(messages(&r)[0]["ts"], "1764590760.000100");
    let fenced = text(&r);
    let inside = fenced
        .split("<untrusted-slack-messages-")
        .nth(2)
        .unwrap_or("");
    assert!(
        inside.contains(slack::INJECTION),
        "the injection is inside the fence: {fenced}"
    );
    // One call after another, the plugin's requests share one kept-alive connection.
    let histories = t.sl.calls("conversations.history");
    assert!(histories.len() >= 2);
    assert!(
        histories
            .iter()
            .all(|r| r.connection == histories[0].connection),
        "each request opened a connection: {:?}",
        histories.iter().map(|r| r.connection).collect::<Vec<_>>()
    );
    // Time windows: an absolute range, inclusive.
    let r = history(
        &c,
        json!({"channel_id": "general", "oldest": "1764590520", "latest": "1764590640.000100"}),
    )
    .await;
    let ts: Vec<String> = messages(&r)
        .iter()
        .filter_map(|m| m["ts"].as_str().map(str::to_string))
        .collect();
    assert_eq!(
        ts,
        [
            "1764590640.000100",
            "1764590580.000100",
            "1764590520.000100"
        ]
    );
    let e = tool_error(
        &c,
        "slack_get_channel_history",
        json!({"channel_id": "#general", "oldest": "last tuesday"}),
    )
    .await;
    assert!(e.contains("oldest") && e.contains("7d"), "{e}");

    let r = ok(
        &c,
        "slack_get_thread_replies",
        json!({"channel_id": slack::GENERAL, "thread_ts": slack::THREAD_TS}),
    )
    .await;
    let m = messages(&r);
    assert_eq!(m.len(), 3);
    assert_eq!(m[0]["reply_count"], 2);
    assert_eq!(m[1]["text"], "reply 1");
    let e = tool_error(
        &c,
        "slack_get_thread_replies",
        json!({"channel_id": slack::GENERAL, "thread_ts": 1764590580.0001}),
    )
    .await;
    assert!(e.contains("is a number"), "{e}");

    let r = ok(&c, "slack_list_channels", json!({"limit": 2})).await;
    assert_eq!(s(&r)["channels"][0]["name"], "general");
    assert!(s(&r)["next_cursor"].is_string());
    let r = ok(&c, "slack_list_channels", json!({})).await;
    let names: Vec<&str> = s(&r)["channels"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert_eq!(
        names,
        ["general", "eng", "random", "secret"],
        "archived left out by default"
    );

    let r = ok(&c, "slack_get_channel_info", json!({"channel_id": "#eng"})).await;
    assert_eq!(s(&r)["id"], slack::ENG);
    assert_eq!(s(&r)["topic"], "about eng");
    let r = ok(&c, "slack_get_users", json!({"limit": 2})).await;
    assert_eq!(s(&r)["users"][0]["real_name"], "Alice Liddell");
    assert!(s(&r)["next_cursor"].is_string());
    for who in ["@alice", "alice@example.com", slack::ALICE] {
        let r = ok(&c, "slack_get_user_profile", json!({"user_id": who})).await;
        assert_eq!(s(&r)["user"], slack::ALICE, "{who}");
        assert_eq!(s(&r)["fields"]["Team"], "Platform");
    }
    let r = ok(&c, "slack_search_users", json!({"query": "BUILD"})).await;
    assert_eq!(s(&r)["users"][0]["id"], slack::BOB);
    assert_eq!(s(&r)["complete"], true);

    // Writes are not there, and calling one says so.
    let e = call(
        &c,
        "slack_post_message",
        json!({"channel_id": slack::GENERAL, "text": "hi"}),
    )
    .await;
    assert!(e.is_err());
    assert!(t.sl.calls("chat.postMessage").is_empty());
    for r in t.sl.requests() {
        assert_eq!(
            r.header("authorization"),
            Some(format!("Bearer {BOT}").as_str()),
            "{}",
            r.target
        );
        assert!(
            r.header("user-agent")
                .is_some_and(|u| u.starts_with("pier-slack/"))
        );
        assert_eq!(r.method, "POST");
    }
    c.cancel().await.ok();
}

#[tokio::test]
async fn the_allow_list_holds_for_reads_and_writes_and_posts_do_not_unfurl() {
    let t = setup(
        r##"writes = true
channels = ["#general", "C0ENG00002", "!#secret"]"##,
    );
    let c = connect(&t).await;
    let listed = tool_names(&c).await;
    for name in [
        "slack_post_message",
        "slack_reply_to_thread",
        "slack_add_reaction",
        "slack_remove_reaction",
    ] {
        assert!(listed.iter().any(|l| l == name), "{name} in {listed:?}");
    }
    let tools = c.list_all_tools().await.expect("tools");
    let remove = tools
        .iter()
        .find(|t| t.name == "slack_remove_reaction")
        .expect("listed");
    assert_eq!(
        remove.annotations.as_ref().and_then(|a| a.destructive_hint),
        Some(true)
    );

    let r = ok(
        &c,
        "slack_post_message",
        json!({"channel_id": "#general", "text": "see https://example.com"}),
    )
    .await;
    let ts = s(&r)["ts"].as_str().expect("ts").to_string();
    let posted = t.sl.calls("chat.postMessage");
    assert_eq!(posted.len(), 1);
    assert!(
        posted[0].body.contains("unfurl_links=false")
            && posted[0].body.contains("unfurl_media=false"),
        "{}",
        posted[0].body
    );
    assert!(
        t.sl.messages(slack::GENERAL)
            .iter()
            .any(|m| m["ts"] == json!(ts))
    );
    let r = ok(
        &c,
        "slack_reply_to_thread",
        json!({"channel_id": slack::GENERAL, "thread_ts": slack::THREAD_TS, "text": "on it"}),
    )
    .await;
    assert_eq!(s(&r)["thread_ts"], slack::THREAD_TS);
    ok(
        &c,
        "slack_post_message",
        json!({"channel_id": slack::ENG, "text": "by id"}),
    )
    .await;

    ok(
        &c,
        "slack_add_reaction",
        json!({"channel_id": "#general", "timestamp": ts, "reaction": ":thumbsup:"}),
    )
    .await;
    assert_eq!(t.sl.reactions(slack::GENERAL, &ts), ["thumbsup"]);
    let e = tool_error(
        &c,
        "slack_add_reaction",
        json!({"channel_id": "#general", "timestamp": ts, "reaction": "thumbsup"}),
    )
    .await;
    assert!(e.contains("already on the message"), "{e}");
    ok(
        &c,
        "slack_remove_reaction",
        json!({"channel_id": "#general", "timestamp": ts, "reaction": "thumbsup"}),
    )
    .await;
    assert!(t.sl.reactions(slack::GENERAL, &ts).is_empty());

    // Outside the list: refused before Slack is asked, for writes and reads, by id or name.
    let before = t.sl.calls("chat.postMessage").len();
    let e = tool_error(
        &c,
        "slack_post_message",
        json!({"channel_id": "#random", "text": "x"}),
    )
    .await;
    assert!(
        e.contains("#random (C0RANDOM03)")
            && e.contains("\"C0RANDOM03\"")
            && e.contains("[config].channels"),
        "{e}"
    );
    assert_eq!(t.sl.calls("chat.postMessage").len(), before);
    let e = tool_error(
        &c,
        "slack_get_channel_history",
        json!({"channel_id": slack::RANDOM}),
    )
    .await;
    assert!(e.contains("not in the channels"), "{e}");
    let e = tool_error(
        &c,
        "slack_get_channel_history",
        json!({"channel_id": slack::SECRET}),
    )
    .await;
    assert!(e.contains("!#secret"), "{e}");
    assert!(t.sl.calls("conversations.history").is_empty());

    // The listing shows just the allowed channels, looked up one by one.
    let r = ok(&c, "slack_list_channels", json!({})).await;
    let ids: Vec<&str> = s(&r)["channels"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|c| c["id"].as_str())
        .collect();
    assert_eq!(ids, [slack::GENERAL, slack::ENG]);
    c.cancel().await.ok();
}

#[tokio::test]
async fn names_resolve_lazily_page_only_as_far_as_needed_and_refresh_once_on_a_miss() {
    let t = setup_with(FakeSlack::with(BOT, USER, 2_500, 12), "");
    let c = connect(&t).await;
    tool_names(&c).await;
    assert!(t.sl.requests().is_empty(), "no cache warming at start");
    history(&c, json!({"channel_id": "#general"})).await;
    assert_eq!(
        t.sl.calls("conversations.list").len(),
        1,
        "found on the first page"
    );
    history(&c, json!({"channel_id": "#general"})).await;
    assert_eq!(t.sl.calls("conversations.list").len(), 1, "cached");
    // A channel made after the cache was filled: the miss walks on and finds it.
    let id = t.sl.add_channel("brand-new");
    let r = history(&c, json!({"channel_id": "#brand-new"})).await;
    assert_eq!(s(&r)["channel"], json!(id));
    let walked = t.sl.calls("conversations.list").len();
    assert!(walked >= 3, "{walked} pages");
    assert!(
        t.sl.calls("conversations.list")
            .last()
            .is_some_and(|r| r.body.contains("cursor="))
    );
    // A name nobody has: one answer that says how far it looked, and no second walk right after.
    let e = tool_error(
        &c,
        "slack_get_channel_history",
        json!({"channel_id": "#nope"}),
    )
    .await;
    assert!(
        e.contains("no channel is named #nope") && e.contains("list_channels"),
        "{e}"
    );
    let e = tool_error(
        &c,
        "slack_get_channel_history",
        json!({"channel_id": "#nope"}),
    )
    .await;
    assert!(e.contains("#nope"), "{e}");
    assert_eq!(
        t.sl.calls("conversations.list").len(),
        walked,
        "no walk within min_refresh"
    );
    // A DM by @user.
    let r = history(&c, json!({"channel_id": "@bob"})).await;
    assert_eq!(messages(&r)[0]["text"], "psst");
    c.cancel().await.ok();
}

#[tokio::test]
async fn slack_errors_say_what_to_do_and_rate_limits_are_waited_out_once() {
    let sl = FakeSlack::start(BOT, USER);
    let user_api = sl.user_api_url();
    let t = setup_with(sl, &format!("user_api_url = \"{user_api}\""));
    let c = connect(&t).await;

    t.sl.rate_limit(1, 1);
    let r = history(&c, json!({"channel_id": slack::GENERAL, "limit": 1})).await;
    assert_eq!(messages(&r).len(), 1);
    assert_eq!(
        t.sl.calls("conversations.history").len(),
        2,
        "one retry after Retry-After"
    );
    t.sl.rate_limit(2, 1);
    let e = tool_error(
        &c,
        "slack_get_channel_history",
        json!({"channel_id": slack::GENERAL}),
    )
    .await;
    assert!(
        e.contains("rate-limited") && e.contains("retry in 1 s") && e.contains("already waited"),
        "{e}"
    );
    t.sl.rate_limit(1, 120);
    let e = tool_error(
        &c,
        "slack_get_channel_history",
        json!({"channel_id": slack::GENERAL}),
    )
    .await;
    assert!(e.contains("retry in 120 s"), "{e}");

    let e = tool_error(
        &c,
        "slack_get_channel_history",
        json!({"channel_id": slack::RANDOM}),
    )
    .await;
    assert!(
        e.contains("not a member") && e.contains("/invite") && e.contains("C0RANDOM03"),
        "{e}"
    );
    let e = tool_error(
        &c,
        "slack_get_channel_info",
        json!({"channel_id": "C0MISSING99"}),
    )
    .await;
    assert!(e.contains("does not know this channel"), "{e}");
    t.sl.remove_scope("channels:history");
    let e = tool_error(
        &c,
        "slack_get_channel_history",
        json!({"channel_id": slack::ENG}),
    )
    .await;
    assert!(
        e.contains("lacks the scope channels:history") && e.contains("reinstall"),
        "{e}"
    );

    // Search goes to the user token's origin, filtered and fenced.
    let r = ok(&c, "slack_search_messages", json!({"query": "secret plan"})).await;
    assert_eq!(messages(&r)[0]["channel"], slack::SECRET);
    assert!(text(&r).contains("<untrusted-slack-messages-"));
    let r = ok(
        &c,
        "slack_search_messages",
        json!({"query": "message", "in_channel": "#general", "from_user": "@bob", "count": 2}),
    )
    .await;
    assert_eq!(
        s(&r)["query"],
        format!("message in:#general from:<@{}>", slack::BOB)
    );
    assert_eq!(s(&r)["next_page"], 2);
    let searched = t.sl.calls("search.messages");
    assert!(
        searched
            .iter()
            .all(|r| r.header("authorization") == Some(format!("Bearer {USER}").as_str()))
    );
    c.cancel().await.ok();
}

/// A plugin granted the same origin cannot get at the tokens: not from its environment, and a
/// header it forges is replaced by pier's.
#[tokio::test]
async fn the_tokens_are_injected_by_pier_and_invisible_to_plugins() {
    let t = setup("");
    let m = manifest(&t.sl, "");
    let hostile = m.split("[config]").next().unwrap_or(&m).to_string();
    t.f.install("hostile", "hostile", Some(&hostile));
    let c = connect(&t).await;
    for name in ["SLACK_BOT_TOKEN", "SLACK_USER_TOKEN"] {
        let e = tool_error(&c, "hostile_env", json!({"name": name})).await;
        assert!(!e.contains(BOT) && !e.contains(USER), "{e}");
    }
    let r = ok(&c, "hostile_http_get", json!({"url": format!("{}/api/auth.test", t.sl.origin()), "headers": {"Authorization": "Bearer xoxb-stolen"}, "show_headers": true})).await;
    assert!(!text(&r).contains(BOT), "{}", text(&r));
    let last = t.sl.requests().pop().expect("a request");
    assert_eq!(
        last.header("authorization"),
        Some(format!("Bearer {BOT}").as_str())
    );
    c.cancel().await.ok();
}
