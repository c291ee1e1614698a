//! Editing one member of a JSON (or JSONC: comments, trailing commas) file in place.
//!
//! Client config files are edited by people: they have comments (VS Code allows them), their
//! own indentation and key order. Re-serialising the whole document would lose all of that, so
//! the text is parsed only to find byte spans, and the one member pier owns is replaced or
//! inserted by splicing text; every other byte stays as it was.
//!
//! Long for one job because it carries its own small JSONC scanner: the byte spans it finds mean
//! something only to the splice that uses them, so the two stay together.

use std::ops::Range;

#[derive(Debug, thiserror::Error)]
#[error("{what} at line {line}, column {column}")]
pub struct ParseError {
    what: String,
    line: usize,
    column: usize,
}

/// A member of an object: `"key": value`.
#[derive(Debug)]
struct Member {
    key: String,
    /// From the key's opening quote.
    start: usize,
    value: Node,
}

#[derive(Debug)]
enum Kind {
    Object {
        members: Vec<Member>,
        /// Offset of the closing `}`.
        close: usize,
    },
    Other,
}

#[derive(Debug)]
struct Node {
    span: Range<usize>,
    kind: Kind,
}

struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Parser<'a> {
    fn error(&self, what: impl Into<String>) -> ParseError {
        let before = &self.text[..self.pos.min(self.text.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        ParseError {
            what: what.into(),
            line,
            column,
        }
    }

    /// Skips whitespace and comments.
    fn skip(&mut self) -> Result<(), ParseError> {
        loop {
            match self.bytes.get(self.pos) {
                Some(b' ' | b'\t' | b'\n' | b'\r') => self.pos += 1,
                Some(b'/') if self.bytes.get(self.pos + 1) == Some(&b'/') => {
                    while self.bytes.get(self.pos).is_some_and(|b| *b != b'\n') {
                        self.pos += 1;
                    }
                }
                Some(b'/') if self.bytes.get(self.pos + 1) == Some(&b'*') => {
                    let end = self.text[self.pos + 2..]
                        .find("*/")
                        .ok_or_else(|| self.error("unterminated /* comment"))?;
                    self.pos += 2 + end + 2;
                }
                _ => return Ok(()),
            }
        }
    }

    fn expect(&mut self, b: u8) -> Result<(), ParseError> {
        self.skip()?;
        if self.bytes.get(self.pos) == Some(&b) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.error(format!("expected `{}`", b as char)))
        }
    }

    fn value(&mut self) -> Result<Node, ParseError> {
        self.skip()?;
        let start = self.pos;
        match self.bytes.get(self.pos) {
            Some(b'{') => self.object(),
            Some(b'[') => {
                self.pos += 1;
                loop {
                    self.skip()?;
                    if self.bytes.get(self.pos) == Some(&b']') {
                        self.pos += 1;
                        break;
                    }
                    self.value()?;
                    self.skip()?;
                    match self.bytes.get(self.pos) {
                        Some(b',') => self.pos += 1,
                        Some(b']') => {}
                        _ => return Err(self.error("expected `,` or `]` in array")),
                    }
                }
                Ok(Node {
                    span: start..self.pos,
                    kind: Kind::Other,
                })
            }
            Some(b'"') => {
                self.string()?;
                Ok(Node {
                    span: start..self.pos,
                    kind: Kind::Other,
                })
            }
            Some(_) => {
                while self
                    .bytes
                    .get(self.pos)
                    .is_some_and(|b| b.is_ascii_alphanumeric() || b"+-.".contains(b))
                {
                    self.pos += 1;
                }
                let word = &self.text[start..self.pos];
                // A JSON number starts with `-` or a digit (so Rust's `NaN`/`inf` are not numbers).
                let numeric = word.starts_with(|c: char| c == '-' || c.is_ascii_digit());
                let ok = matches!(word, "true" | "false" | "null")
                    || (numeric && word.parse::<f64>().is_ok());
                if !ok {
                    self.pos = start;
                    return Err(self.error("expected a JSON value"));
                }
                Ok(Node {
                    span: start..self.pos,
                    kind: Kind::Other,
                })
            }
            None => Err(self.error("unexpected end of file")),
        }
    }

    fn string(&mut self) -> Result<String, ParseError> {
        let start = self.pos;
        self.pos += 1;
        loop {
            match self.bytes.get(self.pos) {
                Some(b'\\') => self.pos += 2,
                Some(b'"') => {
                    self.pos += 1;
                    break;
                }
                Some(_) => self.pos += 1,
                None => {
                    self.pos = start;
                    return Err(self.error("unterminated string"));
                }
            }
        }
        serde_json::from_str(&self.text[start..self.pos]).map_err(|e| {
            let mut err = self.error(format!("bad string: {e}"));
            err.column = 0;
            err
        })
    }

    fn object(&mut self) -> Result<Node, ParseError> {
        let start = self.pos;
        self.pos += 1;
        let mut members = Vec::new();
        loop {
            self.skip()?;
            match self.bytes.get(self.pos) {
                Some(b'}') => {
                    let close = self.pos;
                    self.pos += 1;
                    return Ok(Node {
                        span: start..self.pos,
                        kind: Kind::Object { members, close },
                    });
                }
                Some(b'"') => {
                    let key_start = self.pos;
                    let key = self.string()?;
                    self.expect(b':')?;
                    let value = self.value()?;
                    members.push(Member {
                        key,
                        start: key_start,
                        value,
                    });
                    self.skip()?;
                    match self.bytes.get(self.pos) {
                        Some(b',') => self.pos += 1,
                        Some(b'}') => {}
                        _ => return Err(self.error("expected `,` or `}` in object")),
                    }
                }
                _ => return Err(self.error("expected a key (a string in double quotes) or `}`")),
            }
        }
    }
}

