//! Channel and user names, resolved lazily and cached for `[config].cache_ttl`.
//!
//! Nothing is loaded at start: `initialize` and the first call never wait for a workspace
//! walk (large workspaces have tens of thousands of channels behind a Tier 2 rate limit). A
//! name is looked up when a call uses it: the cache answers while fresh; on a miss the
//! channel list is paged (1,000 a page) only until the name turns up, everything seen is
//! cached, and a walk cut short by the call's time budget resumes where it stopped on the next
//! miss. A miss right after a complete walk (within `min_refresh`) is answered without walking
//! again. An id needs no walk at all: one `conversations.info`, cached.

use std::collections::{HashMap, HashSet};

use serde::Deserialize;
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

/// A conversation as Slack sends it, read straight from the answer's bytes: the fields the
/// plugin keeps, the rest skipped without being built.
#[derive(Deserialize)]
pub struct RawChannel {
    #[serde(default)]
    id: String,
    name: Option<String>,
    #[serde(default)]
    is_private: bool,
    #[serde(default)]
    is_group: bool,
    #[serde(default)]
    is_archived: bool,
    is_member: Option<bool>,
    #[serde(default)]
    is_im: bool,
    #[serde(default)]
    is_mpim: bool,
    user: Option<String>,
    topic: Option<RawText>,
    purpose: Option<RawText>,
    num_members: Option<u64>,
    created: Option<u64>,
}

/// Slack's `{"value": …, "creator": …, "last_set": …}` of a topic or purpose.
#[derive(Deserialize)]
pub struct RawText {
    #[serde(default)]
    value: String,
}

impl From<RawChannel> for Channel {
    fn from(c: RawChannel) -> Channel {
        let text = |t: Option<RawText>| t.map(|t| t.value).filter(|v| !v.is_empty());
        Channel {
            id: c.id,
            name: c.name,
            is_private: c.is_private || c.is_group,
            is_archived: c.is_archived,
            is_member: c.is_member,
            is_im: c.is_im,
            is_mpim: c.is_mpim,
            user: c.user,
            topic: text(c.topic),
            purpose: text(c.purpose),
            num_members: c.num_members,
            created: c.created,
            fetched: now_secs(),
        }
    }
}

