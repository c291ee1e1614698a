//! Reading a plugin's `[config]` table with errors that name the key.
//!
//! pier hands `[config]` over as strings: TOML strings as they are, every other value as its
//! JSON text (`true`, `42`, `["a","b"]`). [`Config::from_entries`] turns that back into typed
//! values once, checks the keys against the ones the plugin knows (a typo is an error, not a
//! silently ignored setting), and the getters say which key is wrong and what it should be.

use serde_json::{Map, Value};

/// A parsed `[config]` table.
#[derive(Debug, Clone, Default)]
pub struct Config {
    map: Map<String, Value>,
}

impl Config {
    /// Parses the entries as pier hands them over; a key not in `known` is an error listing the
    /// known ones (`plugin` names the plugin in the message).
    pub fn from_entries(
        entries: &[(String, String)],
        plugin: &str,
        known: &[&str],
    ) -> Result<Config, String> {
        let config = Config::parse(entries);
        if let Some(unknown) = config.map.keys().find(|k| !known.contains(&k.as_str())) {
            return Err(format!(
                "[config].{unknown} is not a setting of the {plugin} plugin; known: {}",
                known.join(", ")
            ));
        }
        Ok(config)
    }

    /// Parses the entries without checking the keys, for a plugin whose `[config]` has open
    /// parts (the postgres plugin's per-database defaults).
    pub fn parse(entries: &[(String, String)]) -> Config {
        let mut map = Map::new();
        for (key, text) in entries {
            let value = match text.trim_start().chars().next() {
                Some('[' | '{' | '0'..='9' | '-') => {
                    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.clone()))
                }
                _ if text == "true" || text == "false" => Value::Bool(text == "true"),
                _ => Value::String(text.clone()),
            };
            map.insert(key.clone(), value);
        }
        Config { map }
    }

    /// A table inside `[config]` (`[config.databases.main]`) read with the same getters.
    pub fn from_map(map: Map<String, Value>) -> Config {
        Config { map }
    }

    /// The keys and values, for tables with keys of the user's choosing.
    pub fn entries(&self) -> &Map<String, Value> {
        &self.map
    }

    /// Whether the key is set.
    pub fn has(&self, key: &str) -> bool {
        self.map.contains_key(key)
    }

    pub fn string(&self, key: &str) -> Result<Option<String>, String> {
        match self.map.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            // `dbname = 2024` means the text; TOML made it a number.
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(other) => Err(format!("[config].{key} must be a string, not {other}")),
        }
    }

    pub fn flag(&self, key: &str) -> Result<Option<bool>, String> {
        match self.map.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(other) => Err(format!("[config].{key} must be true or false, not {other}")),
        }
    }

    /// A non-negative integer.
    pub fn number(&self, key: &str) -> Result<Option<u64>, String> {
        match self.map.get(key) {
            None => Ok(None),
            Some(Value::Number(n)) if n.as_u64().is_some() => Ok(n.as_u64()),
            Some(other) => Err(format!(
                "[config].{key} must be a non-negative integer, not {other}"
            )),
        }
    }

    /// A list of strings; a single string is a list of one (`toolsets = "repos"`), and a string
    /// with commas is split (the `A,B,C` form environment variables use).
    pub fn list(&self, key: &str) -> Result<Option<Vec<String>>, String> {
        match self.map.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(
                s.split(',')
                    .map(|p| p.trim().to_string())
                    .filter(|p| !p.is_empty())
                    .collect(),
            )),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s.trim().to_string()),
                    other => Err(format!("[config].{key} must list strings, not {other}")),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(other) => Err(format!(
                "[config].{key} must be a list of strings, not {other}"
            )),
        }
    }
}

/// A URL a service with a credential may be reached at: HTTPS, or plain HTTP only on a
/// loopback address (a token must not cross a network in the clear). `key` names the setting
/// and `service` the remote side in the message.
pub fn checked_url(url: &str, key: &str, service: &str) -> Result<String, String> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| format!("[config].{key} must be an http(s) URL, not {url:?}"))?;
    let authority = rest.split('/').next().unwrap_or(rest);
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(v6),
        None => authority.split(':').next().unwrap_or(authority),
    };
    let loopback = host == "localhost"
        || host.starts_with("127.")
        || host == "::1"
        || host == "0:0:0:0:0:0:0:1";
    match scheme.to_ascii_lowercase().as_str() {
        "https" => Ok(url.to_string()),
        "http" if loopback => Ok(url.to_string()),
        "http" => Err(format!(
            "[config].{key} = {url:?} uses plain HTTP: {service} is reached over HTTPS (plain \
             HTTP only on a loopback address)"
        )),
        other => Err(format!("[config].{key}: unsupported scheme {other:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn values_come_back_typed_and_mistakes_name_the_key() {
        let c = Config::from_entries(
            &entries(&[
                ("a", "true"),
                ("n", "42"),
                ("l", r#"["x","y"]"#),
                ("s", "x, y"),
            ]),
            "demo",
            &["a", "n", "l", "s"],
        )
        .expect("known keys");
        assert_eq!(c.flag("a"), Ok(Some(true)));
        assert_eq!(c.number("n"), Ok(Some(42)));
        assert_eq!(c.list("l"), Ok(Some(vec!["x".into(), "y".into()])));
        assert_eq!(c.list("s"), Ok(Some(vec!["x".into(), "y".into()])));
        assert!(c.flag("n").expect_err("not a flag").contains("[config].n"));
        assert!(c.number("a").is_err() && c.string("a").is_err());
        assert_eq!(
            c.string("n"),
            Ok(Some("42".into())),
            "a TOML number read as text"
        );
        let e = Config::from_entries(&entries(&[("typo", "1")]), "demo", &["a"])
            .expect_err("unknown key");
        assert!(e.contains("[config].typo") && e.contains("known: a"), "{e}");
    }

    #[test]
    fn plain_http_only_on_loopback() {
        assert!(checked_url("https://x.example", "k", "X").is_ok());
        assert!(checked_url("http://127.0.0.1:9/api", "k", "X").is_ok());
        assert!(checked_url("http://[::1]:9/api", "k", "X").is_ok());
        let e = checked_url("http://x.example", "k", "X").expect_err("clear text");
        assert!(e.contains("HTTPS") && e.contains("[config].k"), "{e}");
        assert!(checked_url("ftp://x", "k", "X").is_err());
        assert!(checked_url("x.example", "k", "X").is_err());
    }
}
