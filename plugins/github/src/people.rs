//! The `context` and `users` toolsets: who the token is, and user search.

use pier_sdk::{Tool, Tools, Value, json};
use serde::Deserialize;

use crate::settings::Settings;
use crate::shape::{self, Page};
use crate::{Github, Paging, offer, paging, props};

#[derive(Deserialize)]
struct SearchUsers {
    query: String,
    #[serde(default)]
    sort: Option<String>,
    #[serde(default)]
    order: Option<String>,
    #[serde(flatten)]
    paging: Paging,
}

pub fn declare(tools: &mut Tools<Github>, settings: &Settings) {
    offer(
        tools,
        settings,
        Tool::reads(
            "get_me",
            "Get my user profile",
            "The GitHub user the token belongs to: login, name, profile and counts. Use it to \
             learn who \"me\" is before other calls.",
        )
        .output_schema(shape::object_schema(&["login"])),
        |gh: &mut Github, _, _: Value| {
            let me = gh.api.get("/user", &[])?.json;
            let user = shape::user(&me);
            gh.me = user
                .get("login")
                .and_then(Value::as_str)
                .map(str::to_string);
            Ok(gh.out(&user, false))
        },
    );
    offer(
        tools,
        settings,
        Tool::reads(
            "search_users",
            "Search users",
            "Finds GitHub users with GitHub's user search syntax (type:user is added): \
             e.g. 'location:Berlin language:rust'.",
        )
        .input_schema(json!({"type": "object", "properties": props(&[json!({
            "query": {"type": "string", "description": "User search query"},
            "sort": {"type": "string", "enum": ["followers", "repositories", "joined"]},
            "order": {"type": "string", "enum": ["asc", "desc"]}
        }), paging()]), "required": ["query"]}))
        .output_schema(shape::page_schema("users")),
        |gh: &mut Github, _, a: SearchUsers| {
            let mut query = vec![("q", format!("{} type:user", a.query))];
            query.extend(a.sort.map(|s| ("sort", s)));
            query.extend(a.order.map(|o| ("order", o)));
            query.extend(a.paging.query());
            let answer = gh.api.get("/search/users", &query)?;
            let items = answer.json["items"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|u| {
                            Value::Object(shape::pick(u, &["login", "id", "type", "html_url"]))
                        })
                        .collect()
                })
                .unwrap_or_default();
            let page = Page {
                key: "users",
                items,
                page: a.paging.page(),
                next_page: answer.next_page,
                total_count: answer.json["total_count"].as_u64(),
            };
            Ok(gh.out(&page.value(None, gh.max_bytes()), false))
        },
    );
}
