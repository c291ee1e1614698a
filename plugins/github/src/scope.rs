//! Repository scoping, a hard boundary: `repos = ["my-org/*", "me/notes", "!my-org/secrets"]`.
//!
//! Every call that names a repository is checked before anything is sent; searches are
//! narrowed to the allowed owners and repositories, a query that names another one is refused,
//! and what a search returns is filtered again, so nothing outside the scope reaches the
//! model even if GitHub's query language widens a search in a way the narrowing missed.

/// One `owner/repo` or `owner/*` pattern (case-insensitive, as GitHub's names are).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Pattern {
    owner: String,
    /// `None` for `owner/*`.
    repo: Option<String>,
}

impl Pattern {
    fn parse(text: &str) -> Result<Pattern, String> {
        let (owner, repo) = text.split_once('/').ok_or_else(|| {
            format!("[config].repos entry {text:?} must be \"owner/repo\" or \"owner/*\"")
        })?;
        let valid = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        };
        if !valid(owner) || !(repo == "*" || valid(repo)) {
            return Err(format!(
                "[config].repos entry {text:?} must be \"owner/repo\" or \"owner/*\""
            ));
        }
        Ok(Pattern {
            owner: owner.to_ascii_lowercase(),
            repo: (repo != "*").then(|| repo.to_ascii_lowercase()),
        })
    }

    fn matches(&self, owner: &str, repo: &str) -> bool {
        self.owner.eq_ignore_ascii_case(owner)
            && self
                .repo
                .as_deref()
                .is_none_or(|r| r.eq_ignore_ascii_case(repo))
    }

    fn text(&self) -> String {
        format!("{}/{}", self.owner, self.repo.as_deref().unwrap_or("*"))
    }
}

/// The repositories calls may touch. Empty: every repository the token reaches.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope {
    allow: Vec<Pattern>,
    deny: Vec<Pattern>,
}

impl Scope {
    pub fn parse(entries: &[String]) -> Result<Scope, String> {
        let mut scope = Scope::default();
        for entry in entries {
            match entry.strip_prefix('!') {
                Some(denied) => scope.deny.push(Pattern::parse(denied)?),
                None => scope.allow.push(Pattern::parse(entry)?),
            }
        }
        Ok(scope)
    }

    pub fn is_limited(&self) -> bool {
        !self.allow.is_empty() || !self.deny.is_empty()
    }

    pub fn allows(&self, owner: &str, repo: &str) -> bool {
        (self.allow.is_empty() || self.allow.iter().any(|p| p.matches(owner, repo)))
            && !self.deny.iter().any(|p| p.matches(owner, repo))
    }

    /// Whether every repository of `owner` is allowed (an `org:`/`user:` search qualifier).
    fn allows_owner(&self, owner: &str) -> bool {
        (self.allow.is_empty()
            || self
                .allow
                .iter()
                .any(|p| p.repo.is_none() && p.owner.eq_ignore_ascii_case(owner)))
            && !self
                .deny
                .iter()
                .any(|p| p.owner.eq_ignore_ascii_case(owner))
    }

    /// Refuses a repository outside the scope, with the config line that would allow it.
    pub fn check(&self, owner: &str, repo: &str) -> Result<(), String> {
        if self.allows(owner, repo) {
            return Ok(());
        }
        let manifest = crate::manifest_path();
        if self.deny.iter().any(|p| p.matches(owner, repo)) {
            let by: Vec<String> = self
                .deny
                .iter()
                .filter(|p| p.matches(owner, repo))
                .map(|p| format!("\"!{}\"", p.text()))
                .collect();
            return Err(format!(
                "repository {owner}/{repo} is outside this plugin's scope: repos in [config] of \
                 {manifest} excludes it with {}",
                by.join(", ")
            ));
        }
        Err(format!(
            "repository {owner}/{repo} is outside this plugin's scope ({}): to allow it, add \
             \"{owner}/{repo}\" (or \"{owner}/*\") to repos in [config] of {manifest}",
            self.describe()
        ))
    }

    pub fn describe(&self) -> String {
        let mut parts: Vec<String> = self.allow.iter().map(Pattern::text).collect();
        parts.extend(self.deny.iter().map(|p| format!("!{}", p.text())));
        format!("repos = [{}]", parts.join(", "))
    }

