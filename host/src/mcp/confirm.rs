//! Human confirmation of a tool call before it runs: a form (elicitation) showing the tool and
//! its arguments; accepted means it runs, anything else means it does not. Which calls ask is
//! the plugin's own list (`about`), replaced by its manifest's `[tools] confirm`, plus pier.toml's
//! `confirm`. The question goes through the call's asker, so it works on both protocol
//! generations (on 2026-07-28 it is the first round of the call, under the key `pier.confirm`).

use rmcp::model::JsonObject;
use serde_json::Value;

use crate::ops::Redactor;
use crate::runtime::ask::{Asked, Asker, ELICIT, Question};
use crate::runtime::bindings::pier::mcp::host::AskError;

/// The question's key; `pier.` keys are pier's own.
pub(super) const KEY: &str = "pier.confirm";

/// Where the call's confirmation was asked for, to say how to stop asking.
pub(super) enum Source<'a> {
    /// The plugin's list, or its manifest's `[tools] confirm`.
    Plugin { manifest: &'a str },
    /// pier.toml's `confirm`.
    Host,
}

pub(super) enum Confirmed {
    Yes,
    /// Not run: the text says why (declined, cancelled, or the client could not be asked).
    No(String),
    /// The question goes back in the result (2026-07-28).
    Later(Vec<Question>),
}

fn question(tool: &str, arguments: Option<&JsonObject>) -> Question {
    let shown = arguments
        .map(|a| Redactor::new(&[]).map(a, false))
        .unwrap_or_default();
    let pretty = serde_json::to_string_pretty(&Value::Object(shown)).unwrap_or_default();
    let message = format!(
        "Run {tool}? It asks for your confirmation before it runs (it may change or delete data). Its arguments:\n{pretty}\nAccept to run it; decline to leave it."
    );
    Question {
        key: KEY.to_string(),
        method: ELICIT,
        params: serde_json::json!({
            "message": message,
            "requestedSchema": {"type": "object", "properties": {}},
        }),
    }
}

/// How to let the tool run without asking.
fn how_to_allow(tool: &str, local: &str, source: &Source) -> String {
    match source {
        Source::Plugin { manifest } => format!(
            "to let {tool} run without asking, set `confirm` under [tools] in {manifest} to a list without {local:?} (`confirm = []` asks for none)"
        ),
        Source::Host => {
            format!("to let {tool} run without asking, take it out of `confirm` in pier.toml")
        }
    }
}

/// Asks the user whether `tool` may run with `arguments`.
pub(super) async fn ask(
    asker: &dyn Asker,
    tool: &str,
    local: &str,
    arguments: Option<&JsonObject>,
    source: Source<'_>,
) -> Confirmed {
    match asker.ask(vec![question(tool, arguments)], false).await {
        Asked::Answered(answers) => {
            let action = answers
                .first()
                .and_then(|(_, a)| serde_json::from_str::<Value>(a).ok())
                .and_then(|a| a.get("action").and_then(Value::as_str).map(str::to_string));
            match action.as_deref() {
                Some("accept") => Confirmed::Yes,
                Some("decline") => {
                    Confirmed::No(format!("{tool} did not run: the user declined it."))
                }
                _ => Confirmed::No(format!(
                    "{tool} did not run: the user closed the confirmation without accepting."
                )),
            }
        }
        Asked::Later(questions) => Confirmed::Later(questions),
        Asked::Refused(AskError::Unsupported(_)) | Asked::MissingCapability(_) => {
            Confirmed::No(format!(
                "{tool} did not run: it needs the user's confirmation, and this client cannot ask for it (it did not declare the elicitation capability); {}",
                how_to_allow(tool, local, &source)
            ))
        }
        Asked::Refused(AskError::Failed(why) | AskError::Invalid(why)) => Confirmed::No(format!(
            "{tool} did not run: asking the user for confirmation failed ({why})"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_question_shows_the_arguments_without_secrets() {
        let mut args = JsonObject::new();
        args.insert("sql".into(), "DELETE FROM users".into());
        args.insert("password".into(), "hunter2".into());
        let q = question("postgres_execute", Some(&args));
        let message = q.params["message"].as_str().unwrap_or("");
        assert!(message.contains("postgres_execute"), "{message}");
        assert!(message.contains("DELETE FROM users"), "{message}");
        assert!(!message.contains("hunter2"), "{message}");
        assert_eq!(q.key, KEY);
    }

    #[test]
    fn the_refusal_says_where_to_stop_asking() {
        let plugin = how_to_allow(
            "pg_execute",
            "execute",
            &Source::Plugin {
                manifest: "/p/pg.toml",
            },
        );
        assert!(
            plugin.contains("/p/pg.toml") && plugin.contains("confirm = []"),
            "{plugin}"
        );
        let host = how_to_allow("pg_execute", "execute", &Source::Host);
        assert!(host.contains("pier.toml"), "{host}");
    }
}
