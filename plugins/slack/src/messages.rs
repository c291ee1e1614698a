//! Messages: channel history and threads (cursors, `limit`, time windows), posting and
//! replying (link unfurling off unless configured), reactions, search (user token), and the
//! optional unreads and mark-read.

use std::collections::HashMap;

use pier_sdk::{CallContext, CallResult, Tool, ToolError, Tools, Value, json};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::api::{PageMeta, SlackAnswer, Token, next_page};
use crate::clock::{now_secs, slack_time};
use crate::directory::next_cursor;
use crate::scope::Conversation;
use crate::settings::Settings;
use crate::shape::{self, Listing, RawMessage};
use crate::{Slack, cursor_params, offer};

/// The paging and time window every message list takes.
#[derive(Deserialize)]
struct Window {
    #[serde(default)]
    limit: Option<u32>,
    #[serde(default)]
    cursor: Option<String>,
    #[serde(default)]
    oldest: Option<Time>,
    #[serde(default)]
    latest: Option<Time>,
}

#[derive(Deserialize)]
struct History {
    channel_id: String,
    #[serde(flatten)]
    window: Window,
}

#[derive(Deserialize)]
struct Replies {
    channel_id: String,
    thread_ts: Ts,
    #[serde(flatten)]
    window: Window,
}

/// A time argument: text (`"1712345678.123456"`, `"7d"`, `"2026-11-30"`) or a number of
/// seconds, which models send too.
#[derive(Deserialize)]
#[serde(untagged)]
enum Time {
    Text(String),
    Seconds(u64),
}

impl Time {
    fn slack(&self, key: &str) -> Result<String, ToolError> {
        match self {
            Time::Text(t) => {
                slack_time(t, now_secs()).map_err(|e| ToolError::Invalid(format!("{key}: {e}")))
            }
            Time::Seconds(n) => Ok(format!("{n}.000000")),
        }
    }
}

/// A message ts: Slack's ts is a string; a number (which JSON turns into a float and rounds)
/// is refused with the reason.
#[derive(Deserialize)]
#[serde(untagged)]
enum Ts {
    Text(String),
    Number(serde_json::Number),
}

impl Ts {
    fn text(&self, key: &str) -> Result<String, ToolError> {
        match self {
            Ts::Text(t) if is_ts(t.trim()) => Ok(t.trim().to_string()),
            Ts::Text(t) => Err(ToolError::Invalid(format!(
                "{key}: {t:?} is not a Slack ts; give it as a string like \"1712345678.123456\" \
                 (the ts field of the message)"
            ))),
            Ts::Number(n) => Err(ToolError::Invalid(format!(
                "{key}: {n} is a number; a Slack ts is a string like \"1712345678.123456\" (as a \
                 number its last digits are lost)"
            ))),
        }
    }
}

fn is_ts(t: &str) -> bool {
    t.split_once('.').is_some_and(|(a, b)| {
        !a.is_empty()
            && !b.is_empty()
            && a.bytes().all(|c| c.is_ascii_digit())
            && b.bytes().all(|c| c.is_ascii_digit())
    })
}

#[derive(Deserialize)]
struct Post {
    channel_id: String,
    text: String,
}

#[derive(Deserialize)]
struct Reply {
    channel_id: String,
    thread_ts: Ts,
    text: String,
    #[serde(default)]
    reply_broadcast: bool,
}

#[derive(Deserialize)]
struct Reaction {
    channel_id: String,
    timestamp: Ts,
    reaction: String,
}

#[derive(Deserialize)]
struct Search {
    query: String,
    #[serde(default)]
    in_channel: Option<String>,
    #[serde(default)]
    from_user: Option<String>,
    #[serde(default)]
    after: Option<String>,
    #[serde(default)]
    before: Option<String>,
    #[serde(default)]
    on: Option<String>,
    #[serde(default)]
    sort: Option<String>,
    #[serde(default)]
    sort_dir: Option<String>,
    #[serde(default)]
    count: Option<u32>,
    #[serde(default)]
    page: Option<u32>,
}

