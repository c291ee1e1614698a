//! The plugin's `[config]`: where GitHub is, which tools are listed, which repositories may be
//! touched, and how answers are shaped. Read once per instance; an invalid config is kept as
//! its message so every call says what to fix.

use pier_sdk::config::{Config, checked_url};

use crate::catalog::{self, Toolset};
use crate::scope::Scope;

/// Toolsets listed when `toolsets` is not set (github-mcp-server's default).
pub const DEFAULT_TOOLSETS: &[Toolset] = &[
    Toolset::Context,
    Toolset::Repos,
    Toolset::Issues,
    Toolset::PullRequests,
    Toolset::Users,
];

/// The most bytes of text (file contents, diffs, logs, bodies) one answer carries by default:
/// about 15k tokens, under the 25k-token tool-output limit of common clients.
pub const DEFAULT_MAX_BYTES: usize = 60_000;

const KNOWN: &[&str] = &[
    "host",
    "api_url",
    "graphql_url",
    "writes",
    "toolsets",
    "tools",
    "exclude_tools",
    "repos",
    "fence_untrusted",
    "max_bytes",
    "timeout_ms",
];

#[derive(Debug, Clone)]
pub struct Settings {
    /// REST base, without a trailing slash (`https://api.github.com`, `https://HOST/api/v3`).
    pub rest: String,
    pub graphql: String,
    pub writes: bool,
    pub toolsets: Vec<Toolset>,
    /// Tools listed in addition to the toolsets.
    pub tools: Vec<String>,
    pub exclude_tools: Vec<String>,
    pub scope: Scope,
    pub fence_untrusted: bool,
    pub max_bytes: usize,
    pub timeout_ms: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            rest: "https://api.github.com".into(),
            graphql: "https://api.github.com/graphql".into(),
            writes: false,
            toolsets: DEFAULT_TOOLSETS.to_vec(),
            tools: Vec::new(),
            exclude_tools: Vec::new(),
            scope: Scope::default(),
            fence_untrusted: true,
            max_bytes: DEFAULT_MAX_BYTES,
            timeout_ms: 30_000,
        }
    }
}

impl Settings {
    /// Parses `[config]` as pier hands it over (strings as they are, other values as JSON text).
    pub fn from_entries(entries: &[(String, String)]) -> Result<Settings, String> {
        let map = Config::from_entries(entries, "github", KNOWN).map_err(|e| {
            let token = entries
                .iter()
                .any(|(k, _)| !KNOWN.contains(&k.as_str()) && (k.contains("token") || k == "pat"));
            if token {
                format!(
                    "{e}. The token does not go in [config]: grant the API origin with it, e.g. \
                     http = [{{ origin = \"https://api.github.com\", auth = {{ bearer_env = \
                     \"GITHUB_TOKEN\" }} }}], and pier adds it to each request"
                )
            } else {
                e
            }
        })?;
        let mut s = Settings::default();
        if let Some(host) = map.string("host")? {
            (s.rest, s.graphql) = endpoints(&host)?;
        }
        if let Some(url) = map.string("api_url")? {
            s.rest = checked_url(&url, "api_url", "GitHub")?
                .trim_end_matches('/')
                .to_string();
        }
        if let Some(url) = map.string("graphql_url")? {
            s.graphql = checked_url(&url, "graphql_url", "GitHub")?;
        }
        s.writes = map.flag("writes")?.unwrap_or(false);
        s.fence_untrusted = map.flag("fence_untrusted")?.unwrap_or(true);
        if let Some(n) = map.number("max_bytes")? {
            s.max_bytes = n.max(1_000) as usize;
        }
        if let Some(n) = map.number("timeout_ms")? {
            s.timeout_ms = n;
        }
        if let Some(names) = map.list("toolsets")? {
            s.toolsets = toolsets(&names)?;
        }
        for (key, target) in [
            ("tools", &mut s.tools),
            ("exclude_tools", &mut s.exclude_tools),
        ] {
            if let Some(names) = map.list(key)? {
                for name in &names {
                    if catalog::find(name).is_none() {
                        return Err(format!(
                            "[config].{key} names {name:?}, which is not a tool of the github \
                             plugin (see docs/github.md for the list)"
                        ));
                    }
                }
                *target = names;
            }
        }
        if let Some(patterns) = map.list("repos")? {
            s.scope = Scope::parse(&patterns)?;
        }
        Ok(s)
    }

    /// Whether a tool is listed: its toolset is chosen or it is named in `tools`, it is not
    /// excluded, and it only reads unless `writes = true`.
    pub fn lists(&self, name: &str) -> bool {
        let Some(entry) = catalog::find(name) else {
            return false;
        };
        let chosen = self.toolsets.contains(&entry.toolset) || self.tools.iter().any(|t| t == name);
        chosen && !self.exclude_tools.iter().any(|t| t == name) && (!entry.writes || self.writes)
    }
}

