//! Channel and user names, resolved lazily and cached for `[config].cache_ttl`.
//!
//! Nothing is loaded at start: `initialize` and the first call never wait for a workspace
//! walk (large workspaces have tens of thousands of channels behind a Tier 2 rate limit). A
//! name is looked up when a call uses it: the cache answers while fresh; on a miss the
//! channel list is paged (1,000 a page) only until the name turns up, everything seen is
//! cached, and a walk cut short by the call's time budget resumes where it stopped on the next
//! miss. A miss right after a complete walk (within `min_refresh`) is answered without walking
//! again. An id needs no walk at all: one `conversations.info`, cached.

use std::collections::HashMap;

use serde_json::Value;

use crate::api::{Api, SlackError, Token};
use crate::clock::{Clock, now_secs};
use crate::settings::Settings;

/// What the plugin knows of a conversation.
#[derive(Debug, Clone, Default)]
pub struct Channel {
    pub id: String,
    /// Without `#`; `None` for DMs.
    pub name: Option<String>,
    pub is_private: bool,
    pub is_archived: bool,
    pub is_member: Option<bool>,
    pub is_im: bool,
    pub is_mpim: bool,
    /// The other person of a DM.
    pub user: Option<String>,
    pub topic: Option<String>,
    pub purpose: Option<String>,
    pub num_members: Option<u64>,
    pub created: Option<u64>,
    fetched: u64,
}

impl Channel {
    pub fn from_json(c: &Value) -> Channel {
        let text = |k: &str| c.get(k).and_then(Value::as_str).map(str::to_string);
        let flag = |k: &str| c.get(k).and_then(Value::as_bool).unwrap_or(false);
        let inner = |k: &str| {
            c.get(k)
                .and_then(|t| t.get("value"))
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        Channel {
            id: text("id").unwrap_or_default(),
            name: text("name"),
            is_private: flag("is_private") || flag("is_group"),
            is_archived: flag("is_archived"),
            is_member: c.get("is_member").and_then(Value::as_bool),
            is_im: flag("is_im"),
            is_mpim: flag("is_mpim"),
            user: text("user"),
            topic: inner("topic"),
            purpose: inner("purpose"),
            num_members: c.get("num_members").and_then(Value::as_u64),
            created: c.get("created").and_then(Value::as_u64),
            fetched: now_secs(),
        }
    }

    /// A conversation known by its id only.
    pub fn with_id(id: String) -> Channel {
        Channel {
            id,
            ..Channel::default()
        }
    }

    /// `#name (C0123)`, or the id alone, for messages.
    pub fn label(&self) -> String {
        match &self.name {
            Some(n) if !self.is_im => format!("#{n} ({})", self.id),
            _ => self.id.clone(),
        }
    }
}

/// What the plugin knows of a person.
#[derive(Debug, Clone, Default)]
pub struct User {
    pub id: String,
    /// The handle (`alice`).
    pub name: Option<String>,
    pub real_name: Option<String>,
    pub display_name: Option<String>,
    pub email: Option<String>,
    pub title: Option<String>,
    pub tz: Option<String>,
    pub is_bot: bool,
    pub is_admin: bool,
    pub deleted: bool,
    fetched: u64,
}

impl User {
    pub fn from_json(u: &Value) -> User {
        let text = |v: &Value, k: &str| {
            v.get(k)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        let profile = u.get("profile").cloned().unwrap_or(Value::Null);
        let flag = |k: &str| u.get(k).and_then(Value::as_bool).unwrap_or(false);
        User {
            id: text(u, "id").unwrap_or_default(),
            name: text(u, "name"),
            real_name: text(u, "real_name").or_else(|| text(&profile, "real_name")),
            display_name: text(&profile, "display_name"),
            email: text(&profile, "email"),
            title: text(&profile, "title"),
            tz: text(u, "tz"),
            is_bot: flag("is_bot"),
            is_admin: flag("is_admin"),
            deleted: flag("deleted"),
            fetched: now_secs(),
        }
    }

    /// The name to show: display name, else real name, else handle.
    pub fn shown(&self) -> Option<&str> {
        self.display_name
            .as_deref()
            .or(self.real_name.as_deref())
            .or(self.name.as_deref())
    }

    fn keys(&self) -> Vec<String> {
        [&self.name, &self.display_name, &self.real_name, &self.email]
            .into_iter()
            .flatten()
            .map(|s| s.to_ascii_lowercase())
            .collect()
    }
}

/// A paged walk of a Slack list (`conversations.list`, `users.list`).
#[derive(Debug, Default)]
struct Walk {
    /// Where an unfinished walk goes on.
    cursor: Option<String>,
    /// When the last walk reached the end.
    finished: Option<u64>,
    /// Items seen by the current walk (for messages).
    seen: u64,
}

#[derive(Default)]
pub struct Directory {
    channels: HashMap<String, Channel>,
    channel_names: HashMap<String, String>,
    channel_walk: Walk,
    dm_walk: Walk,
    users: HashMap<String, User>,
    user_keys: HashMap<String, String>,
    user_walk: Walk,
    /// `users.info` calls left in the current tool call for naming message authors.
    pub name_budget: u32,
}

/// The outcome of looking a name up.
pub enum Found<T> {
    Yes(T),
    /// Not found; the message says how far the search went.
    No(String),
}

const PAGE: u32 = 1_000;

impl Directory {
    fn fresh(&self, fetched: u64, s: &Settings) -> bool {
        s.cache_ttl == 0 || now_secs().saturating_sub(fetched) < s.cache_ttl
    }

