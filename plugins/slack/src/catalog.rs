//! Every tool the plugin has: whether it writes, whether it needs a user token, and whether it
//! is listed without being named in `[config].tools`. The declarations (schemas, handlers) live
//! with their subject; a unit test keeps the two in step.

pub struct Entry {
    pub name: &'static str,
    pub writes: bool,
    /// Slack allows it only with a user token (`xoxp-`): listed only when `user_api_url` says
    /// where pier injects one.
    pub user_token: bool,
    /// Listed without being named in `tools` (when the other conditions hold).
    pub default: bool,
}

const fn entry(name: &'static str, writes: bool, user_token: bool, default: bool) -> Entry {
    Entry {
        name,
        writes,
        user_token,
        default,
    }
}

pub const TOOLS: &[Entry] = &[
    // The reference server's eight, with its names and arguments.
    entry("list_channels", false, false, true),
    entry("post_message", true, false, true),
    entry("reply_to_thread", true, false, true),
    entry("add_reaction", true, false, true),
    entry("get_channel_history", false, false, true),
    entry("get_thread_replies", false, false, true),
    entry("get_users", false, false, true),
    entry("get_user_profile", false, false, true),
    // What users of richer servers rely on.
    entry("get_channel_info", false, false, true),
    entry("remove_reaction", true, false, true),
    entry("search_users", false, false, true),
    entry("search_messages", false, true, true),
    // Costly or personal: only when named in `tools`.
    entry("get_unreads", false, true, false),
    entry("mark_read", true, true, false),
];

pub fn find(name: &str) -> Option<&'static Entry> {
    TOOLS.iter().find(|e| e.name == name)
}