impl Channel {
    /// The conversation in a `Value`; one Slack sent with a field of the wrong type keeps only
    /// its id (what every call needs), so a lookup still answers.
    pub fn from_json(c: &Value) -> Channel {
        match RawChannel::deserialize(c) {
            Ok(raw) => Channel::from(raw),
            Err(_) => Channel::with_id(
                c.get("id")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
            ),
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

impl Walk {
    /// Whether the last walk reached the end within `within` seconds.
    fn finished_within(&self, within: u64) -> bool {
        self.cursor.is_none()
            && self
                .finished
                .is_some_and(|at| now_secs().saturating_sub(at) < within)
    }

    /// Pages `method` (whose items are under `items`) from where the walk stopped, handing
    /// each item to `take` until it says stop, the list ends, or the call's budget runs out
    /// (the cursor is kept for the next miss). A walk that reached the end within
    /// `min_refresh` is not repeated.
    fn run(
        &mut self,
        list: &List,
        api: &Api,
        clock: &Clock,
        s: &Settings,
        take: &mut dyn FnMut(&Value) -> bool,
    ) -> Result<(), SlackError> {
        if self.cursor.is_none() {
            if self.finished_within(s.min_refresh) {
                return Ok(());
            }
            self.seen = 0;
        }
        loop {
            if self.seen > 0 && !clock.fits(s.timeout_ms.min(5_000)) {
                return Ok(());
            }
            let mut params = list.params.clone();
            params.push(("limit", PAGE.to_string()));
            if let Some(team) = &s.team_id {
                params.push(("team_id", team.clone()));
            }
            if let Some(c) = &self.cursor {
                params.push(("cursor", c.clone()));
            }
            let answer = api.call(Token::Bot, list.method, &params, clock)?;
            let mut stop = false;
            for raw in answer
                .get(list.items)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                self.seen += 1;
                stop |= take(raw);
            }
            self.cursor = next_cursor(&answer);
            if self.cursor.is_none() {
                self.finished = Some(now_secs());
            }
            if stop || self.cursor.is_none() {
                return Ok(());
            }
        }
    }

    fn note(&self, what: &str, types: &str) -> String {
        if self.cursor.is_some() {
            format!(
                "not among the first {} {what} (types {types}); the search stopped for this \
                 call's time limit and goes on from there on the next call, or give the id",
                self.seen
            )
        } else {
            format!(
                "not among the {} {what} the token can see (types {types})",
                self.seen
            )
        }
    }
}

/// Which list a walk pages.
struct List {
    method: &'static str,
    /// The key of the answer's array.
    items: &'static str,
    params: Vec<(&'static str, String)>,
}

impl List {
    fn conversations(types: &str) -> List {
        List {
            method: "conversations.list",
            items: "channels",
            params: vec![
                ("types", types.to_string()),
                ("exclude_archived", "false".to_string()),
            ],
        }
    }

    fn users() -> List {
        List {
            method: "users.list",
            items: "members",
            params: Vec::new(),
        }
    }
}

/// What the directory caches by id, and the `*.info` call that fetches one.
pub trait Entry: Clone + Sized {
    /// The info method and the key of its answer.
    const INFO: (&'static str, &'static str);
    fn info_params(id: &str) -> Vec<(&'static str, String)>;
    fn from_json(v: &Value) -> Self;
    fn fetched(&self) -> u64;
    fn cached(d: &Directory) -> &HashMap<String, Self>;
    fn remember(d: &mut Directory, v: Self);
}

impl Entry for Channel {
    const INFO: (&'static str, &'static str) = ("conversations.info", "channel");
    fn info_params(id: &str) -> Vec<(&'static str, String)> {
        vec![
            ("channel", id.to_string()),
            ("include_num_members", "true".into()),
        ]
    }
    fn from_json(v: &Value) -> Self {
        Channel::from_json(v)
    }
    fn fetched(&self) -> u64 {
        self.fetched
    }
    fn cached(d: &Directory) -> &HashMap<String, Self> {
        &d.channels
    }
    fn remember(d: &mut Directory, v: Self) {
        d.remember_channel(v);
    }
}

impl Entry for User {
    const INFO: (&'static str, &'static str) = ("users.info", "user");
    fn info_params(id: &str) -> Vec<(&'static str, String)> {
        vec![("user", id.to_string())]
    }
    fn from_json(v: &Value) -> Self {
        User::from_json(v)
    }
    fn fetched(&self) -> u64 {
        self.fetched
    }
    fn cached(d: &Directory) -> &HashMap<String, Self> {
        &d.users
    }
    fn remember(d: &mut Directory, v: Self) {
        d.remember_user(v);
    }
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

    /// The conversation or user with this id: cached while fresh, else fetched with its
    /// `*.info` call (`conversations.info`, `users.info`).
    pub fn by_id<T: Entry>(
        &mut self,
        id: &str,
        api: &Api,
        clock: &Clock,
        s: &Settings,
    ) -> Result<T, SlackError> {
        if let Some(v) = T::cached(self).get(id)
            && self.fresh(v.fetched(), s)
        {
            return Ok(v.clone());
        }
        self.fetch(id, api, clock)
    }

    /// The entry with this id from Slack, cached.
    fn fetch<T: Entry>(&mut self, id: &str, api: &Api, clock: &Clock) -> Result<T, SlackError> {
        let (method, key) = T::INFO;
        let answer = api
            .call(Token::Bot, method, &T::info_params(id), clock)
            .map_err(|e| e.about(id))?;
        let v = T::from_json(answer.get(key).unwrap_or(&Value::Null));
        T::remember(self, v.clone());
        Ok(v)
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
        let named =
            |c: &Channel| c.name.as_deref().map(str::to_ascii_lowercase) == Some(key.clone());
        if let Some(id) = self.channel_names.get(&key).cloned()
            && let Some(c) = self.channels.get(&id)
        {
            if self.fresh(c.fetched, s) && named(c) {
                return Ok(Found::Yes(c.clone()));
            }
            // Stale: one cheap check that the id still has this name (channels get renamed,
            // and a new channel can take the old name).
            match self.fetch::<Channel>(&id, api, clock) {
                Ok(c) if named(&c) => return Ok(Found::Yes(c)),
                Ok(_) | Err(_) => {
                    self.channel_names.remove(&key);
                }
            }
        }
        let types = s.types();
        let mut walk = std::mem::take(&mut self.channel_walk);
        let found = self.walk_channels(&mut walk, &types, api, clock, s, &named);
        let note = walk.note("channels", &types);
        self.channel_walk = walk;
        Ok(match found? {
            Some(c) => Found::Yes(c),
            None => Found::No(note),
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
        let found = self.walk_channels(&mut walk, "im", api, clock, s, &|c: &Channel| {
            c.user.as_deref() == Some(user)
        });
        let note = walk.note("direct messages", "im");
        self.dm_walk = walk;
        Ok(match found? {
            Some(c) => Found::Yes(c),
            None => Found::No(format!(
                "{note}; the app has no DM open with {user} (a DM is opened in Slack, or by \
                 giving the app im:write)"
            )),
        })
    }

    /// Walks `conversations.list` of `types` until a channel matches `want`, caching all.
    fn walk_channels(
        &mut self,
        walk: &mut Walk,
        types: &str,
        api: &Api,
        clock: &Clock,
        s: &Settings,
        want: &dyn Fn(&Channel) -> bool,
    ) -> Result<Option<Channel>, SlackError> {
        let mut hit = None;
        walk.run(&List::conversations(types), api, clock, s, &mut |raw| {
            let c = Channel::from_json(raw);
            if hit.is_none() && want(&c) {
                hit = Some(c.clone());
            }
            self.remember_channel(c);
            hit.is_some()
        })?;
        Ok(hit)
    }

    /// Walks `users.list` until `limit` users match `want`, caching all; how many matched.
    fn walk_users(
        &mut self,
        api: &Api,
        clock: &Clock,
        s: &Settings,
        want: &dyn Fn(&User) -> bool,
        limit: usize,
    ) -> Result<Vec<User>, SlackError> {
        let mut walk = std::mem::take(&mut self.user_walk);
        let mut hits = Vec::new();
        let result = walk.run(&List::users(), api, clock, s, &mut |raw| {
            let u = User::from_json(raw);
            if hits.len() < limit && want(&u) {
                hits.push(u.clone());
            }
            self.remember_user(u);
            hits.len() >= limit
        });
        self.user_walk = walk;
        result.map(|()| hits)
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
        let hit = self.walk_users(api, clock, s, &|u: &User| u.keys().contains(&key), 1)?;
        Ok(match hit.into_iter().next() {
            Some(u) => Found::Yes(u),
            None => Found::No(self.user_walk.note("users", "users.list")),
        })
    }

    /// Users matching `query` (a part of a handle, name or email), at most `limit`, and
    /// whether the whole member list was considered. Answered from the cache once the list was
    /// walked to the end within the TTL; otherwise the walk goes on from where it stopped (the
    /// users it already saw are in the cache), so a list too long for one call is covered over
    /// several calls instead of restarting each time.
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
        if !complete {
            let known: HashSet<String> = self
                .users
                .values()
                .filter(|u| matches(u))
                .map(|u| u.id.clone())
                .collect();
            if known.len() < limit {
                let new = |u: &User| matches(u) && !known.contains(&u.id);
                self.walk_users(api, clock, s, &new, limit - known.len())?;
            }
        }
        let mut out: Vec<User> = self
            .users
            .values()
            .filter(|u| matches(u))
            .cloned()
            .collect();
        out.sort_by(|a, b| a.id.cmp(&b.id));
        out.truncate(limit);
        let whole = self.user_walk.cursor.is_none() && self.user_walk.finished.is_some();
        Ok((out, whole))
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
        self.by_id::<User>(id, api, clock, s)
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