    pub fn remember_channel(&mut self, c: Channel) {
        if c.id.is_empty() {
            return;
        }
        if let Some(name) = &c.name {
            self.channel_names
                .insert(name.to_ascii_lowercase(), c.id.clone());
        }
        self.channels.insert(c.id.clone(), c);
    }

    pub fn remember_user(&mut self, u: User) {
        if u.id.is_empty() {
            return;
        }
        for key in u.keys() {
            self.user_keys.entry(key).or_insert_with(|| u.id.clone());
        }
        self.users.insert(u.id.clone(), u);
    }

    /// A cached conversation, fresh or not.
    pub fn cached_channel(&self, id: &str) -> Option<&Channel> {
        self.channels.get(id)
    }

    /// The conversation with this id: cached while fresh, else `conversations.info`.
    pub fn channel(
        &mut self,
        id: &str,
        api: &Api,
        clock: &Clock,
        s: &Settings,
    ) -> Result<Channel, SlackError> {
        if let Some(c) = self.channels.get(id)
            && self.fresh(c.fetched, s)
        {
            return Ok(c.clone());
        }
        let answer = api
            .call(
                Token::Bot,
                "conversations.info",
                &[
                    ("channel", id.to_string()),
                    ("include_num_members", "true".into()),
                ],
                clock,
            )
            .map_err(|e| e.about(id))?;
        let c = Channel::from_json(answer.get("channel").unwrap_or(&Value::Null));
        self.remember_channel(c.clone());
        Ok(c)
    }

    /// The channel named `name` (without `#`).
    pub fn channel_named(
        &mut self,
        name: &str,
        api: &Api,
        clock: &Clock,
        s: &Settings,
    ) -> Result<Found<Channel>, SlackError> {
        let key = name.to_ascii_lowercase();
        if let Some(id) = self.channel_names.get(&key).cloned() {
            let cached = self.channels.get(&id).cloned();
            if let Some(c) = cached {
                if self.fresh(c.fetched, s)
                    && c.name.as_deref().map(str::to_ascii_lowercase) == Some(key.clone())
                {
                    return Ok(Found::Yes(c));
                }
                // Stale: one cheap check that the id still has this name (channels get
                // renamed, and a new channel can take the old name).
                match self.refresh_channel(&id, api, clock) {
                    Ok(c)
                        if c.name.as_deref().map(str::to_ascii_lowercase) == Some(key.clone()) =>
                    {
                        return Ok(Found::Yes(c));
                    }
                    Ok(_) | Err(_) => {
                        self.channel_names.remove(&key);
                    }
                }
            }
        }
        let types = s.types();
        let found = self.walk_channels(&types, api, clock, s, &|c: &Channel| {
            c.name.as_deref().map(str::to_ascii_lowercase).as_deref() == Some(key.as_str())
        })?;
        Ok(match found {
            Some(c) => Found::Yes(c),
            None => Found::No(Self::walk_note("channels", &self.channel_walk, &types)),
        })
    }

    /// The DM with `user`.
    pub fn dm_with(
        &mut self,
        user: &str,
        api: &Api,
        clock: &Clock,
        s: &Settings,
    ) -> Result<Found<Channel>, SlackError> {
        if let Some(c) = self
            .channels
            .values()
            .find(|c| c.is_im && c.user.as_deref() == Some(user))
        {
            return Ok(Found::Yes(c.clone()));
        }
        let mut walk = std::mem::take(&mut self.dm_walk);
        let found = self.walk(&mut walk, "im", api, clock, s, &|c: &Channel| {
            c.user.as_deref() == Some(user)
        });
        let note = Self::walk_note("direct messages", &walk, "im");
        self.dm_walk = walk;
        Ok(match found? {
            Some(c) => Found::Yes(c),
            None => Found::No(format!(
                "{note}; the app has no DM open with {user} (a DM is opened in Slack, or by \
                 giving the app im:write)"
            )),
        })
    }

