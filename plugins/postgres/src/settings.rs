//! The plugin's `[config]`: which databases it serves and how.
//!
//! One database is configured with keys straight under `[config]`; several with a table per
//! database under `[config.databases.NAME]`, where keys at the top level are defaults for each.
//! Passwords come from an environment variable the manifest grants (`password_env`), so a
//! manifest can be shared without a secret in it.

use std::collections::BTreeMap;
use std::str::FromStr;
use std::time::Duration;

use pier_sdk::config::Config;

use crate::embeddings::Endpoint;
use crate::restrictions::Restrictions;
use crate::semantic::Search;
use serde_json::{Map, Value};
use tokio_postgres::config::Host;

/// How the connection is encrypted, with libpq's names and meanings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SslMode {
    /// Plain TCP.
    Disable,
    /// TLS when the server offers it, without verifying the certificate; plain otherwise.
    Prefer,
    /// TLS or fail, without verifying the certificate (libpq's `require` without a root cert).
    Require,
    /// TLS, certificate chain checked against the CA; the host name is not checked.
    VerifyCa,
    /// TLS, chain checked and the certificate must name the host.
    VerifyFull,
}

impl SslMode {
    fn parse(text: &str) -> Result<SslMode, String> {
        Ok(match text {
            "disable" => SslMode::Disable,
            "prefer" | "allow" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            other => {
                return Err(format!(
                    "sslmode {other:?} is not one of disable, prefer, require, verify-ca, verify-full"
                ));
            }
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }
}

/// Row-level security: the setting each call sets to the caller's identity.
#[derive(Clone, Debug)]
pub struct Rls {
    /// A custom setting such as `app.current_rls_user_id` (validated: `word.word`).
    pub setting: String,
    /// Identity used when the call carries none (stdio without `--identity`).
    pub default: Option<String>,
}

/// One database the plugin serves.
#[derive(Clone, Debug)]
pub struct Database {
    pub name: String,
    pub description: Option<String>,
    /// Everything tokio-postgres needs except TLS (user, password, dbname, options).
    pub config: tokio_postgres::Config,
    pub host: String,
    pub port: u16,
    pub sslmode: SslMode,
    /// Guest path of a PEM file with the CA certificates to trust (verify-ca/verify-full).
    pub sslrootcert: Option<String>,
    /// Whether the `execute` tool may write to this database.
    pub writes: bool,
    /// `allowed_operations`, `denied_tables`, `denied_columns`.
    pub restrictions: Restrictions,
    pub rls: Option<Rls>,
    /// Where the password came from, for error messages.
    pub password_env: Option<String>,
}

impl Database {
    pub fn user(&self) -> &str {
        self.config.get_user().unwrap_or("")
    }

    pub fn dbname(&self) -> &str {
        self.config.get_dbname().unwrap_or("")
    }
}

/// Everything read from `[config]`.
#[derive(Clone, Debug)]
pub struct Settings {
    pub databases: Vec<Database>,
    /// Most rows a call returns; a call's `max_rows` can ask for fewer.
    pub max_rows: usize,
    /// Most bytes of row JSON a call returns.
    pub max_bytes: usize,
    /// `statement_timeout` set for every call's transaction.
    pub statement_timeout: Duration,
    /// `lock_timeout` of every call: how long a statement may wait in a lock queue (where it
    /// also holds up everyone queued behind it).
    pub lock_timeout: Duration,
    pub connect_timeout: Duration,
    /// Wrap row data in the text content as untrusted data (prompt-injection hygiene).
    pub fence_untrusted: bool,
    /// `[config.searches.NAME]`: the tables `semantic_search` ranks.
    pub searches: Vec<Search>,
    /// `[config.embeddings]`: the endpoint searches use unless they name their own.
    pub embeddings: Option<Endpoint>,
}

pub const DEFAULT_MAX_ROWS: usize = 1000;
pub const DEFAULT_MAX_BYTES: usize = 1 << 20;
/// Below pier's default call limit (30 s), so PostgreSQL cancels first and says why.
pub const DEFAULT_STATEMENT_TIMEOUT: Duration = Duration::from_secs(20);
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(5);

impl Settings {
    /// No database and the defaults: what the tool list is built from when `[config]` is
    /// broken (each call then says why).
    pub fn none() -> Settings {
        Settings {
            databases: Vec::new(),
            max_rows: DEFAULT_MAX_ROWS,
            max_bytes: DEFAULT_MAX_BYTES,
            statement_timeout: DEFAULT_STATEMENT_TIMEOUT,
            lock_timeout: DEFAULT_LOCK_TIMEOUT,
            connect_timeout: Duration::from_secs(10),
            fence_untrusted: false,
            searches: Vec::new(),
            embeddings: None,
        }
    }

    /// Reads settings from `[config]` entries as pier hands them over (strings as-is,
    /// everything else as JSON text).
    pub fn from_entries(entries: &[(String, String)]) -> Result<Settings, String> {
        let top = Config::parse(entries);
        let known = [
            "databases",
            "max_rows",
            "max_bytes",
            "statement_timeout_ms",
            "lock_timeout_ms",
            "connect_timeout_ms",
            "fence_untrusted",
            "searches",
            "embeddings",
        ];
        // Every other top-level key is a database setting: the one database's, or the default
        // of each one under [config.databases.*].
        let mut defaults = Map::new();
        for (key, value) in top.entries() {
            if !known.contains(&key.as_str()) {
                defaults.insert(key.clone(), value.clone());
            }
        }
        let mut databases = Vec::new();
        match top.entries().get("databases") {
            Some(Value::Object(tables)) => {
                for (name, table) in tables {
                    let Value::Object(own) = table else {
                        return Err(format!("[config.databases.{name}] must be a table"));
                    };
                    let mut merged = defaults.clone();
                    merged.remove("name");
                    merged.extend(own.clone());
                    databases.push(database(Some(name), &Config::from_map(merged))?);
                }
            }
            Some(_) => return Err("[config].databases must be a table of tables".into()),
            None if defaults.contains_key("url") || defaults.contains_key("host") => {
                databases.push(database(None, &Config::from_map(defaults))?);
            }
            None => {}
        }
        let mut seen = BTreeMap::new();
        for db in &databases {
            if seen.insert(db.name.clone(), ()).is_some() {
                return Err(format!("two databases are named {:?}", db.name));
            }
        }
        let searches = match top.entries().get("searches") {
            Some(v) => crate::semantic::parse_searches(v)?,
            None => Vec::new(),
        };
        for search in &searches {
            if let Some(name) = &search.database
                && !databases.iter().any(|d| &d.name == name)
            {
                return Err(format!(
                    "[config.searches.{}] database {name:?} is not a configured database",
                    search.name
                ));
            }
        }
        let embeddings = match top.entries().get("embeddings") {
            Some(v) => Some(Endpoint::parse(v, "[config.embeddings]")?),
            None => None,
        };
        Ok(Settings {
            searches,
            embeddings,
            databases,
            max_rows: top.number("max_rows")?.unwrap_or(DEFAULT_MAX_ROWS as u64) as usize,
            max_bytes: top.number("max_bytes")?.unwrap_or(DEFAULT_MAX_BYTES as u64) as usize,
            statement_timeout: top
                .number("statement_timeout_ms")?
                .map(Duration::from_millis)
                .unwrap_or(DEFAULT_STATEMENT_TIMEOUT),
            lock_timeout: top
                .number("lock_timeout_ms")?
                .map(Duration::from_millis)
                .unwrap_or(DEFAULT_LOCK_TIMEOUT),
            connect_timeout: top
                .number("connect_timeout_ms")?
                .map(Duration::from_millis)
                .unwrap_or(Duration::from_secs(10)),
            fence_untrusted: top.flag("fence_untrusted")?.unwrap_or(false),
        })
    }

    /// The database a call names, or the only/first one when it names none.
    pub fn database(&self, name: Option<&str>) -> Result<&Database, String> {
        match name {
            Some(name) => self
                .databases
                .iter()
                .find(|d| d.name == name)
                .ok_or_else(|| {
                    let names: Vec<&str> = self.databases.iter().map(|d| d.name.as_str()).collect();
                    format!(
                        "no database named {name:?}; configured: {}",
                        names.join(", ")
                    )
                }),
            None => self.databases.first().ok_or_else(|| {
                format!(
                    "no database is configured: add url = \"postgres://user@host:5432/db\" under \
                     [config] in {} (and grant its address in [grants].network)",
                    pier_sdk::host::manifest_path()
                )
            }),
        }
    }

    pub fn any_writes(&self) -> bool {
        self.databases.iter().any(|d| d.writes)
    }
}

/// Splits libpq's TLS parameters (which tokio-postgres does not know) off a URL's query.
fn split_tls_params(url: &str) -> (String, Option<String>, Option<String>) {
    let Some((base, query)) = url.split_once('?') else {
        return (url.to_string(), None, None);
    };
    let (mut mode, mut root) = (None, None);
    let mut kept = Vec::new();
    for pair in query.split('&') {
        match pair.split_once('=') {
            Some(("sslmode", v)) => mode = Some(v.to_string()),
            Some(("sslrootcert", v)) => root = Some(v.to_string()),
            _ => kept.push(pair),
        }
    }
    let url = if kept.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    (url, mode, root)
}

fn database(name: Option<&String>, map: &Config) -> Result<Database, String> {
    let label = name.map_or("[config]".to_string(), |n| {
        format!("[config.databases.{n}]")
    });
    let (mut config, url_mode, url_root) = match map.string("url")? {
        Some(url) => {
            let (url, mode, root) = split_tls_params(&url);
            let config = tokio_postgres::Config::from_str(&url)
                .map_err(|e| format!("{label} url is not a PostgreSQL URL: {e}"))?;
            (config, mode, root)
        }
        None => (tokio_postgres::Config::new(), None, None),
    };
    if let Some(host) = map.string("host")? {
        config.host(&host);
    }
    if let Some(port) = map.number("port")? {
        let port = u16::try_from(port).map_err(|_| format!("{label} port {port} is too big"))?;
        config.port(port);
    }
    if let Some(user) = map.string("user")? {
        config.user(&user);
    }
    if let Some(db) = map.string("dbname")? {
        config.dbname(&db);
    }
    let host = match config.get_hosts().first() {
        Some(Host::Tcp(h)) => h.clone(),
        _ => {
            return Err(format!(
                "{label} names no host (url = \"postgres://user@host/db\")"
            ));
        }
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    if config.get_user().is_none() {
        return Err(format!(
            "{label} names no user: add it to the url or as user = \"…\""
        ));
    }
    let password_env = map.string("password_env")?;
    if let Some(var) = &password_env {
        let password = pier_sdk::grants::env_var(var).map_err(|e| match e {
            pier_sdk::Error::InvalidParams(m) | pier_sdk::Error::Internal(m) => m,
            pier_sdk::Error::NotFound(m) => m,
        })?;
        config.password(password);
    }
    config.application_name("pier-postgres");
    let sslmode = match map.string("sslmode")?.or(url_mode) {
        Some(mode) => SslMode::parse(&mode).map_err(|e| format!("{label} {e}"))?,
        None => SslMode::Prefer,
    };
    let rls = match map.string("rls_setting")? {
        Some(setting) => {
            if !valid_setting_name(&setting) {
                return Err(format!(
                    "{label} rls_setting {setting:?} must be a custom setting such as \
                     \"app.current_user_id\" (letters, digits, _; one dot)"
                ));
            }
            Some(Rls {
                setting,
                default: map.string("rls_default")?,
            })
        }
        None => None,
    };
    let name = match name {
        Some(n) => n.clone(),
        None => map
            .string("name")?
            .or_else(|| config.get_dbname().map(str::to_string))
            .unwrap_or_else(|| "default".into()),
    };
    let (restrictions, writes) = Restrictions::parse(
        &label,
        map.list("allowed_operations")?,
        map.list("denied_tables")?,
        map.list("denied_columns")?,
        map.flag("writes")?,
    )?;
    Ok(Database {
        name,
        description: map.string("description")?,
        host,
        port,
        sslmode,
        sslrootcert: map.string("sslrootcert")?.or(url_root),
        writes,
        restrictions,
        rls,
        password_env,
        config,
    })
}

/// `prefix.name`, each part an identifier: safe to splice into `SET LOCAL` unquoted.
pub fn valid_setting_name(name: &str) -> bool {
    let mut parts = name.split('.');
    let ident = |p: &str| {
        !p.is_empty()
            && p.len() <= 63
            && p.chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    matches!((parts.next(), parts.next(), parts.next()), (Some(a), Some(b), None) if ident(a) && ident(b))
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
    fn one_database_from_a_url() {
        let s = Settings::from_entries(&entries(&[
            (
                "url",
                "postgres://reader@db.internal:6543/shop?sslmode=verify-full",
            ),
            ("max_rows", "50"),
        ]))
        .expect("valid");
        let db = &s.databases[0];
        assert_eq!(db.name, "shop");
        assert_eq!((db.host.as_str(), db.port), ("db.internal", 6543));
        assert_eq!(db.user(), "reader");
        assert_eq!(db.sslmode, SslMode::VerifyFull);
        assert_eq!(s.max_rows, 50);
        assert!(!db.writes && db.rls.is_none());
    }

    #[test]
    fn several_databases_inherit_top_level_defaults() {
        let s = Settings::from_entries(&entries(&[
            ("sslmode", "disable"),
            (
                "databases",
                r#"{"a": {"url": "postgres://u@h/a"}, "b": {"url": "postgres://u@h/b", "sslmode": "require", "writes": true}}"#,
            ),
        ]))
        .expect("valid");
        assert_eq!(s.databases.len(), 2);
        assert_eq!(s.databases[0].sslmode, SslMode::Disable);
        assert_eq!(s.databases[1].sslmode, SslMode::Require);
        assert!(s.databases[1].writes && s.any_writes());
        assert!(
            s.database(Some("c"))
                .unwrap_err()
                .contains("configured: a, b")
        );
    }

    #[test]
    fn bad_values_say_which_key() {
        let e = Settings::from_entries(&entries(&[("url", "postgres://u@h/d"), ("sslmode", "on")]))
            .unwrap_err();
        assert!(e.contains("sslmode \"on\""), "{e}");
        let e = Settings::from_entries(&entries(&[
            ("url", "postgres://u@h/d"),
            ("rls_setting", "x'; DROP"),
        ]))
        .unwrap_err();
        assert!(e.contains("rls_setting"), "{e}");
        let e = Settings::from_entries(&entries(&[("url", "postgres://h/d")])).unwrap_err();
        assert!(e.contains("no user"), "{e}");
    }

    #[test]
    fn setting_names() {
        assert!(valid_setting_name("app.current_rls_user_id"));
        assert!(!valid_setting_name("search_path"));
        assert!(!valid_setting_name("a.b.c"));
        assert!(!valid_setting_name("app.x-y"));
    }
}