/// REST and GraphQL endpoints of a GitHub host: github.com, GitHub Enterprise Cloud with data
/// residency (`SUB.ghe.com`), or GitHub Enterprise Server (`HOST` → `HOST/api/v3`).
pub fn endpoints(host: &str) -> Result<(String, String), String> {
    let with_scheme = if host.contains("://") {
        host.to_string()
    } else {
        format!("https://{host}")
    };
    let base = checked_url(&with_scheme, "host", "GitHub")?;
    let base = base.trim_end_matches('/');
    let (scheme, name) = base.split_once("://").unwrap_or(("https", base));
    if name.contains('/') {
        return Err(format!(
            "[config].host is a host name (github.example.com), not a URL with a path: {host:?}"
        ));
    }
    let bare = name.split(':').next().unwrap_or(name).to_ascii_lowercase();
    Ok(if bare == "github.com" || bare == "api.github.com" {
        (
            "https://api.github.com".into(),
            "https://api.github.com/graphql".into(),
        )
    } else if bare.ends_with(".ghe.com") {
        let sub = name.strip_prefix("api.").unwrap_or(name);
        (
            format!("{scheme}://api.{sub}"),
            format!("{scheme}://api.{sub}/graphql"),
        )
    } else {
        (
            format!("{scheme}://{name}/api/v3"),
            format!("{scheme}://{name}/api/graphql"),
        )
    })
}

fn toolsets(names: &[String]) -> Result<Vec<Toolset>, String> {
    let mut out = Vec::new();
    for name in names {
        if name == "all" {
            return Ok(Toolset::ALL.to_vec());
        }
        if name == "default" {
            out.extend_from_slice(DEFAULT_TOOLSETS);
            continue;
        }
        let set = Toolset::parse(name).ok_or_else(|| {
            let known: Vec<&str> = Toolset::ALL.iter().map(|t| t.name()).collect();
            format!(
                "[config].toolsets names {name:?}; known: {}, default, all",
                known.join(", ")
            )
        })?;
        out.push(set);
    }
    Ok(out)
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
    fn hosts_map_to_their_api_endpoints() {
        let dotcom = endpoints("github.com").expect("ok");
        assert_eq!(dotcom.0, "https://api.github.com");
        let ghes = endpoints("github.example.com").expect("ok");
        assert_eq!(ghes.0, "https://github.example.com/api/v3");
        assert_eq!(ghes.1, "https://github.example.com/api/graphql");
        let ghec = endpoints("https://acme.ghe.com").expect("ok");
        assert_eq!(ghec.0, "https://api.acme.ghe.com");
        assert_eq!(ghec.1, "https://api.acme.ghe.com/graphql");
        let local = endpoints("http://127.0.0.1:8080").expect("loopback may be plain HTTP");
        assert_eq!(local.0, "http://127.0.0.1:8080/api/v3");
        let e = endpoints("http://github.example.com").expect_err("plain HTTP");
        assert!(e.contains("HTTPS"), "{e}");
        assert!(endpoints("https://github.example.com/some/path").is_err());
    }

    #[test]
    fn defaults_read_only_with_the_default_toolsets() {
        let s = parse(&[]).expect("ok");
        assert!(s.lists("get_me") && s.lists("list_issues") && s.lists("search_users"));
        assert!(!s.lists("merge_pull_request"), "writes are off by default");
        assert!(!s.lists("actions_list"), "actions is not a default toolset");
        assert!(s.fence_untrusted);
    }

    #[test]
    fn toolsets_tools_and_exclusions_choose_what_is_listed() {
        let s = parse(&[
            ("toolsets", r#"["issues"]"#),
            ("tools", r#"["get_job_logs", "merge_pull_request"]"#),
            ("exclude_tools", "search_issues"),
            ("writes", "true"),
        ])
        .expect("ok");
        assert!(s.lists("issue_read") && s.lists("issue_write"));
        assert!(s.lists("get_job_logs") && s.lists("merge_pull_request"));
        assert!(!s.lists("search_issues") && !s.lists("get_me"));
        let all = parse(&[("toolsets", "all")]).expect("ok");
        assert!(all.lists("actions_get") && !all.lists("push_files"));
    }

    #[test]
    fn mistakes_in_the_config_name_the_setting() {
        let e = parse(&[("tools", r#"["get_everything"]"#)]).expect_err("unknown tool");
        assert!(
            e.contains("get_everything") && e.contains("[config].tools"),
            "{e}"
        );
        let e = parse(&[("toolsets", "gists")]).expect_err("unknown toolset");
        assert!(e.contains("gists") && e.contains("pull_requests"), "{e}");
        let e = parse(&[("writes", "yes")]).expect_err("not a flag");
        assert!(e.contains("writes"), "{e}");
        let e = parse(&[("token", "ghp_x")]).expect_err("unknown key");
        assert!(
            e.contains("[config].token") && e.contains("bearer_env"),
            "{e}"
        );
    }
}