    fn walk_note(what: &str, walk: &Walk, types: &str) -> String {
        if walk.cursor.is_some() {
            format!(
                "not among the first {} {what} (types {types}); the search stopped for this \
                 call's time limit and goes on from there on the next call, or give the id",
                walk.seen
            )
        } else {
            format!(
                "not among the {} {what} the token can see (types {types})",
                walk.seen
            )
        }
    }

    fn refresh_channel(
        &mut self,
        id: &str,
        api: &Api,
        clock: &Clock,
    ) -> Result<Channel, SlackError> {
        let answer = api.call(
            Token::Bot,
            "conversations.info",
            &[("channel", id.to_string())],
            clock,
        )?;
        let c = Channel::from_json(answer.get("channel").unwrap_or(&Value::Null));
        self.remember_channel(c.clone());
        Ok(c)
    }

    fn walk_channels(
        &mut self,
        types: &str,
        api: &Api,
        clock: &Clock,
        s: &Settings,
        want: &dyn Fn(&Channel) -> bool,
    ) -> Result<Option<Channel>, SlackError> {
        let mut walk = std::mem::take(&mut self.channel_walk);
        let found = self.walk(&mut walk, types, api, clock, s, want);
        self.channel_walk = walk;
        found
    }

    /// Pages `conversations.list` of `types` until `want` matches, the list ends, or the call's
    /// budget runs out (then the cursor is kept for the next miss).
    fn walk(
        &mut self,
        walk: &mut Walk,
        types: &str,
        api: &Api,
        clock: &Clock,
        s: &Settings,
        want: &dyn Fn(&Channel) -> bool,
    ) -> Result<Option<Channel>, SlackError> {
        if walk.cursor.is_none() {
            if walk
                .finished
                .is_some_and(|at| now_secs().saturating_sub(at) < s.min_refresh)
            {
                return Ok(None);
            }
            walk.seen = 0;
        }
        loop {
            if walk.seen > 0 && !clock.fits(s.timeout_ms.min(5_000)) {
                return Ok(None);
            }
            let mut params = vec![
                ("types", types.to_string()),
                ("exclude_archived", "false".to_string()),
                ("limit", PAGE.to_string()),
            ];
            if let Some(team) = &s.team_id {
                params.push(("team_id", team.clone()));
            }
            if let Some(c) = &walk.cursor {
                params.push(("cursor", c.clone()));
            }
            let answer = api.call(Token::Bot, "conversations.list", &params, clock)?;
            let mut hit = None;
            for raw in answer
                .get("channels")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let c = Channel::from_json(raw);
                walk.seen += 1;
                if hit.is_none() && want(&c) {
                    hit = Some(c.clone());
                }
                self.remember_channel(c);
            }
            walk.cursor = next_cursor(&answer);
            if walk.cursor.is_none() {
                walk.finished = Some(now_secs());
            }
            if hit.is_some() || walk.cursor.is_none() {
                return Ok(hit);
            }
        }
    }

    /// The user `key` names: a handle, display name, real name or email (lower-cased).
    pub fn user_named(
        &mut self,
        key: &str,
        api: &Api,
        clock: &Clock,
        s: &Settings,
    ) -> Result<Found<User>, SlackError> {
        let key = key.to_ascii_lowercase();
        if let Some(id) = self.user_keys.get(&key)
            && let Some(u) = self.users.get(id)
            && self.fresh(u.fetched, s)
        {
            return Ok(Found::Yes(u.clone()));
        }
        if key.contains('@') && key.contains('.') {
            let answer = api.call(
                Token::Bot,
                "users.lookupByEmail",
                &[("email", key.clone())],
                clock,
            );
            return match answer {
                Ok(a) => {
                    let u = User::from_json(a.get("user").unwrap_or(&Value::Null));
                    self.remember_user(u.clone());
                    Ok(Found::Yes(u))
                }
                Err(e) if e.code() == Some("users_not_found") => {
                    Ok(Found::No(format!("no user has the email {key}")))
                }
                Err(e) => Err(e),
            };
        }
        let hit = self.walk_users(api, clock, s, &mut |u: &User| u.keys().contains(&key), 1)?;
        Ok(match hit.into_iter().next() {
            Some(u) => Found::Yes(u),
            None => Found::No(Self::walk_note("users", &self.user_walk, "users.list")),
        })
    }