fn parse(text: &str) -> Result<Node, ParseError> {
    let mut p = Parser {
        text,
        bytes: text.as_bytes(),
        pos: 0,
    };
    let root = p.value()?;
    p.skip()?;
    if p.pos != text.len() {
        return Err(p.error("text after the end of the document"));
    }
    if !matches!(root.kind, Kind::Object { .. }) {
        p.pos = 0;
        return Err(p.error("the file must hold a JSON object"));
    }
    Ok(root)
}

/// The whitespace at the start of the line holding `pos`.
fn indent_at(text: &str, pos: usize) -> &str {
    let line_start = text[..pos].rfind('\n').map_or(0, |i| i + 1);
    let line = &text[line_start..];
    &line[..line.len() - line.trim_start_matches([' ', '\t']).len()]
}

/// The file's indentation unit: the first indented line's whitespace, else two spaces.
fn indent_unit(text: &str) -> String {
    text.lines()
        .map(|l| &l[..l.len() - l.trim_start_matches([' ', '\t']).len()])
        .find(|w| !w.is_empty())
        .unwrap_or("  ")
        .to_string()
}

/// `value` pretty-printed with `unit`, its lines after the first indented by `base`.
fn render(value: &serde_json::Value, unit: &str, base: &str) -> String {
    let mut out = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(unit.as_bytes());
    let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
    if serde::Serialize::serialize(value, &mut ser).is_err() {
        return value.to_string();
    }
    String::from_utf8_lossy(&out).replace('\n', &format!("\n{base}"))
}

/// What [`upsert`] did.
#[derive(Debug, PartialEq, Eq)]
pub enum Change {
    Added,
    Replaced,
    Unchanged,
}

