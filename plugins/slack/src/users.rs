//! People: the member list, one profile, and a search by part of a name.

use pier_sdk::{Tool, Tools, Value, json};
use serde::Deserialize;

use crate::api::Token;
use crate::directory::{User, next_cursor};
use crate::settings::Settings;
use crate::shape::{self, Listing};
use crate::{Slack, cursor_params, offer};

#[derive(Deserialize)]
struct GetUsers {
    #[serde(default)]
    cursor: Option<String>,
    #[serde(default)]
    limit: Option<u32>,
}

#[derive(Deserialize)]
struct Profile {
    user_id: String,
}

#[derive(Deserialize)]
struct SearchUsers {
    query: String,
    #[serde(default)]
    limit: Option<u32>,
}

pub fn declare(tools: &mut Tools<Slack>, settings: &Settings) {
    offer(
        tools,
        settings,
        Tool::reads(
            "get_users",
            "List users",
            "The workspace's members: id, handle, names, title, time zone, bot/admin flags. Page \
             with cursor.",
        )
        .input_schema(json!({"type": "object", "properties": {
            "cursor": {"type": "string"},
            "limit": {"type": "integer", "minimum": 1, "maximum": 1000, "description": "default 100"}
        }}))
        .output_schema(shape::listing_schema("users")),
        |slack: &mut Slack, _, a: GetUsers| {
            let s = slack.settings()?;
            let mut params = cursor_params(a.limit, 100, 1000, &a.cursor);
            if let Some(team) = &s.team_id {
                params.push(("team_id", team.clone()));
            }
            let answer = slack
                .api
                .call(Token::Bot, "users.list", &params, &slack.clock)?;
            let mut items = Vec::new();
            for raw in answer
                .get("members")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let u = User::from_json(raw);
                items.push(shape::user(&u));
                slack.dir.remember_user(u);
            }
            let listing = Listing {
                key: "users",
                items,
                next_cursor: next_cursor(&answer),
                extra: Vec::new(),
            };
            Ok(slack.out(&listing.value(s.max_bytes), false))
        },
    );
    offer(
        tools,
        settings,
        Tool::reads(
            "get_user_profile",
            "Get a user's profile",
            "One person's profile: names, title, email, phone, status, custom fields. user_id: \
             an id (U0123ABC), @handle, a name or an email address.",
        )
        .input_schema(json!({"type": "object", "properties": {
            "user_id": {"type": "string"}
        }, "required": ["user_id"]}))
        .output_schema(shape::object_schema(&["user"])),
        |slack: &mut Slack, _, a: Profile| {
            let id = slack.user_id(&a.user_id)?;
            let answer = slack
                .api
                .call(
                    Token::Bot,
                    "users.profile.get",
                    &[("user", id.clone()), ("include_labels", "true".into())],
                    &slack.clock,
                )
                .map_err(|e| e.about(id.clone()))?;
            let profile = answer.get("profile").cloned().unwrap_or(Value::Null);
            Ok(slack.out(&profile_answer(&id, &profile), false))
        },
    );
    offer(
        tools,
        settings,
        Tool::reads(
            "search_users",
            "Search users",
            "Finds people by part of a handle, display name, real name or email (case does not \
             matter). Walks the member list once and then answers from the cache.",
        )
        .input_schema(json!({"type": "object", "properties": {
            "query": {"type": "string"},
            "limit": {"type": "integer", "minimum": 1, "maximum": 100, "description": "default 10"}
        }, "required": ["query"]}))
        .output_schema(shape::object_schema(&["users"])),
        |slack: &mut Slack, _, a: SearchUsers| {
            if a.query.trim().trim_start_matches('@').is_empty() {
                return Err(pier_sdk::ToolError::Invalid("query is empty".into()));
            }
            let s = slack.settings()?;
            let limit = a.limit.unwrap_or(10).clamp(1, 100) as usize;
            let (found, complete) =
                slack
                    .dir
                    .search_users(&a.query, limit, &slack.api, &slack.clock, &s)?;
            let mut out = json!({
                "users": found.iter().map(shape::user).collect::<Vec<_>>(),
                "complete": complete,
            });
            if !complete && found.len() < limit {
                out["note"] = json!(
                    "the member list is larger than this call could walk: call again to search \
                     the rest"
                );
            }
            Ok(slack.out(&out, false))
        },
    );
}

/// The profile fields a model uses, with custom fields by their label.
fn profile_answer(id: &str, p: &Value) -> Value {
    let mut out = serde_json::Map::new();
    out.insert("user".into(), json!(id));
    for k in [
        "real_name",
        "display_name",
        "title",
        "email",
        "phone",
        "pronouns",
        "status_text",
        "status_emoji",
    ] {
        if let Some(v) = p.get(k).and_then(Value::as_str).filter(|v| !v.is_empty()) {
            out.insert(k.into(), json!(v));
        }
    }
    if let Some(fields) = p.get("fields").and_then(Value::as_object) {
        let custom: serde_json::Map<String, Value> = fields
            .iter()
            .filter_map(|(key, f)| {
                let value = f.get("value").and_then(Value::as_str)?;
                let label = f.get("label").and_then(Value::as_str).unwrap_or(key);
                Some((label.to_string(), json!(value)))
            })
            .collect();
        if !custom.is_empty() {
            out.insert("fields".into(), Value::Object(custom));
        }
    }
    Value::Object(out)
}