    /// Users matching `query` (a part of a handle, name or email), at most `limit`: from the
    /// cache once the directory was walked to the end within the TTL, else walking it.
    pub fn search_users(
        &mut self,
        query: &str,
        limit: usize,
        api: &Api,
        clock: &Clock,
        s: &Settings,
    ) -> Result<(Vec<User>, bool), SlackError> {
        let q = query.trim().trim_start_matches('@').to_ascii_lowercase();
        let matches = |u: &User| !u.deleted && u.keys().iter().any(|k| k.contains(&q));
        let complete = self.user_walk.cursor.is_none()
            && self.user_walk.finished.is_some_and(|at| self.fresh(at, s));
        if complete {
            let mut out: Vec<User> = self
                .users
                .values()
                .filter(|u| matches(u))
                .cloned()
                .collect();
            out.sort_by(|a, b| a.id.cmp(&b.id));
            out.truncate(limit);
            return Ok((out, true));
        }
        // Walk from the start so every user is considered once.
        self.user_walk = Walk::default();
        let found = self.walk_users(api, clock, s, &mut |u: &User| matches(u), limit)?;
        let whole = self.user_walk.cursor.is_none();
        Ok((found, whole))
    }

    fn walk_users(
        &mut self,
        api: &Api,
        clock: &Clock,
        s: &Settings,
        want: &mut dyn FnMut(&User) -> bool,
        limit: usize,
    ) -> Result<Vec<User>, SlackError> {
        let mut walk = std::mem::take(&mut self.user_walk);
        if walk.cursor.is_none() {
            if walk
                .finished
                .is_some_and(|at| now_secs().saturating_sub(at) < s.min_refresh)
            {
                self.user_walk = walk;
                return Ok(Vec::new());
            }
            walk.seen = 0;
        }
        let mut hits = Vec::new();
        let result = loop {
            if walk.seen > 0 && !clock.fits(s.timeout_ms.min(5_000)) {
                break Ok(());
            }
            let mut params = vec![("limit", PAGE.to_string())];
            if let Some(team) = &s.team_id {
                params.push(("team_id", team.clone()));
            }
            if let Some(c) = &walk.cursor {
                params.push(("cursor", c.clone()));
            }
            let answer = match api.call(Token::Bot, "users.list", &params, clock) {
                Ok(a) => a,
                Err(e) => break Err(e),
            };
            for raw in answer
                .get("members")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let u = User::from_json(raw);
                walk.seen += 1;
                if hits.len() < limit && want(&u) {
                    hits.push(u.clone());
                }
                self.remember_user(u);
            }
            walk.cursor = next_cursor(&answer);
            if walk.cursor.is_none() {
                walk.finished = Some(now_secs());
            }
            if hits.len() >= limit || walk.cursor.is_none() {
                break Ok(());
            }
        };
        self.user_walk = walk;
        result.map(|()| hits)
    }

    /// The user with this id: cached while fresh, else `users.info`.
    pub fn user(
        &mut self,
        id: &str,
        api: &Api,
        clock: &Clock,
        s: &Settings,
    ) -> Result<User, SlackError> {
        if let Some(u) = self.users.get(id)
            && self.fresh(u.fetched, s)
        {
            return Ok(u.clone());
        }
        let answer = api
            .call(Token::Bot, "users.info", &[("user", id.to_string())], clock)
            .map_err(|e| e.about(id))?;
        let u = User::from_json(answer.get("user").unwrap_or(&Value::Null));
        self.remember_user(u.clone());
        Ok(u)
    }

    /// The shown name of an author, looking it up while this call's budget lasts; `None` when
    /// unknown (the id is in the answer anyway).
    pub fn author_name(
        &mut self,
        id: &str,
        api: &Api,
        clock: &Clock,
        s: &Settings,
    ) -> Option<String> {
        if let Some(u) = self.users.get(id)
            && self.fresh(u.fetched, s)
        {
            return u.shown().map(str::to_string);
        }
        if self.name_budget == 0 || !clock.fits(s.timeout_ms.min(2_000)) {
            return self
                .users
                .get(id)
                .and_then(|u| u.shown().map(str::to_string));
        }
        self.name_budget -= 1;
        self.user(id, api, clock, s)
            .ok()
            .and_then(|u| u.shown().map(str::to_string))
    }
}

/// `response_metadata.next_cursor`, when there is one.
pub fn next_cursor(answer: &Value) -> Option<String> {
    answer
        .pointer("/response_metadata/next_cursor")
        .and_then(Value::as_str)
        .filter(|c| !c.is_empty())
        .map(str::to_string)
}