#[derive(Deserialize)]
struct Unreads {
    #[serde(default)]
    types: Option<String>,
    #[serde(default)]
    max_channels: Option<u32>,
    #[serde(default)]
    max_messages: Option<u32>,
    #[serde(default = "yes")]
    include_messages: bool,
    #[serde(default)]
    cursor: Option<String>,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
struct Mark {
    channel_id: String,
    ts: Ts,
}

fn window_props() -> Value {
    json!({
        "cursor": {"type": "string", "description": "next_cursor of the last answer"},
        "oldest": {"type": "string", "description": "from: a ts, a date (2026-11-30) or an age (1d, 7d, 30d, 12h)"},
        "latest": {"type": "string", "description": "until: same forms as oldest"}
    })
}

fn with(mut base: Value, more: Value) -> Value {
    if let (Some(b), Value::Object(m)) = (base.as_object_mut(), more) {
        b.extend(m);
    }
    base
}

pub fn declare(tools: &mut Tools<Slack>, settings: &Settings) {
    offer(
        tools,
        settings,
        Tool::reads(
            "get_channel_history",
            "Get channel history",
            "Recent messages of a channel, newest first: ts, time, user and name, text, thread \
             (reply_count; read it with get_thread_replies), reactions. channel_id: an id, #name \
             or @user (the DM). Page back with cursor; narrow with oldest/latest.",
        )
        .input_schema(json!({"type": "object", "properties": with(json!({
            "channel_id": {"type": "string"},
            "limit": {"type": "integer", "minimum": 1, "maximum": 999, "description": "default 10"}
        }), window_props()), "required": ["channel_id"]}))
        .output_schema(shape::listing_schema("messages")),
        |slack: &mut Slack, _, a: History| {
            let list = MessageList {
                method: "conversations.history",
                default_limit: 10,
                thread: None,
            };
            list.read(slack, &a.channel_id, &a.window)
        },
    );
    offer(
        tools,
        settings,
        Tool::reads(
            "get_thread_replies",
            "Get thread replies",
            "A thread: its first message and the replies, oldest first. thread_ts is the ts of \
             the thread's first message (a string). Page with cursor.",
        )
        .input_schema(json!({"type": "object", "properties": with(json!({
            "channel_id": {"type": "string"},
            "thread_ts": {"type": "string", "description": "e.g. \"1712345678.123456\""},
            "limit": {"type": "integer", "minimum": 1, "maximum": 999, "description": "default 100"}
        }), window_props()), "required": ["channel_id", "thread_ts"]}))
        .output_schema(shape::listing_schema("messages")),
        |slack: &mut Slack, _, a: Replies| {
            let list = MessageList {
                method: "conversations.replies",
                default_limit: 100,
                thread: Some(a.thread_ts.text("thread_ts")?),
            };
            list.read(slack, &a.channel_id, &a.window)
        },
    );
    offer(
        tools,
        settings,
        Tool::writes(
            "post_message",
            "Post a message",
            "Posts a message to a channel as the app (Slack mrkdwn). channel_id: an id, #name or \
             @user (the DM). Link previews are off unless the plugin is configured otherwise.",
            false,
        )
        .input_schema(json!({"type": "object", "properties": {
            "channel_id": {"type": "string"},
            "text": {"type": "string"}
        }, "required": ["channel_id", "text"]}))
        .output_schema(shape::object_schema(&["channel", "ts"])),
        |slack: &mut Slack, _, a: Post| post(slack, &a.channel_id, &a.text, None, false),
    );
    offer(
        tools,
        settings,
        Tool::writes(
            "reply_to_thread",
            "Reply to a thread",
            "Replies in a thread. thread_ts: the ts of the thread's first message (a string). \
             reply_broadcast also shows the reply in the channel.",
            false,
        )
        .input_schema(json!({"type": "object", "properties": {
            "channel_id": {"type": "string"},
            "thread_ts": {"type": "string", "description": "e.g. \"1712345678.123456\""},
            "text": {"type": "string"},
            "reply_broadcast": {"type": "boolean"}
        }, "required": ["channel_id", "thread_ts", "text"]}))
        .output_schema(shape::object_schema(&["channel", "ts"])),
        |slack: &mut Slack, _, a: Reply| {
            let ts = a.thread_ts.text("thread_ts")?;
            post(slack, &a.channel_id, &a.text, Some(ts), a.reply_broadcast)
        },
    );
    for (name, title, description, method, destructive) in [
        (
            "add_reaction",
            "Add a reaction",
            "Adds an emoji reaction to a message. reaction: the emoji name without colons \
             (thumbsup); timestamp: the message's ts (a string).",
            "reactions.add",
            false,
        ),
        (
            "remove_reaction",
            "Remove a reaction",
            "Removes the app's emoji reaction from a message (same arguments as add_reaction).",
            "reactions.remove",
            true,
        ),
    ] {
        offer(
            tools,
            settings,
            Tool::writes(name, title, description, destructive)
                .idempotent(true)
                .input_schema(json!({"type": "object", "properties": {
                    "channel_id": {"type": "string"},
                    "timestamp": {"type": "string", "description": "the message's ts"},
                    "reaction": {"type": "string", "description": "emoji name, no colons"}
                }, "required": ["channel_id", "timestamp", "reaction"]}))
                .output_schema(shape::object_schema(&["ok"])),
            move |slack: &mut Slack, _, a: Reaction| {
                let ts = a.timestamp.text("timestamp")?;
                let c = slack.conversation(&a.channel_id)?;
                let emoji = a.reaction.trim().trim_matches(':').to_string();
                if emoji.is_empty() {
                    return Err(ToolError::Invalid("reaction is empty".into()));
                }
                let params = [
                    ("channel", c.id.clone()),
                    ("timestamp", ts.clone()),
                    ("name", emoji.clone()),
                ];
                slack
                    .api
                    .call(Token::Bot, method, &params, &slack.clock)
                    .map_err(|e| e.about(format!("{} message {ts}", c.label())))?;
                let out = json!({"ok": true, "channel": c.id, "timestamp": ts, "reaction": emoji});
                Ok(slack.out(&out, false))
            },
        );
    }
    offer(
        tools,
        settings,
        Tool::reads(
            "search_messages",
            "Search messages",
            "Searches messages with Slack's search (needs the user token): query in Slack's \
             syntax, narrowed by in_channel (#name or id), from_user (@name or id), after/before/on \
             (YYYY-MM-DD). Results outside the allowed channels are dropped.",
        )
        .input_schema(json!({"type": "object", "properties": {
            "query": {"type": "string"},
            "in_channel": {"type": "string"},
            "from_user": {"type": "string"},
            "after": {"type": "string"},
            "before": {"type": "string"},
            "on": {"type": "string"},
            "sort": {"type": "string", "enum": ["score", "timestamp"]},
            "sort_dir": {"type": "string", "enum": ["asc", "desc"]},
            "count": {"type": "integer", "minimum": 1, "maximum": 100, "description": "default 20"},
            "page": {"type": "integer", "minimum": 1}
        }, "required": ["query"]}))
        .output_schema(shape::object_schema(&["messages", "next_page"])),
        search,
    );
    offer(
        tools,
        settings,
        Tool::reads(
            "get_unreads",
            "Get unread messages",
            "Channels and DMs with unread messages for the user the user token belongs to, with \
             the unread messages (at most max_messages each). Checks max_channels conversations \
             per call (default 20); page with cursor.",
        )
        .input_schema(json!({"type": "object", "properties": {
            "types": {"type": "string", "description": "default public_channel,private_channel,mpim,im"},
            "max_channels": {"type": "integer", "minimum": 1, "maximum": 100},
            "max_messages": {"type": "integer", "minimum": 1, "maximum": 100},
            "include_messages": {"type": "boolean"},
            "cursor": {"type": "string"}
        }}))
        .output_schema(shape::listing_schema("channels")),
        unreads,
    );
    offer(
        tools,
        settings,
        Tool::writes(
            "mark_read",
            "Mark read",
            "Moves the user's read marker in a channel to the message ts (user token).",
            false,
        )
        .idempotent(true)
        .input_schema(json!({"type": "object", "properties": {
            "channel_id": {"type": "string"},
            "ts": {"type": "string"}
        }, "required": ["channel_id", "ts"]}))
        .output_schema(shape::object_schema(&["ok"])),
        |slack: &mut Slack, _, a: Mark| {
            let ts = a.ts.text("ts")?;
            let c = slack.conversation(&a.channel_id)?;
            let params = [("channel", c.id.clone()), ("ts", ts.clone())];
            slack
                .api
                .call(Token::User, "conversations.mark", &params, &slack.clock)
                .map_err(|e| e.about(c.label()))?;
            Ok(slack.out(&json!({"ok": true, "channel": c.id, "ts": ts}), false))
        },
    );
}

/// A channel's history or a thread: the method, its default page, and the thread's ts.
struct MessageList {
    method: &'static str,
    default_limit: u32,
    thread: Option<String>,
}

impl MessageList {
    fn read(self, slack: &mut Slack, channel: &str, w: &Window) -> Result<CallResult, ToolError> {
        let c = slack.conversation(channel)?;
        let mut params = cursor_params(w.limit, self.default_limit, 999, &w.cursor);
        params.push(("channel", c.id.clone()));
        if let Some(ts) = self.thread {
            params.push(("ts", ts));
        }
        if let Some(t) = &w.oldest {
            params.push(("oldest", t.slack("oldest")?));
        }
        if let Some(t) = &w.latest {
            params.push(("latest", t.slack("latest")?));
        }
        if w.oldest.is_some() || w.latest.is_some() {
            // So a window's edges count.
            params.push(("inclusive", "true".into()));
        }
        let page = slack
            .api
            .call_as(Token::Bot, self.method, &params, &slack.clock)
            .map_err(|e| e.about(c.label()))?;
        let value = messages_answer(slack, self.method, &c.id, page)?;
        Ok(slack.out(&value, true))
    }
}

/// A page of `conversations.history` or `conversations.replies`, each message kept as its
/// text until it is read (so one malformed message does not spoil the page).
#[derive(Deserialize)]
struct MessagePage {
    #[serde(default)]
    ok: bool,
    messages: Option<Vec<Box<RawValue>>>,
    #[serde(default)]
    has_more: bool,
    response_metadata: Option<PageMeta>,
}

impl SlackAnswer for MessagePage {
    fn ok(&self) -> bool {
        self.ok
    }
}

/// Slack's message objects of `list`; what could not be read as a message is counted, not
/// dropped silently. An answer without the list is Slack breaking its own shape: an error.
fn raw_messages(
    method: &str,
    list: Option<Vec<Box<RawValue>>>,
) -> Result<(Vec<RawMessage>, usize), ToolError> {
    let Some(items) = list else {
        return Err(ToolError::Failed(format!(
            "Slack's answer to {method} has no list of messages; try again, and report it if \
             it persists"
        )));
    };
    let mut out = Vec::with_capacity(items.len());
    let mut unreadable = 0;
    for item in items {
        match serde_json::from_str(item.get()) {
            Ok(m) => out.push(m),
            Err(_) => unreadable += 1,
        }
    }
    Ok((out, unreadable))
}

/// Search results as messages (a search answer is small: read whole); the unreadable counted.
fn search_matches(matches: Option<&Value>) -> (Vec<RawMessage>, usize) {
    let items = matches
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    let read: Vec<RawMessage> = items
        .iter()
        .filter_map(|m| RawMessage::deserialize(m).ok())
        .collect();
    let unreadable = items.len() - read.len();
    (read, unreadable)
}

/// Says in the answer how many of Slack's messages could not be read.
fn count_unreadable(extra: &mut Vec<(&'static str, Value)>, unreadable: usize) {
    if unreadable > 0 {
        extra.push(("unreadable", json!(unreadable)));
    }
}

/// Shapes the `messages` of a history or replies answer, naming their authors.
fn messages_answer(
    slack: &mut Slack,
    method: &str,
    channel: &str,
    page: MessagePage,
) -> Result<Value, ToolError> {
    let (raw, unreadable) = raw_messages(method, page.messages)?;
    let names = author_names(slack, raw.iter().filter_map(|m| m.user.as_deref()));
    let max = slack
        .settings
        .as_ref()
        .map(|s| s.max_message_chars)
        .unwrap_or(4_000);
    let items: Vec<Value> = raw
        .into_iter()
        .map(|m| {
            let name = m.user.as_ref().and_then(|u| names.get(u).cloned());
            m.shaped(name, max)
        })
        .collect();
    let mut extra = vec![
        ("channel", json!(channel)),
        ("has_more", json!(page.has_more)),
    ];
    count_unreadable(&mut extra, unreadable);
    Ok(Listing {
        key: "messages",
        items,
        next_cursor: next_page(page.response_metadata),
        extra,
    }
    .value(slack.max_bytes()))
}

/// Shown names of the distinct authors (cached; unknown ones looked up within the budget).
fn author_names<'a>(
    slack: &mut Slack,
    ids: impl Iterator<Item = &'a str>,
) -> HashMap<String, String> {
    let mut names = HashMap::new();
    for id in ids {
        if names.contains_key(id) {
            continue;
        }
        if let Some(n) = slack.author(id) {
            names.insert(id.to_string(), n);
        }
    }
    names
}

fn post(
    slack: &mut Slack,
    channel: &str,
    text: &str,
    thread_ts: Option<String>,
    broadcast: bool,
) -> Result<CallResult, ToolError> {
    if text.trim().is_empty() {
        return Err(ToolError::Invalid("text is empty".into()));
    }
    let unfurl = slack.settings()?.unfurl.to_string();
    let c = slack.conversation(channel)?;
    let mut params = vec![
        ("channel", c.id.clone()),
        ("text", text.to_string()),
        ("unfurl_links", unfurl.clone()),
        ("unfurl_media", unfurl),
    ];
    if let Some(t) = &thread_ts {
        params.push(("thread_ts", t.clone()));
        if broadcast {
            params.push(("reply_broadcast", "true".into()));
        }
    }
    let answer = slack
        .api
        .call(Token::Bot, "chat.postMessage", &params, &slack.clock)
        .map_err(|e| e.about(c.label()))?;
    let mut out = json!({
        "ok": true,
        "channel": answer.get("channel").cloned().unwrap_or(json!(c.id)),
        "ts": answer.get("ts").cloned().unwrap_or(Value::Null),
    });
    if let Some(t) = thread_ts {
        out["thread_ts"] = json!(t);
    }
    Ok(slack.out(&out, false))
}

fn search(slack: &mut Slack, _: &CallContext, a: Search) -> Result<CallResult, ToolError> {
    let mut query = a.query.trim().to_string();
    if query.is_empty() {
        return Err(ToolError::Invalid("query is empty".into()));
    }
    if let Some(ch) = &a.in_channel {
        let c = slack.conversation(ch)?;
        query.push_str(&match &c.name {
            Some(n) if !c.is_im => format!(" in:#{n}"),
            _ => format!(" in:<#{}>", c.id),
        });
    }
    if let Some(u) = &a.from_user {
        let id = slack.user_id(u)?;
        query.push_str(&format!(" from:<@{id}>"));
    }
    for (key, value) in [("after", &a.after), ("before", &a.before), ("on", &a.on)] {
        if let Some(v) = value {
            let v = v.trim();
            if v.is_empty() || v.contains(char::is_whitespace) {
                return Err(ToolError::Invalid(format!(
                    "{key}: give a date as YYYY-MM-DD, not {v:?}"
                )));
            }
            query.push_str(&format!(" {key}:{v}"));
        }
    }
    let page = a.page.unwrap_or(1).max(1);
    let mut params = vec![
        ("query", query.clone()),
        ("count", a.count.unwrap_or(20).clamp(1, 100).to_string()),
        ("page", page.to_string()),
    ];
    if let Some(s) = &a.sort {
        params.push(("sort", s.clone()));
    }
    if let Some(d) = &a.sort_dir {
        params.push(("sort_dir", d.clone()));
    }
    let mut answer = slack
        .api
        .call(Token::User, "search.messages", &params, &slack.clock)?;
    let results = answer
        .get_mut("messages")
        .map(Value::take)
        .unwrap_or(Value::Null);
    let total = results.get("total").and_then(Value::as_u64);
    let pages = results
        .pointer("/paging/pages")
        .and_then(Value::as_u64)
        .unwrap_or(1);
    let (raw, unreadable) = search_matches(results.get("matches"));
    let s = slack.settings()?;
    let max = s.max_message_chars;
    let mut filtered_out = 0;
    let mut kept = Vec::new();
    for m in raw {
        let (id, name) = m
            .channel
            .as_ref()
            .map(|c| (c.id.clone().unwrap_or_default(), c.name.clone()))
            .unwrap_or_default();
        if s.scope.allows(&Conversation {
            id: &id,
            name: name.as_deref(),
        }) {
            kept.push(m);
        } else {
            filtered_out += 1;
        }
    }
    let names = author_names(slack, kept.iter().filter_map(|m| m.user.as_deref()));
    let items = kept
        .into_iter()
        .map(|m| {
            let name = m.user.as_ref().and_then(|u| names.get(u).cloned());
            m.shaped(name, max)
        })
        .collect();
    let next_page = (u64::from(page) < pages).then_some(u64::from(page) + 1);
    let mut extra = vec![
        ("query", json!(query)),
        ("page", json!(page)),
        ("next_page", json!(next_page)),
        ("total", json!(total)),
    ];
    if filtered_out > 0 {
        extra.push(("filtered_out", json!(filtered_out)));
    }
    count_unreadable(&mut extra, unreadable);
    if let Some(n) = next_page {
        extra.push((
            "note",
            json!(format!("more results: call again with page={n}")),
        ));
    }
    let listing = Listing {
        key: "messages",
        items,
        next_cursor: None,
        extra,
    };
    let mut value = listing.value(s.max_bytes);
    if let Some(map) = value.as_object_mut() {
        map.remove("next_cursor");
    }
    Ok(slack.out(&value, true))
}

fn unreads(slack: &mut Slack, _: &CallContext, a: Unreads) -> Result<CallResult, ToolError> {
    let s = slack.settings()?;
    let max_channels = a.max_channels.unwrap_or(20).clamp(1, 100);
    let max_messages = a.max_messages.unwrap_or(10).clamp(1, 100);
    let mut params = cursor_params(Some(max_channels), max_channels, 100, &a.cursor);
    params.push((
        "types",
        a.types
            .clone()
            .unwrap_or_else(|| "public_channel,private_channel,mpim,im".into()),
    ));
    params.push(("exclude_archived", "true".into()));
    let listed = slack
        .api
        .call(Token::User, "users.conversations", &params, &slack.clock)?;
    let mut out = Vec::new();
    let mut checked = 0;
    let mut stopped = false;
    for raw in listed
        .get("channels")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let c = crate::directory::Channel::from_json(raw);
        if !s.scope.allows(&Conversation {
            id: &c.id,
            name: c.name.as_deref(),
        }) {
            continue;
        }
        if !slack.clock.fits(s.timeout_ms.min(3_000)) {
            stopped = true;
            break;
        }
        checked += 1;
        let info = slack
            .api
            .call(
                Token::User,
                "conversations.info",
                &[("channel", c.id.clone())],
                &slack.clock,
            )
            .map_err(|e| e.about(c.label()))?;
        let ch = info.get("channel").cloned().unwrap_or(Value::Null);
        let unread = ch
            .get("unread_count_display")
            .or_else(|| ch.get("unread_count"))
            .and_then(Value::as_u64)
            .unwrap_or(0);
        if unread == 0 {
            continue;
        }
        let mut entry = shape::channel(&c);
        entry["unread_count"] = json!(unread);
        let last_read = ch
            .get("last_read")
            .and_then(Value::as_str)
            .map(str::to_string);
        if let Some(l) = &last_read {
            entry["last_read"] = json!(l);
        }
        if a.include_messages {
            let mut hp = vec![
                ("channel", c.id.clone()),
                ("limit", max_messages.to_string()),
            ];
            if let Some(l) = last_read {
                hp.push(("oldest", l));
            }
            let history = slack
                .api
                .call_as(Token::User, "conversations.history", &hp, &slack.clock)
                .map_err(|e| e.about(c.label()))?;
            let shaped = messages_answer(slack, "conversations.history", &c.id, history)?;
            entry["messages"] = shaped.get("messages").cloned().unwrap_or(json!([]));
        }
        out.push(entry);
    }
    let mut extra = vec![("checked", json!(checked))];
    if stopped {
        extra.push((
            "note",
            json!("stopped early for the call's time limit: call again with fewer max_channels"),
        ));
    }
    let listing = Listing {
        key: "channels",
        items: out,
        next_cursor: next_cursor(&listed),
        extra,
    };
    Ok(slack.out(&listing.value(s.max_bytes), a.include_messages))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unreadable_messages_are_counted_and_a_missing_list_is_an_error() {
        let page: MessagePage = serde_json::from_value(json!({"ok": true, "messages": [
            {"ts": "1712345678.000100", "user": "U1", "text": "fine"},
            {"ts": 1712345678.0001, "text": "a number ts"},
            {"ts": "1712345679.000100", "reactions": "not a list"},
            {"ts": "1712345680.000100", "text": "also fine", "blocks": [{"type": "x"}]}
        ]}))
        .expect("a page");
        let list = page.messages;
        let (read, unreadable) = raw_messages("conversations.history", list).expect("a list");
        assert_eq!(read.len(), 2);
        assert_eq!(unreadable, 2);
        assert_eq!(read[1].text.as_deref(), Some("also fine"));
        let missing = raw_messages("conversations.history", None).map(|(m, n)| (m.len(), n));
        assert!(
            matches!(&missing, Err(ToolError::Failed(m)) if m.contains("conversations.history")),
            "{missing:?}"
        );
        // Not a list at all: the page does not read (the API layer says so, naming the method).
        assert!(
            serde_json::from_value::<MessagePage>(json!({"ok": true, "messages": {"a": 1}}))
                .is_err()
        );
    }

    #[test]
    fn history_and_replies_read_the_same_window() {
        let h: History = serde_json::from_value(json!({
            "channel_id": "#eng", "limit": 5, "cursor": "c1", "oldest": "7d", "latest": 1712345678
        }))
        .expect("history args");
        assert_eq!(h.window.limit, Some(5));
        assert_eq!(h.window.cursor.as_deref(), Some("c1"));
        assert!(matches!(h.window.oldest, Some(Time::Text(ref t)) if t == "7d"));
        assert!(matches!(h.window.latest, Some(Time::Seconds(1712345678))));
        let r: Replies = serde_json::from_value(json!({
            "channel_id": "C0123ABCD", "thread_ts": "1712345678.000100"
        }))
        .expect("replies args");
        assert!(r.window.limit.is_none() && r.window.oldest.is_none());
        assert_eq!(
            r.thread_ts.text("thread_ts").expect("a ts"),
            "1712345678.000100"
        );
    }
}
