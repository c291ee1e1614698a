//! {{name}}: a pier plugin in Rust.
//!
//! `cargo build --release --target wasm32-wasip2` makes
//! `target/wasm32-wasip2/release/{{crate_file}}.wasm`; install it as `{{name}}.wasm` beside
//! `{{name}}.toml` in pier's plugin folder. `cargo test --lib` runs the tools natively.

use pier_sdk::{CallContext, CallResult, Plugin, Tool, ToolError, Tools, json};
use serde::Deserialize;

/// The plugin's state: made once per instance, kept between calls.
pub struct {{type_name}} {
    greeting: String,
    greeted: u64,
}

#[derive(Deserialize)]
struct Greet {
    name: String,
}

#[derive(Deserialize)]
struct Sum {
    numbers: Vec<f64>,
}

impl Plugin for {{type_name}} {
    fn new() -> Self {
        {{type_name}} {
            // `greeting` in the manifest's [config].
            greeting: pier_sdk::host::config("greeting").unwrap_or_else(|| "Hello".into()),
            greeted: 0,
        }
    }

    fn tools(&self, tools: &mut Tools<Self>) {
        tools.add(
            Tool::new("greet", "Greets someone by name.")
                .read_only()
                .input_schema(json!({
                    "type": "object",
                    "properties": {"name": {"type": "string", "description": "who to greet"}},
                    "required": ["name"],
                    "additionalProperties": false
                })),
            |me: &mut Self, _cx: &CallContext, args: Greet| {
                me.greeted += 1;
                Ok(CallResult::text(format!(
                    "{}, {}! (greeting #{} of this instance)",
                    me.greeting, args.name, me.greeted
                )))
            },
        );
        tools.add(
            Tool::new("sum", "Adds up a list of numbers.")
                .read_only()
                .input_schema(json!({
                    "type": "object",
                    "properties": {"numbers": {"type": "array", "items": {"type": "number"}}},
                    "required": ["numbers"],
                    "additionalProperties": false
                }))
                .output_schema(json!({
                    "type": "object",
                    "properties": {"count": {"type": "integer"}, "total": {"type": "number"}},
                    "required": ["count", "total"]
                })),
            |_me: &mut Self, _cx: &CallContext, args: Sum| {
                if args.numbers.is_empty() {
                    // Invalid: the client is told its arguments were wrong, and why.
                    return Err(ToolError::Invalid("give at least one number".into()));
                }
                let total: f64 = args.numbers.iter().sum();
                let value = json!({"count": args.numbers.len(), "total": total});
                Ok(CallResult::structured(format!("{total}"), &value))
            },
        );
    }
}

pier_sdk::export_plugin!({{type_name}});

#[cfg(test)]
mod tests {
    use super::*;

    fn call(name: &str, args: serde_json::Value) -> Result<CallResult, ToolError> {
        // Built by hand: `new` asks pier for [config], and pier is not here in a native test.
        let mut state = {{type_name}} {
            greeting: "Hi".into(),
            greeted: 0,
        };
        let mut tools = Tools::new();
        state.tools(&mut tools);
        let cx = CallContext {
            request_id: "1".into(),
            session: None,
            identity: None,
            meta: Vec::new(),
        };
        tools.call(&mut state, &cx, name, args)
    }

    fn text(result: &CallResult) -> String {
        match &result.content[0] {
            pier_sdk::Content::Text(t) => t.clone(),
            other => panic!("expected text, got {other:?}"),
        }
    }

    #[test]
    fn greets_by_name() {
        let answer = call("greet", json!({"name": "Ada"})).expect("greet answers");
        assert_eq!(text(&answer), "Hi, Ada! (greeting #1 of this instance)");
    }

    #[test]
    fn sums_and_refuses_an_empty_list() {
        let answer = call("sum", json!({"numbers": [1.5, 2.5]})).expect("sum answers");
        assert_eq!(text(&answer), "4");
        let refused = call("sum", json!({"numbers": []})).expect_err("refused");
        assert_eq!(refused.message(), "give at least one number");
        assert!(call("sum", json!({"numbers": "12"})).is_err());
    }
}
