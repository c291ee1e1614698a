//! The plugin's `[config]`: where Slack is, which tools are listed, which channels may be read
//! and written, how names are cached and answers shaped. Read once per instance; an invalid
//! config is kept as its message so every call says what to fix.

use pier_sdk::config::{Config, checked_url};

use crate::catalog;
use crate::scope::Scope;

/// The most bytes one answer carries by default: about 15k tokens, under the 25k-token
/// tool-output limit of common clients.
pub const DEFAULT_MAX_BYTES: usize = 60_000;

const KNOWN: &[&str] = &[
    "api_url",
    "user_api_url",
    "team_id",
    "writes",
    "tools",
    "exclude_tools",
    "channels",
    "channel_types",
    "unfurl",
    "fence_untrusted",
    "resolve_names",
    "cache_ttl",
    "min_refresh",
    "max_bytes",
    "max_message_chars",
    "timeout_ms",
];

const CHANNEL_TYPES: &[&str] = &["public_channel", "private_channel", "mpim", "im"];

#[derive(Debug, Clone)]
pub struct Settings {
    /// Web API base without a trailing slash (`https://slack.com/api`); pier injects the
    /// (bot) token for its origin.
    pub api_url: String,
    /// Where a user token is injected (`https://WORKSPACE.slack.com/api`: Slack serves the Web
    /// API on the workspace's own host too, a second origin pier can hold a second credential
    /// for). Tools that need a user token are listed only when it is set.
    pub user_api_url: Option<String>,
    pub team_id: Option<String>,
    pub writes: bool,
    pub tools: Vec<String>,
    pub exclude_tools: Vec<String>,
    pub scope: Scope,
    /// Conversation types listed and searched for `#name` (`conversations.list` `types`).
    pub channel_types: Vec<String>,
    pub unfurl: bool,
    pub fence_untrusted: bool,
    /// Add `user_name` to messages (one cached `users.info` per unknown author).
    pub resolve_names: bool,
    /// Seconds a cached channel or user name is trusted.
    pub cache_ttl: u64,
    /// Seconds between two full refreshes of the channel list on misses (a model retrying a
    /// wrong name must not walk a 40k-channel workspace each time).
    pub min_refresh: u64,
    pub max_bytes: usize,
    pub max_message_chars: usize,
    /// Per request to Slack.
    pub timeout_ms: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            api_url: "https://slack.com/api".into(),
            user_api_url: None,
            team_id: None,
            writes: false,
            tools: Vec::new(),
            exclude_tools: Vec::new(),
            scope: Scope::default(),
            channel_types: vec!["public_channel".into(), "private_channel".into()],
            unfurl: false,
            fence_untrusted: true,
            resolve_names: true,
            cache_ttl: 3600,
            min_refresh: 30,
            max_bytes: DEFAULT_MAX_BYTES,
            max_message_chars: 4_000,
            timeout_ms: 15_000,
        }
    }
}