    /// A search query limited to the scope. Qualifiers the query has (`repo:`, `org:`,
    /// `user:`) must stay inside it; without any, the allowed repositories and owners are
    /// added (GitHub ORs repeated `repo:`/`user:` qualifiers).
    pub fn narrow(&self, query: &str) -> Result<String, String> {
        if !self.is_limited() {
            return Ok(query.to_string());
        }
        let mut named = false;
        for word in query.split_whitespace() {
            let word = word.trim_start_matches('-');
            let lower = word.to_ascii_lowercase();
            if let Some(full) = lower.strip_prefix("repo:") {
                named = true;
                let (owner, repo) = full.split_once('/').unwrap_or((full, ""));
                self.check(owner, repo)?;
            } else if let Some(owner) = lower
                .strip_prefix("org:")
                .or_else(|| lower.strip_prefix("user:"))
            {
                named = true;
                if !self.allows_owner(owner) {
                    return Err(format!(
                        "the query searches all of {owner:?}, which is wider than this plugin's \
                         scope ({}): search with repo:OWNER/REPO qualifiers inside it, or add \
                         \"{owner}/*\" to repos in [config] of {}",
                        self.describe(),
                        crate::manifest_path()
                    ));
                }
            }
        }
        if named || self.allow.is_empty() {
            // Only deny entries: the search stays as asked and the results are filtered.
            return Ok(query.to_string());
        }
        let qualifiers: Vec<String> = self
            .allow
            .iter()
            .map(|p| match &p.repo {
                Some(repo) => format!("repo:{}/{repo}", p.owner),
                None => format!("user:{}", p.owner),
            })
            .collect();
        Ok(format!("{query} {}", qualifiers.join(" ")))
    }

    /// The allowed owners and repositories (`None` for `owner/*`), for completions.
    pub fn names(&self) -> Vec<(String, Option<String>)> {
        self.allow
            .iter()
            .map(|p| (p.owner.clone(), p.repo.clone()))
            .collect()
    }

    /// Whether a `owner/repo` full name from a search result is inside the scope.
    pub fn allows_full_name(&self, full_name: &str) -> bool {
        match full_name.split_once('/') {
            Some((owner, repo)) => self.allows(owner, repo),
            None => !self.is_limited(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(entries: &[&str]) -> Scope {
        let owned: Vec<String> = entries.iter().map(|e| e.to_string()).collect();
        Scope::parse(&owned).expect("valid")
    }

    #[test]
    fn patterns_allow_owners_and_repositories_and_deny_wins() {
        let s = scope(&["my-org/*", "me/notes", "!my-org/secrets"]);
        assert!(s.allows("my-org", "api") && s.allows("My-Org", "API"));
        assert!(s.allows("me", "notes") && !s.allows("me", "other"));
        assert!(!s.allows("my-org", "secrets"));
        assert!(!s.allows("someone", "else"));
        assert!(Scope::default().allows("anyone", "anything"));
        let only_deny = scope(&["!me/private"]);
        assert!(only_deny.allows("me", "public") && !only_deny.allows("me", "private"));
    }

    #[test]
    fn a_refusal_names_the_line_to_change() {
        let s = scope(&["my-org/*", "!my-org/secrets"]);
        let e = s.check("other", "x").expect_err("outside");
        assert!(
            e.contains("\"other/x\"") && e.contains("repos in [config]"),
            "{e}"
        );
        let e = s.check("my-org", "secrets").expect_err("denied");
        assert!(e.contains("\"!my-org/secrets\""), "{e}");
        assert!(Scope::parse(&["just-a-name".to_string()]).is_err());
        assert!(Scope::parse(&["a/b c".to_string()]).is_err());
    }

    #[test]
    fn searches_are_narrowed_to_the_scope() {
        let s = scope(&["my-org/*", "me/notes"]);
        assert_eq!(
            s.narrow("fix crash").expect("ok"),
            "fix crash user:my-org repo:me/notes"
        );
        assert_eq!(
            s.narrow("crash repo:me/notes").expect("ok"),
            "crash repo:me/notes"
        );
        assert!(s.narrow("crash repo:other/x").is_err());
        assert!(s.narrow("crash org:other").is_err());
        assert!(s.narrow("crash user:me").is_err(), "only me/notes of me");
        assert_eq!(s.narrow("x org:my-org").expect("ok"), "x org:my-org");
        assert_eq!(Scope::default().narrow("x").expect("ok"), "x");
        assert!(s.allows_full_name("my-org/api") && !s.allows_full_name("other/x"));
    }
}
