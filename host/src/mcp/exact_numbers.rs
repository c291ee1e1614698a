//! Numbers in tool arguments kept exact from the client to the plugin.
//!
//! rmcp parses every message into `serde_json::Value`, where a number beyond 64 bits becomes a
//! double: `12345678901234567890123456789` would reach a plugin as `1.2345678901234568e28`.
//! Turning on serde_json's `arbitrary_precision` for the whole host would keep them, but it
//! changes how every number in every message parses (an allocation per number, and typed
//! fields behind rmcp's untagged enums stop accepting non-canonical floats). Instead, before rmcp
//! sees a `tools/call` whose arguments hold a long run of digits, the transport copies the
//! arguments' exact text into the request's `_meta` under [`META_KEY`]; the handler sends that
//! text to the plugin when it parses to the very arguments rmcp produced (so a client cannot use
//! the key to make the plugin see something else than what is audited).

use std::collections::BTreeMap;

use serde_json::value::RawValue;

/// Where the exact text travels inside `params._meta`.
pub const META_KEY: &str = "pier.dev/exact-arguments";

/// Digits in a row from which a number may not survive a double (2^53 has 16 digits).
const LONG_RUN: usize = 16;

/// Whether `text` holds 16 or more digits in a row (cheap; checked on every message).
pub fn may_round(text: &[u8]) -> bool {
    let mut run = 0;
    for b in text {
        if b.is_ascii_digit() {
            run += 1;
            if run >= LONG_RUN {
                return true;
            }
        } else {
            run = 0;
        }
    }
    false
}

type Object = BTreeMap<String, Box<RawValue>>;

/// For a `tools/call` message whose arguments may hold such a number, the same message with
/// the arguments' text added under `params._meta[META_KEY]`; `None` when there is nothing to
/// carry or the message is not one we recognise (it then goes to rmcp unchanged).
pub fn carry(message: &str) -> Option<String> {
    if !may_round(message.as_bytes()) {
        return None;
    }
    let mut top: Object = serde_json::from_str(message).ok()?;
    if top.get("method")?.get() != "\"tools/call\"" {
        return None;
    }
    let mut params: Object = serde_json::from_str(top.get("params")?.get()).ok()?;
    let arguments = params.get("arguments")?.get();
    if !may_round(arguments.as_bytes()) {
        return None;
    }
    let mut meta: Object = match params.get("_meta") {
        Some(m) => serde_json::from_str(m.get()).ok()?,
        None => Object::new(),
    };
    let text = serde_json::to_string(arguments).ok()?;
    meta.insert(META_KEY.into(), RawValue::from_string(text).ok()?);
    params.insert(
        "_meta".into(),
        RawValue::from_string(serde_json::to_string(&meta).ok()?).ok()?,
    );
    top.insert(
        "params".into(),
        RawValue::from_string(serde_json::to_string(&params).ok()?).ok()?,
    );
    serde_json::to_string(&top).ok()
}

/// The text to send the plugin: the carried exact text if it is the same arguments as
/// `parsed` (numbers compared as rmcp parsed them), else `parsed` serialised.
pub fn arguments_text(
    parsed: Option<&serde_json::Map<String, serde_json::Value>>,
    carried: Option<&serde_json::Value>,
) -> String {
    let serialised = || match parsed {
        Some(a) => serde_json::to_string(a).unwrap_or_else(|_| "{}".into()),
        None => "{}".into(),
    };
    let Some(serde_json::Value::String(exact)) = carried else {
        return serialised();
    };
    let same = serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(exact)
        .ok()
        .is_some_and(|m| Some(&m) == parsed);
    if same {
        exact.clone()
    } else {
        tracing::debug!("ignored {META_KEY}: it does not match the call's arguments");
        serialised()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    #[test]
    fn long_numbers_are_carried_exactly() {
        let line = r#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"t","arguments":{"n":12345678901234567890123456789,"s":"x"},"_meta":{"progressToken":1}}}"#;
        let carried = carry(line).expect("carried");
        let v: Value = serde_json::from_str(&carried).expect("json");
        assert_eq!(v["id"], 3);
        assert_eq!(v["params"]["_meta"]["progressToken"], 1);
        let exact = &v["params"]["_meta"][META_KEY];
        assert_eq!(
            exact.as_str(),
            Some(r#"{"n":12345678901234567890123456789,"s":"x"}"#)
        );
        let parsed: serde_json::Map<String, Value> =
            serde_json::from_value(v["params"]["arguments"].clone()).expect("args");
        assert_eq!(
            arguments_text(Some(&parsed), Some(exact)),
            r#"{"n":12345678901234567890123456789,"s":"x"}"#
        );
    }

    #[test]
    fn nothing_is_carried_without_a_long_number() {
        assert!(carry(r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t","arguments":{"n":1}}}"#).is_none());
        assert!(
            carry(r#"{"jsonrpc":"2.0","id":12345678901234567,"method":"tools/list"}"#).is_none()
        );
        assert!(carry("not json 12345678901234567890").is_none());
    }

    #[test]
    fn a_carried_text_that_differs_from_the_arguments_is_ignored() {
        let parsed: serde_json::Map<String, Value> =
            serde_json::from_value(json!({"sql": "SELECT 1"})).expect("args");
        let forged = Value::String(r#"{"sql":"DROP TABLE t"}"#.into());
        assert_eq!(
            arguments_text(Some(&parsed), Some(&forged)),
            r#"{"sql":"SELECT 1"}"#
        );
        assert_eq!(arguments_text(None, None), "{}");
    }
}