impl Settings {
    /// Parses `[config]` as pier hands it over.
    pub fn from_entries(entries: &[(String, String)]) -> Result<Settings, String> {
        let config = Config::from_entries(entries, "slack", KNOWN).map_err(|e| {
            let token = entries
                .iter()
                .any(|(k, _)| !KNOWN.contains(&k.as_str()) && k.contains("token"));
            if token {
                format!(
                    "{e}. The token does not go in [config]: grant Slack's origin with it, e.g. \
                     http = [{{ origin = \"https://slack.com\", auth = {{ bearer_env = \
                     \"SLACK_BOT_TOKEN\" }} }}], and pier adds it to each request"
                )
            } else {
                e
            }
        })?;
        let mut s = Settings::default();
        if let Some(url) = config.string("api_url")? {
            s.api_url = checked_url(&url, "api_url", "Slack")?
                .trim_end_matches('/')
                .to_string();
        }
        if let Some(url) = config.string("user_api_url")? {
            let url = checked_url(&url, "user_api_url", "Slack")?;
            s.user_api_url = Some(url.trim_end_matches('/').to_string());
        }
        s.team_id = config.string("team_id")?;
        s.writes = config.flag("writes")?.unwrap_or(false);
        s.unfurl = config.flag("unfurl")?.unwrap_or(false);
        s.fence_untrusted = config.flag("fence_untrusted")?.unwrap_or(true);
        s.resolve_names = config.flag("resolve_names")?.unwrap_or(true);
        if let Some(n) = config.number("cache_ttl")? {
            s.cache_ttl = n;
        }
        if let Some(n) = config.number("min_refresh")? {
            s.min_refresh = n;
        }
        if let Some(n) = config.number("max_bytes")? {
            s.max_bytes = n.max(1_000) as usize;
        }
        if let Some(n) = config.number("max_message_chars")? {
            s.max_message_chars = n.max(100) as usize;
        }
        if let Some(n) = config.number("timeout_ms")? {
            s.timeout_ms = n.max(100);
        }
        for (key, target) in [
            ("tools", &mut s.tools),
            ("exclude_tools", &mut s.exclude_tools),
        ] {
            if let Some(names) = config.list(key)? {
                for name in &names {
                    let bare = name.strip_prefix("slack_").unwrap_or(name);
                    if catalog::find(bare).is_none() {
                        let known: Vec<&str> = catalog::TOOLS.iter().map(|e| e.name).collect();
                        return Err(format!(
                            "[config].{key} names {name:?}, which is not a tool of the slack \
                             plugin; known: {}",
                            known.join(", ")
                        ));
                    }
                }
                *target = names
                    .iter()
                    .map(|n| n.strip_prefix("slack_").unwrap_or(n).to_string())
                    .collect();
            }
        }
        if let Some(types) = config.list("channel_types")? {
            if let Some(bad) = types.iter().find(|t| !CHANNEL_TYPES.contains(&t.as_str())) {
                return Err(format!(
                    "[config].channel_types names {bad:?}; known: {}",
                    CHANNEL_TYPES.join(", ")
                ));
            }
            if types.is_empty() {
                return Err("[config].channel_types must name at least one type".into());
            }
            s.channel_types = types;
        }
        if let Some(entries) = config.list("channels")? {
            s.scope = Scope::parse(&entries)?;
        }
        Ok(s)
    }

    /// Whether a tool is listed: chosen (by default, or named in `tools`), not excluded, a
    /// write only with `writes = true`, and a user-token tool only with `user_api_url`.
    pub fn lists(&self, name: &str) -> bool {
        let Some(entry) = catalog::find(name) else {
            return false;
        };
        let chosen = entry.default || self.tools.iter().any(|t| t == name);
        chosen
            && !self.exclude_tools.iter().any(|t| t == name)
            && (!entry.writes || self.writes)
            && (!entry.user_token || self.user_api_url.is_some())
    }

    /// The `conversations.list` `types` value.
    pub fn types(&self) -> String {
        self.channel_types.join(",")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(entries: &[(&str, &str)]) -> Result<Settings, String> {
        let owned: Vec<(String, String)> = entries
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_entries(&owned)
    }

    #[test]
    fn defaults_read_only_without_user_token_tools() {
        let s = parse(&[]).expect("ok");
        assert!(s.lists("list_channels") && s.lists("get_channel_history"));
        assert!(!s.lists("post_message") && !s.lists("remove_reaction"));
        assert!(!s.lists("search_messages"), "needs a user token");
        assert!(!s.lists("get_unreads"));
        assert!(!s.unfurl && s.fence_untrusted);
        assert_eq!(s.api_url, "https://slack.com/api");
    }

    #[test]
    fn writes_user_token_and_named_tools() {
        let s = parse(&[
            ("writes", "true"),
            ("user_api_url", "https://acme.slack.com/api/"),
            ("tools", r#"["slack_get_unreads", "mark_read"]"#),
            ("exclude_tools", "add_reaction"),
        ])
        .expect("ok");
        assert!(s.lists("post_message") && s.lists("search_messages"));
        assert!(s.lists("get_unreads") && s.lists("mark_read"));
        assert!(!s.lists("add_reaction"));
        assert_eq!(
            s.user_api_url.as_deref(),
            Some("https://acme.slack.com/api")
        );
    }

    #[test]
    fn mistakes_name_the_setting() {
        let e = parse(&[("tools", "get_everything")]).expect_err("unknown tool");
        assert!(
            e.contains("get_everything") && e.contains("[config].tools"),
            "{e}"
        );
        let e = parse(&[("bot_token", "xoxb-1")]).expect_err("a token in config");
        assert!(
            e.contains("bearer_env") && e.contains("[config].bot_token"),
            "{e}"
        );
        let e = parse(&[("api_url", "http://slack.example/api")]).expect_err("clear text");
        assert!(e.contains("HTTPS"), "{e}");
        let e = parse(&[("channel_types", "rooms")]).expect_err("unknown type");
        assert!(e.contains("public_channel"), "{e}");
        let e = parse(&[("channels", r#"["eng"]"#)]).expect_err("a bare name");
        assert!(e.contains("#eng"), "{e}");
    }
}