/// Sets `root[container][name] = value`, creating `container` if needed, and returns the new
/// text. Everything outside the edited member is kept byte for byte.
pub fn upsert(
    text: &str,
    container: &str,
    name: &str,
    value: &serde_json::Value,
) -> Result<(String, Change), ParseError> {
    if text.trim().is_empty() {
        let doc = serde_json::json!({ container: { name: value } });
        return Ok((render(&doc, "  ", "") + "\n", Change::Added));
    }
    let root = parse(text)?;
    let unit = indent_unit(text);
    let Kind::Object { members, close } = &root.kind else {
        unreachable!("parse() only returns objects")
    };
    let Some(holder) = members.iter().find(|m| m.key == container) else {
        let doc = serde_json::json!({ name: value });
        let (range, insertion) = insert_member(text, members, *close, container, &doc, &unit);
        return Ok((splice(text, range, &insertion), Change::Added));
    };
    let Kind::Object {
        members: entries,
        close: holder_close,
    } = &holder.value.kind
    else {
        let mut p = Parser {
            text,
            bytes: text.as_bytes(),
            pos: holder.value.span.start,
        };
        p.skip().ok();
        return Err(p.error(format!("\"{container}\" is not an object")));
    };
    if let Some(existing) = entries.iter().find(|m| m.key == name) {
        let old: Option<serde_json::Value> =
            json5ish(&text[existing.value.span.clone()]).filter(|v| v == value);
        if old.is_some() {
            return Ok((text.to_string(), Change::Unchanged));
        }
        let base = indent_at(text, existing.start);
        let rendered = render(value, &unit, base);
        return Ok((
            splice(text, existing.value.span.clone(), &rendered),
            Change::Replaced,
        ));
    }
    let (range, insertion) = insert_member(text, entries, *holder_close, name, value, &unit);
    Ok((splice(text, range, &insertion), Change::Added))
}

/// Parses a value span as JSON after dropping comments and trailing commas (for comparing).
fn json5ish(span: &str) -> Option<serde_json::Value> {
    let mut clean = String::with_capacity(span.len());
    let mut p = Parser {
        text: span,
        bytes: span.as_bytes(),
        pos: 0,
    };
    // Re-emit the span token by token, skipping comments; commas before `}`/`]` are dropped.
    let mut last = 0;
    while p.pos < span.len() {
        let before = p.pos;
        p.skip().ok()?;
        if p.pos > before {
            clean.push(' ');
            last = p.pos;
            continue;
        }
        match p.bytes[p.pos] {
            b'"' => {
                p.string().ok()?;
                clean.push_str(&span[last..p.pos]);
            }
            b',' => {
                p.pos += 1;
                let save = p.pos;
                p.skip().ok()?;
                if !matches!(p.bytes.get(p.pos), Some(b'}' | b']')) {
                    clean.push(',');
                }
                p.pos = save;
            }
            _ => {
                clean.push(p.bytes[p.pos] as char);
                p.pos += 1;
            }
        }
        last = p.pos;
    }
    serde_json::from_str(&clean).ok()
}

fn splice(text: &str, range: Range<usize>, with: &str) -> String {
    let mut out = String::with_capacity(text.len() + with.len());
    out.push_str(&text[..range.start]);
    out.push_str(with);
    out.push_str(&text[range.end..]);
    out
}

/// The range to replace (empty: an insertion) to add `"key": value` as the last member of an
/// object, and the text to put there.
fn insert_member(
    text: &str,
    members: &[Member],
    close: usize,
    key: &str,
    value: &serde_json::Value,
    unit: &str,
) -> (Range<usize>, String) {
    let key_json = serde_json::Value::String(key.to_string()).to_string();
    let Some(last) = members.last() else {
        // An empty object: open it up on its own lines (comments inside are kept).
        let outer = indent_at(text, close).to_string();
        let inner = format!("{outer}{unit}");
        let rendered = render(value, unit, &inner);
        let open = text[..close].rfind('{').unwrap_or(close);
        let inside = &text[open + 1..close];
        if inside.trim().is_empty() {
            return (
                open + 1..close,
                format!("\n{inner}{key_json}: {rendered}\n{outer}"),
            );
        }
        return (
            close..close,
            format!("\n{inner}{key_json}: {rendered}\n{outer}"),
        );
    };
    let indent = indent_at(text, last.start).to_string();
    let same_line = !text[members[0].start..close].contains('\n');
    let end = last.value.span.end;
    // A trailing comma (JSONC) already separates; add after it.
    let after = &text[end..close];
    let comma = after.trim_start().starts_with(',');
    let at = if comma {
        end + after.find(',').unwrap_or(0) + 1
    } else {
        end
    };
    let sep = if comma { "" } else { "," };
    if same_line {
        let rendered = value.to_string();
        return (at..at, format!("{sep} {key_json}: {rendered}"));
    }
    // A comment at the end of the last member's line stays on that line.
    let rest = &text[at..close];
    let line_end = match rest.find('\n') {
        Some(nl) if only_comments(&rest[..nl]) => at + nl,
        _ => at,
    };
    let kept = &text[at..line_end];
    let rendered = render(value, unit, &indent);
    (
        at..line_end,
        format!("{sep}{kept}\n{indent}{key_json}: {rendered}"),
    )
}

