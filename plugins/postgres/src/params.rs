//! Bound parameters: JSON values sent as text, typed by the server.
//!
//! Each `$n` is declared `unknown`, so PostgreSQL infers its type from the statement (as psql and
//! libpq do) and parses the text we send. A number can therefore fill an `int8` or a `numeric`
//! without passing through a float, and a string can fill a `date` or a `uuid`.

use bytes::BytesMut;
use serde_json::Value;
use tokio_postgres::types::{Format, IsNull, ToSql, Type, to_sql_checked};

/// One parameter's text (`None` is SQL NULL).
#[derive(Debug)]
pub struct TextParam(pub Option<String>);

impl ToSql for TextParam {
    fn to_sql(
        &self,
        _: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match &self.0 {
            Some(text) => {
                out.extend_from_slice(text.as_bytes());
                Ok(IsNull::No)
            }
            None => Ok(IsNull::Yes),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    fn encode_format(&self, _: &Type) -> Format {
        Format::Text
    }

    to_sql_checked!();
}

/// A value in a type's binary form, sent back to have the server print it (see `run`).
#[derive(Debug)]
pub struct BinaryParam(pub Vec<u8>);

impl ToSql for BinaryParam {
    fn to_sql(
        &self,
        _: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        out.extend_from_slice(&self.0);
        Ok(IsNull::No)
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

/// Converts the `params` argument. Arrays become PostgreSQL array literals (`{1,2}`), objects
/// JSON text; pass a JSON array for a json/jsonb parameter as a string. Numbers are written as
/// the client wrote them (serde_json's `arbitrary_precision` is on for this plugin, and pier
/// passes such arguments through exactly), so a 30-digit integer reaches a `numeric` intact.
pub fn from_json(params: &[Value]) -> Vec<TextParam> {
    params
        .iter()
        .map(|v| match v {
            Value::Null => TextParam(None),
            Value::String(s) => TextParam(Some(s.clone())),
            Value::Array(items) => TextParam(Some(array_literal(items))),
            other => TextParam(Some(other.to_string())),
        })
        .collect()
}

fn array_literal(items: &[Value]) -> String {
    let parts: Vec<String> = items
        .iter()
        .map(|v| match v {
            Value::Null => "NULL".to_string(),
            Value::Bool(_) | Value::Number(_) => v.to_string(),
            Value::Array(inner) => array_literal(inner),
            Value::String(s) => quote_element(s),
            Value::Object(_) => quote_element(&v.to_string()),
        })
        .collect();
    format!("{{{}}}", parts.join(","))
}

fn quote_element(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn texts(v: Value) -> Vec<Option<String>> {
        from_json(v.as_array().expect("array"))
            .into_iter()
            .map(|p| p.0)
            .collect()
    }

    #[test]
    fn json_values_become_text() {
        assert_eq!(
            texts(json!([1, "a", null, true, 12345678901234567890u64, {"k": 1}])),
            vec![
                Some("1".into()),
                Some("a".into()),
                None,
                Some("true".into()),
                Some("12345678901234567890".into()),
                Some("{\"k\":1}".into())
            ]
        );
    }

    #[test]
    fn numbers_beyond_64_bits_stay_exact() {
        let v: Value = serde_json::from_str(
            "[12345678901234567890123456789, -98765432109876543210.000000001, [1e400, 2]]",
        )
        .expect("json");
        assert_eq!(
            texts(v),
            vec![
                Some("12345678901234567890123456789".into()),
                Some("-98765432109876543210.000000001".into()),
                Some("{1e+400,2}".into())
            ]
        );
    }

    #[test]
    fn arrays_become_array_literals() {
        assert_eq!(
            texts(json!([[1, 2], ["x\"y", "b\\c", null], [[1], [2]]])),
            vec![
                Some("{1,2}".into()),
                Some(r#"{"x\"y","b\\c",NULL}"#.into()),
                Some("{{1},{2}}".into())
            ]
        );
    }
}
