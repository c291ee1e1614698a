//! Declaring tools: each one once, with its definition, its argument type and its handler.
//!
//! ```
//! use pier_sdk::{json, CallResult, Tool, ToolError, Tools};
//!
//! #[derive(serde::Deserialize)]
//! struct Greet {
//!     name: String,
//! }
//!
//! struct Hello;
//!
//! fn declare(tools: &mut Tools<Hello>) {
//!     tools.add(
//!         Tool::new("greet", "Greets someone by name.")
//!             .read_only()
//!             .input_schema(json!({"type": "object",
//!                 "properties": {"name": {"type": "string"}}, "required": ["name"]})),
//!         |_hello, _cx, args: Greet| Ok(CallResult::text(format!("Hello, {}!", args.name))),
//!     );
//! }
//! # let mut tools = Tools::new();
//! # declare(&mut tools);
//! # assert_eq!(tools.definitions()[0].name, "greet");
//! ```
//!
//! The schema is declared, not derived: it is written for the model that picks the tool (each
//! property's description, defaults, enums), and a derive would need all of that in attributes
//! plus a schema crate in every plugin's binary. Arguments are still typed: the SDK parses them
//! into the handler's type with serde, and a mismatch reaches the client as invalid params naming
//! the field.

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::{CallContext, CallResult, Error, Tool};

/// Why a tool did not do what was asked, and how the client hears of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolError {
    /// The call itself is malformed (arguments that do not fit): an invalid-params error.
    Invalid(String),
    /// What was named does not exist (the tool, or a thing a tool looks up by name): not-found.
    NotFound(String),
    /// A grant or policy refuses it: a tool error (`is-error`) the model reads, saying what to
    /// grant.
    Denied(String),
    /// It was tried and failed: a tool error the model reads and may act on.
    Failed(String),
}

impl ToolError {
    pub fn message(&self) -> &str {
        match self {
            ToolError::Invalid(m)
            | ToolError::NotFound(m)
            | ToolError::Denied(m)
            | ToolError::Failed(m) => m,
        }
    }

    /// The answer pier gets: the result for tool errors, the error for the others.
    pub fn into_answer(self) -> Result<CallResult, Error> {
        match self {
            ToolError::Invalid(m) => Err(Error::InvalidParams(m)),
            ToolError::NotFound(m) => Err(Error::NotFound(m)),
            ToolError::Denied(m) | ToolError::Failed(m) => Ok(CallResult::error(m)),
        }
    }
}

/// A failure message becomes a tool error the model reads.
impl From<String> for ToolError {
    fn from(message: String) -> Self {
        ToolError::Failed(message)
    }
}

impl std::fmt::Display for ToolError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for ToolError {}

/// Parses arguments, naming the field that does not fit (`issue_number: invalid type: string
/// "five", expected u64`), so the model can correct that one argument.
pub(crate) fn parse_named<A: DeserializeOwned>(args: Value) -> Result<A, ToolError> {
    serde_path_to_error::deserialize::<_, A>(args).map_err(|e| {
        let path = e.path().to_string();
        if path == "." || path.is_empty() {
            ToolError::Invalid(e.into_inner().to_string())
        } else {
            ToolError::Invalid(format!("{path}: {}", e.into_inner()))
        }
    })
}

type Handler<P> = Box<dyn Fn(&mut P, &CallContext, Value) -> Result<CallResult, ToolError>>;

/// The tools of a plugin whose state is `P`, in the order they are listed.
pub struct Tools<P> {
    entries: Vec<(Tool, Handler<P>)>,
}

impl<P> Default for Tools<P> {
    fn default() -> Self {
        Tools {
            entries: Vec::new(),
        }
    }
}

impl<P> Tools<P> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Declares one tool: its definition (name, description, schemas, annotations) and the
    /// handler that runs it. The handler's argument type `A` is parsed from the client's JSON
    /// with serde; use [`Value`] to take the JSON as it is. A later tool with the same name
    /// replaces the earlier one.
    pub fn add<A, F>(&mut self, tool: Tool, handler: F) -> &mut Self
    where
        A: DeserializeOwned,
        F: Fn(&mut P, &CallContext, A) -> Result<CallResult, ToolError> + 'static,
    {
        self.entries.retain(|(t, _)| t.name != tool.name);
        let run = move |state: &mut P, cx: &CallContext, args: Value| {
            let args = parse_named::<A>(args)?;
            handler(state, cx, args)
        };
        self.entries.push((tool, Box::new(run)));
        self
    }

    /// The definitions pier lists.
    pub fn definitions(&self) -> Vec<Tool> {
        self.entries.iter().map(|(t, _)| t.clone()).collect()
    }

    /// Runs the tool `name`; an unknown name is not-found.
    pub fn call(
        &self,
        state: &mut P,
        cx: &CallContext,
        name: &str,
        args: Value,
    ) -> Result<CallResult, ToolError> {
        match self.entries.iter().find(|(t, _)| t.name == name) {
            Some((_, run)) => run(state, cx, args),
            None => Err(ToolError::NotFound(format!("unknown tool `{name}`"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize)]
    struct Add {
        a: i64,
        b: i64,
    }

    fn cx() -> CallContext {
        CallContext {
            request_id: "1".into(),
            session: None,
            identity: None,
            meta: Vec::new(),
        }
    }

    fn counter() -> Tools<u32> {
        let mut tools = Tools::new();
        tools
            .add(Tool::new("add", "Adds."), |calls: &mut u32, _, x: Add| {
                *calls += 1;
                Ok(CallResult::text((x.a + x.b).to_string()))
            })
            .add(Tool::new("fail", "Fails."), |_, _, _: Value| {
                Err(ToolError::Denied("grant it".into()))
            });
        tools
    }

    #[test]
    fn a_tool_is_listed_and_dispatched_from_its_one_declaration() {
        let tools = counter();
        let names: Vec<_> = tools.definitions().into_iter().map(|t| t.name).collect();
        assert_eq!(names, ["add", "fail"]);
        let mut calls = 0;
        let out = tools
            .call(
                &mut calls,
                &cx(),
                "add",
                serde_json::json!({"a": 2, "b": 3}),
            )
            .expect("ok");
        assert_eq!(out.content.len(), 1);
        assert_eq!(calls, 1, "the handler got the instance's state");
    }

    #[test]
    fn bad_arguments_and_unknown_tools_say_what_is_wrong() {
        let tools = counter();
        let mut calls = 0;
        let bad = tools.call(
            &mut calls,
            &cx(),
            "add",
            serde_json::json!({"a": "x", "b": 1}),
        );
        let Err(ToolError::Invalid(m)) = bad else {
            panic!("expected invalid arguments");
        };
        assert_eq!(m, "a: invalid type: string \"x\", expected i64");
        let unknown = tools.call(&mut calls, &cx(), "nope", Value::Null);
        assert!(matches!(unknown, Err(ToolError::NotFound(m)) if m == "unknown tool `nope`"));
        assert_eq!(calls, 0);
    }

    #[test]
    fn tool_errors_become_results_and_the_rest_errors() {
        let denied = ToolError::Denied("add it to [grants]".into()).into_answer();
        assert!(denied.expect("a result").is_error);
        assert!(matches!(
            ToolError::Invalid("x".into()).into_answer(),
            Err(Error::InvalidParams(_))
        ));
        assert!(matches!(
            ToolError::NotFound("x".into()).into_answer(),
            Err(Error::NotFound(_))
        ));
    }
}