fn only_comments(s: &str) -> bool {
    let t = s.trim();
    t.is_empty() || t.starts_with("//") || (t.starts_with("/*") && t.ends_with("*/"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entry() -> serde_json::Value {
        json!({"command": "/usr/bin/pier", "args": ["serve"]})
    }

    #[test]
    fn adds_beside_other_servers_keeping_everything_else() {
        let text = "{\n    // my servers\n    \"theme\": \"dark\",\n    \"mcpServers\": {\n        \"other\": { \"command\": \"x\" }, /* keep */\n    }\n}\n";
        let (out, change) = upsert(text, "mcpServers", "pier", &entry()).expect("edit");
        assert_eq!(change, Change::Added);
        assert!(out.starts_with("{\n    // my servers\n    \"theme\": \"dark\",\n    \"mcpServers\": {\n        \"other\": { \"command\": \"x\" },"), "{out}");
        assert!(out.contains("/* keep */"), "{out}");
        assert!(
            out.contains("\n        \"pier\": {\n            \"command\": \"/usr/bin/pier\","),
            "{out}"
        );
        // Idempotent: the same edit again changes nothing.
        let (again, change) = upsert(&out, "mcpServers", "pier", &entry()).expect("edit");
        assert_eq!(change, Change::Unchanged);
        assert_eq!(again, out);
    }

    #[test]
    fn replaces_an_old_entry_and_creates_missing_containers() {
        let text = "{\"servers\": {\"pier\": {\"command\": \"old\"}}, \"inputs\": []}";
        let (out, change) = upsert(text, "servers", "pier", &entry()).expect("edit");
        assert_eq!(change, Change::Replaced);
        assert!(out.ends_with(", \"inputs\": []}"), "{out}");
        let v: serde_json::Value = serde_json::from_str(&out).expect("json");
        assert_eq!(v["servers"]["pier"], entry());

        let (out, _) = upsert("{\n  \"a\": 1\n}", "mcpServers", "pier", &entry()).expect("edit");
        let v: serde_json::Value = serde_json::from_str(&out).expect("json");
        assert_eq!(v["a"], 1);
        assert_eq!(v["mcpServers"]["pier"], entry());

        let (out, _) = upsert("{}", "mcpServers", "pier", &entry()).expect("edit");
        let v: serde_json::Value = serde_json::from_str(&out).expect("json");
        assert_eq!(v["mcpServers"]["pier"], entry());
        let (out, _) = upsert("", "mcpServers", "pier", &entry()).expect("edit");
        assert!(
            serde_json::from_str::<serde_json::Value>(&out).is_ok(),
            "{out}"
        );
    }

    #[test]
    fn broken_files_are_refused_with_a_position() {
        let e =
            upsert("{\n  \"a\": 1,\n  oops\n}", "mcpServers", "pier", &entry()).expect_err("bad");
        assert!(e.to_string().contains("line 3"), "{e}");
        let e = upsert("{\"a\": NaN}", "mcpServers", "pier", &entry()).expect_err("NaN");
        assert!(e.to_string().contains("JSON value"), "{e}");
        let e = upsert("[1]", "mcpServers", "pier", &entry()).expect_err("not an object");
        assert!(e.to_string().contains("object"), "{e}");
        let e = upsert("{\"mcpServers\": []}", "mcpServers", "pier", &entry()).expect_err("array");
        assert!(e.to_string().contains("not an object"), "{e}");
    }
}
