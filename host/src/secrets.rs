//! Text that must not be shown as it is: passwords written inside other text. Shared by the
//! audit log and the log of what plugins print, which both hold text pier did not write.

use std::borrow::Cow;

/// `text` with passwords replaced by `[redacted]`: the password of a URL
/// (`postgres://user:PASS@host`), SQL's `PASSWORD '…'`, and `password=…` in connection strings
/// (libpq's `key=value` form or a query string). Only these shapes: an argument that is itself a
/// secret is caught by its name (see `ops::redact`).
pub fn redact_passwords(text: &str) -> Cow<'_, str> {
    let lower = text.to_ascii_lowercase();
    if !lower.contains("://") && !lower.contains("password") && !lower.contains("pwd") {
        return Cow::Borrowed(text);
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
        return Cow::Borrowed(text);
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
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_in_urls_sql_and_connection_strings() {
        for (value, secret) in [
            ("postgres://u:PASS@h/db", "PASS"),
            ("see https://bob:hunter2@example.com/x and more", "hunter2"),
            ("ALTER ROLE x PASSWORD 'topsecret'", "topsecret"),
            ("CREATE USER y WITH PASSWORD \"dq-secret\"", "dq-secret"),
            ("host=db user=u password=plain1 dbname=x", "plain1"),
            ("Server=db;Uid=u;Pwd=semi2;", "semi2"),
            ("https://h/cb?user=a&password=qs3&x=1", "qs3"),
        ] {
            let out = redact_passwords(value);
            assert!(!out.contains(secret), "{value} -> {out}");
            assert!(out.contains("[redacted]"), "{value} -> {out}");
        }
        assert_eq!(redact_passwords("SELECT 1"), "SELECT 1");
        assert_eq!(
            redact_passwords("https://example.com/a@b"),
            "https://example.com/a@b"
        );
    }
}
