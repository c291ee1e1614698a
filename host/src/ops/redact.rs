//! What the audit log must not hold: argument values whose names say they are secrets, and
//! passwords inside other values, replaced by `"[redacted]"`; long strings cut.

use serde_json::{Map, Value};

/// Argument names whose values never reach the log, compared as substrings of the name
/// lower-cased with `-` and `_` removed (so `api-key`, `x-api-key`, `privateKey`, `session_key`
/// all match).
const SECRET_NAMES: &[&str] = &[
    "password",
    "passwd",
    "passphrase",
    "pwd",
    "secret",
    "token",
    "apikey",
    "authorization",
    "credential",
    "privatekey",
    "sessionkey",
    "accesskey",
    "signingkey",
    "cookie",
];
/// Strings longer than this are cut in the log (the digest still covers them whole).
const MAX_STRING: usize = 200;

/// The built-in secret names plus those of `[audit].redact`.
pub struct Redactor {
    extra: Vec<String>,
}

impl Redactor {
    pub fn new(extra: &[String]) -> Self {
        Redactor {
            extra: extra.iter().map(|s| s.to_lowercase()).collect(),
        }
    }

    /// Whether an argument named `key` holds a secret.
    pub fn is_secret(&self, key: &str) -> bool {
        let lower = key.to_lowercase();
        let folded: String = lower.chars().filter(|c| *c != '-' && *c != '_').collect();
        SECRET_NAMES.iter().any(|s| folded.contains(s))
            || self
                .extra
                .iter()
                .any(|s| lower.contains(s.as_str()) || folded.contains(s.as_str()))
    }

    /// `map` with secrets replaced (and, with `cut`, long strings shortened).
    pub fn map(&self, map: &Map<String, Value>, cut: bool) -> Map<String, Value> {
        map.iter()
            .map(|(k, v)| {
                let v = if self.is_secret(k) {
                    Value::String("[redacted]".into())
                } else {
                    self.value(v, cut)
                };
                (k.clone(), v)
            })
            .collect()
    }

    fn value(&self, v: &Value, cut: bool) -> Value {
        match v {
            Value::Object(m) => Value::Object(self.map(m, cut)),
            Value::Array(a) => Value::Array(a.iter().map(|x| self.value(x, cut)).collect()),
            Value::String(s) => {
                let s = crate::secrets::redact_passwords(s);
                if cut && s.chars().count() > MAX_STRING {
                    let head: String = s.chars().take(MAX_STRING).collect();
                    Value::String(format!("{head}… ({} chars)", s.chars().count()))
                } else {
                    Value::String(s.into_owned())
                }
            }
            other => other.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_names_in_any_spelling_and_passwords_in_values() {
        let log = Redactor::new(&[]);
        for name in [
            "privateKey",
            "api-key",
            "x-api-key",
            "passphrase",
            "pwd",
            "sessionKey",
            "AWS_SECRET_ACCESS_KEY",
        ] {
            assert!(log.is_secret(name), "{name}");
        }
        for name in ["sql", "path", "keyword", "author"] {
            assert!(!log.is_secret(name), "{name}");
        }
        let args = serde_json::json!({"sql": "ALTER ROLE x PASSWORD 'zz9'", "api_key": "k"});
        let logged = Value::Object(log.map(args.as_object().expect("object"), false)).to_string();
        assert!(
            !logged.contains("zz9") && !logged.contains("\"k\""),
            "{logged}"
        );
    }
}
