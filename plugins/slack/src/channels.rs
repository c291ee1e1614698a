//! Channels: the list (only the allowed ones when `[config].channels` is a closed list) and
//! one channel's details.

use pier_sdk::{Tool, Tools, Value, json};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::api::{PageMeta, SlackAnswer, next_page};
use crate::directory::{Channel, Found, RawChannel};
use crate::scope::Conversation;
use crate::settings::Settings;
use crate::shape::{self, Listing};
use crate::{Slack, api::Token, cursor_params, offer};

#[derive(Deserialize)]
struct ListChannels {
    #[serde(default)]
    limit: Option<u32>,
    #[serde(default)]
    cursor: Option<String>,
    #[serde(default)]
    types: Option<String>,
    #[serde(default)]
    include_archived: bool,
}

#[derive(Deserialize)]
struct ChannelInfo {
    channel_id: String,
}

pub fn declare(tools: &mut Tools<Slack>, settings: &Settings) {
    offer(
        tools,
        settings,
        Tool::reads(
            "list_channels",
            "List channels",
            "Lists the workspace's channels the plugin may use: id, name, type, members, topic. \
             Page with cursor (next_cursor of the last answer). types: a comma list of \
             public_channel, private_channel, mpim, im.",
        )
        .input_schema(json!({"type": "object", "properties": {
            "limit": {"type": "integer", "minimum": 1, "maximum": 1000, "description": "default 100"},
            "cursor": {"type": "string"},
            "types": {"type": "string"},
            "include_archived": {"type": "boolean"}
        }}))
        .output_schema(shape::listing_schema("channels")),
        list_channels,
    );
    offer(
        tools,
        settings,
        Tool::reads(
            "get_channel_info",
            "Get channel info",
            "One channel's details: name, type, topic, purpose, members, whether the app is a \
             member. channel_id: an id, #name or @user (the DM).",
        )
        .input_schema(json!({"type": "object", "properties": {
            "channel_id": {"type": "string"}
        }, "required": ["channel_id"]}))
        .output_schema(shape::object_schema(&["id"])),
        |slack: &mut Slack, _, a: ChannelInfo| {
            let c = slack.conversation(&a.channel_id)?;
            let s = slack.settings()?;
            let c = slack
                .dir
                .by_id::<Channel>(&c.id, &slack.api, &slack.clock, &s)?;
            Ok(slack.out(&shape::channel(&c), false))
        },
    );
}

/// A page of `conversations.list`, each channel kept as its text until it is read (one
/// malformed channel is counted in `unreadable`, not fatal to the page).
#[derive(Deserialize)]
struct ChannelPage {
    #[serde(default)]
    ok: bool,
    #[serde(default)]
    channels: Vec<Box<RawValue>>,
    response_metadata: Option<PageMeta>,
}

impl SlackAnswer for ChannelPage {
    fn ok(&self) -> bool {
        self.ok
    }
}

fn list_channels(
    slack: &mut Slack,
    _: &pier_sdk::CallContext,
    a: ListChannels,
) -> Result<pier_sdk::CallResult, pier_sdk::ToolError> {
    let s = slack.settings()?;
    if let Some(entries) = s.scope.allowed_entries() {
        let value = allowed_channels(slack, &s, &entries)?;
        return Ok(slack.out(&value, false));
    }
    let mut params = cursor_params(a.limit, 100, 1000, &a.cursor);
    params.push(("types", a.types.clone().unwrap_or_else(|| s.types())));
    params.push(("exclude_archived", (!a.include_archived).to_string()));
    if let Some(team) = &s.team_id {
        params.push(("team_id", team.clone()));
    }
    let page: ChannelPage =
        slack
            .api
            .call_as(Token::Bot, "conversations.list", &params, &slack.clock)?;
    let mut filtered_out = 0;
    let mut unreadable = 0;
    let mut items = Vec::new();
    for raw in page.channels {
        let Ok(c) = serde_json::from_str::<RawChannel>(raw.get()) else {
            unreadable += 1;
            continue;
        };
        let c = Channel::from(c);
        let allowed = s.scope.allows(&Conversation {
            id: &c.id,
            name: c.name.as_deref(),
        });
        if allowed {
            items.push(shape::channel(&c));
        } else {
            filtered_out += 1;
        }
        slack.dir.remember_channel(c);
    }
    let mut extra = Vec::new();
    if filtered_out > 0 {
        extra.push(("filtered_out", json!(filtered_out)));
    }
    if unreadable > 0 {
        extra.push(("unreadable", json!(unreadable)));
    }
    let listing = Listing {
        key: "channels",
        items,
        next_cursor: next_page(page.response_metadata),
        extra,
    };
    Ok(slack.out(&listing.value(s.max_bytes), false))
}

/// The channels a closed allow-list names, looked up one by one (a workspace of 40k channels
/// is not paged to show three).
fn allowed_channels(
    slack: &mut Slack,
    s: &Settings,
    entries: &[String],
) -> Result<Value, pier_sdk::ToolError> {
    let mut items = Vec::new();
    let mut unresolved = Vec::new();
    for entry in entries {
        let found = match entry.strip_prefix('#') {
            Some(name) => match slack.dir.channel_named(name, &slack.api, &slack.clock, s) {
                Ok(Found::Yes(c)) => Ok(c),
                Ok(Found::No(why)) => Err(why),
                Err(e) => Err(pier_sdk::ToolError::from(e).to_string()),
            },
            None => slack
                .dir
                .by_id::<Channel>(entry, &slack.api, &slack.clock, s)
                .map_err(|e| pier_sdk::ToolError::from(e).to_string()),
        };
        match found {
            Ok(c)
                if s.scope.allows(&Conversation {
                    id: &c.id,
                    name: c.name.as_deref(),
                }) =>
            {
                items.push(shape::channel(&c))
            }
            Ok(_) => {}
            Err(why) => unresolved.push(json!({"entry": entry, "error": why})),
        }
    }
    let mut extra = vec![(
        "note",
        json!("only the channels [config].channels allows are listed"),
    )];
    if !unresolved.is_empty() {
        extra.push(("unresolved", Value::Array(unresolved)));
    }
    let listing = Listing {
        key: "channels",
        items,
        next_cursor: None,
        extra,
    };
    Ok(listing.value(s.max_bytes))
}
