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
                let s = redact_text(s);
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

/// Passwords inside values: the password of a URL (`postgres://user:PASS@host`), SQL's
/// `PASSWORD '…'`, and `password=…` in connection strings (libpq's `key=value` form or a query
/// string). Only these shapes: an argument that is itself a secret is caught by its name.
fn redact_text(text: &str) -> std::borrow::Cow<'_, str> {
    let lower = text.to_ascii_lowercase();
    if !lower.contains("://") && !lower.contains("password") && !lower.contains("pwd") {
        return std::borrow::Cow::Borrowed(text);
    }
    // Byte ranges of secrets, found on the lower-cased copy (same byte offsets: ASCII only
    // changes case).
    let mut cuts: Vec<(usize, usize)> = Vec::new();
    let bytes = lower.as_bytes();
    // scheme://user:PASS@host
    let mut from = 0;
    while let Some(at) = lower[from..].find("://") {
        let start = from + at + 3;
        let end = lower[start..]
            .find(|c: char| c.is_whitespace() || c == '/' || c == '"' || c == '\'')
            .map_or(lower.len(), |e| start + e);
        if let Some(atsign) = lower[start..end].rfind('@')
            && let Some(colon) = lower[start..start + atsign].find(':')
        {
            cuts.push((start + colon + 1, start + atsign));
        }
        from = end.max(start);
    }
    // password 'x' / PASSWORD "x" / password=x / pwd=x / password: x
    for word in ["password", "pwd"] {
        let mut from = 0;
        while let Some(at) = lower[from..].find(word) {
            let mut i = from + at + word.len();
            from = i;
            while i < bytes.len() && (bytes[i] == b' ' || bytes[i] == b'=' || bytes[i] == b':') {
                i += 1;
            }
            if i == from || i >= bytes.len() {
                continue;
            }
            let (start, end) = match bytes[i] {
                q @ (b'\'' | b'"') => {
                    let close = lower[i + 1..]
                        .find(q as char)
                        .map_or(lower.len(), |e| i + 1 + e);
                    (i + 1, close)
                }
                _ => {
                    let end = lower[i..]
                        .find(|c: char| c.is_whitespace() || c == '&' || c == ';' || c == ',')
                        .map_or(lower.len(), |e| i + e);
                    (i, end)
                }
            };
            if end > start {
                cuts.push((start, end));
            }
        }
    }
    if cuts.is_empty() {
        return std::borrow::Cow::Borrowed(text);
    }
    cuts.sort_unstable();
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for (start, end) in cuts {
        if start < at {
            continue;
        }
        out.push_str(&text[at..start]);
        out.push_str("[redacted]");
        at = end;
    }
    out.push_str(&text[at..]);
    std::borrow::Cow::Owned(out)
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
        for (value, secret) in [
            ("postgres://u:PASS@h/db", "PASS"),
            ("see https://bob:hunter2@example.com/x and more", "hunter2"),
            ("ALTER ROLE x PASSWORD 'topsecret'", "topsecret"),
            ("CREATE USER y WITH PASSWORD \"dq-secret\"", "dq-secret"),
            ("host=db user=u password=plain1 dbname=x", "plain1"),
            ("Server=db;Uid=u;Pwd=semi2;", "semi2"),
            ("https://h/cb?user=a&password=qs3&x=1", "qs3"),
        ] {
            let out = redact_text(value);
            assert!(!out.contains(secret), "{value} -> {out}");
            assert!(out.contains("[redacted]"), "{value} -> {out}");
        }
        assert_eq!(redact_text("SELECT 1"), "SELECT 1");
        assert_eq!(
            redact_text("https://example.com/a@b"),
            "https://example.com/a@b"
        );
    }
}
