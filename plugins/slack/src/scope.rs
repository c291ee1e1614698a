//! The channel allow-list, `[config].channels`: which conversations the plugin may read **and**
//! write. Entries are `#name` or an id (`C0123ABC`, `G…`, `D…`); `!` in front denies; `*`
//! allows every channel not denied. With no positive entry every channel not denied is
//! allowed; unset, all are. A deny entry wins over an allow entry.
//!
//! Ids are the safer entries: a channel can be renamed (and a new one created with the old
//! name), an id cannot. Names are compared without `#` and case.

#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    Id(String),
    Name(String),
    All,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Rule {
    target: Target,
    deny: bool,
    /// As written, for messages.
    text: String,
}

#[derive(Debug, Clone, Default)]
pub struct Scope {
    rules: Vec<Rule>,
}

/// A conversation as far as the scope needs it.
pub struct Conversation<'a> {
    pub id: &'a str,
    /// Without `#`; `None` when unknown (an id no lookup has named yet).
    pub name: Option<&'a str>,
}

/// Whether `text` looks like a Slack conversation id.
pub fn is_conversation_id(text: &str) -> bool {
    text.len() >= 9
        && text.len() <= 24
        && matches!(text.as_bytes()[0], b'C' | b'G' | b'D')
        && text
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

impl Scope {
    pub fn parse(entries: &[String]) -> Result<Scope, String> {
        let mut rules = Vec::new();
        for raw in entries {
            let text = raw.trim();
            let (deny, body) = match text.strip_prefix('!') {
                Some(rest) => (true, rest.trim()),
                None => (false, text),
            };
            let target = if body == "*" {
                Target::All
            } else if let Some(name) = body.strip_prefix('#') {
                if name.is_empty() {
                    return Err(format!("[config].channels entry {raw:?} has no name"));
                }
                Target::Name(name.to_ascii_lowercase())
            } else if is_conversation_id(body) {
                Target::Id(body.to_string())
            } else {
                return Err(format!(
                    "[config].channels entry {raw:?} is neither a channel name nor an id: write \
                     it as \"#{body}\" or as the channel's id (C0123ABC; in Slack: channel \
                     details, bottom of the About tab)"
                ));
            };
            rules.push(Rule {
                target,
                deny,
                text: text.to_string(),
            });
        }
        Ok(Scope { rules })
    }

    /// Whether deciding needs the channel's name (some entry names one).
    pub fn needs_name(&self) -> bool {
        self.rules
            .iter()
            .any(|r| matches!(r.target, Target::Name(_)))
    }

    /// The allowed entries when they are a closed list (no `*`, at least one): what
    /// `list_channels` shows instead of paging the whole workspace.
    pub fn allowed_entries(&self) -> Option<Vec<String>> {
        let positive: Vec<&Rule> = self.rules.iter().filter(|r| !r.deny).collect();
        if positive.is_empty() || positive.iter().any(|r| r.target == Target::All) {
            return None;
        }
        Some(positive.iter().map(|r| r.text.clone()).collect())
    }

    /// Checks one conversation; the refusal names the entry to add, or the one that denies.
    pub fn check(&self, c: &Conversation) -> Result<(), String> {
        if self.rules.is_empty() {
            return Ok(());
        }
        let name = c
            .name
            .map(|n| n.trim_start_matches('#').to_ascii_lowercase());
        let hits = |r: &Rule| match &r.target {
            Target::All => true,
            Target::Id(id) => id == c.id,
            Target::Name(n) => name.as_deref() == Some(n.as_str()),
        };
        let label = match c.name {
            Some(n) => format!("#{} ({})", n.trim_start_matches('#'), c.id),
            None => c.id.to_string(),
        };
        if let Some(deny) = self.rules.iter().find(|r| r.deny && hits(r)) {
            return Err(format!(
                "{label} is excluded by the entry {:?} of [config].channels in {}",
                deny.text,
                crate::manifest_path()
            ));
        }
        let has_positive = self.rules.iter().any(|r| !r.deny);
        if !has_positive || self.rules.iter().any(|r| !r.deny && hits(r)) {
            return Ok(());
        }
        Err(format!(
            "{label} is not in the channels this plugin may use; to allow it add \"{}\" to \
             [config].channels in {}",
            c.id,
            crate::manifest_path()
        ))
    }

    /// Whether a conversation passes, without the message (for filtering lists).
    pub fn allows(&self, c: &Conversation) -> bool {
        self.check(c).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(entries: &[&str]) -> Scope {
        Scope::parse(&entries.iter().map(|s| s.to_string()).collect::<Vec<_>>()).expect("valid")
    }

    fn c<'a>(id: &'a str, name: Option<&'a str>) -> Conversation<'a> {
        Conversation { id, name }
    }

    #[test]
    fn names_and_ids_allow_and_deny_wins() {
        let s = scope(&["#eng", "C0000000002", "!#eng-secret"]);
        assert!(s.allows(&c("C0000000001", Some("eng"))));
        assert!(s.allows(&c("C0000000001", Some("ENG"))));
        assert!(s.allows(&c("C0000000002", None)));
        let e = s
            .check(&c("C0000000003", Some("random")))
            .expect_err("not listed");
        assert!(
            e.contains("#random (C0000000003)") && e.contains("\"C0000000003\""),
            "{e}"
        );
        let e = s
            .check(&c("C0000000004", Some("eng-secret")))
            .expect_err("denied");
        assert!(e.contains("!#eng-secret"), "{e}");
        assert!(s.needs_name());
        assert_eq!(
            s.allowed_entries(),
            Some(vec!["#eng".to_string(), "C0000000002".to_string()])
        );
    }

    #[test]
    fn deny_only_and_wildcards_leave_the_rest_open() {
        let s = scope(&["!C0000000009"]);
        assert!(s.allows(&c("C0000000001", None)));
        assert!(!s.allows(&c("C0000000009", Some("x"))));
        assert!(s.allowed_entries().is_none() && !s.needs_name());
        let s = scope(&["*", "!#hr"]);
        assert!(s.allows(&c("C0000000001", Some("eng"))));
        assert!(!s.allows(&c("C0000000001", Some("hr"))));
        assert!(Scope::default().allows(&c("C0000000001", None)));
    }

    #[test]
    fn ids_are_recognised() {
        assert!(is_conversation_id("C0123ABCD"));
        assert!(is_conversation_id("D024BE91L"));
        assert!(!is_conversation_id("general") && !is_conversation_id("U0123ABCD"));
        assert!(Scope::parse(&["eng".to_string()]).is_err());
    }
}
